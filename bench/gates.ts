/**
 * `npm run bench:gates`: a gate of an ECS-native deploy decided by reaction, in the local world with
 * real timers (no skipped time).
 *
 *  - gate_reaction_to_continue_p50_s / _p95_s: from `world.react()` (bob's ✅ on the gate message
 *    of a `web-bg` deploy paused at POST_TEST_TRAFFIC_SHIFT, signed and handed to the ingress) to
 *    the emulator recording the workflow's ContinueServiceDeployment, in real wall-clock time, over
 *    BENCH_GATES (default 5) deploys alternating web:v1.5.0 / web:v1.4.2. Goal ≤ 0.2 s.
 *    The path: ingress → worker (reaction: conditional update, callback) → durable workflow resumes
 *    (decision step) → ContinueServiceDeployment.
 * Between the measured moments the emulator's clock is moved by hand (scale-up, traffic shifts,
 * bake), so each deploy takes a few real poll intervals (5 s each) rather than ECS's 17 minutes.
 */
import { percentile, report, runBench } from './support/report';
import type { World } from '../local/world';

const GATES = Number(process.env.BENCH_GATES ?? 5);
const GOAL_S = 0.2;
const IMAGES = ['v1.5.0', 'v1.4.2'];
const CHANNEL = 'C0OPS';
const MIN = 60_000;

/** Resolves with `find()`'s first defined value, checked every millisecond. */
async function until<T>(find: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function oneGate(world: World, image: string): Promise<number> {
  const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
  const continues = () => world.aws.calls.filter((c) => c.action === 'ContinueServiceDeployment').length;
  const before = new Set(parents().map((m) => m.ts));
  await world.slash('U0ALICE', `deploy web-bg ${image}`, CHANNEL);
  const request = await until(() => parents().find((m) => !before.has(m.ts) && m.text.includes('React :white_check_mark:')), 30_000, 'the request');
  const updates = world.aws.calls.filter((c) => c.action === 'UpdateService').length;
  await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
  await until(() => (world.aws.calls.filter((c) => c.action === 'UpdateService').length > updates ? true : undefined), 30_000, 'UpdateService');
  // Green scales up and takes the test traffic: the deployment pauses at its gate.
  world.aws.clock.advance(2 * MIN);
  const gate = await until(
    () => world.slack.replies(CHANNEL, request.ts).find((r) => r.text.startsWith('⏸️') && r.text.includes('React :white_check_mark:')),
    30_000,
    'the gate message',
  );
  const sent = continues();
  const t0 = performance.now();
  await world.react('U0BOB', CHANNEL, gate.ts, 'white_check_mark');
  await until(() => (continues() > sent ? true : undefined), 30_000, 'ContinueServiceDeployment');
  const seconds = (performance.now() - t0) / 1000;
  // Production traffic, the bake, the clean-up: the deploy ends before the next one (the lock).
  world.aws.clock.advance(20 * MIN);
  await until(() => (/^(✅|❌|⚠️)/.test(world.slack.message(CHANNEL, request.ts)?.text ?? '') ? true : undefined), 60_000, 'the end of the deploy');
  return seconds;
}

runBench(
  'gates',
  async () => {
    const { startWorld } = await import('../local/world');
    const world = await startWorld();
    try {
      const samples: number[] = [];
      for (let i = 0; i < GATES; i++) samples.push(await oneGate(world, IMAGES[i % IMAGES.length]!));
      const sorted = [...samples].sort((a, b) => a - b);
      console.log(`# ${GATES} gates, reaction → ContinueServiceDeployment (s): ${sorted.map((s) => s.toFixed(3)).join(' ')}; goal ≤ ${GOAL_S} s`);
      report('gate_reaction_to_continue_p50_s', percentile(sorted, 50), 's', 3);
      report('gate_reaction_to_continue_p95_s', percentile(sorted, 95), 's', 3);
      await world.idle();
    } finally {
      await world.close();
    }
  },
  600,
);
