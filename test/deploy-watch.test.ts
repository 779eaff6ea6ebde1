/**
 * Watching one ECS deployment (src/deploy/watch.ts): the verdict rules, event and status lines,
 * the polling schedule on hand-built `Service` objects; stopped-task reports and whole watch loops
 * against the local AWS emulator, its clock moved by the poll schedule.
 */
import { useEmulatorEcs } from './support/emulator';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type Deployment,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type ServiceEvent,
  type UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { SAMPLE } from '../local/aws';
import { failureThreshold as emulatorThreshold } from '../local/aws/rollout';
import {
  describeCallsPerMinute,
  failureThreshold,
  nextPollSeconds,
  observeRollout,
  readStoppedTasks,
  startProgress,
  stopReason,
  type WatchProgress,
  type WatchVerdict,
} from '../src/deploy/watch';

const S = 1000;
const T0 = Date.parse('2030-01-01T12:00:00Z');
const td = (revision: number) => `arn:aws:ecs:us-east-1:111111111111:task-definition/web:${revision}`;
const NEW = 'ecs-svc/1111111111111111111';
const OLD = 'ecs-svc/2222222222222222222';
const OTHER = 'ecs-svc/3333333333333333333';

const dep = (over: Partial<Deployment>): Deployment => ({
  id: NEW,
  status: 'PRIMARY',
  taskDefinition: td(43),
  desiredCount: 2,
  runningCount: 0,
  pendingCount: 2,
  failedTasks: 0,
  rolloutState: 'IN_PROGRESS',
  createdAt: new Date(T0),
  ...over,
});
const old = (over: Partial<Deployment> = {}): Deployment =>
  dep({
    id: OLD,
    status: 'ACTIVE',
    taskDefinition: td(42),
    runningCount: 2,
    pendingCount: 0,
    rolloutState: 'COMPLETED',
    createdAt: new Date(T0 - 3_600 * S),
    ...over,
  });
const svc = (deployments: Deployment[], over: Partial<Service> = {}): Service => ({
  serviceName: 'web',
  status: 'ACTIVE',
  desiredCount: 2,
  deployments,
  deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: false } },
  events: [],
  ...over,
});
const fresh = () => startProgress(NEW, td(43), T0);
const verdictOf = (service: Service, progress: WatchProgress = fresh()) => observeRollout(service, progress).verdict;

describe('the verdict', () => {
  it('is completed only once the old deployment has drained and the new one runs its desired count', () => {
    // Rolling: both deployments, counts moving.
    expect(verdictOf(svc([dep({ runningCount: 1, pendingCount: 1 }), old()]))).toEqual({ state: 'in-progress' });
    // ECS says COMPLETED while the old tasks still drain: not yet.
    expect(verdictOf(svc([dep({ runningCount: 2, pendingCount: 0, rolloutState: 'COMPLETED' }), old({ runningCount: 2 })]))).toEqual({ state: 'in-progress' });
    expect(verdictOf(svc([dep({ runningCount: 2, pendingCount: 0, rolloutState: 'COMPLETED' }), old({ runningCount: 0 })]))).toEqual({ state: 'in-progress' });
    // Alone but short of its desired count: not steady.
    expect(verdictOf(svc([dep({ runningCount: 1, pendingCount: 0, rolloutState: 'COMPLETED' })]))).toEqual({ state: 'in-progress' });
    expect(verdictOf(svc([dep({ runningCount: 2, pendingCount: 0, rolloutState: 'COMPLETED' })]))).toEqual({ state: 'completed' });
  });

  it('without a rolloutState, is completed when the deployment runs its desired count alone', () => {
    const plain = (over: Partial<Deployment>) => dep({ rolloutState: undefined, pendingCount: 0, ...over });
    expect(verdictOf(svc([plain({ runningCount: 2 }), old()]))).toEqual({ state: 'in-progress' });
    expect(verdictOf(svc([plain({ runningCount: 1 })]))).toEqual({ state: 'in-progress' });
    expect(verdictOf(svc([plain({ runningCount: 2 })]))).toEqual({ state: 'completed' });
  });

  it('fails with the circuit breaker reason when the deployment FAILED and stays PRIMARY (no rollback)', () => {
    const reason = 'ECS deployment circuit breaker: tasks failed to start.';
    const verdict = verdictOf(svc([dep({ rolloutState: 'FAILED', rolloutStateReason: reason, failedTasks: 4, pendingCount: 0 }), old()]));
    expect(verdict).toEqual({ state: 'failed', reason });
    expect(verdict).not.toHaveProperty('ecsRollback');
  });

  it('names the deployment ECS rolled back to when the breaker has rollback on', () => {
    const reason = 'ECS deployment circuit breaker: tasks failed to start.';
    const rollback = dep({
      id: OTHER,
      taskDefinition: td(42),
      rolloutStateReason: `ECS deployment circuit breaker: rolling back to deploymentId ${OLD}.`,
    });
    const failed = dep({ status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: reason, failedTasks: 4 });
    const config = { deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } } };
    expect(verdictOf(svc([rollback, failed, old()], config))).toEqual({
      state: 'failed',
      reason,
      ecsRollback: { deploymentId: OTHER, taskDefinition: td(42) },
    });
    // The rollback seen before the FAILED state shows on the watched deployment: still ECS's rollback.
    const caught = verdictOf(svc([rollback, dep({ status: 'ACTIVE' }), old()], config));
    expect(caught).toMatchObject({ state: 'failed', ecsRollback: { deploymentId: OTHER, taskDefinition: td(42) } });
  });

  it('fails when tasks keep failing though the circuit breaker is off, at ECS’s threshold', () => {
    const off = { deploymentConfiguration: { deploymentCircuitBreaker: { enable: false, rollback: false } } };
    expect(verdictOf(svc([dep({ failedTasks: 2 }), old()], off))).toEqual({ state: 'in-progress' });
    expect(verdictOf(svc([dep({ failedTasks: 3 }), old()], off))).toEqual({
      state: 'failed',
      reason: '3 tasks of the new deployment failed to start or stay running',
    });
    // desiredCount 10: the threshold is 5.
    const ten = (failedTasks: number) => verdictOf(svc([dep({ desiredCount: 10, failedTasks }), old()], { ...off, desiredCount: 10 }));
    expect(ten(4)).toEqual({ state: 'in-progress' });
    expect(ten(5)).toMatchObject({ state: 'failed', reason: '5 tasks of the new deployment failed to start or stay running' });
    // No circuit breaker configuration at all: the same.
    expect(verdictOf(svc([dep({ failedTasks: 3 }), old()], { deploymentConfiguration: undefined }))).toMatchObject({ state: 'failed' });
    // With rollback on, ECS is about to roll back itself: wait for it rather than race it.
    const rollback = { deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } } };
    expect(verdictOf(svc([dep({ failedTasks: 3 }), old()], rollback))).toEqual({ state: 'in-progress' });
  });

  it('fails when the watched deployment is gone or replaced by someone else’s deploy', () => {
    const theirs = dep({ id: OTHER, taskDefinition: td(44) });
    const gone = verdictOf(svc([theirs, old()]));
    expect(gone).toEqual({
      state: 'failed',
      superseded: true,
      reason: `deployment ${NEW} is no longer on the service: another deployment (\`web:44\`, ${OTHER}) replaced it`,
    });
    const replaced = verdictOf(svc([theirs, dep({ status: 'ACTIVE' }), old()]));
    expect(replaced).toEqual({
      state: 'failed',
      superseded: true,
      reason: `deployment ${NEW} was replaced by another deployment (\`web:44\`, ${OTHER}) before it finished`,
    });
    expect(verdictOf(svc([]))).toEqual({ state: 'failed', reason: `deployment ${NEW} is no longer on the service: it has no deployments` });
    expect(verdictOf(svc([dep({})], { status: 'INACTIVE' }))).toMatchObject({ state: 'failed', reason: expect.stringMatching(/INACTIVE \(deleted\)/) });
  });

  it('tells an ECS rollback that finished between polls from the events', () => {
    const back = dep({ id: OTHER, taskDefinition: td(42), rolloutState: 'COMPLETED', runningCount: 2, pendingCount: 0, createdAt: new Date(T0 + 90 * S) });
    const events: ServiceEvent[] = [
      { id: 'e3', createdAt: new Date(T0 + 150 * S), message: '(service web) has reached a steady state.' },
      { id: 'e2', createdAt: new Date(T0 + 90 * S), message: `(service web) rolling back to deployment ${OLD}.` },
      { id: 'e1', createdAt: new Date(T0 + 90 * S), message: `(service web) (deployment ${NEW}) deployment failed: tasks failed to start.` },
    ];
    expect(verdictOf(svc([back], { events }))).toEqual({
      state: 'failed',
      reason: `deployment ${NEW} failed (ECS deployment circuit breaker) and ECS rolled back`,
      ecsRollback: { deploymentId: OTHER, taskDefinition: td(42) },
    });
    // Without those events it is someone else's deploy.
    expect(verdictOf(svc([back], { events: [events[0]!] }))).not.toHaveProperty('ecsRollback');
  });

  it('with desiredCount 0, is completed when the deployment is PRIMARY and COMPLETED', () => {
    const zero = (over: Partial<Deployment>) => dep({ desiredCount: 0, runningCount: 0, pendingCount: 0, ...over });
    expect(verdictOf(svc([zero({}), old({ runningCount: 0 })], { desiredCount: 0 }))).toEqual({ state: 'in-progress' });
    expect(verdictOf(svc([zero({ rolloutState: 'COMPLETED' }), old({ runningCount: 0, desiredCount: 0 })], { desiredCount: 0 }))).toEqual({
      state: 'completed',
    });
    expect(verdictOf(svc([zero({ rolloutState: 'COMPLETED' })], { desiredCount: 0 }))).toEqual({ state: 'completed' });
  });

  it('uses ECS’s circuit-breaker threshold, the same as the emulator', () => {
    const cases: Array<[number, number]> = [
      [0, 3],
      [1, 3],
      [6, 3],
      [7, 4],
      [10, 5],
      [399, 200],
      [400, 200],
      [1000, 200],
    ];
    for (const [desired, threshold] of cases) {
      expect(failureThreshold(desired), `desired ${desired}`).toBe(threshold);
      expect(emulatorThreshold(desired)).toBe(threshold);
    }
  });
});

describe('lines for the thread', () => {
  const ev = (id: string, seconds: number, message: string): ServiceEvent => ({ id, createdAt: new Date(T0 + seconds * S), message });

  it('reports each event once, oldest first, none from before the deployment started', () => {
    const deployments = [dep({ runningCount: 0 }), old()];
    // DescribeServices lists events newest first; e1 and e2 share an instant (e2 is newer).
    const first = svc(deployments, {
      events: [
        ev('e2', 10, '(service web) registered 2 targets'),
        ev('e1', 10, '(service web) has started 2 tasks.'),
        ev('e0', -5, '(service web) has reached a steady state.'),
      ],
    });
    const a = observeRollout(first, fresh());
    expect(a.lines.slice(1)).toEqual(['• 12:00:10 (service web) has started 2 tasks.', '• 12:00:10 (service web) registered 2 targets']);
    expect(a.progress.seenEventIds).toEqual(['e1', 'e2']);

    const second = svc(deployments, { events: [ev('e3', 3_725, '(service web) has stopped 2 running tasks.'), ...first.events!] });
    const b = observeRollout(second, a.progress);
    expect(b.lines).toEqual(['• 13:02:05 (service web) has stopped 2 running tasks.']);
    expect(observeRollout(second, b.progress).lines).toEqual([]);
  });

  it('cuts off at the deployment’s createdAt (ECS’s clock), else at `since`', () => {
    const events = [ev('late', 1, 'after'), ev('early', -1, 'before')];
    const eventsOf = (service: Service) => observeRollout(service, fresh()).lines.filter((l) => l.startsWith('•'));
    expect(eventsOf(svc([dep({ createdAt: undefined })], { events }))).toEqual(['• 12:00:01 after']);
    // The emulator's clock (or ECS's) ahead of the caller's: events between `since` and the deployment's start are older news.
    expect(eventsOf(svc([dep({ createdAt: new Date(T0 + 2 * S) })], { events: [ev('new', 3, 'ours'), ...events] }))).toEqual(['• 12:00:03 ours']);
  });

  it('keeps the newest 100 event ids', () => {
    const events = Array.from({ length: 150 }, (_, i) => ev(`e${i}`, i, `event ${i}`)).reverse();
    const { lines, progress } = observeRollout(svc([dep({})], { events }), fresh());
    expect(lines.filter((l) => l.startsWith('•'))).toHaveLength(150);
    expect(progress.seenEventIds).toHaveLength(100);
    expect(progress.seenEventIds[0]).toBe('e50');
    expect(progress.seenEventIds.at(-1)).toBe('e149');
  });

  it('records the status line only when it changed: the state in words, one part per deployment with its role', () => {
    const rolling = svc([dep({ runningCount: 1, pendingCount: 1 }), old()]);
    const a = observeRollout(rolling, fresh());
    expect(a.lines).toEqual(['🔄 in progress · new `web:43`: 1/2 running, 1 pending · previous `web:42`: 2/2 running']);
    expect(a.progress.lastStatusLine).toBe(a.lines[0]);
    expect(observeRollout(structuredClone(rolling), a.progress).lines).toEqual([]);
    const failing = observeRollout(svc([dep({ runningCount: 1, pendingCount: 0, failedTasks: 2 }), old({ runningCount: 1, pendingCount: 1 })]), a.progress);
    expect(failing.lines).toEqual(['🔄 in progress · new `web:43`: 1/2 running, 2 failed · previous `web:42`: 1/2 running, 1 pending']);
    const done = observeRollout(svc([dep({ runningCount: 2, pendingCount: 0, rolloutState: 'COMPLETED' })]), failing.progress);
    expect(done.lines).toEqual(['✅ completed · new `web:43`: 2/2 running']);
  });

  it('shows the rollout as it stands: one line per deployment with its role and the change since the last poll', () => {
    const a = observeRollout(svc([dep({ runningCount: 0, pendingCount: 2 }), old()]), fresh());
    // The first look has nothing to compare with.
    expect(a.progress.current).toEqual(['new `web:43`: 0/2 running, 2 pending', 'previous `web:42`: 2/2 running']);
    const b = observeRollout(svc([dep({ runningCount: 0, pendingCount: 0, failedTasks: 2 }), old()]), a.progress);
    expect(b.progress.current).toEqual(['new `web:43`: 0/2 running, 2 failed (−2 pending, +2 failed)', 'previous `web:42`: 2/2 running']);
    const c = observeRollout(svc([dep({ runningCount: 2, pendingCount: 0, failedTasks: 2 }), old({ runningCount: 1 })]), b.progress);
    expect(c.progress.current).toEqual(['new `web:43`: 2/2 running, 2 failed (+2 running)', 'previous `web:42`: 1/2 running (−1 running)']);
    // A rollback names its roles: the deployment rolled back to, the failed one it replaces.
    const rollback = { ...fresh(), role: 'rollback to', roles: { [OLD]: 'failed' } };
    expect(observeRollout(svc([dep({ runningCount: 1, pendingCount: 1 }), old({ runningCount: 0, failedTasks: 4 })]), rollback).progress.current).toEqual([
      'rollback to `web:43`: 1/2 running, 1 pending',
      'failed `web:42`: 0/2 running, 4 failed',
    ]);
  });

  it('keeps the newest service events for the living message and every line, as plain text, for the record', () => {
    const events = [ev('a', 1, '(service web) has started 2 tasks.'), ev('b', 2, '(service web) a & b'), ev('c', 3, 'c'), ev('d', 4, 'd')].reverse();
    const out = observeRollout(svc([dep({})], { events }), fresh());
    expect(out.progress.latestEvents).toHaveLength(3);
    expect(out.progress.latestEvents![0]).toContain('(service web) a &amp; b');
    expect(out.progress.record!.at(-3)).toContain('(service web) a & b');
    expect(out.progress.record![0]).toBe('🔄 in progress · new `web:43`: 0/2 running, 2 pending');
  });

  it('escapes <, > and & in AWS text', () => {
    const service = svc([dep({})], { events: [ev('x', 1, '(service web) <!channel> & <https://evil|click>')] });
    expect(observeRollout(service, fresh()).lines[1]).toBe('• 12:00:01 (service web) &lt;!channel&gt; &amp; &lt;https://evil|click&gt;');
    const task = {
      stoppedReason: 'Task failed <health> & more',
      containers: [
        { name: 'app', exitCode: 2, reason: 'bad <x>' },
        { name: 'log', exitCode: 0 },
      ],
    };
    // Kept as AWS wrote it for the final report (which escapes it), escaped in the line.
    expect(stopReason(task)).toBe('Task failed <health> & more (container `app` exited with code 2: bad <x>)');
    const reason = '<https://evil|rolled> & back';
    const failed = observeRollout(svc([dep({ rolloutState: 'FAILED', rolloutStateReason: reason })]), fresh()).verdict;
    expect(failed).toEqual({ state: 'failed', reason: '&lt;https://evil|rolled&gt; &amp; back' });
  });

  it('asks for stopped tasks only when failedTasks grew', () => {
    const at = (failedTasks: number) =>
      svc([dep({ failedTasks }), old()], { deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } } });
    let progress = fresh();
    const seen: boolean[] = [];
    for (const n of [0, 0, 2, 2, 1, 0, 0, 1]) {
      const out = observeRollout(at(n), progress);
      seen.push(out.fetchStoppedTasks);
      progress = out.progress;
      expect(progress.failedTasks).toBe(n);
    }
    expect(seen).toEqual([false, false, true, false, false, false, false, true]);
  });

  it('returns plain JSON and leaves the given progress alone', () => {
    const progress = fresh();
    const before = structuredClone(progress);
    const out = observeRollout(svc([dep({ failedTasks: 1 })], { events: [ev('a', 1, 'm')] }), progress);
    expect(progress).toEqual(before);
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });
});

describe('polling schedule', () => {
  it('polls every 5 s, then 10 s after 2 minutes, 20 s after 5, 30 s after 15', () => {
    const cases: Array<[number, number]> = [
      [-1, 5],
      [0, 5],
      [119, 5],
      [120, 10],
      [299, 10],
      [300, 20],
      [899, 20],
      [900, 30],
      [7_200, 30],
    ];
    for (const [elapsed, seconds] of cases) expect(nextPollSeconds(elapsed, 0), `at ${elapsed} s`).toBe(seconds);
  });

  it('doubles per consecutive error, up to 120 s', () => {
    expect([0, 1, 2, 3, 4, 5, 50].map((errors) => nextPollSeconds(0, errors))).toEqual([5, 10, 20, 40, 80, 120, 120]);
    expect([0, 1, 2, 3].map((errors) => nextPollSeconds(1_000, errors))).toEqual([30, 60, 120, 120]);
    expect(nextPollSeconds(200, 1)).toBe(20);
  });

  it('makes as many DescribeServices calls as the schedule says', () => {
    // Independently: walk the schedule and count the polls in each minute.
    const perMinute = (minutes: number) => {
      const buckets = Array<number>(minutes).fill(0);
      for (let t = 0; t < minutes * 60; t += nextPollSeconds(t, 0)) buckets[Math.floor(t / 60)]!++;
      return buckets;
    };
    const thirty = perMinute(30);
    expect(thirty.slice(0, 4)).toEqual([12, 12, 6, 6]);
    expect(describeCallsPerMinute(30)).toEqual({ peak: Math.max(...thirty), average: thirty.reduce((a, b) => a + b) / 30 });
    expect(describeCallsPerMinute(30)).toEqual({ peak: 12, average: 3.4 });
    expect(describeCallsPerMinute(60).average).toBeCloseTo(perMinute(60).reduce((a, b) => a + b) / 60, 2);
    expect(describeCallsPerMinute(60).peak).toBe(60 / nextPollSeconds(0, 0));
    expect(describeCallsPerMinute(1)).toEqual({ peak: 12, average: 12 });
  });
});

describe('readStoppedTasks', () => {
  it('reports only tasks of the watched task definition, also when ECS does not say who started them', async () => {
    const mock = mockClient(ECSClient);
    const arn = (id: string) => `arn:aws:ecs:us-east-1:111111111111:task/main/${id}`;
    mock.on(ListTasksCommand).resolves({ taskArns: [arn('a'.repeat(32)), arn('b'.repeat(32))] });
    mock.on(DescribeTasksCommand).resolves({
      tasks: [
        { taskArn: arn('a'.repeat(32)), taskDefinitionArn: td(42), stoppedReason: 'old', stoppedAt: new Date(T0) },
        { taskArn: arn('b'.repeat(32)), taskDefinitionArn: td(43), stoppedReason: 'Task failed ELB health checks in <tg> & more', stoppedAt: new Date(T0) },
      ],
    });
    const ecs = new ECSClient({ region: 'us-east-1' });
    try {
      const out = await readStoppedTasks(ecs, 'main', 'web', fresh());
      expect(out.lines).toEqual([`🛑 task \`${'b'.repeat(12)}\` stopped: Task failed ELB health checks in &lt;tg&gt; &amp; more`]);
      expect(out.progress).toMatchObject({
        stoppedTaskIds: ['b'.repeat(32)],
        otherTaskIds: ['a'.repeat(32)],
        stopReasons: ['Task failed ELB health checks in <tg> & more'],
      });
      expect(mock.commandCalls(ListTasksCommand)[0]!.args[0].input).toEqual({ cluster: 'main', serviceName: 'web', desiredStatus: 'STOPPED', maxResults: 100 });
      expect(mock.calls()).toHaveLength(2);
    } finally {
      mock.restore();
    }
  });
});

describe('against the emulator', () => {
  const env = useEmulatorEcs('test');

  const describeWeb = async () => (await env.ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }))).services![0]!;
  const ecsCalls = () => env.emu.calls.filter((c) => ['ListTasks', 'DescribeTasks'].includes(c.action)).length;

  /** Registers the next revision of web with `image` and deploys it: what the workflow watches. */
  async function deployWeb(image: string, input: Partial<UpdateServiceCommandInput> = {}): Promise<WatchProgress> {
    const current = (await env.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))).taskDefinition!;
    const definition = {
      ...current,
      containerDefinitions: current.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image } : c)),
    } as RegisterTaskDefinitionCommandInput;
    const arn = (await env.ecs.send(new RegisterTaskDefinitionCommand(definition))).taskDefinition!.taskDefinitionArn!;
    const { service } = await env.ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: arn, ...input }));
    const watched = service!.deployments!.find((d) => d.status === 'PRIMARY')!;
    expect(watched.taskDefinition).toBe(arn);
    return startProgress(watched.id!, arn, env.emu.clock.now());
  }

  /** The workflow's loop: poll, observe, read stopped tasks when asked, wait the schedule's seconds. */
  async function watch(progress: WatchProgress, options: { limitSeconds?: number; onPoll?: (elapsed: number) => Promise<void> } = {}) {
    const start = env.emu.clock.now();
    const lines: string[] = [];
    const stoppedCalls: number[] = [];
    let verdict: WatchVerdict = { state: 'in-progress' };
    let polls = 0;
    for (;;) {
      const elapsed = (env.emu.clock.now() - start) / S;
      await options.onPoll?.(elapsed);
      const seen = observeRollout(await describeWeb(), progress);
      polls++;
      lines.push(...seen.lines);
      progress = seen.progress;
      verdict = seen.verdict;
      if (seen.fetchStoppedTasks) {
        const before = ecsCalls();
        const stopped = await readStoppedTasks(env.ecs, 'main', 'web', progress);
        stoppedCalls.push(ecsCalls() - before);
        lines.push(...stopped.lines);
        progress = stopped.progress;
      }
      if (verdict.state !== 'in-progress' || elapsed > (options.limitSeconds ?? 600)) break;
      env.emu.clock.advance(nextPollSeconds(elapsed, 0) * S);
    }
    return { lines, progress, verdict, polls, stoppedCalls, seconds: (env.emu.clock.now() - start) / S };
  }

  const eventLines = (lines: string[]) => lines.filter((l) => l.startsWith('• '));
  const eventsSince = (service: Service, since: number) =>
    service
      .events!.filter((e) => e.createdAt!.getTime() >= since)
      .reverse()
      .map((e) => `• ${e.createdAt!.toISOString().slice(11, 19)} ${e.message}`);

  it('follows a good rollout to completed only when the old tasks are gone, each event once', async () => {
    const progress = await deployWeb(SAMPLE.images.webNext);
    const since = progress.since;
    const out = await watch(progress);
    expect(out.verdict).toEqual({ state: 'completed' });
    expect(out.seconds).toBe(60); // the emulator's rollout takes 60 s; 5-second polls see it at once
    const web = await describeWeb();
    expect(web.deployments).toHaveLength(1);
    expect(eventLines(out.lines)).toEqual(eventsSince(web, since));
    expect(eventLines(out.lines).at(-1)).toMatch(/has reached a steady state\.$/);
    expect(out.lines[0]).toBe('🔄 in progress · new `web:43`: 0/2 running, 2 pending · previous `web:42`: 2/2 running');
    expect(out.lines.filter((l) => !l.startsWith('• ')).at(-1)).toBe('✅ completed · new `web:43`: 2/2 running');
    expect(new Set(out.lines).size).toBe(out.lines.length);
    expect(out.stoppedCalls).toEqual([]); // nothing failed: no stopped-task lookups
  });

  it('reports the crash of each new task once, not the old revision’s stopped tasks, and the circuit breaker’s verdict', async () => {
    // A first good rollout leaves web:42's stopped tasks in the service's STOPPED list, next to the seed's one.
    await watch(await deployWeb(SAMPLE.images.webNext));
    const { taskArns: oldStopped } = await env.ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web', desiredStatus: 'STOPPED' }));
    expect(oldStopped).toHaveLength(3);

    const progress = await deployWeb(SAMPLE.images.webCrash);
    const out = await watch(progress);
    expect(out.verdict).toEqual({ state: 'failed', reason: 'ECS deployment circuit breaker: tasks failed to start.' });
    const stopped = out.lines.filter((l) => l.startsWith('🛑'));
    expect(stopped).toHaveLength(4);
    for (const line of stopped)
      expect(line).toMatch(/^🛑 task `[0-9a-f]{12}` stopped: Essential container in task exited \(container `app` exited with code 1\)$/);
    expect(out.progress.stoppedTaskIds).toHaveLength(4);
    expect(out.progress.otherTaskIds!.sort()).toEqual(oldStopped!.map((arn) => arn.split('/').pop()).sort());
    expect(out.progress.stopReasons).toEqual(['Essential container in task exited (container `app` exited with code 1)']);
    // Only the watched task definition's tasks.
    const { tasks } = await env.ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: out.progress.stoppedTaskIds }));
    expect(tasks!.map((t) => t.taskDefinitionArn)).toEqual(Array(4).fill(progress.taskDefinition));
    for (const arn of oldStopped!) expect(out.lines.join('\n')).not.toContain(arn.split('/').pop()!.slice(0, 12));
    // failedTasks grew twice (2 then 4): two lookups, each of at most 2 ECS calls.
    expect(out.stoppedCalls).toEqual([2, 2]);
    expect(out.lines.filter((l) => !l.startsWith('• ') && !l.startsWith('🛑')).at(-1)).toBe(
      '❌ failed · new `web:44`: 0/2 running, 4 failed · previous `web:43`: 2/2 running',
    );
    expect(eventLines(out.lines)).toEqual(eventsSince(await describeWeb(), progress.since));

    // Asked again: nothing new, in one call (everything listed was looked at before).
    const before = ecsCalls();
    const again = await readStoppedTasks(env.ecs, 'main', 'web', out.progress);
    expect(again.lines).toEqual([]);
    expect(again.progress).toEqual(out.progress);
    expect(ecsCalls() - before).toBe(1);
  });

  it('reads every stopped task of the watched deployment in two calls, then nothing new', async () => {
    const { taskArns: seeded } = await env.ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web', desiredStatus: 'STOPPED' }));
    expect(seeded).toHaveLength(1); // the seed's web has one stopped task of its own
    const progress = await deployWeb(SAMPLE.images.webOom);
    env.emu.clock.advance(100 * S); // 4 tasks crashed, the circuit breaker tripped
    const before = ecsCalls();
    const first = await readStoppedTasks(env.ecs, 'main', 'web', progress);
    expect(ecsCalls() - before).toBe(2);
    expect(first.lines).toHaveLength(4);
    expect(first.progress.stopReasons).toEqual(['OutOfMemoryError: Container killed due to memory usage (container `app` exited with code 137)']);
    expect(first.progress.otherTaskIds).toEqual([seeded![0]!.split('/').pop()]);
    const second = await readStoppedTasks(env.ecs, 'main', 'web', first.progress);
    expect(second.lines).toEqual([]);
    expect(ecsCalls() - before).toBe(3);

    // Watching another deployment of the same service, none of these are its tasks.
    const other = await readStoppedTasks(env.ecs, 'main', 'web', startProgress(SAMPLE.deployments.web, SAMPLE.taskDefinitions.web, progress.since));
    expect(other.lines).toEqual([]);
    expect(other.progress.otherTaskIds).toHaveLength(5);
  });

  it('does not take the tasks a forced redeploy replaced (same task definition) for its own', async () => {
    const { service } = await env.ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', forceNewDeployment: true }));
    const forced = service!.deployments![0]!;
    expect(forced.taskDefinition).toBe(SAMPLE.taskDefinitions.web);
    env.emu.clock.advance(60 * S);
    const { taskArns } = await env.ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web', desiredStatus: 'STOPPED' }));
    const { tasks } = await env.ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: taskArns }));
    expect(tasks!.filter((t) => t.taskDefinitionArn === SAMPLE.taskDefinitions.web && t.startedBy === SAMPLE.deployments.web)).toHaveLength(2);
    const out = await readStoppedTasks(env.ecs, 'main', 'web', startProgress(forced.id!, forced.taskDefinition!, env.emu.clock.now()));
    expect(out.lines).toEqual([]);
    expect(out.progress.otherTaskIds).toHaveLength(taskArns!.length);
  });

  it('names ECS’s rollback when the circuit breaker rolls back', async () => {
    const progress = await deployWeb(SAMPLE.images.webCrash, { deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } } });
    const out = await watch(progress);
    const web = await describeWeb();
    const primary = web.deployments!.find((d) => d.status === 'PRIMARY')!;
    expect(primary.taskDefinition).toBe(SAMPLE.taskDefinitions.web);
    expect(out.verdict).toEqual({
      state: 'failed',
      reason: 'ECS deployment circuit breaker: tasks failed to start.',
      ecsRollback: { deploymentId: primary.id, taskDefinition: SAMPLE.taskDefinitions.web },
    });
    expect(out.lines).toContain(
      `• ${new Date(progress.since + 100 * S).toISOString().slice(11, 19)} (service web) rolling back to deployment ${SAMPLE.deployments.web}.`,
    );
  });

  it('fails on the failed-task threshold when the circuit breaker is off', async () => {
    const progress = await deployWeb(SAMPLE.images.webCrash, { deploymentConfiguration: { deploymentCircuitBreaker: { enable: false, rollback: false } } });
    const out = await watch(progress);
    expect(out.verdict).toEqual({ state: 'failed', reason: '4 tasks of the new deployment failed to start or stay running' });
    // ECS itself would keep trying.
    expect((await describeWeb()).deployments![0]).toMatchObject({ id: progress.deploymentId, rolloutState: 'IN_PROGRESS', failedTasks: 4 });
  });

  it('fails when someone deploys over the watched deployment', async () => {
    const progress = await deployWeb(SAMPLE.images.webNext);
    let theirs: string | undefined;
    const out = await watch(progress, {
      onPoll: async (elapsed) => {
        if (elapsed === 20) {
          const { service } = await env.ecs.send(
            new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: SAMPLE.taskDefinitions.webPrevious }),
          );
          theirs = service!.deployments![0]!.id;
        }
      },
    });
    expect(out.seconds).toBe(20);
    expect(out.verdict).toEqual({
      state: 'failed',
      superseded: true,
      reason: `deployment ${progress.deploymentId} was replaced by another deployment (\`web:41\`, ${theirs}) before it finished`,
    });
  });
});
