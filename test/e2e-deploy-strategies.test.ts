import { beforeAll, describe, expect, it } from 'vitest';
import type { World } from '../local/world';
import { useConfigurableWorld } from './support/channel';
import type { Config } from '../src/config/schema';
import { auditRecords } from './support/audit-records';
import { failSlackPostAfter } from './support/fail-after';
import { deployRequests } from './support/deploy-thread';

/**
 * `/ecs deploy` of ECS-native services end to end: the seeded `web-canary` (CANARY 10% for 5 min,
 * bake 15 min), `web-linear` (LINEAR 25% every 2 min, bake 10 min) and `web-bg` (BLUE_GREEN, PAUSE hook at POST_TEST_TRAFFIC_SHIFT, which the target
 * lists in `deploy.gates`), watched through the service-deployment APIs over skipped time, the gate
 * decided by reaction in the deploy thread and told to ECS with ContinueServiceDeployment.
 */
const current = useConfigurableWorld({ durableSkipTime: true });
let world: World;
let setConfig: (config: Config | undefined) => void;
let baseConfig: Config;
beforeAll(() => {
  ({ world, setConfig, baseConfig } = current());
});

const CHANNEL = 'C0OPS';
const { threadText, ephemeralsFor, calls, requestDeploy, finished } = deployRequests(() => world, CHANNEL);

/** The gate message in the deploy's thread, once the bot has asked on it. */
const gateMessage = (ts: string) =>
  world.slack.waitFor(() => world.slack.replies(CHANNEL, ts).find((r) => r.text.startsWith('⏸️') && r.text.includes('React :white_check_mark:')), 60_000);

/** Every text the rollout's living message showed (its edits included) and the record attached at the end. */
function told(ts: string): { living: string; record: string } {
  const replies = world.slack.replies(CHANNEL, ts);
  const rollout = replies.find((r) => r.text.includes('`UpdateService` called'))!;
  const ending = replies.find((r) => r.files.length);
  const record = ending ? world.slack.workspace.files.find((f) => f.id === ending.files[0])!.content.toString() : '';
  return { living: [...rollout.history.map((h) => h.text), rollout.text].join('\n'), record };
}

describe('/ecs deploy of ECS-native strategies', () => {
  it('a canary deploy of web-canary is told stage by stage until the service deployment is SUCCESSFUL', async () => {
    const request = await requestDeploy('deploy web-canary v1.5.0');
    expect(request.text).toContain('canary 10% for 5 min, then 100%; bake 15 min');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*`web:\d+` is live after/);
    const { living, record } = told(request.ts);
    expect(living).toMatch(/stage `PRODUCTION_TRAFFIC_SHIFT`/);
    expect(living).toMatch(/^new `web:\d+`: 2\/2 running, production 10%/m);
    expect(living).toMatch(/^previous `web:\d+`: 2\/2 running, production 90%/m);
    expect(living).toMatch(/stage `BAKE_TIME` \(15 min\)/);
    expect(living).toMatch(/^✅ successful/m);
    // The record names each stage in order.
    const stages = [...record.matchAll(/ stage ([A-Z_]+)/g)].map((m) => m[1]);
    expect(stages).toEqual(expect.arrayContaining(['SCALE_UP', 'TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT', 'BAKE_TIME']));
    expect(stages.indexOf('PRODUCTION_TRAFFIC_SHIFT')).toBeLessThan(stages.indexOf('BAKE_TIME'));
    expect(record).toMatch(/status SUCCESSFUL/);
    expect(calls('ListServiceDeployments').length).toBeGreaterThan(0);
    expect(calls('DescribeServiceDeployments').length).toBeGreaterThan(2);
    expect(calls('ContinueServiceDeployment')).toHaveLength(0);
    expect(calls('StopServiceDeployment')).toHaveLength(0);
  });

  it('a linear deploy of web-linear moves production traffic in 25% steps, each told and recorded, then bakes and succeeds', async () => {
    const request = await requestDeploy('deploy web-linear v1.5.0');
    expect(request.text).toContain('linear 25% every 2 min (4 steps); bake 10 min');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*`web:\d+` is live after/);
    const { living, record } = told(request.ts);
    for (const [production, previous] of [
      [25, 75],
      [50, 50],
      [75, 25],
    ]) {
      expect(living).toMatch(new RegExp(`^new \`web:\\d+\`: 2/2 running, production ${production}%`, 'm'));
      expect(living).toMatch(new RegExp(`^previous \`web:\\d+\`: 2/2 running, production ${previous}%`, 'm'));
    }
    expect(living).toMatch(/stage `PRODUCTION_TRAFFIC_SHIFT` \(step 2 of 4\)/);
    expect(living).toMatch(/stage `BAKE_TIME` \(10 min\)/);
    // The record has each step of production traffic in order, then the bake and the end.
    const steps = [...record.matchAll(/ stage PRODUCTION_TRAFFIC_SHIFT · new `web:\d+`: [^,]+, production (\d+)%/g)].map((m) => Number(m[1]));
    // The last shift has no step bake: the watch may only see it done, at BAKE_TIME.
    expect(steps.slice(0, 3)).toEqual([25, 50, 75]);
    expect(record).toMatch(/stage PRODUCTION_TRAFFIC_SHIFT[\s\S]*stage BAKE_TIME · new `web:\d+`: 2\/2 running, production 100%[\s\S]*status SUCCESSFUL/);
  });

  it('a blue/green deploy of web-bg pauses at its gate; the requester cannot approve it, bob does, and ECS continues to completion', async () => {
    const request = await requestDeploy('deploy web-bg v1.5.0');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const gate = await gateMessage(request.ts);
    expect(gate.text).toMatch(
      /`web-bg` is paused at `POST_TEST_TRAFFIC_SHIFT`, a gate of deploy `[^`]+`: green runs the new revision `web:\d+` beside blue with 100% of test traffic and no production traffic yet\./,
    );
    expect(gate.text).toMatch(/green \(new\) `web:\d+`: 2\/2 running, production 0%, test 100%/);
    expect(gate.text).toMatch(/blue \(running\) `web:\d+`: 2\/2 running, production 100%/);
    expect(gate.text).toContain('test listener rule: `arn:aws:elasticloadbalancing:');
    expect(gate.text).toContain('not <@U0ALICE>');
    expect(calls('ContinueServiceDeployment')).toHaveLength(0);

    // While the gate waits for people the watch does not poll ECS: it wakes on the decision (or the expiry).
    const polled = calls('DescribeServiceDeployments').length;
    // The requester's own ✅ does not count.
    await world.react('U0ALICE', CHANNEL, gate.ts, 'white_check_mark');
    await world.slack.waitFor(() => ephemeralsFor('U0ALICE').find((t) => t.includes('POST_TEST_TRAFFIC_SHIFT') && t.includes('does not count')));
    expect(calls('ContinueServiceDeployment')).toHaveLength(0);
    expect(calls('DescribeServiceDeployments')).toHaveLength(polled);

    await world.react('U0BOB', CHANNEL, gate.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*`web:\d+` is live after/);
    const continued = calls('ContinueServiceDeployment');
    expect(continued).toHaveLength(1);
    expect(continued[0]!.params).toMatchObject({ action: 'CONTINUE', hookId: expect.stringMatching(/^ecs-pause-/) });
    expect(threadText(request.ts)).toContain('`ContinueServiceDeployment CONTINUE` sent');
    expect(world.slack.message(CHANNEL, gate.ts)!.text).toContain('👍 Approved by <@U0BOB>');
    const { record } = told(request.ts);
    expect(record).toMatch(/stage POST_TEST_TRAFFIC_SHIFT[\s\S]*stage PRODUCTION_TRAFFIC_SHIFT[\s\S]*status SUCCESSFUL/);
    // Audited: each reaction on the gate (the requester's refused), and the gate in the deploy's record.
    const records = await auditRecords(world.teamId, gate.ts);
    expect(records.map((r) => [r.userId, r.decision, r.reason])).toEqual(
      expect.arrayContaining([
        ['U0ALICE', 'denied', 'the requester cannot approve their own request'],
        ['U0BOB', 'allowed', 'approved'],
      ]),
    );
    const deploy = (await auditRecords(world.teamId, request.ts)).find((r) => r.verb === 'deploy')!;
    expect(deploy.detail).toMatchObject({
      gates: [{ stage: 'POST_TEST_TRAFFIC_SHIFT', status: 'approved', approvers: ['U0BOB'], action: 'CONTINUE', sent: 'sent' }],
    });
  });

  it('the same gate rejected with ❌: ContinueServiceDeployment ROLLBACK, and ECS rolls back', async () => {
    const before = calls('ContinueServiceDeployment').length;
    const request = await requestDeploy('deploy web-bg v1.4.1');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const gate = await gateMessage(request.ts);
    await world.react('U0BOB', CHANNEL, gate.ts, 'x');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^❌ .*rejected at the `POST_TEST_TRAFFIC_SHIFT` gate by <@U0BOB>; rolled back to `web:\d+`/);
    const continued = calls('ContinueServiceDeployment').slice(before);
    expect(continued).toHaveLength(1);
    expect(continued[0]!.params).toMatchObject({ action: 'ROLLBACK' });
    const thread = threadText(request.ts);
    expect(thread).toContain('`ContinueServiceDeployment ROLLBACK` sent');
    expect(thread).toMatch(/Rolled back by ECS \(ROLLBACK_SUCCESSFUL\)/);
    expect(calls('StopServiceDeployment')).toHaveLength(0);
  });

  it('a rollout past the timeout of the target is stopped with StopServiceDeployment ROLLBACK, and the rollback of ECS is followed to its end', async () => {
    const canary = baseConfig.targets['web-canary']!;
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, 'web-canary': { ...canary, deploy: { ...canary.deploy, timeoutSeconds: 60 } } } });
    try {
      const request = await requestDeploy('deploy web-canary v1.4.1');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^❌ .*the rollout did not finish within 1 min 0 s; rolled back to `web:\d+`/);
      const stopped = calls('StopServiceDeployment');
      expect(stopped).toHaveLength(1);
      expect(stopped[0]!.params).toMatchObject({ stopType: 'ROLLBACK', serviceDeploymentArn: expect.stringContaining(':service-deployment/main/web-canary/') });
      const thread = threadText(request.ts);
      expect(thread).toContain('↩️ Stopping the service deployment with `ROLLBACK`');
      expect(thread).toMatch(/Rolled back by ECS \(ROLLBACK_SUCCESSFUL\)/);
      expect(thread).not.toContain('did not roll back a second time');
    } finally {
      setConfig(baseConfig);
    }
  });

  it('a PAUSE at a stage that is not one of the gates is said and left to its owner: no request, no ContinueServiceDeployment', async () => {
    const bg = baseConfig.targets['web-bg']!;
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, 'web-bg': { ...bg, deploy: { ...bg.deploy, gates: [], timeoutSeconds: 120 } } } });
    try {
      const continued = calls('ContinueServiceDeployment').length;
      const request = await requestDeploy('deploy web-bg --redeploy');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      const thread = threadText(request.ts);
      expect(thread).toMatch(/⏸️ The deployment is paused at `POST_TEST_TRAFFIC_SHIFT` by a PAUSE hook that is not one of `web-bg`'s gates/);
      expect(thread.match(/⏸️ The deployment is paused/g)).toHaveLength(1);
      expect(thread).not.toContain('React :white_check_mark:');
      expect(calls('ContinueServiceDeployment')).toHaveLength(continued);
      // Nobody continued it: the rollout's timeout stops it.
      expect(end).toMatch(/did not finish within 2 min/);
    } finally {
      setConfig(baseConfig);
    }
  });

  it('a gate step that dies after its ContinueServiceDeployment is retried without continuing twice', async () => {
    const request = await requestDeploy('deploy web-bg --redeploy');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const gate = await gateMessage(request.ts);
    const before = world.aws.calls.filter((c) => c.action === 'ContinueServiceDeployment').length;
    // Slack fails the first post after ECS took the decision: the step throws after its work.
    const restore = failSlackPostAfter(world, 'ContinueServiceDeployment');
    try {
      await world.react('U0BOB', CHANNEL, gate.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*is live after/);
      const continued = world.aws.calls.filter((c) => c.action === 'ContinueServiceDeployment').slice(before);
      // The retry's call finds the hook no longer awaiting (ECS's InvalidParameterException): done, not an error.
      expect(continued.map((c) => [c.status, c.error?.code])).toEqual([
        [200, undefined],
        [400, 'InvalidParameterException'],
      ]);
      expect(threadText(request.ts)).toContain('no longer awaits a decision');
    } finally {
      restore();
    }
  });

  it('a gate whose hook timed out on the side of AWS is reported as AWS reports it; a late ✅ continues nothing', async () => {
    // The service's owner shortened its hook's timeout to 1 minute.
    const { ECSClient, DescribeServicesCommand, UpdateServiceCommand } = await import('@aws-sdk/client-ecs');
    const ecs = new ECSClient({ region: 'us-east-1' });
    const configuration = (await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web-bg'] }))).services![0]!.deploymentConfiguration!;
    const shortHook = {
      targetType: 'PAUSE' as const,
      lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT' as const],
      timeoutConfiguration: { timeoutInMinutes: 1, action: 'ROLLBACK' as const },
    };
    await ecs.send(
      new UpdateServiceCommand({ cluster: 'main', service: 'web-bg', deploymentConfiguration: { ...configuration, lifecycleHooks: [shortHook] } }),
    );
    try {
      const request = await requestDeploy('deploy web-bg --redeploy');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const gate = await gateMessage(request.ts);
      const before = world.aws.calls.filter((c) => c.action === 'ContinueServiceDeployment').length;
      // Nobody answers within the hook's minute: ECS applies its timeout action (ROLLBACK).
      world.aws.clock.advance(2 * 60_000);
      await world.react('U0BOB', CHANNEL, gate.ts, 'white_check_mark');
      const end = await finished(request.ts);
      const continued = world.aws.calls.filter((c) => c.action === 'ContinueServiceDeployment').slice(before);
      expect(continued.map((c) => c.error?.code)).toEqual(['InvalidParameterException']);
      const thread = threadText(request.ts);
      expect(thread).toContain('no longer awaits a decision');
      expect(end, thread).toMatch(/^❌ .*ECS rolled the deployment back: /);
      expect(thread).toContain('The bot did not roll back a second time.');
    } finally {
      await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web-bg', deploymentConfiguration: configuration }));
      ecs.destroy();
    }
  });

  it('a gate before each linear step is worded from the deployment: no production traffic yet, then 25% at step 1 of 4; rejected there, ECS rolls back', async () => {
    // web-linear's owner adds a pause before each production traffic shift, and the target makes it a gate.
    const { ECSClient, DescribeServicesCommand, UpdateServiceCommand } = await import('@aws-sdk/client-ecs');
    const ecs = new ECSClient({ region: 'us-east-1' });
    const configuration = (await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web-linear'] }))).services![0]!.deploymentConfiguration!;
    const pause = { targetType: 'PAUSE' as const, lifecycleStages: ['PRE_PRODUCTION_TRAFFIC_SHIFT' as const] };
    await ecs.send(
      new UpdateServiceCommand({ cluster: 'main', service: 'web-linear', deploymentConfiguration: { ...configuration, lifecycleHooks: [pause] } }),
    );
    const linear = baseConfig.targets['web-linear']!;
    setConfig({
      ...baseConfig,
      targets: { ...baseConfig.targets, 'web-linear': { ...linear, deploy: { ...linear.deploy, gates: ['PRE_PRODUCTION_TRAFFIC_SHIFT'] } } },
    });
    try {
      const request = await requestDeploy('deploy web-linear --redeploy');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const first = await gateMessage(request.ts);
      expect(first.text).toMatch(
        /paused at `PRE_PRODUCTION_TRAFFIC_SHIFT`, a gate of deploy `[^`]+`: the new revision `web:\d+` runs beside the previous revision with no production traffic yet\./,
      );
      expect(first.text).toMatch(/^• new `web:\d+`: 2\/2 running, production 0%/m);
      expect(first.text).not.toMatch(/green|blue/);
      await world.react('U0BOB', CHANNEL, first.ts, 'white_check_mark');
      const second = await world.slack.waitFor(
        () => world.slack.replies(CHANNEL, request.ts).find((r) => r.ts !== first.ts && r.text.startsWith('⏸️') && r.text.includes('React :white_check_mark:')),
        60_000,
      );
      expect(second.text).toMatch(
        /paused at `PRE_PRODUCTION_TRAFFIC_SHIFT`, a gate of deploy `[^`]+`: the new revision `web:\d+` takes 25% of production traffic \(step 1 of 4\), the previous revision 75%\./,
      );
      await world.react('U0BOB', CHANNEL, second.ts, 'x');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^❌ .*rejected at the `PRE_PRODUCTION_TRAFFIC_SHIFT` gate by <@U0BOB>; rolled back to `web:\d+`/);
    } finally {
      setConfig(baseConfig);
      await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web-linear', deploymentConfiguration: configuration }));
      ecs.destroy();
    }
  });
});
