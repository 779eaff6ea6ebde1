/**
 * Amazon ECS (JSON 1.1, target AmazonEC2ContainerServiceV20141113): the read side the bot uses to
 * report status, and the deploy side (RegisterTaskDefinition, CreateService, UpdateService) whose rollouts the
 * simulated scheduler in ../rollout.ts carries out over emulator time. Behaviour follows the real
 * API where callers can tell the difference: a missing cluster is an exception, missing
 * services/tasks/clusters in a Describe call are `failures`, and error codes and messages are ECS's.
 */
import { randomBytes } from 'node:crypto';
import type {
  CapacityProviderStrategyItem,
  Cluster,
  ContainerDefinition,
  DeploymentConfiguration,
  Failure,
  LoadBalancer,
  NetworkConfiguration,
  Service,
  Task,
  TaskDefinition,
} from '@aws-sdk/client-ecs';
import { AwsError, asList, type ActionDefinition, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { EcsScheduler, runScheduler } from '../rollout';
import { arns, nameFromRef, uuid, type EcsClusterState, type RegionState, type TaskDefinitionRecord } from '../state';
import { execRegistry } from '../../exec-agent/registry';
import { ec2State } from './ec2';
import { runTaskActions } from './ecs-run-task';
import { checkAdvancedConfiguration, checkStrategy, serviceDeploymentActions } from './ecs-service-deployments';
import { elbv2State } from './elbv2';

const clusterNotFound = () => new AwsError('ClusterNotFoundException', 'Cluster not found.');
const invalid = (message: string) => new AwsError('InvalidParameterException', message);
const clientError = (message: string) => new AwsError('ClientException', message);

function findCluster(ctx: CallContext, ref: string | undefined): EcsClusterState {
  const cluster = ctx.regional.ecs.clusters.get(nameFromRef(ref ?? 'default'));
  if (!cluster) throw clusterNotFound();
  return cluster;
}

function maxItems(list: unknown[], max: number, member: string): void {
  if (list.length === 0) throw invalid(`${member} can not be empty.`);
  if (list.length > max) throw invalid(`${member} cannot contain more than ${max} items.`);
}

/** The tags of the resource an ARN names in the caller's account and region; InvalidParameterException as ECS says it otherwise. */
function tagsOf(ctx: CallContext, arn: string): Array<{ key?: string; value?: string }> {
  const match = /^arn:aws:ecs:([^:]+):(\d{12}):(cluster|service|task|task-definition)\/(.+)$/.exec(arn);
  if (!match || match[1] !== ctx.region || match[2] !== ctx.accountId) throw invalid('The ARN provided is invalid.');
  const [, , , type, rest] = match as unknown as [string, string, string, string, string];
  const [first, second] = rest.split('/');
  const found =
    type === 'cluster'
      ? ctx.regional.ecs.clusters.get(first!)?.cluster.tags
      : type === 'service'
        ? ctx.regional.ecs.clusters.get(first!)?.services.get(second ?? '')?.tags
        : type === 'task'
          ? ctx.regional.ecs.clusters.get(first!)?.tasks.get(second ?? '')?.tags
          : ctx.regional.ecs.taskDefinitions.get(first!)?.tags;
  if (!found) throw invalid('The specified resource could not be found.');
  return found;
}

/** Tags are only returned when asked for with `include: ['TAGS']`. */
function withoutTags<T extends { tags?: unknown }>(item: T, include: string[] | undefined): T {
  const copy = structuredClone(item);
  if (!include?.includes('TAGS')) delete copy.tags;
  return copy;
}

/** Counts reflect the tasks actually present, so tests and later deploy simulation stay consistent. */
function describeCluster(r: RegionState, state: EcsClusterState, include: string[] = []): Cluster {
  const tasks = [...state.tasks.values()];
  const { configuration, settings, tags, ...cluster } = state.cluster;
  return {
    ...structuredClone(cluster),
    runningTasksCount: tasks.filter((t) => t.lastStatus === 'RUNNING').length,
    pendingTasksCount: tasks.filter((t) => ['PROVISIONING', 'PENDING', 'ACTIVATING'].includes(t.lastStatus ?? '')).length,
    activeServicesCount: [...state.services.values()].filter((s) => s.status === 'ACTIVE').length,
    registeredContainerInstancesCount: 0,
    statistics: [],
    ...(include.includes('CONFIGURATIONS') && configuration ? { configuration: structuredClone(configuration) } : {}),
    ...(include.includes('SETTINGS') ? { settings: structuredClone(settings ?? []) } : {}),
    ...(include.includes('TAGS') ? { tags: structuredClone(tags ?? []) } : {}),
    clusterArn: arns.cluster(r, cluster.clusterName!),
  };
}

/** Opaque pagination token: an offset, base64 so callers cannot rely on its shape. */
const encodeToken = (offset: number) => Buffer.from(JSON.stringify({ offset })).toString('base64');
function decodeToken(token: string | undefined): number {
  if (!token) return 0;
  try {
    const { offset } = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (Number.isInteger(offset) && offset >= 0) return offset;
  } catch {}
  throw invalid('Invalid nextToken.');
}

function paginate<T>(items: T[], params: Params, max = 100, pageSize = max) {
  const maxResults = params.maxResults ?? pageSize;
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > max) {
    throw invalid(`maxResults must be between 1 and ${max}.`);
  }
  const offset = decodeToken(params.nextToken);
  const page = items.slice(offset, offset + maxResults);
  const next = offset + maxResults < items.length ? encodeToken(offset + maxResults) : undefined;
  return { page, ...(next ? { nextToken: next } : {}) };
}

const serviceArnsOf = (p: Params, ctx: CallContext) =>
  asList<string>(p.services).map((s) => (s.startsWith('arn:') ? s : arns.service(ctx.regional, nameFromRef(p.cluster ?? 'default'), s)));
const taskArnsOf = (p: Params, ctx: CallContext) =>
  asList<string>(p.tasks).map((t) => (t.startsWith('arn:') ? t : arns.task(ctx.regional, nameFromRef(p.cluster ?? 'default'), t)));
const clusterArnOf = (p: Params, ctx: CallContext) => [arns.cluster(ctx.regional, nameFromRef(p.cluster ?? 'default'))];

/** `web`, `web:42` or the ARN; a bare family means its latest ACTIVE revision, as everywhere in ECS. */
function findTaskDefinition(r: RegionState, ref: string): TaskDefinitionRecord | undefined {
  const name = nameFromRef(ref);
  const defs = r.ecs.taskDefinitions;
  if (name.includes(':')) return defs.get(name);
  return [...defs.values()]
    .filter((d) => d.taskDefinition.family === name && d.taskDefinition.status === 'ACTIVE')
    .sort((a, b) => b.taskDefinition.revision! - a.taskDefinition.revision!)[0];
}

// Task definitions -----------------------------------------------------------------------------

/** Task sizes Fargate offers: CPU units → allowed memory (MiB). Anything else is refused at registration. */
const range = (from: number, to: number, step: number) => Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);
const FARGATE_SIZES: Record<string, number[]> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** ECS accepts `1 vCPU` / `2 GB` as well as units and MiB, and answers with the numbers. */
function taskSize(value: unknown, kind: 'cpu' | 'memory'): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value).trim();
  const unit = kind === 'cpu' ? /^(\d+(?:\.\d+)?)\s*vcpu$/i : /^(\d+(?:\.\d+)?)\s*gb$/i;
  const scaled = unit.exec(text);
  if (scaled) return String(Math.round(Number(scaled[1]) * 1024));
  if (/^\d+$/.test(text)) return text;
  throw clientError(`Invalid '${kind}' setting for task.`);
}

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;
const privateEcr = (image: string) => /^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//.test(image);

/**
 * Checks a RegisterTaskDefinition request the way ECS does, then builds what DescribeTaskDefinition
 * will show: defaults filled in (cpu 0, essential, empty lists, hostPort = containerPort under awsvpc)
 * and the computed members (compatibilities, requiresAttributes). Read-only members (revision,
 * taskDefinitionArn, status…) never arrive from the SDK, which only serializes input members, so
 * they are ignored here too.
 */
function buildTaskDefinition(p: Params, ctx: CallContext): Omit<TaskDefinition, 'taskDefinitionArn' | 'revision'> {
  const family = p.family;
  if (typeof family !== 'string' || !family) throw clientError('Family must not be null or empty.');
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(family)) {
    throw clientError('Family may only contain up to 255 letters (uppercase and lowercase), numbers, hyphens, and underscores.');
  }
  const containers = asList<ContainerDefinition>(p.containerDefinitions);
  if (containers.length === 0) throw clientError('Container list cannot be empty.');
  const names = new Set<string>();
  for (const c of containers) {
    if (!c.name) throw clientError('Container.name should not be null or empty.');
    if (!c.image) throw clientError('Container.image should not be null or empty.');
    if (names.has(c.name)) throw clientError(`Duplicate container name found: ${c.name}.`);
    names.add(c.name);
  }
  for (const role of [p.taskRoleArn, p.executionRoleArn]) if (role !== undefined && !ROLE_ARN.test(role)) throw clientError('Role is not valid');

  const networkMode = p.networkMode ?? 'bridge';
  const cpu = taskSize(p.cpu, 'cpu');
  const memory = taskSize(p.memory, 'memory');
  const requires = asList<string>(p.requiresCompatibilities);
  const awslogs = containers.some((c) => c.logConfiguration?.logDriver === 'awslogs');
  const fromEcr = containers.some((c) => privateEcr(c.image!));
  if (requires.includes('FARGATE')) {
    if (networkMode !== 'awsvpc') throw clientError('Fargate only supports network mode \u2018awsvpc\u2019.');
    if (!cpu) throw clientError("Fargate requires that 'cpu' be defined at the task level.");
    if (!memory) throw clientError("Fargate requires that 'memory' be defined at the task level.");
    if (!FARGATE_SIZES[cpu]?.includes(Number(memory))) {
      throw clientError(
        `No Fargate configuration exists for given values: ${cpu} CPU, ${memory} memory. See the Amazon ECS documentation for the valid values.`,
      );
    }
    if (awslogs && !p.executionRoleArn) throw clientError('Fargate requires task definition to have execution role ARN to support log driver awslogs.');
    if (fromEcr && !p.executionRoleArn) throw clientError('Fargate requires task definition to have execution role ARN to support ECR images.');
  }
  if (!memory) {
    const unsized = containers.find((c) => !c.memory && !c.memoryReservation);
    if (unsized) throw clientError(`Invalid setting for container '${unsized.name}'. At least one of 'memory' or 'memoryReservation' must be specified.`);
  }
  // Passing roles to ECS needs iam:PassRole on each; AWS refuses the whole call otherwise.
  for (const role of [p.taskRoleArn, p.executionRoleArn])
    if (role) ctx.authorize('iam:PassRole', role, { context: { 'iam:PassedToService': ['ecs-tasks.amazonaws.com'] } });

  const fargateReady = networkMode === 'awsvpc' && !!cpu && !!memory && !!FARGATE_SIZES[cpu]?.includes(Number(memory));
  const secrets = containers.flatMap((c) => c.secrets ?? []).map((s) => s.valueFrom ?? '');
  const attributes = [
    awslogs && 'com.amazonaws.ecs.capability.logging-driver.awslogs',
    awslogs && p.executionRoleArn && 'ecs.capability.execution-role-awslogs',
    fromEcr && 'com.amazonaws.ecs.capability.ecr-auth',
    p.taskRoleArn && 'com.amazonaws.ecs.capability.task-iam-role',
    fromEcr && p.executionRoleArn && 'ecs.capability.execution-role-ecr-pull',
    secrets.some((s) => !s.startsWith('arn:aws:secretsmanager:')) && 'ecs.capability.secrets.ssm.environment-variables',
    secrets.some((s) => s.startsWith('arn:aws:secretsmanager:')) && 'ecs.capability.secrets.asm.environment-variables',
    containers.some((c) => c.firelensConfiguration?.type === 'fluentbit') && 'ecs.capability.firelens.fluentbit',
    networkMode === 'awsvpc' && 'ecs.capability.task-eni',
  ].filter((a): a is string => !!a);

  const asGiven = [
    'taskRoleArn',
    'executionRoleArn',
    'pidMode',
    'ipcMode',
    'proxyConfiguration',
    'inferenceAccelerators',
    'ephemeralStorage',
    'runtimePlatform',
    'enableFaultInjection',
  ];
  return {
    family,
    ...Object.fromEntries(asGiven.filter((k) => p[k] !== undefined).map((k) => [k, structuredClone(p[k])])),
    containerDefinitions: containers.map((c) => ({
      ...structuredClone(c),
      cpu: c.cpu ?? 0,
      essential: c.essential ?? true,
      portMappings: (c.portMappings ?? []).map((m) => ({
        ...m,
        ...(networkMode === 'awsvpc' || networkMode === 'host' ? { hostPort: m.hostPort ?? m.containerPort } : {}),
        protocol: m.protocol ?? 'tcp',
      })),
      environment: c.environment ?? [],
      mountPoints: c.mountPoints ?? [],
      volumesFrom: c.volumesFrom ?? [],
      systemControls: c.systemControls ?? [],
    })),
    networkMode,
    volumes: structuredClone(p.volumes ?? []),
    placementConstraints: structuredClone(p.placementConstraints ?? []),
    status: 'ACTIVE',
    requiresAttributes: attributes.map((name) => ({ name })),
    compatibilities: fargateReady ? ['EC2', 'FARGATE'] : ['EC2'],
    ...(requires.length ? { requiresCompatibilities: requires as TaskDefinition['requiresCompatibilities'] } : {}),
    ...(cpu ? { cpu } : {}),
    ...(memory ? { memory } : {}),
    registeredAt: ctx.clock.date(),
    registeredBy: ctx.identity.arn,
  };
}

// Services -------------------------------------------------------------------------------------

/** UpdateService merges the members given into the current configuration, keeping the rest. */
function mergeDeploymentConfiguration(current: DeploymentConfiguration | undefined, update: Params): DeploymentConfiguration {
  const merged: DeploymentConfiguration = {
    ...structuredClone(current ?? { maximumPercent: 200, minimumHealthyPercent: 100 }),
    ...structuredClone(update),
  };
  const { maximumPercent = 200, minimumHealthyPercent = 100, deploymentCircuitBreaker: breaker } = merged;
  if (!Number.isInteger(minimumHealthyPercent) || minimumHealthyPercent < 0 || minimumHealthyPercent > 100) {
    throw invalid('minimumHealthyPercent must be between 0 and 100.');
  }
  if (!Number.isInteger(maximumPercent) || maximumPercent < 100) throw invalid('maximumPercent must be at least 100.');
  if (breaker && (typeof breaker.enable !== 'boolean' || typeof breaker.rollback !== 'boolean')) {
    throw invalid('deploymentCircuitBreaker requires both enable and rollback.');
  }
  return merged;
}

/** What UpdateService does to an ECS service; validation comes first, since a refused call changes nothing. */
function updateService(p: Params, ctx: CallContext): Service {
  const cluster = findCluster(ctx, p.cluster);
  if (typeof p.service !== 'string' || !p.service) throw invalid('Service cannot be empty.');
  const service = cluster.services.get(nameFromRef(p.service));
  if (!service) throw new AwsError('ServiceNotFoundException', 'Service not found.');
  if (service.status !== 'ACTIVE') throw new AwsError('ServiceNotActiveException', 'Service was not ACTIVE.');
  const codeDeploy = service.deploymentController?.type === 'CODE_DEPLOY';
  const useCodeDeploy = 'Use AWS CodeDeploy to trigger a new deployment.';

  if (p.desiredCount !== undefined && (!Number.isInteger(p.desiredCount) || p.desiredCount < 0)) {
    throw invalid('Desired count must be an integer greater than or equal to 0.');
  }
  let definition: TaskDefinition | undefined;
  if (p.taskDefinition !== undefined) {
    if (codeDeploy) throw invalid(`Unable to update task definition on services with a CODE_DEPLOY deployment controller. ${useCodeDeploy}`);
    const record = findTaskDefinition(ctx.regional, String(p.taskDefinition));
    if (!record) throw clientError('Unable to describe task definition.');
    definition = record.taskDefinition;
    if (definition.status !== 'ACTIVE') throw clientError('TaskDefinition is inactive');
    if (service.launchType && !definition.compatibilities?.includes(service.launchType)) {
      throw invalid(`Task definition does not support launch_type ${service.launchType}.`);
    }
    if (service.networkConfiguration?.awsvpcConfiguration && definition.networkMode !== 'awsvpc') {
      throw invalid('Network Configuration is not valid for the given networkMode of this task definition.');
    }
  }
  if (p.forceNewDeployment && codeDeploy) throw invalid(`Cannot force a new deployment on services with a CODE_DEPLOY deployment controller. ${useCodeDeploy}`);
  // What only a CodeDeploy deployment may change (UpdateService's doc); the error class and text are UNVERIFIED.
  for (const member of ['networkConfiguration', 'platformVersion', 'loadBalancers', 'capacityProviderStrategy', 'serviceRegistries'] as const) {
    if (codeDeploy && p[member] !== undefined)
      throw invalid(`Unable to update ${member} on services with a CODE_DEPLOY deployment controller. ${useCodeDeploy}`);
  }
  const config = p.deploymentConfiguration
    ? checkStrategy(
        mergeDeploymentConfiguration(service.deploymentConfiguration, p.deploymentConfiguration),
        p.deploymentConfiguration,
        service.deploymentController?.type ?? 'ECS',
        service.loadBalancers ?? [],
      )
    : undefined;

  // Bring the service up to now before changing it, so the change lands after everything already due.
  const scheduler = new EcsScheduler(ctx.state, ctx.regional, cluster);
  const now = ctx.clock.now();
  scheduler.runUntil(now);
  if (config) service.deploymentConfiguration = config;
  // Applies to tasks started from now on; running tasks keep theirs until the next deployment, as in ECS.
  if (typeof p.enableExecuteCommand === 'boolean') service.enableExecuteCommand = p.enableExecuteCommand;
  if (Number.isInteger(p.healthCheckGracePeriodSeconds)) service.healthCheckGracePeriodSeconds = p.healthCheckGracePeriodSeconds;
  if (p.desiredCount !== undefined) {
    service.desiredCount = p.desiredCount;
    // CodeDeploy's services scale their task sets (the scheduler then launches or stops their tasks).
    for (const set of service.taskSets ?? []) set.computedDesiredCount = p.desiredCount;
  }
  // Only a different task definition (or forceNewDeployment) starts a deployment, as in ECS.
  if ((definition && definition.taskDefinitionArn !== service.taskDefinition) || p.forceNewDeployment) {
    scheduler.startDeployment(service, definition?.taskDefinitionArn ?? service.taskDefinition!, now);
  }
  scheduler.reconcile(service, now);
  return service;
}

// CreateService ---------------------------------------------------------------------------------

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;
const LAUNCH_TYPES = ['EC2', 'FARGATE', 'EXTERNAL'];
/** clientToken of each service created with one, for CreateService's idempotency. */
const clientTokens = new WeakMap<Service, string>();
const serviceLinkedRole = (accountId: string) => `arn:aws:iam::${accountId}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`;

/** awsvpcConfiguration as ECS checks it: subnets (and security groups) that exist, in one VPC. */
function checkAwsvpc(ctx: CallContext, network: NetworkConfiguration | undefined, launchType: string): NetworkConfiguration {
  const awsvpc = network?.awsvpcConfiguration;
  if (!awsvpc) throw invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.");
  const subnets = asList<string>(awsvpc.subnets);
  const groups = asList<string>(awsvpc.securityGroups);
  if (subnets.length === 0) throw invalid('subnets can not be empty.');
  if (subnets.length > 16) throw invalid('subnets can have at most 16 items.');
  if (groups.length > 5) throw invalid('securityGroups can have at most 5 items.');
  const assignPublicIp = awsvpc.assignPublicIp ?? 'DISABLED';
  if (assignPublicIp !== 'ENABLED' && assignPublicIp !== 'DISABLED') throw invalid(`Invalid assignPublicIp: ${assignPublicIp}`);
  if (assignPublicIp === 'ENABLED' && launchType !== 'FARGATE') throw invalid('Assign public IP is not supported for this launch type.');
  const ec2 = ec2State(ctx.regional);
  const ec2Error = (code: string) => `(Service: AmazonEC2; Status Code: 400; Error Code: ${code}; Request ID: ${uuid()}; Proxy: null)`;
  const vpcs = new Set<string>();
  for (const id of subnets) {
    const subnet = ec2.subnets.find((s) => s.SubnetId === id);
    if (!subnet) throw invalid(`Error retrieving subnet information for [${id}]: The subnet ID '${id}' does not exist ${ec2Error('InvalidSubnetID.NotFound')}`);
    vpcs.add(subnet.VpcId!);
  }
  if (vpcs.size > 1) throw invalid('The subnets provided must all belong to the same VPC.');
  for (const id of groups) {
    const group = ec2.securityGroups.find((g) => g.GroupId === id);
    if (!group)
      throw invalid(`Error retrieving security group information for [${id}]: The security group '${id}' does not exist ${ec2Error('InvalidGroup.NotFound')}`);
    if (!vpcs.has(group.VpcId!)) throw invalid(`Security group ${id} does not belong to the VPC of the subnets provided.`);
  }
  return { awsvpcConfiguration: { subnets, securityGroups: groups, assignPublicIp } };
}

/** Each load balancer: a target group that exists behind a load balancer, and a container port the task definition has. */
function checkLoadBalancers(ctx: CallContext, list: LoadBalancer[], definition: TaskDefinition | undefined): LoadBalancer[] {
  if (list.length > 5) throw invalid('loadBalancers can have at most 5 items.');
  return list.map((lb) => {
    if (lb.loadBalancerName) throw invalid('Classic Load Balancers are not supported here: use targetGroupArn.');
    if (!lb.targetGroupArn) throw invalid('targetGroupArn can not be blank.');
    if (!lb.containerName || lb.containerPort === undefined) throw invalid('containerName and containerPort must be specified with a load balancer.');
    const group = elbv2State(ctx.regional).get(lb.targetGroupArn);
    // What ECS answers for a target group it cannot find (it validates through the service-linked role).
    if (!group) {
      throw invalid(
        'Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.',
      );
    }
    if (!group.LoadBalancerArns?.length) throw invalid(`The target group with targetGroupArn ${lb.targetGroupArn} does not have an associated load balancer.`);
    if (definition?.networkMode === 'awsvpc' && group.TargetType !== 'ip') {
      throw invalid(
        `The provided target group ${lb.targetGroupArn} has target type ${group.TargetType}, which is incompatible with the awsvpc network mode specified in the task definition.`,
      );
    }
    const container = definition?.containerDefinitions?.find((c) => c.name === lb.containerName);
    if (definition && !container) throw invalid(`The container ${lb.containerName} does not exist in the task definition.`);
    if (container && !container.portMappings?.some((m) => m.containerPort === lb.containerPort)) {
      throw invalid(`The container ${lb.containerName} did not have a container port ${lb.containerPort} defined.`);
    }
    const advancedConfiguration = checkAdvancedConfiguration(lb, (arn) => elbv2State(ctx.regional).has(arn));
    return {
      targetGroupArn: lb.targetGroupArn,
      containerName: lb.containerName,
      containerPort: lb.containerPort,
      ...(advancedConfiguration ? { advancedConfiguration } : {}),
    };
  });
}

/** Where tasks run (CreateService, RunTask): a launch type, a capacity provider strategy, or the cluster's default strategy (else EC2). */
function placementOf(p: Params, cluster: EcsClusterState): { strategy: CapacityProviderStrategyItem[]; launchType: string } {
  const given = asList<CapacityProviderStrategyItem>(p.capacityProviderStrategy);
  if (p.launchType && given.length) {
    throw invalid('Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.');
  }
  if (p.launchType && !LAUNCH_TYPES.includes(p.launchType)) throw invalid(`Invalid launchType: ${p.launchType}`);
  const strategy = given.length ? given : p.launchType ? [] : (cluster.cluster.defaultCapacityProviderStrategy ?? []);
  for (const item of strategy) {
    if (!item.capacityProvider || !cluster.cluster.capacityProviders?.includes(item.capacityProvider)) {
      throw invalid(
        'The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.',
      );
    }
  }
  const launchType: string = strategy.length ? (strategy.every((s) => s.capacityProvider!.startsWith('FARGATE')) ? 'FARGATE' : 'EC2') : (p.launchType ?? 'EC2');
  return { strategy, launchType };
}

/**
 * What CreateService does: validate the essentials as ECS does (a refused call creates nothing),
 * store the service, and hand it to the simulated scheduler, which starts its first deployment's
 * tasks at once (they come up over emulator time like any rollout's).
 */
function createService(p: Params, ctx: CallContext): Service {
  const cluster = findCluster(ctx, p.cluster);
  const clusterName = cluster.cluster.clusterName!;
  const name = p.serviceName;
  if (typeof name !== 'string' || !name) throw invalid('Service name can not be blank.');
  if (!SERVICE_NAME.test(name)) throw invalid('Service name can have up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.');
  const existing = cluster.services.get(name);
  if (existing && existing.status !== 'INACTIVE') {
    if (p.clientToken && clientTokens.get(existing) === p.clientToken) return existing;
    throw invalid('Creation of service was not idempotent.');
  }

  const controller = p.deploymentController?.type ?? 'ECS';
  if (!['ECS', 'CODE_DEPLOY', 'EXTERNAL'].includes(controller)) throw invalid(`Invalid deploymentController type: ${controller}`);
  const scheduling = p.schedulingStrategy ?? 'REPLICA';
  if (scheduling !== 'REPLICA' && scheduling !== 'DAEMON') throw invalid(`Invalid schedulingStrategy: ${scheduling}`);
  if (scheduling === 'DAEMON' && p.desiredCount !== undefined) throw invalid('The daemon scheduling strategy does not support a desired count for services.');
  const desiredCount = scheduling === 'DAEMON' ? 0 : (p.desiredCount ?? 0);
  if (!Number.isInteger(desiredCount) || desiredCount < 0) throw invalid('Desired count must be an integer greater than or equal to 0.');

  const { strategy, launchType } = placementOf(p, cluster);
  if (scheduling === 'DAEMON' && launchType === 'FARGATE') throw invalid('The DAEMON scheduling strategy is not supported with the FARGATE launch type.');

  let definition: TaskDefinition | undefined;
  if (p.taskDefinition !== undefined || controller !== 'EXTERNAL') {
    if (typeof p.taskDefinition !== 'string' || !p.taskDefinition) throw invalid('TaskDefinition can not be blank.');
    const record = findTaskDefinition(ctx.regional, p.taskDefinition);
    if (!record) throw clientError('Unable to describe task definition.');
    definition = record.taskDefinition;
    if (definition.status !== 'ACTIVE') throw clientError('TaskDefinition is inactive');
    if (launchType !== 'EXTERNAL' && !definition.compatibilities?.includes(launchType as 'EC2' | 'FARGATE')) {
      throw invalid(`Task definition does not support launch_type ${launchType}.`);
    }
  }
  const awsvpc = definition?.networkMode === 'awsvpc';
  let networkConfiguration: NetworkConfiguration | undefined;
  if (awsvpc) networkConfiguration = checkAwsvpc(ctx, p.networkConfiguration, launchType);
  else if (p.networkConfiguration) throw invalid('Network Configuration is not valid for the given networkMode of this task definition.');

  const loadBalancers = checkLoadBalancers(ctx, asList<LoadBalancer>(p.loadBalancers), definition);
  if (p.healthCheckGracePeriodSeconds !== undefined) {
    if (!loadBalancers.length) throw invalid('Health check grace period is only valid for services configured to use load balancers');
    if (!Number.isInteger(p.healthCheckGracePeriodSeconds) || p.healthCheckGracePeriodSeconds < 0)
      throw invalid('healthCheckGracePeriodSeconds must be a non-negative integer.');
  }
  let roleArn: string | undefined;
  if (p.role) {
    if (awsvpc) throw invalid('You cannot specify an IAM role for services that require a service linked role.');
    roleArn = String(p.role).startsWith('arn:') ? String(p.role) : arns.role(ctx.accountId, String(p.role));
    if (!ctx.state.findRole(roleArn)) throw invalid(`Unable to assume role ${roleArn}.`);
    ctx.authorize('iam:PassRole', roleArn, { context: { 'iam:PassedToService': ['ecs.amazonaws.com'] } });
  } else if (awsvpc || loadBalancers.length) roleArn = serviceLinkedRole(ctx.accountId);
  const propagateTags = p.propagateTags ?? 'NONE';
  if (!['NONE', 'SERVICE', 'TASK_DEFINITION'].includes(propagateTags)) throw invalid(`Invalid propagateTags: ${propagateTags}`);
  const defaults: DeploymentConfiguration = {
    deploymentCircuitBreaker: { enable: false, rollback: false },
    maximumPercent: 200,
    minimumHealthyPercent: 100,
    strategy: 'ROLLING',
  };
  const deploymentConfiguration = checkStrategy(
    mergeDeploymentConfiguration(defaults, p.deploymentConfiguration ?? {}),
    p.deploymentConfiguration ?? {},
    controller,
    loadBalancers,
  );
  const serviceArn = arns.service(ctx.regional, clusterName, name);
  const tags = asList<{ key: string; value: string }>(p.tags);
  if (tags.length) ctx.authorize('ecs:TagResource', serviceArn, { context: { 'ecs:CreateAction': ['CreateService'] } });

  const now = ctx.clock.now();
  const scheduler = new EcsScheduler(ctx.state, ctx.regional, cluster);
  scheduler.runUntil(now);
  const fargate = launchType === 'FARGATE';
  const service: Service = {
    serviceArn,
    serviceName: name,
    clusterArn: cluster.cluster.clusterArn ?? arns.cluster(ctx.regional, clusterName),
    loadBalancers,
    serviceRegistries: structuredClone(asList(p.serviceRegistries)) as Service['serviceRegistries'],
    status: 'ACTIVE',
    desiredCount,
    runningCount: 0,
    pendingCount: 0,
    ...(strategy.length ? { capacityProviderStrategy: structuredClone(strategy) } : { launchType: launchType as Service['launchType'] }),
    ...(fargate ? { platformVersion: p.platformVersion ?? 'LATEST', platformFamily: 'Linux' } : {}),
    ...(definition ? { taskDefinition: definition.taskDefinitionArn } : {}),
    deploymentConfiguration,
    deployments: [],
    ...(controller === 'ECS' ? {} : { taskSets: [] }),
    ...(roleArn ? { roleArn } : {}),
    events: [],
    createdAt: new Date(now),
    placementConstraints: structuredClone(asList(p.placementConstraints)) as Service['placementConstraints'],
    placementStrategy: structuredClone(asList(p.placementStrategy)) as Service['placementStrategy'],
    ...(networkConfiguration ? { networkConfiguration } : {}),
    ...(p.healthCheckGracePeriodSeconds !== undefined ? { healthCheckGracePeriodSeconds: p.healthCheckGracePeriodSeconds } : {}),
    schedulingStrategy: scheduling,
    deploymentController: { type: controller },
    tags: structuredClone(tags),
    createdBy: ctx.identity.roleArn ?? ctx.identity.arn,
    enableECSManagedTags: p.enableECSManagedTags === true,
    propagateTags,
    enableExecuteCommand: p.enableExecuteCommand === true,
    availabilityZoneRebalancing: p.availabilityZoneRebalancing ?? 'ENABLED',
  };
  // A recreated service starts afresh: the scheduler forgets the old one's bookkeeping.
  scheduler.book.services.delete(name);
  cluster.services.set(name, service);
  if (p.clientToken) clientTokens.set(service, String(p.clientToken));
  if (controller === 'ECS' && definition) {
    scheduler.startDeployment(service, definition.taskDefinitionArn!, now);
    scheduler.reconcile(service, now);
  }
  return service;
}

// ExecuteCommand --------------------------------------------------------------------------------

/** ECS's answer whenever the target cannot take an exec session yet (seen in the wild, notes §1.5; also with a typographic ’). */
export const EXEC_NOT_ENABLED_MESSAGE =
  "The execute command failed because execute command was not enabled when the task was run or the execute command agent isn't running. " +
  'Wait and try again or run a new task with execute command enabled and try again.';
/** TargetNotConnectedException's text (aws/aws-cli#6070): the SSM agent in the container is unreachable. */
export const EXEC_TARGET_NOT_CONNECTED_MESSAGE = 'The execute command failed due to an internal error. Try again later.';

/**
 * Checks an ExecuteCommand request as ECS does, then records the session for the local agent
 * (local/exec-agent) and returns where to connect. Messages not quoted from AWS are marked; the
 * error codes are the documented ones.
 */
function executeCommand(p: Params, ctx: CallContext) {
  const command = p.command;
  if (typeof command !== 'string' || !command.trim()) throw invalid('Command can not be blank.'); // wording UNVERIFIED
  // "Amazon ECS only supports initiating interactive sessions" (API reference); text as recalled from the CLI, UNVERIFIED.
  if (p.interactive !== true) throw invalid('Interactive is the only mode supported currently.');
  if (typeof p.task !== 'string' || !p.task) throw invalid('Task can not be blank.'); // wording UNVERIFIED
  const cluster = findCluster(ctx, p.cluster);
  const taskId = nameFromRef(p.task);
  // What ECS says to a malformed task id (Mic-U/ecsher#56).
  if (!p.task.startsWith('arn:') && taskId.length !== 32 && taskId.length !== 36) throw invalid('task length should be one of [32,36]');
  const task = cluster.tasks.get(taskId);
  if (!task) throw invalid('The referenced task was not found.'); // wording UNVERIFIED
  const containers = task.containers ?? [];
  let container = containers[0];
  if (typeof p.container === 'string' && p.container) {
    container = containers.find((c) => c.name === p.container);
    if (!container) throw invalid(`The container ${p.container} does not exist in the task.`); // wording UNVERIFIED
  } else if (containers.length > 1) {
    // The API reference: the container name is required only when the task has more than one container.
    throw invalid('The task has more than one container: specify the container name.'); // wording UNVERIFIED
  }
  // A task that is not RUNNING has no running agent either, so (inferred) ECS gives the one message for all three.
  const agent = container?.managedAgents?.find((a) => a.name === 'ExecuteCommandAgent');
  if (task.lastStatus !== 'RUNNING' || task.enableExecuteCommand !== true || !container || agent?.lastStatus !== 'RUNNING') {
    throw invalid(EXEC_NOT_ENABLED_MESSAGE);
  }
  const registry = execRegistry(ctx.state);
  // No local agent serving the data channel is what AWS reports when the container's SSM agent is unreachable.
  if (!registry.endpoint) throw new AwsError('TargetNotConnectedException', EXEC_TARGET_NOT_CONNECTED_MESSAGE);

  const clusterName = cluster.cluster.clusterName!;
  const runtimeId = container.runtimeId ?? `${taskId}-0`;
  const definition = task.taskDefinitionArn ? findTaskDefinition(ctx.regional, task.taskDefinitionArn) : undefined;
  const containerDef = definition?.taskDefinition.containerDefinitions?.find((c) => c.name === container.name);
  const kmsKeyId = cluster.cluster.configuration?.executeCommandConfiguration?.kmsKeyId;
  // Shaped like AWS's: `ecs-execute-command-` and 26 lowercase alphanumerics; the token is opaque.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const sessionId = `ecs-execute-command-${Array.from(randomBytes(26), (b) => alphabet[b % alphabet.length]).join('')}`;
  const token = `AAEAA${randomBytes(192).toString('base64')}`;
  registry.sessions.set(sessionId, {
    sessionId,
    token,
    grantedAt: Date.now(),
    accountId: ctx.accountId,
    region: ctx.region,
    clusterName,
    clusterArn: cluster.cluster.clusterArn ?? arns.cluster(ctx.regional, clusterName),
    taskId,
    taskArn: task.taskArn!,
    containerName: container.name!,
    containerArn: container.containerArn!,
    runtimeId,
    targetId: `ecs:${clusterName}_${taskId}_${runtimeId}`,
    command,
    ...(kmsKeyId ? { kmsKeyId } : {}),
    ...(definition?.taskDefinition.taskRoleArn ? { taskRoleArn: definition.taskDefinition.taskRoleArn } : {}),
    environment: Object.fromEntries((containerDef?.environment ?? []).map((e) => [e.name ?? '', e.value ?? ''])),
  });
  const cell = randomBytes(24).toString('base64url');
  return {
    clusterArn: cluster.cluster.clusterArn,
    containerArn: container.containerArn,
    containerName: container.name,
    interactive: true,
    session: {
      sessionId,
      streamUrl: `${registry.endpoint}/v1/data-channel/${sessionId}?role=publish_subscribe&cell-number=${cell}`,
      tokenValue: token,
    },
    taskArn: task.taskArn,
  };
}

/** Every ECS call first brings the simulated scheduler up to the emulator clock (see rollout.ts). */
function simulated(actions: Record<string, ActionDefinition>): Record<string, ActionDefinition> {
  return Object.fromEntries(
    Object.entries(actions).map(([name, definition]) => {
      const { handler, ...rest } = typeof definition === 'function' ? { handler: definition } : definition;
      return [name, { ...rest, handler: (p: Params, ctx: CallContext) => (runScheduler(ctx.state), handler(p, ctx)) }];
    }),
  );
}

/** The revision a registration of `family` creates: revisions keep counting across deregistered (INACTIVE) ones. */
function nextRevision(regional: RegionState, family: string): number {
  return (
    1 + Math.max(0, ...[...regional.ecs.taskDefinitions.values()].filter((d) => d.taskDefinition.family === family).map((d) => d.taskDefinition.revision!))
  );
}

export const ecsService: ServiceDefinition = {
  name: 'ecs',
  protocol: 'json',
  target: 'AmazonEC2ContainerServiceV20141113',
  actions: simulated({
    ListClusters: (p, ctx) => {
      const all = [...ctx.regional.ecs.clusters.keys()].map((name) => arns.cluster(ctx.regional, name));
      const { page, nextToken } = paginate(all, p);
      return { clusterArns: page, nextToken };
    },

    DescribeClusters: {
      resources: (p, ctx) => asList<string>(p.clusters ?? ['default']).map((c) => (c.startsWith('arn:') ? c : arns.cluster(ctx.regional, c))),
      handler: (p, ctx) => {
        const clusters: Cluster[] = [];
        const failures: Failure[] = [];
        for (const ref of asList<string>(p.clusters ?? ['default'])) {
          const state = ctx.regional.ecs.clusters.get(nameFromRef(ref));
          if (state) clusters.push(describeCluster(ctx.regional, state, p.include));
          else failures.push({ arn: ref.startsWith('arn:') ? ref : arns.cluster(ctx.regional, ref), reason: 'MISSING' });
        }
        return { clusters, failures };
      },
    },

    ListServices: {
      // No resource type in AWS's IAM data: judged on "*", the cluster as the ecs:cluster condition key.
      authorization: (p, ctx) => ({ context: { 'ecs:cluster': clusterArnOf(p, ctx) } }),
      handler: (p, ctx) => {
        const cluster = findCluster(ctx, p.cluster);
        const all = [...cluster.services.values()]
          .filter((s) => s.status === 'ACTIVE')
          .filter((s) => (!p.launchType || s.launchType === p.launchType) && (!p.schedulingStrategy || s.schedulingStrategy === p.schedulingStrategy))
          .map((s) => s.serviceArn!);
        // ListServices pages by 10 unless asked for more (up to 100).
        const { page, nextToken } = paginate(all, p, 100, 10);
        return { serviceArns: page, nextToken };
      },
    },

    DescribeServices: {
      resources: serviceArnsOf,
      handler: (p, ctx) => {
        const cluster = findCluster(ctx, p.cluster);
        const refs = asList<string>(p.services);
        maxItems(refs, 10, 'services');
        const services: Service[] = [];
        const failures: Failure[] = [];
        for (const ref of refs) {
          const service = cluster.services.get(nameFromRef(ref));
          if (service) services.push(withoutTags(service, p.include));
          // AWS reports a missing service with the short (cluster-less) service ARN.
          else
            failures.push({
              arn: ref.startsWith('arn:') ? ref : `arn:aws:ecs:${ctx.region}:${ctx.accountId}:service/${ref}`,
              reason: 'MISSING',
            });
        }
        return { services, failures };
      },
    },

    DescribeTaskDefinition: (p, ctx) => {
      const record = findTaskDefinition(ctx.regional, String(p.taskDefinition ?? ''));
      if (!record) throw clientError('Unable to describe task definition.');
      return {
        taskDefinition: structuredClone(record.taskDefinition),
        ...(asList(p.include).includes('TAGS') ? { tags: structuredClone(record.tags) } : {}),
      };
    },

    RegisterTaskDefinition: {
      // IAM's resource type for it is the task definition: the revision being created.
      resources: (p, ctx) =>
        typeof p.family === 'string' && p.family ? [arns.taskDefinition(ctx.regional, `${p.family}:${nextRevision(ctx.regional, p.family)}`)] : ['*'],
      handler: (p, ctx) => {
        const built = buildTaskDefinition(p, ctx);
        const family = built.family!;
        const revision = nextRevision(ctx.regional, family);
        const taskDefinitionArn = arns.taskDefinition(ctx.regional, `${family}:${revision}`);
        const tags = asList<{ key: string; value: string }>(p.tags);
        // Tags on creation are authorised as ecs:TagResource too, with the creating action as context.
        if (tags.length) ctx.authorize('ecs:TagResource', taskDefinitionArn, { context: { 'ecs:CreateAction': ['RegisterTaskDefinition'] } });
        const taskDefinition: TaskDefinition = { taskDefinitionArn, revision, ...built };
        ctx.regional.ecs.taskDefinitions.set(`${family}:${revision}`, { taskDefinition, tags: structuredClone(tags) });
        return { taskDefinition: structuredClone(taskDefinition), tags: structuredClone(tags) };
      },
    },

    DeregisterTaskDefinition: (p, ctx) => {
      const ref = nameFromRef(String(p.taskDefinition ?? ''));
      const revision = ref.split(':')[1];
      // Deregistering needs an exact revision; a bare family is not "the latest" here.
      if (!revision || !/^\d+$/.test(revision)) throw clientError(`Invalid revision number. Number: ${revision ?? ''}`);
      const record = ctx.regional.ecs.taskDefinitions.get(ref);
      if (!record) throw clientError('Unable to describe task definition.');
      if (record.taskDefinition.status === 'ACTIVE') {
        Object.assign(record.taskDefinition, { status: 'INACTIVE', deregisteredAt: ctx.clock.date() });
      }
      return { taskDefinition: structuredClone(record.taskDefinition) };
    },

    ListTaskDefinitions: (p, ctx) => {
      const status = p.status ?? 'ACTIVE';
      if (!['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'].includes(status)) throw invalid(`Invalid status: ${status}`);
      const sort = p.sort ?? 'ASC';
      if (sort !== 'ASC' && sort !== 'DESC') throw invalid(`Invalid sort: ${sort}`);
      const defs = [...ctx.regional.ecs.taskDefinitions.values()]
        .map((d) => d.taskDefinition)
        // Despite its name, familyPrefix is the full family name (ECS documents it so).
        .filter((d) => d.status === status && (!p.familyPrefix || d.family === p.familyPrefix))
        .sort((a, b) => (a.family! < b.family! ? -1 : a.family! > b.family! ? 1 : a.revision! - b.revision!));
      if (sort === 'DESC') defs.reverse();
      const { page, nextToken } = paginate(
        defs.map((d) => d.taskDefinitionArn!),
        p,
      );
      return { taskDefinitionArns: page, nextToken };
    },

    CreateService: {
      resources: (p, ctx) => [arns.service(ctx.regional, nameFromRef(p.cluster ?? 'default'), String(p.serviceName ?? ''))],
      handler: (p, ctx) => ({ service: structuredClone(createService(p, ctx)) }),
    },

    UpdateService: {
      resources: (p, ctx) => serviceArnsOf({ cluster: p.cluster, services: [String(p.service ?? '')] }, ctx),
      handler: (p, ctx) => ({ service: withoutTags(updateService(p, ctx), undefined) }),
    },

    ListTasks: {
      resources: clusterArnOf,
      handler: (p, ctx) => {
        const cluster = findCluster(ctx, p.cluster);
        if (p.serviceName && !cluster.services.has(nameFromRef(p.serviceName))) {
          throw new AwsError('ServiceNotFoundException', 'Service not found.');
        }
        const desired = p.desiredStatus ?? 'RUNNING';
        if (!['RUNNING', 'PENDING', 'STOPPED'].includes(desired)) throw invalid(`Invalid desiredStatus: ${desired}`);
        const tasks = [...cluster.tasks.values()].filter(
          (t) =>
            // desiredStatus RUNNING also lists tasks still PENDING towards it, as AWS does.
            (desired === 'STOPPED' ? t.desiredStatus === 'STOPPED' : t.desiredStatus !== 'STOPPED') &&
            (!p.serviceName || t.group === `service:${nameFromRef(p.serviceName)}`) &&
            (!p.family || t.taskDefinitionArn?.includes(`:task-definition/${p.family}:`)) &&
            (!p.startedBy || t.startedBy === p.startedBy) &&
            (!p.launchType || t.launchType === p.launchType),
        );
        const { page, nextToken } = paginate(
          tasks.map((t) => t.taskArn!),
          p,
        );
        return { taskArns: page, nextToken };
      },
    },

    DescribeTasks: {
      resources: taskArnsOf,
      handler: (p, ctx) => {
        const cluster = findCluster(ctx, p.cluster);
        const refs = asList<string>(p.tasks);
        maxItems(refs, 100, 'tasks');
        const tasks: Task[] = [];
        const failures: Failure[] = [];
        for (const ref of refs) {
          const task = cluster.tasks.get(nameFromRef(ref));
          if (task) tasks.push(withoutTags(task, p.include));
          else failures.push({ arn: ref.startsWith('arn:') ? ref : `arn:aws:ecs:${ctx.region}:${ctx.accountId}:task/${ref}`, reason: 'MISSING' });
        }
        return { tasks, failures };
      },
    },

    // RunTask, StopTask: one-off tasks (ecs-run-task.ts), with the checks they share with CreateService.
    ...runTaskActions({ findCluster, findTaskDefinition, checkAwsvpc, placementOf, fargateSizes: FARGATE_SIZES }),

    // ListServiceDeployments, DescribeServiceDeployments, Stop/ContinueServiceDeployment, DescribeServiceRevisions.
    ...serviceDeploymentActions({ findCluster, paginate }),

    // Tags of a service, task, cluster or task definition by ARN (ECS's long ARN format).
    ListTagsForResource: {
      resources: (p) => [String(p.resourceArn ?? '')],
      handler: (p, ctx) => ({ tags: structuredClone(tagsOf(ctx, String(p.resourceArn ?? ''))) }),
    },

    ExecuteCommand: {
      // Both resource types are required for it in AWS's IAM data: the cluster and the task.
      resources: (p, ctx) => [
        arns.cluster(ctx.regional, nameFromRef(p.cluster ?? 'default')),
        String(p.task ?? '').startsWith('arn:') ? String(p.task) : arns.task(ctx.regional, nameFromRef(p.cluster ?? 'default'), String(p.task ?? '')),
      ],
      handler: executeCommand,
    },
  }),
};
