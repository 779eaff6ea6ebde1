/**
 * The logs family of `/ecs verify` against the local AWS emulator: seeded `web` and `manager`
 * pass, `broken` fails on its missing log group (VERIFY_SEED.problems `log-group-missing`), and
 * each other path (other drivers, awslogs-create-group, another region, denied permissions, the
 * bot unable to check, put-logs on and off) gives its own plain answer.
 */
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';
import { afterEach, describe, expect, it } from 'vitest';
import { VERIFY_SEED } from '../local/aws/seed-verify';
import { logsState } from '../local/aws/services/logs';
import { logChecks } from '../src/verify/checks/logs';
import type { VerifyContext } from '../src/verify/context';
import { byId, useVerifyHarness } from './support/verify';

const harness = useVerifyHarness();
const V = VERIFY_SEED;

afterEach(() => harness.aws.faults.clear());

/** The logs checks of the target's own task definition, optionally changed. */
const plan = (change?: (td: TaskDefinition) => TaskDefinition) => async (ctx: VerifyContext) => {
  const td = await ctx.taskDefinition();
  return logChecks({ ctx, taskDefinition: change ? change(structuredClone(td)) : td, service: (await ctx.service())! });
};
/** A copy of the task definition whose `app` container's log configuration (and execution role) differ. */
const withApp = (app: Partial<ContainerDefinition>, executionRoleArn?: string) => (td: TaskDefinition) => ({
  ...td,
  ...(executionRoleArn !== undefined ? { executionRoleArn } : {}),
  containerDefinitions: td.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, ...app } : c)),
});
const awslogs = (options: Record<string, string>) => ({ logConfiguration: { logDriver: 'awslogs' as const, options } });
const calls = (action: string) => harness.aws.calls.filter((c) => c.action === action);

describe('logs checks: the seeded services', () => {
  it('web: one check per log group, shared by app and log-router, OK; put-logs off is said', async () => {
    const before = calls('DescribeLogGroups').length;
    const results = await harness.run(plan(), 'web');
    const r = byId(results);
    expect(results.map((x) => x.id)).toEqual(['logs:us-east-1:/ecs/web', 'logs-write:us-east-1:/ecs/web']);
    expect(r['logs:us-east-1:/ecs/web']).toMatchObject({ status: 'OK', group: ['TaskDefinition', 'Logs'] });
    expect(r['logs:us-east-1:/ecs/web']!.message).toContain('`/ecs/web` exists in us-east-1 (30-day retention); used by containers `app` and `log-router`');
    expect(r['logs-write:us-east-1:/ecs/web']).toMatchObject({ status: 'OK' });
    expect(r['logs-write:us-east-1:/ecs/web']!.message).toContain('`web-execution-role` may create log streams and put events in `/ecs/web`');
    expect(r['logs-write:us-east-1:/ecs/web']!.message).toContain('no test line was written (put-logs is off)');
    // Two containers, one group: one lookup.
    expect(calls('DescribeLogGroups').length - before).toBe(1);
    expect(calls('CreateLogStream').filter((c) => c.params.logGroupName === '/ecs/web')).toHaveLength(0);
  });

  it('manager passes', async () => {
    const results = await harness.run(plan(), 'manager');
    expect(results.map((x) => [x.id, x.status])).toEqual([
      ['logs:us-east-1:/ecs/manager', 'OK'],
      ['logs-write:us-east-1:/ecs/manager', 'OK'],
    ]);
  });

  it('broken: the log group is missing (log-group-missing); the look-alike is named; writing is not checked', async () => {
    const problem = V.problems.find((p) => p.id === 'log-group-missing')!;
    const r = byId(await harness.run(plan(), 'broken'));
    const exists = r[`logs:us-east-1:${problem.resource}`]!;
    expect(exists.status).toBe('FAIL');
    expect(exists.message).toContain('log group `/ecs/broken` does not exist in us-east-1');
    expect(exists.message).toContain('`/ecs/broken-v1`');
    expect(exists.fix).toBe('Create it: `aws logs create-log-group --log-group-name /ecs/broken --region us-east-1`.');
    expect(r['logs-write:us-east-1:/ecs/broken']).toMatchObject({ status: 'SKIP' });
  });
});

describe('logs checks: put-logs', () => {
  it('writes one line as the bot to a stream of its own, and says so', async () => {
    const r = byId(await harness.run(plan(), 'web', { putLogs: true }));
    const write = r['logs-write:us-east-1:/ecs/web']!;
    expect(write.status).toBe('OK');
    const stream = /stream `([^`]+)`/.exec(write.message)?.[1];
    expect(stream).toMatch(/^ecs-chatops-verify\/\d{4}-\d{2}-\d{2}\/[0-9a-f]{8}$/);
    expect(write.message).toContain('as the bot (put-logs is on)');
    const written = logsState(harness.aws.state.region(V.accountId, V.region)).get('/ecs/web')!.streams.get(stream!)!;
    expect(written.events.map((e) => e.message)).toEqual(['ecs-chatops verify: web by U0ALICE']);
  });

  it('a bot that may not write gets a WARN naming the permission, never OK', async () => {
    harness.aws.faults.deny('logs:PutLogEvents');
    const write = byId(await harness.run(plan(), 'web', { putLogs: true }))['logs-write:us-east-1:/ecs/web']!;
    expect(write).toMatchObject({ status: 'WARN', unverified: true });
    expect(write.message).toContain('the test line could not be written: the bot needs `logs:PutLogEvents`');
    expect(write.fix).toContain('"Action":"logs:PutLogEvents"');
  });
});

describe('logs checks: other cases', () => {
  it('other drivers are skipped with the reason; the FireLens router is named', async () => {
    const results = await harness.run(
      plan((td) => ({
        ...td,
        containerDefinitions: [
          { ...td.containerDefinitions![0]!, logConfiguration: { logDriver: 'awsfirelens', options: { Name: 'datadog' } } },
          td.containerDefinitions![1]!, // log-router, awslogs to /ecs/web
          { name: 'splunk', image: 'x', logConfiguration: { logDriver: 'splunk', options: {} } },
          { name: 'quiet', image: 'x', logConfiguration: { logDriver: 'none' as never } },
          { name: 'bare', image: 'x' },
        ],
      })),
      'web',
    );
    const r = byId(results);
    expect(r['logs:app']).toMatchObject({ status: 'SKIP', group: ['TaskDefinition', 'Container app'] });
    expect(r['logs:app']!.message).toContain('FireLens (`log-router`)');
    expect(r['logs:splunk']!.message).toContain('log driver `splunk` sends logs outside CloudWatch');
    expect(r['logs:quiet']!.message).toContain('`none`');
    expect(r['logs:bare']!.message).toContain('no `logConfiguration`');
    expect(r['logs:us-east-1:/ecs/web']!.message).toContain('used by container `log-router`');
    expect(r['logs-write:us-east-1:/ecs/web']!.status).toBe('OK');
  });

  it('a group in another region is looked up there', async () => {
    const r = byId(await harness.run(plan(withApp(awslogs({ 'awslogs-group': '/ecs/web', 'awslogs-region': 'us-west-2' }))), 'web'));
    const other = r['logs:us-west-2:/ecs/web']!;
    expect(other.title).toBe('Log group `/ecs/web` in us-west-2');
    expect(other.status).toBe('FAIL');
    expect(other.fix).toContain('--region us-west-2');
    expect(r['logs:us-east-1:/ecs/web']!.status).toBe('OK'); // log-router's
    expect(calls('DescribeLogGroups').at(-1)!.region).toBeDefined();
    expect(harness.aws.calls.some((c) => c.action === 'DescribeLogGroups' && c.region === 'us-west-2')).toBe(true);
  });

  it('a role that may not write to the group FAILs with the statement to add', async () => {
    // web's execution role may write to /ecs/web and /ecs/manager only.
    const r = byId(await harness.run(plan(withApp(awslogs({ 'awslogs-group': '/ecs/legacy', 'awslogs-region': 'us-east-1' }))), 'web'));
    const write = r['logs-write:us-east-1:/ecs/legacy']!;
    expect(write.status).toBe('FAIL');
    expect(write.message).toContain(
      '`web-execution-role` may not `logs:CreateLogStream` on `arn:aws:logs:us-east-1:111111111111:log-group:/ecs/legacy:log-stream:*`',
    );
    expect(write.fix).toContain('aws iam put-role-policy --role-name web-execution-role');
    expect(write.fix).toContain('"Action":["logs:CreateLogStream","logs:PutLogEvents"]');
  });

  it('awslogs-create-group: a missing group is OK when the execution role may create it, FAIL when not', async () => {
    const creating = awslogs({ 'awslogs-group': '/ecs/new-app', 'awslogs-region': 'us-east-1', 'awslogs-create-group': 'true' });
    const allowed = byId(await harness.run(plan(withApp(creating, V.roles.keyAdmin)), 'web', { putLogs: true }));
    expect(allowed['logs:us-east-1:/ecs/new-app']!.status).toBe('OK');
    expect(allowed['logs:us-east-1:/ecs/new-app']!.message).toContain('does not exist yet in us-east-1; ECS creates it when a task starts');
    expect(allowed['logs-write:us-east-1:/ecs/new-app']!.message).toContain('no test line was written: the group does not exist until ECS creates it');

    const denied = byId(await harness.run(plan(withApp(creating)), 'web'))['logs:us-east-1:/ecs/new-app']!;
    expect(denied.status).toBe('FAIL');
    expect(denied.message).toContain('although `awslogs-create-group` is on, the execution role `web-execution-role` may not `logs:CreateLogGroup`');
    expect(denied.fix).toContain('aws logs create-log-group --log-group-name /ecs/new-app --region us-east-1');
    expect(denied.fix).toContain('"Action":["logs:CreateLogGroup"]');
  });

  it('awslogs without a group, and Fargate without an execution role, FAIL', async () => {
    const r = byId(
      await harness.run(
        plan((td) => ({ ...withApp(awslogs({ 'awslogs-region': 'us-east-1' }))(td), executionRoleArn: undefined })),
        'web',
      ),
    );
    expect(r['logs:app']).toMatchObject({ status: 'FAIL' });
    expect(r['logs:app']!.message).toContain('without `awslogs-group`');
    expect(r['logs-write:us-east-1:/ecs/web']).toMatchObject({ status: 'FAIL' });
    expect(r['logs-write:us-east-1:/ecs/web']!.message).toContain('no execution role, which Fargate needs');
  });
});

describe('logs checks: when the bot cannot check', () => {
  it('a denied DescribeLogGroups is a WARN naming the permission, and writing is not checked', async () => {
    harness.aws.faults.deny('logs:DescribeLogGroups');
    const r = byId(await harness.run(plan(), 'web'));
    expect(r['logs:us-east-1:/ecs/web']).toMatchObject({ status: 'WARN', unverified: true });
    expect(r['logs:us-east-1:/ecs/web']!.message).toContain('the bot needs `logs:DescribeLogGroups`');
  });

  it('no policy simulation: "not verified as the execution role", never OK', async () => {
    harness.aws.faults.deny('iam:SimulatePrincipalPolicy');
    const write = byId(await harness.run(plan(), 'web'))['logs-write:us-east-1:/ecs/web']!;
    expect(write).toMatchObject({ status: 'WARN', unverified: true });
    expect(write.message).toContain('not verified as the execution role');
    expect(write.message).toContain('iam:SimulatePrincipalPolicy');
  });

  it('throttling that clears within the SDK retries still answers OK', async () => {
    harness.aws.faults.throttle('logs:DescribeLogGroups', 2);
    expect(byId(await harness.run(plan(), 'web'))['logs:us-east-1:/ecs/web']!.status).toBe('OK');
  });
});
