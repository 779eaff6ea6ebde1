import { describe, expect, it } from 'vitest';
import { classifyStop, readEvent, severityOf, stopSignature, type TaskStopNotice } from '../src/notify/events';

/**
 * AWS's documented examples (../shared/reference/ecs-events.md, from the ECS developer guide and
 * the CloudWatch user guide), with the fields a stop carries where the examples show a RUNNING task.
 */
const envelope = (detailType: string, source: string, detail: unknown, resources: string[], extra: Record<string, unknown> = {}) => ({
  version: '0',
  id: '3317b2af-7005-947d-b652-f55e762e571a',
  'detail-type': detailType,
  source,
  account: '111122223333',
  time: '2020-01-23T17:57:58Z',
  region: 'us-west-2',
  resources,
  detail,
  ...extra,
});

const TASK_ARN = 'arn:aws:ecs:us-west-2:111122223333:task/FargateCluster/c13b4cb40f1f4fe4a2971f76ae5a47ad';
const taskDetail = (overrides: Record<string, unknown>) => ({
  attachments: [{ id: '1789bcae-ddfb-4d10-8ebe-8ac87ddba5b8', type: 'eni', status: 'DELETED', details: [{ name: 'subnetId', value: 'subnet-abcd1234' }] }],
  availabilityZone: 'us-west-2c',
  clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster',
  containers: [
    {
      containerArn: 'arn:aws:ecs:us-west-2:111122223333:container/cf159fd6-3e3f-4a9e-84f9-66cbe726af01',
      lastStatus: 'STOPPED',
      name: 'FargateApp',
      image: '111122223333.dkr.ecr.us-west-2.amazonaws.com/hello-repository:latest',
      taskArn: TASK_ARN,
      cpu: '0',
    },
  ],
  createdAt: '2020-01-23T17:57:34.402Z',
  launchType: 'FARGATE',
  cpu: '256',
  memory: '512',
  desiredStatus: 'STOPPED',
  group: 'service:sample-fargate',
  lastStatus: 'STOPPED',
  startedBy: 'ecs-svc/1234567890123456789',
  taskArn: TASK_ARN,
  taskDefinitionArn: 'arn:aws:ecs:us-west-2:111122223333:task-definition/sample-fargate:1',
  updatedAt: '2020-01-23T17:58:58.103Z',
  version: 6,
  ...overrides,
});
const withContainer = (container: Record<string, unknown>) => [{ ...taskDetail({}).containers[0], ...container }];
const task = (overrides: Record<string, unknown>) =>
  readEvent(envelope('ECS Task State Change', 'aws.ecs', taskDetail(overrides), [TASK_ARN])) as TaskStopNotice;

describe('ECS Task State Change (STOPPED)', () => {
  it('an essential container exiting 1 is a crash, named by its container and exit code', () => {
    const notice = task({
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: withContainer({ exitCode: 1 }),
      startedAt: '2020-01-23T17:57:58.103Z',
    });
    expect(notice).toMatchObject({
      kind: 'task-stopped',
      stop: 'crash',
      where: { account: '111122223333', region: 'us-west-2', cluster: 'FargateCluster', service: 'sample-fargate' },
      version: 6,
    });
    expect(stopSignature(notice)).toBe('exit 1 in FargateApp');
    expect(severityOf(notice)).toBe('warning');
  });

  it('exit 137 with ECS’s OutOfMemoryError reason is an OOM kill', () => {
    const notice = task({
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: withContainer({ exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }),
    });
    expect(notice.stop).toBe('oom');
    expect(stopSignature(notice)).toBe('exit 137 (OOM) in FargateApp');
  });

  it('exit 137 without the OOM reason (SIGKILL after stopTimeout) is a crash, not an OOM', () => {
    expect(task({ stopCode: 'EssentialContainerExited', containers: withContainer({ exitCode: 137 }) }).stop).toBe('crash');
  });

  it('an image that cannot be pulled is a failed start, whatever the exit codes', () => {
    const reason = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref docker.io/library/nope:latest: not found';
    const notice = task({ stopCode: 'TaskFailedToStart', stoppedReason: reason, containers: withContainer({ reason }) });
    expect(notice.stop).toBe('failed-start');
    expect(stopSignature(notice)).toBe('failed to start: CannotPullContainerError');
  });

  it('a ResourceInitializationError (secrets, logging driver) is a failed start', () => {
    expect(task({ stopCode: 'TaskFailedToStart', stoppedReason: 'ResourceInitializationError: unable to pull secrets or registry auth' }).stop).toBe(
      'failed-start',
    );
  });

  it('failing ELB health checks is unhealthy', () => {
    expect(
      task({
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason: 'Task failed ELB health checks in (elb my-lb)',
        containers: withContainer({ exitCode: 143 }),
      }).stop,
    ).toBe('unhealthy');
  });

  it('scale-in or a deployment replacing healthy tasks is no news', () => {
    const notice = task({
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/1234567890123456789)',
      containers: withContainer({ exitCode: 143 }),
    });
    expect(notice.stop).toBe('normal');
    expect(severityOf(notice)).toBeUndefined();
  });

  it('a person’s StopTask is not an alert', () => {
    expect(
      severityOf(task({ stopCode: 'UserInitiated', stoppedReason: 'Task stopped by user', containers: withContainer({ exitCode: 143 }) })),
    ).toBeUndefined();
  });

  it('AWS’s Fargate Spot example (TerminationNotice) is a Spot interruption, told as info', () => {
    const notice = task({ stopCode: 'TerminationNotice', stoppedReason: 'Your Spot Task was interrupted.' });
    expect(notice.stop).toBe('spot');
    expect(severityOf(notice)).toBe('info');
  });

  it('a STOPPED essential exit without exit codes (an EC2 agent quirk) still counts as a crash', () => {
    expect(classifyStop({ stopCode: 'EssentialContainerExited', containers: [{ name: 'app' }] }).stop).toBe('crash');
  });

  it('a task not of a service (RunTask: group family:…) is not a service notice', () => {
    expect(task({ group: 'family:sample-fargate', stopCode: 'EssentialContainerExited' }).kind).toBe('unknown');
  });

  it('the RUNNING example (lastStatus RUNNING) is not read as a stop', () => {
    expect(task({ lastStatus: 'RUNNING', desiredStatus: 'RUNNING' }).kind).toBe('unknown');
  });
});

describe('ECS Deployment State Change', () => {
  const deployment = (detail: Record<string, unknown>) =>
    readEvent(envelope('ECS Deployment State Change', 'aws.ecs', detail, ['arn:aws:ecs:us-west-2:111122223333:service/default/servicetest']));

  it('SERVICE_DEPLOYMENT_FAILED is critical', () => {
    const notice = deployment({
      eventType: 'ERROR',
      eventName: 'SERVICE_DEPLOYMENT_FAILED',
      deploymentId: 'ecs-svc/123',
      updatedAt: '2020-05-23T11:11:11Z',
      reason: 'ECS deployment circuit breaker: task failed to start.',
    });
    expect(notice).toMatchObject({ kind: 'deployment', where: { cluster: 'default', service: 'servicetest' }, rollback: false });
    expect(severityOf(notice)).toBe('critical');
  });

  it('the circuit breaker’s rollback is an IN_PROGRESS event whose reason says so', () => {
    const notice = deployment({
      eventType: 'INFO',
      eventName: 'SERVICE_DEPLOYMENT_IN_PROGRESS',
      deploymentId: 'ecs-svc/123',
      updatedAt: '2020-05-23T11:11:11Z',
      reason: 'ECS deployment circuit breaker: rolling back to deploymentId deploymentID.',
    });
    expect(notice).toMatchObject({ rollback: true });
    expect(severityOf(notice)).toBe('warning');
  });

  it('an ordinary IN_PROGRESS and COMPLETED are info', () => {
    expect(
      severityOf(
        deployment({
          eventType: 'INFO',
          eventName: 'SERVICE_DEPLOYMENT_IN_PROGRESS',
          deploymentId: 'ecs-svc/123',
          reason: 'ECS deployment deploymentId in progress.',
        }),
      ),
    ).toBe('info');
    expect(
      severityOf(
        deployment({
          eventType: 'INFO',
          eventName: 'SERVICE_DEPLOYMENT_COMPLETED',
          deploymentId: 'ecs-svc/123',
          reason: 'ECS deployment deploymentID completed.',
        }),
      ),
    ).toBe('info');
  });
});

describe('ECS Service Action', () => {
  const action = (detail: Record<string, unknown>) =>
    readEvent(envelope('ECS Service Action', 'aws.ecs', detail, ['arn:aws:ecs:us-west-2:111122223333:service/default/servicetest']));

  it('AWS’s placement failure example: ERROR, its reason and capacity provider', () => {
    const notice = action({
      eventType: 'ERROR',
      eventName: 'SERVICE_TASK_PLACEMENT_FAILURE',
      clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/default',
      capacityProviderArns: ['arn:aws:ecs:us-west-2:111122223333:capacity-provider/FARGATE_SPOT'],
      reason: 'RESOURCE:FARGATE',
      createdAt: '2019-11-06T19:09:33.087Z',
    });
    expect(notice).toMatchObject({ kind: 'service-action', reason: 'RESOURCE:FARGATE', capacityProviders: ['FARGATE_SPOT'] });
    expect(severityOf(notice)).toBe('critical');
  });

  it('SERVICE_TASK_START_IMPAIRED is a warning; SERVICE_STEADY_STATE is info', () => {
    const base = { clusterArn: 'arn:aws:ecs:us-west-2:111122223333:cluster/default', createdAt: '2019-11-19T19:27:22.695Z' };
    expect(severityOf(action({ ...base, eventType: 'WARN', eventName: 'SERVICE_TASK_START_IMPAIRED' }))).toBe('warning');
    expect(severityOf(action({ ...base, eventType: 'INFO', eventName: 'SERVICE_STEADY_STATE' }))).toBe('info');
  });

  it('an event name AWS added later is still read (not dropped)', () => {
    expect(action({ eventType: 'WARN', eventName: 'VPC_LATTICE_TARGET_UNHEALTHY', clusterArn: 'x', createdAt: 'y' })).toMatchObject({
      kind: 'service-action',
      eventName: 'VPC_LATTICE_TARGET_UNHEALTHY',
    });
  });
});

describe('CloudWatch Alarm State Change', () => {
  it('AWS’s example: name, states, reason, the metric in words', () => {
    const notice = readEvent(
      envelope(
        'CloudWatch Alarm State Change',
        'aws.cloudwatch',
        {
          alarmName: 'ServerCpuTooHigh',
          configuration: {
            description: 'Goes into alarm when server CPU utilization is too high!',
            metrics: [
              {
                id: '30b6c6b2-a864-43a2-4877-c09a1afc3b87',
                metricStat: {
                  metric: { dimensions: { InstanceId: 'i-12345678901234567' }, name: 'CPUUtilization', namespace: 'AWS/EC2' },
                  period: 300,
                  stat: 'Average',
                },
                returnData: true,
              },
            ],
          },
          previousState: { reason: 'Threshold Crossed: …', reasonData: '{"version":"1.0"}', timestamp: '2019-10-01T13:56:40.987+0000', value: 'OK' },
          state: {
            reason:
              'Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 (02/10/19 16:59:00)] was greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition).',
            reasonData: '{"version":"1.0","threshold":50.0}',
            timestamp: '2019-10-02T17:04:40.989+0000',
            value: 'ALARM',
          },
        },
        ['arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh'],
        { account: '123456789012', region: 'us-east-1' },
      ),
    );
    expect(notice).toMatchObject({
      kind: 'alarm',
      alarmName: 'ServerCpuTooHigh',
      state: 'ALARM',
      previousState: 'OK',
      alarmArn: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:ServerCpuTooHigh',
      metrics: ['AWS/EC2 CPUUtilization (InstanceId=i-12345678901234567)'],
    });
    expect(severityOf(notice)).toBe('critical');
  });

  it('a composite alarm (no metrics) is read too', () => {
    const notice = readEvent(
      envelope(
        'CloudWatch Alarm State Change',
        'aws.cloudwatch',
        { alarmName: 'Composite', configuration: { alarmRule: 'ALARM(a) OR ALARM(b)' }, state: { value: 'OK', reason: 'Unchecked: Initial alarm creation' } },
        [],
      ),
    );
    expect(notice).toMatchObject({ kind: 'alarm', state: 'OK', metrics: [] });
  });
});

describe('what the notifier cannot read is kept, not dropped', () => {
  it('an unknown detail-type keeps its source, type, resources and the service it names', () => {
    const notice = readEvent(
      envelope('ECS Container Instance State Change', 'aws.ecs', { agentConnected: false }, ['arn:aws:ecs:us-west-2:111122223333:service/default/servicetest']),
    );
    expect(notice).toMatchObject({ kind: 'unknown', detailType: 'ECS Container Instance State Change', where: { service: 'servicetest' } });
  });

  it('garbage never throws', () => {
    for (const raw of [
      null,
      undefined,
      42,
      'x',
      [],
      { id: 'a' },
      { id: 'a', detail: [] },
      { id: 'a', source: 'aws.ecs', 'detail-type': 'ECS Task State Change', detail: { containers: 'x' } },
    ]) {
      expect(readEvent(raw).kind).toBe('unknown');
    }
  });
});
