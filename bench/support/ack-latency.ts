import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { signedSlackEvent, slashCommandBody } from '../../local/slack/sign';
import { startWorld, WORKER_FUNCTION, type World } from '../../local/world';
import { median, percentile } from './report';

const FIRST_ACK = fileURLToPath(new URL('./first-ack.mjs', import.meta.url));
/** The shipped ingress bundle, as `npm run build` (and bench:ingress) writes it. */
export const INGRESS_BUNDLE = 'dist/ingress/index.mjs';

export interface AckFigures {
  p50: number;
  p99: number;
  coldFirstAckMs: number;
}

/**
 * Warm ack latency: signed `/ecs status web` requests through the production ingress handler
 * (signature, parse, one allowlist read, audit write, asynchronous Lambda invoke) against
 * dynalite and the local Lambda API. The worker is replaced by a no-op so that only the ack is timed.
 *
 * `afterwards` measures more in the same world before it closes: the handlers' module-level SDK
 * clients keep the first world's endpoints, so a second world in this process could not be reached.
 */
export async function measureAckLatency(requests: number, coldRuns: number, afterwards?: (world: World) => Promise<void>): Promise<AckFigures> {
  process.env.LOG_LEVEL = 'silent';
  const world = await startWorld();
  try {
    world.aws.lambda.register(WORKER_FUNCTION, async () => undefined);
    const timings = await timeAcks(world, ['status web'], requests);
    const coldFirstAckMs = await measureColdFirstAck(world, coldRuns);
    await afterwards?.(world);
    return { p50: percentile(timings, 50), p99: percentile(timings, 99), coldFirstAckMs };
  } finally {
    await world.close();
  }
}

/**
 * Milliseconds of `requests` signed slash commands from alice, `texts` in turn, after at least 50
 * warm-up requests (secrets, clients, JIT; each text at least once), sorted. Each must be
 * acknowledged ("Working on …"). The worker the world invokes must be a no-op by then: only the ack is timed.
 */
export async function timeAcks(world: World, texts: readonly string[], requests: number): Promise<number[]> {
  const ack = async (text: string) => {
    const res = await world.slash('U0ALICE', text);
    if (res.statusCode !== 200 || !res.body.includes('Working on')) throw new Error(`unexpected ack of "${text}": ${res.statusCode} ${res.body}`);
  };
  for (let i = 0; i < Math.max(50, texts.length); i++) await ack(texts[i % texts.length]!);
  const timings: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = process.hrtime.bigint();
    await ack(texts[i % texts.length]!);
    timings.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  await world.idle();
  return timings.sort((a, b) => a - b);
}

/**
 * Median over fresh processes of load + first signed `/ecs <text>` request, with a built bundle.
 * The child runs asynchronously: the local servers it calls live in this process's event loop.
 */
export async function measureColdFirstAck(world: World, runs: number, options: { bundle?: string; text?: string } = {}): Promise<number> {
  const bundle = resolve(options.bundle ?? INGRESS_BUNDLE);
  const text = options.text ?? 'status web';
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const body = slashCommandBody({ teamId: world.teamId, userId: 'U0ALICE', channelId: 'C0OPS', text });
    const event = signedSlackEvent({ signingSecret: world.signingSecret, contentType: 'application/x-www-form-urlencoded', body });
    const child = await promisify(execFile)(process.execPath, [FIRST_ACK, bundle], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, ...world.env, LOG_LEVEL: 'silent', NODE_OPTIONS: '', BENCH_EVENT: JSON.stringify(event), BENCH_EXPECT: 'Working on' },
    });
    const ms = Number(/FIRST_ACK_MS ([\d.]+)/.exec(child.stdout)?.[1]);
    if (!Number.isFinite(ms)) throw new Error(`cold first ack failed: ${child.stderr}`);
    times.push(ms);
  }
  await world.idle();
  return median(times);
}
