/**
 * The ECS service-deployment APIs (ListServiceDeployments, DescribeServiceDeployments,
 * StopServiceDeployment, ContinueServiceDeployment, DescribeServiceRevisions) over the records the
 * simulated scheduler keeps (../service-deployments.ts), and the checks CreateService / UpdateService
 * make on `deploymentConfiguration.strategy`, its bake times, linear / canary configurations,
 * lifecycle hooks and the load balancers' `advancedConfiguration`. Ranges and error names follow the
 * SDK model and ../../../shared/reference/ecs-deployments.md; guesses are marked UNVERIFIED.
 */
import type { DeploymentConfiguration, DeploymentLifecycleHook, Failure, LoadBalancer, ServiceDeploymentBrief } from '@aws-sdk/client-ecs';
import { AwsError, asList, type ActionDefinition, type CallContext, type Params } from '../protocols';
import { EcsScheduler, failureThreshold } from '../rollout';
import { deploymentsOf, describeServiceDeployment, isCompleted, type ServiceDeploymentRecord } from '../service-deployments';
import { arns, nameFromRef, type EcsClusterState } from '../state';

const invalid = (message: string) => new AwsError('InvalidParameterException', message);

// Validation -------------------------------------------------------------------------------------

const STRATEGIES = ['ROLLING', 'BLUE_GREEN', 'LINEAR', 'CANARY'];
const HOOK_STAGES = [
  'RECONCILE_SERVICE',
  'PRE_SCALE_UP',
  'POST_SCALE_UP',
  'TEST_TRAFFIC_SHIFT',
  'POST_TEST_TRAFFIC_SHIFT',
  'PRE_PRODUCTION_TRAFFIC_SHIFT',
  'PRODUCTION_TRAFFIC_SHIFT',
  'POST_PRODUCTION_TRAFFIC_SHIFT',
];
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const LISTENER_ARN = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener(-rule)?\/(app|net)\/[\w-]+\/[0-9a-f]+\/[0-9a-f]+(\/[0-9a-f]+)?$/;

/** LINEAR's and CANARY's configurations: member, [percent member, default, minimum], [bake member, default] (SDK docs). */
const SHIFTING = {
  LINEAR: { member: 'linearConfiguration', percent: ['stepPercent', 10, 3], bake: ['stepBakeTimeInMinutes', 6] },
  CANARY: { member: 'canaryConfiguration', percent: ['canaryPercent', 5, 0.1], bake: ['canaryBakeTimeInMinutes', 10] },
} as const;

/** A Double in multiples of 0.1 within [min, max] (LinearConfiguration.stepPercent, CanaryConfiguration.canaryPercent). */
function percent(value: unknown, name: string, min: number): number {
  const n = Number(value);
  if (typeof value !== 'number' || !Number.isFinite(n) || n < min || n > 100 || Math.abs(n * 10 - Math.round(n * 10)) > 1e-9) {
    throw invalid(`${name} must be a multiple of 0.1 between ${min.toFixed(1)} and 100.0.`);
  }
  return n;
}

function minutes(value: unknown, name: string): void {
  if (value !== undefined && (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 1440)) {
    throw invalid(`${name} must be an integer between 0 and 1440.`);
  }
}

function checkHook(hook: DeploymentLifecycleHook): DeploymentLifecycleHook {
  const targetType = hook.targetType ?? 'AWS_LAMBDA';
  if (targetType !== 'AWS_LAMBDA' && targetType !== 'PAUSE') throw invalid(`Invalid lifecycle hook targetType: ${targetType}`);
  const stages = asList<string>(hook.lifecycleStages);
  if (!stages.length) throw invalid('lifecycleStages must contain at least one stage.');
  for (const stage of stages) if (!HOOK_STAGES.includes(stage)) throw invalid(`Invalid lifecycle stage for a hook: ${stage}`);
  if (targetType === 'PAUSE') {
    // The SDK: PAUSE hooks cannot be configured at TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT (error class UNVERIFIED).
    const shift = stages.find((s) => s === 'TEST_TRAFFIC_SHIFT' || s === 'PRODUCTION_TRAFFIC_SHIFT');
    if (shift) throw invalid(`PAUSE lifecycle hooks cannot be configured at ${shift}; only AWS_LAMBDA hooks can.`);
    if (hook.hookTargetArn) throw invalid('hookTargetArn is not applicable to PAUSE lifecycle hooks.');
  } else {
    if (!hook.hookTargetArn || !/^arn:aws[a-z-]*:lambda:/.test(hook.hookTargetArn))
      throw invalid('An AWS_LAMBDA lifecycle hook requires a Lambda function hookTargetArn.');
    if (!hook.roleArn || !ROLE_ARN.test(hook.roleArn)) throw invalid('An AWS_LAMBDA lifecycle hook requires a valid roleArn.');
  }
  const timeout = hook.timeoutConfiguration;
  if (
    timeout?.timeoutInMinutes !== undefined &&
    (!Number.isInteger(timeout.timeoutInMinutes) || timeout.timeoutInMinutes < 1 || timeout.timeoutInMinutes > 1440)
  ) {
    throw invalid('timeoutInMinutes must be an integer between 1 and 1440.'); // range UNVERIFIED (default 1440)
  }
  if (timeout?.action !== undefined && timeout.action !== 'CONTINUE' && timeout.action !== 'ROLLBACK')
    throw invalid(`Invalid timeout action: ${timeout.action}`);
  return { ...structuredClone(hook), targetType, lifecycleStages: stages as DeploymentLifecycleHook['lifecycleStages'] };
}

/**
 * The strategy members of a merged deploymentConfiguration, checked against what the request gave
 * (`given`), the controller and the load balancers; returns the configuration with the defaults of
 * the linear / canary configurations filled in and the members of another strategy dropped.
 */
export function checkStrategy(merged: DeploymentConfiguration, given: Params, controller: string, loadBalancers: LoadBalancer[]): DeploymentConfiguration {
  const strategy = merged.strategy ?? 'ROLLING';
  if (!STRATEGIES.includes(strategy)) throw invalid(`Invalid deployment strategy: ${strategy}`);
  // A configuration without a strategy (an older service's) stays without one: ROLLING is the default.
  const out: DeploymentConfiguration = { ...merged };
  if (strategy !== 'ROLLING' && controller !== 'ECS')
    throw invalid(`The ${strategy} deployment strategy is only supported with the ECS deployment controller.`);
  if (given.linearConfiguration && strategy !== 'LINEAR') throw invalid('linearConfiguration is only valid with the LINEAR deployment strategy.');
  if (given.canaryConfiguration && strategy !== 'CANARY') throw invalid('canaryConfiguration is only valid with the CANARY deployment strategy.');
  if (strategy !== 'LINEAR') delete out.linearConfiguration;
  if (strategy !== 'CANARY') delete out.canaryConfiguration;
  minutes(merged.bakeTimeInMinutes, 'bakeTimeInMinutes'); // range UNVERIFIED
  if (strategy === 'BLUE_GREEN' && merged.bakeTimeInMinutes === undefined)
    throw invalid('bakeTimeInMinutes must be provided for the BLUE_GREEN deployment strategy.');
  const shifting = SHIFTING[strategy as keyof typeof SHIFTING];
  if (shifting) {
    const {
      member,
      percent: [share, shareDefault, shareMin],
      bake: [bake, bakeDefault],
    } = shifting;
    const config = (merged[member] ?? {}) as Record<string, number | undefined>;
    minutes(config[bake], `${member}.${bake}`);
    Object.assign(out, {
      [member]: {
        [share]: config[share] === undefined ? shareDefault : percent(config[share], `${member}.${share}`, shareMin),
        [bake]: config[bake] ?? bakeDefault,
      },
    });
  }
  const hooks = asList<DeploymentLifecycleHook>(merged.lifecycleHooks);
  // UNVERIFIED: hooks on ROLLING deployments (the reference assumes rolling deployments have no stages).
  if (hooks.length && strategy === 'ROLLING') throw invalid('lifecycleHooks are only supported with the BLUE_GREEN, LINEAR and CANARY deployment strategies.');
  if (hooks.length) out.lifecycleHooks = hooks.map(checkHook);
  if (strategy !== 'ROLLING') {
    // Traffic shifting needs a load balancer with an alternate target group (Service Connect is not modelled).
    if (!loadBalancers.length || loadBalancers.some((lb) => !lb.advancedConfiguration)) {
      throw invalid(
        `The ${strategy} deployment strategy requires load balancers with an advancedConfiguration (alternate target group and production listener rule).`,
      );
    }
  }
  return out;
}

/** A load balancer's advancedConfiguration: an existing alternate target group, listener (rule) ARNs, a role. */
export function checkAdvancedConfiguration(lb: LoadBalancer, targetGroupExists: (arn: string) => boolean): LoadBalancer['advancedConfiguration'] {
  const advanced = lb.advancedConfiguration;
  if (!advanced) return undefined;
  const alternate = advanced.alternateTargetGroupArn;
  if (!alternate) throw invalid('advancedConfiguration.alternateTargetGroupArn must be specified.');
  if (alternate === lb.targetGroupArn) throw invalid('advancedConfiguration.alternateTargetGroupArn must differ from targetGroupArn.');
  if (!targetGroupExists(alternate)) throw invalid(`The target group ${alternate} does not exist.`); // wording UNVERIFIED
  if (!advanced.productionListenerRule || !LISTENER_ARN.test(advanced.productionListenerRule)) {
    throw invalid('advancedConfiguration.productionListenerRule must be a listener or listener rule ARN.');
  }
  if (advanced.testListenerRule !== undefined && !LISTENER_ARN.test(advanced.testListenerRule)) {
    throw invalid('advancedConfiguration.testListenerRule must be a listener or listener rule ARN.');
  }
  if (!advanced.roleArn || !ROLE_ARN.test(advanced.roleArn)) throw invalid('advancedConfiguration.roleArn must be a valid IAM role ARN.');
  return structuredClone(advanced);
}

// The APIs ---------------------------------------------------------------------------------------

interface Helpers {
  findCluster: (ctx: CallContext, ref: string | undefined) => EcsClusterState;
  paginate: <T>(items: T[], params: Params, max?: number, pageSize?: number) => { page: T[]; nextToken?: string };
}

const notFound = () => new AwsError('ServiceDeploymentNotFoundException', 'The service deployment does not exist.'); // wording UNVERIFIED
/** `arn:…:service-deployment/<cluster>/<service>/<id>` or `…:service-revision/…`: the cluster and service named. */
const ARN_PARTS = /^arn:aws[a-z-]*:ecs:([a-z0-9-]+):(\d{12}):(service-deployment|service-revision)\/([^/]+)\/([^/]+)\/([^/]+)$/;

function clusterOfArn(ctx: CallContext, arn: string, kind: 'service-deployment' | 'service-revision'): EcsClusterState | undefined {
  const parts = ARN_PARTS.exec(arn);
  if (!parts || parts[3] !== kind || parts[1] !== ctx.region || parts[2] !== ctx.accountId) return undefined;
  return ctx.regional.ecs.clusters.get(parts[4]!);
}

function findRecord(ctx: CallContext, arn: unknown): { cluster: EcsClusterState; record: ServiceDeploymentRecord } {
  if (typeof arn !== 'string' || !arn) throw invalid('serviceDeploymentArn can not be blank.');
  const cluster = clusterOfArn(ctx, arn, 'service-deployment');
  const record = cluster && deploymentsOf(cluster).byArn.get(arn);
  if (!cluster || !record) throw notFound();
  return { cluster, record };
}

/** A Describe call over at most 20 ARNs: what is found, and a MISSING failure for each other ARN. */
function describeByArn<T>(
  ctx: CallContext,
  p: Params,
  member: string,
  kind: 'service-deployment' | 'service-revision',
  find: (cluster: EcsClusterState, arn: string) => T | undefined,
): { found: T[]; failures: Failure[] } {
  const list = asList<string>(p[member]);
  if (!list.length) throw invalid(`${member} can not be empty.`);
  if (list.length > 20) throw invalid(`${member} cannot contain more than 20 items.`);
  const found: T[] = [];
  const failures: Failure[] = [];
  for (const arn of list) {
    const cluster = clusterOfArn(ctx, arn, kind);
    const item = cluster && find(cluster, arn);
    if (item) found.push(item);
    else failures.push({ arn, reason: 'MISSING' });
  }
  return { found, failures };
}

/** JSON timestamps arrive as epoch seconds. */
const instant = (value: unknown) => (value === undefined ? undefined : typeof value === 'number' ? value * 1000 : Date.parse(String(value)));

/**
 * What IAM authorizes a call on, as AWS's IAM data lists it: the service (required) and the service
 * deployment or revision (required) of each ARN named (reference §6 leaves the mapping UNVERIFIED).
 */
function serviceAnd(arnsGiven: unknown): string[] {
  return asList<string>(arnsGiven).flatMap((arn) => {
    const parts = ARN_PARTS.exec(String(arn));
    return parts ? [`arn:aws:ecs:${parts[1]}:${parts[2]}:service/${parts[4]}/${parts[5]}`, String(arn)] : [String(arn)];
  });
}

export function serviceDeploymentActions({ findCluster, paginate }: Helpers): Record<string, ActionDefinition> {
  const scheduler = (ctx: CallContext, cluster: EcsClusterState) => new EcsScheduler(ctx.state, ctx.regional, cluster);
  return {
    ListServiceDeployments: {
      resources: (p, ctx) => [
        String(p.service ?? '').startsWith('arn:')
          ? String(p.service)
          : arns.service(ctx.regional, nameFromRef(p.cluster ?? 'default'), String(p.service ?? '')),
      ],
      handler: (p, ctx) => {
        if (typeof p.service !== 'string' || !p.service) throw invalid('service can not be blank.');
        const cluster = findCluster(ctx, p.cluster);
        const name = nameFromRef(p.service);
        if (!cluster.services.has(name)) throw new AwsError('ServiceNotFoundException', 'Service not found.');
        const statuses = asList<string>(p.status);
        const after = instant(p.createdAt?.after);
        const before = instant(p.createdAt?.before);
        const records = [...deploymentsOf(cluster).byArn.values()]
          .filter((r) => r.serviceName === name && (!statuses.length || statuses.includes(r.view.status!)))
          .filter((r) => (after === undefined || +r.view.createdAt! >= after) && (before === undefined || +r.view.createdAt! <= before))
          // Newest first: the order is not documented (UNVERIFIED); ecspresso sorts by createdAt itself.
          .reverse();
        const { page, nextToken } = paginate(records, p, 100, 20);
        const serviceDeployments = page.map(
          ({ view }): ServiceDeploymentBrief => ({
            serviceDeploymentArn: view.serviceDeploymentArn,
            serviceArn: view.serviceArn,
            clusterArn: view.clusterArn,
            startedAt: view.startedAt,
            createdAt: view.createdAt,
            ...(view.finishedAt ? { finishedAt: view.finishedAt } : {}),
            targetServiceRevisionArn: view.targetServiceRevision.arn,
            status: view.status,
            ...(view.statusReason ? { statusReason: view.statusReason } : {}),
          }),
        );
        return { serviceDeployments, ...(nextToken ? { nextToken } : {}) };
      },
    },

    DescribeServiceDeployments: {
      resources: (p) => serviceAnd(p.serviceDeploymentArns),
      // UNVERIFIED: an unknown ARN is a failure (MISSING, as for revisions), not an exception.
      handler: (p, ctx) => {
        const { found, failures } = describeByArn(ctx, p, 'serviceDeploymentArns', 'service-deployment', (cluster, arn) => {
          const record = deploymentsOf(cluster).byArn.get(arn);
          return record && describeServiceDeployment(cluster, record, failureThreshold);
        });
        return { serviceDeployments: found, failures };
      },
    },

    DescribeServiceRevisions: {
      resources: (p) => serviceAnd(p.serviceRevisionArns),
      handler: (p, ctx) => {
        const { found, failures } = describeByArn(ctx, p, 'serviceRevisionArns', 'service-revision', (cluster, arn) => {
          const revision = deploymentsOf(cluster).revisions.get(arn);
          return revision && structuredClone(revision);
        });
        return { serviceRevisions: found, failures };
      },
    },

    StopServiceDeployment: {
      resources: (p) => serviceAnd([p.serviceDeploymentArn ?? '']),
      handler: (p, ctx) => {
        const { cluster, record } = findRecord(ctx, p.serviceDeploymentArn);
        const stopType = p.stopType ?? 'ROLLBACK';
        // The API reference: "The valid values are ROLLBACK" (ABORT is in the enum, undocumented).
        if (stopType !== 'ROLLBACK') throw invalid(`Invalid stopType: ${stopType}. The valid value is ROLLBACK.`);
        // UNVERIFIED: a completed deployment is a conflict with its current state.
        if (isCompleted(record)) throw new AwsError('ConflictException', `The service deployment is already ${record.view.status}.`);
        const service = cluster.services.get(record.serviceName)!;
        const refused = scheduler(ctx, cluster).stopServiceDeployment(service, record, ctx.clock.now());
        if (refused) throw new AwsError('ConflictException', refused);
        return { serviceDeploymentArn: record.view.serviceDeploymentArn };
      },
    },

    ContinueServiceDeployment: {
      resources: (p) => serviceAnd([p.serviceDeploymentArn ?? '']),
      handler: (p, ctx) => {
        const { cluster, record } = findRecord(ctx, p.serviceDeploymentArn);
        if (typeof p.hookId !== 'string' || !p.hookId) throw invalid('hookId can not be blank.');
        const action = p.action ?? 'CONTINUE';
        if (action !== 'CONTINUE' && action !== 'ROLLBACK') throw invalid(`Invalid action: ${action}`);
        // UNVERIFIED (reference §3): both refusals as InvalidParameterException, since no ConflictException is listed.
        if (record.view.status !== 'IN_PROGRESS') throw invalid(`The service deployment is ${record.view.status}, not IN_PROGRESS.`);
        const hook = record.staged?.hooks.find((h) => h.hookId === p.hookId);
        if (hook?.status !== 'AWAITING_ACTION') throw invalid(`The lifecycle hook ${p.hookId} is not awaiting action.`);
        const service = cluster.services.get(record.serviceName)!;
        scheduler(ctx, cluster).continueServiceDeployment(service, record, p.hookId, action, ctx.clock.now());
        return { serviceDeploymentArn: record.view.serviceDeploymentArn };
      },
    },
  };
}
