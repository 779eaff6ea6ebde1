/**
 * ECS service deployments and service revisions (the ListServiceDeployments / DescribeServiceDeployments
 * family), as the simulated scheduler (rollout.ts) records them: one ServiceDeployment per
 * deployment-triggering CreateService / UpdateService (rolling ones too), each with a new service
 * revision; a desiredCount-only update makes none. Shapes are the SDK's (`ServiceDeployment`,
 * `ServiceRevision`); what is inferred rather than documented is marked UNVERIFIED, after
 * ../../shared/reference/ecs-deployments.md §2–§3.
 *
 * The store hangs off the cluster (a WeakMap, as elbv2's target groups hang off the region), so
 * recreating the emulator forgets it; deleting a service is not modelled by the emulator.
 */
import { randomBytes } from 'node:crypto';
import type {
  Deployment,
  DeploymentLifecycleHookDetail,
  LoadBalancer,
  Service,
  ServiceDeployment,
  ServiceDeploymentStatus,
  ServiceRevision,
  ServiceRevisionSummary,
  Task,
} from '@aws-sdk/client-ecs';
import type { EcsClusterState, RegionState, TaskDefinitionRecord } from './state';

/** The lifecycle stages ECS reports (ServiceDeploymentLifecycleStage, plus the hook-only PRE_PRODUCTION_TRAFFIC_SHIFT). */
export type Stage =
  | 'PRE_SCALE_UP'
  | 'SCALE_UP'
  | 'POST_SCALE_UP'
  | 'TEST_TRAFFIC_SHIFT'
  | 'POST_TEST_TRAFFIC_SHIFT'
  | 'PRE_PRODUCTION_TRAFFIC_SHIFT'
  | 'PRODUCTION_TRAFFIC_SHIFT'
  | 'POST_PRODUCTION_TRAFFIC_SHIFT'
  | 'BAKE_TIME'
  | 'CLEAN_UP';

/** A BLUE_GREEN / LINEAR / CANARY deployment in flight: where it stands and what traffic it asks for. */
export interface StagedRun {
  /** Production weight (percent) of the target revision after each PRODUCTION_TRAFFIC_SHIFT. */
  steps: number[];
  /** Index in `steps` of the current (or last) production shift. */
  step: number;
  stage: Stage;
  /** When the current stage's timed part ends (a traffic shift, a step's bake, the bake time). */
  until?: number;
  /** The current stage's hooks (PAUSE ones hold the stage while AWAITING_ACTION). */
  hooks: DeploymentLifecycleHookDetail[];
  testWeight: number;
  productionWeight: number;
}

export interface ServiceDeploymentRecord {
  serviceName: string;
  /** The ECS Deployment (`ecs-svc/…`) running the target revision. */
  deploymentId: string;
  sourceDeploymentIds: string[];
  /** A rolling rollback's own Deployment (circuit breaker or StopServiceDeployment). */
  rollbackDeploymentId?: string;
  staged?: StagedRun;
  /** What DescribeServiceDeployments shows, minus the live revision summaries. */
  view: ServiceDeployment & { targetServiceRevision: ServiceRevisionSummary; sourceServiceRevisions: ServiceRevisionSummary[] };
}

interface ClusterDeployments {
  byArn: Map<string, ServiceDeploymentRecord>;
  revisions: Map<string, ServiceRevision>;
  /** ECS Deployment id → its service revision's ARN. */
  revisionOf: Map<string, string>;
  /**
   * Load balancers with an alternate target group: the group a Deployment's tasks register with,
   * by the service's `targetGroupArn` (absent: that group itself). Blue/green alternates between them.
   */
  servingGroups: Map<string, Record<string, string>>;
}

const stores = new WeakMap<EcsClusterState, ClusterDeployments>();
export function deploymentsOf(cluster: EcsClusterState): ClusterDeployments {
  let store = stores.get(cluster);
  if (!store) stores.set(cluster, (store = { byArn: new Map(), revisions: new Map(), revisionOf: new Map(), servingGroups: new Map() }));
  return store;
}

export const COMPLETED_STATUSES: ServiceDeploymentStatus[] = ['SUCCESSFUL', 'STOPPED', 'ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED'];
export const isCompleted = (record: ServiceDeploymentRecord) => COMPLETED_STATUSES.includes(record.view.status!);

/** The service's deployment still under way, if any (at most one: a new one stops the previous). */
export function ongoingDeployment(cluster: EcsClusterState, serviceName: string): ServiceDeploymentRecord | undefined {
  for (const record of deploymentsOf(cluster).byArn.values()) if (record.serviceName === serviceName && !isCompleted(record)) return record;
  return undefined;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** Shaped like the SDK examples' `NCWGC2ZR-taawPAYrIaU5`: 8 upper-case alphanumerics, `-`, 12 URL-safe characters. */
const serviceDeploymentId = () => `${Array.from(randomBytes(8), (b) => ALNUM[b % ALNUM.length]).join('')}-${randomBytes(9).toString('base64url').slice(0, 12)}`;
/** Service revision ids are numeric in the SDK examples; 19 digits here. */
const revisionId = () => String((BigInt(`0x${randomBytes(8).toString('hex')}`) % 9_000_000_000_000_000_000n) + 1_000_000_000_000_000_000n);

/** `ecs-svc/` and 19 digits, as ECS names deployments (and task sets). */
export const newDeploymentId = () => `ecs-svc/${(BigInt(`0x${randomBytes(8).toString('hex')}`) % 9_000_000_000_000_000_000n) + 1_000_000_000_000_000_000n}`;

/** The ECS hook id of a pause: `ecs-pause-` and 43 URL-safe characters (reference §2). */
export const pauseHookId = () => `ecs-pause-${randomBytes(33).toString('base64url').slice(0, 43)}`;

/**
 * The service revision a deployment runs: created when first needed (a seeded deployment gets its
 * revision when the next deployment names it as a source), from the service's configuration then.
 */
export function revisionOf(region: RegionState, cluster: EcsClusterState, service: Service, deployment: Deployment, t: number): string {
  const store = deploymentsOf(cluster);
  const known = store.revisionOf.get(deployment.id!);
  if (known) return known;
  const clusterName = cluster.cluster.clusterName!;
  const arn = `arn:aws:ecs:${region.region}:${region.accountId}:service-revision/${clusterName}/${service.serviceName}/${revisionId()}`;
  const definition: TaskDefinitionRecord | undefined = region.ecs.taskDefinitions.get(deployment.taskDefinition!.replace(/^.*:task-definition\//, ''));
  const balancers = service.loadBalancers ?? [];
  const revision: ServiceRevision = {
    serviceRevisionArn: arn,
    serviceArn: service.serviceArn,
    clusterArn: service.clusterArn,
    taskDefinition: deployment.taskDefinition,
    ...(deployment.capacityProviderStrategy ? { capacityProviderStrategy: structuredClone(deployment.capacityProviderStrategy) } : {}),
    ...(deployment.launchType ? { launchType: deployment.launchType } : {}),
    ...(deployment.platformVersion ? { platformVersion: deployment.platformVersion, platformFamily: deployment.platformFamily } : {}),
    loadBalancers: structuredClone(balancers),
    serviceRegistries: structuredClone(service.serviceRegistries ?? []),
    ...(deployment.networkConfiguration ? { networkConfiguration: structuredClone(deployment.networkConfiguration) } : {}),
    containerImages: (definition?.taskDefinition.containerDefinitions ?? []).map((c) => ({ containerName: c.name, image: c.image })),
    guardDutyEnabled: false,
    createdAt: new Date(Math.min(t, +(deployment.createdAt ?? t))),
  };
  store.revisions.set(arn, revision);
  store.revisionOf.set(deployment.id!, arn);
  return arn;
}

/** The target group a task of the service registers with for `lb` (elbv2's registered targets). */
export function servingGroup(cluster: EcsClusterState, deploymentId: string | undefined, lb: LoadBalancer): string | undefined {
  return (deploymentId && stores.get(cluster)?.servingGroups.get(deploymentId)?.[lb.targetGroupArn!]) || lb.targetGroupArn;
}

/** Green registers with the group blue does not use: the alternate one, or back to the primary one. */
function assignServingGroups(store: ClusterDeployments, service: Service, green: Deployment, blue: Deployment | undefined): void {
  const groups: Record<string, string> = {};
  for (const lb of service.loadBalancers ?? []) {
    const alternate = lb.advancedConfiguration?.alternateTargetGroupArn;
    if (!alternate || !lb.targetGroupArn) continue;
    const blueGroup = (blue && store.servingGroups.get(blue.id!)?.[lb.targetGroupArn]) ?? lb.targetGroupArn;
    groups[lb.targetGroupArn] = blueGroup === lb.targetGroupArn ? alternate : lb.targetGroupArn;
  }
  store.servingGroups.set(green.id!, groups);
}

/** The target group that serves a revision once it has production traffic (ServiceRevision.resolvedConfiguration). */
export function resolveLoadBalancers(cluster: EcsClusterState, record: ServiceDeploymentRecord): void {
  const revision = deploymentsOf(cluster).revisions.get(record.view.targetServiceRevision.arn!);
  if (!revision) return;
  revision.resolvedConfiguration = {
    loadBalancers: (revision.loadBalancers ?? []).map((lb) => ({
      targetGroupArn: servingGroup(cluster, record.deploymentId, lb),
      ...(lb.advancedConfiguration?.productionListenerRule ? { productionListenerRule: lb.advancedConfiguration.productionListenerRule } : {}),
    })),
  };
}

/** Opens the ServiceDeployment of a new Deployment; the one it replaces, if still going, is STOPPED (UNVERIFIED). */
export function openServiceDeployment(
  region: RegionState,
  cluster: EcsClusterState,
  service: Service,
  deployment: Deployment,
  t: number,
  staged: StagedRun | undefined,
): ServiceDeploymentRecord {
  const store = deploymentsOf(cluster);
  const at = new Date(t);
  const previous = ongoingDeployment(cluster, service.serviceName!);
  if (previous) {
    Object.assign(previous.view, { status: 'STOPPED', statusReason: 'Superseded by a newer service deployment.', stoppedAt: at, updatedAt: at });
    delete previous.staged;
  }
  const sources = (service.deployments ?? []).filter((d) => d !== deployment);
  const arn = `arn:aws:ecs:${region.region}:${region.accountId}:service-deployment/${cluster.cluster.clusterName}/${service.serviceName}/${serviceDeploymentId()}`;
  const record: ServiceDeploymentRecord = {
    serviceName: service.serviceName!,
    deploymentId: deployment.id!,
    sourceDeploymentIds: sources.map((d) => d.id!),
    ...(staged ? { staged } : {}),
    view: {
      serviceDeploymentArn: arn,
      serviceArn: service.serviceArn,
      clusterArn: service.clusterArn,
      // PENDING lasts no emulator time: the scheduler starts every deployment at once.
      createdAt: at,
      startedAt: at,
      updatedAt: at,
      sourceServiceRevisions: sources.map((d) => ({ arn: revisionOf(region, cluster, service, d, t) })),
      targetServiceRevision: { arn: revisionOf(region, cluster, service, deployment, t) },
      status: 'IN_PROGRESS',
      deploymentConfiguration: structuredClone(service.deploymentConfiguration ?? {}),
    },
  };
  if (staged) assignServingGroups(store, service, deployment, sources.find((d) => d.rolloutState === 'COMPLETED') ?? sources[0]);
  store.byArn.set(arn, record);
  return record;
}

/** Completed: SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED, with the times ECS sets. */
export function finish(record: ServiceDeploymentRecord, status: ServiceDeploymentStatus, t: number, statusReason?: string): void {
  const at = new Date(t);
  Object.assign(record.view, {
    status,
    updatedAt: at,
    finishedAt: at,
    // stoppedAt: "a manual stop or a failure without rollback" (ServiceDeployment.stoppedAt).
    ...(status === 'STOPPED' ? { stoppedAt: at } : {}),
    ...(statusReason ? { statusReason } : {}),
  });
  delete record.staged;
}

const live = (task: Task) => task.desiredStatus === 'RUNNING';
/** Counts of a revision's tasks now (the weights are the requested ones, a snapshot as the SDK says). */
function summary(
  base: ServiceRevisionSummary,
  tasks: Task[],
  deploymentIds: string[],
  requested: number,
  weights?: { test: number; production: number },
): ServiceRevisionSummary {
  const mine = tasks.filter((task) => deploymentIds.includes(task.startedBy ?? '') && live(task));
  return {
    arn: base.arn,
    requestedTaskCount: requested,
    runningTaskCount: mine.filter((task) => task.lastStatus === 'RUNNING').length,
    pendingTaskCount: mine.filter((task) => task.lastStatus === 'PROVISIONING' || task.lastStatus === 'PENDING').length,
    ...(weights ? { requestedTestTrafficWeight: weights.test, requestedProductionTrafficWeight: weights.production } : {}),
  };
}

/** What DescribeServiceDeployments returns for a record: the view plus live task counts per revision. */
export function describeServiceDeployment(
  cluster: EcsClusterState,
  record: ServiceDeploymentRecord,
  failureThreshold: (n: number) => number,
): ServiceDeployment {
  const service = cluster.services.get(record.serviceName);
  const tasks = [...cluster.tasks.values()].filter((task) => task.group === `service:${record.serviceName}`);
  const view = structuredClone(record.view);
  const run = record.staged;
  const status = view.status!;
  const desired = service?.desiredCount ?? 0;
  const rolledBack = status.startsWith('ROLLBACK');
  const targetIds = [record.deploymentId];
  const targetWeights = run ? { test: run.testWeight, production: run.productionWeight } : undefined;
  view.targetServiceRevision = summary(view.targetServiceRevision, tasks, targetIds, rolledBack || status === 'STOPPED' ? 0 : desired, targetWeights);
  view.sourceServiceRevisions = view.sourceServiceRevisions.map((source, i) => {
    const ids = [record.sourceDeploymentIds[i]!, ...(i === 0 && record.rollbackDeploymentId ? [record.rollbackDeploymentId] : [])];
    const running = tasks.filter((task) => ids.includes(task.startedBy ?? '') && live(task)).length;
    const weights = targetWeights && { test: 100 - targetWeights.test, production: 100 - targetWeights.production };
    return summary(source, tasks, ids, i === 0 && rolledBack ? desired : running, i === 0 ? weights : weights && { test: 0, production: 0 });
  });
  if (run) {
    view.lifecycleStage = run.stage as ServiceDeployment['lifecycleStage'];
    view.lifecycleHookDetails = structuredClone(run.hooks);
  }
  const breaker = view.deploymentConfiguration?.deploymentCircuitBreaker;
  const deployment = service?.deployments?.find((d) => d.id === record.deploymentId);
  view.deploymentCircuitBreaker = breaker?.enable
    ? {
        status: status === 'IN_PROGRESS' ? 'MONITORING' : /circuit breaker/i.test(record.view.rollback?.reason ?? '') ? 'TRIGGERED' : 'MONITORING_COMPLETE',
        failureCount: deployment?.failedTasks ?? 0,
        threshold: failureThreshold(desired),
      }
    : { status: 'DISABLED', failureCount: 0, threshold: 0 };
  const alarms = view.deploymentConfiguration?.alarms;
  // Alarms are not evaluated by the emulator: a configured set is only watched.
  view.alarms = alarms?.enable
    ? { status: status === 'IN_PROGRESS' ? 'MONITORING' : 'MONITORING_COMPLETE', alarmNames: alarms.alarmNames ?? [], triggeredAlarmNames: [] }
    : { status: 'DISABLED' };
  return view;
}
