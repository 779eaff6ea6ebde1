import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signedSlackEvent, slashCommandBody } from '../../local/slack/sign';
import { startWorld, WORKER_FUNCTION, type World } from '../../local/world';
import { median, percentile } from './report';

const FIRST_ACK = fileURLToPath(new URL('./first-ack.mjs', import.meta.url));

/**
 * Warm ack latency: signed `/ecs status web` requests through the production ingress handler
 * (signature, parse, one allowlist read, audit write, asynchronous Lambda invoke) against
 * dynalite and the local Lambda API. The worker is replaced by a no-op so that only the ack is timed.
 */
export async function measureAckLatency(requests: number, coldRuns: number): Promise<{ p50: number; p99: number; coldFirstAckMs: number }> {
  process.env.LOG_LEVEL = 'silent';
  const world = await startWorld();
  try {
    world.aws.lambda.register(WORKER_FUNCTION, async () => undefined);
    for (let i = 0; i < 50; i++) await world.slash('U0ALICE', 'status web'); // warm: secrets, clients, JIT
    const timings: number[] = [];
    for (let i = 0; i < requests; i++) {
      const started = process.hrtime.bigint();
      const res = await world.slash('U0ALICE', 'status web');
      timings.push(Number(process.hrtime.bigint() - started) / 1e6);
      if (res.statusCode !== 200 || !res.body.includes('Working on')) throw new Error(`unexpected ack: ${res.statusCode} ${res.body}`);
    }
    await world.idle();
    timings.sort((a, b) => a - b);
    const coldFirstAckMs = await measureColdFirstAck(world, coldRuns);
    await world.idle();
    return { p50: percentile(timings, 50), p99: percentile(timings, 99), coldFirstAckMs };
  } finally {
    await world.close();
  }
}

/**
 * Median over fresh processes of load + first signed request, with the built bundle. The child
 * runs asynchronously: the local servers it calls live in this process's event loop.
 */
async function measureColdFirstAck(world: World, runs: number): Promise<number> {
  const bundle = resolve('dist/ingress/index.mjs');
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const body = slashCommandBody({ teamId: world.teamId, userId: 'U0ALICE', channelId: 'C0OPS', text: 'status web' });
    const event = signedSlackEvent({ signingSecret: world.signingSecret, contentType: 'application/x-www-form-urlencoded', body });
    const child = await promisify(execFile)(process.execPath, [FIRST_ACK, bundle], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, ...world.env, LOG_LEVEL: 'silent', NODE_OPTIONS: '', BENCH_EVENT: JSON.stringify(event) },
    });
    const ms = Number(/FIRST_ACK_MS ([\d.]+)/.exec(child.stdout)?.[1]);
    if (!Number.isFinite(ms)) throw new Error(`cold first ack failed: ${child.stderr}`);
    times.push(ms);
  }
  return median(times);
}
