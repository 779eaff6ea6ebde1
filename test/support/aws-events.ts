/**
 * AWS events for EventBridge tests and the notifier's bench, as the services emit them
 * (shared/reference/ecs-events.md), about the seeded services of cluster `main` in the default
 * account and region unless said otherwise.
 */
import { randomBytes } from 'node:crypto';
import { eventTime, serviceAction } from '../../local/aws/ecs-events';
import type { EmittedEvent } from '../../local/aws/events-contract';
import { DEFAULT_ACCOUNT, DEFAULT_REGION } from '../../local/aws/state';

/** A task's state change, by default its stop ("ECS Task State Change", trimmed; ecs-events.md §2). */
export function taskStopped(account = DEFAULT_ACCOUNT, lastStatus = 'STOPPED'): EmittedEvent {
  const taskArn = `arn:aws:ecs:${DEFAULT_REGION}:${account}:task/prod/0123456789abcdef0123456789abcdef`;
  return {
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account,
    time: '2026-12-05T10:00:00Z',
    region: DEFAULT_REGION,
    resources: [taskArn],
    detail: {
      taskArn,
      clusterArn: `arn:aws:ecs:${DEFAULT_REGION}:${account}:cluster/prod`,
      lastStatus,
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      version: 3,
    },
  };
}

const CLUSTER = 'main';
const ORIGIN = { accountId: DEFAULT_ACCOUNT, region: DEFAULT_REGION };
const arnOf = (service: string, resource: string) => `arn:aws:${service}:${DEFAULT_REGION}:${DEFAULT_ACCOUNT}:${resource}`;
const ecsService = (service: string) => ({ serviceArn: arnOf('ecs', `service/${CLUSTER}/${service}`), clusterArn: arnOf('ecs', `cluster/${CLUSTER}`) });

/** "ECS Service Action" at `t`: ECS says `service` is steady (ecs-events.md §4). */
export const steadyEvent = (t: number, service: string): EmittedEvent => serviceAction(ORIGIN, ecsService(service), 'SERVICE_STEADY_STATE', t);

/** "ECS Service Action" at `t`: ECS cannot place `service`'s tasks, for `reason` (ecs-events.md §4). */
export const placementFailureEvent = (t: number, service: string, reason = 'RESOURCE:FARGATE'): EmittedEvent =>
  serviceAction(ORIGIN, ecsService(service), 'SERVICE_TASK_PLACEMENT_FAILURE', t, {
    capacityProviderArns: [arnOf('ecs', 'capacity-provider/FARGATE')],
    reason,
  });

/**
 * "ECS Task State Change" at `t`: a task of `service` (revision 42) stopped because its essential
 * container `app` exited with `exitCode` (ecs-events.md §2); a new task each time unless `taskId` is given.
 */
export function containerExitedEvent(t: number, service: string, exit: { exitCode: number; reason?: string; taskId?: string }): EmittedEvent {
  const taskArn = arnOf('ecs', `task/${CLUSTER}/${exit.taskId ?? randomBytes(16).toString('hex')}`);
  return {
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: DEFAULT_ACCOUNT,
    time: eventTime(t),
    region: DEFAULT_REGION,
    resources: [taskArn],
    detail: {
      clusterArn: arnOf('ecs', `cluster/${CLUSTER}`),
      taskArn,
      taskDefinitionArn: arnOf('ecs', `task-definition/${service}:42`),
      group: `service:${service}`,
      startedBy: 'ecs-svc/1234567890123456789',
      lastStatus: 'STOPPED',
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      containers: [{ name: 'app', exitCode: exit.exitCode, ...(exit.reason === undefined ? {} : { reason: exit.reason }), lastStatus: 'STOPPED', taskArn }],
      createdAt: new Date(t - 60_000).toISOString(),
      stoppedAt: new Date(t).toISOString(),
      version: 5,
    },
  };
}

/** "CloudWatch Alarm State Change" at `t`: `alarmName` went to `state` from the other one (ecs-events.md §6). */
export function alarmEvent(
  t: number,
  alarmName: string,
  state: 'ALARM' | 'OK',
  reason = state === 'ALARM' ? 'Threshold Crossed' : 'Back to normal',
): EmittedEvent {
  return {
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account: DEFAULT_ACCOUNT,
    time: eventTime(t),
    region: DEFAULT_REGION,
    resources: [arnOf('cloudwatch', `alarm:${alarmName}`)],
    detail: {
      alarmName,
      state: { value: state, reason, timestamp: eventTime(t).replace('Z', '.000+0000') },
      previousState: { value: state === 'ALARM' ? 'OK' : 'ALARM' },
      configuration: { metrics: [] },
    },
  };
}

/** Polls (real time) until `condition` holds. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
