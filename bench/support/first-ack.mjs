// A fresh process's whole cold path: load the bundle, then answer one signed request
// (secrets from SSM, one allowlist read, audit, worker invoke). Prints the milliseconds.
const started = performance.now();
const { handler } = await import(process.argv[2]);
const event = JSON.parse(process.env.BENCH_EVENT);
const res = await handler(event);
const ms = performance.now() - started;
// BENCH_EXPECT: text the answer must hold (the command was accepted, not refused or unknown).
if (res.statusCode !== 200 || (process.env.BENCH_EXPECT && !res.body.includes(process.env.BENCH_EXPECT))) {
  console.error(`unexpected answer ${res.statusCode}: ${res.body}`);
  process.exit(1);
}
process.stdout.write(`FIRST_ACK_MS ${ms}\n`);
