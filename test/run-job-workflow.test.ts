import { ECSClient, ListTasksCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ECS_TIMINGS } from '../local/aws/state';
import type { World } from '../local/world';
import type { Job } from '../src/config/schema';
import type { RunWorkflowInput } from '../src/workflows/inputs';
import type { StateStore } from '../src/platform/state';
import { useRunWorkflowWorld } from './support/run-workflow-world';

/**
 * Jobs followed by the durable run workflow (src/workflows/run-job.ts), poll by poll with skipped
 * time (fake timers jump over each durable wait, while the task and its program run in real time).
 */
const current = useRunWorkflowWorld({ durableSkipTime: true }, (world) =>
  Object.assign(world.aws.state.ecsTimings, { provisionMs: 300, pullMs: 300, stopMs: 100 }),
);
let world: World;
let state: StateStore;
let planJob: typeof import('../src/jobs/plan').planJob;
let AwsSession: typeof import('../src/aws/session').AwsSession;
let jobs: Record<string, Job>;

beforeAll(async () => {
  ({ world, state } = current());
  ({ planJob } = await import('../src/jobs/plan'));
  ({ AwsSession } = await import('../src/aws/session'));
  jobs = (await import('../src/config/load')).getConfig().jobs;
});
afterAll(() => {
  Object.assign(world?.aws.state.ecsTimings ?? {}, DEFAULT_ECS_TIMINGS);
});

const replies = (ts: string) => current().replies(ts);
let counter = 0;

/** What the worker does before it hands a job over: parent message, lock, run record, audit record, the plan. */
async function handOver(name: string, changes: Partial<Job> = {}, overrides: Partial<RunWorkflowInput> = {}): Promise<RunWorkflowInput> {
  const runId = `jw${String(++counter).padStart(4, '0')}`;
  const job = { ...jobs[name]!, ...changes };
  const input = await current().handOver({ runId, name, args: [], target: 'web', kind: 'job', timeoutSeconds: job.timeoutSeconds });
  const aws = new AwsSession({ region: 'us-east-1' }, { teamId: world.teamId, userId: 'U0ALICE' });
  const plan = await planJob(aws, { cluster: 'main', service: 'web', region: 'us-east-1' }, { name, job, args: [], runId, userId: 'U0ALICE' });
  aws.destroy();
  return { ...input, job: plan, ...overrides };
}

const run = (payload: RunWorkflowInput) => current().run(payload);
const stepNames = (result: Awaited<ReturnType<typeof run>>) => result.getOperations().map((o) => o.getName() ?? '');
const ecs = () => new ECSClient({ region: 'us-east-1' });

describe('jobs followed by the durable run workflow', () => {
  it('starts the planned task, follows it between waits (statuses and lines in order), reports exit code 0, releases the lock', async () => {
    const input = await handOver('nightly-reindex');
    const result = await run(input);
    expect(result.getStatus()).toBe('SUCCEEDED');
    expect(result.getResult()).toMatchObject({ outcome: 'success', exitCode: 0 });
    const names = stepNames(result);
    expect(names[0]).toBe('start');
    expect(names.at(-1)).toBe('finish');
    const follows = names.filter((n) => /^follow-\d+$/.test(n));
    expect(follows.length).toBeGreaterThanOrEqual(1);
    expect(result.getResult()!.polls).toBe(follows.length);
    // Each wait is the poll interval: 5 simulated minutes.
    const waits = result.getHistoryEvents().filter((e) => e.EventType === 'WaitStarted');
    expect(waits.map((e) => e.WaitStartedDetails!.Duration)).toEqual(follows.map(() => 300));

    const thread = replies(input.parentTs);
    expect(thread).toHaveLength(2); // one living message, edited; the end
    expect(thread[0]).toMatch(/^⏹️ Job `nightly-reindex` \(run `jw\d+`\) in task `\w{12}` · PROVISIONING → .*STOPPED · .* · exit code 0\n```/);
    const shards = [...thread[0]!.matchAll(/shard (\d)\/6 rebuilt/g)].map((m) => Number(m[1]));
    expect(shards).toEqual([1, 2, 3, 4, 5, 6]);
    expect(thread[1]).toMatch(/^✅ `nightly-reindex` \(run `jw\d+`\) succeeded after/);
    expect(thread[1]).toContain('• Stop code `EssentialContainerExited`');
    expect(await state.get(input.lockKey!)).toBeUndefined();
    expect(await state.get(`run#${input.runId}`)).toBeUndefined();
    const record = await (await import('../src/audit/audit')).readAuditRecord(input.audit);
    expect(record).toMatchObject({
      outcome: 'success',
      detail: { runId: input.runId, detached: true, exitCode: 0, taskArn: expect.stringContaining(':task/main/') },
    });
  }, 60_000);

  it('stops the task at its time limit, counted in polls (StopTask with the reason): a failure, with its stop code', async () => {
    const input = await handOver('nightly-reindex', { command: ['sleep', '3600'], timeoutSeconds: 600 });
    const result = await run(input);
    expect(result.getResult()).toMatchObject({ outcome: 'failure' });
    const stop = world.aws.calls.filter((c) => c.action === 'StopTask').at(-1)!;
    expect(stop.params.reason).toBe(`Stopped by ecs-chatops: run ${input.runId} reached its time limit of 600 s`);
    // Two polls of 5 minutes reach 10 minutes; then it is looked at every 5 s until it has stopped.
    const waits = result.getHistoryEvents().filter((e) => e.EventType === 'WaitStarted');
    expect(waits.slice(0, 2).map((e) => e.WaitStartedDetails!.Duration)).toEqual([300, 300]);
    expect(waits.slice(2).every((e) => e.WaitStartedDetails!.Duration === 5)).toBe(true);
    const end = replies(input.parentTs).at(-1)!;
    expect(end).toMatch(/^⏱️ `nightly-reindex` \(run `jw\d+`\) was stopped after .*: a failure\. It reached its time limit \(10 min 0 s\)\./);
    expect(end).toContain('• Stop code `UserInitiated`');
  }, 60_000);

  it('a task ECS cannot place: the failure with ECS’s reason, nothing to follow', async () => {
    const input = await handOver('bulk-import');
    const result = await run(input);
    expect(stepNames(result).filter((n) => /^(start|follow-\d+|finish)$/.test(n))).toEqual(['start', 'finish']);
    expect(result.getResult()).toMatchObject({ outcome: 'failure', polls: 0 });
    expect(replies(input.parentTs).at(-1)).toMatch(/^❌ `bulk-import` \(run `jw\d+`\) could not start: ECS placed no task: Capacity is unavailable/);
    expect(await state.get(input.lockKey!)).toBeUndefined();
  }, 60_000);

  it('an execution that starts again with the same run never starts a second task (the clientToken)', async () => {
    const input = await handOver('nightly-reindex');
    await run(input);
    await run(input);
    expect(world.aws.calls.filter((c) => c.action === 'RunTask' && c.params.startedBy === input.runId)).toHaveLength(2);
    const { taskArns } = await ecs().send(new ListTasksCommand({ cluster: 'main', startedBy: input.runId, desiredStatus: 'STOPPED' }));
    expect(taskArns).toHaveLength(1);
    // Its end was posted once.
    expect(replies(input.parentTs).filter((t) => t.startsWith('✅'))).toHaveLength(1);
  }, 60_000);
});
