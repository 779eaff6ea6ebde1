/**
 * `npm run bench:deploy`: `/ecs deploy` end to end in the local world with skipped durable time
 * (signed slash command → ingress → worker (plan, approval request) → durable deploy workflow
 * waiting on its callback → ✅ reaction through the ingress → worker → callback → workflow →
 * RegisterTaskDefinition / UpdateService → rollout watched over skipped time).
 *
 *  - approval_to_update_p50_s / _p95_s: from `world.react()` (the approving reaction, signed and
 *    handed to the ingress handler) to the emulator recording that deploy's UpdateService, in real
 *    wall-clock time, over BENCH_DEPLOYS (default 20) deploys alternating web:v1.5.0 / web:v1.4.2,
 *    each watched to its ✅ before the next request (the per-service deploy lock). Target ≤ 2 s.
 *    The emulator stamps calls with its own clock (`CallRecord.at`, which skipped durable waits and
 *    the testing package's fake timers move), so every call is stamped again here, with the real
 *    performance.now() captured before the fake timers are installed, the moment it is recorded
 *    (a hook on `world.aws.calls.push`: event-driven, sub-millisecond resolution).
 *  - rollout_describe_calls_per_min (+ _peak_per_min, rollout_ecs_calls_per_min): one deploy whose
 *    rollout takes ~BENCH_ROLLOUT_MINUTES (default 30) minutes of emulator time (the emulator's ECS
 *    task lifecycle slowed down through `state.ecsTimings`), watched by the real workflow with the
 *    target's deploy.timeoutSeconds raised to 3600: ECS calls between UpdateService and the parent
 *    being marked, per emulator minute; the peak is the most DescribeServices calls in any 60 s of
 *    emulator time (a window starting at a call). Checked against describeCallsPerMinute().
 *  - deploy_thread_messages: one deploy of web:v2-crash (its tasks exit at once), approved, failed
 *    by ECS's circuit breaker and rolled back: the replies in its thread once it ended (everything
 *    but the parent; the end reply shares the rollout's record file, and counts once). Target ≤ 5.
 *  - approval_to_update_real_timers_p50_s / _p95_s (context for the first figure): the same
 *    measurement over BENCH_REAL_TIMER_DEPLOYS (default 5; 0 skips it) deploys in a child process
 *    whose world does not skip time, so no fake timers: what the skip-time world itself adds shows
 *    (its fake setTimeout/setImmediate only fire on a 20 ms real-time tick, and dynalite and the
 *    SDK wait on them). Each of those deploys waits one real 5 s poll for its rollout.
 *
 * Each run prints the timeline of its median approval (every AWS, DynamoDB and Slack call between
 * the reaction and UpdateService) and what one timer hop / dynalite / emulator request costs.
 * The world is closed at the end, after every workflow has finished (world.idle()).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describeCallsPerMinute, nextPollSeconds } from '../src/deploy/watch';
import { percentile, report } from './support/report';
import type { CallRecord } from '../local/aws/emulator';
import type { InvocationRecord } from '../local/aws/services/lambda';
import type { World } from '../local/world';

// The durable testing package's skipped time fakes Date, performance.now and the timers (they
// jump by whole durable waits). Real time and real timeouts come from what was here before.
const realNow = performance.now.bind(performance);
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 20);
/** Deploys of the real-timer comparison run (0 skips it). */
const REAL_TIMER_DEPLOYS = Number(process.env.BENCH_REAL_TIMER_DEPLOYS ?? 5);
/** ECS task lifecycle steps while measuring approvals: each rollout is steady at the first poll. */
const FAST_STEP_MS = 1000;
const ROLLOUT_MINUTES = Number(process.env.BENCH_ROLLOUT_MINUTES ?? 30);
/** A deploy that rolls back: at most this many replies in its thread (issue 14). */
const TARGET_THREAD_MESSAGES = 5;
const DEPLOY_TIMEOUT_S = 3600;
const TARGET_P95_S = 2;
const IMAGES = ['v1.5.0', 'v1.4.2'];
const CHANNEL = 'C0OPS';
const ECS_WATCH_ACTIONS = new Set(['DescribeServices', 'ListTasks', 'DescribeTasks']);

interface Stamped {
  call: CallRecord;
  index: number;
  /** Real ms (performance.now) when the emulator recorded the call (after answering it). */
  real: number;
}

/** Stamps every emulator call and Lambda invocation with real time, and wakes waiters on each. */
class Recorder {
  readonly calls: Stamped[] = [];
  readonly invocations: Array<{ record: InvocationRecord; real: number }> = [];
  /** Slack Web API calls, stamped when the local Slack server recorded them. */
  readonly slack: Array<{ method: string; real: number }> = [];
  /** The bot's DynamoDB document operations, stamped when they returned (or threw). */
  readonly dynamo: Array<{ what: string; real: number }> = [];
  private readonly listeners = new Set<() => void>();

  constructor(world: World) {
    world.slack.events.on('call', (call) => this.slack.push({ method: call.method, real: realNow() }));
    const calls = world.aws.calls;
    Object.defineProperty(calls, 'push', {
      configurable: true,
      value: (...items: CallRecord[]) => {
        const real = realNow();
        items.forEach((call, k) => this.calls.push({ call, index: calls.length + k, real }));
        const length = Array.prototype.push.apply(calls, items);
        this.notify();
        return length;
      },
    });
    const invocations = world.aws.lambda.invocations;
    Object.defineProperty(invocations, 'push', {
      configurable: true,
      value: (...items: InvocationRecord[]) => {
        const real = realNow();
        for (const record of items) this.invocations.push({ record, real });
        return Array.prototype.push.apply(invocations, items);
      },
    });
  }

  /** Wraps the bot's `ddb` operations (the same module instance the handlers use, in this process). */
  watchDynamo(ddb: Record<string, (input: never) => Promise<unknown>>): void {
    for (const [op, run] of Object.entries(ddb)) {
      ddb[op] = async (input: never) => {
        const { TableName, Key, Item } = input as { TableName?: string; Key?: { pk?: unknown }; Item?: { pk?: unknown } };
        const what = `DynamoDB ${op} ${TableName ?? '?'} ${String(Key?.pk ?? Item?.pk ?? '').split('#')[0]}`.trim();
        try {
          return await run(input);
        } finally {
          this.dynamo.push({ what, real: realNow() });
        }
      };
    }
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Resolves with check()'s first truthy value, re-checked whenever `subscribe` says something changed; real-time timeout. */
function waitUntil<T>(
  what: string,
  check: () => T | undefined | null | false,
  subscribe: Array<(wake: () => void) => () => void>,
  timeoutMs: number,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const unsubscribe: Array<() => void> = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stop = () => {
      realClearTimeout(timer);
      for (const u of unsubscribe) u();
    };
    const wake = () => {
      let value: T | undefined | null | false;
      try {
        value = check();
      } catch (error) {
        stop();
        reject(error);
        return;
      }
      if (value === undefined || value === null || value === false) return;
      stop();
      resolve(value);
    };
    for (const s of subscribe) unsubscribe.push(s(wake));
    timer = realSetTimeout(() => {
      stop();
      reject(new Error(`${what}: not within ${timeoutMs / 1000} s (real time)`));
    }, timeoutMs);
    wake();
  });
}

const debug = (text: string) => {
  if (process.env.BENCH_DEBUG) console.log(`# debug ${(realNow() / 1000).toFixed(3)} s ${text}`);
};
const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

type Timeline = Array<{ at: number; what: string }>;

/** The local world and what this bench needs around it. */
async function openWorld(skipTime: boolean) {
  const [{ startWorld, WORKER_FUNCTION }, { getConfig, setConfig }, { parseConfig }] = await Promise.all([
    import('../local/world'),
    import('../src/config/load'),
    import('../src/config/schema'),
  ]);
  const world = await startWorld({ durableSkipTime: skipTime });
  const recorder = new Recorder(world);
  recorder.watchDynamo((await import('../src/platform/dynamo')).ddb as never);
  const { dynamoApprovalRequests } = await import('../src/approval/requests');
  const { trackedKey: requestKey } = await import('../src/platform/state-keys');

  const base = getConfig();
  const web = base.targets.web;
  if (!web) throw new Error('the configuration has no `web` target');
  // The long rollout outlives the default deploy.timeoutSeconds (1800).
  setConfig(parseConfig({ ...base, targets: { ...base.targets, web: { ...web, deploy: { ...web.deploy, timeoutSeconds: DEPLOY_TIMEOUT_S } } } }));

  const onSlack = (wake: () => void) => {
    world.slack.events.on('change', wake);
    return () => void world.slack.events.off('change', wake);
  };
  const onCall = (wake: () => void) => recorder.on(wake);
  const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
  const threadText = (ts: string) =>
    world.slack
      .replies(CHANNEL, ts)
      .map((r) => r.text)
      .join('\n');
  let tag = 0;
  /** The request whose workflow may still wait on its approval: withdrawn if the bench fails. */
  let open: string | undefined;

  return {
    world,
    recorder,
    threadText,
    onCall,
    nextImage: () => IMAGES[tag++ % IMAGES.length]!,

    /** `/ecs deploy web <tag>` by alice; the approval request once posted. */
    async requestDeploy(image: string) {
      const before = new Set(parents().map((m) => m.ts));
      const res = await world.slash('U0ALICE', `deploy web ${image}`, CHANNEL);
      if (res.statusCode !== 200) throw new Error(`/ecs deploy web ${image}: HTTP ${res.statusCode}`);
      const request = await waitUntil(
        `the approval request for web ${image}`,
        () => parents().find((m) => !before.has(m.ts) && /React :white_check_mark: to approve|Cannot deploy|already|^❌/.test(m.text)),
        [onSlack],
        30_000,
      );
      open = request.ts;
      if (!request.text.includes('React :white_check_mark: to approve')) {
        throw new Error(`/ecs deploy web ${image} was not put up for approval: ${request.text}\n${threadText(request.ts)}`);
      }
      return request;
    },

    /**
     * The request's worker has finished (approval prompts added, workflow invoked) and the workflow
     * waits on its callback: what an approver a few seconds later finds. Approving earlier takes
     * another path (the workflow finds the request decided when it attaches its callback).
     */
    async settled(ts: string) {
      const deadline = realNow() + 30_000;
      for (;;) {
        const workersDone = world.aws.lambda.invocations.every((r) => r.functionName !== WORKER_FUNCTION || r.endedAt);
        if (workersDone && (await dynamoApprovalRequests.get(requestKey(CHANNEL, ts)))?.callbackId) return;
        if (realNow() > deadline) {
          const request = await dynamoApprovalRequests.get(requestKey(CHANNEL, ts));
          const running = world.aws.lambda.invocations.filter((r) => !r.endedAt).map((r) => r.functionName);
          throw new Error(
            `the deploy workflow of ${ts} did not attach its approval callback within 30 s (request ${request ? `${request.status}, callback ${request.callbackId ?? 'none'}` : 'not found'}; running: ${running.join(', ') || 'nothing'})`,
          );
        }
        await new Promise((resolve) => realSetTimeout(resolve, 20));
      }
    },

    /** The first UpdateService recorded at or after emulator call index `from`. */
    updateAfter: (from: number) => recorder.calls.find((s) => s.index >= from && s.call.action === 'UpdateService'),

    /** The parent marked ✅/❌/⚠️/🚫, with the emulator time it was seen (event-driven, so at once). */
    finished: (ts: string, timeoutMs: number) =>
      waitUntil(
        `the end of the deploy in ${ts}`,
        () => {
          const text = world.slack.message(CHANNEL, ts)?.text ?? '';
          return /^(✅|❌|⚠️|🚫)/u.test(text) ? { text, emulatorAt: world.aws.clock.now(), callsLength: world.aws.calls.length } : undefined;
        },
        [onSlack],
        timeoutMs,
      ),

    /** The deploy in `ts` has ended (its parent is marked): nothing to withdraw. */
    ended(ts: string) {
      if (open === ts) open = undefined;
    },

    async close() {
      // A failure left a workflow waiting on its approval: the requester's ❌ withdraws it.
      if (open) await world.react('U0ALICE', CHANNEL, open, 'x').catch(() => undefined);
      setConfig(undefined);
      // Every workflow has ended (bounded: a stuck one is said, not waited on for ever).
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = await Promise.race([
        world.idle().then(() => true),
        new Promise<boolean>((resolve) => (timer = realSetTimeout(() => resolve(false), 60_000))),
      ]).catch(() => false);
      realClearTimeout(timer);
      if (!idle) console.log('# a workflow was still running 60 s after the end; closing anyway');
      debug('closing the world');
      await world.close();
      debug('closed');
    },
  };
}
type Bench = Awaited<ReturnType<typeof openWorld>>;

/** `count` deploys, each approved once its workflow waits, watched to ✅: approval → UpdateService in real ms. */
async function approvals(bench: Bench, count: number): Promise<{ latencies: number[]; timelines: Timeline[]; deployReal: number[] }> {
  const { world, recorder } = bench;
  const latencies: number[] = [];
  const timelines: Timeline[] = [];
  const deployReal: number[] = [];
  // The rollouts are not measured here: ECS tasks start and drain in 1 s of emulator time, so each
  // is steady at the workflow's first poll and the deploys stay short.
  const timings = world.aws.state.ecsTimings;
  const savedTimings = { ...timings };
  Object.assign(timings, { provisionMs: FAST_STEP_MS, pullMs: FAST_STEP_MS, healthyMs: FAST_STEP_MS, drainMs: FAST_STEP_MS, stopMs: FAST_STEP_MS });
  try {
    for (let i = 0; i < count; i++) {
      const image = bench.nextImage();
      const deployStarted = realNow();
      const request = await bench.requestDeploy(image);
      debug(`deploy ${i + 1}: approval requested`);
      await bench.settled(request.ts);
      debug(`deploy ${i + 1}: the workflow waits on its callback`);
      const from = world.aws.calls.length;
      const invocationsFrom = recorder.invocations.length;
      const slackFrom = recorder.slack.length;
      const dynamoFrom = recorder.dynamo.length;

      const reacted = realNow();
      const res = await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const acked = realNow();
      if (res.statusCode !== 200) throw new Error(`the ✅ reaction: HTTP ${res.statusCode}`);
      const update = await waitUntil('UpdateService after the approval', () => bench.updateAfter(from), [bench.onCall], 30_000);
      latencies.push(update.real - reacted);

      // Where the time goes: everything recorded in between, in real ms after the reaction.
      timelines.push(
        [
          { at: acked, what: 'ingress handler answered the reaction_added event' },
          ...recorder.invocations
            .slice(invocationsFrom)
            .map((r) => ({ at: r.real, what: `Lambda ${r.record.functionName} started (${r.record.invocationType})` })),
          ...recorder.calls
            .filter((s) => s.index >= from && s.index <= update.index)
            .map((s) => ({
              at: s.real,
              what: `AWS ${s.call.service} ${s.call.action}${s.call.action === 'Invoke' ? ` ${String(s.call.params.FunctionName)}` : ''} answered`,
            })),
          ...recorder.slack.slice(slackFrom).map((c) => ({ at: c.real, what: `Slack ${c.method} answered` })),
          ...recorder.dynamo.slice(dynamoFrom).map((d) => ({ at: d.real, what: `${d.what} returned` })),
        ]
          .filter((e) => e.at <= update.real)
          .map((e) => ({ at: e.at - reacted, what: e.what }))
          .sort((a, b) => a.at - b.at),
      );

      debug(`deploy ${i + 1}: UpdateService`);
      const end = await bench.finished(request.ts, 120_000);
      bench.ended(request.ts);
      debug(`deploy ${i + 1}: ${end.text.slice(0, 2)}`);
      if (!end.text.startsWith('✅')) throw new Error(`deploy ${i + 1} (web ${image}) did not succeed: ${end.text}\n${bench.threadText(request.ts)}`);
      await world.idle(); // the workflow releases the lock just after marking the parent
      deployReal.push(realNow() - deployStarted);
    }
  } finally {
    Object.assign(timings, savedTimings);
  }
  return { latencies, timelines, deployReal };
}

/** Prints the context lines of approvals(); returns p50 and p95 in seconds. */
function describeApprovals(label: string, result: Awaited<ReturnType<typeof approvals>>): { p50: number; p95: number } {
  const { latencies, timelines, deployReal } = result;
  const ordered = sorted(latencies);
  const p50 = percentile(ordered, 50) / 1000;
  const p95 = percentile(ordered, 95) / 1000;
  console.log(
    `# ${label}: ${latencies.length} deploys (web ${IMAGES.join(' / ')}), each approved by a ✅ and watched to ✅ (ECS task steps of ${FAST_STEP_MS / 1000} s emulator time): ${seconds(deployReal.reduce((a, b) => a + b, 0))} real in all, median ${seconds(percentile(sorted(deployReal), 50))} per deploy (request → approval message → ✅ → steady)`,
  );
  console.log(
    `# ${label}: approval → UpdateService (real): min ${seconds(ordered[0]!)}, p50 ${seconds(p50 * 1000)}, p95 ${seconds(p95 * 1000)}, max ${seconds(ordered.at(-1)!)}; target p95 ≤ ${TARGET_P95_S} s`,
  );
  const medianRun = latencies.indexOf(percentile(ordered, 50));
  console.log(`# ${label}: where it goes in deploy ${medianRun + 1} (the median one), real ms after world.react() handed the ✅ to the ingress:`);
  let previous = 0;
  for (const e of timelines[medianRun]!) {
    console.log(`#   +${e.at.toFixed(1).padStart(7)} ms (+${(e.at - previous).toFixed(1).padStart(6)})  ${e.what}`);
    previous = e.at;
  }
  return { p50, p95 };
}

/** What one timer hop, one dynalite request and one emulator request cost in this world (real ms). */
async function localPace(bench: Bench, label: string): Promise<void> {
  const probe = async (name: string, work: () => Promise<unknown>) => {
    const runs: number[] = [];
    for (let n = 0; n < 15; n++) {
      const t = realNow();
      await work();
      runs.push(realNow() - t);
    }
    return `${name} ${percentile(sorted(runs), 50).toFixed(1)} ms`;
  };
  const [{ DynamoDBClient, DescribeTableCommand }, { STSClient, GetCallerIdentityCommand }] = await Promise.all([
    import('@aws-sdk/client-dynamodb'),
    import('@aws-sdk/client-sts'),
  ]);
  const dynamo = new DynamoDBClient({
    endpoint: bench.world.dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const sts = new STSClient({ region: 'us-east-1' });
  const table = Object.entries(bench.world.dynamo.env).find(([k]) => k !== 'AWS_ENDPOINT_URL_DYNAMODB')?.[1] ?? '';
  try {
    const lines = [
      await probe('setImmediate', () => new Promise((resolve) => setImmediate(resolve))),
      await probe('setTimeout 0', () => new Promise((resolve) => setTimeout(resolve, 0))),
      await probe('one dynalite DescribeTable', () => dynamo.send(new DescribeTableCommand({ TableName: table }))),
      await probe('one emulator GetCallerIdentity', () => sts.send(new GetCallerIdentityCommand({}))),
    ];
    console.log(`# ${label}: the local world's pace (real, medians of 15): ${lines.join(', ')}`);
  } finally {
    dynamo.destroy();
    sts.destroy();
  }
}

/** One deploy whose rollout takes ~ROLLOUT_MINUTES of emulator time, watched over skipped time. */
async function longRollout(bench: Bench): Promise<void> {
  const { world, recorder } = bench;
  const timings = world.aws.state.ecsTimings;
  const savedTimings = { ...timings };
  // maximumPercent 200 / minimumHealthyPercent 100: both new tasks start together (provision,
  // pull, health checks), then the old ones drain: four steps, each a quarter of the rollout.
  const step = (ROLLOUT_MINUTES * 60_000) / 4;
  Object.assign(timings, { provisionMs: step, pullMs: step, healthyMs: step, drainMs: step, stopMs: step });
  let rollout: { minutes: number; describes: number; ecs: number; others: number; peak: number; waitedMinutes: number; text: string; real: number } | undefined;
  const rolloutStarted = realNow();
  try {
    const image = bench.nextImage();
    const request = await bench.requestDeploy(image);
    await bench.settled(request.ts);
    const from = world.aws.calls.length;
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const update = await waitUntil('UpdateService after the approval', () => bench.updateAfter(from), [bench.onCall], 30_000);
    const end = await bench.finished(request.ts, 150_000);
    bench.ended(request.ts);
    if (process.env.BENCH_DEBUG) {
      for (const s of recorder.calls.filter((s) => s.index >= update.index && s.index < end.callsLength && s.call.service === 'ecs')) {
        console.log(
          `# debug ${s.call.action.padEnd(18)} emulator +${((s.call.at.getTime() - update.call.at.getTime()) / 1000).toFixed(1)} s, real +${((s.real - update.real) / 1000).toFixed(3)} s`,
        );
      }
    }
    if (!end.text.startsWith('✅')) throw new Error(`the long rollout (web ${image}) did not succeed: ${end.text}\n${bench.threadText(request.ts)}`);
    await world.idle();
    const watched = world.aws.calls.slice(update.index + 1, end.callsLength).filter((c) => c.service === 'ecs');
    const describes = watched.filter((c) => c.action === 'DescribeServices');
    const ecsWatch = watched.filter((c) => ECS_WATCH_ACTIONS.has(c.action));
    const minutes = (end.emulatorAt - update.call.at.getTime()) / 60_000;
    const times = describes.map((c) => c.at.getTime());
    // The busiest 60 s of emulator time, in a window starting at a call (as describeCallsPerMinute counts).
    const peak = Math.max(0, ...times.map((t0) => times.filter((t) => t >= t0 && t < t0 + 60_000).length));
    // The waits the workflow took for as many polls: what the emulator clock should have moved by.
    let waited = 0;
    for (let n = 0; n < describes.length; n++) waited += nextPollSeconds(waited, 0);
    rollout = {
      minutes,
      describes: describes.length,
      ecs: ecsWatch.length,
      others: watched.length - ecsWatch.length,
      peak,
      waitedMinutes: waited / 60,
      text: end.text,
      real: realNow() - rolloutStarted,
    };
  } finally {
    Object.assign(timings, savedTimings);
  }
  const perMinute = rollout.describes / rollout.minutes;
  const theory = describeCallsPerMinute(rollout.minutes);
  const theory30 = describeCallsPerMinute(30);
  console.log(`# rollout: ${rollout.text.replace(/\s*\n\s*/g, ' ')}`);
  console.log(
    `# rollout watched ${rollout.minutes.toFixed(1)} emulator min (UpdateService → parent marked; ecsTimings ${step / 60_000} min per task step), ${seconds(rollout.real)} real: ${rollout.describes} DescribeServices, ${rollout.ecs} ECS calls (DescribeServices + ListTasks + DescribeTasks)${rollout.others ? `, ${rollout.others} other ECS calls` : ''}; the workflow's ${rollout.describes} poll waits add up to ${rollout.waitedMinutes.toFixed(1)} min`,
  );
  console.log(
    `# schedule (describeCallsPerMinute): ${theory.average}/min average over ${rollout.minutes.toFixed(1)} min, peak ${theory.peak}/min; over 30 min ${theory30.average}/min, peak ${theory30.peak}/min`,
  );
  // Consistent: the average within 15 % of the schedule's for the same length (a poll more or less
  // at either end), the peak at most the schedule's, and the clock moved as the waits did.
  const problems = [
    Math.abs(perMinute - theory.average) > Math.max(0.15 * theory.average, 1 / rollout.minutes)
      ? `average ${perMinute.toFixed(2)}/min vs ${theory.average}/min`
      : '',
    rollout.peak > theory.peak ? `peak ${rollout.peak}/min vs ${theory.peak}/min` : '',
    Math.abs(rollout.waitedMinutes - rollout.minutes) > 1
      ? `emulator clock moved ${rollout.minutes.toFixed(1)} min, the waits add up to ${rollout.waitedMinutes.toFixed(1)} min`
      : '',
    rollout.minutes < ROLLOUT_MINUTES * 0.8 ? `the rollout took ${rollout.minutes.toFixed(1)} min, not ~${ROLLOUT_MINUTES}` : '',
  ].filter(Boolean);
  console.log(
    problems.length ? `# NOT consistent with the schedule: ${problems.join('; ')}` : '# consistent with the schedule (average within 15 %, peak not above it)',
  );
  if (problems.length) process.exitCode = 1;
  report('rollout_describe_calls_per_min', perMinute, 'calls/min');
  report('rollout_describe_calls_peak_per_min', rollout.peak, 'calls/min', 0);
  report('rollout_ecs_calls_per_min', rollout.ecs / rollout.minutes, 'calls/min');
  report('rollout_minutes', rollout.minutes, 'min', 1);
}

/** One deploy that fails and is rolled back: how many replies its thread gets. */
async function rolledBackThread(bench: Bench): Promise<void> {
  const { world } = bench;
  const request = await bench.requestDeploy('v2-crash');
  await bench.settled(request.ts);
  await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
  const end = await bench.finished(request.ts, 150_000);
  bench.ended(request.ts);
  await world.idle();
  const replies = world.slack.replies(CHANNEL, request.ts);
  console.log(`# rolled back: ${end.text.split('\n')[0]}`);
  for (const r of replies)
    console.log(
      `#   reply: ${r.text.split('\n')[0]!.slice(0, 110)}${r.files.length ? ` [+${r.files.length} file]` : ''}${r.history.length ? ` (edited ${r.history.length}x)` : ''}`,
    );
  if (!/rolled back to/.test(end.text)) {
    console.log(`# the v2-crash deploy was not rolled back: ${end.text}`);
    process.exitCode = 1;
  }
  if (replies.length > TARGET_THREAD_MESSAGES) {
    console.log(`# deploy_thread_messages ${replies.length} misses the ≤ ${TARGET_THREAD_MESSAGES} target`);
    process.exitCode = 1;
  }
  report('deploy_thread_messages', replies.length, 'messages', 0);
}

/**
 * The same approvals in a world without skipped time, in a child process (the fake timers are
 * global to a process): real setTimeout/setImmediate/Date, so what the skip-time world adds shows.
 * Each deploy then waits one real 5 s poll for its (1 s-step) rollout.
 */
async function realTimers(): Promise<void> {
  const bench = await openWorld(false);
  debug('world started');
  try {
    const { p50, p95 } = describeApprovals('real timers', await approvals(bench, REAL_TIMER_DEPLOYS));
    await localPace(bench, 'real timers');
    report('approval_to_update_real_timers_p50_s', p50, 's', 3);
    report('approval_to_update_real_timers_p95_s', p95, 's', 3);
  } finally {
    await bench.close();
  }
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const benchStarted = realNow();
  if (process.argv.includes('--real-timers')) return realTimers();

  const bench = await openWorld(true);
  let p95 = 0;
  try {
    const measured = describeApprovals('skipped time', await approvals(bench, DEPLOYS));
    p95 = measured.p95;
    await localPace(bench, 'skipped time');
    report('approval_to_update_p50_s', measured.p50, 's', 3);
    report('approval_to_update_p95_s', measured.p95, 's', 3);
    await longRollout(bench);
    await rolledBackThread(bench);
  } finally {
    await bench.close();
  }

  if (REAL_TIMER_DEPLOYS > 0) {
    const self = fileURLToPath(import.meta.url);
    const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--real-timers'], { encoding: 'utf8', timeout: 180_000 });
    process.stdout.write(child.stdout ?? '');
    if (child.status !== 0) {
      console.log(`# the real-timer run failed: ${(child.stderr || child.error?.message || '').trim().split('\n').slice(0, 5).join(' | ')}`);
      process.exitCode = 1;
    }
  }
  if (p95 > TARGET_P95_S) {
    console.log(`# approval_to_update_p95_s ${p95.toFixed(3)} s misses the ${TARGET_P95_S} s target`);
    process.exitCode = 1;
  }
  console.log(`# bench:deploy took ${seconds(realNow() - benchStarted)} real`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
