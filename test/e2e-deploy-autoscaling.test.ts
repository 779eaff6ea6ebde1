import { afterEach, describe, expect, it } from 'vitest';
import { scalableTargets } from '../local/aws/services/application-autoscaling';
import type { SuspendedState } from '../src/aws/application-autoscaling';
import { failSlackPostAfter } from './support/fail-after';
import { channelView, ephemeral, teamAudit, useConfigurableWorld } from './support/channel';
import type { Target } from '../src/config/schema';
import { localStack } from '../local/iam/enforce';
import { targetRoleFor } from '../local/iam/stack';
import { DEPLOY_WORKFLOW_FUNCTION } from '../local/world';

/**
 * `targets.<alias>.suspendAutoscaling` end to end: the request says the service's scaling
 * activities will be suspended; the deploy workflow suspends them (RegisterScalableTarget with
 * SuspendedState all true, the state before noted first) before UpdateService and puts back
 * exactly the state it found when the deploy ends: rolled out, rolled back, or stopped by the
 * bot's own failure; a retried step restores what was there before the deploy, not its own change.
 */
const current = useConfigurableWorld({ durableSkipTime: true });
const world = () => current().world;

const CHANNEL = 'C0OPS';
const { parents, threadText, finished } = channelView(world, CHANNEL);
const calls = (action: string) => world().aws.calls.filter((c) => c.action === action && c.status === 200);
const NONE: Required<SuspendedState> = { DynamicScalingInSuspended: false, DynamicScalingOutSuspended: false, ScheduledScalingSuspended: false };
const ALL: Required<SuspendedState> = { DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true, ScheduledScalingSuspended: true };
const WEB = { ServiceNamespace: 'ecs', ResourceId: 'service/main/web', ScalableDimension: 'ecs:service:DesiredCount' };

function webTarget() {
  return [...scalableTargets(world().aws.state.region('111111111111', 'us-east-1')).values()].find((t) => t.ResourceId === 'service/main/web')!;
}

/** Configuration with `suspendAutoscaling` on the given targets (and any other change to them). */
function suspending(aliases: string[], change: Partial<Target> = {}) {
  const { baseConfig, setConfig } = current();
  const targets = { ...baseConfig.targets };
  for (const alias of aliases) targets[alias] = { ...(targets[alias] ?? targets.web!), ...change, suspendAutoscaling: true };
  setConfig({ ...baseConfig, targets });
}
afterEach(() => current().setConfig(undefined));

/** The scalable target's SuspendedState each time UpdateService answered (what "during the deploy" saw). */
function stateAtUpdates(): { seen: Array<Required<SuspendedState>>; stop: () => void } {
  const seen: Array<Required<SuspendedState>> = [];
  const push = world().aws.calls.push.bind(world().aws.calls);
  world().aws.calls.push = (...records) => {
    if (records.some((r) => r.action === 'UpdateService' && r.status === 200)) seen.push({ ...webTarget().SuspendedState });
    return push(...records);
  };
  return { seen, stop: () => delete (world().aws.calls as { push?: unknown }).push };
}

async function requestDeploy(text: string) {
  const before = new Set(parents().map((m) => m.ts));
  expect(ephemeral(await world().slash('U0ALICE', text, CHANNEL))).toMatch(/Working on/);
  return world().slack.waitFor(() => parents().find((m) => !before.has(m.ts) && /React :white_check_mark: to approve|❌/.test(m.text)), 20_000);
}

const deployRecord = async (threadTs: string) => (await teamAudit(world())).find((r) => r.threadTs === threadTs && r.verb === 'deploy')!;
/** RegisterScalableTarget and UpdateService as they were answered, in order. */
const writes = () =>
  world()
    .aws.calls.filter((c) => ['RegisterScalableTarget', 'UpdateService'].includes(c.action) && c.status === 200)
    .map((c) => c.action);
const registered = () => calls('RegisterScalableTarget').map((c) => c.params);

describe('suspendAutoscaling during a deploy', () => {
  it('suspends every scaling activity before UpdateService and puts back exactly the state it found (one suspended already)', async () => {
    suspending(['web']);
    // Someone suspended the scheduled actions earlier: that stays after the deploy.
    webTarget().SuspendedState = { ...NONE, ScheduledScalingSuspended: true };
    const request = await requestDeploy('deploy web v1.5.0');
    expect(request.text).toContain('⏸️ Autoscaling (range 2..6) will be suspended during the deploy (scale-in, scale-out, scheduled)');
    expect(request.text).toContain('suspended now: scheduled');
    expect(registered()).toEqual([]);

    const during = stateAtUpdates();
    try {
      await world().react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*is live and steady/);
    } finally {
      during.stop();
    }
    expect(during.seen).toEqual([ALL]);
    expect(registered()).toEqual([
      { ...WEB, SuspendedState: ALL },
      { ...WEB, SuspendedState: { ...NONE, ScheduledScalingSuspended: true } },
    ]);
    // Suspended before the service was updated, put back after the rollout ended.
    expect(writes()).toEqual(['RegisterScalableTarget', 'UpdateService', 'RegisterScalableTarget']);
    expect(webTarget().SuspendedState).toEqual({ ...NONE, ScheduledScalingSuspended: true });
    expect(webTarget().MinCapacity).toBe(2);
    const thread = threadText(request.ts);
    expect(thread).toContain('⏸️ Autoscaling of `web` suspended until the deploy ends (scale-in, scale-out, scheduled; suspended before: scheduled)');
    expect(thread).toContain('▶️ Autoscaling of `web` put back as it was before the deploy (suspended: scheduled)');
    expect((await deployRecord(request.ts)).detail).toMatchObject({
      autoscalingSuspension: {
        state: 'suspended',
        previous: { ...NONE, ScheduledScalingSuspended: true },
        resumed: { state: 'resumed', restored: { ...NONE, ScheduledScalingSuspended: true } },
      },
    });
    webTarget().SuspendedState = NONE;
  });

  it('a failed rollout rolled back still puts autoscaling back, once, after the rollback', async () => {
    suspending(['web']);
    const before = registered().length;
    const request = await requestDeploy('deploy web v2-crash');
    await world().react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^❌ .*rolled back/);
    expect(registered().slice(before)).toEqual([
      { ...WEB, SuspendedState: ALL },
      { ...WEB, SuspendedState: NONE },
    ]);
    // The restore came after the rollback's UpdateService.
    expect(writes().slice(-4)).toEqual(['RegisterScalableTarget', 'UpdateService', 'UpdateService', 'RegisterScalableTarget']);
    expect(webTarget().SuspendedState).toEqual(NONE);
    expect((await deployRecord(request.ts)).detail).toMatchObject({
      rolledBackTo: expect.any(String),
      autoscalingSuspension: { state: 'suspended', previous: NONE, resumed: { state: 'resumed', restored: NONE } },
    });
  });

  it('a deploy the bot itself gives up on (ECS failing for good) still puts autoscaling back', async () => {
    suspending(['web']);
    const before = registered().length;
    const lift = world().aws.faults.fail('ecs:UpdateService', { code: 'ServerException', message: 'internal error', status: 500 });
    try {
      const request = await requestDeploy('deploy web v1.4.2');
      await world().react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^❌ .*the deploy stopped/);
      expect(threadText(request.ts)).toContain('▶️ Autoscaling of `web` put back as it was before the deploy (suspended: none)');
    } finally {
      lift();
    }
    expect(registered().slice(before)).toEqual([
      { ...WEB, SuspendedState: ALL },
      { ...WEB, SuspendedState: NONE },
    ]);
    expect(webTarget().SuspendedState).toEqual(NONE);
  });

  it('a suspend step that dies after RegisterScalableTarget is retried: it restores the state from before the deploy, not its own', async () => {
    suspending(['web']);
    const before = registered().length;
    const updates = calls('UpdateService').length;
    // The step's post fails right after the suspend: the step throws after its work and runs again.
    const restore = failSlackPostAfter(world(), 'RegisterScalableTarget', { times: 1 });
    try {
      const request = await requestDeploy('deploy web v1.4.1');
      await world().react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*is live and steady/);
      expect(threadText(request.ts).match(/⏸️ Autoscaling of `web` suspended until the deploy ends/g)).toHaveLength(1);
    } finally {
      restore();
    }
    // One suspend (the retry found it done), one restore to the state before: nothing left suspended.
    expect(registered().slice(before)).toEqual([
      { ...WEB, SuspendedState: ALL },
      { ...WEB, SuspendedState: NONE },
    ]);
    expect(calls('UpdateService')).toHaveLength(updates + 1);
    expect(webTarget().SuspendedState).toEqual(NONE);
  });

  it('a service without a scalable target: the request says there is nothing to suspend, and nothing is written', async () => {
    suspending(['web-canary']);
    const before = registered().length;
    const request = await requestDeploy('deploy web-canary v1.5.0');
    expect(request.text).toContain('⏸️ Autoscaling: `web-canary` has no scalable target, so there is nothing to suspend.');
    await world().react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ /);
    expect(registered()).toHaveLength(before);
    expect(threadText(request.ts)).not.toContain('Autoscaling of');
    expect((await deployRecord(request.ts)).detail).toMatchObject({ autoscalingSuspension: { state: 'none', resumed: { state: 'nothing' } } });
  });

  it('--dry-run says what would be suspended and writes nothing', async () => {
    suspending(['web']);
    const before = registered().length;
    const known = new Set(parents().map((m) => m.ts));
    await world().slash('U0ALICE', 'deploy web v1.5.0 --dry-run', CHANNEL);
    const parent = await world().slack.waitFor(() => parents().find((m) => !known.has(m.ts) && /^(✅|❌|⚠️)/.test(m.text)), 30_000);
    expect(threadText(parent.ts)).toContain('⏸️ Autoscaling (range 2..6) will be suspended during the deploy');
    expect(registered()).toHaveLength(before);
    expect(webTarget().SuspendedState).toEqual(NONE);
  });

  it('/ecs status shows the scaling activities a scalable target has suspended', async () => {
    webTarget().SuspendedState = { ...NONE, DynamicScalingInSuspended: true, DynamicScalingOutSuspended: true };
    try {
      const known = new Set(parents().map((m) => m.ts));
      await world().slash('U0ALICE', 'status web', CHANNEL);
      const parent = await world().slack.waitFor(() => parents().find((m) => !known.has(m.ts) && /^(✅|❌|⚠️)/.test(m.text)), 30_000);
      const report = await world().slack.waitFor(() => (threadText(parent.ts).includes('*Tasks:*') ? threadText(parent.ts) : undefined), 30_000);
      expect(report).toMatch(/\*Tasks:\* .* · autoscaling 2\.\.6 \(⏸️ suspended: scale-in, scale-out\)/);
    } finally {
      webTarget().SuspendedState = NONE;
    }
  });

  it('a target reached through the target role suspends and resumes as that role (infra/cross-account-role.yaml)', async () => {
    const targetRole = targetRoleFor(localStack(), '111111111111').roleArn;
    suspending(['web-remote'], { roleArn: targetRole });
    const decisions = world().aws.authority.decisions.length;
    const request = await requestDeploy('deploy web-remote v1.5.0');
    await world().react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    expect(await finished(request.ts), threadText(request.ts)).toMatch(/^✅ .*is live and steady/);
    expect(threadText(request.ts)).toContain('▶️ Autoscaling of `web-remote` put back as it was before the deploy (suspended: none)');
    const asTarget = world()
      .aws.authority.decisions.slice(decisions)
      .filter((d) => d.roleArn === targetRole && d.functionName === DEPLOY_WORKFLOW_FUNCTION && d.action.startsWith('application-autoscaling:'));
    expect(new Set(asTarget.map((d) => `${d.action} ${d.decision}`))).toEqual(
      new Set(['application-autoscaling:DescribeScalableTargets allowed', 'application-autoscaling:RegisterScalableTarget allowed']),
    );
    expect(webTarget().SuspendedState).toEqual(NONE);
  });
});
