import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE } from '../local/aws';
import { codeDeployState, REPLACEMENT_TIMEOUT_MS } from '../local/aws/codedeploy';
import { appSpec } from '../src/deploy/codedeploy';
import { startWorld, type World } from '../local/world';
import type { Config } from '../src/config/schema';
import { auditRecords } from './support/audit-records';
import { failAwsAfter } from './support/fail-after';
import { deployRequests } from './support/deploy-thread';

/**
 * `/ecs deploy` of the seeded CODE_DEPLOY service `legacy` (cluster blue-green; CodeDeploy
 * application and deployment group `legacy`, ECSAllAtOnce, auto-rollback on failure, a 5-minute
 * termination wait) end to end: the plan names the deployment group, the workflow creates one
 * CodeDeploy deployment with an AppSpec of the new revision (never UpdateService), follows its
 * lifecycle events and traffic over skipped time, and CodeDeploy's rollback when it fails.
 */
let world: World;
let setConfig: (config: Config | undefined) => void;
let baseConfig: Config;

beforeAll(async () => {
  world = await startWorld({ durableSkipTime: true });
  const load = await import('../src/config/load');
  setConfig = load.setConfig;
  baseConfig = load.getConfig();
});
afterAll(async () => {
  setConfig?.(undefined);
  await world?.close();
});

const CHANNEL = 'C0OPS';
const { parents, threadText, calls, requestDeploy, finished: ended } = deployRequests(() => world, CHANNEL);
/** CodeDeploy's failures take an hour of emulator time: more polls than a rolling deploy. */
const finished = (ts: string) => ended(ts, 120_000);
const store = () => codeDeployState(world.aws.state.region(SAMPLE.accountId, SAMPLE.region));
/** New tasks stay PROVISIONING for 2 hours (a replacement that never turns healthy, and never stops); returns the timings to put back. */
function slowStart() {
  const timings = { ...world.aws.state.ecsTimings };
  world.aws.state.ecsTimings.provisionMs = 2 * 3600_000;
  return timings;
}
const legacy = () => world.aws.state.region(SAMPLE.accountId, SAMPLE.region).ecs.clusters.get('blue-green')!.services.get('legacy')!;

/** Every text the living message showed (its edits included) and the record attached at the end. */
function told(ts: string): { living: string; record: string } {
  const replies = world.slack.replies(CHANNEL, ts);
  const rollout = replies.find((r) => r.text.includes('CodeDeploy deployment `d-'))!;
  const ending = replies.find((r) => r.files.length);
  const record = ending ? world.slack.workspace.files.find((f) => f.id === ending.files[0])!.content.toString() : '';
  return { living: [...rollout.history.map((h) => h.text), rollout.text].join('\n'), record };
}

describe('/ecs deploy of a CodeDeploy blue/green service', () => {
  it('the shipped target `legacy` passes /ecs verify', async () => {
    const before = new Set(parents().map((m) => m.ts));
    await world.slash('U0ALICE', 'verify legacy', CHANNEL);
    const parent = await world.slack.waitFor(() => parents().find((m) => !before.has(m.ts) && m.text.includes('verify legacy')), 20_000);
    const end = await world.slack.waitFor(() => {
      const text = world.slack.message(CHANNEL, parent.ts)?.text ?? '';
      return /^(✅|❌|⚠️)/.test(text) ? text : undefined;
    }, 60_000);
    expect(end, threadText(parent.ts)).toMatch(/^✅ .*legacy: \d+ OK, 0 WARN, 0 FAIL/);
    expect(threadText(parent.ts)).toContain("deployed by CodeDeploy (ECS's circuit breaker does not apply)");
  });

  it('--dry-run names the deployment group and verifies the service as the deploy would leave it, with no write to AWS', async () => {
    const calls = world.aws.calls.length;
    const before = new Set(parents().map((m) => m.ts));
    await world.slash('U0ALICE', 'deploy legacy v3.3.0 --dry-run', CHANNEL);
    const parent = await world.slack.waitFor(() => parents().find((m) => !before.has(m.ts) && /^(✅|❌|⚠️)/.test(m.text)), 30_000);
    const text = threadText(parent.ts);
    expect(text).toMatch(/🧪 Dry run, to deploy to \*legacy\* \(from `legacy:12`\): nothing was changed/);
    expect(text).toMatch(/• Plan `[0-9a-f]{12}` · CodeDeploy blue\/green through deployment group legacy\/legacy: CodeDeployDefault\.ECSAllAtOnce/);
    const writes = world.aws.calls
      .slice(calls)
      .filter((c) => !(c.service === 'lambda' && c.action === 'Invoke'))
      .filter((c) => !/^(Describe|List|Get|Batch|Simulate|AssumeRole|Filter)/.test(c.action));
    expect(writes.map((c) => `${c.service}:${c.action}`)).toEqual([]);
  });

  it('all at once: one CodeDeploy deployment of the new revision, its events and traffic told, Succeeded', async () => {
    const request = await requestDeploy('deploy legacy v3.3.0');
    expect(request.text).toContain(
      "CodeDeploy blue/green through deployment group legacy/legacy: CodeDeployDefault.ECSAllAtOnce (all traffic at once); CodeDeploy's auto-rollback on failure on",
    );
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*`legacy:\d+` is live after/);
    const created = calls('CreateDeployment');
    expect(created).toHaveLength(1);
    const params = created[0]!.params as {
      applicationName: string;
      deploymentGroupName: string;
      description: string;
      revision: { appSpecContent: { content: string } };
    };
    expect(params).toMatchObject({ applicationName: 'legacy', deploymentGroupName: 'legacy', deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce' });
    expect(params.description).toMatch(/^ecs-chatops deploy \S+ of legacy$/);
    const deployed = legacy().taskDefinition!;
    expect(deployed).not.toBe(SAMPLE.taskDefinitions.legacy);
    expect(params.revision.appSpecContent.content).toContain(`TaskDefinition: "${deployed}"`);
    expect(params.revision.appSpecContent.content).toContain('ContainerName: "app"');
    expect(world.aws.calls.filter((c) => c.action === 'UpdateService')).toHaveLength(0);
    const { living, record } = told(request.ts);
    expect(living).toMatch(/🔄 CodeDeploy deployment `d-[A-Z0-9]{9}`: InProgress/);
    expect(living).toMatch(/green \(replacement\): 2\/2 running, 0% of production traffic/);
    expect(living).toMatch(/✅ BeforeInstall · ✅ Install · ✅ AfterInstall/);
    expect(living).toMatch(/green \(replacement\): 2\/2 running, 100% of production traffic/);
    expect(living).toMatch(/✅ CodeDeploy deployment `d-[A-Z0-9]{9}`: Succeeded/);
    expect(record).toMatch(/event Install Succeeded[\s\S]*event AllowTraffic Succeeded[\s\S]*status Succeeded/);
    expect(record).toContain('replacement takes 100% of production traffic');
    const audit = (await auditRecords(world.teamId, request.ts)).find((r) => r.verb === 'deploy')!;
    expect(audit.detail).toMatchObject({ toTaskDefinition: deployed, rolloutVerdict: 'completed', fromTaskDefinition: SAMPLE.taskDefinitions.legacy });
    expect(calls('StopDeployment')).toHaveLength(0);
  });

  it('/ecs rollback goes through CodeDeploy too: a deployment of the previous revision', async () => {
    const before = calls('CreateDeployment').length;
    const request = await requestDeploy('rollback legacy');
    expect(request.text).toContain('CodeDeploy blue/green through deployment group legacy/legacy');
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    const end = await finished(request.ts);
    expect(end, threadText(request.ts)).toMatch(/^✅ .*`legacy:12` is live after/);
    const created = calls('CreateDeployment').slice(before);
    expect(created).toHaveLength(1);
    expect(JSON.stringify(created[0]!.params)).toContain(`TaskDefinition: \\"${SAMPLE.taskDefinitions.legacy}\\"`);
    expect(legacy().taskDefinition).toBe(SAMPLE.taskDefinitions.legacy);
    expect(world.aws.calls.filter((c) => c.action === 'RegisterTaskDefinition' && JSON.stringify(c.params).includes('legacy:'))).toHaveLength(1);
  });

  it('a replacement that never becomes healthy fails on CodeDeploy’s side; its auto-rollback is followed and reported, never doubled', async () => {
    const target = baseConfig.targets.legacy!;
    // The bot's own timeout beyond CodeDeploy's 60 minutes: CodeDeploy decides.
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, legacy: { ...target, deploy: { ...target.deploy, timeoutSeconds: 2 * 3600 } } } });
    // The replacement's tasks never get past PROVISIONING (none stops: no crash loop to notice).
    const timings = slowStart();
    try {
      const running = legacy().taskDefinition!;
      const request = await requestDeploy('deploy legacy v3.3.0');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(
        /^❌ .*CodeDeploy deployment `d-[A-Z0-9]{9}` Failed at `Install`: ECS_UPDATE_ERROR: The deployment timed out while waiting for the replacement task set to become healthy.*; rolled back to `legacy:\d+`/,
      );
      const thread = threadText(request.ts);
      expect(thread).toMatch(/↩️ CodeDeploy is rolling back to `legacy:\d+` \(deployment `d-[A-Z0-9]{9}`\)/);
      expect(thread).toMatch(/Rolled back by CodeDeploy \(deployment `d-[A-Z0-9]{9}` Succeeded\)/);
      expect(calls('StopDeployment')).toHaveLength(0);
      expect(legacy().taskDefinition).toBe(running);
      const audit = (await auditRecords(world.teamId, request.ts)).find((r) => r.verb === 'deploy')!;
      expect(audit.detail).toMatchObject({ rolloutVerdict: 'failed', rollbackVerdict: 'completed', rolledBackTo: running });
    } finally {
      Object.assign(world.aws.state.ecsTimings, timings);
      setConfig(baseConfig);
    }
  });

  it('a replacement crashing in a loop: the bot stops the deployment with auto-rollback long before any timeout, says why once, and follows the rollback', async () => {
    const target = baseConfig.targets.legacy!;
    // Neither the bot's timeout nor CodeDeploy's 60-minute wait for a healthy replacement can be why it ends.
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, legacy: { ...target, deploy: { ...target.deploy, timeoutSeconds: 2 * 3600 } } } });
    // The crashed container's reason, as AWS would write it, with text Slack would read as markup.
    const rule = world.aws.state.failingImages.find((r) => r.image === SAMPLE.images.legacyCrash)!;
    rule.containerReason = 'CannotStartContainerError: <!channel> & *oops*';
    try {
      const running = legacy().taskDefinition!;
      const before = calls('StopDeployment').length;
      const request = await requestDeploy('deploy legacy v3-crash');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^❌ .*[34] tasks of the replacement task set failed to start or stay running; rolled back to `legacy:\d+`/);
      const stopped = calls('StopDeployment').slice(before);
      expect(stopped).toHaveLength(1);
      const { deploymentId } = stopped[0]!.params as { deploymentId: string };
      expect(stopped[0]!.params).toMatchObject({ autoRollbackEnabled: true });
      // Stopped by the bot (MANUAL_STOP), well before CodeDeploy's own 60-minute timeout.
      const deployment = store().deployments.get(deploymentId)!;
      expect(deployment).toMatchObject({ status: 'Stopped', errorInformation: { code: 'MANUAL_STOP' } });
      expect(+deployment.completeTime! - +deployment.createTime).toBeLessThan(REPLACEMENT_TIMEOUT_MS / 4);
      const thread = threadText(request.ts);
      const reason =
        'Stop reasons: “Essential container in task exited (container `app` exited with code 1: CannotStartContainerError: &lt;!channel&gt; &amp; *oops*)”';
      expect(thread.split(reason)).toHaveLength(2);
      expect(thread).not.toContain('<!channel>');
      expect(thread.match(/🛑 `StopDeployment` sent with auto-rollback/g)).toHaveLength(1);
      expect(thread).toMatch(/\n↩️ CodeDeploy is rolling back to `legacy:\d+`/);
      expect(thread).toMatch(/Rolled back by CodeDeploy \(deployment `d-[A-Z0-9]{9}` Succeeded\)/);
      expect(legacy().taskDefinition).toBe(running);
      const { living, record } = told(request.ts);
      expect(living).toMatch(/🛑 [34] tasks of the replacement stopped/);
      expect(record).toMatch(/🛑 task `[0-9a-f]{12}` stopped: Essential container in task exited/);
      const audit = (await auditRecords(world.teamId, request.ts)).find((r) => r.verb === 'deploy')!;
      expect(audit.detail).toMatchObject({ rolloutVerdict: 'failed', rollbackVerdict: 'completed', rolledBackTo: running });
    } finally {
      delete rule.containerReason;
      setConfig(baseConfig);
    }
  });

  it('a stop CodeDeploy answers with DeploymentAlreadyCompletedException says nothing; the watch reads the deployment again and tells what is true', async () => {
    const stopCalls = () => world.aws.calls.filter((c) => c.action === 'StopDeployment');
    const before = stopCalls().length;
    // CodeDeploy answers the bot's first StopDeployment as if it had ended the deployment itself.
    const lift = world.aws.faults.fail(
      'codedeploy:StopDeployment',
      { code: 'DeploymentAlreadyCompletedException', message: 'The deployment has already completed.', status: 400 },
      1,
    );
    try {
      const request = await requestDeploy('deploy legacy v3-crash');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      // Still running when read again: the crash loop is said and stopped then, once.
      expect(end, threadText(request.ts)).toMatch(/^❌ .*tasks of the replacement task set failed to start or stay running; rolled back to `legacy:\d+`/);
      const stops = stopCalls().slice(before);
      expect(stops.map((c) => c.error?.code ?? 'ok')).toEqual(['DeploymentAlreadyCompletedException', 'ok']);
      const thread = threadText(request.ts);
      expect(thread.match(/🛑 `StopDeployment` sent with auto-rollback/g)).toHaveLength(1);
      expect(thread.match(/Stop reasons: /g)).toHaveLength(1);
      expect(thread).not.toContain('refused');
    } finally {
      lift();
    }
  });

  it('past the target’s timeout the bot stops the deployment with auto-rollback, and CodeDeploy’s rollback is followed', async () => {
    const target = baseConfig.targets.legacy!;
    setConfig({ ...baseConfig, targets: { ...baseConfig.targets, legacy: { ...target, deploy: { ...target.deploy, timeoutSeconds: 120 } } } });
    const timings = slowStart();
    try {
      const running = legacy().taskDefinition!;
      const before = calls('StopDeployment').length;
      const request = await requestDeploy('deploy legacy v3.3.0');
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^❌ .*the rollout did not finish within 2 min 0 s; rolled back to `legacy:\d+`/);
      const stopped = calls('StopDeployment').slice(before);
      expect(stopped).toHaveLength(1);
      expect(stopped[0]!.params).toMatchObject({ autoRollbackEnabled: true, deploymentId: expect.stringMatching(/^d-/) });
      const thread = threadText(request.ts);
      expect(thread).toContain('🛑 `StopDeployment` sent with auto-rollback');
      expect(thread).toMatch(/\n↩️ CodeDeploy is rolling back to `legacy:\d+`/);
      expect(thread).not.toContain('Stop reasons');
      expect(legacy().taskDefinition).toBe(running);
    } finally {
      Object.assign(world.aws.state.ecsTimings, timings);
      setConfig(baseConfig);
    }
  });

  it('a create step that dies after its CreateDeployment is retried and finds its deployment: exactly one', async () => {
    const before = calls('CreateDeployment').length;
    const request = await requestDeploy('deploy legacy --redeploy');
    // CodeDeploy answers CreateDeployment, then fails the step's next call (GetDeployment) beyond the SDK's retries.
    const lift = failAwsAfter(world, 'CreateDeployment', 'codedeploy:GetDeployment', { code: 'InternalFailure', message: 'internal error', status: 500 }, 5);
    try {
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^✅ .*is live after/);
      expect(calls('CreateDeployment').slice(before)).toHaveLength(1);
      // The step failed after its CreateDeployment (GetDeployment of the new deployment refused five times), then found it.
      const all = world.aws.calls;
      const createdAt = all.indexOf(calls('CreateDeployment')[before]!);
      const refused = all.map((c, i) => (c.action === 'GetDeployment' && c.status === 500 ? i : -1)).filter((i) => i >= 0);
      expect(refused).toHaveLength(5);
      expect(refused[0]).toBeGreaterThan(createdAt);
      expect(calls('ListDeployments').length).toBeGreaterThan(0);
    } finally {
      lift();
    }
  });

  it('a deployment group changed between the plan and the approval: the approvals are void, nothing is deployed', async () => {
    const before = calls('CreateDeployment').length;
    const request = await requestDeploy('deploy legacy v3.3.0');
    const group = store().groups.get('legacy/legacy')!;
    const config = group.deploymentConfigName;
    group.deploymentConfigName = 'CodeDeployDefault.ECSCanary10Percent5Minutes';
    try {
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(/^❌ /);
      expect(threadText(request.ts)).toContain(
        'its deployment strategy is now CODE_DEPLOY legacy/legacy CodeDeployDefault.ECSCanary10Percent5Minutes, not CODE_DEPLOY legacy/legacy CodeDeployDefault.ECSAllAtOnce',
      );
      expect(calls('CreateDeployment')).toHaveLength(before);
    } finally {
      group.deploymentConfigName = config;
    }
  });

  it('a deployment of the group already under way: said in the request, and CodeDeploy’s refusal ends the deploy with its reason', async () => {
    const { CodeDeployClient, CreateDeploymentCommand, StopDeploymentCommand } = await import('@aws-sdk/client-codedeploy');
    const cd = new CodeDeployClient({ region: 'us-east-1' });
    const content = appSpec(legacy().taskDefinition!, { containerName: 'app', containerPort: 8080 });
    // Someone's pipeline deploys legacy meanwhile.
    const { deploymentId } = await cd.send(
      new CreateDeploymentCommand({
        applicationName: 'legacy',
        deploymentGroupName: 'legacy',
        revision: { revisionType: 'AppSpecContent', appSpecContent: { content } },
      }),
    );
    try {
      const before = calls('CreateDeployment').length;
      const request = await requestDeploy('deploy legacy v3.3.0');
      const note = `⚠️ CodeDeploy deployment \`${deploymentId}\` is under way in \`legacy/legacy\``;
      await world.slack.waitFor(() => threadText(request.ts).includes(note) || undefined, 10_000);
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      const end = await finished(request.ts);
      expect(end, threadText(request.ts)).toMatch(
        new RegExp(
          `^❌ .*CodeDeploy refused the deployment through \`legacy/legacy\`: The Deployment Group 'legacy' already has an active Deployment '${deploymentId}'`,
        ),
      );
      expect(calls('CreateDeployment')).toHaveLength(before);
      expect(world.aws.calls.filter((c) => c.action === 'CreateDeployment' && c.error?.code === 'DeploymentLimitExceededException')).toHaveLength(1);
    } finally {
      await cd.send(new StopDeploymentCommand({ deploymentId: deploymentId!, autoRollbackEnabled: false }));
      cd.destroy();
    }
  });

  it('no deployment group naming the service, or two: refused before anyone is asked', async () => {
    const groups = new Map(store().groups);
    try {
      const group = store().groups.get('legacy/legacy')!;
      store().groups.set('legacy/legacy-copy', { ...structuredClone(group), deploymentGroupName: 'legacy-copy', deploymentGroupId: 'copy' });
      const two = await requestDeploy('deploy legacy v3.3.0');
      expect(two.text).not.toContain('React :');
      expect(threadText(two.ts)).toContain('2 CodeDeploy deployment groups name `legacy` in cluster `blue-green` (`legacy/legacy`, `legacy/legacy-copy`)');
      store().groups.clear();
      const none = await requestDeploy('deploy legacy v3.3.0');
      expect(none.text).not.toContain('React :');
      expect(threadText(none.ts)).toContain('no deployment group of an ECS application names `legacy` in cluster `blue-green`');
    } finally {
      store().groups.clear();
      for (const [k, v] of groups) store().groups.set(k, v);
    }
  });
});
