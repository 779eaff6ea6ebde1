/**
 * `npm run bench:notify`: the notifier in the local world (EventBridge → the notifier Lambda →
 * DynamoDB, the emulated ECS and CloudWatch Logs for the diagnosis → the local Slack).
 *
 * - notify_event_to_slack_p95_s: 200 events one after another (150 task stops of a crash loop,
 *   each edit allowed at once so every stop ends in a Slack write, and 50 alarm flips), from the
 *   notifier receiving the event to its last Slack write returning.
 * - notify_slack_writes_per_crash_loop: 100 stops of one service over 10 minutes of event time
 *   (the notifier's clock moved with them), edits at the deployed interval (60 s), then ECS says
 *   the service is steady again: every chat.postMessage and chat.update, the close included.
 * - notifier_cold_start_ratio: loading the notifier bundle next to a bare `node -e 0`.
 */
import { statSync } from 'node:fs';
import { buildHandlers } from '../scripts/build';
import { startWorld, type World } from '../local/world';
import { alarmEvent, containerExitedEvent, steadyEvent } from '../test/support/aws-events';
import { measureColdStart } from './support/cold-start';
import { median, percentile, report, runBench } from './support/report';

const ACCOUNT = '111111111111';
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const OOM = 'OutOfMemoryError: Container killed due to memory usage';
/** A task of web OOM-killed at `at`. */
const stop = (at: number) => containerExitedEvent(at, 'web', { exitCode: 137, reason: OOM });

const slackWrites = (world: World, since: number) =>
  world.slack.calls.slice(since).filter((c) => (c.method === 'chat.postMessage' || c.method === 'chat.update') && c.status === 200).length;

async function notifierWith(world: World, options: { editIntervalMs: number; now?: () => number }, durations?: number[]): Promise<void> {
  const [{ createNotifier }, { productionNotifierDeps }] = await Promise.all([import('../src/notify/notifier'), import('../src/notify/production')]);
  const notify = createNotifier({
    ...productionNotifierDeps(() => 60_000),
    editIntervalMs: options.editIntervalMs,
    ...(options.now ? { now: options.now } : {}),
  });
  world.registerNotifier(async (event: unknown) => {
    const started = performance.now();
    await notify(event, { botAccount: ACCOUNT });
    durations?.push((performance.now() - started) / 1000);
  });
}

async function latency(world: World): Promise<void> {
  const durations: number[] = [];
  await notifierWith(world, { editIntervalMs: 0 }, durations);
  let at = world.aws.clock.now();
  for (let i = 0; i < 200; i++) {
    at += 1000;
    world.events.emit(i % 4 === 3 ? alarmEvent(at, 'web-5xx', i % 8 === 3 ? 'ALARM' : 'OK') : stop(at));
    await world.events.idle();
  }
  world.events.emit(steadyEvent(at + 1000, 'web'));
  await world.events.idle();
  const sorted = [...durations].sort((a, b) => a - b);
  console.log(`# ${durations.length} events handled; p50 ${median(durations).toFixed(3)} s, max ${sorted.at(-1)!.toFixed(3)} s`);
  report('notify_event_to_slack_p95_s', percentile(sorted, 95), 's', 3);
  report('notify_event_to_slack_p50_s', median(durations), 's', 3);
}

async function crashLoopWrites(world: World): Promise<void> {
  let now = Date.now() + 3_600_000; // an hour on, past every incident of the latency run
  await notifierWith(world, { editIntervalMs: 60_000, now: () => now });
  const since = world.slack.calls.length;
  for (let i = 0; i < 100; i++) {
    world.events.emit(stop(now));
    await world.events.idle();
    now += 6_000; // 100 stops in 10 minutes
  }
  const forStops = slackWrites(world, since);
  world.events.emit(steadyEvent(now, 'web'));
  await world.events.idle();
  const withClose = slackWrites(world, since);
  console.log(`# 100 stops: ${forStops} Slack writes; with the close: ${withClose}`);
  report('notify_slack_writes_per_crash_loop', withClose, 'writes', 0);
}

async function coldStart(): Promise<void> {
  await buildHandlers({ quiet: true });
  report('bundle_notifier_entry_kib', statSync('dist/notifier/index.mjs').size / 1024, 'KiB', 1);
  measureColdStart(['-e', '0'], 2);
  measureColdStart(['dist/notifier/index.mjs'], 2);
  const bare = measureColdStart(['-e', '0'], RUNS);
  const notifier = measureColdStart(['dist/notifier/index.mjs'], RUNS);
  console.log(
    `# cold start medians of ${RUNS}: node -e 0 ${bare.wallMs.toFixed(1)} ms; notifier ${notifier.wallMs.toFixed(1)} ms / ${notifier.rssMiB.toFixed(1)} MiB`,
  );
  report('notifier_cold_start_ratio', notifier.wallMs / bare.wallMs, 'x');
  report('notifier_cold_start_rss_mib', notifier.rssMiB, 'MiB', 1);
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL ??= 'silent';
  await coldStart();
  const world = await startWorld();
  try {
    await latency(world);
    await crashLoopWrites(world);
  } finally {
    await world.close();
  }
}

runBench('notify', main, 600);
