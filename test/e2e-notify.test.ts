import { CloudWatchClient, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dynamoState } from '../src/platform/state';
import { deployLockKey } from '../src/platform/state-keys';
import { stateMuteStore } from '../src/notify/mute';
import type { SlackMessage } from '../local/slack/server';
import { startWorld, type World } from '../local/world';
import { alarmEvent, containerExitedEvent, placementFailureEvent, steadyEvent } from './support/aws-events';

/**
 * The notifier in the local world: the emulated ECS and CloudWatch emit their events, EventBridge
 * routes them by serverless.yml's rules and invokes the real handler as Lambda does (retries,
 * failure queue), which writes to the local Slack. Only emulator time is moved by the tests.
 */
const S = 1000;
const OOM = 'OutOfMemoryError: Container killed due to memory usage';
const ACCOUNT = '111111111111';
let world: World;

beforeAll(async () => {
  world = await startWorld();
}, 60_000);
afterAll(async () => {
  await world?.close();
});

/** Lets emulator time pass in steps (the scheduler runs at each), then waits for every delivery. */
async function pass(seconds: number, step = 5): Promise<void> {
  for (let t = 0; t < seconds; t += step) {
    world.aws.clock.advance(Math.min(step, seconds - t) * S);
    await world.events.idle();
  }
  await world.events.idle();
}

const channel = (id = 'C0OPS') => world.slack.workspace.messages[id] ?? [];
const parents = (id = 'C0OPS') => channel(id).filter((m) => !m.threadTs && m.botId);
/** Incident messages of one service (the seeded `broken` fails all the time and has its own). */
const incidentsOf = (service: string, since: number) =>
  parents()
    .slice(since)
    .filter((m) => m.text.includes(`*${service}*`));
const newSince = (count: number, id = 'C0OPS') => parents(id).slice(count);
const writesSince = (at: number) => world.slack.calls.slice(at).filter((c) => ['chat.postMessage', 'chat.update'].includes(c.method) && c.status === 200);
const thread = (m: SlackMessage) => world.slack.replies(m.channel, m.ts);

let mark = { parents: 0, calls: 0 };
beforeEach(() => {
  world.slack.faults.clear();
  mark = { parents: parents().length, calls: world.slack.calls.length };
});

describe('a crash loop is one incident, told once, closed when the service is steady', () => {
  it('OOM kills of web: one message with counters, the diagnosis with the last log lines, buttons; closed with the exact count', async () => {
    const clear = world.aws.state.crashLoop('web', { exitCode: 137, reason: OOM });
    await pass(300); // both tasks crash at 5 s, 85 s and 255 s: six stops
    const opened = incidentsOf('web', mark.parents);
    expect(opened).toHaveLength(1);
    const incident = opened[0]!;
    expect(incident.text).toMatch(/^(⚠️|🔥) \*web\*: \d+ tasks? stopped/);
    expect(incident.text).toContain('exit 137 (OOM) in app ×');
    // The buttons act on web, as whoever clicks.
    const buttons = JSON.stringify(incident.blocks);
    for (const id of ['ecs:notify-status', 'ecs:notify-logs', 'ecs:notify-verify', 'ecs:notify-rollback', 'ecs:notify-mute']) expect(buttons).toContain(id);

    // The thread: one diagnosis for one way of failing (not one per stop), with the log lines.
    const [diagnosis, ...rest] = thread(incident);
    expect(diagnosis!.text).toMatch(
      /\*Task <https:\/\/[^|]+\|[0-9a-f]{32}>\* of web:42 stopped \(EssentialContainerExited\): Essential container in task exited/,
    );
    expect(diagnosis!.text).toContain(`exit 137, ${OOM}`);
    expect(diagnosis!.text).toMatch(/📄 Last \d+ lines of `app` \(`web\/app\/[0-9a-f]{32}`\):\n```[\s\S]*heapUsedMB[\s\S]*```/);
    // Names and images only: nothing of the task definition's environment.
    expect(diagnosis!.text).not.toContain('production');
    expect(rest.filter((m) => m.text.startsWith('*Task'))).toEqual([]);
    // ECS backing off is told once in the thread too.
    expect(rest.map((m) => m.text).join('\n')).toContain('Tasks keep failing to start');

    clear();
    await pass(30 * 60, 30);
    const closed = world.slack.message('C0OPS', incident.ts)!;
    expect(closed.text).toMatch(/^✅ \*web\*: 6 tasks stopped in \d+ min/);
    expect(closed.text).toContain('exit 137 (OOM) in app ×6');
    expect(closed.text).toContain('Steady again');
    expect(JSON.stringify(closed.blocks)).not.toContain('ecs:notify-rollback');
    expect(thread(incident).at(-1)!.text).toBe('✅ Steady again.');
    // Six stops, a back-off notice and the recovery: far fewer writes than events.
    const aboutWeb = writesSince(mark.calls).filter(
      (c) => c.args.ts === incident.ts || c.args.thread_ts === incident.ts || String(c.args.text).includes('*web*'),
    );
    expect(aboutWeb.length).toBeLessThanOrEqual(10);
    expect(incidentsOf('web', mark.parents)).toHaveLength(1);
  }, 120_000);

  it('every event delivered twice (EventBridge’s at-least-once) changes nothing: the same counts, the same messages', async () => {
    world.aws.eventBridge.duplicateEvery = 1;
    try {
      const clear = world.aws.state.crashLoop('web', { exitCode: 1, reason: undefined as never });
      await pass(100);
      clear();
      await pass(30 * 60, 30);
    } finally {
      world.aws.eventBridge.duplicateEvery = 0;
    }
    const [incident, ...others] = incidentsOf('web', mark.parents);
    expect(others).toEqual([]);
    expect(incident!.text).toMatch(/^✅ \*web\*: 4 tasks stopped/);
    expect(incident!.text).toContain('exit 1 in app ×4');
    expect(thread(incident!).filter((m) => m.text.startsWith('*Task'))).toHaveLength(1);
  }, 120_000);
});

describe('what is not told', () => {
  it('a service no target declares is dropped; an event of a kind the bot does not know is shown as it came', async () => {
    world.events.emit(containerExitedEvent(world.aws.clock.now(), 'payments', { exitCode: 1, taskId: '0123456789abcdef0123456789abcdef' }));
    world.events.emit({
      'detail-type': 'ECS Service Action',
      source: 'aws.ecs',
      account: ACCOUNT,
      time: '2026-12-05T03:00:00Z',
      region: 'us-east-1',
      resources: [`arn:aws:ecs:us-east-1:${ACCOUNT}:service/main/manager`],
      // AWS's text is text: a reason that looks like markup stays inert.
      detail: { eventType: 'WARN', eventName: 'SERVICE_DISCOVERY_INSTANCE_UNHEALTHY', clusterArn: 'x', createdAt: 'y', reason: '<!channel> & <b>' },
    });
    // A deployment event in a shape the notifier cannot read (no event name): shown as it came.
    world.events.emit({
      'detail-type': 'ECS Deployment State Change',
      source: 'aws.ecs',
      account: ACCOUNT,
      time: '2026-12-05T03:00:00Z',
      region: 'us-east-1',
      resources: [`arn:aws:ecs:us-east-1:${ACCOUNT}:service/main/manager`],
      detail: { eventType: 'ERROR', somethingNew: 'a field AWS added' },
    });
    await world.events.idle();
    const plain = newSince(mark.parents).find((m) => m.text.startsWith('❔'))!;
    expect(plain.text).toContain('❔ An event the bot does not know: `aws.ecs / ECS Deployment State Change`');
    expect(plain.text).toContain('a field AWS added');
    const told = newSince(mark.parents);
    expect(told.map((m) => m.text).join('\n')).not.toContain('payments');
    const incident = incidentsOf('manager', mark.parents)[0]!;
    expect(
      thread(incident)
        .map((m) => m.text)
        .join('\n'),
    ).toContain('A service discovery instance is unhealthy: `&lt;!channel&gt; &amp; &lt;b&gt;`');
    expect(JSON.stringify(told)).not.toContain('<!channel>');
    // Close manager's incident: ECS says it is steady.
    world.events.emit(steadyEvent(world.aws.clock.now(), 'manager'));
    await world.events.idle();
    expect(world.slack.message('C0OPS', incident.ts)!.text).toMatch(/^✅ \*manager\*/);
  });
});

describe('alarms a target names', () => {
  it('ALARM posts a message with the buttons; OK edits it and says so in its thread', async () => {
    const cloudwatch = new CloudWatchClient({ region: 'us-east-1', endpoint: world.env.AWS_ENDPOINT_URL_CLOUDWATCH ?? world.env.AWS_ENDPOINT_URL });
    try {
      await cloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: 'web-5xx', StateValue: 'ALARM', StateReason: 'Threshold Crossed: 5xx above 10 for 1 datapoint' }),
      );
      await world.events.idle();
      const [alarm] = newSince(mark.parents);
      expect(alarm!.text).toMatch(/^🚨 \*web-5xx\* \(web\) is ALARM \(was OK\)/);
      expect(alarm!.text).toContain('Threshold Crossed: 5xx above 10');
      expect(JSON.stringify(alarm!.blocks)).toContain('ecs:notify-rollback');
      await cloudwatch.send(new SetAlarmStateCommand({ AlarmName: 'web-5xx', StateValue: 'OK', StateReason: 'Back under the threshold' }));
      await world.events.idle();
      expect(world.slack.message('C0OPS', alarm!.ts)!.text).toMatch(/^✅ \*web-5xx\* \(web\) is OK/);
      expect(thread(alarm!).map((m) => m.text)).toEqual(['✅ Now OK: Back under the threshold']);
      expect(newSince(mark.parents)).toHaveLength(1);
    } finally {
      cloudwatch.destroy();
    }
  });
  it('two ALARM events of one alarm at once (a re-evaluation, a forwarded copy) make one message', async () => {
    world.events.emit(alarmEvent(Date.now(), 'web-cpu-high', 'ALARM', 'p99 above 2 s'));
    world.events.emit(alarmEvent(Date.now(), 'web-cpu-high', 'ALARM', 'p99 above 2 s (again)'));
    await world.events.idle();
    const told = newSince(mark.parents).filter((m) => m.text.includes('web-cpu-high'));
    expect(told).toHaveLength(1);
  });
});

describe('mutes, faults and deploys', () => {
  it('a muted service tells nothing', async () => {
    const mutes = stateMuteStore(dynamoState);
    await mutes.mute({ target: 'web', until: new Date(Date.now() + 3_600_000).toISOString(), by: 'U0ALICE' });
    try {
      const clear = world.aws.state.crashLoop('web', { exitCode: 2, reason: undefined as never });
      await pass(30);
      clear();
      await pass(30 * 60, 60);
    } finally {
      await mutes.unmute('web');
    }
    expect(newSince(mark.parents)).toEqual([]);
  }, 120_000);

  it('Slack failing: Lambda retries the event (1 and 2 minutes later); three failures put it on the failure queue, nothing counted twice', async () => {
    const queued = world.notifyFailureQueue.length;
    const refused = () => world.slack.calls.filter((c) => c.method === 'chat.postMessage' && c.error === 'internal_error').length;
    const before = refused();
    world.slack.faults.fail('chat.postMessage', 'internal_error', 100);
    world.events.emit(placementFailureEvent(world.aws.clock.now(), 'manager'));
    await retried(
      () => refused() - before,
      () => world.notifyFailureQueue.length > queued,
    );
    expect(world.notifyFailureQueue.length).toBe(queued + 1);
    const record = JSON.parse(world.notifyFailureQueue.at(-1)!.body) as { requestContext: { condition: string; approximateInvokeCount: number } };
    expect(record.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    world.slack.faults.clear();

    // Two failures, then Slack answers: told once, on the retry.
    const before2 = refused();
    world.slack.faults.fail('chat.postMessage', 'internal_error', 2);
    world.events.emit(placementFailureEvent(world.aws.clock.now(), 'manager', 'RESOURCE:MEMORY'));
    await retried(
      () => refused() - before2,
      () => incidentsOf('manager', mark.parents).length > 0,
    );
    const told = incidentsOf('manager', mark.parents);
    expect(told).toHaveLength(1);
    // The first event was counted before Slack failed it (its record is on the queue for the
    // alarm); its retries did not count it again, and the incident it opened is told now.
    expect(told[0]!.text).toContain('ECS cannot place tasks (RESOURCE:FARGATE) ×1 · ECS cannot place tasks (RESOURCE:MEMORY) ×1');
    world.events.emit(steadyEvent(world.aws.clock.now(), 'manager'));
    await world.events.idle();
  }, 60_000);

  it('a crash while the bot deploys links the deploy’s thread', async () => {
    const where = { region: 'us-east-1', cluster: 'main', service: 'web' };
    const deployThread = world.slack.postAsUser('U0ALICE', 'C0OPS', 'deploy thread stand-in');
    await dynamoState.claim(deployLockKey(where), 600, {
      deployId: 'd1',
      userId: 'U0ALICE',
      channelId: 'C0OPS',
      threadTs: deployThread.ts,
      startedAt: new Date().toISOString(),
      commandText: '/ecs deploy web v2-crash',
    });
    try {
      const clear = world.aws.state.crashLoop('web', { exitCode: 3, reason: undefined as never });
      await pass(10);
      clear();
    } finally {
      await dynamoState.release(deployLockKey(where));
    }
    const incident = incidentsOf('web', mark.parents)[0]!;
    expect(thread(incident)[0]!.text).toMatch(/🚀 The bot is deploying this service: <[^|]+\|its thread> \(`\/ecs deploy web v2-crash`, asked by <@U0ALICE>\)/);
    await pass(30 * 60, 60);
  }, 120_000);
});

/**
 * Lets Lambda's two retries happen (1 then 2 minutes later, emulator time) once an attempt has
 * failed. A retry is scheduled when its attempt ends, which may be after the failed Slack call was
 * seen: the clock is moved again until the next attempt comes.
 */
async function retried(failures: () => number, settled: () => boolean): Promise<void> {
  const until = async (done: () => boolean, what: string) => {
    for (let i = 0; i < 100 && !done(); i++) {
      world.aws.clock.advance(60 * S);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (!done()) throw new Error(`${what} never came (${failures()} failed attempts so far)`);
  };
  await until(() => failures() >= 1, 'the first attempt');
  await until(settled, 'the end of the retries');
  await world.events.idle();
}
