/**
 * What an EventBridge event says, in our words: AWS's documented shapes (../shared/reference/
 * ecs-events.md) read defensively, because AWS adds event names, stop codes and fields without
 * notice. Nothing here trusts a field to exist; an event we cannot read is an `unknown` notice,
 * shown plainly, never dropped silently.
 */
import type { NoticeKind, Severity } from '../config/schema';

/** The envelope EventBridge delivers to a Lambda target (EB user guide, "Events"). */
export interface EventEnvelope {
  version?: string;
  id?: string;
  'detail-type'?: string;
  source?: string;
  account?: string;
  time?: string;
  region?: string;
  resources?: string[];
  detail?: Record<string, unknown>;
}

/** An ECS service, as events name it: from a service ARN, or a task's cluster and `service:` group. */
export interface ServiceRef {
  account: string;
  region: string;
  cluster: string;
  service: string;
}

export interface StoppedContainer {
  name: string;
  image?: string;
  exitCode?: number;
  reason?: string;
}

/** Why a task stopped, as a platform engineer would sort it (the heuristics of the reference, §2). */
export type StopClass =
  /** An essential container exited non-zero. */
  | 'crash'
  /** Killed for memory: exit 137 with ECS's OutOfMemoryError reason. */
  | 'oom'
  /** Never reached RUNNING: image pull, logging driver, secrets, ENI… */
  | 'failed-start'
  /** Stopped by the scheduler for failing load balancer or container health checks. */
  | 'unhealthy'
  /** Spot capacity taken back. */
  | 'spot'
  /** A person or a pipeline called StopTask. */
  | 'user'
  /** Scale-in, a deployment replacing healthy tasks, a batch task that finished well: no news. */
  | 'normal';

export interface TaskStopNotice {
  kind: 'task-stopped';
  id: string;
  where: ServiceRef;
  taskArn: string;
  taskDefinitionArn?: string;
  /** Rises with each change of the task; duplicates share it. */
  version?: number;
  stopCode?: string;
  stoppedReason?: string;
  startedBy?: string;
  startedAt?: string;
  stoppedAt?: string;
  containers: StoppedContainer[];
  stop: StopClass;
  /** The container that stopped the task (the first essential one that exited badly), if known. */
  culprit?: StoppedContainer;
}

export interface DeploymentNotice {
  kind: 'deployment';
  id: string;
  where: ServiceRef;
  eventName: string;
  eventType?: string;
  deploymentId?: string;
  reason?: string;
  /** An IN_PROGRESS event that is ECS's own circuit-breaker rollback. */
  rollback: boolean;
}

export interface ServiceActionNotice {
  kind: 'service-action';
  id: string;
  where: ServiceRef;
  eventName: string;
  eventType?: string;
  reason?: string;
  capacityProviders: string[];
}

export interface AlarmNotice {
  kind: 'alarm';
  id: string;
  account: string;
  region: string;
  alarmArn?: string;
  alarmName: string;
  state: string;
  previousState?: string;
  reason?: string;
  description?: string;
  /** The metric(s) it watches, in words: `AWS/ECS CPUUtilization (ClusterName=main, ServiceName=web)`. */
  metrics: string[];
  at?: string;
}

/** Anything else, or a known kind whose fields we could not read: shown as it came. */
export interface UnknownNotice {
  kind: 'unknown';
  id: string;
  source: string;
  detailType: string;
  account?: string;
  region?: string;
  resources: string[];
  /** What did not fit, for the log and the message. */
  why: string;
  /** The service it is about, when a resource names one. */
  where?: ServiceRef;
  detail: unknown;
}

export type Notice = TaskStopNotice | DeploymentNotice | ServiceActionNotice | AlarmNotice | UnknownNotice;

const str = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) ? value : undefined);
const record = (value: unknown): Record<string, unknown> | undefined =>
  value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** `arn:aws:ecs:us-west-2:111122223333:service/default/servicetest` → its parts (long ARN format only). */
export function serviceFromArn(arn: string | undefined): ServiceRef | undefined {
  const match = arn ? /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):service\/([^/]+)\/([^/]+)$/.exec(arn) : null;
  return match ? { region: match[1]!, account: match[2]!, cluster: match[3]!, service: match[4]! } : undefined;
}

const clusterFromArn = (arn: string | undefined): { region: string; account: string; cluster: string } | undefined => {
  const match = arn ? /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):cluster\/(.+)$/.exec(arn) : null;
  return match ? { region: match[1]!, account: match[2]!, cluster: match[3]! } : undefined;
};

/** The ECS OOM kill, as ECS reports it on the container (developer guide, "Troubleshooting OOM"). */
export const isOutOfMemory = (c: StoppedContainer): boolean => /OutOfMemory/i.test(c.reason ?? '');

/** Severity a notice carries before routing decides where (and whether) it goes. */
export function severityOf(notice: Notice): Severity | undefined {
  switch (notice.kind) {
    case 'task-stopped':
      return notice.stop === 'normal' || notice.stop === 'user' ? undefined : notice.stop === 'spot' ? 'info' : 'warning';
    case 'deployment':
      if (notice.eventName === 'SERVICE_DEPLOYMENT_FAILED') return 'critical';
      if (notice.rollback) return 'warning';
      return 'info';
    case 'service-action':
      return notice.eventType === 'ERROR' ? 'critical' : notice.eventType === 'WARN' ? 'warning' : 'info';
    case 'alarm':
      return notice.state === 'ALARM' ? 'critical' : 'info';
    case 'unknown':
      return 'warning';
  }
}

/** Which routing kind (configuration `kinds`) a notice belongs to. */
export function kindOf(notice: Notice): NoticeKind | undefined {
  switch (notice.kind) {
    case 'task-stopped':
      return 'tasks';
    case 'deployment':
      return 'deployments';
    case 'service-action':
      return 'service';
    case 'alarm':
      return 'alarms';
    case 'unknown':
      return notice.where ? 'service' : undefined;
  }
}

function unknown(event: EventEnvelope, why: string): UnknownNotice {
  const resources = list(event.resources).filter((r): r is string => typeof r === 'string');
  const where = resources.map(serviceFromArn).find(Boolean);
  return {
    kind: 'unknown',
    id: str(event.id) ?? '',
    source: str(event.source) ?? '(no source)',
    detailType: str(event['detail-type']) ?? '(no detail-type)',
    ...(str(event.account) ? { account: event.account } : {}),
    ...(str(event.region) ? { region: event.region } : {}),
    resources,
    why,
    ...(where ? { where } : {}),
    detail: event.detail,
  };
}

/** Reads one delivered event. Never throws: what it cannot read becomes an `unknown` notice. */
export function readEvent(raw: unknown): Notice {
  const event = (record(raw) ?? {}) as EventEnvelope;
  const detail = record(event.detail);
  if (!str(event.id)) return unknown(event, 'the event has no id');
  if (!detail) return unknown(event, 'the event has no detail object');
  const type = `${event.source} / ${event['detail-type']}`;
  switch (type) {
    case 'aws.ecs / ECS Task State Change':
      return taskStop(event, detail) ?? unknown(event, 'a task event without a STOPPED task of a service');
    case 'aws.ecs / ECS Deployment State Change':
      return deployment(event, detail) ?? unknown(event, 'a deployment event without a service ARN or event name');
    case 'aws.ecs / ECS Service Action':
      return serviceAction(event, detail) ?? unknown(event, 'a service action without a service ARN or event name');
    case 'aws.cloudwatch / CloudWatch Alarm State Change':
      return alarm(event, detail) ?? unknown(event, 'an alarm event without an alarm name or state');
    default:
      return unknown(event, 'an event of a kind the notifier does not know');
  }
}

function taskStop(event: EventEnvelope, d: Record<string, unknown>): TaskStopNotice | undefined {
  const taskArn = str(d.taskArn);
  const cluster = clusterFromArn(str(d.clusterArn));
  const group = str(d.group);
  // Only stopped tasks (the rule already asks for them) that belong to a service: a one-off
  // task's stop is its runner's business.
  if (!taskArn || !cluster || d.lastStatus !== 'STOPPED' || !group?.startsWith('service:')) return undefined;
  const containers: StoppedContainer[] = list(d.containers)
    .map(record)
    .filter((c): c is Record<string, unknown> => !!c && !!str(c.name))
    .map((c) => ({
      name: str(c.name)!,
      ...(str(c.image) ? { image: str(c.image) } : {}),
      ...(num(c.exitCode) !== undefined ? { exitCode: num(c.exitCode) } : {}),
      ...(str(c.reason) ? { reason: str(c.reason) } : {}),
    }));
  const stopCode = str(d.stopCode);
  const stoppedReason = str(d.stoppedReason);
  const { stop, culprit } = classifyStop({ stopCode, stoppedReason, startedAt: str(d.startedAt), containers });
  return {
    kind: 'task-stopped',
    id: event.id!,
    where: { ...cluster, service: group.slice('service:'.length) },
    taskArn,
    ...(str(d.taskDefinitionArn) ? { taskDefinitionArn: str(d.taskDefinitionArn) } : {}),
    ...(num(d.version) !== undefined ? { version: num(d.version) } : {}),
    ...(stopCode ? { stopCode } : {}),
    ...(stoppedReason ? { stoppedReason } : {}),
    ...(str(d.startedBy) ? { startedBy: str(d.startedBy) } : {}),
    ...(str(d.startedAt) ? { startedAt: str(d.startedAt) } : {}),
    ...(str(d.stoppedAt) ? { stoppedAt: str(d.stoppedAt) } : {}),
    containers,
    stop,
    ...(culprit ? { culprit } : {}),
  };
}

/**
 * The reference's heuristics (§2, "Classifying a STOPPED task"), in order. The event does not say
 * which containers are essential; the one that exited non-zero (or was OOM-killed) is taken as the
 * culprit, since ECS stops a task for an essential container's exit.
 */
export function classifyStop(task: {
  stopCode?: string | undefined;
  stoppedReason?: string | undefined;
  startedAt?: string | undefined;
  containers: StoppedContainer[];
}): { stop: StopClass; culprit?: StoppedContainer } {
  const reason = task.stoppedReason ?? '';
  const oom = task.containers.find(isOutOfMemory);
  if (oom) return { stop: 'oom', culprit: oom };
  const failedToStart =
    task.stopCode === 'TaskFailedToStart' ||
    /^(CannotPull|ResourceInitialization|CannotStartContainer|CannotCreateContainer|ContainerRuntimeTimeout|DockerTimeout)/.test(reason) ||
    task.containers.some((c) => /^(CannotPull|ResourceInitialization|CannotStartContainer|CannotCreateContainer)/.test(c.reason ?? ''));
  if (failedToStart) {
    const culprit = task.containers.find((c) => c.reason) ?? task.containers[0];
    return { stop: 'failed-start', ...(culprit ? { culprit } : {}) };
  }
  const badExit = task.containers.find((c) => c.exitCode !== undefined && c.exitCode !== 0);
  if (task.stopCode === 'EssentialContainerExited') {
    if (badExit) return { stop: badExit.exitCode === 137 && /memory/i.test(badExit.reason ?? '') ? 'oom' : 'crash', culprit: badExit };
    // ECS's own wording when exit codes are missing (an EC2 agent quirk): still not a healthy stop.
    const silent = task.containers.find((c) => c.exitCode === undefined);
    return silent ? { stop: 'crash', culprit: silent } : { stop: 'normal' };
  }
  if (/health check/i.test(reason)) return { stop: 'unhealthy' };
  if (task.stopCode === 'SpotInterruption' || task.stopCode === 'TerminationNotice' || /Spot Task was interrupted/i.test(reason)) return { stop: 'spot' };
  if (task.stopCode === 'UserInitiated') return { stop: 'user' };
  if (badExit && task.stopCode !== 'ServiceSchedulerInitiated') return { stop: 'crash', culprit: badExit };
  return { stop: 'normal' };
}

function deployment(event: EventEnvelope, d: Record<string, unknown>): DeploymentNotice | undefined {
  const where = serviceFromArn(list(event.resources).find((r): r is string => typeof r === 'string'));
  const eventName = str(d.eventName);
  if (!where || !eventName) return undefined;
  const reason = str(d.reason);
  return {
    kind: 'deployment',
    id: event.id!,
    where,
    eventName,
    ...(str(d.eventType) ? { eventType: str(d.eventType) } : {}),
    ...(str(d.deploymentId) ? { deploymentId: str(d.deploymentId) } : {}),
    ...(reason ? { reason } : {}),
    rollback: eventName === 'SERVICE_DEPLOYMENT_IN_PROGRESS' && /rolling back/i.test(reason ?? ''),
  };
}

function serviceAction(event: EventEnvelope, d: Record<string, unknown>): ServiceActionNotice | undefined {
  const where = serviceFromArn(list(event.resources).find((r): r is string => typeof r === 'string'));
  const eventName = str(d.eventName);
  if (!where || !eventName) return undefined;
  return {
    kind: 'service-action',
    id: event.id!,
    where,
    eventName,
    ...(str(d.eventType) ? { eventType: str(d.eventType) } : {}),
    ...(str(d.reason) ? { reason: str(d.reason) } : {}),
    capacityProviders: list(d.capacityProviderArns)
      .filter((a): a is string => typeof a === 'string')
      .map((a) => a.slice(a.lastIndexOf('/') + 1)),
  };
}

function alarm(event: EventEnvelope, d: Record<string, unknown>): AlarmNotice | undefined {
  const alarmName = str(d.alarmName);
  const state = record(d.state);
  const value = str(state?.value);
  if (!alarmName || !value) return undefined;
  const configuration = record(d.configuration);
  const metrics = list(configuration?.metrics)
    .map(record)
    .flatMap((m) => {
      const metric = record(record(m?.metricStat)?.metric);
      if (metric) {
        const dimensions = Object.entries(record(metric.dimensions) ?? {}).map(([k, v]) => `${k}=${String(v)}`);
        return [`${str(metric.namespace) ?? '?'} ${str(metric.name) ?? '?'}${dimensions.length ? ` (${dimensions.join(', ')})` : ''}`];
      }
      return str(m?.expression) ? [str(m?.expression)!] : [];
    });
  const alarmArn = list(event.resources).find((r): r is string => typeof r === 'string' && r.includes(':alarm:'));
  return {
    kind: 'alarm',
    id: event.id!,
    account: str(event.account) ?? '',
    region: str(event.region) ?? '',
    ...(alarmArn ? { alarmArn } : {}),
    alarmName,
    state: value,
    ...(str(record(d.previousState)?.value) ? { previousState: str(record(d.previousState)?.value) } : {}),
    ...(str(state?.reason) ? { reason: str(state?.reason) } : {}),
    ...(str(configuration?.description) ? { description: str(configuration?.description) } : {}),
    metrics,
    ...(str(state?.timestamp) ? { at: str(state?.timestamp) } : {}),
  };
}

/** A one-line label of why a task stopped, the key incidents count by: `exit 137 (OOM)`. */
export function stopSignature(notice: TaskStopNotice): string {
  const c = notice.culprit;
  switch (notice.stop) {
    case 'oom':
      return `exit ${c?.exitCode ?? 137} (OOM)${c ? ` in ${c.name}` : ''}`;
    case 'crash':
      return c?.exitCode !== undefined ? `exit ${c.exitCode} in ${c.name}` : `${c?.name ?? 'a container'} stopped without an exit code`;
    case 'failed-start': {
      const reason = c?.reason ?? notice.stoppedReason ?? 'failed to start';
      return `failed to start: ${reason.split(':')[0]}`;
    }
    case 'unhealthy':
      return 'failed health checks';
    case 'spot':
      return 'Spot interruption';
    default:
      return notice.stopCode ?? 'stopped';
  }
}
