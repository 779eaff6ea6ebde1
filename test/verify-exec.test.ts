/**
 * ECS Exec readiness checks against the local AWS emulator: `web` and `manager` are ready,
 * `broken` runs a task started before exec was enabled and its task role denies ssmmessages
 * (VERIFY_SEED.problems `exec-not-on-tasks`, `exec-denied`); the cluster's KMS key, session logging,
 * platform and agent cases are made by changing the emulator's state for one test.
 */
import type { Container, ExecuteCommandConfiguration, Service } from '@aws-sdk/client-ecs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { SAMPLE } from '../local/aws';
import { VERIFY_SEED } from '../local/aws/seed-verify';
import { putRole, trustPolicy } from '../local/aws/services/iam';
import { putKey } from '../local/aws/services/kms';
import { logsState, putLogGroup } from '../local/aws/services/logs';
import { policyText } from '../local/aws/policy';
import { launchKinds } from '../src/ecs/launch';
import { age, execChecks, versionAtLeast } from '../src/verify/checks/exec';
import type { VerifyContext } from '../src/verify/context';
import { patch, runRecorded, TARGETS, useVerifyHarness } from './support/verify';

const h = useVerifyHarness();
const V = VERIFY_SEED;
const region = () => h.aws.state.region(V.accountId, V.region);
const main = () => region().ecs.clusters.get('main')!;
const service = (name: string) => main().services.get(name)!;
const webTaskDefinition = () => region().ecs.taskDefinitions.get('web:42')!.taskDefinition;
const webTask = (i = 0) => main().tasks.get(SAMPLE.tasks.webRunning[i]!)!;
const plan = async (ctx: VerifyContext) => execChecks({ ctx, taskDefinition: await ctx.taskDefinition(), service: (await ctx.service())! });
const ids = ['exec', 'exec:tasks', 'exec:agent', 'exec:task-role', 'exec:platform', 'exec:kms', 'exec:logging'];

/** The cluster's exec configuration for the current test only. */
function execConfig(config: ExecuteCommandConfiguration) {
  patch(main().cluster, { configuration: { executeCommandConfiguration: config } });
}

/** A task role for one test: exec's ssmmessages plus `extra` statements; web's task definition uses it. */
function taskRoleWith(name: string, ...extra: Array<{ Effect: 'Allow' | 'Deny'; Action: string | string[]; Resource: string | string[] }>) {
  putRole(h.aws.state, V.accountId, name, {
    trust: trustPolicy({ Service: 'ecs-tasks.amazonaws.com' }),
    attached: [V.policies.execSsmMessages],
    inline: extra.length ? { extra: { Version: '2012-10-17', Statement: extra } } : {},
  });
  patch(webTaskDefinition(), { taskRoleArn: `arn:aws:iam::${V.accountId}:role/${name}` });
}

const run = (alias: string) => runRecorded(h, plan, alias);

describe('ECS Exec checks: the seeded services', () => {
  it('web: ready for sessions; each AWS question asked once', async () => {
    const { results, r, calls } = await run('web');
    expect(results.map((x) => [x.id, x.status])).toEqual(ids.map((id) => [id, id === 'exec:kms' ? 'SKIP' : 'OK']));
    expect(r['exec:tasks']!.message).toBe('all 2 running tasks have ECS Exec on');
    expect(r['exec:agent']!.message).toContain('all 4 containers of 2 tasks');
    expect(r['exec:task-role']!.message).toContain('`web-task-role` may open ECS Exec sessions');
    expect(r['exec:platform']!.message).toContain('1.4.0');
    expect(r['exec:kms']!.message).toMatch(/not encrypted with a customer key/);
    expect(r['exec:logging']!.message).toContain('logging DEFAULT');
    expect(results.every((x) => x.group[0] === 'ECS Exec')).toBe(true);
    const count = (action: string) => calls.filter((c) => c.action === action).length;
    expect([count('ListTasks'), count('DescribeTasks'), count('GetRole'), count('SimulatePrincipalPolicy'), count('DescribeClusters')]).toEqual([
      1, 1, 1, 1, 1,
    ]);
  });

  it('manager: ready, and the container `/ecs run` uses exists', async () => {
    const { results, r } = await run('manager');
    expect(results.map((x) => [x.id, x.status])).toEqual(ids.map((id) => [id, id === 'exec:kms' ? 'SKIP' : 'OK']));
    expect(r.exec!.message).toContain('`/ecs run` uses container `app`');
    expect(r['exec:tasks']!.message).toBe('the running task has ECS Exec on');
  });

  it('broken: the running task predates exec (redeploy), and the task role denies ssmmessages', async () => {
    const { r } = await run('broken');
    const [oldTask] = SAMPLE.tasks.brokenRunning;
    expect(r.exec!.status).toBe('OK');
    const tasks = r['exec:tasks']!;
    expect(tasks.status).toBe('FAIL');
    expect(tasks.message).toContain(`\`${oldTask}\` (broken:6, started 3 days ago)`);
    expect(tasks.message).toContain('only for tasks it starts after it was enabled');
    expect(tasks.fix).toContain('`/ecs deploy broken --redeploy`');
    expect(tasks.fix).toContain('aws ecs update-service --region us-east-1 --cluster main --service broken --force-new-deployment');
    expect(r['exec:agent']!.status).toBe('SKIP');
    const role = r['exec:task-role']!;
    expect(role.status).toBe('FAIL');
    expect(role.message).toBe(
      '`broken-task-role` cannot open ECS Exec sessions: a Deny statement blocks ssmmessages CreateControlChannel, CreateDataChannel, OpenControlChannel, OpenDataChannel (on `*`)',
    );
    expect(role.fix).toMatch(/Deny statement in the policies of `broken-task-role`/);
    expect(r['exec:platform']!.status).toBe('OK');
    expect(V.problems.filter((p) => p.check === 'exec').map((p) => p.resource)).toEqual([V.roles.brokenTask, SAMPLE.services.broken]);
  });
});

describe('ECS Exec checks: made-up failures', () => {
  it('exec off: SKIP when nothing needs it, FAIL with the fix when the target runs `/ecs run` there', async () => {
    patch(service('web'), { enableExecuteCommand: false });
    const web = await run('web');
    expect(web.results.map((x) => [x.id, x.status])).toEqual([['exec', 'SKIP']]);
    expect(web.results[0]!.message).toContain('only `/ecs run` needs it');

    patch(service('manager'), { enableExecuteCommand: false });
    const manager = await run('manager');
    expect(manager.results.map((x) => [x.id, x.status])).toEqual([['exec', 'FAIL']]);
    expect(manager.results[0]!.fix).toContain(
      'aws ecs update-service --region us-east-1 --cluster main --service manager --enable-execute-command --force-new-deployment',
    );
  });

  it('a manager container the task definition lacks fails with the configuration line to change', async () => {
    patch(TARGETS.manager!, { manager: { container: 'worker' } });
    const { r } = await run('manager');
    expect(r.exec!.status).toBe('FAIL');
    expect(r.exec!.message).toContain('container `worker`, which task definition `manager:3` does not have (it has `app`)');
    expect(r.exec!.fix).toContain('`targets.manager.manager.container`');
  });

  it('an agent that stopped fails naming the container and task, with the causes (read-only root first)', async () => {
    const app = webTask().containers!.find((c) => c.name === 'app')!;
    patch(app, { managedAgents: [{ name: 'ExecuteCommandAgent', lastStatus: 'STOPPED', reason: 'agent exited' }] } as Partial<Container>);
    patch(webTaskDefinition().containerDefinitions![0]!, { readonlyRootFilesystem: true });
    const { r } = await run('web');
    const agent = r['exec:agent']!;
    expect(agent.status).toBe('FAIL');
    expect(agent.message).toContain(`\`app\` in task \`${SAMPLE.tasks.webRunning[0]}\`: agent STOPPED (agent exited)`);
    expect(agent.message).toContain('`app` has `readonlyRootFilesystem` on');
    expect(agent.message).toContain('ssmmessages.us-east-1.amazonaws.com');
    expect(agent.fix).toContain('/ecs deploy web --redeploy');
  });

  it('an agent still starting is a WARN', async () => {
    const app = webTask(1).containers!.find((c) => c.name === 'app')!;
    patch(app, { managedAgents: [{ name: 'ExecuteCommandAgent', lastStatus: 'PENDING' }] } as Partial<Container>);
    const { r } = await run('web');
    expect(r['exec:agent']).toMatchObject({ status: 'WARN' });
    expect(r['exec:agent']!.message).toContain('still starting');
  });

  it('no task role: FAIL, exec needs one', async () => {
    patch(webTaskDefinition(), { taskRoleArn: undefined });
    const { r } = await run('web');
    expect(r['exec:task-role']!.status).toBe('FAIL');
    expect(r['exec:task-role']!.message).toContain('no task role');
    expect(r['exec:task-role']!.fix).toContain('"taskRoleArn"');
  });

  it('platform: too old fails, LATEST resolves from the tasks, EC2 is skipped with the agent note', async () => {
    patch(service('web'), { platformVersion: '1.3.0' });
    let { r } = await run('web');
    expect(r['exec:platform']!.status).toBe('FAIL');
    expect(r['exec:platform']!.fix).toContain('--platform-version LATEST --force-new-deployment');

    patch(service('web'), { platformVersion: 'LATEST' });
    ({ r } = await run('web'));
    expect(r['exec:platform']).toMatchObject({ status: 'OK', message: 'Fargate platform LATEST (1.4.0 on the running tasks)' });

    patch(webTask(), { platformVersion: '1.3.0' });
    ({ r } = await run('web'));
    expect(r['exec:platform']!.status).toBe('FAIL');
    expect(r['exec:platform']!.message).toContain(`\`${SAMPLE.tasks.webRunning[0]}\` runs on 1.3.0`);

    patch(service('web'), { launchType: 'EC2' } as Partial<Service>);
    ({ r } = await run('web'));
    expect(r['exec:platform']!.status).toBe('SKIP');
    expect(r['exec:platform']!.message).toContain('1.50.2');
  });

  it('platform: a service on Fargate and EC2 providers gets the Fargate check and the agent named', async () => {
    patch(service('web'), {
      launchType: undefined,
      capacityProviderStrategy: [
        { capacityProvider: 'FARGATE', weight: 1 },
        { capacityProvider: 'web-asg', weight: 1 },
      ],
    } as Partial<Service>);
    patch(webTask(), { platformVersion: '1.3.0' });
    const { r } = await run('web');
    expect(r['exec:platform']!.status).toBe('FAIL');
    expect(r['exec:platform']!.message).toContain(`\`${SAMPLE.tasks.webRunning[0]}\` runs on 1.3.0`);
    expect(r['exec:platform']!.message).toContain('tasks on EC2 also run here, and there ECS Exec needs ECS container agent 1.50.2 or later');
  });

  it('session key: missing, or disabled, fails', async () => {
    execConfig({ kmsKeyId: 'alias/exec-nope', logging: 'DEFAULT' });
    let { r } = await run('web');
    expect(r['exec:kms']!.status).toBe('FAIL');
    expect(r['exec:kms']!.message).toContain('`alias/exec-nope`, which does not exist');
    expect(r['exec:kms']!.fix).toContain('aws ecs update-cluster');

    const key = putKey(region(), {
      alias: 'alias/exec-off',
      policy: policyText({ Version: '2012-10-17', Statement: [] }),
      createdAt: new Date(),
      enabled: false,
    });
    execConfig({ kmsKeyId: 'alias/exec-off', logging: 'DEFAULT' });
    ({ r } = await run('web'));
    expect(r['exec:kms']!.status).toBe('FAIL');
    expect(r['exec:kms']!.message).toContain('is Disabled');
    expect(r['exec:kms']!.fix).toContain(`aws kms enable-key --region us-east-1 --key-id ${key.metadata.KeyId}`);
  });

  it('session key: the task role must be allowed kms:Decrypt by its policies and by the key policy', async () => {
    // alias/web-secrets delegates to IAM: web-task-role's policies do not allow Decrypt.
    execConfig({ kmsKeyId: 'alias/web-secrets', logging: 'DEFAULT' });
    let { r } = await run('web');
    expect(r['exec:kms']!.status).toBe('FAIL');
    expect(r['exec:kms']!.message).toContain('`kms:Decrypt`');
    expect(r['exec:kms']!.fix).toContain('aws iam put-role-policy --role-name web-task-role');

    taskRoleWith('exec-kms-task-role', { Effect: 'Allow', Action: 'kms:Decrypt', Resource: [V.kms.webSecretsKeyArn, V.kms.brokenSecretsKeyArn] });
    ({ r } = await run('web'));
    expect(r['exec:kms']!.status).toBe('OK');
    expect(r['exec:kms']!.message).toContain('`kms:GenerateDataKey`');

    // alias/broken-secrets: the role's own policy allows it, the key policy leaves it out.
    execConfig({ kmsKeyId: 'alias/broken-secrets', logging: 'DEFAULT' });
    ({ r } = await run('web'));
    expect(r['exec:kms']!.status).toBe('FAIL');
    expect(r['exec:kms']!.message).toContain('the policy of key `alias/broken-secrets` does not let it');
    expect(r['exec:kms']!.fix).toContain('"Principal":{"AWS":"arn:aws:iam::111111111111:role/exec-kms-task-role"}');
    expect(r['exec:kms']!.fix).toContain('aws kms put-key-policy');
  });

  it('session key: a key policy the bot may not read is "not verified as the task role"', async () => {
    taskRoleWith('exec-kms-task-role-2', { Effect: 'Allow', Action: 'kms:Decrypt', Resource: V.kms.webSecretsKeyArn });
    execConfig({ kmsKeyId: V.kms.webSecretsKeyArn, logging: 'DEFAULT' });
    onTestFinished(h.aws.faults.deny('kms:GetKeyPolicy'));
    const { r } = await run('web');
    expect(r['exec:kms']).toMatchObject({ status: 'WARN', unverified: true });
    expect(r['exec:kms']!.message).toContain('not verified as the task role');
    expect(r['exec:kms']!.fix).toContain('kms:GetKeyPolicy');
  });

  it('session logging OVERRIDE to CloudWatch: a missing group and a task role that may not write both fail', async () => {
    execConfig({ logging: 'OVERRIDE', logConfiguration: { cloudWatchLogGroupName: '/ecs/exec-sessions' } });
    let { r } = await run('web');
    const logging = r['exec:logging']!;
    expect(logging.status).toBe('FAIL');
    expect(logging.message).toContain('`/ecs/exec-sessions` does not exist');
    expect(logging.message).toContain('`logs:CreateLogStream`');
    expect(logging.fix).toContain('aws logs create-log-group --region us-east-1 --log-group-name /ecs/exec-sessions');
    expect(logging.fix).toContain('aws iam put-role-policy --role-name web-task-role');

    putLogGroup(region(), '/ecs/exec-sessions', Date.now());
    onTestFinished(() => void logsState(region()).delete('/ecs/exec-sessions'));
    taskRoleWith('exec-logs-task-role', {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams', 'logs:DescribeLogGroups'],
      Resource: '*',
    });
    ({ r } = await run('web'));
    expect(r['exec:logging']).toMatchObject({
      status: 'OK',
      message: 'logging OVERRIDE: the task role may write session output to CloudWatch Logs `/ecs/exec-sessions`',
    });

    execConfig({ logging: 'OVERRIDE', logConfiguration: { cloudWatchLogGroupName: '/ecs/exec-sessions', cloudWatchEncryptionEnabled: true } });
    ({ r } = await run('web'));
    expect(r['exec:logging']!.status).toBe('FAIL');
    expect(r['exec:logging']!.message).toContain('has no KMS key');
    expect(r['exec:logging']!.fix).toContain('aws logs associate-kms-key');
  });

  it('session logging OVERRIDE to S3: simulated as the task role (the bucket itself is not checked); NONE is skipped', async () => {
    execConfig({ logging: 'OVERRIDE', logConfiguration: { s3BucketName: 'exec-audit', s3KeyPrefix: 'sessions/', s3EncryptionEnabled: true } });
    let { r } = await run('web');
    expect(r['exec:logging']!.status).toBe('FAIL');
    expect(r['exec:logging']!.message).toContain('`s3:PutObject` on `arn:aws:s3:::exec-audit/sessions/*`');
    expect(r['exec:logging']!.message).toContain('`s3:GetEncryptionConfiguration` on `arn:aws:s3:::exec-audit`');

    taskRoleWith('exec-s3-task-role', {
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:GetEncryptionConfiguration'],
      Resource: ['arn:aws:s3:::exec-audit', 'arn:aws:s3:::exec-audit/*'],
    });
    ({ r } = await run('web'));
    expect(r['exec:logging']!.status).toBe('OK');
    expect(r['exec:logging']!.message).toContain('(the bucket itself is not checked)');

    execConfig({ logging: 'NONE' });
    ({ r } = await run('web'));
    expect(r['exec:logging']!.status).toBe('SKIP');
  });

  it('when the bot may not simulate policies, the task role is "not verified", never OK', async () => {
    onTestFinished(h.aws.faults.deny('iam:SimulatePrincipalPolicy'));
    const { r } = await run('web');
    expect(r['exec:task-role']).toMatchObject({ status: 'WARN', unverified: true });
    expect(r['exec:task-role']!.message).toContain('not verified as the task role');
    expect(r['exec:task-role']!.fix).toContain('iam:SimulatePrincipalPolicy');
  });

  it('when the bot may not describe tasks, the task checks say which permission it needs', async () => {
    onTestFinished(h.aws.faults.deny('ecs:DescribeTasks'));
    const { r } = await run('web');
    for (const id of ['exec:tasks', 'exec:agent', 'exec:platform']) {
      expect(r[id]).toMatchObject({ status: 'WARN', unverified: true });
      expect(r[id]!.message).toContain('`ecs:DescribeTasks`');
    }
  });
});

describe('ECS Exec helpers', () => {
  it('compares platform versions, tells launch kinds, and words ages', () => {
    expect(versionAtLeast('1.4.0', '1.4.0')).toBe(true);
    expect(versionAtLeast('1.10.0', '1.4.0')).toBe(true);
    expect(versionAtLeast('1.3.0', '1.4.0')).toBe(false);
    expect(versionAtLeast('LATEST', '1.4.0')).toBeUndefined();
    expect([...launchKinds({ launchType: 'FARGATE' })]).toEqual(['FARGATE']);
    expect([...launchKinds({ capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }] })]).toEqual(['FARGATE']);
    expect([...launchKinds({}, { defaultCapacityProviderStrategy: [{ capacityProvider: 'FARGATE', weight: 1 }] })]).toEqual(['FARGATE']);
    expect([...launchKinds({ capacityProviderStrategy: [{ capacityProvider: 'my-asg', weight: 1 }] })]).toEqual(['EC2']);
    expect([...launchKinds({})]).toEqual(['EC2']);
    const now = Date.UTC(2025, 0, 10);
    expect(age(new Date(now - 5 * 60_000), now)).toBe('5 min ago');
    expect(age(new Date(now - 5 * 3_600_000), now)).toBe('5 h ago');
    expect(age(new Date(now - 3 * 86_400_000), now)).toBe('3 days ago');
  });
});
