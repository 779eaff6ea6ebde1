/**
 * Application Auto Scaling (JSON 1.1, target AnyScaleFrontendService, SigV4 name
 * `application-autoscaling`): scalable targets of ECS services, the two APIs the bot calls.
 *
 * A target is keyed by its triple (ServiceNamespace, ResourceId, ScalableDimension); for ECS the
 * resource is `service/<cluster>/<service>` and the dimension `ecs:service:DesiredCount`.
 * RegisterScalableTarget registers or updates: on an update the fields it leaves out are unchanged,
 * a new target needs MinCapacity and MaxCapacity, and when the service exists its desiredCount is
 * brought inside [Min, Max] ("changes the resource's current capacity to a value that is inside of
 * this range"). Scaling policies and scheduled actions are not modelled: nothing scales on its own.
 * Errors are the API's shapes (ValidationException, InvalidNextTokenException), HTTP 400.
 * Other namespaces are refused: the local world has no other scalable resources.
 */
import { AwsError, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import type { ScalableTarget as WireTarget, SuspendedState } from '../../../src/aws/application-autoscaling';
import { runScheduler } from '../rollout';
import { hexId, type RegionState } from '../state';

/**
 * A scalable target as DescribeScalableTargets returns it: the API's shape (the wire types of
 * src/aws/application-autoscaling.ts stand in for the SDK's, which is not installed), every member set,
 * with a Date where the wire has epoch seconds.
 */
export type ScalableTarget = Required<Omit<WireTarget, 'CreationTime' | 'SuspendedState'>> & {
  CreationTime: Date;
  SuspendedState: Required<SuspendedState>;
};

export const ECS_DESIRED_COUNT = 'ecs:service:DesiredCount';
/** The service-linked role Application Auto Scaling uses for ECS. */
const ECS_ROLE = (account: string) =>
  `arn:aws:iam::${account}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService`;
const PAGE = 50;

const stores = new WeakMap<RegionState, Map<string, ScalableTarget>>();
export const scalableTargets = (r: RegionState): Map<string, ScalableTarget> => stores.get(r) ?? stores.set(r, new Map()).get(r)!;
const keyOf = (namespace: string, resourceId: string, dimension: string) => `${namespace}|${resourceId}|${dimension}`;

/** The ARN a target has (or will have): its id is derived from the triple, so IAM sees the same ARN before and after. */
const targetArn = (r: RegionState, namespace: string, resourceId: string, dimension: string) =>
  `arn:aws:application-autoscaling:${r.region}:${r.accountId}:scalable-target/${hexId(keyOf(namespace, resourceId, dimension), 36)}`;

const validation = (message: string) => new AwsError('ValidationException', message);
const notNull = (member: string) => validation(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);

/** The ECS service a `service/<cluster>/<service>` resource id names, if it exists and is ACTIVE. */
function ecsService(r: RegionState, resourceId: string) {
  const match = /^service\/([^/]+)\/([^/]+)$/.exec(resourceId);
  if (!match) return undefined;
  const service = r.ecs.clusters.get(match[1]!)?.services.get(match[2]!);
  return service?.status === 'ACTIVE' ? service : undefined;
}

function checkNamespace(p: Params): string {
  if (p.ServiceNamespace === undefined) throw notNull('serviceNamespace');
  if (p.ServiceNamespace !== 'ecs') throw validation(`Unsupported service namespace ${String(p.ServiceNamespace)} in the local world: only ecs is modelled`);
  return p.ServiceNamespace;
}

function capacity(value: unknown, member: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || (value as number) < 0)
    throw validation(
      `1 validation error detected: Value '${String(value)}' at '${member}' failed to satisfy constraint: Member must have value greater than or equal to 0`,
    );
  return value as number;
}

function suspended(value: unknown, before?: Required<SuspendedState>): Required<SuspendedState> {
  const given = (value ?? {}) as SuspendedState;
  const pick = (k: keyof SuspendedState) => (typeof given[k] === 'boolean' ? given[k]! : (before?.[k] ?? false));
  return {
    DynamicScalingInSuspended: pick('DynamicScalingInSuspended'),
    DynamicScalingOutSuspended: pick('DynamicScalingOutSuspended'),
    ScheduledScalingSuspended: pick('ScheduledScalingSuspended'),
  };
}

/** Registers or updates a target (also what the seed uses); returns it. */
export function registerScalableTarget(r: RegionState, p: Params, now: Date): ScalableTarget {
  const namespace = checkNamespace(p);
  if (p.ResourceId === undefined) throw notNull('resourceId');
  if (p.ScalableDimension === undefined) throw notNull('scalableDimension');
  const resourceId = String(p.ResourceId);
  const dimension = String(p.ScalableDimension);
  if (dimension !== ECS_DESIRED_COUNT) throw validation(`Unsupported scalable dimension ${dimension} for service namespace ecs`);
  const service = ecsService(r, resourceId);
  if (!service) throw validation(`ECS service doesn't exist: ${resourceId}`);
  const min = capacity(p.MinCapacity, 'minCapacity');
  const max = capacity(p.MaxCapacity, 'maxCapacity');
  const key = keyOf(namespace, resourceId, dimension);
  const before = scalableTargets(r).get(key);
  if (!before && (min === undefined || max === undefined)) throw validation('MinCapacity and MaxCapacity are required for registering a new scalable target');
  const next: ScalableTarget = {
    ServiceNamespace: namespace,
    ResourceId: resourceId,
    ScalableDimension: dimension,
    MinCapacity: min ?? before!.MinCapacity,
    MaxCapacity: max ?? before!.MaxCapacity,
    RoleARN: typeof p.RoleARN === 'string' ? p.RoleARN : (before?.RoleARN ?? ECS_ROLE(r.accountId)),
    CreationTime: before?.CreationTime ?? now,
    SuspendedState: suspended(p.SuspendedState, before?.SuspendedState),
    ScalableTargetARN: before?.ScalableTargetARN ?? targetArn(r, namespace, resourceId, dimension),
  };
  if (next.MinCapacity > next.MaxCapacity) throw validation(`Minimum capacity cannot be greater than maximum capacity`);
  scalableTargets(r).set(key, next);
  // The service's current capacity is brought inside the range.
  const desired = service.desiredCount ?? 0;
  const clamped = Math.min(next.MaxCapacity, Math.max(next.MinCapacity, desired));
  if (clamped !== desired) service.desiredCount = clamped;
  return next;
}

function describe(p: Params, ctx: CallContext) {
  const namespace = checkNamespace(p);
  const ids = p.ResourceIds === undefined ? undefined : (p.ResourceIds as unknown[]).map(String);
  if (ids && ids.length > 50)
    throw validation(`1 validation error detected: Value at 'resourceIds' failed to satisfy constraint: Member must have length less than or equal to 50`);
  const size = p.MaxResults === undefined ? PAGE : Number(p.MaxResults);
  if (!Number.isInteger(size) || size < 1 || size > PAGE)
    throw validation(
      `1 validation error detected: Value '${String(p.MaxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50`,
    );
  const all = [...scalableTargets(ctx.regional).values()].filter(
    (t) =>
      t.ServiceNamespace === namespace &&
      (!ids || ids.includes(t.ResourceId)) &&
      (p.ScalableDimension === undefined || t.ScalableDimension === p.ScalableDimension),
  );
  let start = 0;
  if (p.NextToken !== undefined) {
    const decoded = /^page-(\d+)$/.exec(Buffer.from(String(p.NextToken), 'base64url').toString('utf8'));
    if (!decoded) throw new AwsError('InvalidNextTokenException', 'Invalid token');
    start = Number(decoded[1]);
  }
  const page = all.slice(start, start + size);
  const more = start + size < all.length;
  return {
    ScalableTargets: page.map((t) => ({ ...t, SuspendedState: { ...t.SuspendedState } })),
    ...(more ? { NextToken: Buffer.from(`page-${start + size}`).toString('base64url') } : {}),
  };
}

export const applicationAutoScalingService: ServiceDefinition = {
  name: 'application-autoscaling',
  protocol: 'json',
  target: 'AnyScaleFrontendService',
  actions: {
    // No resource-level permission (IAM data: no resource type): evaluated on "*".
    DescribeScalableTargets: describe,
    RegisterScalableTarget: {
      resources: (p, ctx) =>
        p.ResourceId && p.ScalableDimension ? [targetArn(ctx.regional, String(p.ServiceNamespace), String(p.ResourceId), String(p.ScalableDimension))] : ['*'],
      authorization: (p) => ({
        context: {
          'application-autoscaling:service-namespace': [String(p.ServiceNamespace ?? '')],
          'application-autoscaling:scalable-dimension': [String(p.ScalableDimension ?? '')],
        },
      }),
      handler: (p, ctx) => {
        // The service's tasks are brought up to now before its desired count may change.
        runScheduler(ctx.state);
        const target = registerScalableTarget(ctx.regional, p, ctx.clock.date());
        return { ScalableTargetARN: target.ScalableTargetARN };
      },
    },
  },
};
