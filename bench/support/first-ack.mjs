// A fresh process's whole cold path: load the bundle, then answer one signed request
// (secrets from SSM, one allowlist read, audit, worker invoke). Prints the milliseconds.
const started = performance.now();
const { handler } = await import(process.argv[2]);
const event = JSON.parse(process.env.BENCH_EVENT);
const res = await handler(event);
const ms = performance.now() - started;
if (res.statusCode !== 200) {
  console.error(`unexpected status ${res.statusCode}: ${res.body}`);
  process.exit(1);
}
process.stdout.write(`FIRST_ACK_MS ${ms}\n`);
