/**
 * ECS RunTask and StopTask: standalone ("one-off") tasks, checked as ECS checks them (a refused
 * call creates nothing), then lived out over emulator time by ../one-off-tasks.ts. RunTask's
 * `clientToken` makes it idempotent as ECS documents: the same token with the same request answers
 * the tasks it started the first time; with a different request it is refused.
 * Messages not quoted from AWS are marked "(emulator wording)".
 */
import { createHash, randomInt } from 'node:crypto';
import type {
  CapacityProviderStrategyItem,
  Container,
  ContainerOverride,
  Failure,
  NetworkConfiguration,
  Task,
  TaskDefinition,
  TaskOverride,
} from '@aws-sdk/client-ecs';
import { startOneOff, stopOneOff, unplaceableFamilies } from '../one-off-tasks';
import { AwsError, asList, type ActionDefinition, type CallContext, type Params } from '../protocols';
import { arns, hexId, nameFromRef, uuid, type EcsClusterState, type RegionState, type TaskDefinitionRecord } from '../state';
import { ec2State } from './ec2';

const invalid = (message: string) => new AwsError('InvalidParameterException', message);
const clientError = (message: string) => new AwsError('ClientException', message);

/** What ecs.ts shares with these actions (the checks CreateService makes too). */
export interface RunTaskHelpers {
  findCluster(ctx: CallContext, ref: string | undefined): EcsClusterState;
  findTaskDefinition(r: RegionState, ref: string): TaskDefinitionRecord | undefined;
  checkAwsvpc(ctx: CallContext, network: NetworkConfiguration | undefined, launchType: string): NetworkConfiguration;
  placementOf(p: Params, cluster: EcsClusterState): { strategy: CapacityProviderStrategyItem[]; launchType: string };
  fargateSizes: Record<string, number[]>;
}

const STARTED_BY = /^[A-Za-z0-9/_-]{1,128}$/;
const CLIENT_TOKEN = /^[\x21-\x7e]{1,64}$/;
/** ECS's limit on the JSON of `overrides`. */
const MAX_OVERRIDES = 8192;

interface Issued {
  fingerprint: string;
  taskArns: string[];
  failures: Failure[];
}
/** RunTask clientTokens seen, per cluster (ECS keeps them for a while; the emulator for its life). */
const tokens = new WeakMap<EcsClusterState, Map<string, Issued>>();

/** The request without its token, keys sorted: what "the same request" means for idempotency. */
function fingerprint(p: Params): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sorted((v as Params)[k])]),
          )
        : v;
  const { clientToken: _, ...rest } = p;
  return createHash('sha256')
    .update(JSON.stringify(sorted(rest)))
    .digest('hex');
}

export function runTaskActions(h: RunTaskHelpers): Record<string, ActionDefinition> {
  const clusterArnOf = (p: Params, ctx: CallContext) => arns.cluster(ctx.regional, nameFromRef(p.cluster ?? 'default'));
  const taskArnOf = (p: Params, ctx: CallContext) =>
    String(p.task ?? '').startsWith('arn:') ? String(p.task) : arns.task(ctx.regional, nameFromRef(p.cluster ?? 'default'), String(p.task ?? ''));

  function runTask(p: Params, ctx: CallContext) {
    const cluster = h.findCluster(ctx, p.cluster);
    if (p.clientToken !== undefined && !CLIENT_TOKEN.test(String(p.clientToken)))
      throw invalid('clientToken must be 1 to 64 ASCII characters. (emulator wording)');
    const issued = p.clientToken !== undefined ? tokens.get(cluster)?.get(String(p.clientToken)) : undefined;
    if (issued) {
      if (issued.fingerprint !== fingerprint(p)) throw invalid('The clientToken was already used with a different request. (emulator wording)');
      return { tasks: issued.taskArns.flatMap((arn) => structuredClone(cluster.tasks.get(nameFromRef(arn))) ?? []), failures: issued.failures };
    }
    if (typeof p.taskDefinition !== 'string' || !p.taskDefinition) throw invalid('TaskDefinition can not be blank.');
    const record = h.findTaskDefinition(ctx.regional, p.taskDefinition);
    if (!record) throw clientError('Unable to describe task definition.');
    const definition = record.taskDefinition;
    if (definition.status !== 'ACTIVE') throw clientError('TaskDefinition is inactive');
    const count = p.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 10) throw invalid('count must be between 1 and 10. (emulator wording)');
    if (p.startedBy !== undefined && !STARTED_BY.test(String(p.startedBy)))
      throw invalid('startedBy may contain up to 128 letters (uppercase and lowercase), numbers, hyphens, forward slashes and underscores. (emulator wording)');
    if (p.propagateTags === 'SERVICE') throw invalid('The SERVICE option of propagateTags is only valid for tasks started by a service. (emulator wording)');

    const { strategy, launchType } = h.placementOf(p, cluster);
    if (launchType !== 'EXTERNAL' && !definition.compatibilities?.includes(launchType as 'EC2' | 'FARGATE')) {
      throw invalid(`Task definition does not support launch_type ${launchType}.`);
    }
    let network: NetworkConfiguration | undefined;
    if (definition.networkMode === 'awsvpc') network = h.checkAwsvpc(ctx, p.networkConfiguration, launchType);
    else if (p.networkConfiguration) throw invalid('Network Configuration is not valid for the given networkMode of this task definition.');

    const overrides = checkOverrides(p.overrides, definition, launchType === 'FARGATE', h.fargateSizes);
    const tags = asList<{ key: string; value: string }>(p.tags);
    if (tags.length > 50) throw invalid('Tags can have at most 50 items. (emulator wording)');

    // The roles the task will use are passed to ECS: iam:PassRole on each, for ecs-tasks.
    for (const role of new Set([overrides.taskRoleArn ?? definition.taskRoleArn, overrides.executionRoleArn ?? definition.executionRoleArn])) {
      if (role) ctx.authorize('iam:PassRole', role, { context: { 'iam:PassedToService': ['ecs-tasks.amazonaws.com'] } });
    }

    const now = ctx.clock.now();
    const tasks: Task[] = [];
    const failures: Failure[] = [];
    for (let i = 0; i < count; i++) {
      if (unplaceableFamilies(ctx.state).has(definition.family!)) {
        failures.push(
          launchType === 'FARGATE'
            ? { reason: 'Capacity is unavailable at this time. Please try again later or in a different availability zone' }
            : {
                arn: `arn:aws:ecs:${ctx.region}:${ctx.accountId}:container-instance/${cluster.cluster.clusterName}/${hexId(`ci/${cluster.cluster.clusterName}`)}`,
                reason: 'RESOURCE:MEMORY',
              },
        );
        continue;
      }
      const task = newTask(ctx, cluster, definition, { p, launchType, strategy, network, overrides, tags, now });
      // Tags on creation are authorised as ecs:TagResource, with the creating action as context.
      if (tags.length)
        ctx.authorize('ecs:TagResource', task.taskArn!, { context: { 'ecs:CreateAction': ['RunTask'], 'ecs:cluster': [cluster.cluster.clusterArn!] } });
      tasks.push(task);
    }
    for (const task of tasks) {
      cluster.tasks.set(nameFromRef(task.taskArn!), task);
      startOneOff(ctx.state, ctx.regional, cluster, task, definition, now);
    }
    if (p.clientToken !== undefined) {
      const seen = tokens.get(cluster) ?? tokens.set(cluster, new Map()).get(cluster)!;
      seen.set(String(p.clientToken), { fingerprint: fingerprint(p), taskArns: tasks.map((t) => t.taskArn!), failures });
    }
    return { tasks: structuredClone(tasks), failures };
  }

  function stopTask(p: Params, ctx: CallContext) {
    const cluster = h.findCluster(ctx, p.cluster);
    if (!p.task) throw invalid('Task can not be blank.');
    const reason = p.reason === undefined ? 'Task stopped by user' : String(p.reason);
    if (reason.length > 255) throw invalid('Reason must be at most 255 characters. (emulator wording)');
    const task = cluster.tasks.get(nameFromRef(String(p.task)));
    if (!task) throw invalid('The referenced task was not found.');
    const now = ctx.clock.now();
    if (!stopOneOff(ctx.state, ctx.regional, cluster, task, reason, now) && task.desiredStatus !== 'STOPPED') {
      // A service's task: the service scheduler sees it gone and replaces it.
      cluster.scheduler?.plans.delete(nameFromRef(task.taskArn!));
      Object.assign(task, {
        desiredStatus: 'STOPPED',
        lastStatus: 'STOPPED',
        stopCode: 'UserInitiated',
        stoppedReason: reason,
        stoppingAt: new Date(now),
        stoppedAt: new Date(now),
        version: (task.version ?? 0) + 1,
      });
    }
    return { task: structuredClone(task) };
  }

  return {
    RunTask: {
      // Authorised on the task definition revision it resolves to, with the cluster as a condition key.
      resources: (p, ctx) => {
        const record = typeof p.taskDefinition === 'string' && p.taskDefinition ? h.findTaskDefinition(ctx.regional, p.taskDefinition) : undefined;
        return [record?.taskDefinition.taskDefinitionArn ?? '*'];
      },
      authorization: (p, ctx) => ({ context: { 'ecs:cluster': [clusterArnOf(p, ctx)] } }),
      handler: runTask,
    },
    StopTask: {
      resources: (p, ctx) => [taskArnOf(p, ctx)],
      authorization: (p, ctx) => ({ context: { 'ecs:cluster': [clusterArnOf(p, ctx)] } }),
      handler: stopTask,
    },
  };
}

/** `overrides` as ECS checks them: known containers, a Fargate size, the 8 KiB limit. */
function checkOverrides(raw: unknown, definition: TaskDefinition, fargate: boolean, sizes: Record<string, number[]>): TaskOverride {
  const overrides = (raw ?? {}) as TaskOverride;
  if (JSON.stringify(overrides).length > MAX_OVERRIDES) throw invalid(`Container Overrides length must be at most ${MAX_OVERRIDES}`);
  const containerOverrides = asList<ContainerOverride>(overrides.containerOverrides);
  for (const o of containerOverrides) {
    if (!definition.containerDefinitions?.some((c) => c.name === o.name))
      throw invalid(`Override for container named ${o.name} is not a container in the TaskDefinition.`);
  }
  const cpu = overrides.cpu ?? definition.cpu;
  const memory = overrides.memory ?? definition.memory;
  if (fargate && (overrides.cpu !== undefined || overrides.memory !== undefined) && !sizes[String(cpu)]?.includes(Number(memory))) {
    throw invalid(
      `No Fargate configuration exists for given values: ${cpu} CPU, ${memory} memory. See the Amazon ECS documentation for the valid combinations. (emulator wording)`,
    );
  }
  return {
    containerOverrides: structuredClone(containerOverrides),
    inferenceAcceleratorOverrides: [],
    ...(overrides.cpu !== undefined ? { cpu: String(overrides.cpu) } : {}),
    ...(overrides.memory !== undefined ? { memory: String(overrides.memory) } : {}),
    ...(overrides.taskRoleArn ? { taskRoleArn: overrides.taskRoleArn } : {}),
    ...(overrides.executionRoleArn ? { executionRoleArn: overrides.executionRoleArn } : {}),
  };
}

interface NewTask {
  p: Params;
  launchType: string;
  strategy: CapacityProviderStrategyItem[];
  network: NetworkConfiguration | undefined;
  overrides: TaskOverride;
  tags: Array<{ key: string; value: string }>;
  now: number;
}

function newTask(ctx: CallContext, cluster: EcsClusterState, definition: TaskDefinition, spec: NewTask): Task {
  const id = hexId();
  const clusterName = cluster.cluster.clusterName!;
  const taskArn = arns.task(ctx.regional, clusterName, id);
  const fargate = spec.launchType === 'FARGATE';
  const subnets = spec.network?.awsvpcConfiguration?.subnets ?? [];
  const subnet = ec2State(ctx.regional).subnets.find((s) => s.SubnetId === subnets[0]);
  const prefix = /^(\d+\.\d+\.\d+)\.\d+\/\d+$/.exec(subnet?.CidrBlock ?? '')?.[1] ?? '10.0.1';
  const ip = `${prefix}.${randomInt(10, 250)}`;
  const attachmentId = uuid();
  const provider = spec.strategy[0]?.capacityProvider ?? (fargate ? 'FARGATE' : undefined);
  return {
    taskArn,
    clusterArn: cluster.cluster.clusterArn ?? arns.cluster(ctx.regional, clusterName),
    taskDefinitionArn: definition.taskDefinitionArn,
    group: spec.p.group ?? `family:${definition.family}`,
    ...(spec.p.startedBy !== undefined ? { startedBy: String(spec.p.startedBy) } : {}),
    launchType: (spec.strategy.length ? (fargate ? 'FARGATE' : 'EC2') : spec.launchType) as Task['launchType'],
    ...(provider ? { capacityProviderName: provider } : {}),
    ...(fargate
      ? {
          platformVersion: spec.p.platformVersion === undefined || spec.p.platformVersion === 'LATEST' ? '1.4.0' : spec.p.platformVersion,
          platformFamily: 'Linux',
        }
      : {}),
    availabilityZone: subnet?.AvailabilityZone ?? `${ctx.region}a`,
    cpu: spec.overrides.cpu ?? definition.cpu,
    memory: spec.overrides.memory ?? definition.memory,
    desiredStatus: 'RUNNING',
    lastStatus: 'PROVISIONING',
    healthStatus: 'UNKNOWN',
    createdAt: new Date(spec.now),
    enableExecuteCommand: spec.p.enableExecuteCommand === true,
    overrides: spec.overrides,
    version: 1,
    ...(fargate ? { ephemeralStorage: { sizeInGiB: 20 }, fargateEphemeralStorage: { sizeInGiB: 20 } } : {}),
    attachments: spec.network
      ? [
          {
            id: attachmentId,
            type: 'ElasticNetworkInterface',
            status: 'PRECREATED',
            details: [
              { name: 'subnetId', value: subnets[0] ?? '' },
              { name: 'networkInterfaceId', value: `eni-0${hexId(undefined, 16)}` },
              { name: 'privateIPv4Address', value: ip },
            ],
          },
        ]
      : [],
    tags: structuredClone(spec.tags),
    containers: (definition.containerDefinitions ?? []).map(
      (c): Container => ({
        containerArn: arns.container(ctx.regional, clusterName, id, uuid()),
        taskArn,
        name: c.name!,
        image: c.image!,
        lastStatus: 'PENDING',
        networkBindings: [],
        networkInterfaces: spec.network ? [{ attachmentId, privateIpv4Address: ip }] : [],
        healthStatus: 'UNKNOWN',
        cpu: String(c.cpu ?? 0),
        ...(c.memory ? { memory: String(c.memory) } : {}),
        ...(c.memoryReservation ? { memoryReservation: String(c.memoryReservation) } : {}),
      }),
    ),
  };
}
