/**
 * What the simulated ECS tells EventBridge (shared/reference/ecs-events.md §2–§4): task state
 * changes with rising `detail.version`, deployment state changes through the circuit breaker's
 * rollback, service actions (steady state and its repeats, start impaired, placement failure),
 * the crash-loop fault and its clearing, and the awslogs lines the crashing containers leave.
 */
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type RegisterTaskDefinitionCommandInput,
} from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SAMPLE, startAwsEmulator, type AwsEmulator } from '../local/aws';
import type { EmittedEvent } from '../local/aws/events-contract';
import { STEADY_STATE_REPEAT_MS } from '../local/aws/rollout';
import { CollectingSink, keys, MILLIS_Z, REFERENCE_KEYS, SECONDS_Z } from './support/event-sink';

const S = 1000;
const OOM = 'OutOfMemoryError: Container killed due to memory usage';
let emu: AwsEmulator;
let ecs: ECSClient;
let logs: CloudWatchLogsClient;
let sink: CollectingSink;

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  sink = new CollectingSink();
  emu.state.events = sink;
  const config = { region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } };
  ecs = new ECSClient(config);
  logs = new CloudWatchLogsClient(config);
});
afterEach(async () => {
  ecs.destroy();
  logs.destroy();
  await emu.close();
});

async function deployWeb(image: string, breaker?: { enable: boolean; rollback: boolean }): Promise<string> {
  const current = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))).taskDefinition!;
  const input = {
    ...current,
    containerDefinitions: current.containerDefinitions!.map((c) => (c.name === 'app' ? { ...c, image } : c)),
  } as RegisterTaskDefinitionCommandInput;
  const def = (await ecs.send(new RegisterTaskDefinitionCommand(input))).taskDefinition!;
  const { service } = await ecs.send(
    new UpdateServiceCommand({
      cluster: 'main',
      service: 'web',
      taskDefinition: def.taskDefinitionArn,
      ...(breaker ? { deploymentConfiguration: { deploymentCircuitBreaker: breaker } } : {}),
    }),
  );
  return service!.deployments![0]!.id!;
}

const web = async () => (await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }))).services![0]!;
const taskArnsOf = (events: EmittedEvent[], startedBy?: string) => [
  ...new Set(
    events
      .filter((e) => e['detail-type'] === 'ECS Task State Change' && (!startedBy || e.detail.startedBy === startedBy))
      .map((e) => e.detail.taskArn as string),
  ),
];
const statuses = (events: EmittedEvent[]) => events.map((e) => [e.detail.version, e.detail.desiredStatus, e.detail.lastStatus]);
const deploymentEvents = () => sink.of('ECS Deployment State Change').map((e) => [e.detail.eventName, e.detail.deploymentId, e.detail.reason]);
const containerOf = (event: EmittedEvent, name: string) => (event.detail.containers as Array<Record<string, unknown>>).find((c) => c.name === name)!;

describe('ECS Task State Change', () => {
  it('one event per change of a new task, version rising by one, fields as AWS documents them', async () => {
    const id = await deployWeb(SAMPLE.images.webNext);
    emu.clock.advance(60 * S);
    const [first] = taskArnsOf(sink.events, id);
    const events = sink.task(first!);
    expect(statuses(events)).toEqual([
      [1, 'RUNNING', 'PROVISIONING'],
      [2, 'RUNNING', 'PENDING'],
      [3, 'RUNNING', 'RUNNING'],
      [4, 'RUNNING', 'RUNNING'], // health checks pass
    ]);
    const running = events[2]!;
    expect(keys(running)).toEqual(REFERENCE_KEYS.envelope);
    expect(running).toMatchObject({ source: 'aws.ecs', account: '111111111111', region: 'us-east-1', resources: [first] });
    expect(running.time).toMatch(SECONDS_Z);
    // AWS's Fargate example, plus the schema's startedBy (a service's tasks have it).
    expect(keys(running.detail)).toEqual([...REFERENCE_KEYS.fargateRunningTask, 'startedBy'].sort());
    expect(running.detail).toMatchObject({ group: 'service:web', startedBy: id, launchType: 'FARGATE', clusterArn: SAMPLE.clusterArn });
    for (const field of ['createdAt', 'startedAt', 'updatedAt', 'pullStartedAt', 'pullStoppedAt', 'connectivityAt'])
      expect(running.detail[field]).toMatch(MILLIS_Z);
    expect(keys(containerOf(running, 'app'))).toEqual(REFERENCE_KEYS.runningContainer);
    expect((running.detail.attachments as Array<{ type: string }>)[0]!.type).toBe('eni');
    // Before RUNNING there is no startedAt, and never a stop field on a live task.
    expect(events[0]!.detail).not.toHaveProperty('startedAt');
    for (const e of events) for (const f of ['stopCode', 'stoppedReason', 'stoppingAt', 'stoppedAt']) expect(e.detail).not.toHaveProperty(f);
  });

  it('a replaced task first shows desired STOPPED while deactivating, then STOPPED with its stop fields', async () => {
    const id = await deployWeb(SAMPLE.images.webNext);
    emu.clock.advance(120 * S);
    const [old] = SAMPLE.tasks.webRunning;
    const stops = sink.events.filter((e) => (e.detail.taskArn as string | undefined)?.endsWith(old!));
    expect(stops.map((e) => [e.detail.desiredStatus, e.detail.lastStatus])).toEqual([
      ['STOPPED', 'DEACTIVATING'],
      ['STOPPED', 'STOPPED'],
    ]);
    expect(stops[1]!.detail.version).toBe((stops[0]!.detail.version as number) + 1);
    expect(stops[0]!.detail).toMatchObject({ stopCode: 'ServiceSchedulerInitiated', stoppedReason: `Scaling activity initiated by (deployment ${id})` });
    expect(stops[0]!.detail).not.toHaveProperty('stoppedAt');
    expect(stops[1]!.detail.stoppedAt).toMatch(MILLIS_Z);
    expect(stops[1]!.detail.executionStoppedAt).toMatch(MILLIS_Z);
    expect(containerOf(stops[1]!, 'app')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });
  });

  it("a crashed task's STOPPED events carry the exit code; its logs end in the error", async () => {
    const id = await deployWeb(SAMPLE.images.webCrash);
    emu.clock.advance(35 * S);
    const [crashed] = taskArnsOf(sink.events, id);
    const events = sink.task(crashed!);
    expect(statuses(events)).toEqual([
      [1, 'RUNNING', 'PROVISIONING'],
      [2, 'RUNNING', 'PENDING'],
      [3, 'RUNNING', 'RUNNING'],
      [4, 'STOPPED', 'RUNNING'],
      [5, 'STOPPED', 'STOPPED'],
    ]);
    const [stopping, stopped] = events.slice(3);
    expect(stopping!.detail).toMatchObject({ stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' });
    expect(containerOf(stopping!, 'app')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 1 });
    expect(stopped!.detail).toMatchObject({ stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' });
    for (const f of ['stoppingAt', 'executionStoppedAt', 'stoppedAt', 'startedAt']) expect(stopped!.detail[f]).toMatch(MILLIS_Z);
    expect(containerOf(stopped!, 'app')).toMatchObject({ exitCode: 1 });
    expect(containerOf(stopped!, 'log-router')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 0 });

    const taskId = crashed!.split('/').at(-1);
    const { events: lines } = await logs.send(new GetLogEventsCommand({ logGroupName: '/ecs/web', logStreamName: `web/app/${taskId}`, startFromHead: true }));
    const messages = lines!.map((e) => e.message);
    expect(messages[0]).toMatch(/start/);
    expect(messages).toContainEqual(expect.stringMatching(/^TypeError: /));
    expect(messages).toContainEqual(expect.stringMatching(/^\s+at /));
    expect(
      lines!.every((e) => e.timestamp! >= Date.parse(stopped!.detail.startedAt as string) && e.timestamp! <= Date.parse(stopped!.detail.stoppedAt as string)),
    ).toBe(true);
  });

  it('a pull failure never runs: desired STOPPED while PENDING, then STOPPED, no exit code', async () => {
    const id = await deployWeb(`${SAMPLE.images.web.replace(/:[^:]+$/, '')}:does-not-exist`);
    emu.clock.advance(30 * S);
    const [failed] = taskArnsOf(sink.events, id);
    const events = sink.task(failed!);
    expect(statuses(events).slice(-2)).toEqual([
      [3, 'STOPPED', 'PENDING'],
      [4, 'STOPPED', 'STOPPED'],
    ]);
    expect(events.at(-1)!.detail).toMatchObject({ stopCode: 'TaskFailedToStart' });
    expect(events.at(-1)!.detail).not.toHaveProperty('startedAt');
    expect(containerOf(events.at(-1)!, 'app')).not.toHaveProperty('exitCode');
    expect(containerOf(events.at(-1)!, 'app').reason).toMatch(/^CannotPullContainerError: /);
  });
});

describe('ECS Deployment State Change', () => {
  it('the circuit breaker: IN_PROGRESS → FAILED → IN_PROGRESS (rollback) → COMPLETED', async () => {
    const id = await deployWeb(`${SAMPLE.images.web.replace(/:[^:]+$/, '')}:does-not-exist`, { enable: true, rollback: true });
    emu.clock.advance(180 * S);
    const rollback = (await web()).deployments![0]!.id!;
    expect(rollback).not.toBe(id);
    expect(deploymentEvents()).toEqual([
      ['SERVICE_DEPLOYMENT_IN_PROGRESS', id, `ECS deployment ${id} in progress.`],
      ['SERVICE_DEPLOYMENT_FAILED', id, 'ECS deployment circuit breaker: task failed to start.'],
      ['SERVICE_DEPLOYMENT_IN_PROGRESS', rollback, `ECS deployment circuit breaker: rolling back to deploymentId ${SAMPLE.deployments.web}.`],
      ['SERVICE_DEPLOYMENT_COMPLETED', rollback, `ECS deployment ${rollback} completed.`],
    ]);
    const events = sink.of('ECS Deployment State Change');
    for (const e of events) {
      expect(keys(e.detail)).toEqual(REFERENCE_KEYS.deployment);
      expect(e.resources).toEqual([SAMPLE.services.web]);
      expect(e.detail.updatedAt).toMatch(SECONDS_Z);
      expect(e.time).toBe(e.detail.updatedAt);
    }
    expect(events.map((e) => e.detail.eventType)).toEqual(['INFO', 'ERROR', 'INFO', 'INFO']);
    // The rolled-back service is steady again, and says so.
    expect(sink.named('SERVICE_STEADY_STATE')).toHaveLength(1);
  });

  it('no FAILED without the circuit breaker: a failing deployment stays IN_PROGRESS', async () => {
    const id = await deployWeb(SAMPLE.images.webCrash, { enable: false, rollback: false });
    emu.clock.advance(600 * S);
    expect(deploymentEvents().map(([name]) => name)).toEqual(['SERVICE_DEPLOYMENT_IN_PROGRESS']);
    expect((await web()).deployments![0]).toMatchObject({ id, rolloutState: 'IN_PROGRESS' });
  });
});

describe('ECS Service Action', () => {
  it('SERVICE_STEADY_STATE when steady, then again every 6 hours of steadiness and not more often', async () => {
    await deployWeb(SAMPLE.images.webNext);
    emu.clock.advance(120 * S);
    const [steady] = sink.named('SERVICE_STEADY_STATE');
    expect(keys(steady!.detail)).toEqual(REFERENCE_KEYS.steadyState);
    expect(steady!).toMatchObject({ 'detail-type': 'ECS Service Action', resources: [SAMPLE.services.web] });
    expect(steady!.detail).toMatchObject({ eventType: 'INFO', clusterArn: SAMPLE.clusterArn });
    expect(steady!.detail.createdAt).toMatch(MILLIS_Z);
    const at = Date.parse(steady!.detail.createdAt as string);

    for (let i = 0; i < 13 * 6; i++) emu.clock.advance(10 * 60 * S); // 13 hours in 10-minute steps
    const webRepeats = sink.named('SERVICE_STEADY_STATE').filter((e) => e.resources[0] === SAMPLE.services.web);
    expect(webRepeats.map((e) => Date.parse(e.detail.createdAt as string) - at)).toEqual([0, STEADY_STATE_REPEAT_MS, 2 * STEADY_STATE_REPEAT_MS]);
    // Nothing in the service's own events: the repeats are EventBridge's.
    expect((await web()).events!.filter((e) => /steady state/.test(e.message!) && +e.createdAt! >= at)).toHaveLength(1);
  });

  it('SERVICE_TASK_START_IMPAIRED (WARN) once tasks have failed 3 times in a row', async () => {
    await deployWeb(SAMPLE.images.webCrash, { enable: false, rollback: false });
    emu.clock.advance(35 * S); // two crashes
    expect(sink.named('SERVICE_TASK_START_IMPAIRED')).toEqual([]);
    emu.clock.advance(65 * S); // two more
    const impaired = sink.named('SERVICE_TASK_START_IMPAIRED');
    expect(impaired).toHaveLength(1);
    expect(impaired[0]!.detail).toMatchObject({ eventType: 'WARN', clusterArn: SAMPLE.clusterArn });
    expect(keys(impaired[0]!.detail)).toEqual(REFERENCE_KEYS.steadyState);
  });

  it('placement failure: nothing launched, SERVICE_TASK_PLACEMENT_FAILURE on each attempt with back-off, then placed once cleared', async () => {
    const clear = emu.state.failPlacements('web', 'RESOURCE:FARGATE');
    const t0 = emu.clock.now();
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', forceNewDeployment: true }));
    emu.clock.advance(100 * S);
    const failures = sink.named('SERVICE_TASK_PLACEMENT_FAILURE');
    // Attempts at 0, 15, 45 s (back-off 15 s, 30 s, 60 s…).
    expect(failures.map((e) => (Date.parse(e.detail.createdAt as string) - t0) / S)).toEqual([0, 15, 45]);
    expect(keys(failures[0]!.detail)).toEqual(REFERENCE_KEYS.placementFailureFargate);
    expect(failures[0]!.detail).toMatchObject({
      eventType: 'ERROR',
      reason: 'RESOURCE:FARGATE',
      capacityProviderArns: ['arn:aws:ecs:us-east-1:111111111111:capacity-provider/FARGATE'],
    });
    expect(taskArnsOf(sink.events)).toEqual([]);
    const messages = (await web()).events!.map((e) => e.message);
    expect(messages[0]).toBe(
      '(service web) was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone.',
    );

    clear();
    emu.clock.advance(300 * S);
    expect(sink.named('SERVICE_TASK_PLACEMENT_FAILURE')).toHaveLength(3);
    expect(deploymentEvents().map(([name]) => name)).toEqual(['SERVICE_DEPLOYMENT_IN_PROGRESS', 'SERVICE_DEPLOYMENT_COMPLETED']);
    expect(sink.named('SERVICE_STEADY_STATE')).toHaveLength(1);
  });

  it('placement failure for CPU names the container instance, as in AWS’s EC2 example', async () => {
    emu.state.failPlacements(SAMPLE.services.web, 'RESOURCE:CPU');
    await ecs.send(new UpdateServiceCommand({ cluster: 'main', service: 'web', forceNewDeployment: true }));
    const [failure] = sink.named('SERVICE_TASK_PLACEMENT_FAILURE');
    expect(keys(failure!.detail)).toEqual(REFERENCE_KEYS.placementFailureCpu);
    expect(failure!.detail.containerInstanceArns).toEqual([
      expect.stringMatching(/^arn:aws:ecs:us-east-1:111111111111:container-instance\/main\/[0-9a-f]{32}$/),
    ]);
    expect((await web()).events![0]!.message).toMatch(
      /^\(service web\) was unable to place a task because no container instance met all of its requirements\. The closest matching \(container-instance [0-9a-f]{32}\) has insufficient CPU units available\./,
    );
  });
});

describe('crash loop', () => {
  it('a steady service crashes OOM again and again with back-off, and is steady again once cleared', async () => {
    const t0 = emu.clock.now();
    const clear = emu.state.crashLoop('web', { exitCode: 137, reason: OOM });
    emu.clock.advance(20 * 60 * S); // both tasks crash at 5 s, 85 s, 255 s, 785 s: the back-off doubles per failure
    const ofWeb = () => sink.of('ECS Task State Change').filter((e) => e.detail.group === 'service:web');
    const stopped = ofWeb().filter((e) => e.detail.lastStatus === 'STOPPED');
    expect(stopped.length).toBeGreaterThanOrEqual(8);
    for (const e of stopped) {
      expect(e.detail).toMatchObject({ group: 'service:web', stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' });
      expect(containerOf(e, 'app')).toMatchObject({ exitCode: 137, reason: OOM });
    }
    // The seeded tasks crash 5 s after the fault; relaunches wait longer and longer (ECS's back-off).
    expect((Date.parse(stopped[0]!.detail.stoppedAt as string) - t0) / S).toBe(5);
    const launches = [
      ...new Set(
        ofWeb()
          .filter((e) => e.detail.version === 1)
          .map((e) => Date.parse(e.detail.createdAt as string)),
      ),
    ];
    const gaps = launches.slice(1).map((t, i) => t - launches[i]!);
    expect(gaps.every((gap, i) => i === 0 || gap >= gaps[i - 1]!)).toBe(true);
    expect(gaps.at(-1)!).toBeGreaterThan(gaps[0]!);
    expect(sink.named('SERVICE_TASK_START_IMPAIRED').filter((e) => e.resources[0] === SAMPLE.services.web)).toHaveLength(1);
    expect(sink.of('ECS Deployment State Change')).toEqual([]); // the deployment itself stays COMPLETED

    // The OOM-killed container's log shows its heap growing until it was killed.
    const taskId = (stopped.at(-1)!.detail.taskArn as string).split('/').at(-1);
    const { events: lines } = await logs.send(new GetLogEventsCommand({ logGroupName: '/ecs/web', logStreamName: `web/app/${taskId}` }));
    const heap = lines!
      .map((e) => /"heapUsedMB":(\d+)/.exec(e.message!)?.[1])
      .filter(Boolean)
      .map(Number);
    expect(heap.length).toBeGreaterThan(2);
    expect(heap).toEqual([...heap].sort((a, b) => a - b));

    clear();
    const before = sink.named('SERVICE_STEADY_STATE').length;
    emu.clock.advance(30 * 60 * S);
    const service = await web();
    expect(service.runningCount).toBe(2);
    expect(sink.named('SERVICE_STEADY_STATE').length).toBe(before + 1);
    expect(sink.named('SERVICE_STEADY_STATE').at(-1)!.resources).toEqual([SAMPLE.services.web]);
    expect(service.events![0]!.message).toBe('(service web) has reached a steady state.');
    const crashesAfter = ofWeb().filter((e) => e.detail.lastStatus === 'STOPPED' && Date.parse(e.detail.stoppedAt as string) > emu.clock.now() - 20 * 60 * S);
    expect(crashesAfter).toEqual([]);
  });

  it('runs on its own in real time while an event sink listens: no ECS call needed', async () => {
    await emu.close();
    emu = await startAwsEmulator({ clockRate: 1 });
    Object.assign(emu.state.ecsTimings, { crashAfterMs: 30, retryBaseMs: 30, provisionMs: 20, pullMs: 20, healthyMs: 200 });
    sink = new CollectingSink();
    emu.state.events = sink;
    emu.state.crashLoop('web', { exitCode: 137, reason: OOM });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(emu.calls).toEqual([]);
    const crashes = sink.of('ECS Task State Change').filter((e) => e.detail.group === 'service:web' && e.detail.lastStatus === 'STOPPED');
    expect(crashes.length).toBeGreaterThanOrEqual(2);
    expect(containerOf(crashes[0]!, 'app')).toMatchObject({ exitCode: 137, reason: OOM });
  });
});
