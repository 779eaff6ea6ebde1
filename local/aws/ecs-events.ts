/**
 * The events ECS sends to EventBridge, built from the scheduler's own objects in the shapes AWS
 * documents (../../shared/reference/ecs-events.md §2–§4): "ECS Task State Change" (one per change,
 * `detail.version` from the task), "ECS Deployment State Change" (no clusterArn, no version,
 * `updatedAt` in whole seconds) and "ECS Service Action" (clusterArn and `createdAt` with ms).
 */
import type { Container, Service, Task } from '@aws-sdk/client-ecs';
import type { EmittedEvent } from './events-contract';
import type { RegionState } from './state';

/** The envelope's `time`: `YYYY-MM-DDTHH:MM:SSZ`, whole seconds. */
export const eventTime = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** ECS detail timestamps: ISO with milliseconds. */
const isoMs = (date: Date | undefined) => date?.toISOString();

export type DeploymentEventName = 'SERVICE_DEPLOYMENT_IN_PROGRESS' | 'SERVICE_DEPLOYMENT_COMPLETED' | 'SERVICE_DEPLOYMENT_FAILED';
export type ServiceActionName = 'SERVICE_STEADY_STATE' | 'SERVICE_TASK_START_IMPAIRED' | 'SERVICE_TASK_PLACEMENT_FAILURE';
const SERVICE_ACTION_TYPES: Record<ServiceActionName, 'INFO' | 'WARN' | 'ERROR'> = {
  SERVICE_STEADY_STATE: 'INFO',
  SERVICE_TASK_START_IMPAIRED: 'WARN',
  SERVICE_TASK_PLACEMENT_FAILURE: 'ERROR',
};

/** Where an event comes from: an account and region (a RegionState is one). */
type Origin = Pick<RegionState, 'accountId' | 'region'>;

function envelope(region: Origin, detailType: string, t: number, resource: string, detail: Record<string, unknown>): EmittedEvent {
  return { 'detail-type': detailType, source: 'aws.ecs', account: region.accountId, time: eventTime(t), region: region.region, resources: [resource], detail };
}

/** Drops absent fields, as AWS omits what a task does not have yet (no `startedAt` before RUNNING). */
const present = (fields: Record<string, unknown>) => Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));

function containerDetail(c: Container): Record<string, unknown> {
  return present({
    containerArn: c.containerArn,
    lastStatus: c.lastStatus,
    name: c.name,
    image: c.image,
    imageDigest: c.imageDigest,
    runtimeId: c.runtimeId,
    taskArn: c.taskArn,
    networkInterfaces: c.networkInterfaces?.length ? c.networkInterfaces : undefined,
    cpu: c.cpu,
    exitCode: c.exitCode,
    reason: c.reason,
  });
}

/** "ECS Task State Change" for the task as it is now; `t` is when the change happened. */
export function taskStateChange(region: RegionState, task: Task, t: number): EmittedEvent {
  const fargate = task.launchType === 'FARGATE' || task.capacityProviderName?.startsWith('FARGATE');
  const detail = present({
    // The event names the ENI attachment `eni` (DescribeTasks says ElasticNetworkInterface).
    attachments: task.attachments?.length ? task.attachments.map((a) => ({ id: a.id, type: 'eni', status: a.status, details: a.details })) : undefined,
    availabilityZone: task.availabilityZone,
    clusterArn: task.clusterArn,
    containerInstanceArn: task.containerInstanceArn,
    containers: (task.containers ?? []).map(containerDetail),
    createdAt: isoMs(task.createdAt),
    launchType: task.launchType,
    cpu: task.cpu,
    memory: task.memory,
    desiredStatus: task.desiredStatus,
    group: task.group,
    lastStatus: task.lastStatus,
    overrides: { containerOverrides: (task.containers ?? []).map((c) => ({ name: c.name })) },
    ...(fargate ? { connectivity: task.connectivity, connectivityAt: isoMs(task.connectivityAt) } : {}),
    pullStartedAt: isoMs(task.pullStartedAt),
    pullStoppedAt: isoMs(task.pullStoppedAt),
    startedAt: isoMs(task.startedAt),
    startedBy: task.startedBy,
    stoppingAt: isoMs(task.stoppingAt),
    executionStoppedAt: isoMs(task.executionStoppedAt),
    stoppedAt: isoMs(task.stoppedAt),
    stopCode: task.stopCode,
    stoppedReason: task.stoppedReason,
    updatedAt: new Date(t).toISOString(),
    taskArn: task.taskArn,
    taskDefinitionArn: task.taskDefinitionArn,
    version: task.version,
    // Fargate reports the platform version it actually ran, not LATEST.
    platformVersion: fargate ? (task.platformVersion === 'LATEST' || !task.platformVersion ? '1.4.0' : task.platformVersion) : undefined,
  });
  return envelope(region, 'ECS Task State Change', t, task.taskArn!, detail);
}

export function deploymentStateChange(
  region: RegionState,
  service: Service,
  eventName: DeploymentEventName,
  deploymentId: string,
  reason: string,
  t: number,
): EmittedEvent {
  return envelope(region, 'ECS Deployment State Change', t, service.serviceArn!, {
    eventType: eventName === 'SERVICE_DEPLOYMENT_FAILED' ? 'ERROR' : 'INFO',
    eventName,
    deploymentId,
    updatedAt: eventTime(t),
    reason,
  });
}

export function serviceAction(region: Origin, service: Service, eventName: ServiceActionName, t: number, extra: Record<string, unknown> = {}): EmittedEvent {
  return envelope(region, 'ECS Service Action', t, service.serviceArn!, {
    eventType: SERVICE_ACTION_TYPES[eventName],
    eventName,
    clusterArn: service.clusterArn,
    ...extra,
    createdAt: new Date(t).toISOString(),
  });
}

/**
 * "ECS Hook State Change" when a PAUSE hook starts waiting (reference §2: event HOOK_AWAITING_ACTION).
 * The detail's members are UNVERIFIED (no documented example was found): the hook as
 * DescribeServiceDeployments shows it, with the service deployment and stage it belongs to.
 */
export function hookStateChange(
  region: Origin,
  service: Service,
  hook: { serviceDeploymentArn: string; lifecycleStage: string; hookId: string; expiresAt: Date; timeoutAction: string },
  t: number,
): EmittedEvent {
  return envelope(region, 'ECS Hook State Change', t, service.serviceArn!, {
    eventType: 'INFO',
    eventName: 'HOOK_AWAITING_ACTION',
    clusterArn: service.clusterArn,
    serviceDeploymentArn: hook.serviceDeploymentArn,
    lifecycleStage: hook.lifecycleStage,
    hookId: hook.hookId,
    targetType: 'PAUSE',
    expiresAt: hook.expiresAt.toISOString(),
    timeoutAction: hook.timeoutAction,
    createdAt: new Date(t).toISOString(),
  });
}
