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
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { buildHandlers } from '../scripts/build';
import { startWorld, type World } from '../local/world';
import { measureColdStart } from './support/cold-start';
import { median, percentile, report, runBench } from './support/report';

const ACCOUNT = '111111111111';
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const OOM = 'OutOfMemoryError: Container killed due to memory usage';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function stop(at: number, service = 'web') {
  const taskArn = `arn:aws:ecs:us-east-1:${ACCOUNT}:task/main/${randomBytes(16).toString('hex')}`;
  return {
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: ACCOUNT,
    time: iso(at),
    region: 'us-east-1',
    resources: [taskArn],
    detail: {
      clusterArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/main`,
      taskArn,
      taskDefinitionArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:task-definition/${service}:42`,
      group: `service:${service}`,
      startedBy: 'ecs-svc/1234567890123456789',
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [{ name: 'app', exitCode: 137, reason: OOM, lastStatus: 'STOPPED', taskArn }],
      createdAt: new Date(at - 60_000).toISOString(),
      stoppedAt: new Date(at).toISOString(),
      version: 5,
    },
  };
}

function steady(at: number, service = 'web') {
  return {
    'detail-type': 'ECS Service Action',
    source: 'aws.ecs',
    account: ACCOUNT,
    time: iso(at),
    region: 'us-east-1',
    resources: [`arn:aws:ecs:us-east-1:${ACCOUNT}:service/main/${service}`],
    detail: {
      eventType: 'INFO',
      eventName: 'SERVICE_STEADY_STATE',
      clusterArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:cluster/main`,
      createdAt: new Date(at).toISOString(),
    },
  };
}

function alarm(at: number, state: 'ALARM' | 'OK') {
  return {
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: ACCOUNT,
    time: iso(at),
    region: 'us-east-1',
    resources: [`arn:aws:cloudwatch:us-east-1:${ACCOUNT}:alarm:web-5xx`],
    detail: {
      alarmName: 'web-5xx',
      state: { value: state, reason: state === 'ALARM' ? 'Threshold Crossed' : 'Back to normal', timestamp: iso(at).replace('Z', '.000+0000') },
      previousState: { value: state === 'ALARM' ? 'OK' : 'ALARM' },
      configuration: { metrics: [] },
    },
  };
}

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
    world.events.emit(i % 4 === 3 ? alarm(at, i % 8 === 3 ? 'ALARM' : 'OK') : stop(at));
    await world.events.idle();
  }
  world.events.emit(steady(at + 1000));
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
  world.events.emit(steady(now));
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
