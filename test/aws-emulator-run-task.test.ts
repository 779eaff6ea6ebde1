import {
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  RunTaskCommand,
  type RunTaskCommandInput,
  StopTaskCommand,
  type Task,
} from '@aws-sdk/client-ecs';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';

const region = 'us-east-1';
let emu: AwsEmulator;
let ecs: ECSClient;
let logs: CloudWatchLogsClient;
const events: Array<{ detail: Record<string, unknown> }> = [];

beforeAll(async () => {
  emu = await startAwsEmulator();
  emu.state.events = { emit: (e: unknown) => events.push(e as never) } as never;
  const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };
  ecs = new ECSClient({ region, endpoint: emu.url, credentials });
  logs = new CloudWatchLogsClient({ region, endpoint: emu.url, credentials });
});
afterAll(async () => {
  await emu?.close();
});

/** What `/ecs job` sends: web's task definition, network and launch type, with a command. */
async function webRequest(command: string[], extra: Partial<RunTaskCommandInput> = {}): Promise<RunTaskCommandInput> {
  const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }));
  const web = services![0]!;
  return {
    cluster: 'main',
    taskDefinition: web.taskDefinition,
    launchType: web.launchType,
    networkConfiguration: web.networkConfiguration,
    overrides: { containerOverrides: [{ name: 'app', command }] },
    ...extra,
  };
}

const describeTask = async (arn: string): Promise<Task> => (await ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: [arn] }))).tasks![0]!;
/** Plays the task's life to its end on the emulator clock, noting each lastStatus seen. */
async function live(arn: string): Promise<{ task: Task; seen: string[] }> {
  const seen: string[] = [];
  for (let i = 0; i < 200; i++) {
    const task = await describeTask(arn);
    if (seen.at(-1) !== task.lastStatus) seen.push(task.lastStatus!);
    if (task.lastStatus === 'STOPPED') return { task, seen };
    emu.clock.advance(500);
  }
  throw new Error('the task never stopped');
}

describe('RunTask: a one-off task', () => {
  it('lives PROVISIONING → PENDING → RUNNING → DEPROVISIONING → STOPPED, its program’s lines in its awslogs stream, its exit code 0', async () => {
    const { tasks, failures } = await ecs.send(
      new RunTaskCommand(
        await webRequest(['bin/migrate', 'latest'], { startedBy: 'run-abc123', tags: [{ key: 'slack-user', value: 'U1' }], clientToken: 'tok-migrate' }),
      ),
    );
    expect(failures).toEqual([]);
    const task = tasks![0]!;
    expect(task).toMatchObject({ lastStatus: 'PROVISIONING', desiredStatus: 'RUNNING', startedBy: 'run-abc123', group: 'family:web', launchType: 'FARGATE' });
    expect(task.overrides?.containerOverrides).toEqual([{ name: 'app', command: ['bin/migrate', 'latest'] }]);
    const { task: stopped, seen } = await live(task.taskArn!);
    expect(seen).toEqual(['PROVISIONING', 'PENDING', 'RUNNING', 'DEPROVISIONING', 'STOPPED']);
    expect(stopped).toMatchObject({ stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' });
    expect(stopped.containers!.find((c) => c.name === 'app')!.exitCode).toBe(0);
    const id = task.taskArn!.split('/').at(-1);
    const { events: lines } = await logs.send(new GetLogEventsCommand({ logGroupName: '/ecs/web', logStreamName: `web/app/${id}`, startFromHead: true }));
    expect(lines!.map((e) => e.message)).toContainEqual(expect.stringMatching(/^== 0042_backfill_totals: migrated \(0\.\ds\)$/));
    expect(lines!.at(-1)!.message).toMatch(/^migrate: done, 3 applied/);
    // Every change was a Task State Change event too.
    const statuses = events.filter((e) => e.detail.taskArn === task.taskArn).map((e) => e.detail.lastStatus);
    expect(statuses).toEqual(expect.arrayContaining(['PROVISIONING', 'PENDING', 'RUNNING', 'STOPPED']));
  });

  it('writes each line only once the program has printed it', async () => {
    const { tasks } = await ecs.send(new RunTaskCommand(await webRequest(['bin/tick', '5', '1000'])));
    const arn = tasks![0]!.taskArn!;
    const stream = { logGroupName: '/ecs/web', logStreamName: `web/app/${arn.split('/').at(-1)}` };
    emu.clock.advance(emu.state.ecsTimings.provisionMs + emu.state.ecsTimings.pullMs + 2500);
    const early = await logs.send(new GetLogEventsCommand({ ...stream, startFromHead: true }));
    expect(early.events!.map((e) => e.message)).toEqual(['tick 1', 'tick 2']);
    emu.clock.advance(2000);
    const later = await logs.send(new GetLogEventsCommand({ ...stream, nextToken: early.nextForwardToken }));
    expect(later.events!.map((e) => e.message)).toEqual(['tick 3', 'tick 4']);
  });

  it('reports a failing program’s exit code, and a command the image lacks as TaskFailedToStart without exit code', async () => {
    const broken = await ecs.send(new RunTaskCommand(await webRequest(['bin/migrate', '0043_broken'])));
    const { task } = await live(broken.tasks![0]!.taskArn!);
    expect(task.stopCode).toBe('EssentialContainerExited');
    expect(task.containers!.find((c) => c.name === 'app')!.exitCode).toBe(2);

    const missing = await ecs.send(new RunTaskCommand(await webRequest(['bin/nope'])));
    const { task: never, seen } = await live(missing.tasks![0]!.taskArn!);
    expect(seen).not.toContain('RUNNING');
    expect(never.stopCode).toBe('TaskFailedToStart');
    expect(never.stoppedReason).toMatch(/^CannotStartContainerError: .*exec: "bin\/nope": executable file not found/);
    expect(never.containers!.every((c) => c.exitCode === undefined)).toBe(true);
  });

  it('an image that does not exist never starts: CannotPullContainerError, TaskFailedToStart', async () => {
    const request = await webRequest(['bin/reindex'], { taskDefinition: 'reindex' });
    const { task } = await live((await ecs.send(new RunTaskCommand(request))).tasks![0]!.taskArn!);
    expect(task.stopCode).toBe('TaskFailedToStart');
    expect(task.stoppedReason).toMatch(/^CannotPullContainerError: .*web:does-not-exist/);
    expect(task.containers![0]!.exitCode).toBeUndefined();
  });

  it('a task that cannot be placed is a failure of the call, no task', async () => {
    const request = await webRequest(['bin/import'], { taskDefinition: 'bulk-import' });
    const { tasks, failures } = await ecs.send(new RunTaskCommand(request));
    expect(tasks).toEqual([]);
    expect(failures).toEqual([{ reason: 'Capacity is unavailable at this time. Please try again later or in a different availability zone' }]);
  });

  it('clientToken: the same request answers the same task; a different one with that token is refused', async () => {
    const request = await webRequest(['sleep', '60'], { clientToken: 'run-idem-1', startedBy: 'run-idem' });
    const first = await ecs.send(new RunTaskCommand(request));
    emu.clock.advance(1000);
    const again = await ecs.send(new RunTaskCommand(request));
    expect(again.tasks!.map((t) => t.taskArn)).toEqual(first.tasks!.map((t) => t.taskArn));
    await expect(
      ecs.send(new RunTaskCommand({ ...request, overrides: { containerOverrides: [{ name: 'app', command: ['sleep', '61'] }] } })),
    ).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });

  it('refuses what ECS refuses, creating nothing', async () => {
    const base = await webRequest(['echo', 'hi']);
    const refused = async (input: RunTaskCommandInput) => ecs.send(new RunTaskCommand(input)).catch((e: Error) => ({ name: e.name, message: e.message }));
    expect(await refused({ ...base, cluster: 'nope' })).toEqual({ name: 'ClusterNotFoundException', message: 'Cluster not found.' });
    expect(await refused({ ...base, taskDefinition: 'nope' })).toEqual({ name: 'ClientException', message: 'Unable to describe task definition.' });
    expect(await refused({ ...base, capacityProviderStrategy: [{ capacityProvider: 'FARGATE' }] })).toMatchObject({
      name: 'InvalidParameterException',
      message: 'Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.',
    });
    expect(await refused({ ...base, networkConfiguration: undefined })).toEqual({
      name: 'InvalidParameterException',
      message: "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
    });
    expect(await refused({ ...base, overrides: { containerOverrides: [{ name: 'worker', command: ['x'] }] } })).toEqual({
      name: 'InvalidParameterException',
      message: 'Override for container named worker is not a container in the TaskDefinition.',
    });
    expect(await refused({ ...base, overrides: { cpu: '256', memory: '8192' } })).toMatchObject({ name: 'InvalidParameterException' });
    expect(await refused({ ...base, overrides: { containerOverrides: [{ name: 'app', command: ['x'.repeat(9000)] }] } })).toEqual({
      name: 'InvalidParameterException',
      message: 'Container Overrides length must be at most 8192',
    });
    expect(await refused({ ...base, startedBy: 'has spaces' })).toMatchObject({ name: 'InvalidParameterException' });
  });
});

describe('StopTask', () => {
  it('stops a running job: SIGTERM exit 143, stopCode UserInitiated with the reason given', async () => {
    const { tasks } = await ecs.send(new RunTaskCommand(await webRequest(['sleep', '600'])));
    const arn = tasks![0]!.taskArn!;
    emu.clock.advance(emu.state.ecsTimings.provisionMs + emu.state.ecsTimings.pullMs + 1000);
    expect((await describeTask(arn)).lastStatus).toBe('RUNNING');
    const { task } = await ecs.send(new StopTaskCommand({ cluster: 'main', task: arn, reason: 'Cancelled in Slack by @alice' }));
    expect(task).toMatchObject({ desiredStatus: 'STOPPED', stopCode: 'UserInitiated', stoppedReason: 'Cancelled in Slack by @alice' });
    const { task: stopped } = await live(arn);
    expect(stopped.containers!.find((c) => c.name === 'app')!.exitCode).toBe(143);
    expect(stopped.stopCode).toBe('UserInitiated');
  });

  it('a task stopped before it ran has no exit code', async () => {
    const { tasks } = await ecs.send(new RunTaskCommand(await webRequest(['sleep', '600'])));
    await ecs.send(new StopTaskCommand({ cluster: 'main', task: tasks![0]!.taskArn! }));
    const { task } = await live(tasks![0]!.taskArn!);
    expect(task.stoppedReason).toBe('Task stopped by user');
    expect(task.containers!.every((c) => c.exitCode === undefined)).toBe(true);
  });

  it('an unknown task is refused', async () => {
    await expect(ecs.send(new StopTaskCommand({ cluster: 'main', task: '0123456789abcdef0123456789abcdef' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
      message: 'The referenced task was not found.',
    });
  });
});
