/**
 * The ECS service scheduler, simulated: deployments roll out over emulator time the way ECS runs a
 * rolling update (minimumHealthyPercent / maximumPercent, the deployment circuit breaker and its
 * rollback), with ECS's own service event messages, stop reasons and counters.
 *
 * Nothing runs on real timers. Every task in flight carries its next lifecycle step and the time it
 * is due; `runScheduler()` replays the due steps in time order up to the clock's now and reconciles
 * every service after each instant. The ECS handlers call it before answering and the emulator calls
 * it on `clock.advance()`, so the state is a function of the requests made and of emulator time
 * alone: a test skips a whole rollout with `clock.advance(ms)` and gets the same result on every run.
 *
 * A task's life (delays in `state.ecsTimings`, ~15 s per step by default):
 *
 *   launch → PROVISIONING ─provisionMs→ PENDING ─pullMs→ RUNNING ─healthyMs→ healthy (counts for the rollout)
 *                                          └─ image can't be pulled → STOPPED (TaskFailedToStart)
 *                                                            └─ crashAfterMs → STOPPED (EssentialContainerExited)
 *   scheduler stop → DEACTIVATING ─drainMs→ STOPPED (load-balanced) | STOPPING ─stopMs→ STOPPED
 *
 * Every change is also what ECS tells EventBridge (`state.events`, shapes in ecs-events.ts): a Task
 * State Change per task change (a stop or crash first shows desired STOPPED, then STOPPED), the
 * deployments' IN_PROGRESS / COMPLETED / FAILED, and the Service Actions (steady state, repeated
 * every 6 h of steadiness; start impaired; placement failure). Containers write their awslogs lines
 * as they start, crash and stop (container-logs.ts). The emulator's faults `state.crashLoop()` and
 * `state.failPlacements()` (ecs-faults.ts) make a running service's tasks crash or its new tasks
 * unplaceable until cleared.
 */
import { randomInt } from 'node:crypto';
import type { CapacityProviderStrategyItem, Container, Deployment, DeploymentConfiguration, Service, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import { codeDeployDue, codeDeployPass, reconcileTaskSets } from './codedeploy';
import { writeContainerLogs, type ContainerMoment } from './container-logs';
import { runOneOffTasks } from './one-off-tasks';
import type { CrashLoop, PlacementFailureReason } from './ecs-faults';
import { deploymentStateChange, hookStateChange, serviceAction, taskStateChange, type DeploymentEventName, type ServiceActionName } from './ecs-events';
import { ec2State } from './services/ec2';
import { arns, hexId, nameFromRef, uuid, type EcsClusterState, type EmulatorState, type ImageFailure, type RegionState } from './state';
import {
  deploymentsOf,
  finish,
  ongoingDeployment,
  openServiceDeployment,
  newDeploymentId,
  pauseHookId,
  resolveLoadBalancers,
  type ServiceDeploymentRecord,
  type Stage,
  type StagedRun,
} from './service-deployments';

type Step = 'PENDING' | 'RUNNING' | 'HEALTHY' | 'FAIL' | 'STOPPED';

interface TaskPlan {
  at: number;
  step: Step;
  /** Decided at launch: the task's image is in `state.failingImages`, or its service is in a crash loop. */
  failure?: { rule: ImageFailure; container: string; image: string; crashLoop?: CrashLoop };
}

/** What a task is launched from: a Deployment, or a task set (the same members). */
export type LaunchSpec = Pick<Deployment, 'id' | 'taskDefinition' | 'launchType' | 'capacityProviderStrategy' | 'platformVersion' | 'platformFamily'>;

export interface ServiceSchedule {
  /** ECS backs off relaunching after consecutive task failures: no launches before this time. */
  launchNotBefore: number;
  consecutiveFailures: number;
  /** Deployments that had a task pass health checks; the circuit breaker stops counting their failures (as ECS documents). */
  proven: Set<string>;
  /** What the circuit breaker rolls back to. */
  lastCompleted?: { id: string; taskDefinition: string };
  /** "has reached a steady state." has been said since the service last changed. */
  steady: boolean;
  /** When SERVICE_STEADY_STATE was last sent (ECS repeats it while the service stays steady). */
  steadyAnnouncedAt?: number;
  /** Consecutive launch attempts that could not be placed (placement fault), for the back-off. */
  placementFailures: number;
  /** SERVICE_TASK_START_IMPAIRED has been sent for the current run of consecutive failures. */
  impaired?: boolean;
}

export interface ClusterSchedule {
  /** Simulated time the cluster has been brought up to. */
  at: number;
  /** Each task's next lifecycle step, by task id; tasks without one are settled (healthy or stopped). */
  plans: Map<string, TaskPlan>;
  services: Map<string, ServiceSchedule>;
}

/** ECS repeats SERVICE_STEADY_STATE while a service stays steady; the emulator at most this often. */
export const STEADY_STATE_REPEAT_MS = 6 * 3_600_000;
/** Consecutive task failures after which ECS says the service's task starts are impaired. */
export const START_IMPAIRED_AFTER = 3;

/** ECS's circuit-breaker threshold: half the desired count, rounded up, within [3, 200]. */
export const failureThreshold = (desiredCount: number) => Math.max(3, Math.min(200, Math.ceil(desiredCount * 0.5)));

/** Brings every cluster's tasks and deployments up to `now` (default: the clock's now). */
export function runScheduler(state: EmulatorState, now = state.clock.now()): void {
  for (const account of state.accounts.values()) {
    for (const region of account.regions.values()) {
      for (const cluster of region.ecs.clusters.values()) {
        new EcsScheduler(state, region, cluster).runUntil(now);
        runOneOffTasks(state, region, cluster, now);
      }
    }
  }
}

/**
 * What UpdateService with forceNewDeployment does to a service of the scheduler's, for emulator
 * controls that need a deployment without an API call (the playground's placement failure).
 */
export function forceNewDeployment(state: EmulatorState, serviceArn: string): void {
  const arn = /^arn:aws:ecs:([^:]+):(\d{12}):service\//.exec(serviceArn);
  if (!arn) throw new Error(`not a service ARN: ${serviceArn}`);
  const regional = state.region(arn[2]!, arn[1]!);
  for (const cluster of regional.ecs.clusters.values()) {
    const service = [...cluster.services.values()].find((s) => s.serviceArn === serviceArn);
    if (!service) continue;
    const scheduler = new EcsScheduler(state, regional, cluster);
    const now = state.clock.now();
    scheduler.runUntil(now);
    scheduler.startDeployment(service, service.taskDefinition!, now);
    scheduler.reconcile(service, now);
    return;
  }
  throw new Error(`no service ${serviceArn}`);
}

/** The production weights of a staged strategy's shifts; LINEAR's step count and last step are UNVERIFIED (ceil, capped at 100). */
export function productionSteps(config: DeploymentConfiguration): number[] {
  const round = (n: number) => Math.round(n * 10) / 10;
  if (config.strategy === 'CANARY') {
    const canary = config.canaryConfiguration?.canaryPercent ?? 5;
    return canary >= 100 ? [100] : [round(canary), 100];
  }
  if (config.strategy === 'LINEAR') {
    const step = config.linearConfiguration?.stepPercent ?? 10;
    return Array.from({ length: Math.ceil(round(100 / step)) }, (_, i) => Math.min(100, round(step * (i + 1))));
  }
  return [100];
}

/** A new staged run for BLUE_GREEN / LINEAR / CANARY (ROLLING deployments have no stages, reference §2). */
function stagedRun(config: DeploymentConfiguration | undefined): StagedRun | undefined {
  if (!config?.strategy || config.strategy === 'ROLLING') return undefined;
  return { steps: productionSteps(config), step: 0, stage: 'PRE_SCALE_UP', hooks: [], testWeight: 0, productionWeight: 0 };
}

/** The order of reference §2: RECONCILE_SERVICE is not modelled; 7 → 8 repeat per production step. */
function nextStage(run: StagedRun): Stage {
  const order: Stage[] = ['PRE_SCALE_UP', 'SCALE_UP', 'POST_SCALE_UP', 'TEST_TRAFFIC_SHIFT', 'POST_TEST_TRAFFIC_SHIFT', 'PRE_PRODUCTION_TRAFFIC_SHIFT'];
  if (run.stage === 'PRODUCTION_TRAFFIC_SHIFT') return run.step < run.steps.length - 1 ? 'PRE_PRODUCTION_TRAFFIC_SHIFT' : 'POST_PRODUCTION_TRAFFIC_SHIFT';
  if (run.stage === 'PRE_PRODUCTION_TRAFFIC_SHIFT') return 'PRODUCTION_TRAFFIC_SHIFT';
  if (run.stage === 'POST_PRODUCTION_TRAFFIC_SHIFT') return 'BAKE_TIME';
  if (run.stage === 'BAKE_TIME') return 'CLEAN_UP';
  return order[order.indexOf(run.stage) + 1]!;
}

const taskId = (task: Task) => nameFromRef(task.taskArn!);
const live = (task: Task) => task.desiredStatus === 'RUNNING';
const alive = (task: Task) => task.lastStatus !== 'STOPPED';
const primaryOf = (service: Service) => service.deployments?.find((d) => d.status === 'PRIMARY');
const familyRevision = (arn: string) => arn.slice(arn.indexOf('task-definition/') + 'task-definition/'.length);
const matches = (rule: ImageFailure, image: string) => (typeof rule.image === 'string' ? rule.image === image : rule.image.test(image));
/** Fargate, by launch type or through the FARGATE / FARGATE_SPOT capacity providers. */
const onFargate = (spec: { launchType?: string; capacityProviderStrategy?: CapacityProviderStrategyItem[] }) =>
  spec.launchType === 'FARGATE' || (!spec.launchType && !!spec.capacityProviderStrategy?.some((s) => s.capacityProvider?.startsWith('FARGATE')));

export class EcsScheduler {
  readonly book: ClusterSchedule;

  constructor(
    readonly state: EmulatorState,
    readonly region: RegionState,
    readonly cluster: EcsClusterState,
  ) {
    this.book = cluster.scheduler ??= { at: state.clock.now(), plans: new Map(), services: new Map() };
  }

  /** The scheduler's record of a service, started from what the service shows (e.g. the seed's deployments). */
  service(service: Service): ServiceSchedule {
    let schedule = this.book.services.get(service.serviceName!);
    if (!schedule) {
      const completed = service.deployments?.find((d) => d.rolloutState === 'COMPLETED');
      schedule = {
        launchNotBefore: this.book.at,
        consecutiveFailures: 0,
        proven: new Set(completed ? [completed.id!] : []),
        ...(completed ? { lastCompleted: { id: completed.id!, taskDefinition: completed.taskDefinition! } } : {}),
        steady: service.deployments?.length === 1 && completed?.status === 'PRIMARY',
        placementFailures: 0,
      };
      if (schedule.steady) schedule.steadyAnnouncedAt = this.book.at;
      this.book.services.set(service.serviceName!, schedule);
    }
    return schedule;
  }

  runUntil(now: number): void {
    this.applyCrashLoops(this.book.at);
    for (let at = this.nextDue(); at !== undefined && at <= now; at = this.nextDue()) {
      this.announceSteadyStates(at);
      this.book.at = Math.max(this.book.at, at);
      this.instant(this.book.at);
    }
    this.announceSteadyStates(now);
    this.book.at = Math.max(this.book.at, now);
  }

  /** A new PRIMARY deployment (UpdateService, or the circuit breaker's rollback); the previous one becomes ACTIVE. */
  startDeployment(service: Service, taskDefinitionArn: string, t: number, reason?: string): Deployment {
    const id = newDeploymentId();
    const previous = service.deployments ?? [];
    for (const d of previous.filter((d) => d.status === 'PRIMARY')) Object.assign(d, { status: 'ACTIVE', updatedAt: new Date(t) });
    const fargate = onFargate(service);
    const strategy = service.capacityProviderStrategy?.length ? service.capacityProviderStrategy : undefined;
    const deployment: Deployment = {
      id,
      status: 'PRIMARY',
      taskDefinition: taskDefinitionArn,
      desiredCount: service.desiredCount ?? 0,
      pendingCount: 0,
      runningCount: 0,
      failedTasks: 0,
      createdAt: new Date(t),
      updatedAt: new Date(t),
      ...(strategy ? { capacityProviderStrategy: structuredClone(strategy) } : service.launchType ? { launchType: service.launchType } : {}),
      ...(fargate ? { platformVersion: service.platformVersion ?? 'LATEST', platformFamily: service.platformFamily ?? 'Linux' } : {}),
      ...(service.networkConfiguration ? { networkConfiguration: structuredClone(service.networkConfiguration) } : {}),
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: reason ?? `ECS deployment ${id} in progress.`,
    };
    service.deployments = [deployment, ...previous];
    service.taskDefinition = taskDefinitionArn;
    // A new deployment starts with a clean slate: no back-off inherited from the one it replaces.
    Object.assign(this.service(service), { launchNotBefore: t, consecutiveFailures: 0, placementFailures: 0, steady: false, impaired: false });
    this.emitDeployment(service, 'SERVICE_DEPLOYMENT_IN_PROGRESS', id, deployment.rolloutStateReason!, t);
    // A rollback (with its reason) belongs to the service deployment it rolls back; anything else opens one.
    // A service's first deployment has no blue to shift traffic from: it starts its tasks as a rolling one does (UNVERIFIED).
    const staged = previous.length ? stagedRun(service.deploymentConfiguration) : undefined;
    if (!reason) openServiceDeployment(this.region, this.cluster, service, deployment, t, staged);
    return deployment;
  }

  /**
   * What the ECS service scheduler does on each pass: trip the circuit breaker, scale in, launch
   * the primary deployment's tasks within maximumPercent, retire older tasks while
   * minimumHealthyPercent holds, update counters, and declare the deployment complete.
   */
  reconcile(service: Service, t: number): void {
    // CodeDeploy's services run task sets, kept at their counts (codedeploy.ts).
    if (service.status === 'ACTIVE' && service.deploymentController?.type === 'CODE_DEPLOY') return reconcileTaskSets(this, service, t);
    if (service.status !== 'ACTIVE' || (service.deploymentController?.type ?? 'ECS') !== 'ECS') return;
    const schedule = this.service(service);
    let primary = primaryOf(service);
    if (!primary) return;
    const staged = ongoingDeployment(this.cluster, service.serviceName!);
    if (staged?.staged && this.reconcileStaged(service, primary, staged, t)) return;

    const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
    if (breaker?.enable && primary.rolloutState === 'IN_PROGRESS' && (primary.failedTasks ?? 0) >= failureThreshold(service.desiredCount ?? 0)) {
      this.trip(service, primary, t, !!breaker.rollback);
      primary = primaryOf(service)!;
    }

    const desired = service.desiredCount ?? 0;
    const { maximumPercent = 200, minimumHealthyPercent = 100 } = service.deploymentConfiguration ?? {};
    const id = primary.id!;
    const tasks = () => this.tasksOf(service);
    const ours = () => tasks().filter((task) => task.startedBy === id && live(task));
    const healthy = (task: Task) => live(task) && task.lastStatus === 'RUNNING' && !this.book.plans.has(taskId(task));
    // Which task to give up first: one that is not serving yet, then the newest.
    const leastUseful = (a: Task, b: Task) => +healthy(a) - +healthy(b) || +b.createdAt! - +a.createdAt!;

    // desiredCount lowered: stop the primary's surplus.
    if (ours().length > desired)
      this.stopTasks(
        service,
        ours()
          .sort(leastUseful)
          .slice(0, ours().length - desired),
        t,
        id,
      );

    if (primary.rolloutState !== 'FAILED' && t >= schedule.launchNotBefore) {
      const room = Math.floor((desired * maximumPercent) / 100) - tasks().filter(alive).length;
      const count = Math.min(desired - ours().length, room);
      const unplaceable = this.state.placementFailures.for(service);
      if (count > 0 && unplaceable) this.placementFailed(service, unplaceable.reason, t);
      else if (count > 0) {
        schedule.placementFailures = 0;
        this.launch(service, primary, count, t);
      }
    }

    // Older deployments' tasks: not-yet-serving ones go at once, serving ones only while enough stay healthy.
    const minimumHealthy = Math.ceil((desired * minimumHealthyPercent) / 100);
    let healthyCount = tasks().filter(healthy).length;
    const retire: Task[] = [];
    for (const task of tasks()
      .filter((task) => task.startedBy !== id && live(task))
      .sort(leastUseful)) {
      if (!healthy(task)) retire.push(task);
      else if (healthyCount - 1 >= minimumHealthy) {
        retire.push(task);
        healthyCount--;
      }
    }
    this.stopTasks(service, retire, t, id);

    this.updateCounts(service, primary, t);

    const settled =
      ours().length === desired &&
      tasks()
        .filter(alive)
        .every((task) => task.startedBy === id && healthy(task));
    if (primary.rolloutState === 'IN_PROGRESS' && settled) {
      Object.assign(primary, { rolloutState: 'COMPLETED', rolloutStateReason: `ECS deployment ${id} completed.`, updatedAt: new Date(t) });
      service.deployments = [primary]; // older deployments turn INACTIVE, which DescribeServices no longer lists
      schedule.lastCompleted = { id, taskDefinition: primary.taskDefinition! };
      schedule.proven.add(id);
      this.event(service, t, `(deployment ${id}) deployment completed.`);
      this.emitDeployment(service, 'SERVICE_DEPLOYMENT_COMPLETED', id, primary.rolloutStateReason!, t);
      const record = ongoingDeployment(this.cluster, service.serviceName!);
      if (record?.deploymentId === id) finish(record, 'SUCCESSFUL', t);
      else if (record?.rollbackDeploymentId === id) finish(record, 'ROLLBACK_SUCCESSFUL', t);
    }
    if (primary.rolloutState === 'COMPLETED' && settled) {
      if (!schedule.steady) {
        this.event(service, t, 'has reached a steady state.');
        this.emitServiceAction(service, 'SERVICE_STEADY_STATE', t);
        schedule.steadyAnnouncedAt = t;
      }
      schedule.steady = true;
    } else schedule.steady = false;
  }

  // Service deployments: StopServiceDeployment, ContinueServiceDeployment, and the staged strategies --------------

  /**
   * StopServiceDeployment with ROLLBACK: "works even if you didn't configure the rollback option".
   * A rolling deployment starts a Deployment of the last completed revision (as the circuit breaker
   * does); a staged one shifts traffic back to blue and stops green. Returns an error text for a
   * deployment that cannot roll back (the API answers it as a ConflictException, UNVERIFIED).
   */
  stopServiceDeployment(service: Service, record: ServiceDeploymentRecord, t: number): string | undefined {
    const status = record.view.status!;
    if (status === 'ROLLBACK_REQUESTED' || status === 'ROLLBACK_IN_PROGRESS') return undefined; // already rolling back: idempotent
    const reason = 'Service deployment rolled back by StopServiceDeployment.';
    if (record.staged) {
      if (record.staged.stage === 'CLEAN_UP') return 'The service deployment is cleaning up the source revision and can no longer be rolled back.';
      this.rollbackStaged(service, record, reason, t);
      return undefined;
    }
    const primary = primaryOf(service);
    const last = this.service(service).lastCompleted;
    if (!primary || primary.id !== record.deploymentId || !last || last.taskDefinition === primary.taskDefinition) {
      return 'The service deployment has no completed service revision to roll back to.';
    }
    Object.assign(primary, { rolloutState: 'FAILED', rolloutStateReason: `ECS deployment ${primary.id} stopped: rolling back.`, updatedAt: new Date(t) });
    this.emitDeployment(service, 'SERVICE_DEPLOYMENT_FAILED', primary.id!, primary.rolloutStateReason!, t);
    this.event(service, t, `rolling back to deployment ${last.id}.`);
    const back = this.startDeployment(service, last.taskDefinition, t, `Rolling back to deploymentId ${last.id}.`);
    this.rollingBack(record, back, reason, t);
    this.reconcile(service, t);
    return undefined;
  }

  /** ContinueServiceDeployment on a hook the caller checked is AWAITING_ACTION. */
  continueServiceDeployment(service: Service, record: ServiceDeploymentRecord, hookId: string, action: 'CONTINUE' | 'ROLLBACK', t: number): void {
    const hook = record.staged!.hooks.find((h) => h.hookId === hookId)!;
    // UNVERIFIED: the hook's status after a ROLLBACK decision (FAILED, as a Lambda hook that fails).
    hook.status = action === 'CONTINUE' ? 'SUCCEEDED' : 'FAILED';
    record.view.updatedAt = new Date(t);
    if (action === 'ROLLBACK') this.rollbackStaged(service, record, `Rolled back by ContinueServiceDeployment at lifecycle hook ${hookId}.`, t);
    this.reconcile(service, t);
  }

  /**
   * One scheduler pass for a BLUE_GREEN / LINEAR / CANARY deployment: green (the target revision)
   * scales up to the desired count beside blue, which keeps all its tasks and serves until CLEAN_UP;
   * the stages advance over emulator time. False once the deployment is over, so the ordinary pass
   * (steady state, later replacements) takes the service from there.
   */
  private reconcileStaged(service: Service, primary: Deployment, record: ServiceDeploymentRecord, t: number): boolean {
    const run = record.staged!;
    const id = record.deploymentId;
    const green = () => this.tasksOf(service).filter((task) => task.startedBy === id && alive(task));
    if (record.view.status === 'ROLLBACK_REQUESTED' && t >= run.until!) {
      // Production traffic is back on blue: green's tasks go.
      Object.assign(record.view, { status: 'ROLLBACK_IN_PROGRESS', updatedAt: new Date(t) });
      delete run.until;
      this.stopTasks(
        service,
        green().filter((task) => live(task)),
        t,
        primary.id!,
      );
    }
    if (record.view.status === 'ROLLBACK_IN_PROGRESS' && !green().length) {
      service.deployments = (service.deployments ?? []).filter((d) => d.id !== id);
      finish(record, 'ROLLBACK_SUCCESSFUL', t);
      return false;
    }
    if (record.view.status !== 'IN_PROGRESS') {
      this.updateCounts(service, primary, t);
      return true;
    }

    const schedule = this.service(service);
    const desired = service.desiredCount ?? 0;
    const breaker = record.view.deploymentConfiguration?.deploymentCircuitBreaker;
    if (breaker?.enable && (primary.failedTasks ?? 0) >= failureThreshold(desired)) {
      Object.assign(primary, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', updatedAt: new Date(t) });
      this.event(service, t, `(deployment ${id}) deployment failed: tasks failed to start.`);
      this.emitDeployment(service, 'SERVICE_DEPLOYMENT_FAILED', id, 'ECS deployment circuit breaker: task failed to start.', t);
      if (breaker.rollback) this.rollbackStaged(service, record, 'Circuit breaker triggered: tasks failed to start.', t, false);
      else finish(record, 'STOPPED', t, 'ECS deployment circuit breaker: tasks failed to start.');
      this.updateCounts(service, primaryOf(service)!, t);
      return true;
    }

    // Green scales up to the full desired count at once (blue keeps serving, so maximumPercent does not bound it).
    const ours = green().filter((task) => live(task));
    if (t >= schedule.launchNotBefore && ours.length < desired) {
      const unplaceable = this.state.placementFailures.for(service);
      if (unplaceable) this.placementFailed(service, unplaceable.reason, t);
      else {
        schedule.placementFailures = 0;
        this.launch(service, primary, desired - ours.length, t);
      }
    }
    this.advance(service, primary, record, t);
    this.updateCounts(service, primaryOf(service)!, t);
    return !!record.staged && record.view.status === 'IN_PROGRESS';
  }

  /** Moves a staged deployment through every stage that can end at `t` (a pause, a timer or a condition holds it). */
  private advance(service: Service, primary: Deployment, record: ServiceDeploymentRecord, t: number): void {
    const run = record.staged!;
    const id = record.deploymentId;
    const tasks = () => this.tasksOf(service);
    for (;;) {
      const waiting = run.hooks.find((h) => h.status === 'AWAITING_ACTION');
      if (waiting) {
        if (t < +waiting.expiresAt!) return;
        waiting.status = 'TIMED_OUT'; // UNVERIFIED status name after expiry (reference §2)
        if (waiting.timeoutAction === 'ROLLBACK') return this.rollbackStaged(service, record, `Lifecycle hook ${waiting.hookId} timed out.`, t);
        continue;
      }
      if (run.until !== undefined && t < run.until) return;
      if (run.stage === 'SCALE_UP') {
        const healthy = tasks().filter((task) => task.startedBy === id && live(task) && task.lastStatus === 'RUNNING' && !this.book.plans.has(taskId(task)));
        if (healthy.length < (service.desiredCount ?? 0)) return;
      }
      if (run.stage === 'CLEAN_UP') {
        if (tasks().some((task) => task.startedBy !== id && alive(task))) return;
        Object.assign(primary, { rolloutState: 'COMPLETED', rolloutStateReason: `ECS deployment ${id} completed.`, updatedAt: new Date(t) });
        service.deployments = [primary];
        const schedule = this.service(service);
        schedule.lastCompleted = { id, taskDefinition: primary.taskDefinition! };
        schedule.proven.add(id);
        this.event(service, t, `(deployment ${id}) deployment completed.`);
        this.emitDeployment(service, 'SERVICE_DEPLOYMENT_COMPLETED', id, primary.rolloutStateReason!, t);
        return finish(record, 'SUCCESSFUL', t);
      }
      this.enter(service, record, nextStage(run), t);
    }
  }

  private enter(service: Service, record: ServiceDeploymentRecord, stage: Stage, t: number): void {
    const run = record.staged!;
    const config = record.view.deploymentConfiguration ?? {};
    const timings = this.state.ecsTimings;
    if (stage === 'PRE_PRODUCTION_TRAFFIC_SHIFT' && run.stage === 'PRODUCTION_TRAFFIC_SHIFT') run.step++;
    run.stage = stage;
    delete run.until;
    record.view.updatedAt = new Date(t);
    if (stage === 'TEST_TRAFFIC_SHIFT') {
      // UNVERIFIED: without a testListenerRule the stage still runs (and shifts nothing real).
      run.testWeight = 100;
      run.until = t + timings.trafficShiftMs;
    }
    if (stage === 'PRODUCTION_TRAFFIC_SHIFT') {
      run.productionWeight = run.steps[run.step]!;
      // The step's bake (linear, canary) follows the shift, except after the last one; the stage stays PRODUCTION_TRAFFIC_SHIFT meanwhile (UNVERIFIED).
      const last = run.step === run.steps.length - 1;
      const stepBake = config.strategy === 'LINEAR' ? config.linearConfiguration?.stepBakeTimeInMinutes : config.canaryConfiguration?.canaryBakeTimeInMinutes;
      run.until = t + timings.trafficShiftMs + (last ? 0 : (stepBake ?? 0) * 60_000);
    }
    if (stage === 'POST_PRODUCTION_TRAFFIC_SHIFT') resolveLoadBalancers(this.cluster, record);
    if (stage === 'BAKE_TIME') run.until = t + (config.bakeTimeInMinutes ?? 0) * 60_000;
    if (stage === 'CLEAN_UP') {
      this.stopTasks(
        service,
        this.tasksOf(service).filter((task) => task.startedBy !== record.deploymentId && live(task)),
        t,
        record.deploymentId,
      );
    }
    // Lambda hooks are not invoked by the emulator: they count as succeeded at once. PAUSE hooks hold the stage.
    run.hooks = (config.lifecycleHooks ?? [])
      .filter((hook) => hook.lifecycleStages?.includes(stage as never))
      .map((hook) =>
        hook.targetType === 'PAUSE'
          ? {
              hookId: pauseHookId(),
              targetType: 'PAUSE',
              status: 'AWAITING_ACTION',
              expiresAt: new Date(t + (hook.timeoutConfiguration?.timeoutInMinutes ?? 1440) * 60_000),
              timeoutAction: hook.timeoutConfiguration?.action ?? 'ROLLBACK',
            }
          : { hookId: `ecs-lambda-${hexId(undefined, 24)}`, targetType: 'AWS_LAMBDA', targetArn: hook.hookTargetArn, status: 'SUCCEEDED' },
      );
    for (const hook of run.hooks.filter((h) => h.status === 'AWAITING_ACTION')) {
      const { hookId, expiresAt, timeoutAction } = hook as Required<typeof hook>;
      const serviceDeploymentArn = record.view.serviceDeploymentArn!;
      this.state.events.emit(hookStateChange(this.region, service, { serviceDeploymentArn, lifecycleStage: stage, hookId, expiresAt, timeoutAction }, t));
    }
  }

  /**
   * Rolls a staged deployment back: production and test traffic requested back to blue at once
   * (ROLLBACK_REQUESTED for one traffic shift), then green's tasks stop (ROLLBACK_IN_PROGRESS), then
   * ROLLBACK_SUCCESSFUL. Blue's Deployment is PRIMARY again and the service's task definition blue's.
   */
  private rollbackStaged(service: Service, record: ServiceDeploymentRecord, reason: string, t: number, failGreen = true): void {
    const run = record.staged!;
    const at = new Date(t);
    const green = service.deployments?.find((d) => d.id === record.deploymentId);
    // Blue: the source that completed (a deployment it superseded mid-way may be a source too).
    const sources = (service.deployments ?? []).filter((d) => record.sourceDeploymentIds.includes(d.id!));
    const blue = sources.find((d) => d.rolloutState === 'COMPLETED') ?? sources[0];
    if (green && failGreen) {
      Object.assign(green, { rolloutState: 'FAILED', rolloutStateReason: `ECS deployment ${green.id} rolled back: ${reason}`, updatedAt: at });
      this.emitDeployment(service, 'SERVICE_DEPLOYMENT_FAILED', green.id!, green.rolloutStateReason!, t);
    }
    if (green) Object.assign(green, { status: 'ACTIVE', updatedAt: at });
    if (blue) {
      Object.assign(blue, { status: 'PRIMARY', updatedAt: at });
      service.deployments = [blue, ...(service.deployments ?? []).filter((d) => d !== blue)];
      service.taskDefinition = blue.taskDefinition;
      this.event(service, t, `rolling back to deployment ${blue.id}.`);
    }
    for (const hook of run.hooks) if (hook.status === 'AWAITING_ACTION') hook.status = 'FAILED';
    Object.assign(run, { testWeight: 0, productionWeight: 0, until: t + this.state.ecsTimings.trafficShiftMs });
    Object.assign(record.view, {
      status: 'ROLLBACK_REQUESTED',
      updatedAt: at,
      rollback: {
        reason,
        startedAt: at,
        serviceRevisionArn: (blue && deploymentsOf(this.cluster).revisionOf.get(blue.id!)) ?? record.view.sourceServiceRevisions[0]?.arn,
      },
    });
  }

  // ---------------------------------------------------------------------------------------------

  private nextDue(): number | undefined {
    let next: number | undefined;
    for (const plan of this.book.plans.values()) if (next === undefined || plan.at < next) next = plan.at;
    // A service waiting out its back-off wakes up when it ends.
    for (const service of this.cluster.services.values()) {
      const schedule = this.book.services.get(service.serviceName!);
      if (schedule && schedule.launchNotBefore > this.book.at && this.wantsTasks(service)) {
        if (next === undefined || schedule.launchNotBefore < next) next = schedule.launchNotBefore;
      }
      const run = ongoingDeployment(this.cluster, service.serviceName!)?.staged;
      for (const at of run ? [run.until, ...run.hooks.filter((h) => h.status === 'AWAITING_ACTION').map((h) => +h.expiresAt!)] : []) {
        if (at !== undefined && at > this.book.at && (next === undefined || at < next)) next = at;
      }
    }
    const codeDeploy = codeDeployDue(this);
    if (codeDeploy !== undefined && (next === undefined || codeDeploy < next)) next = codeDeploy;
    return next;
  }

  private wantsTasks(service: Service): boolean {
    const primary = primaryOf(service);
    if (service.status !== 'ACTIVE' || (service.deploymentController?.type ?? 'ECS') !== 'ECS') return false;
    if (!primary || primary.rolloutState === 'FAILED') return false;
    return this.tasksOf(service).filter((t) => t.startedBy === primary.id && live(t)).length < (service.desiredCount ?? 0);
  }

  /** Everything due at `t`: task steps first (target events batched per service), then a scheduler pass. */
  private instant(t: number): void {
    const registered = new Map<Service, number>();
    const deregistered = new Map<Service, number>();
    for (const [id, plan] of [...this.book.plans].filter(([, p]) => p.at <= t)) {
      this.book.plans.delete(id);
      const task = this.cluster.tasks.get(id);
      if (!task) continue;
      const service = this.cluster.services.get(task.group?.replace(/^service:/, '') ?? '');
      const balanced = !!service?.loadBalancers?.length;
      if (plan.step === 'RUNNING' && balanced) registered.set(service!, (registered.get(service!) ?? 0) + 1);
      if (plan.step === 'FAIL' && balanced && task.lastStatus === 'RUNNING') deregistered.set(service!, (deregistered.get(service!) ?? 0) + 1);
      this.step(task, plan, t, service);
    }
    for (const [service, n] of deregistered) this.targetEvents(service, t, 'deregistered', n);
    for (const [service, n] of registered) this.targetEvents(service, t, 'registered', n);
    for (const service of this.cluster.services.values()) this.reconcile(service, t);
    // CODE_DEPLOY services: CodeDeploy's deployments move on with the tasks (codedeploy.ts).
    codeDeployPass(this, t);
    // Keeps a service that fails for days (broken) from piling up tasks nobody can list any more.
    const forgetBefore = t - this.state.ecsTimings.stoppedRetentionMs;
    for (const [id, task] of this.cluster.tasks) if (task.lastStatus === 'STOPPED' && +task.stoppedAt! < forgetBefore) this.cluster.tasks.delete(id);
  }

  private step(task: Task, plan: TaskPlan, t: number, service: Service | undefined): void {
    const timings = this.state.ecsTimings;
    const at = new Date(t);
    if (plan.step === 'FAIL') {
      // A crash loop cleared before its task crashed: the task just carries on and turns healthy.
      if (!this.inForce(plan.failure!)) return this.plan(task, Math.max(t, +task.startedAt! + timings.healthyMs), 'HEALTHY');
      this.fail(task, plan.failure!, t);
      if (service) this.countFailure(service, task.startedBy, t);
      return;
    }
    task.version = (task.version ?? 0) + 1;
    switch (plan.step) {
      case 'PENDING':
        Object.assign(task, { lastStatus: 'PENDING', connectivity: 'CONNECTED', connectivityAt: at, pullStartedAt: at });
        this.setAttachments(task, 'ATTACHED');
        this.plan(task, t + timings.pullMs, plan.failure?.rule.mode === 'pull' ? 'FAIL' : 'RUNNING', plan.failure);
        break;
      case 'RUNNING':
        Object.assign(task, { lastStatus: 'RUNNING', pullStoppedAt: at, startedAt: at });
        for (const [i, c] of (task.containers ?? []).entries()) {
          Object.assign(c, {
            lastStatus: 'RUNNING',
            runtimeId: `${taskId(task)}-${1524858232 + i}`,
            imageDigest: `sha256:${hexId(`digest/${c.image}`, 64)}`,
            // ECS Exec's agent runs in every container of an exec-enabled task.
            managedAgents: task.enableExecuteCommand ? [{ name: 'ExecuteCommandAgent', lastStatus: 'RUNNING', lastStartedAt: at }] : [],
          });
        }
        if (plan.failure?.rule.mode === 'crash' && this.inForce(plan.failure)) this.plan(task, t + timings.crashAfterMs, 'FAIL', plan.failure);
        else this.plan(task, t + timings.healthyMs, 'HEALTHY');
        this.logs(task, { kind: 'start' }, t);
        break;
      case 'HEALTHY': {
        // Containers with a health check report HEALTHY, and then so does the task.
        const checked = new Set(
          this.definitionOf(task.taskDefinitionArn!)
            ?.containerDefinitions?.filter((c) => c.healthCheck)
            .map((c) => c.name),
        );
        for (const c of task.containers ?? []) if (checked.has(c.name)) c.healthStatus = 'HEALTHY';
        if (checked.size) task.healthStatus = 'HEALTHY';
        if (!service) break;
        const schedule = this.service(service);
        schedule.consecutiveFailures = 0;
        schedule.impaired = false;
        const deployment = service.deployments?.find((d) => d.id === task.startedBy);
        if (deployment && !schedule.proven.has(deployment.id!)) {
          schedule.proven.add(deployment.id!);
          Object.assign(deployment, { failedTasks: 0, updatedAt: at });
        }
        break;
      }
      case 'STOPPED':
        Object.assign(task, { lastStatus: 'STOPPED', executionStoppedAt: at, stoppedAt: at });
        this.setAttachments(task, 'DELETED');
        for (const c of task.containers ?? []) this.stopContainer(c, task.startedAt ? 0 : undefined);
        break;
    }
    this.emitTask(task, t);
  }

  private plan(task: Task, at: number, step: Step, failure?: TaskPlan['failure']): void {
    this.book.plans.set(taskId(task), { at, step, ...(failure ? { failure } : {}) });
  }

  /** Starts `count` tasks of a deployment (or of a task set: CodeDeploy's, codedeploy.ts). */
  launch(service: Service, deployment: LaunchSpec, count: number, t: number): void {
    const definition = this.definitionOf(deployment.taskDefinition!);
    if (!definition) return;
    const failure = this.failureFor(definition);
    // One at a time, so each new task sees the ones before it and they spread over the subnets.
    const started = Array.from({ length: count }, () => {
      const task = this.newTask(service, deployment, definition, t);
      this.cluster.tasks.set(taskId(task), task);
      return task;
    });
    for (const task of started) this.plan(task, t + this.state.ecsTimings.provisionMs, 'PENDING', failure ?? this.crashLoopFailure(service, definition));
    this.event(service, t, `has started ${count} tasks: ${started.map((task) => `(task ${taskId(task)})`).join(' ')}.`);
    for (const task of started) this.emitTask(task, t);
  }

  private failureFor(definition: TaskDefinition): TaskPlan['failure'] {
    for (const c of definition.containerDefinitions ?? []) {
      const rule = this.state.failingImages.find((r) => matches(r, c.image!));
      if (rule) return { rule, container: c.name!, image: c.image! };
    }
    return undefined;
  }

  /** While the service is in a crash loop, its tasks' first essential container dies once running. */
  private crashLoopFailure(service: Service, definition: TaskDefinition | undefined): TaskPlan['failure'] {
    const crashLoop = this.state.crashLoops.for(service);
    const container = definition?.containerDefinitions?.find((c) => c.essential !== false);
    if (!crashLoop || !container) return undefined;
    const rule: ImageFailure = {
      image: container.image!,
      mode: 'crash',
      exitCode: crashLoop.exitCode,
      ...(crashLoop.reason ? { containerReason: crashLoop.reason } : {}),
    };
    return { rule, container: container.name!, image: container.image!, crashLoop };
  }

  /** A failure decided by a crash loop holds only while that crash loop does. */
  private inForce(failure: NonNullable<TaskPlan['failure']>): boolean {
    return !failure.crashLoop || this.state.crashLoops.has(failure.crashLoop);
  }

  /**
   * Dooms the tasks of services put in a crash loop since the scheduler last looked: running ones
   * crash `crashAfterMs` after the fault was set (or after `t`, if the scheduler looks later), tasks
   * still starting crash once running. Tasks already doomed keep their fate.
   */
  private applyCrashLoops(t: number): void {
    if (!this.state.crashLoops.size) return;
    for (const task of this.cluster.tasks.values()) {
      const plan = this.book.plans.get(taskId(task));
      if (!live(task) || plan?.failure || plan?.step === 'STOPPED') continue;
      const service = this.cluster.services.get(task.group?.replace(/^service:/, '') ?? '');
      const failure = service && this.crashLoopFailure(service, this.definitionOf(task.taskDefinitionArn!));
      if (!failure) continue;
      if (task.lastStatus === 'RUNNING') this.plan(task, Math.max(t, failure.crashLoop!.since) + this.state.ecsTimings.crashAfterMs, 'FAIL', failure);
      else if (plan) plan.failure = failure;
    }
  }

  /** The scheduler stops tasks it no longer needs; load-balanced ones drain first. */
  stopTasks(service: Service, tasks: Task[], t: number, deploymentId: string): void {
    if (!tasks.length) return;
    const balancers = service.loadBalancers ?? [];
    let draining = 0;
    for (const task of tasks) {
      const drains = task.lastStatus === 'RUNNING' && balancers.length > 0;
      if (drains) draining++;
      if (task.lastStatus === 'RUNNING') this.logs(task, { kind: 'stop' }, t);
      Object.assign(task, {
        desiredStatus: 'STOPPED',
        lastStatus: drains ? 'DEACTIVATING' : 'STOPPING',
        stoppingAt: new Date(t),
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason: `Scaling activity initiated by (deployment ${deploymentId})`,
        version: (task.version ?? 0) + 1,
      });
      this.emitTask(task, t);
      this.plan(task, t + (drains ? this.state.ecsTimings.drainMs : this.state.ecsTimings.stopMs), 'STOPPED');
    }
    this.event(service, t, `has stopped ${tasks.length} running tasks: ${tasks.map((task) => `(task ${taskId(task)})`).join(' ')}.`);
    if (draining) {
      this.targetEvents(service, t, 'deregistered', draining);
      this.event(service, t, `has begun draining connections on ${draining} tasks.`);
    }
  }

  /**
   * The task's failure as ECS reports it in two changes: first the failed container and the stop
   * decision (desired STOPPED, still RUNNING or PENDING), then the task STOPPED with the others.
   */
  private fail(task: Task, failure: NonNullable<TaskPlan['failure']>, t: number): void {
    const { rule, container, image } = failure;
    const pull = rule.mode === 'pull';
    const reason = pull
      ? `CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref ${image}: ${image}: not found`
      : (rule.stoppedReason ?? 'Essential container in task exited');
    const at = new Date(t);
    const exitCode = rule.exitCode ?? 1;
    if (!pull) {
      this.logs(
        task,
        { kind: 'crash', startedAt: +task.startedAt!, exitCode, ...(rule.containerReason ? { reason: rule.containerReason } : {}) },
        t,
        container,
      );
      for (const c of task.containers ?? []) if (c.name !== container) this.logs(task, { kind: 'stop' }, t, c.name);
    }
    const failed = task.containers?.find((c) => c.name === container);
    // The essential container exits on its own (or is never started); ECS then stops the others.
    if (failed) this.stopContainer(failed, pull ? undefined : exitCode, pull ? reason : rule.containerReason);
    Object.assign(task, {
      desiredStatus: 'STOPPED',
      stopCode: pull ? 'TaskFailedToStart' : 'EssentialContainerExited',
      stoppedReason: reason,
      stoppingAt: at,
      version: (task.version ?? 0) + 1,
    });
    this.emitTask(task, t);
    Object.assign(task, { lastStatus: 'STOPPED', executionStoppedAt: at, stoppedAt: at, version: task.version! + 1 });
    this.setAttachments(task, 'DELETED');
    for (const c of task.containers ?? []) if (c !== failed) this.stopContainer(c, pull ? undefined : 0);
    this.emitTask(task, t);
  }

  private stopContainer(c: Container, exitCode: number | undefined, reason?: string): void {
    c.lastStatus = 'STOPPED';
    if (exitCode !== undefined) c.exitCode = exitCode;
    if (reason) c.reason = reason;
    for (const agent of c.managedAgents ?? []) agent.lastStatus = 'STOPPED';
  }

  /** A task of `deploymentId` failed: back off relaunching, and count it for the circuit breaker. */
  private countFailure(service: Service, deploymentId: string | undefined, t: number): void {
    const timings = this.state.ecsTimings;
    const schedule = this.service(service);
    schedule.consecutiveFailures++;
    const backoff = Math.min(timings.retryMaxMs, timings.retryBaseMs * 2 ** (schedule.consecutiveFailures - 1));
    schedule.launchNotBefore = Math.max(schedule.launchNotBefore, t + backoff);
    const deployment = service.deployments?.find((d) => d.id === deploymentId);
    if (deployment && !schedule.proven.has(deployment.id!)) {
      Object.assign(deployment, { failedTasks: (deployment.failedTasks ?? 0) + 1, updatedAt: new Date(t) });
    }
    if (schedule.consecutiveFailures >= START_IMPAIRED_AFTER && !schedule.impaired) {
      schedule.impaired = true;
      this.emitServiceAction(service, 'SERVICE_TASK_START_IMPAIRED', t);
    }
  }

  /**
   * No capacity for the tasks the service needs (placement fault): nothing is launched, ECS says
   * so in the service's events and on EventBridge, and tries again after a back-off.
   */
  private placementFailed(service: Service, reason: PlacementFailureReason, t: number): void {
    const timings = this.state.ecsTimings;
    const schedule = this.service(service);
    schedule.placementFailures++;
    schedule.launchNotBefore = t + Math.min(timings.retryMaxMs, timings.retryBaseMs * 2 ** (schedule.placementFailures - 1));
    const cluster = this.cluster.cluster.clusterName!;
    if (reason === 'RESOURCE:FARGATE') {
      const provider = service.capacityProviderStrategy?.[0]?.capacityProvider ?? 'FARGATE';
      this.event(
        service,
        t,
        'was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone.',
      );
      this.emitServiceAction(service, 'SERVICE_TASK_PLACEMENT_FAILURE', t, {
        capacityProviderArns: [`arn:aws:ecs:${this.region.region}:${this.region.accountId}:capacity-provider/${provider}`],
        reason,
      });
      return;
    }
    const instance = hexId(`container-instance/${cluster}`);
    const short = reason === 'RESOURCE:CPU' ? 'insufficient CPU units available' : 'insufficient memory available';
    this.event(
      service,
      t,
      `was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance ${instance}) has ${short}. For more information, see the Troubleshooting section.`,
    );
    this.emitServiceAction(service, 'SERVICE_TASK_PLACEMENT_FAILURE', t, {
      containerInstanceArns: [`arn:aws:ecs:${this.region.region}:${this.region.accountId}:container-instance/${cluster}/${instance}`],
      reason,
    });
  }

  /** ECS repeats SERVICE_STEADY_STATE while a service stays steady: every STEADY_STATE_REPEAT_MS up to `upTo`. */
  private announceSteadyStates(upTo: number): void {
    for (const service of this.cluster.services.values()) {
      const schedule = this.book.services.get(service.serviceName!);
      if (!schedule?.steady || schedule.steadyAnnouncedAt === undefined || service.status !== 'ACTIVE') continue;
      while (schedule.steadyAnnouncedAt + STEADY_STATE_REPEAT_MS <= upTo) {
        schedule.steadyAnnouncedAt += STEADY_STATE_REPEAT_MS;
        this.emitServiceAction(service, 'SERVICE_STEADY_STATE', schedule.steadyAnnouncedAt);
      }
    }
  }

  private trip(service: Service, primary: Deployment, t: number, rollback: boolean): void {
    Object.assign(primary, {
      rolloutState: 'FAILED',
      rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
      updatedAt: new Date(t),
    });
    this.event(service, t, `(deployment ${primary.id}) deployment failed: tasks failed to start.`);
    // AWS's documented event reason (DescribeServices' rolloutStateReason says "tasks").
    this.emitDeployment(service, 'SERVICE_DEPLOYMENT_FAILED', primary.id!, 'ECS deployment circuit breaker: task failed to start.', t);
    const last = this.service(service).lastCompleted;
    const record = ongoingDeployment(this.cluster, service.serviceName!);
    // Rolling back to the definition that just failed would loop; ECS needs a COMPLETED deployment to return to.
    if (rollback && last && last.taskDefinition !== primary.taskDefinition) {
      this.event(service, t, `rolling back to deployment ${last.id}.`);
      const reason = `ECS deployment circuit breaker: rolling back to deploymentId ${last.id}.`;
      const back = this.startDeployment(service, last.taskDefinition, t, reason);
      if (record && record.deploymentId === primary.id) this.rollingBack(record, back, 'Circuit breaker triggered: tasks failed to start.', t);
    } else if (record && record.deploymentId === primary.id) {
      // UNVERIFIED: a failure with rollback asked for but nothing to return to ends ROLLBACK_FAILED.
      finish(record, rollback ? 'ROLLBACK_FAILED' : 'STOPPED', t, 'ECS deployment circuit breaker: tasks failed to start.');
    } else if (record && record.rollbackDeploymentId === primary.id)
      finish(record, 'ROLLBACK_FAILED', t, 'ECS deployment circuit breaker: tasks failed to start.');
  }

  /** A rolling deployment's rollback is a new Deployment of the last completed revision; ROLLBACK_REQUESTED lasts no emulator time. */
  private rollingBack(record: ServiceDeploymentRecord, back: Deployment, reason: string, t: number): void {
    const at = new Date(t);
    const serviceRevisionArn = record.view.sourceServiceRevisions[0]?.arn;
    record.rollbackDeploymentId = back.id!;
    if (serviceRevisionArn) deploymentsOf(this.cluster).revisionOf.set(back.id!, serviceRevisionArn);
    Object.assign(record.view, { status: 'ROLLBACK_IN_PROGRESS', updatedAt: at, rollback: { reason, startedAt: at, serviceRevisionArn } });
  }

  private updateCounts(service: Service, primary: Deployment, t: number): void {
    const tasks = this.tasksOf(service);
    const starting = (task: Task) => task.lastStatus === 'PROVISIONING' || task.lastStatus === 'PENDING';
    for (const deployment of service.deployments ?? []) {
      const mine = tasks.filter((task) => task.startedBy === deployment.id && live(task));
      const counts = {
        // Older deployments are scaled down as the primary takes over.
        desiredCount: deployment === primary ? (service.desiredCount ?? 0) : mine.length,
        runningCount: mine.filter((task) => task.lastStatus === 'RUNNING').length,
        pendingCount: mine.filter(starting).length,
      };
      if (Object.entries(counts).some(([k, v]) => deployment[k as keyof typeof counts] !== v)) {
        Object.assign(deployment, counts, { updatedAt: new Date(t) });
      }
    }
    service.runningCount = tasks.filter((task) => live(task) && task.lastStatus === 'RUNNING').length;
    service.pendingCount = tasks.filter((task) => live(task) && starting(task)).length;
  }

  private definitionOf(arn: string): TaskDefinition | undefined {
    return this.region.ecs.taskDefinitions.get(familyRevision(arn))?.taskDefinition;
  }

  private tasksOf(service: Service): Task[] {
    return [...this.cluster.tasks.values()].filter((task) => task.group === `service:${service.serviceName}`);
  }

  private targetEvents(service: Service, t: number, verb: 'registered' | 'deregistered', count: number): void {
    for (const lb of service.loadBalancers ?? []) this.event(service, t, `${verb} ${count} targets in (target-group ${lb.targetGroupArn})`);
  }

  /** Newest first, at most 100, as DescribeServices returns them. */
  private event(service: Service, t: number, message: string): void {
    const events = (service.events ??= []);
    events.unshift({ id: uuid(), createdAt: new Date(t), message: `(service ${service.serviceName}) ${message}` });
    events.splice(100);
  }

  private emitTask(task: Task, t: number): void {
    this.state.events.emit(taskStateChange(this.region, task, t));
  }

  private emitDeployment(service: Service, name: DeploymentEventName, deploymentId: string, reason: string, t: number): void {
    this.state.events.emit(deploymentStateChange(this.region, service, name, deploymentId, reason, t));
  }

  private emitServiceAction(service: Service, name: ServiceActionName, t: number, extra?: Record<string, unknown>): void {
    this.state.events.emit(serviceAction(this.region, service, name, t, extra));
  }

  private logs(task: Task, moment: ContainerMoment, t: number, only?: string): void {
    writeContainerLogs(this.state, this.region, task, this.definitionOf(task.taskDefinitionArn!), moment, t, only);
  }

  private setAttachments(task: Task, status: string): void {
    for (const attachment of task.attachments ?? []) attachment.status = status;
  }

  private newTask(service: Service, deployment: LaunchSpec, definition: TaskDefinition, t: number): Task {
    const id = hexId();
    const taskArn = arns.task(this.region, this.cluster.cluster.clusterName!, id);
    const awsvpc = service.networkConfiguration?.awsvpcConfiguration;
    const subnets = awsvpc?.subnets ?? [];
    // Spread tasks over the service's subnets (one per availability zone), as ECS balances AZs.
    const zone = this.tasksOf(service).length % Math.max(1, subnets.length);
    // The ENI gets an address in its subnet's range and lives in its zone (when EC2 knows the subnet).
    const subnet = ec2State(this.region).subnets.find((s) => s.SubnetId === subnets[zone]);
    const prefix = /^(\d+\.\d+\.\d+)\.\d+\/\d+$/.exec(subnet?.CidrBlock ?? '')?.[1] ?? `10.0.${zone + 1}`;
    const ip = `${prefix}.${randomInt(10, 250)}`;
    const attachmentId = uuid();
    const fargate = onFargate(deployment);
    // A capacity provider strategy places the task on one of its providers (the first, here).
    const provider = deployment.capacityProviderStrategy?.[0]?.capacityProvider ?? (fargate ? 'FARGATE' : undefined);
    return {
      taskArn,
      clusterArn: this.cluster.cluster.clusterArn,
      taskDefinitionArn: definition.taskDefinitionArn,
      group: `service:${service.serviceName}`,
      startedBy: deployment.id,
      ...(deployment.launchType || fargate ? { launchType: deployment.launchType ?? 'FARGATE' } : {}),
      ...(provider ? { capacityProviderName: provider } : {}),
      ...(fargate ? { platformVersion: deployment.platformVersion, platformFamily: deployment.platformFamily } : {}),
      availabilityZone: subnet?.AvailabilityZone ?? `${this.region.region}${'abcdef'[zone]}`,
      ...(definition.cpu ? { cpu: definition.cpu } : {}),
      ...(definition.memory ? { memory: definition.memory } : {}),
      desiredStatus: 'RUNNING',
      lastStatus: 'PROVISIONING',
      healthStatus: 'UNKNOWN',
      createdAt: new Date(t),
      enableExecuteCommand: service.enableExecuteCommand ?? false,
      version: 1,
      ...(fargate ? { ephemeralStorage: { sizeInGiB: 20 }, fargateEphemeralStorage: { sizeInGiB: 20 } } : {}),
      attachments: awsvpc
        ? [
            {
              id: attachmentId,
              type: 'ElasticNetworkInterface',
              status: 'PRECREATED',
              details: [
                { name: 'subnetId', value: subnets[zone] ?? '' },
                { name: 'networkInterfaceId', value: `eni-0${hexId(undefined, 16)}` },
                { name: 'macAddress', value: `0e:${hexId(undefined, 10).match(/../g)!.join(':')}` },
                { name: 'privateDnsName', value: `ip-${ip.replaceAll('.', '-')}.ec2.internal` },
                { name: 'privateIPv4Address', value: ip },
              ],
            },
          ]
        : [],
      tags: service.propagateTags === 'SERVICE' ? structuredClone(service.tags ?? []) : [],
      containers: (definition.containerDefinitions ?? []).map(
        (c): Container => ({
          containerArn: arns.container(this.region, this.cluster.cluster.clusterName!, id, uuid()),
          taskArn,
          name: c.name!,
          image: c.image!,
          lastStatus: 'PENDING',
          networkBindings: [],
          networkInterfaces: awsvpc ? [{ attachmentId, privateIpv4Address: ip }] : [],
          healthStatus: 'UNKNOWN',
          cpu: String(c.cpu ?? 0),
          ...(c.memory ? { memory: String(c.memory) } : {}),
          ...(c.memoryReservation ? { memoryReservation: String(c.memoryReservation) } : {}),
        }),
      ),
    };
  }
}
