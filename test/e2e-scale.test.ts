import { beforeAll, describe, expect, it } from 'vitest';
import { localStack } from '../local/iam/enforce';
import { targetRoleFor } from '../local/iam/stack';
import { DEPLOY_WORKFLOW_FUNCTION, WORKER_FUNCTION, type World } from '../local/world';
import { channelView, ephemeral, teamAudit, useWorld } from './support/channel';

/**
 * `/ecs scale` end to end: signed slash command → ingress (grammar: bad counts are usage errors)
 * → worker (counts and autoscaling range read; outside the range refused privately) → approval
 * request → durable deploy workflow with a `scale` plan → bob's reaction → (RegisterScalableTarget
 * when the range is widened) UpdateService desiredCount → watched over skipped time until the
 * service runs that many tasks and is steady → thread, parent, lock, audit.
 */
const current = useWorld({ durableSkipTime: true });
let world: World;
beforeAll(() => {
  world = current();
});

const CHANNEL = 'C0OPS';
const { parents, threadText, finished } = channelView(() => world, CHANNEL);
const calls = (action: string) => world.aws.calls.filter((c) => c.action === action);
const ephemeralsFor = (user: string) => world.slack.workspace.ephemerals.filter((e) => e.user === user).map((e) => e.text);

/** Sends the command and returns the message the bot posted for it (the approval request, or the change's parent). */
async function requestScale(text: string, match = /React :white_check_mark: to approve|No approval needed|❌/) {
  const before = new Set(parents().map((m) => m.ts));
  expect(ephemeral(await world.slash('U0ALICE', text, CHANNEL))).toMatch(/Working on/);
  return world.slack.waitFor(() => parents().find((m) => !before.has(m.ts) && (match.test(m.text) || match.test(threadText(m.ts)))), 20_000);
}

async function webCounts() {
  const { ECSClient, DescribeServicesCommand } = await import('@aws-sdk/client-ecs');
  const ecs = new ECSClient({ region: 'us-east-1' });
  try {
    const s = (await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }))).services![0]!;
    return { desired: s.desiredCount, running: s.runningCount, deployments: s.deployments!.length };
  } finally {
    ecs.destroy();
  }
}

async function webRange() {
  const { scalableTargets } = await import('../local/aws/services/application-autoscaling');
  const target = [...scalableTargets(world.aws.state.region('111111111111', 'us-east-1')).values()].find((t) => t.ResourceId === 'service/main/web')!;
  return { min: target.MinCapacity, max: target.MaxCapacity };
}

const scaleRecord = async (threadTs: string) => (await teamAudit(world)).find((r) => r.threadTs === threadTs && r.verb === 'scale')!;

describe('/ecs scale', () => {
  it('within the autoscaling range: shows counts and range, ignores the requester’s own ✅, scales once bob approves, watched to steady', async () => {
    expect(await webCounts()).toMatchObject({ desired: 2, running: 2 });
    const request = await requestScale('scale web 4');
    expect(request.text).toContain('<@U0ALICE> asks to scale *web* from 2 to 4 tasks');
    expect(request.text).toContain('desired count 2 → 4 (2 running now)');
    expect(request.text).toContain('autoscaling range 2..6 (unchanged)');
    expect(request.text).toContain('Needs 1 approval from an *approver* (or admin), not <@U0ALICE>');
    expect(calls('DescribeScalableTargets').at(-1)).toMatchObject({ status: 200, params: { ServiceNamespace: 'ecs', ResourceIds: ['service/main/web'] } });

    await world.react('U0ALICE', CHANNEL, request.ts, 'white_check_mark');
    await world.slack.waitFor(() => ephemeralsFor('U0ALICE').find((t) => t.includes('does not count')));
    expect(calls('UpdateService')).toHaveLength(0);

    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*approved by <@U0BOB>.*`web` runs 4 tasks and is steady/);
    const thread = threadText(request.ts);
    expect(thread).toContain('👍 Approved by <@U0BOB>');
    expect(thread).toContain('desired count 2 → 4');
    // The desired count only: no task definition, no new deployment, the range untouched.
    expect(calls('UpdateService').map((c) => c.params)).toEqual([{ cluster: 'main', service: 'web', desiredCount: 4 }]);
    expect(calls('RegisterTaskDefinition')).toHaveLength(0);
    expect(calls('RegisterScalableTarget')).toHaveLength(0);
    expect(await webCounts()).toEqual({ desired: 4, running: 4, deployments: 1 });
    expect(await webRange()).toEqual({ min: 2, max: 6 });
    const record = await scaleRecord(request.ts);
    expect(record).toMatchObject({ userId: 'U0ALICE', outcome: 'success' });
    expect(record.detail).toMatchObject({
      action: 'scale',
      approvers: ['U0BOB'],
      desiredCount: 4,
      fromDesiredCount: 2,
      runningBefore: 2,
      autoscalingRange: { min: 2, max: 6 },
      rolloutVerdict: 'completed',
    });
  });

  it('a count outside the range is refused privately, with the range and the way out; nothing changes', async () => {
    const updates = calls('UpdateService').length;
    const parentsBefore = parents().length;
    const answered = world.slack.workspace.responses.length;
    expect(ephemeral(await world.slash('U0ALICE', 'scale web 9', CHANNEL))).toMatch(/Working on/);
    const answer = await world.slack.waitFor(() => world.slack.workspace.responses.slice(answered).find((r) => /outside/.test(r.text ?? '')), 20_000);
    expect(answer.text).toMatch(/^✋ 9 is outside the autoscaling range of `web` \(min 2, max 6\).*`--adjust-autoscaling` to widen the range to 2\.\.9/);
    expect(answer.responseType).toBe('ephemeral');
    expect(parents()).toHaveLength(parentsBefore);
    expect(calls('UpdateService')).toHaveLength(updates);
    expect(await webRange()).toEqual({ min: 2, max: 6 });
  });

  it('--adjust-autoscaling widens the range first (the old one in the audit), then scales', async () => {
    const request = await requestScale('scale web 8 --adjust-autoscaling');
    expect(request.text).toContain('autoscaling range 2..6 → 2..8 (`--adjust-autoscaling`)');
    expect(calls('RegisterScalableTarget')).toHaveLength(0);
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*`web` runs 8 tasks and is steady/);
    expect(threadText(request.ts)).toContain('🎚️ Autoscaling range 2..6 → 2..8');
    const registered = calls('RegisterScalableTarget');
    expect(registered.map((c) => [c.status, c.params])).toEqual([
      [200, { ServiceNamespace: 'ecs', ResourceId: 'service/main/web', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 2, MaxCapacity: 8 }],
    ]);
    // Widened before the count was set (the clamp then had nothing to move).
    expect(world.aws.calls.indexOf(registered[0]!)).toBeLessThan(world.aws.calls.indexOf(calls('UpdateService').at(-1)!));
    expect(await webRange()).toEqual({ min: 2, max: 8 });
    expect(await webCounts()).toEqual({ desired: 8, running: 8, deployments: 1 });
    expect((await scaleRecord(request.ts)).detail).toMatchObject({
      desiredCount: 8,
      fromDesiredCount: 4,
      autoscalingRange: { min: 2, max: 6 },
      autoscalingAdjusted: { from: { min: 2, max: 6 }, to: { min: 2, max: 8 } },
    });
  });

  it('a refused widening ends the scale before the count changes, AWS’s text escaped', async () => {
    const lift = world.aws.faults.fail('application-autoscaling:RegisterScalableTarget', { code: 'ValidationException', message: 'range <b>&</b> refused' }, 1);
    try {
      const updates = calls('UpdateService').length;
      const request = await requestScale('scale web 10 --adjust-autoscaling');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^❌ .*widening the autoscaling range failed/);
      expect(threadText(request.ts)).toContain('range &lt;b&gt;&amp;&lt;/b&gt; refused');
      expect(threadText(request.ts)).toContain('The desired count was not changed.');
      expect(calls('UpdateService')).toHaveLength(updates);
      expect(await webCounts()).toMatchObject({ desired: 8 });
      expect(await webRange()).toEqual({ min: 2, max: 8 });
    } finally {
      lift();
    }
  });

  it('one deploy or scale per service: a second request while a scale waits is refused privately', async () => {
    const pending = await requestScale('scale web 5');
    const answered = world.slack.workspace.responses.length;
    const parentsBefore = parents().length;
    expect(ephemeral(await world.slash('U0ALICE', 'deploy web v1.5.0', CHANNEL))).toMatch(/Working on/);
    const answer = await world.slack.waitFor(() => world.slack.workspace.responses.slice(answered).find((r) => /under way/.test(r.text ?? '')), 20_000);
    expect(answer.text).toMatch(/^✋ A scale of `web` is under way: `\/ecs scale web 5` by <@U0ALICE> since \d\d:\d\d UTC \(scale `[a-z0-9]{6}`\)/);
    expect(answer.text).toContain('One deploy or scale per service at a time');
    expect(parents()).toHaveLength(parentsBefore);
    await world.react('U0BOB', CHANNEL, pending.ts, 'x');
    expect(await finished(pending.ts)).toMatch(/^🚫|^❌|^⚠️/);
    expect(await webCounts()).toMatchObject({ desired: 8 });
  });

  it('a negative, fractional, non-numeric or huge count is a usage error that changes nothing', async () => {
    const before = world.aws.calls.length;
    const parentsBefore = parents().length;
    for (const count of ['-1', '2.5', 'many', '1001']) {
      const text = ephemeral(await world.slash('U0ALICE', `scale web ${count}`, CHANNEL));
      expect(text, count).toContain('Usage: `/ecs scale &lt;service&gt; &lt;count&gt; [--adjust-autoscaling]`');
      expect(text, count).toMatch(count === '1001' ? /more than `web` allows \(at most 1000/ : /is not a task count/);
    }
    expect(ephemeral(await world.slash('U0ALICE', 'scale web', CHANNEL))).toContain('How many tasks?');
    expect(world.aws.calls.slice(before).filter((c) => c.service === 'ecs' || c.service === 'application-autoscaling')).toEqual([]);
    expect(parents()).toHaveLength(parentsBefore);
  });

  it('a target whose configuration needs no approval for scaling scales at once; the configured maximum applies', async () => {
    const { getConfig, setConfig } = await import('../src/config/load');
    const baseConfig = getConfig();
    const web = baseConfig.targets.web!;
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, web: { ...web, scale: { requiresApproval: false, maxCount: 10 } } } });
    try {
      expect(ephemeral(await world.slash('U0ALICE', 'scale web 11', CHANNEL))).toContain('at most 10');
      const parent = await requestScale('scale web 3');
      const end = await finished(parent.ts);
      expect(end, threadText(parent.ts)).toMatch(/^✅ .*`web` runs 3 tasks and is steady/);
      expect(threadText(parent.ts)).toContain('No approval needed');
      expect(await webCounts()).toEqual({ desired: 3, running: 3, deployments: 1 });
      expect(end).toContain('· no approval needed');
      expect((await scaleRecord(parent.ts)).detail).toMatchObject({ approvers: [], approval: 'not-required', desiredCount: 3, fromDesiredCount: 8 });
    } finally {
      setConfig(undefined);
    }
  });

  it('a target reached through the target role: its range is read and widened as that role (infra/cross-account-role.yaml)', async () => {
    const targetRole = targetRoleFor(localStack(), '111111111111').roleArn;
    const { getConfig, setConfig } = await import('../src/config/load');
    const base = getConfig();
    setConfig({
      ...base,
      targets: { ...base.targets, 'web-remote': { ...base.targets.web!, roleArn: targetRole, scale: { requiresApproval: false, maxCount: 20 } } },
    });
    try {
      const parent = await requestScale('scale web-remote 9 --adjust-autoscaling');
      const end = await finished(parent.ts);
      expect(end, threadText(parent.ts)).toMatch(/^✅ .*`web-remote` runs 9 tasks and is steady/);
      expect(await webRange()).toEqual({ min: 2, max: 9 });
      const asTarget = world.aws.authority.decisions.filter((d) => d.roleArn === targetRole && d.action.startsWith('application-autoscaling:'));
      expect(new Set(asTarget.map((d) => `${d.functionName} ${d.action} ${d.decision}`))).toEqual(
        new Set([
          `${WORKER_FUNCTION} application-autoscaling:DescribeScalableTargets allowed`,
          `${DEPLOY_WORKFLOW_FUNCTION} application-autoscaling:DescribeScalableTargets allowed`,
          `${DEPLOY_WORKFLOW_FUNCTION} application-autoscaling:RegisterScalableTarget allowed`,
        ]),
      );
    } finally {
      setConfig(undefined);
    }
  });
});
