/**
 * CodeDeploy (JSON 1.1, target CodeDeploy_20141006, SigV4 name `codedeploy`): the APIs a bot deploying
 * an ECS service through CodeDeploy calls, as ecspresso does (../../../shared/reference/ecs-deployments.md
 * §4). Deployments run over emulator time in ../codedeploy.ts; this module validates requests, answers
 * with the API's shapes and errors, and tells IAM what each action is evaluated on (the Service
 * Authorization Reference: application, deploymentgroup, or nothing, hence `*`).
 */
import type { ErrorCode } from '@aws-sdk/client-codedeploy';
import { AwsError, asList, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import {
  activeDeployment,
  appSpecSha256,
  codeDeployArns,
  codeDeployState,
  continueDeployment,
  failAtStart,
  ECS_DEPLOYMENT_CONFIGS,
  groupOf,
  isActive,
  LIFECYCLE_EVENTS,
  newCodeDeploymentId,
  parseAppSpec,
  rollsBackOn,
  startCodeDeployment,
  stopDeployment,
  targetIdOf,
  taskSetsInfo,
  type AutoRollbackConfiguration,
  type CodeDeployment,
  type DeploymentStatus,
} from '../codedeploy';
import { EcsScheduler, runScheduler } from '../rollout';
import { elbv2State } from './elbv2';
import type { RegionState } from '../state';

const BATCH = 100;
const PAGE = 100;
const ALL_STATUSES: DeploymentStatus[] = ['Created', 'Queued', 'InProgress', 'Baking', 'Ready', 'Succeeded', 'Failed', 'Stopped'];

const error = (code: string, message: string) => new AwsError(code, message);
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function applicationName(p: Params): string {
  const name = str(p.applicationName);
  if (!name) throw error('ApplicationNameRequiredException', 'The minimum number of required application names was not specified.');
  if (name.length > 100) throw error('InvalidApplicationNameException', 'The application name was specified in an invalid format.');
  return name;
}

function application(r: RegionState, name: string) {
  const app = codeDeployState(r).applications.get(name);
  if (!app) throw error('ApplicationDoesNotExistException', `No application found for name: ${name}`);
  return app;
}

function groupName(p: Params): string {
  const name = str(p.deploymentGroupName);
  if (!name) throw error('DeploymentGroupNameRequiredException', 'The deployment group name was not specified.');
  if (name.length > 100) throw error('InvalidDeploymentGroupNameException', 'The deployment group name was specified in an invalid format.');
  return name;
}

function deploymentOf(r: RegionState, p: Params): CodeDeployment {
  const id = str(p.deploymentId);
  if (!id) throw error('DeploymentIdRequiredException', 'At least one deployment ID must be specified.');
  if (!/^d-[A-Z0-9]{9}$/.test(id)) throw error('InvalidDeploymentIdException', `The deployment ID was specified in an invalid format: ${id}`);
  const d = codeDeployState(r).deployments.get(id);
  if (!d) throw error('DeploymentDoesNotExistException', `The deployment ${id} could not be found.`);
  return d;
}

/** Offset pagination with an opaque token. */
function page<T>(all: T[], token: unknown): { items: T[]; nextToken?: string } {
  let start = 0;
  if (token !== undefined) {
    const decoded = /^offset-(\d+)$/.exec(Buffer.from(String(token), 'base64url').toString('utf8'));
    if (!decoded) throw error('InvalidNextTokenException', 'The next token was specified in an invalid format.');
    start = Number(decoded[1]);
  }
  const more = start + PAGE < all.length;
  return { items: all.slice(start, start + PAGE), ...(more ? { nextToken: Buffer.from(`offset-${start + PAGE}`).toString('base64url') } : {}) };
}

function batch(names: unknown, required: () => AwsError): string[] {
  const list = asList<string>(names).map(String);
  if (!list.length) throw required();
  if (list.length > BATCH) throw error('BatchLimitExceededException', 'The maximum number of names or IDs allowed for this request (100) was exceeded.');
  return list;
}

function autoRollback(value: unknown): AutoRollbackConfiguration | undefined {
  if (value === undefined) return undefined;
  const config = value as AutoRollbackConfiguration;
  const known = ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_ALARM', 'DEPLOYMENT_STOP_ON_REQUEST'];
  if (config.enabled && !(config.events ?? []).length)
    throw error('InvalidAutoRollbackConfigException', 'Auto rollback is enabled but no events are specified.');
  for (const e of config.events ?? [])
    if (!known.includes(e)) throw error('InvalidAutoRollbackConfigException', `The automatic rollback event ${e} is not valid.`);
  return { enabled: !!config.enabled, events: [...(config.events ?? [])] };
}

/** The ECS scheduler of the cluster a deployment's service is in, brought up to now (none: no such cluster). */
function schedulerFor(ctx: CallContext, cluster: string): EcsScheduler | undefined {
  const state = ctx.regional.ecs.clusters.get(cluster);
  if (!state) return undefined;
  const scheduler = new EcsScheduler(ctx.state, ctx.regional, state);
  scheduler.runUntil(ctx.clock.now());
  return scheduler;
}

function createDeployment(p: Params, ctx: CallContext) {
  const r = ctx.regional;
  const app = applicationName(p);
  application(r, app);
  const name = groupName(p);
  const group = codeDeployState(r).groups.get(`${app}/${name}`);
  if (!group) throw error('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${name}`);
  const configName = str(p.deploymentConfigName) ?? group.deploymentConfigName;
  const routing = ECS_DEPLOYMENT_CONFIGS[configName];
  if (!routing) throw error('DeploymentConfigDoesNotExistException', `No deployment configuration found for name: ${configName}`);
  const revision = p.revision as { revisionType?: string; appSpecContent?: { content?: string } } | undefined;
  if (!revision) throw error('RevisionRequiredException', 'The revision ID was not specified.');
  if (revision.revisionType !== 'AppSpecContent' || typeof revision.appSpecContent?.content !== 'string') {
    throw error('InvalidRevisionException', 'The revision is invalid: an ECS deployment needs a revisionType AppSpecContent with appSpecContent.content.');
  }
  const target = parseAppSpec(revision.appSpecContent.content);
  const rollback = autoRollback(p.autoRollbackConfiguration) ?? group.autoRollbackConfiguration;
  // An ECS deployment group names exactly one service (CreateDeploymentGroup requires it).
  const ecs = group.ecsServices[0]!;
  runScheduler(ctx.state);
  const busy = activeDeployment(r, app, name);
  if (busy) throw error('DeploymentLimitExceededException', `The Deployment Group '${name}' already has an active Deployment '${busy.deploymentId}'`);
  const scheduler = schedulerFor(ctx, ecs.clusterName);
  const service = scheduler?.cluster.services.get(ecs.serviceName);
  const original = service?.taskSets?.find((s) => s.status === 'PRIMARY');
  const pair = group.loadBalancerInfo.targetGroupPairInfoList[0];
  const arnOf = (groupName: string) => [...elbv2State(r).values()].find((g) => g.TargetGroupName === groupName)?.TargetGroupArn;
  const [first, second] = (pair?.targetGroups ?? []).map((g) => arnOf(g.name));
  // What CodeDeploy finds wrong on the ECS or ELB side fails the deployment, not the call (UNVERIFIED).
  const problem: { code: ErrorCode; message: string } | undefined =
    service?.status !== 'ACTIVE' || service.deploymentController?.type !== 'CODE_DEPLOY' || !original
      ? {
          code: 'INVALID_ECS_SERVICE',
          message: `The ECS service ${ecs.serviceName} in cluster ${ecs.clusterName} is not an ACTIVE service deployed by CodeDeploy.`,
        }
      : !first || !second
        ? { code: 'ELASTIC_LOAD_BALANCING_INVALID', message: 'A target group of the deployment group does not exist.' }
        : undefined;
  const blue = original?.loadBalancers?.[0]?.targetGroupArn ?? first ?? '';
  const now = ctx.clock.now();
  const d: CodeDeployment = {
    deploymentId: newCodeDeploymentId(),
    applicationName: app,
    groupName: name,
    deploymentConfigName: configName,
    routing,
    status: 'Created',
    creator: 'user',
    ...(str(p.description) ? { description: str(p.description) } : {}),
    appSpec: revision.appSpecContent.content,
    target,
    autoRollback: rollback,
    createTime: new Date(now),
    events: LIFECYCLE_EVENTS.map((lifecycleEventName) => ({ lifecycleEventName, status: 'Pending' })),
    cluster: ecs.clusterName,
    service: ecs.serviceName,
    phase: 0,
    step: 0,
    weight: 0,
    testWeight: 0,
    originalTaskSet: original?.id ?? '',
    blueGroup: blue,
    greenGroup: (blue === first ? second : first) ?? '',
    lastUpdated: new Date(now),
  };
  if (problem || !scheduler) failAtStart(r, d, now, problem?.code ?? 'INVALID_ECS_SERVICE', problem?.message ?? '');
  else startCodeDeployment(scheduler, d, now);
  return { deploymentId: d.deploymentId };
}

/** GetDeployment's DeploymentInfo. */
function deploymentInfo(r: RegionState, d: CodeDeployment) {
  const group = groupOf(r, d);
  const appSpecRevision = (content: string) => ({ revisionType: 'AppSpecContent', appSpecContent: { content, sha256: appSpecSha256(content) } });
  const revision = appSpecRevision(d.appSpec);
  const overview = { Pending: 0, InProgress: 0, Succeeded: 0, Failed: 0, Skipped: 0, Ready: 0 };
  const targetStatus = targetStatusOf(d);
  if (targetStatus in overview) overview[targetStatus as keyof typeof overview] = 1;
  return {
    applicationName: d.applicationName,
    deploymentGroupName: d.groupName,
    deploymentConfigName: d.deploymentConfigName,
    deploymentId: d.deploymentId,
    ...(d.previousAppSpec ? { previousRevision: appSpecRevision(d.previousAppSpec) } : {}),
    revision,
    status: d.status,
    ...(d.errorInformation ? { errorInformation: d.errorInformation } : {}),
    createTime: d.createTime,
    ...(d.startTime ? { startTime: d.startTime } : {}),
    ...(d.completeTime ? { completeTime: d.completeTime } : {}),
    deploymentOverview: overview,
    ...(d.description ? { description: d.description } : {}),
    creator: d.creator,
    ignoreApplicationStopFailures: false,
    autoRollbackConfiguration: d.autoRollback,
    updateOutdatedInstancesOnly: false,
    ...(d.rollbackInfo ? { rollbackInfo: d.rollbackInfo } : {}),
    deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
    ...(group ? { blueGreenDeploymentConfiguration: group.blueGreenDeploymentConfiguration, loadBalancerInfo: group.loadBalancerInfo } : {}),
    ...(d.sub === 'termination' && d.until !== undefined ? { instanceTerminationWaitTimeStarted: true } : { instanceTerminationWaitTimeStarted: false }),
    computePlatform: 'ECS',
    deploymentStatusMessages: [],
  };
}

/** The ECS target's status (TargetStatus): follows the deployment's. */
function targetStatusOf(d: CodeDeployment): string {
  if (d.status === 'Created' || d.status === 'Queued') return 'Pending';
  if (d.status === 'Baking') return 'InProgress';
  if (d.status === 'Stopped') return 'Failed';
  return d.status;
}

function groupInfo(r: RegionState, app: string, name: string) {
  const group = codeDeployState(r).groups.get(`${app}/${name}`);
  if (!group) return undefined;
  const deployments = [...codeDeployState(r).deployments.values()].filter((d) => d.applicationName === app && d.groupName === name && d.creator === 'user');
  const brief = (d: CodeDeployment | undefined) =>
    d && { deploymentId: d.deploymentId, status: d.status, createTime: d.createTime, ...(d.completeTime ? { endTime: d.completeTime } : {}) };
  const last = brief(deployments.at(-1));
  const succeeded = brief(deployments.filter((d) => d.status === 'Succeeded').at(-1));
  return { ...structuredClone(group), ...(last ? { lastAttemptedDeployment: last } : {}), ...(succeeded ? { lastSuccessfulDeployment: succeeded } : {}) };
}

const deploymentGroupResource = (p: Params, ctx: CallContext) => {
  const d = str(p.deploymentId) && codeDeployState(ctx.regional).deployments.get(p.deploymentId);
  // An unknown deployment names no group: the handler says it does not exist.
  return d ? [codeDeployArns.group(ctx.regional, d.applicationName, d.groupName)] : [];
};

export const codeDeployService: ServiceDefinition = {
  name: 'codedeploy',
  protocol: 'json',
  target: 'CodeDeploy_20141006',
  actions: {
    // No resource type in the IAM data: evaluated on "*".
    ListApplications: (p, ctx) => {
      const { items, nextToken } = page([...codeDeployState(ctx.regional).applications.keys()].sort(), p.nextToken);
      return { applications: items, ...(nextToken ? { nextToken } : {}) };
    },
    BatchGetApplications: {
      resources: (p, ctx) => asList<string>(p.applicationNames).map((name) => codeDeployArns.application(ctx.regional, String(name))),
      handler: (p, ctx) => {
        const names = batch(p.applicationNames, () =>
          error('ApplicationNameRequiredException', 'The minimum number of required application names was not specified.'),
        );
        return { applicationsInfo: names.map((name) => structuredClone(application(ctx.regional, name))) };
      },
    },
    ListDeploymentGroups: {
      resources: (p, ctx) => [codeDeployArns.application(ctx.regional, String(p.applicationName ?? ''))],
      handler: (p, ctx) => {
        const app = applicationName(p);
        application(ctx.regional, app);
        const names = [...codeDeployState(ctx.regional).groups.values()].filter((g) => g.applicationName === app).map((g) => g.deploymentGroupName);
        const { items, nextToken } = page(names.sort(), p.nextToken);
        return { applicationName: app, deploymentGroups: items, ...(nextToken ? { nextToken } : {}) };
      },
    },
    BatchGetDeploymentGroups: {
      resources: (p, ctx) =>
        asList<string>(p.deploymentGroupNames).map((name) => codeDeployArns.group(ctx.regional, String(p.applicationName ?? ''), String(name))),
      handler: (p, ctx) => {
        const app = applicationName(p);
        application(ctx.regional, app);
        const names = batch(p.deploymentGroupNames, () => error('DeploymentGroupNameRequiredException', 'The deployment group name was not specified.'));
        const found = names.map((name) => groupInfo(ctx.regional, app, name));
        const missing = names.filter((_, i) => !found[i]);
        return {
          deploymentGroupsInfo: found.filter((g) => g !== undefined),
          ...(missing.length ? { errorMessage: `Deployment groups not found: ${missing.join(', ')}` } : {}),
        };
      },
    },
    CreateDeployment: {
      resources: (p, ctx) => [codeDeployArns.group(ctx.regional, String(p.applicationName ?? ''), String(p.deploymentGroupName ?? ''))],
      handler: createDeployment,
    },
    GetDeployment: {
      resources: deploymentGroupResource,
      handler: (p, ctx) => {
        runScheduler(ctx.state);
        return { deploymentInfo: deploymentInfo(ctx.regional, deploymentOf(ctx.regional, p)) };
      },
    },
    ListDeployments: {
      resources: (p, ctx) =>
        p.applicationName && p.deploymentGroupName ? [codeDeployArns.group(ctx.regional, String(p.applicationName), String(p.deploymentGroupName))] : ['*'],
      handler: (p, ctx) => {
        runScheduler(ctx.state);
        const app = str(p.applicationName);
        const name = str(p.deploymentGroupName);
        if (name && !app) throw error('ApplicationNameRequiredException', 'The minimum number of required application names was not specified.');
        if (app && !name) throw error('DeploymentGroupNameRequiredException', 'The deployment group name was not specified.');
        if (app) application(ctx.regional, app);
        if (app && name && !codeDeployState(ctx.regional).groups.has(`${app}/${name}`)) {
          throw error('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${name}`);
        }
        const statuses = asList<string>(p.includeOnlyStatuses).map(String);
        for (const s of statuses)
          if (!ALL_STATUSES.includes(s as DeploymentStatus)) throw error('InvalidDeploymentStatusException', `The deployment status ${s} is not valid.`);
        const range = (p.createTimeRange ?? {}) as { start?: number; end?: number };
        const all = [...codeDeployState(ctx.regional).deployments.values()]
          .filter(
            (d) =>
              (!app || (d.applicationName === app && d.groupName === name)) &&
              (!statuses.length || statuses.includes(d.status)) &&
              (range.start === undefined || +d.createTime >= range.start * 1000) &&
              (range.end === undefined || +d.createTime <= range.end * 1000),
          )
          // Newest first (UNVERIFIED: the API documents no order).
          .reverse()
          .map((d) => d.deploymentId);
        const { items, nextToken } = page(all, p.nextToken);
        return { deployments: items, ...(nextToken ? { nextToken } : {}) };
      },
    },
    // ListDeploymentTargets, GetDeploymentTarget, StopDeployment, ContinueDeployment: no resource type.
    ListDeploymentTargets: (p, ctx) => {
      runScheduler(ctx.state);
      const d = deploymentOf(ctx.regional, p);
      return { targetIds: [targetIdOf(d)] };
    },
    GetDeploymentTarget: (p, ctx) => {
      runScheduler(ctx.state);
      const d = deploymentOf(ctx.regional, p);
      const targetId = str(p.targetId);
      if (!targetId) throw error('DeploymentTargetIdRequiredException', 'A deployment target ID was not provided.');
      if (targetId !== targetIdOf(d))
        throw error('DeploymentTargetDoesNotExistException', `The provided target ID does not belong to the deployment ${d.deploymentId}.`);
      const service = ctx.regional.ecs.clusters.get(d.cluster)?.services.get(d.service);
      return {
        deploymentTarget: {
          deploymentTargetType: 'ECSTarget',
          ecsTarget: {
            deploymentId: d.deploymentId,
            targetId,
            targetArn: service?.serviceArn,
            lastUpdatedAt: d.lastUpdated,
            lifecycleEvents: structuredClone(d.events),
            status: targetStatusOf(d),
            taskSetsInfo: taskSetsInfo(ctx.regional, service, d),
          },
        },
      };
    },
    StopDeployment: (p, ctx) => {
      runScheduler(ctx.state);
      const d = deploymentOf(ctx.regional, p);
      // The group the deployment runs through was deleted meanwhile (the SDK model lists this error for StopDeployment).
      if (!groupOf(ctx.regional, d)) throw error('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${d.groupName}`);
      if (!isActive(d)) throw error('DeploymentAlreadyCompletedException', `The deployment ${d.deploymentId} has already completed.`);
      // Unset: the deployment's own configuration decides (DEPLOYMENT_STOP_ON_REQUEST) (UNVERIFIED).
      const rollback = typeof p.autoRollbackEnabled === 'boolean' ? p.autoRollbackEnabled : rollsBackOn(d, 'DEPLOYMENT_STOP_ON_REQUEST');
      const scheduler = schedulerFor(ctx, d.cluster)!;
      const back = stopDeployment(scheduler, d, ctx.clock.now(), rollback, 'Deployment was stopped by the user.');
      // UNVERIFIED messages: Pending while a rollback deployment runs, Succeeded when the stop is complete.
      return back
        ? { status: 'Pending', statusMessage: `Stopping the deployment and rolling back with deployment ${back.deploymentId}.` }
        : { status: 'Succeeded', statusMessage: 'The deployment was stopped.' };
    },
    ContinueDeployment: (p, ctx) => {
      runScheduler(ctx.state);
      const d = deploymentOf(ctx.regional, p);
      const waitType = str(p.deploymentWaitType) ?? 'READY_WAIT';
      if (waitType !== 'READY_WAIT' && waitType !== 'TERMINATION_WAIT')
        throw error('InvalidDeploymentWaitTypeException', `The wait type ${waitType} is not valid.`);
      if (!isActive(d)) throw error('DeploymentAlreadyCompletedException', `The deployment ${d.deploymentId} has already completed.`);
      if (waitType === 'READY_WAIT' && d.status !== 'Ready')
        throw error('DeploymentIsNotInReadyStateException', `The deployment ${d.deploymentId} is not in the Ready state.`);
      if (waitType === 'TERMINATION_WAIT' && d.sub !== 'termination') {
        throw error('InvalidDeploymentStatusException', `The deployment ${d.deploymentId} is not waiting to terminate the original task set.`);
      }
      continueDeployment(schedulerFor(ctx, d.cluster)!, d, waitType, ctx.clock.now());
      return {};
    },
  },
};
