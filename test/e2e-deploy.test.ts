import { beforeAll, describe, expect, it } from 'vitest';
import type { World } from '../local/world';
import { useConfigurableWorld } from './support/channel';
import type { Config } from '../src/config/schema';
import { deployFromCi } from './support/ci-deploy';
import { failSlackPostAfter } from './support/fail-after';
import { auditRecords as teamAuditRecords } from './support/audit-records';

/**
 * `/ecs deploy` end to end: signed slash command → ingress → worker (plan, approval request) →
 * durable deploy workflow waiting on its callback → reactions through the ingress → worker
 * (conditional updates, callback) → RegisterTaskDefinition / UpdateService → rollout watched over
 * skipped time in the emulator → thread, parent, lock, audit.
 */
const current = useConfigurableWorld({ durableSkipTime: true });
let world: World;
let setConfig: (config: Config | undefined) => void;
let baseConfig: Config;

beforeAll(async () => {
  ({ world, setConfig, baseConfig } = current());
  // A second approver (who may also deploy), for the race and the lock.
  world.slack.workspace.users.push({ id: 'U0DAVE', name: 'dave', realName: 'Dave', isBot: false });
  const { dynamoAllowlist } = await import('../src/auth/allowlist');
  await dynamoAllowlist.put({
    teamId: world.teamId,
    userId: 'U0DAVE',
    grants: [
      { role: 'approver', services: ['*'] },
      { role: 'deployer', services: ['*'] },
    ],
    addedBy: 'test',
    updatedAt: new Date().toISOString(),
  });
});

const CHANNEL = 'C0OPS';
type Reply = ReturnType<typeof world.slack.replies>[number];
const ephemeral = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;
const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
const threadText = (ts: string) =>
  world.slack
    .replies(CHANNEL, ts)
    .map((r) => r.text)
    .join('\n');
const ecsCalls = (action: string) => world.aws.calls.filter((c) => c.action === action);
const ephemeralsFor = (user: string) => world.slack.workspace.ephemerals.filter((e) => e.user === user).map((e) => e.text);

/** Sends the command and returns the approval request message, once the bot has posted it. */
async function requestDeploy(text: string, user = 'U0ALICE') {
  const before = new Set(parents().map((m) => m.ts));
  expect(ephemeral(await world.slash(user, text, CHANNEL))).toMatch(/Working on .*the approval request will appear in this channel/);
  return world.slack.waitFor(
    () => parents().find((m) => !before.has(m.ts) && /React :white_check_mark: to approve|Cannot deploy|already|❌/.test(m.text)),
    20_000,
  );
}

const serviceTaskDefinition = async () => {
  const { ECSClient, DescribeServicesCommand } = await import('@aws-sdk/client-ecs');
  const ecs = new ECSClient({ region: 'us-east-1' });
  try {
    return (await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }))).services![0]!.taskDefinition!;
  } finally {
    ecs.destroy();
  }
};

const serviceImage = async () => {
  const { ECSClient, DescribeTaskDefinitionCommand } = await import('@aws-sdk/client-ecs');
  const ecs = new ECSClient({ region: 'us-east-1' });
  try {
    return (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: await serviceTaskDefinition() }))).taskDefinition!.containerDefinitions![0]!
      .image!;
  } finally {
    ecs.destroy();
  }
};

/** Audit records about one request (the command's, completed by the workflow, and each reaction's). */
const auditRecords = (threadTs: string) => teamAuditRecords(world.teamId, threadTs);

const finished = (ts: string) =>
  world.slack.waitFor(() => {
    // One line: the parent keeps the request's detail lines before the outcome.
    const text = (world.slack.message(CHANNEL, ts)?.text ?? '').replaceAll('\n', ' ');
    return /^(✅|❌|⚠️|🚫)/.test(text) ? text : undefined;
  }, 60_000);

describe('/ecs deploy', () => {
  it('asks for approval, refuses the requester and a non-approver, deploys once bob approves, and watches the rollout to steady', async () => {
    const before = await serviceTaskDefinition();
    const request = await requestDeploy('deploy web v1.5.0');
    expect(request.text).toContain('<@U0ALICE> asks to deploy to *web*');
    expect(request.text).toMatch(/`app`: `.*web:v1\.4\.2` → `.*web:v1\.5\.0`/);
    expect(request.text).toContain('Needs 1 approval from an *approver* (or admin), not <@U0ALICE>');
    expect(request.text).toMatch(/Expires at \d\d:\d\d UTC/);
    expect(ecsCalls('UpdateService')).toHaveLength(0);

    // The requester's own ✅: refused privately, nothing happens.
    await world.react('U0ALICE', CHANNEL, request.ts, 'white_check_mark');
    await world.slack.waitFor(() => ephemeralsFor('U0ALICE').find((t) => t.includes('does not count')));
    // Mallory is not an approver.
    await world.react('U0MALLORY', CHANNEL, request.ts, 'white_check_mark::skin-tone-3');
    await world.slack.waitFor(() => ephemeralsFor('U0MALLORY').find((t) => t.includes('is ignored')));
    expect(ecsCalls('UpdateService')).toHaveLength(0);
    expect(ecsCalls('RegisterTaskDefinition')).toHaveLength(0);

    // Bob approves (with a skin tone: still ✅).
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark::skin-tone-2');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*approved by <@U0BOB> • `app`: `.*web:v1\.4\.2` → `.*web:v1\.5\.0`\s+— `web:\d+` is live and steady/);
    const thread = threadText(request.ts);
    expect(thread).toContain('👍 Approved by <@U0BOB>');
    expect(thread).toMatch(/📝 Registered `web:\d+`/);
    expect(thread).toContain('UpdateService` called');
    expect(thread).toMatch(/COMPLETED|steady/);
    expect(ecsCalls('UpdateService')).toHaveLength(1);
    const after = await serviceTaskDefinition();
    expect(after).not.toBe(before);
    const registered = ecsCalls('RegisterTaskDefinition')[0]!.params as { containerDefinitions: Array<{ image: string }>; family: string };
    expect(registered.family).toBe('web');
    expect(registered.containerDefinitions[0]!.image).toMatch(/web:v1\.5\.0$/);

    // The audit: the request (completed by the workflow) and every reaction, refused ones included.
    const records = await auditRecords(request.ts);
    const deployRecord = records.find((r) => r.verb === 'deploy')!;
    expect(deployRecord).toMatchObject({ userId: 'U0ALICE', decision: 'allowed', outcome: 'success' });
    expect(deployRecord.detail).toMatchObject({
      action: 'deploy',
      requester: 'U0ALICE',
      status: 'approved',
      approvers: ['U0BOB'],
      fromTaskDefinition: before,
      toTaskDefinition: after,
      rolloutVerdict: 'completed',
      images: [{ container: 'app', from: expect.stringMatching(/web:v1\.4\.2$/), to: expect.stringMatching(/web:v1\.5\.0$/) }],
    });
    expect(Object.keys(deployRecord.detail!)).toEqual(expect.arrayContaining(['requestedAt', 'decidedAt', 'deploymentStartedAt', 'finishedAt']));
    const reactions = records.filter((r) => r.verb === 'approve').map((r) => [r.userId, r.decision, r.outcome]);
    expect(reactions).toEqual(
      expect.arrayContaining([
        ['U0ALICE', 'denied', 'refused'],
        ['U0MALLORY', 'denied', 'refused'],
        ['U0BOB', 'allowed', 'success'],
      ]),
    );
  });

  it('a failing image is rolled back to the previous task definition, quoting the stop reason', async () => {
    const before = await serviceTaskDefinition();
    const request = await requestDeploy('deploy web v2-crash');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^❌ .* rolled back to `web:\d+`/);
    const replies = world.slack.replies(CHANNEL, request.ts);
    // What a person must notice, and no more: the plan, the rollout (one message edited in place),
    // its failure, the rollback (the same), the end with the full record attached.
    expect(
      replies.map((r) => r.text.split('\n')[0]!.slice(0, 2)),
      threadText(request.ts),
    ).toHaveLength(5);
    const [plan, rollout, failure, rollback, ending] = replies as [Reply, Reply, Reply, Reply, Reply];
    expect(plan.text).toContain('🗳️ Approval requested above');
    expect(rollout.text).toMatch(/^👍 Approved by <@U0BOB> · 📝 Registered `web:\d+` .* · 🚀 `UpdateService` called at/);
    expect(rollout.text).toMatch(/^❌ failed: ECS deployment circuit breaker/m);
    expect(rollout.text).toMatch(/^new `web:\d+`: 0\/2 running, 4 failed/m);
    expect(rollout.text).toMatch(/^previous `web:\d+`: 2\/2 running$/m);
    expect(rollout.text).toContain('|service web>');
    expect(rollout.history.length).toBeGreaterThan(2); // edited in place as the rollout went on
    // Each stopped task, linked to the console, with its container's log stream.
    expect(failure.text).toMatch(/^❌ ECS deployment circuit breaker/);
    expect(failure.text).toMatch(
      /^• <https:\/\/us-east-1\.console\.aws\.amazon\.com\/ecs\/v2\/clusters\/main\/tasks\/[0-9a-f]{32}\/configuration\?region=us-east-1\|task [0-9a-f]{12}> \(<https:\/\/us-east-1\.console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-east-1#logsV2:log-groups\/log-group\/\$252Fecs\$252Fweb\/log-events\/web\$252Fapp\$252F[0-9a-f]{32}\|app logs>\): Essential container in task exited/m,
    );
    expect(failure.text.match(/^• /gm)).toHaveLength(4);
    // The why without leaving the thread: the crashed container's last log lines.
    expect(failure.text).toMatch(/^📄 Last \d+ lines of `app` in task `[0-9a-f]{12}`:\n```[\s\S]+```/m);
    expect(failure.text).toMatch(/Error|error/);
    expect(failure.text).toMatch(/↩️ .*rolling back to `web:\d+`/i);
    expect(rollback.text).toMatch(/^↩️ Rolling `web` back to `web:\d+`\n✅ completed/);
    // While it ran, it named the failed deployment it replaced.
    expect(rollback.history.map((h) => h.text).join('\n')).toMatch(/^failed `web:\d+`: 0\/\d running, 4 failed$/m);
    expect(ending.text).toContain('Rolled back');
    expect(ending.files).toHaveLength(1);
    const record = world.slack.workspace.files.find((f) => f.id === ending.files[0])!.content.toString();
    expect(record).toMatch(/^Rollout of web \(deploy \w+\)\n/);
    expect(record).toMatch(/^🛑 task `[0-9a-f]{12}` stopped: Essential container in task exited/m);
    expect(record).toMatch(/\nRollback\n[\s\S]*has reached a steady state\./);
    // Only people's reactions are left under the decided request.
    expect(world.slack.message(CHANNEL, request.ts)!.reactions).toEqual([{ name: 'white_check_mark', users: ['U0BOB'] }]);
    expect(await serviceTaskDefinition()).toBe(before);
  });

  it('an image that does not exist is refused before anyone is asked', async () => {
    const request = await requestDeploy('deploy web v9.9.9-missing');
    expect(threadText(request.ts)).toContain('has no image tagged `v9.9.9-missing`');
    expect(request.text).not.toContain('React :white_check_mark:');
    expect(request.text).toMatch(/^❌/);
  });

  it('a reject ends the request and frees the lock; later reactions do nothing', async () => {
    const request = await requestDeploy('deploy web v2-oom');
    await world.react('U0BOB', CHANNEL, request.ts, 'x');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^🚫 .*rejected by <@U0BOB>/);
    const updates = ecsCalls('UpdateService').length;
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    // The lock is free: the next request gets its approval message.
    const next = await requestDeploy('deploy web --redeploy');
    expect(next.text).toContain('redeploy *web*');
    expect(ecsCalls('UpdateService').length).toBe(updates);
    await world.react('U0ALICE', CHANNEL, next.ts, 'x'); // the requester withdraws it
    expect(await finished(next.ts)).toMatch(/^🚫 .*withdrawn/);
  });

  it('a request expires when nobody approves it in time: marked on the message, later approvals do nothing', async () => {
    const web = baseConfig.targets.web!;
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, web: { ...web, deploy: { ...web.deploy, expirySeconds: 5 } } } });
    try {
      const updates = ecsCalls('UpdateService').length;
      const request = await requestDeploy('deploy web --redeploy');
      expect(request.text).toMatch(/Expires at \d\d:\d\d UTC/);
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^🚫 .*expired without approval/);
      expect(threadText(request.ts)).toContain('⌛ The request expired');
      // The bot's choices are gone from the expired request.
      expect(world.slack.message(CHANNEL, request.ts)!.reactions).toEqual([]);
      const ephemerals = world.slack.workspace.ephemerals.length;
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      await world.slack.waitFor(() => world.slack.calls.length > 0); // let the worker run
      await new Promise((r) => setTimeout(r, 500));
      expect(ecsCalls('UpdateService').length).toBe(updates);
      expect(world.slack.workspace.ephemerals.length).toBe(ephemerals);
    } finally {
      setConfig(baseConfig);
    }
  });

  it('two approvers at once and Slack’s redeliveries start exactly one deploy', async () => {
    const updates = ecsCalls('UpdateService').length;
    const registers = ecsCalls('RegisterTaskDefinition').length;
    const request = await requestDeploy('deploy web v1.4.2');
    const [bob, dave] = await Promise.all([
      world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark'),
      world.react('U0DAVE', CHANNEL, request.ts, 'white_check_mark'),
    ]);
    expect([bob.statusCode, dave.statusCode]).toEqual([200, 200]);
    // Slack retries both events (same event_ids): the ingress lets only the first delivery through.
    await Promise.all([world.redeliver(bob.eventId), world.redeliver(dave.eventId)]);
    await finished(request.ts);
    expect(ecsCalls('UpdateService').length - updates).toBe(1);
    expect(ecsCalls('RegisterTaskDefinition').length - registers).toBe(1);
    expect(threadText(request.ts).match(/UpdateService` called/g)).toHaveLength(1);
  });

  it('a rollout longer than a Lambda lives is watched to the end (skipped time), with polling that slows down', async () => {
    const timings = { ...world.aws.state.ecsTimings };
    Object.assign(world.aws.state.ecsTimings, { provisionMs: 6 * 60_000, pullMs: 6 * 60_000, healthyMs: 6 * 60_000 });
    try {
      const request = await requestDeploy('deploy web v1.5.0');
      const approvedAt = world.aws.clock.now();
      const describesBefore = ecsCalls('DescribeServices').length;
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*is live and steady after (\d+) min/);
      const minutes = (world.aws.clock.now() - approvedAt) / 60_000;
      expect(minutes).toBeGreaterThan(15); // longer than any one Lambda invocation may run
      const describes = ecsCalls('DescribeServices').length - describesBefore;
      expect(describes / minutes).toBeLessThan(6); // adaptive: far below one call per 5 s
    } finally {
      Object.assign(world.aws.state.ecsTimings, timings);
    }
  });

  it('ECS throttling while watching: backs off, says so, and still reports the end', async () => {
    const request = await requestDeploy('deploy web v1.4.2');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    await world.slack.waitFor(() => threadText(request.ts).includes('UpdateService` called'), 20_000);
    // More throttles than the SDK's own retries absorb: some polls fail outright.
    const lift = world.aws.faults.throttle('ecs:DescribeServices', 7);
    try {
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*live and steady/);
      expect(threadText(request.ts)).toMatch(/⚠️ Could not read the service \(.*\); trying again in \d+ s/);
    } finally {
      lift();
    }
  });

  it('a second deploy while one is pending is refused privately, naming who holds the lock, with a link to its thread', async () => {
    const first = await requestDeploy('deploy web v1.5.0');
    /** Sends the command; the private answer the requester gets, once the worker has given it. */
    const refusedPrivately = async (text: string, user: string) => {
      const parentsBefore = parents().length;
      const answered = world.slack.workspace.responses.length;
      expect(ephemeral(await world.slash(user, text, CHANNEL))).toMatch(/Working on/);
      const answer = await world.slack.waitFor(() => world.slack.workspace.responses.slice(answered).find((r) => /under way/.test(r.text ?? '')), 20_000);
      // Nothing said in the channel for everyone (the worker answered before any parent message).
      expect(parents()).toHaveLength(parentsBefore);
      return answer;
    };
    const second = await refusedPrivately('rollback web', 'U0DAVE');
    expect(second.text).toMatch(
      /^✋ Another deploy of `web` is under way: `\/ecs deploy web v1\.5\.0` by <@U0ALICE> since \d\d:\d\d UTC \(deploy `[a-z0-9]{6}`\), <http[^|]+\|see its thread>/,
    );
    expect(second.responseType).toBe('ephemeral');
    // The link is the other request's permalink: it names that message, which the playground opens.
    const link = /<(http[^|]+)\|see its thread>/.exec(second.text!)![1]!;
    const [, channel, digits] = /\/archives\/(\w+)\/p(\d+)$/.exec(new URL(link.replace(/&amp;/g, '&')).pathname)!;
    expect(channel).toBe(CHANNEL);
    expect(`${digits!.slice(0, -6)}.${digits!.slice(-6)}`).toBe(first.ts);
    // Another alias of the same ECS service shares the lock.
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, 'web-again': { ...baseConfig.targets.web! } } });
    try {
      const third = await refusedPrivately('deploy web-again --redeploy', 'U0DAVE');
      expect(third.text).toMatch(/Another deploy of `web-again` is under way: `\/ecs deploy web v1\.5\.0` by <@U0ALICE>/);
    } finally {
      setConfig(baseConfig);
    }
    await world.react('U0ALICE', CHANNEL, first.ts, 'x');
    await finished(first.ts);
  });

  it('/ecs rollback goes back to the previous revision once approved', async () => {
    const before = await serviceTaskDefinition();
    const request = await requestDeploy('rollback web');
    expect(request.text).toMatch(/asks to roll \*web\* back from `web:\d+` to `web:\d+`/);
    // While it waits, a scale of the service is refused privately, naming the rollback that holds it.
    const answered = world.slack.workspace.responses.length;
    expect(ephemeral(await world.slash('U0ALICE', 'scale web 3', CHANNEL))).toMatch(/Working on/);
    const answer = await world.slack.waitFor(() => world.slack.workspace.responses.slice(answered).find((r) => /under way/.test(r.text ?? '')), 20_000);
    expect(answer.text).toMatch(/^✋ A rollback of `web` is under way: `\/ecs rollback web` by <@U0ALICE>/);
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    expect(await finished(request.ts), threadText(request.ts)).toMatch(/^✅ .*live and steady/);
    const after = await serviceTaskDefinition();
    expect(Number(after.split(':').at(-1))).toBeLessThan(Number(before.split(':').at(-1)));
    // The last revision that ran well, not the crashed one numbered just below it.
    expect(request.text).not.toContain(`to \`web:${Number(before.split(':').at(-1)) - 0}\``);
    const crashed = ecsCalls('RegisterTaskDefinition').find((c) => JSON.stringify(c.params).includes('v2-crash'));
    expect(crashed).toBeDefined();
  });

  it('a step that keeps failing (ECS 500s beyond the SDK’s retries) is retried by the workflow, which resumes and deploys once', async () => {
    const request = await requestDeploy('deploy web --redeploy');
    const updates = ecsCalls('UpdateService').length;
    // Five attempts per SDK call: ten failures fail the step twice before it succeeds.
    const lift = world.aws.faults.fail('ecs:UpdateService', { code: 'ServerException', message: 'internal error', status: 500 }, 10);
    try {
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*live and steady/);
      const accepted = ecsCalls('UpdateService')
        .slice(updates)
        .filter((c) => !c.error);
      expect(ecsCalls('UpdateService').length - updates).toBe(11);
      expect(accepted).toHaveLength(1);
      expect(threadText(request.ts).match(/UpdateService` called/g)).toHaveLength(1);
    } finally {
      lift();
    }
  });

  it('an invocation that dies after UpdateService (its post fails) is retried without a second UpdateService', async () => {
    const image = (await serviceImage()).endsWith(':v1.4.2') ? 'v1.5.0' : 'v1.4.2';
    const request = await requestDeploy(`deploy web ${image}`);
    const updates = ecsCalls('UpdateService').length;
    // Slack fails the first post after the service was updated: the step throws after its work.
    const restore = failSlackPostAfter(world, 'UpdateService');
    try {
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*live and steady/);
      expect(ecsCalls('UpdateService').length - updates).toBe(1);
      expect(threadText(request.ts).match(/UpdateService` called/g)).toHaveLength(1); // posted by the retry
    } finally {
      restore();
    }
  });

  it('without the workflow function nobody is asked to approve, and the lock is free again', async () => {
    const saved = process.env.DEPLOY_WORKFLOW_FUNCTION_NAME;
    delete process.env.DEPLOY_WORKFLOW_FUNCTION_NAME;
    try {
      const request = await requestDeploy('deploy web --redeploy');
      expect(request.text).toMatch(/^❌/);
      expect(threadText(request.ts)).toContain('This deployment has no deploy workflow function');
      expect(world.slack.message(CHANNEL, request.ts)!.reactions ?? []).toEqual([]);
    } finally {
      process.env.DEPLOY_WORKFLOW_FUNCTION_NAME = saved;
    }
    const next = await requestDeploy('deploy web --redeploy');
    expect(next.text).toContain('React :white_check_mark:');
    await world.react('U0ALICE', CHANNEL, next.ts, 'x');
    await finished(next.ts);
  });

  it('when the request cannot be shown in Slack, it is withdrawn: the workflow ends and frees the lock', async () => {
    const updates = ecsCalls('UpdateService').length;
    // The update that would show the request (not the edits of the plan's reply in its thread).
    world.slack.faults.fail('chat.update', 'internal_error', 1, (args) => String(args.text).includes('React :white_check_mark:'));
    const before = new Set(parents().map((m) => m.ts));
    await world.slash('U0ALICE', 'deploy web --redeploy', CHANNEL);
    const parent = await world.slack.waitFor(() => parents().find((m) => !before.has(m.ts)), 10_000);
    const end = await finished(parent.ts);
    expect(end).toMatch(/^(❌|🚫)/);
    // The workflow saw the withdrawal (not an expiry 30 minutes later) and let go of the lock.
    const next = await requestDeploy('deploy web --redeploy');
    expect(next.text, threadText(next.ts)).toContain('React :white_check_mark:');
    await world.react('U0ALICE', CHANNEL, next.ts, 'x');
    await finished(next.ts);
    expect(ecsCalls('UpdateService').length).toBe(updates);
    const withdrawn = world.workflows.map((w) => w.getResult() as { summary?: string } | undefined).find((r) => r?.summary?.includes('could not be shown'));
    expect(withdrawn).toBeDefined();
  });

  it('someone else deploying over a watched rollout ends the watch with a warning, without rolling their deploy back', async () => {
    const timings = { ...world.aws.state.ecsTimings };
    Object.assign(world.aws.state.ecsTimings, { provisionMs: 5 * 60_000, pullMs: 5 * 60_000 });
    try {
      const image = (await serviceImage()).endsWith(':v1.4.2') ? 'v1.5.0' : 'v1.4.2';
      const request = await requestDeploy(`deploy web ${image}`);
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      await world.slack.waitFor(() => threadText(request.ts).includes('UpdateService` called'), 20_000);
      const updates = ecsCalls('UpdateService').length;
      // CI (or the console) deploys the old revision while the bot watches.
      const { ECSClient, UpdateServiceCommand } = await import('@aws-sdk/client-ecs');
      const ecs = new ECSClient({ region: 'us-east-1' });
      try {
        await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', taskDefinition: 'web:42', forceNewDeployment: true }));
      } finally {
        ecs.destroy();
      }
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^⚠️ .*replaced by another deployment .*not rolled back: that deploy is someone else's/);
      expect(ecsCalls('UpdateService').length).toBe(updates + 1); // theirs, and no rollback of ours
    } finally {
      Object.assign(world.aws.state.ecsTimings, timings);
    }
  });

  it('approvals stored before the deadline but never decided (the worker died in between) count when the wait ends', async () => {
    const web = baseConfig.targets.web!;
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, web: { ...web, deploy: { ...web.deploy, expirySeconds: 5 } } } });
    try {
      const request = await requestDeploy('deploy web --redeploy');
      const { dynamoApprovalRequests } = await import('../src/approval/requests');
      const { trackedKey: requestKey } = await import('../src/platform/state-keys');
      // Bob's ✅ was stored, then the worker died before deciding: nothing woke the workflow.
      // (Stamped with the request's own time: the skipped-time world's clock may already have jumped.)
      const key = requestKey(CHANNEL, request.ts);
      const asked = Date.parse((await dynamoApprovalRequests.get(key))!.requestedAt);
      expect(await dynamoApprovalRequests.approve(key, 'U0BOB', asked + 1000)).toBeDefined();
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*approved by <@U0BOB>.*live and steady/);
    } finally {
      setConfig(baseConfig);
    }
  });

  it('a rollout that outlasts its time limit is shown as not finished in time, not as still in progress', async () => {
    const web = baseConfig.targets.web!;
    // No rollback: the watch ends at the limit and the deploy with it.
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, web: { ...web, deploy: { ...web.deploy, timeoutSeconds: 30, rollback: false } } } });
    const timings = { ...world.aws.state.ecsTimings };
    Object.assign(world.aws.state.ecsTimings, { provisionMs: 2 * 60_000 });
    try {
      const image = (await serviceImage()).endsWith(':v1.4.2') ? 'v1.5.0' : 'v1.4.2';
      const request = await requestDeploy(`deploy web ${image}`);
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      expect(await finished(request.ts), threadText(request.ts)).toMatch(/^❌ .*did not finish within/);
      const rollout = world.slack.replies(CHANNEL, request.ts).find((r) => r.text.startsWith('👍 Approved by'))!;
      expect(rollout.history.map((h) => h.text).join('\n')).toMatch(/^🔄 in progress · /m);
      expect(rollout.text).toMatch(/^⌛ not finished in time · 3\d s · /m);
    } finally {
      setConfig(baseConfig);
      Object.assign(world.aws.state.ecsTimings, timings);
      await world.idle();
    }
  });
});

describe('/ecs deploy: the whole change, bound to the approvals; --dry-run', () => {
  it('a deploy from CI between the request and its approval voids the approvals: nothing is deployed, the thread says why', async () => {
    const image = (await serviceImage()).endsWith(':v1.4.2') ? 'v1.5.0' : 'v1.4.2';
    const request = await requestDeploy(`deploy web ${image}`);
    const hash = /Plan `([0-9a-f]{12})` · rolling update \(at least \d+% healthy, at most \d+%[^)]*\): the approvals count for exactly this change/.exec(
      request.text,
    )?.[1];
    expect(hash, request.text).toBeDefined();
    const ciRevision = await deployFromCi({ cluster: 'main', service: 'web' });
    const registrations = ecsCalls('RegisterTaskDefinition').length;
    const updates = ecsCalls('UpdateService').length;
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^❌ .*the plan changed since it was approved/);
    expect(threadText(request.ts)).toContain(
      `❌ The plan changed since it was approved (plan \`${hash}\`): the service now runs ${ciRevision.split('/').at(-1)}, not `,
    );
    expect(threadText(request.ts)).toContain('so they are void and nothing was deployed');
    expect(ecsCalls('RegisterTaskDefinition').length).toBe(registrations);
    expect(ecsCalls('UpdateService').length).toBe(updates);
    // The lock is free for the next request.
    const { dynamoState } = await import('../src/platform/state');
    expect(await dynamoState.get('lock#deploy#us-east-1#main#web')).toBeUndefined();
  });

  it('--dry-run plans, shows the change and verifies the service as the deploy would leave it: no lock, no request, no write to AWS', async () => {
    const image = (await serviceImage()).endsWith(':v1.4.2') ? 'v1.5.0' : 'v1.4.2';
    const calls = world.aws.calls.length;
    const before = new Set(parents().map((m) => m.ts));
    await world.slash('U0ALICE', `deploy web ${image} --dry-run`, CHANNEL);
    const parent = await world.slack.waitFor(() => parents().find((m) => !before.has(m.ts) && /^(✅|❌|⚠️)/.test(m.text)), 30_000);
    const text = threadText(parent.ts);
    expect(text).toMatch(/🧪 Dry run, to deploy to \*web\* \(from `web:\d+`\): nothing was changed and nobody was asked to approve\./);
    expect(text).toMatch(new RegExp(`• \`app\`: \`[^\`]+\` → \`[^\`]+:${image.replaceAll('.', '\\.')}\``));
    expect(text).toMatch(/• Plan `[0-9a-f]{12}` · rolling update/);
    expect(text).toContain(`as a deploy of \`${image}\` would leave it`);
    expect(parent.text).not.toContain('React :white_check_mark:');
    // The bot's own hand-off from the ingress to the worker (lambda:Invoke) aside, only reads.
    const writes = world.aws.calls
      .slice(calls)
      .filter((c) => !(c.service === 'lambda' && c.action === 'Invoke'))
      .filter((c) => !/^(Describe|List|Get|Batch|Simulate|AssumeRole|Filter)/.test(c.action));
    expect(writes.map((c) => `${c.service}:${c.action}`)).toEqual([]);
    const { dynamoState } = await import('../src/platform/state');
    expect(await dynamoState.get('lock#deploy#us-east-1#main#web')).toBeUndefined();
  });
});
