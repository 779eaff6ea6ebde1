/**
 * CodeDeploy blue/green deployments of ECS services (deploymentController CODE_DEPLOY), as CodeDeploy
 * runs them and ecspresso drives them (../../shared/reference/ecs-deployments.md §4): applications
 * (computePlatform ECS), deployment groups naming one ECS service and a pair of target groups, and
 * deployments that play the ECS lifecycle events over emulator time, inside the ECS scheduler's pass
 * (rollout.ts calls codeDeployDue / codeDeployPass), so `clock.advance` skips through them:
 *
 *   BeforeInstall → Install (a replacement task set, label Green, with the AppSpec's task definition,
 *   in the target group the original does not use; done when its tasks pass health checks)
 *   → AfterInstall → AllowTestTraffic (a test listener, when the group has one) → AfterAllowTestTraffic
 *   → BeforeAllowTraffic → [Ready, when the group waits for ContinueDeployment READY_WAIT]
 *   → AllowTraffic (production weight shifted per the deployment config: all at once, linear or
 *   canary; each shift takes `ecsTimings.trafficShiftMs`, then the replacement is the primary task set
 *   and the service's taskDefinition is the new one) → AfterAllowTraffic → the termination wait
 *   (ContinueDeployment TERMINATION_WAIT ends it) → the original task set is deleted → Succeeded.
 *
 * A replacement that never becomes healthy (an image that cannot be pulled: ECS relaunches with its
 * back-off) fails the deployment after CodeDeploy's 60-minute timeout with ECS_UPDATE_ERROR; with
 * auto rollback for DEPLOYMENT_FAILURE (or StopDeployment with autoRollbackEnabled) a rollback
 * deployment shifts traffic back and deletes the replacement.
 *
 * A manual stop's errorInformation code is MANUAL_STOP, the end of a Ready wait's TIMEOUT (ErrorCode
 * values; that GetDeployment shows them for a stop is UNVERIFIED). Not modelled: Lambda hooks named
 * in the AppSpec (their events succeed without a call), alarms, EC2/on-premises/Lambda platforms,
 * CreateApplication and the other write APIs (the seed stores applications and groups).
 * UNVERIFIED (inferred, not documented): Created lasts no emulator
 * time; hookless events succeed instantly; AllowTestTraffic without a test listener succeeds at once;
 * the timeout message; a rollback's events (Skipped but AllowTraffic) and messages; the service's
 * loadBalancers following the primary task set; StopDeployment without rollback reroutes nothing:
 * traffic wholly on the replacement keeps it, anything less returns to the original.
 */
import { createHash } from 'node:crypto';
import type {
  ApplicationInfo,
  AutoRollbackConfiguration,
  AutoRollbackEvent,
  DeploymentGroupInfo,
  DeploymentStatus,
  ErrorCode,
  LifecycleEventStatus,
  LifecycleEvent as SdkLifecycleEvent,
  RollbackInfo,
  TrafficRoutingConfig,
} from '@aws-sdk/client-codedeploy';
import type { LoadBalancer, NetworkConfiguration, Service, Task, TaskSet } from '@aws-sdk/client-ecs';
import { parse } from 'yaml';
import { AwsError } from './protocols';
import type { EcsScheduler } from './rollout';
import { newDeploymentId } from './service-deployments';
import { elbv2State } from './services/elbv2';
import { arns, awsId, nameFromRef, type EcsClusterState, type RegionState } from './state';

export const LIFECYCLE_EVENTS = [
  'BeforeInstall',
  'Install',
  'AfterInstall',
  'AllowTestTraffic',
  'AfterAllowTestTraffic',
  'BeforeAllowTraffic',
  'AllowTraffic',
  'AfterAllowTraffic',
] as const;
export type LifecycleEventName = (typeof LIFECYCLE_EVENTS)[number];
/** The events an AppSpec may hook a Lambda function to. */
const HOOKABLE = new Set(['BeforeInstall', 'AfterInstall', 'AfterAllowTestTraffic', 'BeforeAllowTraffic', 'AfterAllowTraffic']);

/** CodeDeploy's limit for a replacement task set to become healthy (the ECS_UPDATE_ERROR timeout). */
export const REPLACEMENT_TIMEOUT_MS = 60 * 60_000;
const MIN = 60_000;

export type { AutoRollbackConfiguration, DeploymentStatus };
export const ACTIVE_STATUSES: DeploymentStatus[] = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'];

/** How a deployment config shifts production traffic (the SDK's TrafficRoutingConfig). */
export type TrafficRouting = TrafficRoutingConfig;
/** The predefined configs for the ECS compute platform (CodeDeploy User Guide, deployment-configurations). */
export const ECS_DEPLOYMENT_CONFIGS: Record<string, TrafficRouting> = {
  'CodeDeployDefault.ECSAllAtOnce': { type: 'AllAtOnce' },
  'CodeDeployDefault.ECSLinear10PercentEvery1Minutes': { type: 'TimeBasedLinear', timeBasedLinear: { linearPercentage: 10, linearInterval: 1 } },
  'CodeDeployDefault.ECSLinear10PercentEvery3Minutes': { type: 'TimeBasedLinear', timeBasedLinear: { linearPercentage: 10, linearInterval: 3 } },
  'CodeDeployDefault.ECSCanary10Percent5Minutes': { type: 'TimeBasedCanary', timeBasedCanary: { canaryPercentage: 10, canaryInterval: 5 } },
  'CodeDeployDefault.ECSCanary10Percent15Minutes': { type: 'TimeBasedCanary', timeBasedCanary: { canaryPercentage: 10, canaryInterval: 15 } },
};

/** Production weights of the replacement after each shift, and the wait (ms) after each but the last. */
export function trafficSteps(routing: TrafficRouting): { weights: number[]; intervalMs: number } {
  if (routing.type === 'TimeBasedLinear' && routing.timeBasedLinear) {
    const { linearPercentage: p = 100, linearInterval: i = 0 } = routing.timeBasedLinear;
    return { weights: Array.from({ length: Math.ceil(100 / p) }, (_, k) => Math.min(100, p * (k + 1))), intervalMs: i * MIN };
  }
  if (routing.type === 'TimeBasedCanary' && routing.timeBasedCanary) {
    const { canaryPercentage: p = 100, canaryInterval: i = 0 } = routing.timeBasedCanary;
    return { weights: p >= 100 ? [100] : [p, 100], intervalMs: i * MIN };
  }
  return { weights: [100], intervalMs: 0 };
}

export type Application = Required<Pick<ApplicationInfo, 'applicationId' | 'applicationName' | 'createTime' | 'linkedToGitHub'>> & { computePlatform: 'ECS' };

export interface DeploymentGroup {
  applicationName: string;
  deploymentGroupId: string;
  deploymentGroupName: string;
  deploymentConfigName: string;
  serviceRoleArn: string;
  ecsServices: Array<{ serviceName: string; clusterName: string }>;
  deploymentStyle: { deploymentType: 'BLUE_GREEN'; deploymentOption: 'WITH_TRAFFIC_CONTROL' };
  blueGreenDeploymentConfiguration: {
    terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE'; terminationWaitTimeInMinutes: number };
    deploymentReadyOption: { actionOnTimeout: 'CONTINUE_DEPLOYMENT' | 'STOP_DEPLOYMENT'; waitTimeInMinutes?: number };
  };
  loadBalancerInfo: {
    targetGroupPairInfoList: Array<{
      targetGroups: Array<{ name: string }>;
      prodTrafficRoute: { listenerArns: string[] };
      testTrafficRoute?: { listenerArns: string[] };
    }>;
  };
  autoRollbackConfiguration: AutoRollbackConfiguration;
  computePlatform: 'ECS';
}

export type LifecycleEvent = SdkLifecycleEvent & { lifecycleEventName: LifecycleEventName; status: LifecycleEventStatus };

/** The group as the emulator keeps it is a DeploymentGroupInfo (the type checker holds it to the SDK's shape). */
export const asDeploymentGroupInfo = (group: DeploymentGroup): DeploymentGroupInfo => group;

/** What the AppSpec's TargetService says. */
export interface TargetService {
  taskDefinition: string;
  containerName: string;
  containerPort: number;
  platformVersion?: string;
  networkConfiguration?: NetworkConfiguration;
}

export interface CodeDeployment {
  deploymentId: string;
  applicationName: string;
  groupName: string;
  deploymentConfigName: string;
  routing: TrafficRouting;
  status: DeploymentStatus;
  creator: 'user' | 'codeDeployRollback';
  description?: string;
  appSpec: string;
  target: TargetService;
  autoRollback: AutoRollbackConfiguration;
  createTime: Date;
  startTime?: Date;
  completeTime?: Date;
  errorInformation?: { code: ErrorCode; message: string };
  rollbackInfo?: RollbackInfo;
  /** The task definition the original task set ran when the deployment started. */
  previousTaskDefinition?: string;
  /** The AppSpec of the group's last successful deployment (DeploymentInfo.previousRevision). */
  previousAppSpec?: string;
  events: LifecycleEvent[];
  /** The ECS side. */
  cluster: string;
  service: string;
  /** Index in `events` of the event under way (events.length: past AfterAllowTraffic). */
  phase: number;
  /** When the current timed part ends (a traffic shift, the wait after a step, the ready or termination wait). */
  until?: number;
  /** What is under way inside AllowTraffic / after it. */
  sub?: 'shift' | 'interval' | 'ready' | 'termination';
  /** Index of the current (or next) production shift. */
  step: number;
  /** Production and test traffic on the replacement, percent. */
  weight: number;
  testWeight: number;
  /** The task set serving before (Blue) and the replacement (Green). */
  originalTaskSet: string;
  replacementTaskSet?: string;
  blueGroup: string;
  greenGroup: string;
  /** The rollback this deployment is: what it rolls back. */
  rollbackOf?: string;
  /** ContinueDeployment READY_WAIT was called while Ready. */
  continued?: boolean;
  lastUpdated: Date;
}

interface Store {
  applications: Map<string, Application>;
  /** By `application/group`. */
  groups: Map<string, DeploymentGroup>;
  deployments: Map<string, CodeDeployment>;
}

const stores = new WeakMap<RegionState, Store>();
export function codeDeployState(r: RegionState): Store {
  let store = stores.get(r);
  if (!store) stores.set(r, (store = { applications: new Map(), groups: new Map(), deployments: new Map() }));
  return store;
}

export const codeDeployArns = {
  application: (r: RegionState, name: string) => `arn:aws:codedeploy:${r.region}:${r.accountId}:application:${name}`,
  group: (r: RegionState, app: string, group: string) => `arn:aws:codedeploy:${r.region}:${r.accountId}:deploymentgroup:${app}/${group}`,
};

/** `d-` and nine upper-case alphanumerics, as CodeDeploy names deployments. */
export const newCodeDeploymentId = (label?: string) => `d-${awsId('', 9, label)}`;
export const isActive = (d: CodeDeployment) => ACTIVE_STATUSES.includes(d.status);
/** The ECS deployment target's id: `<cluster>:<service>`. */
export const targetIdOf = (d: CodeDeployment) => `${d.cluster}:${d.service}`;

/** The group's deployment still under way (CodeDeploy allows one per group). */
export function activeDeployment(r: RegionState, app: string, group: string): CodeDeployment | undefined {
  for (const d of codeDeployState(r).deployments.values()) if (d.applicationName === app && d.groupName === group && isActive(d)) return d;
  return undefined;
}

const invalidRevision = (message: string) => new AwsError('InvalidRevisionException', message);
const field = (o: unknown, key: string): unknown => (o && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined);
const lowerKeys = (value: unknown): unknown =>
  Array.isArray(value)
    ? value.map(lowerKeys)
    : value && typeof value === 'object'
      ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k[0]!.toLowerCase() + k.slice(1), lowerKeys(v)]))
      : value;

/**
 * Reads an ECS AppSpec (YAML or JSON): `Resources[0].TargetService` of Type AWS::ECS::Service with
 * Properties.TaskDefinition and LoadBalancerInfo {ContainerName, ContainerPort}; Hooks may only name
 * the hookable events. A malformed one is refused with InvalidRevisionException (UNVERIFIED class:
 * AWS may instead accept it and fail the deployment).
 */
export function parseAppSpec(content: string): TargetService {
  let doc: unknown;
  try {
    doc = parse(content);
  } catch (err) {
    throw invalidRevision(`The AppSpec file cannot be parsed: ${(err as Error).message.split('\n')[0]}`);
  }
  const resources = field(doc, 'Resources');
  if (!Array.isArray(resources) || resources.length !== 1) throw invalidRevision('The AppSpec file must specify exactly one resource in Resources.');
  const target = field(resources[0], 'TargetService');
  if (field(target, 'Type') !== 'AWS::ECS::Service') throw invalidRevision('The AppSpec file TargetService must be of Type AWS::ECS::Service.');
  const properties = field(target, 'Properties');
  const taskDefinition = field(properties, 'TaskDefinition');
  if (typeof taskDefinition !== 'string' || !taskDefinition)
    throw invalidRevision('The AppSpec file must specify a TaskDefinition in TargetService Properties.');
  const lb = field(properties, 'LoadBalancerInfo');
  const containerName = field(lb, 'ContainerName');
  const containerPort = Number(field(lb, 'ContainerPort'));
  if (typeof containerName !== 'string' || !Number.isInteger(containerPort)) {
    throw invalidRevision('The AppSpec file must specify LoadBalancerInfo with a ContainerName and a ContainerPort.');
  }
  const hooks = field(doc, 'Hooks') ?? [];
  if (!Array.isArray(hooks)) throw invalidRevision('The AppSpec file Hooks must be a list.');
  for (const hook of hooks) {
    for (const name of Object.keys(hook ?? {}))
      if (!HOOKABLE.has(name)) throw invalidRevision(`The AppSpec file specifies an invalid lifecycle event hook: ${name}.`);
  }
  const platformVersion = field(properties, 'PlatformVersion');
  const network = field(properties, 'NetworkConfiguration');
  return {
    taskDefinition,
    containerName,
    containerPort,
    ...(typeof platformVersion === 'string' ? { platformVersion } : {}),
    ...(network ? { networkConfiguration: lowerKeys(network) as NetworkConfiguration } : {}),
  };
}

export const appSpecSha256 = (content: string) => createHash('sha256').update(content).digest('hex');

/** An ECS AppSpec for a task definition, as CodeDeploy writes a rollback's (and the seed its history). */
export function ecsAppSpec(taskDefinition: string, containerName: string, containerPort: number): string {
  return [
    'version: 0.0',
    'Resources:',
    '  - TargetService:',
    '      Type: AWS::ECS::Service',
    '      Properties:',
    `        TaskDefinition: "${taskDefinition}"`,
    '        LoadBalancerInfo:',
    `          ContainerName: "${containerName}"`,
    `          ContainerPort: ${containerPort}`,
    '',
  ].join('\n');
}

/** Stores an application and its ECS deployment groups (the seed's way in; no CreateApplication API here). */
export function putCodeDeployApplication(r: RegionState, app: Application, groups: DeploymentGroup[]): void {
  const store = codeDeployState(r);
  store.applications.set(app.applicationName, app);
  for (const group of groups) store.groups.set(`${app.applicationName}/${group.deploymentGroupName}`, group);
}

/** Stores a finished deployment (history: what created the running task set). */
export function putCompletedDeployment(r: RegionState, d: CodeDeployment): void {
  codeDeployState(r).deployments.set(d.deploymentId, d);
}

// The deployment engine -----------------------------------------------------------------------

interface Ecs {
  s: EcsScheduler;
  cluster: EcsClusterState;
  service: Service;
}

function ecsOf(s: EcsScheduler, d: CodeDeployment): Ecs | undefined {
  if (s.cluster.cluster.clusterName !== d.cluster) return undefined;
  const service = s.cluster.services.get(d.service);
  return service ? { s, cluster: s.cluster, service } : undefined;
}

const setOf = (service: Service, id: string | undefined) => service.taskSets?.find((t) => t.id === id);
const liveTasks = (e: Ecs, setId: string | undefined) =>
  [...e.cluster.tasks.values()].filter((t) => t.group === `service:${e.service.serviceName}` && t.startedBy === setId && t.desiredStatus === 'RUNNING');

/** Opens a deployment (CreateDeployment or a rollback) and starts it at `t`. */
export function startCodeDeployment(s: EcsScheduler, d: CodeDeployment, t: number): void {
  codeDeployState(s.region).deployments.set(d.deploymentId, d);
  const e = ecsOf(s, d);
  const original = e?.service.taskSets?.find((set) => set.status === 'PRIMARY');
  if (original) d.previousTaskDefinition = original.taskDefinition;
  const succeeded = [...codeDeployState(s.region).deployments.values()].filter(
    (x) => x.applicationName === d.applicationName && x.groupName === d.groupName && x.status === 'Succeeded',
  );
  const last = succeeded.at(-1);
  if (last) d.previousAppSpec = last.appSpec;
  Object.assign(d, { status: 'InProgress', startTime: new Date(t), lastUpdated: new Date(t) });
  run(s, d, t);
}

/** A deployment CodeDeploy cannot start (its ECS service or target groups are wrong): Failed at once, nothing changed. */
export function failAtStart(r: RegionState, d: CodeDeployment, t: number, code: ErrorCode, message: string): void {
  codeDeployState(r).deployments.set(d.deploymentId, d);
  d.events[0]!.status = 'Skipped';
  Object.assign(d, { status: 'Failed', startTime: new Date(t), completeTime: new Date(t), lastUpdated: new Date(t), errorInformation: { code, message } });
}

/** The due times of the cluster's deployments and task sets, for the scheduler's loop. */
export function codeDeployDue(s: EcsScheduler): number | undefined {
  let next: number | undefined;
  const consider = (at: number | undefined) => {
    if (at !== undefined && at > s.book.at && (next === undefined || at < next)) next = at;
  };
  for (const d of codeDeployState(s.region).deployments.values()) {
    if (!isActive(d) || !ecsOf(s, d)) continue;
    consider(d.until);
    const event = d.events[d.phase];
    if (event?.lifecycleEventName === 'Install' && event.startTime) consider(+event.startTime + REPLACEMENT_TIMEOUT_MS);
  }
  // A task set short of tasks (failed ones) relaunches when the service's back-off ends.
  for (const service of s.cluster.services.values()) {
    if (service.deploymentController?.type !== 'CODE_DEPLOY' || service.status !== 'ACTIVE') continue;
    const e = { s, cluster: s.cluster, service };
    if (service.taskSets?.some((set) => liveTasks(e, set.id).length < (set.computedDesiredCount ?? 0))) consider(s.service(service).launchNotBefore);
  }
  return next;
}

/**
 * What ECS does for a CODE_DEPLOY service on each pass: each task set keeps its computed count
 * (UpdateService's desiredCount × its scale), launching what is missing once the back-off of
 * failures allows, stopping what is extra.
 */
export function reconcileTaskSets(s: EcsScheduler, service: Service, t: number): void {
  const e = { s, cluster: s.cluster, service };
  for (const set of service.taskSets ?? []) {
    const tasks = liveTasks(e, set.id);
    const want = set.computedDesiredCount ?? 0;
    if (tasks.length < want && t >= s.service(service).launchNotBefore) s.launch(service, set, want - tasks.length, t);
    else if (tasks.length > want) s.stopTasks(service, tasks.slice(want), t, set.id!);
  }
  refreshCounts(e, t);
}

/** Everything the cluster's deployments do at `t` (called by the scheduler after its own pass). */
export function codeDeployPass(s: EcsScheduler, t: number): void {
  for (const d of [...codeDeployState(s.region).deployments.values()]) if (isActive(d) && ecsOf(s, d)) run(s, d, t);
}

function run(s: EcsScheduler, d: CodeDeployment, t: number): void {
  const e = ecsOf(s, d);
  if (!e) return;
  for (let guard = 0; guard < 100 && isActive(d) && progress(e, d, t); guard++);
  refreshCounts(e, t);
}

function begin(d: CodeDeployment, t: number): LifecycleEvent {
  const event = d.events[d.phase]!;
  if (event.status === 'Pending') Object.assign(event, { status: 'InProgress', startTime: new Date(t) });
  d.lastUpdated = new Date(t);
  return event;
}

function complete(d: CodeDeployment, t: number, status: LifecycleEvent['status'] = 'Succeeded'): void {
  const event = d.events[d.phase]!;
  Object.assign(event, { status, startTime: event.startTime ?? new Date(t), endTime: new Date(t) });
  d.phase++;
  delete d.until;
  delete d.sub;
  d.lastUpdated = new Date(t);
}

/** One step of the deployment at `t`; false when it waits (for tasks, time or a call). */
function progress(e: Ecs, d: CodeDeployment, t: number): boolean {
  if (d.until !== undefined && d.until > t) return false;
  if (d.rollbackOf) return progressRollback(e, d, t);
  const name = d.events[d.phase]?.lifecycleEventName;
  switch (name) {
    case undefined:
      return finishTermination(e, d, t);
    case 'Install':
      return install(e, d, t);
    case 'AllowTestTraffic': {
      const pair = groupOf(e.s.region, d)?.loadBalancerInfo.targetGroupPairInfoList[0];
      if (!pair?.testTrafficRoute?.listenerArns.length) {
        complete(d, t);
        return true;
      }
      if (d.sub !== 'shift') {
        begin(d, t);
        return shift(e, d, t);
      }
      d.testWeight = 100;
      complete(d, t);
      return true;
    }
    case 'AllowTraffic':
      return allowTraffic(e, d, t);
    default:
      complete(d, t);
      return true;
  }
}

/** A traffic shift under way until `t + trafficShiftMs`. */
function shift(e: Ecs, d: CodeDeployment, t: number): boolean {
  d.sub = 'shift';
  d.until = t + e.s.state.ecsTimings.trafficShiftMs;
  return d.until <= t;
}

function install(e: Ecs, d: CodeDeployment, t: number): boolean {
  const event = begin(d, t);
  if (!d.replacementTaskSet) {
    const definition = e.s.region.ecs.taskDefinitions.get(nameFromRef(d.target.taskDefinition).replace(/^task-definition\//, ''))?.taskDefinition;
    const original = setOf(e.service, d.originalTaskSet);
    const container = definition?.containerDefinitions?.find((c) => c.name === d.target.containerName);
    const problem = !definition
      ? `The ECS service cannot be updated: TaskDefinition not found: ${d.target.taskDefinition}`
      : definition.status !== 'ACTIVE'
        ? `The ECS service cannot be updated: TaskDefinition is inactive: ${d.target.taskDefinition}`
        : !container?.portMappings?.some((m) => m.containerPort === d.target.containerPort)
          ? `The ECS service cannot be updated: the container ${d.target.containerName} with port ${d.target.containerPort} does not exist in the task definition.`
          : undefined;
    if (problem || !original) {
      failDeployment(e, d, t, 'ECS_UPDATE_ERROR', problem ?? 'The ECS service has no primary task set to replace.');
      return false;
    }
    createReplacement(e, d, original, definition!.taskDefinitionArn!, t);
    return true;
  }
  const set = setOf(e.service, d.replacementTaskSet)!;
  const tasks = liveTasks(e, set.id);
  const healthyMs = e.s.state.ecsTimings.healthyMs;
  const healthy = tasks.filter((task) => task.lastStatus === 'RUNNING' && +task.startedAt! + healthyMs <= t).length;
  if (healthy >= (set.computedDesiredCount ?? 0)) {
    complete(d, t);
    return true;
  }
  if (t >= +event.startTime! + REPLACEMENT_TIMEOUT_MS) {
    failDeployment(
      e,
      d,
      t,
      'ECS_UPDATE_ERROR',
      'The deployment timed out while waiting for the replacement task set to become healthy. This time out period is 60 minutes.',
    );
    return false;
  }
  // ECS relaunches failed tasks after its back-off (reconcileTaskSets).
  return false;
}

function createReplacement(e: Ecs, d: CodeDeployment, original: TaskSet, taskDefinitionArn: string, t: number): void {
  const id = newDeploymentId();
  const at = new Date(t);
  const loadBalancers: LoadBalancer[] = [{ targetGroupArn: d.greenGroup, containerName: d.target.containerName, containerPort: d.target.containerPort }];
  const set: TaskSet = {
    id,
    taskSetArn: arns.taskSet(e.s.region, d.cluster, d.service, id),
    serviceArn: e.service.serviceArn,
    clusterArn: e.service.clusterArn,
    startedBy: 'CodeDeploy',
    externalId: d.deploymentId,
    status: 'ACTIVE',
    taskDefinition: taskDefinitionArn,
    computedDesiredCount: e.service.desiredCount ?? 0,
    pendingCount: 0,
    runningCount: 0,
    createdAt: at,
    updatedAt: at,
    ...(original.launchType ? { launchType: original.launchType } : {}),
    ...(original.capacityProviderStrategy ? { capacityProviderStrategy: structuredClone(original.capacityProviderStrategy) } : {}),
    ...(original.platformVersion ? { platformVersion: d.target.platformVersion ?? original.platformVersion, platformFamily: original.platformFamily } : {}),
    networkConfiguration: structuredClone(d.target.networkConfiguration ?? original.networkConfiguration ?? e.service.networkConfiguration ?? {}),
    loadBalancers,
    serviceRegistries: [],
    scale: { value: 100, unit: 'PERCENT' },
    stabilityStatus: 'STABILIZING',
    stabilityStatusAt: at,
  };
  e.service.taskSets = [...(e.service.taskSets ?? []), set];
  d.replacementTaskSet = id;
  // A new task set starts without the back-off of the service's earlier failures.
  Object.assign(e.s.service(e.service), { launchNotBefore: t, consecutiveFailures: 0 });
  e.s.launch(e.service, set, set.computedDesiredCount!, t);
}

function allowTraffic(e: Ecs, d: CodeDeployment, t: number): boolean {
  // A group that waits (STOP_DEPLOYMENT) is Ready until ContinueDeployment READY_WAIT or the end of its wait.
  const ready = groupOf(e.s.region, d)?.blueGreenDeploymentConfiguration.deploymentReadyOption;
  if (ready?.actionOnTimeout === 'STOP_DEPLOYMENT' && !d.continued) {
    if (d.sub === 'ready') {
      stopDeployment(e.s, d, t, false, 'The deployment was stopped: traffic rerouting was not started before the end of the wait period.', 'TIMEOUT');
      return false;
    }
    Object.assign(d, { status: 'Ready', sub: 'ready', until: t + (ready.waitTimeInMinutes ?? 0) * MIN, lastUpdated: new Date(t) });
    return d.until! <= t;
  }
  if (d.sub === 'ready') {
    d.status = 'InProgress';
    delete d.sub;
  }
  begin(d, t);
  const { weights, intervalMs } = trafficSteps(d.routing);
  if (d.sub === 'shift') {
    d.weight = weights[d.step]!;
    if (d.step === weights.length - 1) {
      promote(e, d, d.replacementTaskSet!, t);
      complete(d, t);
      return true;
    }
    d.step++;
    d.sub = 'interval';
    d.until = t + intervalMs;
    return d.until <= t;
  }
  return shift(e, d, t);
}

/** The task set that now takes production traffic becomes PRIMARY; the service follows it. */
function promote(e: Ecs, d: CodeDeployment, setId: string, t: number): void {
  const at = new Date(t);
  for (const set of e.service.taskSets ?? []) {
    const status = set.id === setId ? 'PRIMARY' : set.status === 'PRIMARY' ? 'ACTIVE' : set.status;
    if (status !== set.status) Object.assign(set, { status, updatedAt: at });
  }
  const primary = setOf(e.service, setId)!;
  e.service.taskSets = [primary, ...(e.service.taskSets ?? []).filter((s) => s !== primary)];
  Object.assign(e.service, { taskDefinition: primary.taskDefinition, loadBalancers: structuredClone(primary.loadBalancers ?? []) });
  if (primary.platformVersion) e.service.platformVersion = primary.platformVersion;
  event(e, t, `(service ${e.service.serviceName}, taskSet ${setId}) updated primary task set (deployment ${d.deploymentId}).`);
}

/** After the traffic moved: the termination wait, then the original task set is deleted. */
function finishTermination(e: Ecs, d: CodeDeployment, t: number): boolean {
  if (d.sub !== 'termination') {
    const wait = groupOf(e.s.region, d)?.blueGreenDeploymentConfiguration.terminateBlueInstancesOnDeploymentSuccess.terminationWaitTimeInMinutes ?? 0;
    d.sub = 'termination';
    d.until = t + wait * MIN;
    return d.until <= t;
  }
  deleteTaskSet(e, d.originalTaskSet, d.deploymentId, t);
  succeed(d, t);
  return false;
}

function succeed(d: CodeDeployment, t: number): void {
  Object.assign(d, { status: 'Succeeded', completeTime: new Date(t), lastUpdated: new Date(t) });
  delete d.until;
  delete d.sub;
}

function deleteTaskSet(e: Ecs, setId: string | undefined, deploymentId: string, t: number): void {
  const set = setOf(e.service, setId);
  if (!set) return;
  e.s.stopTasks(e.service, liveTasks(e, set.id), t, set.id!);
  // DeleteTaskSet: DRAINING while its tasks stop, then gone (DescribeServices lists no INACTIVE set).
  e.service.taskSets = (e.service.taskSets ?? []).filter((s) => s !== set);
  event(e, t, `(service ${e.service.serviceName}, taskSet ${set.id}) deleted task set (deployment ${deploymentId}).`);
}

const event = (e: Ecs, t: number, message: string) => {
  const events = (e.service.events ??= []);
  events.unshift({ id: awsId('', 36), createdAt: new Date(t), message });
  events.splice(100);
};

export function groupOf(r: RegionState, d: CodeDeployment): DeploymentGroup | undefined {
  return codeDeployState(r).groups.get(`${d.applicationName}/${d.groupName}`);
}

function failDeployment(e: Ecs, d: CodeDeployment, t: number, code: ErrorCode, message: string): void {
  const current = d.events[d.phase];
  if (current) Object.assign(current, { status: 'Failed', startTime: current.startTime ?? new Date(t), endTime: new Date(t) });
  Object.assign(d, { status: 'Failed', completeTime: new Date(t), lastUpdated: new Date(t), errorInformation: { code, message } });
  delete d.until;
  delete d.sub;
  if (rollsBackOn(d, 'DEPLOYMENT_FAILURE')) startRollback(e, d, t, `Deployment ${d.deploymentId} failed: rolling back.`);
  else settleWithoutRollback(e, d, t);
}

export const rollsBackOn = (d: CodeDeployment, event: AutoRollbackEvent) => !!d.autoRollback.enabled && !!d.autoRollback.events?.includes(event);

/** No rollback: traffic wholly on the replacement keeps it; otherwise the original serves and the replacement goes (UNVERIFIED). */
function settleWithoutRollback(e: Ecs, d: CodeDeployment, t: number): void {
  if (d.weight >= 100) {
    if (setOf(e.service, d.replacementTaskSet)?.status !== 'PRIMARY') promote(e, d, d.replacementTaskSet!, t);
    deleteTaskSet(e, d.originalTaskSet, d.deploymentId, t);
  } else {
    if (setOf(e.service, d.originalTaskSet)?.status !== 'PRIMARY') promote(e, d, d.originalTaskSet, t);
    deleteTaskSet(e, d.replacementTaskSet, d.deploymentId, t);
  }
}

/** A rollback deployment: traffic back to the original task set, the replacement deleted. */
function startRollback(e: Ecs, d: CodeDeployment, t: number, message: string): CodeDeployment {
  const original = setOf(e.service, d.originalTaskSet);
  const appSpec = ecsAppSpec(original?.taskDefinition ?? d.previousTaskDefinition ?? d.target.taskDefinition, d.target.containerName, d.target.containerPort);
  const rollback: CodeDeployment = {
    ...structuredClone({ ...d, events: [] }),
    deploymentId: newCodeDeploymentId(),
    status: 'Created',
    creator: 'codeDeployRollback',
    description: `Rollback of deployment ${d.deploymentId}`,
    appSpec,
    target: { ...d.target, taskDefinition: original?.taskDefinition ?? d.target.taskDefinition },
    autoRollback: { enabled: false, events: [] },
    createTime: new Date(t),
    rollbackInfo: { rollbackTriggeringDeploymentId: d.deploymentId, rollbackMessage: `Rollback of deployment ${d.deploymentId}.` },
    events: LIFECYCLE_EVENTS.map((lifecycleEventName) => ({ lifecycleEventName, status: 'Pending' })),
    phase: 0,
    step: 0,
    rollbackOf: d.deploymentId,
    lastUpdated: new Date(t),
  };
  for (const key of ['startTime', 'completeTime', 'errorInformation', 'until', 'sub', 'continued'] as const) delete rollback[key];
  d.rollbackInfo = { rollbackDeploymentId: rollback.deploymentId, rollbackMessage: `${message} Rollback deployment: ${rollback.deploymentId}.` };
  startCodeDeployment(e.s, rollback, t);
  return rollback;
}

function progressRollback(e: Ecs, d: CodeDeployment, t: number): boolean {
  const allow = LIFECYCLE_EVENTS.indexOf('AllowTraffic');
  if (d.phase < allow) {
    complete(d, t, 'Skipped');
    return true;
  }
  if (d.phase === allow) {
    begin(d, t);
    // Traffic that reached the replacement is shifted back; none to shift: no wait.
    if (d.sub !== 'shift' && (d.weight > 0 || d.testWeight > 0)) return shift(e, d, t);
    Object.assign(d, { weight: 0, testWeight: 0 });
    if (setOf(e.service, d.originalTaskSet)?.status !== 'PRIMARY') promote(e, d, d.originalTaskSet, t);
    deleteTaskSet(e, d.replacementTaskSet, d.deploymentId, t);
    complete(d, t);
    return true;
  }
  if (d.phase < d.events.length) {
    complete(d, t, 'Skipped');
    return true;
  }
  succeed(d, t);
  return false;
}

/**
 * StopDeployment (or the ready wait running out): the deployment is Stopped; with rollback a
 * rollback deployment follows, without it the service is settled where traffic is.
 */
export function stopDeployment(
  s: EcsScheduler,
  d: CodeDeployment,
  t: number,
  rollback: boolean,
  message: string,
  code: ErrorCode = 'MANUAL_STOP',
): CodeDeployment | undefined {
  const e = ecsOf(s, d);
  const current = d.events[d.phase];
  if (current && current.status !== 'Pending') Object.assign(current, { status: 'Failed', endTime: new Date(t) });
  Object.assign(d, { status: 'Stopped', completeTime: new Date(t), lastUpdated: new Date(t), errorInformation: { code, message } });
  delete d.until;
  delete d.sub;
  if (!e) return undefined;
  if (rollback && !d.rollbackOf) return startRollback(e, d, t, message);
  settleWithoutRollback(e, d, t);
  refreshCounts(e, t);
  return undefined;
}

/** ContinueDeployment: READY_WAIT starts rerouting a Ready deployment; TERMINATION_WAIT ends the wait. */
export function continueDeployment(s: EcsScheduler, d: CodeDeployment, waitType: 'READY_WAIT' | 'TERMINATION_WAIT', t: number): void {
  if (waitType === 'READY_WAIT') {
    d.continued = true;
    delete d.until;
  } else d.until = t;
  run(s, d, t);
}

/** Task counts of the service and its task sets, as ECS keeps them. */
function refreshCounts(e: Ecs, t: number): void {
  const all = [...e.cluster.tasks.values()].filter((task) => task.group === `service:${e.service.serviceName}` && task.desiredStatus === 'RUNNING');
  const starting = (task: Task) => task.lastStatus === 'PROVISIONING' || task.lastStatus === 'PENDING';
  const healthyMs = e.s.state.ecsTimings.healthyMs;
  for (const set of e.service.taskSets ?? []) {
    const mine = all.filter((task) => task.startedBy === set.id);
    const running = mine.filter((task) => task.lastStatus === 'RUNNING');
    const steady = running.length === set.computedDesiredCount && running.every((task) => +task.startedAt! + healthyMs <= t);
    const counts = { runningCount: running.length, pendingCount: mine.filter(starting).length, stabilityStatus: steady ? 'STEADY_STATE' : 'STABILIZING' };
    if (Object.entries(counts).some(([k, v]) => set[k as keyof typeof counts] !== v)) {
      Object.assign(set, counts, { updatedAt: new Date(t) });
      if (set.stabilityStatus !== counts.stabilityStatus) set.stabilityStatusAt = new Date(t);
    }
  }
  e.service.runningCount = all.filter((task) => task.lastStatus === 'RUNNING').length;
  e.service.pendingCount = all.filter(starting).length;
}

/** What GetDeploymentTarget says about the deployment's task sets (ECSTaskSet); a deleted one is no longer listed (UNVERIFIED). */
export function taskSetsInfo(r: RegionState, service: Service | undefined, d: CodeDeployment) {
  const labelled = [
    { label: 'Blue' as const, id: d.originalTaskSet, group: d.blueGroup, weight: 100 - d.weight },
    { label: 'Green' as const, id: d.replacementTaskSet, group: d.greenGroup, weight: d.weight },
  ];
  return labelled.flatMap(({ label, id, group, weight }) => {
    const set = service && setOf(service, id);
    if (!set) return [];
    return [
      {
        identifer: set.id,
        desiredCount: set.computedDesiredCount ?? 0,
        pendingCount: set.pendingCount ?? 0,
        runningCount: set.runningCount ?? 0,
        status: set.status,
        trafficWeight: weight,
        targetGroup: { name: elbv2State(r).get(group)?.TargetGroupName ?? group.split('/')[1] },
        taskSetLabel: label,
      },
    ];
  });
}
