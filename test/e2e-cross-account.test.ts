import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { putKey } from '../local/aws/services/kms';
import { localStack } from '../local/iam/enforce';
import { targetRoleFor } from '../local/iam/stack';
import { DEPLOY_WORKFLOW_FUNCTION, NOTIFIER_FUNCTION, RUN_WORKFLOW_FUNCTION, startWorld, WORKER_FUNCTION, type World } from '../local/world';
import { CODEDEPLOY_ACTIONS } from './support/codedeploy-actions';
import type { Config } from '../src/config/schema';

/**
 * Targets reached through the target role of infra/cross-account-role.yaml (a target's `roleArn`),
 * under IAM as deployed: the worker, the run workflow and the deploy workflow each assume it with
 * their own role (the role's trust policy names all three), and every ECS call is then judged
 * against the target role's policy. Here the role lives in the emulator's own account, where the
 * seeded services are; the trust, the session and the policy are what a second account would use.
 */
let world: World;
let setConfig: (config: Config | undefined) => void;
const CHANNEL = 'C0OPS';
const TARGET_ROLE = targetRoleFor(localStack(), '111111111111').roleArn;

beforeAll(async () => {
  world = await startWorld({ durableSkipTime: true });
  const load = await import('../src/config/load');
  setConfig = load.setConfig;
  const base = load.getConfig();
  const remote = (alias: string) => ({ ...base.targets[alias]!, roleArn: TARGET_ROLE });
  setConfig({
    ...base,
    targets: {
      ...base.targets,
      'web-remote': remote('web'),
      'broken-remote': remote('broken'),
      'manager-remote': remote('manager'),
      'web-bg-remote': remote('web-bg'),
      // A rollout that outlives its 60 s: the bot stops it (StopServiceDeployment) as the target role.
      'web-canary-remote': { ...remote('web-canary'), deploy: { ...base.targets['web-canary']!.deploy, timeoutSeconds: 60 } },
      // CodeDeploy: its deployment group found, a deployment created, followed and stopped (its replacement crashing, before its 120 s run out) as the target role.
      'legacy-remote': { ...remote('legacy'), deploy: { ...base.targets.legacy!.deploy, timeoutSeconds: 120 } },
    },
    scripts: {
      ...base.scripts,
      'remote-backup.sh': { ...base.scripts['backup.sh']!, target: 'manager-remote' },
      'remote-slow.sh': { ...base.scripts['slow.sh']!, target: 'manager-remote' },
    },
    jobs: { ...base.jobs, 'remote-migrate': { ...base.jobs.migrate!, target: 'web-remote' } },
  });
});
afterAll(async () => {
  setConfig?.(undefined);
  await world?.close();
});

const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
const parentOf = (text: string) => world.slack.waitFor(() => parents().find((m) => m.text.includes(text)), 20_000);
const outcome = (ts: string, timeoutMs = 60_000) =>
  world.slack.waitFor(() => {
    const text = world.slack.message(CHANNEL, ts)?.text ?? '';
    return /^(✅|❌|⚠️|🚫)/.test(text) ? text : undefined;
  }, timeoutMs);
/** The sessions each function opened on the target role, and whether the target role was ever refused. */
const assumedBy = (fn: string) =>
  world.aws.authority.decisions.filter((d) => d.functionName === fn && d.action === 'sts:AssumeRole' && d.resource === TARGET_ROLE);
const asTarget = () => world.aws.authority.decisions.filter((d) => d.roleArn === TARGET_ROLE);

describe('a target reached through the target role', () => {
  it('status and verify: the worker assumes the role, and every read is the target role’s and allowed', async () => {
    await world.slash('U0ALICE', 'status web-remote', CHANNEL);
    await world.slash('U0ALICE', 'verify web-remote', CHANNEL);
    await world.slash('U0ALICE', 'verify broken-remote', CHANNEL); // its network checks look for VPC endpoints
    await world.idle();
    expect(assumedBy(WORKER_FUNCTION).map((d) => d.decision)).toContain('allowed');
    const actions = new Set(asTarget().map((d) => d.action));
    for (const action of [
      'ecs:DescribeServices',
      'ecs:DescribeTaskDefinition',
      'iam:GetRole',
      'ec2:DescribeSubnets',
      'ec2:DescribeVpcEndpoints',
      'logs:DescribeLogGroups',
      'kms:DescribeKey',
    ]) {
      expect(actions).toContain(action);
    }
    expect(
      world.aws.authority.decisions
        .filter((d) => d.functionName === WORKER_FUNCTION && /^sts:(TagSession|SetSourceIdentity)$/.test(d.action))
        .map((d) => d.decision),
    ).toContain('allowed');
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
    expect(parents().find((m) => m.text.includes('status web-remote'))!.text).toMatch(/^✅/);
  });

  it('logs: the last lines of a task’s container log stream, read as the target role', async () => {
    await world.slash('U0ALICE', 'logs web-remote --lines 5', CHANNEL);
    expect(await outcome((await parentOf('logs web-remote')).ts)).toMatch(/^✅ .*web-remote: (last \d+ log lines of app|no log lines yet) in task/);
    const reads = asTarget().filter((d) => d.action === 'logs:GetLogEvents');
    expect(reads.map((d) => d.decision)).toEqual(['allowed']);
    expect(reads[0]!.resource).toMatch(/^arn:aws:logs:us-east-1:111111111111:log-group:\/ecs\/web:log-stream:web\/app\/[0-9a-f]{32}$/);
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
  });

  it('logs --grep: the service’s lines across its tasks, searched as the target role on the log group', async () => {
    await world.slash('U0ALICE', 'logs web-remote --grep ERROR --since 1h', CHANNEL);
    expect(await outcome((await parentOf('logs web-remote --grep')).ts)).toMatch(/^✅ .*web-remote: (\d+ log lines? of app|no log lines) in the last 1 h/);
    const searches = asTarget().filter((d) => d.action === 'logs:FilterLogEvents');
    expect(searches.map((d) => d.decision)).toEqual(['allowed']);
    expect(searches[0]!.resource).toBe('arn:aws:logs:us-east-1:111111111111:log-group:/ecs/web');
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
  });

  it('deploy: the deploy workflow assumes it to register, pass the task roles, update and watch', async () => {
    await world.slash('U0ALICE', 'deploy web-remote v1.5.0', CHANNEL);
    const request = await world.slack.waitFor(() => parents().find((m) => /asks to deploy to \*web-remote\*/.test(m.text) && /React/.test(m.text)), 20_000);
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    expect(await outcome(request.ts)).toMatch(/^✅ [\s\S]*is live and steady/);
    expect(assumedBy(DEPLOY_WORKFLOW_FUNCTION).map((d) => d.decision)).toContain('allowed');
    const deployed = asTarget()
      .filter((d) => d.decision === 'allowed')
      .map((d) => d.action);
    expect(deployed).toEqual(expect.arrayContaining(['ecs:RegisterTaskDefinition', 'iam:PassRole', 'ecs:TagResource', 'ecs:UpdateService']));
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
  });

  it('deploy of ECS-native services: the service deployment followed, a gate continued, a rollout stopped, as the target role', async () => {
    const deploy = async (alias: string) => {
      await world.slash('U0ALICE', `deploy ${alias} v1.5.0`, CHANNEL);
      const request = await world.slack.waitFor(() => parents().find((m) => m.text.includes(`asks to deploy to *${alias}*`) && /React/.test(m.text)), 20_000);
      await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
      return request;
    };
    const bg = await deploy('web-bg-remote');
    const gate = await world.slack.waitFor(() => world.slack.replies(CHANNEL, bg.ts).find((r) => r.text.startsWith('⏸️') && /React/.test(r.text)), 60_000);
    await world.react('U0BOB', CHANNEL, gate.ts, 'white_check_mark');
    expect(await outcome(bg.ts)).toMatch(/^✅ [\s\S]*is live after/);
    expect(await outcome((await deploy('web-canary-remote')).ts)).toMatch(/^❌ [\s\S]*did not finish within 1 min 0 s; rolled back/);
    const allowed = asTarget()
      .filter((d) => d.decision === 'allowed')
      .map((d) => d.action);
    expect(allowed).toEqual(
      expect.arrayContaining(['ecs:ListServiceDeployments', 'ecs:DescribeServiceDeployments', 'ecs:ContinueServiceDeployment', 'ecs:StopServiceDeployment']),
    );
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
  });

  it('deploy of a CodeDeploy service: the deployment group found, the deployment created, followed and stopped, as the target role', async () => {
    await world.slash('U0ALICE', 'deploy legacy-remote v3-crash', CHANNEL);
    const request = await world.slack.waitFor(
      () => parents().find((m) => m.text.includes('asks to deploy to *legacy-remote*') && /React/.test(m.text)),
      20_000,
    );
    await world.react('U0BOB', CHANNEL, request.ts, 'white_check_mark');
    expect(await outcome(request.ts)).toMatch(/^❌ [\s\S]*tasks of the replacement task set failed to start or stay running; rolled back/);
    const allowed = new Set(
      asTarget()
        .filter((d) => d.decision === 'allowed')
        .map((d) => d.action),
    );
    for (const action of new Set([...CODEDEPLOY_ACTIONS.plan, ...CODEDEPLOY_ACTIONS.workflow])) {
      expect(allowed).toContain(action);
    }
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
  });

  it('run: a short script through ECS Exec as the target role, and a long one followed by the run workflow', async () => {
    await world.slash('U0ALICE', 'run remote-backup.sh nightly', CHANNEL);
    expect(await outcome((await parentOf('remote-backup.sh nightly')).ts)).toMatch(/exit 0 in/);
    await world.slash('U0ALICE', 'run remote-slow.sh 3', CHANNEL);
    expect(await outcome((await parentOf('remote-slow.sh 3')).ts, 90_000)).toMatch(/exit 0/);
    expect(assumedBy(RUN_WORKFLOW_FUNCTION).map((d) => d.decision)).toContain('allowed');
    expect(
      asTarget()
        .filter((d) => d.action === 'ecs:ExecuteCommand')
        .map((d) => d.decision),
    ).toContain('allowed');
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
  });
});

describe('a one-off job on a target reached through the target role', () => {
  it('RunTask (tagged, the task roles passed) and StopTask on cancel are the target role’s and allowed', async () => {
    const timings = { ...world.aws.state.ecsTimings };
    Object.assign(world.aws.state.ecsTimings, { provisionMs: 500, pullMs: 60_000 }); // waits in PENDING until cancelled
    try {
      await world.slash('U0ALICE', 'job remote-migrate', CHANNEL);
      const living = await world.slack.waitFor(() => world.slack.workspace.messages[CHANNEL]!.find((m) => m.text.startsWith('▶️ Job `remote-migrate`')), 20_000);
      const runId = /run `([a-z0-9]{6})`/.exec(living.text)![1]!;
      await world.click('U0ALICE', CHANNEL, living.ts, { action_id: 'ecs:cancel', value: runId });
      expect(await outcome((await parentOf('job remote-migrate')).ts)).toMatch(/^🚫 .*cancelled/);
    } finally {
      Object.assign(world.aws.state.ecsTimings, timings);
    }
    const actions = asTarget().map((d) => d.action);
    expect(actions).toEqual(expect.arrayContaining(['ecs:RunTask', 'ecs:TagResource', 'iam:PassRole', 'ecs:StopTask']));
    expect(asTarget().filter((d) => d.decision !== 'allowed')).toEqual([]);
  }, 60_000);
});

describe('ECS Exec sessions encrypted with a KMS key (the cluster’s executeCommandConfiguration)', () => {
  it('the data key is generated as the role that opens the session: the worker, the run workflow, the target role', async () => {
    const regional = world.aws.state.region('111111111111', 'us-east-1');
    const key = putKey(regional, {
      alias: 'alias/exec-sessions',
      createdAt: new Date(),
      policy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Sid: 'Enable IAM policies', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: 'kms:*', Resource: '*' }],
      }),
    });
    const cluster = regional.ecs.clusters.get('main')!.cluster;
    const saved = cluster.configuration;
    cluster.configuration = { executeCommandConfiguration: { kmsKeyId: key.metadata.Arn!, logging: 'DEFAULT' } };
    try {
      await world.slash('U0ALICE', 'run backup.sh encrypted', CHANNEL);
      expect(await outcome((await parentOf('backup.sh encrypted')).ts)).toMatch(/exit 0 in/);
      await world.slash('U0ALICE', 'run slow.sh 2', CHANNEL);
      expect(await outcome((await parentOf('slow.sh 2')).ts, 90_000)).toMatch(/exit 0/);
      await world.slash('U0ALICE', 'run remote-backup.sh encrypted', CHANNEL);
      expect(await outcome((await parentOf('remote-backup.sh encrypted')).ts)).toMatch(/exit 0 in/);
    } finally {
      cluster.configuration = saved;
    }
    const generated = world.aws.authority.decisions.filter((d) => d.action === 'kms:GenerateDataKey' && d.resource === key.metadata.Arn);
    const byRole = (fn: string) => generated.filter((d) => d.functionName === fn && d.roleArn !== TARGET_ROLE).map((d) => d.decision);
    expect(byRole(WORKER_FUNCTION)).toContain('allowed');
    expect(byRole(RUN_WORKFLOW_FUNCTION)).toContain('allowed');
    expect(generated.filter((d) => d.roleArn === TARGET_ROLE).map((d) => d.decision)).toContain('allowed');
    expect(generated.filter((d) => d.decision !== 'allowed')).toEqual([]);
  });
});

describe('the notifier, for a target reached through the target role', () => {
  it('diagnoses a crash as ecs-chatops@notifier: the task definition, the service and the log stream read as the target role', async () => {
    const load = await import('../src/config/load');
    const current = load.getConfig();
    // web-remote first: it speaks for the service `web` (the first target declaring a service does).
    const { 'web-remote': remote, ...others } = current.targets;
    setConfig({ ...current, targets: { 'web-remote': remote!, ...others } });
    const before = parents().length;
    const clear = world.aws.state.crashLoop('web', { exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' });
    try {
      for (let t = 0; t < 10; t++) {
        world.aws.clock.advance(1000);
        await world.events.idle();
      }
    } finally {
      clear();
    }
    const incident = parents()
      .slice(before)
      .find((m) => m.text.includes('*web-remote*'))!;
    expect(incident.text).toContain('exit 137 (OOM) in app');
    const diagnosis = world.slack.replies(CHANNEL, incident.ts)[0]!;
    expect(diagnosis.text).toMatch(/📄 Last \d+ lines of `app`/);
    expect(assumedBy(NOTIFIER_FUNCTION).map((d) => d.decision)).toContain('allowed');
    expect(world.aws.state.sessions(TARGET_ROLE).map((i) => i.sessionName)).toContain('ecs-chatops@notifier');
    const asNotifier = asTarget().filter((d) => d.functionName === NOTIFIER_FUNCTION);
    expect(new Set(asNotifier.map((d) => d.action))).toEqual(new Set(['ecs:DescribeTaskDefinition', 'ecs:DescribeServices', 'logs:GetLogEvents']));
    expect(asNotifier.filter((d) => d.decision !== 'allowed')).toEqual([]);
    // Steady again: the incident closes.
    for (let t = 0; t < 30; t++) {
      world.aws.clock.advance(60_000);
      await world.events.idle();
    }
    expect(world.slack.message(CHANNEL, incident.ts)!.text).toMatch(/^✅ \*web-remote\*/);
  }, 90_000);
});
