/**
 * The roles family (src/verify/checks/roles.ts) against the local AWS emulator: the seeded
 * services' task and execution roles, the deliberate `execution-role-trust` problem of `broken`,
 * and, through task definitions changed as a deploy would change them, missing roles, roles that
 * are not needed, and the many shapes a trust policy takes.
 */
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { putRole, trustPolicy } from '../local/aws/services/iam';
import { VERIFY_SEED } from '../local/aws/seed-verify';
import { AwsSession } from '../src/aws/session';
import { VerifyContext } from '../src/verify/context';
import { runChecks } from '../src/verify/engine';
import { assessTrust, executionRoleNeeds, roleChecks, type TrustTarget } from '../src/verify/checks/roles';
import type { CheckResult } from '../src/verify/types';
import { byId, TARGETS, useVerifyHarness } from './support/verify';

const harness = useVerifyHarness({ clockRate: 0 });
const ACCOUNT = VERIFY_SEED.accountId;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

const plan = async (ctx: VerifyContext) => roleChecks({ ctx, taskDefinition: await ctx.taskDefinition(), service: (await ctx.service())! });

/** Runs the roles checks on a seeded service whose task definition is changed by `change`. */
async function runChanged(alias: string, change: (td: TaskDefinition) => TaskDefinition): Promise<Record<string, CheckResult>> {
  const target = TARGETS[alias]!;
  const ctx = new VerifyContext(alias, target, new AwsSession(target, { teamId: 'T0LOCAL', userId: 'U0ALICE' }), { putLogs: false, skip: [] }, change);
  try {
    return byId(await runChecks(await plan(ctx), ctx, { timeoutMs: 10_000 }));
  } finally {
    ctx.aws.destroy();
  }
}

const calls = (action: string) => harness.aws.calls.filter((c) => c.action === action);

describe('roles: seeded services', () => {
  it('web: both roles exist and trust ecs-tasks, with the confused-deputy conditions met; one GetRole each', async () => {
    const before = calls('GetRole').length;
    const r = byId(await harness.run(plan, 'web'));
    expect(r['role:execution']).toMatchObject({
      status: 'OK',
      family: 'roles',
      title: 'Execution role `web-execution-role`',
      group: ['TaskDefinition'],
      message: 'the execution role `web-execution-role` exists and trusts `ecs-tasks.amazonaws.com` (conditions met: `aws:SourceArn`, `aws:SourceAccount`)',
    });
    expect(r['role:task']).toMatchObject({ status: 'OK', title: 'Task role `web-task-role`' });
    expect(
      calls('GetRole')
        .slice(before)
        .map((c) => c.params.RoleName)
        .sort(),
    ).toEqual(['web-execution-role', 'web-task-role']);
  });

  it('manager: both roles pass', async () => {
    const r = byId(await harness.run(plan, 'manager'));
    expect(r['role:execution']!.status).toBe('OK');
    expect(r['role:task']).toMatchObject({ status: 'OK', message: expect.stringContaining('`manager-task-role`') });
  });

  it('broken: the execution role trusts ec2.amazonaws.com (execution-role-trust), with the trust policy to set', async () => {
    const problem = VERIFY_SEED.problems.find((p) => p.id === 'execution-role-trust')!;
    const r = byId(await harness.run(plan, 'broken'));
    const exec = r['role:execution']!;
    expect(problem.resource).toBe(roleArn('broken-execution-role'));
    expect(exec.status).toBe('FAIL');
    expect(exec.message).toBe(
      'the execution role `broken-execution-role` trusts `ec2.amazonaws.com`, not `ecs-tasks.amazonaws.com`: tasks cannot start (no image pull, logs or secrets)',
    );
    const trust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:ecs:us-east-1:${ACCOUNT}:*"},"StringEquals":{"aws:SourceAccount":"${ACCOUNT}"}}}]}`;
    expect(exec.fix).toContain(`\`aws iam update-assume-role-policy --role-name broken-execution-role --policy-document '${trust}'\``);
    expect(exec.fix).toContain(
      'This replaces the whole trust policy; if something else really uses the role as `ec2.amazonaws.com`, keep its statement in the document too.',
    );
    expect(r['role:task']).toMatchObject({ status: 'OK', message: expect.stringContaining('`broken-task-role`') });
  });
});

describe('roles: changed task definitions', () => {
  it('a role that does not exist is a FAIL with the commands that create it', async () => {
    const r = await runChanged('web', (td) => ({
      ...td,
      executionRoleArn: roleArn('ghost-execution-role'),
      taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/app/ghost-task-role`,
    }));
    expect(r['role:execution']).toMatchObject({
      status: 'FAIL',
      message: `the execution role \`ghost-execution-role\` does not exist in account \`${ACCOUNT}\`: ECS cannot start tasks with it`,
    });
    expect(r['role:execution']!.fix).toMatch(
      /^Create it — `aws iam create-role --role-name ghost-execution-role --assume-role-policy-document '\{.*\}'` and `aws iam attach-role-policy --role-name ghost-execution-role --policy-arn arn:aws:iam::aws:policy\/service-role\/AmazonECSTaskExecutionRolePolicy` — or fix `executionRoleArn` in the task definition\.$/,
    );
    expect(r['role:task']!.status).toBe('FAIL');
    expect(r['role:task']!.fix).toContain('--role-name ghost-task-role --path /app/ --assume-role-policy-document');
    expect(r['role:task']!.fix).not.toContain('attach-role-policy');
  });

  it('no execution role when the task needs one names every reason', async () => {
    const r = await runChanged('web', (td) => ({ ...td, executionRoleArn: undefined }));
    expect(r['role:execution']).toMatchObject({
      status: 'FAIL',
      title: 'Execution role',
      message:
        'no execution role, but the task needs one to pull `web:v1.4.2` from Amazon ECR, send logs to CloudWatch Logs (`/ecs/web`) and read the secrets `app/DATABASE_URL` and `app/API_KEY`: ECS cannot start it',
    });
    expect(r['role:execution']!.fix).toContain('`executionRoleArn`');
    expect(r['role:execution']!.fix).toContain('AmazonECSTaskExecutionRolePolicy');
  });

  it('no execution role and none needed, no task role: SKIP', async () => {
    const r = await runChanged('web', (td) => ({
      ...td,
      executionRoleArn: undefined,
      taskRoleArn: undefined,
      containerDefinitions: [{ name: 'app', image: 'public.ecr.aws/nginx/nginx:stable', essential: true }],
    }));
    expect(r['role:execution']).toMatchObject({
      status: 'SKIP',
      message: 'no execution role, and none is needed (no private ECR image, no awslogs logging, no secrets)',
    });
    expect(r['role:task']).toMatchObject({
      status: 'SKIP',
      title: 'Task role',
      message: 'no task role: containers get no AWS credentials (fine if the application calls no AWS API)',
    });
  });

  it("a role in another account, or at another path than the role's, cannot be used", async () => {
    const r = await runChanged('web', (td) => ({
      ...td,
      taskRoleArn: 'arn:aws:iam::222222222222:role/web-task-role',
      executionRoleArn: roleArn('ops/web-execution-role'),
    }));
    expect(r['role:task']).toMatchObject({
      status: 'FAIL',
      message: `the task role \`arn:aws:iam::222222222222:role/web-task-role\` is in account \`222222222222\`, but the task runs in \`${ACCOUNT}\`: ECS can only use roles of the task's account`,
    });
    expect(r['role:execution']).toMatchObject({
      status: 'FAIL',
      message: `the task definition names the execution role \`${roleArn('ops/web-execution-role')}\`, but the role \`web-execution-role\` is \`${roleArn('web-execution-role')}\` (its path differs): ECS cannot assume the ARN as written`,
      fix: `Set \`executionRoleArn\` to \`${roleArn('web-execution-role')}\` in the task definition.`,
    });
  });

  it('a role name without ARN is looked up by name', async () => {
    const r = await runChanged('web', (td) => ({ ...td, taskRoleArn: 'web-task-role' }));
    expect(r['role:task']).toMatchObject({ status: 'OK', title: 'Task role `web-task-role`' });
  });

  it('trust conditions that shut ECS out, or that the bot cannot judge', async () => {
    const state = harness.aws.state;
    putRole(state, ACCOUNT, 'other-account-guard', {
      trust: trustPolicy({ Service: 'ecs-tasks.amazonaws.com' }, { StringEquals: { 'aws:SourceAccount': '999999999999' } }),
    });
    putRole(state, ACCOUNT, 'org-guard', {
      trust: trustPolicy({ Service: 'ecs-tasks.amazonaws.com' }, { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } }),
    });
    const r = await runChanged('web', (td) => ({ ...td, executionRoleArn: roleArn('other-account-guard'), taskRoleArn: roleArn('org-guard') }));
    expect(r['role:execution']).toMatchObject({
      status: 'FAIL',
      message:
        'the execution role `other-account-guard` trusts `ecs-tasks.amazonaws.com` only under conditions a task of this service does not meet: `aws:SourceAccount` StringEquals `999999999999`, but ECS sends `111111111111`. So tasks cannot start (no image pull, logs or secrets)',
    });
    expect(r['role:execution']!.fix).toContain('aws iam update-assume-role-policy --role-name other-account-guard');
    expect(r['role:task']).toMatchObject({
      status: 'WARN',
      message:
        'the task role `org-guard` trusts `ecs-tasks.amazonaws.com` only under conditions the bot cannot evaluate: `aws:PrincipalOrgID` StringEquals `o-abc123`',
    });
  });

  it('a Deny for ECS in the trust policy is a FAIL; trusting everyone is a WARN', async () => {
    const state = harness.aws.state;
    putRole(state, ACCOUNT, 'deny-tasks', {
      trust: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' },
          { Sid: 'Frozen', Effect: 'Deny', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      },
    });
    putRole(state, ACCOUNT, 'anyone', { trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: '*', Action: 'sts:AssumeRole' }] } });
    const r = await runChanged('web', (td) => ({ ...td, executionRoleArn: roleArn('deny-tasks'), taskRoleArn: roleArn('anyone') }));
    expect(r['role:execution']).toMatchObject({
      status: 'FAIL',
      message:
        'the trust policy of the execution role `deny-tasks` denies `ecs-tasks.amazonaws.com` (statement `Frozen`): tasks cannot start (no image pull, logs or secrets)',
    });
    expect(r['role:task']).toMatchObject({ status: 'WARN', message: expect.stringContaining('trusts every principal') });
    expect(r['role:task']!.fix).toContain('aws iam update-assume-role-policy --role-name anyone');
  });

  it('a GetRole the bot may not make is "could not check", never OK', async () => {
    const lift = harness.aws.faults.deny('iam:GetRole');
    try {
      const r = byId(await harness.run(plan, 'web'));
      for (const id of ['role:execution', 'role:task']) {
        expect(r[id]).toMatchObject({
          status: 'WARN',
          unverified: true,
          message: expect.stringMatching(/^could not check: the bot needs `iam:GetRole` on `arn:aws:iam::111111111111:role\/web-(execution|task)-role`$/),
        });
      }
    } finally {
      lift();
    }
  });
});

describe('assessTrust', () => {
  const target: TrustTarget = { partition: 'aws', region: 'us-east-1', account: ACCOUNT, cluster: 'main' };
  const assess = (doc: object, encode = true) =>
    assessTrust({ AssumeRolePolicyDocument: encode ? encodeURIComponent(JSON.stringify(doc)) : JSON.stringify(doc) }, target);
  const statement = (s: object) => ({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', ...s }] });

  it('accepts the service in a list, sts:* and *, a single Statement object, decoded or not', () => {
    expect(assess(statement({ Principal: { Service: ['ec2.amazonaws.com', 'ecs-tasks.amazonaws.com'] } })).allow).toEqual({
      wildcard: false,
      conditions: [],
      unevaluated: [],
    });
    expect(assess(statement({ Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:*' })).allow).toBeDefined();
    expect(assess(statement({ Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: ['sts:TagSession', '*'] })).allow).toBeDefined();
    expect(assess({ Statement: { Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' } }, false).allow).toBeDefined();
    expect(assess(statement({ Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:TagSession' })).allow).toBeUndefined();
  });

  it('evaluates aws:SourceAccount and aws:SourceArn like STS would for a task of this cluster', () => {
    const guard = (condition: object) => assess(statement({ Principal: { Service: 'ecs-tasks.amazonaws.com' }, Condition: condition }));
    expect(guard({ ArnLike: { 'aws:SourceArn': `arn:aws:ecs:us-east-1:${ACCOUNT}:*` } }).allow?.conditions).toEqual(['`aws:SourceArn`']);
    expect(guard({ ArnLike: { 'aws:SourceArn': `arn:aws:ecs:us-east-1:${ACCOUNT}:task/main/*` } }).allow).toBeDefined();
    expect(guard({ StringEquals: { 'aws:SourceAccount': ['222222222222', ACCOUNT] } }).allow).toBeDefined();
    expect(guard({ 'ForAnyValue:StringEqualsIfExists': { 'aws:SourceAccount': ACCOUNT } }).allow).toBeDefined();
    const wrongRegion = guard({ ArnLike: { 'aws:SourceArn': `arn:aws:ecs:eu-west-1:${ACCOUNT}:*` } });
    expect(wrongRegion.allow).toBeUndefined();
    expect(wrongRegion.rejected[0]).toContain(`but ECS sends \`arn:aws:ecs:us-east-1:${ACCOUNT}:task/main/`);
    expect(guard({ StringNotEquals: { 'aws:SourceAccount': ACCOUNT } }).allow).toBeUndefined();
  });

  it('honours Deny statements, and warns about Principal *', () => {
    const denied = assess({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' },
        { Sid: 'NoTasks', Effect: 'Deny', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:*' },
      ],
    });
    expect(denied.deny).toBe('statement `NoTasks`');
    const maybe = assess({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' },
        { Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      ],
    });
    expect(maybe).toMatchObject({ mayDeny: 'statement without Sid, when `aws:SecureTransport` Bool `false`' });
    expect(maybe.deny).toBeUndefined();
    const exceptTasks = assess({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' },
        { Effect: 'Deny', NotPrincipal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    });
    expect(exceptTasks.deny).toBeUndefined();
    expect(exceptTasks.allow).toBeDefined();
    expect(assess(statement({ Principal: '*' })).allow?.wildcard).toBe(true);
    expect(assess(statement({ Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } })).others).toEqual([`arn:aws:iam::${ACCOUNT}:root`]);
    expect(assessTrust({ AssumeRolePolicyDocument: '%7Bnot json' }, target).parseError).toBeDefined();
  });
});

describe('executionRoleNeeds', () => {
  const td: TaskDefinition = {
    requiresCompatibilities: ['EC2', 'FARGATE'],
    containerDefinitions: [
      {
        name: 'app',
        image: `${ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/web:v1`,
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web' } },
      },
      {
        name: 'proxy',
        image: 'registry.example.com/proxy:1',
        repositoryCredentials: { credentialsParameter: 'arn:aws:secretsmanager:us-east-1:1:secret:reg' },
      },
    ],
  };

  it('on Fargate: ECR, awslogs and registry credentials', () => {
    expect(executionRoleNeeds(td, { launchType: 'FARGATE' }).map((n) => n.what)).toEqual([
      'pull `web:v1` from Amazon ECR',
      'send logs to CloudWatch Logs (`/ecs/web`)',
      'read the private registry credentials of `proxy`',
    ]);
    expect(executionRoleNeeds(td, { capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT' }] })).toHaveLength(3);
  });

  it('on EC2 the instance role pulls from ECR and sends logs', () => {
    expect(executionRoleNeeds(td, { launchType: 'EC2' }).map((n) => n.what)).toEqual(['read the private registry credentials of `proxy`']);
    expect(executionRoleNeeds(td, { capacityProviderStrategy: [{ capacityProvider: 'my-asg-provider' }] })).toHaveLength(1);
  });

  it('on Fargate and EC2 at once, the Fargate tasks still need the role for ECR and awslogs', () => {
    const mixed = [
      { capacityProvider: 'my-asg-provider', weight: 1 },
      { capacityProvider: 'FARGATE_SPOT', weight: 1 },
    ];
    expect(executionRoleNeeds(td, { capacityProviderStrategy: mixed })).toHaveLength(3);
    expect(executionRoleNeeds(td, {}, { defaultCapacityProviderStrategy: mixed })).toHaveLength(3);
  });
});
