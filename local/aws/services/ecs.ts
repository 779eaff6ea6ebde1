/**
 * Amazon ECS (JSON 1.1, target AmazonEC2ContainerServiceV20141113): the read side the bot uses to
 * report status. Behaviour follows the real API where callers can tell the difference: a missing
 * cluster is an exception, missing services/tasks/clusters in a Describe call are `failures`.
 */
import type { Cluster, Failure, Service, Task } from '@aws-sdk/client-ecs';
import { AwsError, asList, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import { arns, nameFromRef, type EcsClusterState, type RegionState } from '../state';

const clusterNotFound = () => new AwsError('ClusterNotFoundException', 'Cluster not found.');
const invalid = (message: string) => new AwsError('InvalidParameterException', message);

function findCluster(ctx: CallContext, ref: string | undefined): EcsClusterState {
  const cluster = ctx.regional.ecs.clusters.get(nameFromRef(ref ?? 'default'));
  if (!cluster) throw clusterNotFound();
  return cluster;
}

function maxItems(list: unknown[], max: number, member: string): void {
  if (list.length === 0) throw invalid(`${member} can not be empty.`);
  if (list.length > max) throw invalid(`${member} cannot contain more than ${max} items.`);
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

function paginate<T>(items: T[], params: Params, max = 100) {
  const maxResults = params.maxResults ?? max;
  if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > max) {
    throw invalid(`maxResults must be between 1 and ${max}.`);
  }
  const offset = decodeToken(params.nextToken);
  const page = items.slice(offset, offset + maxResults);
  const next = offset + maxResults < items.length ? encodeToken(offset + maxResults) : undefined;
  return { page, ...(next ? { nextToken: next } : {}) };
}

const serviceArnsOf = (p: Params, ctx: CallContext) =>
  asList<string>(p.services).map((s) =>
    s.startsWith('arn:') ? s : arns.service(ctx.regional, nameFromRef(p.cluster ?? 'default'), s),
  );
const taskArnsOf = (p: Params, ctx: CallContext) =>
  asList<string>(p.tasks).map((t) => (t.startsWith('arn:') ? t : arns.task(ctx.regional, nameFromRef(p.cluster ?? 'default'), t)));
const clusterArnOf = (p: Params, ctx: CallContext) => [arns.cluster(ctx.regional, nameFromRef(p.cluster ?? 'default'))];

export const ecsService: ServiceDefinition = {
  name: 'ecs',
  protocol: 'json',
  target: 'AmazonEC2ContainerServiceV20141113',
  actions: {
    ListClusters: (p, ctx) => {
      const all = [...ctx.regional.ecs.clusters.keys()].map((name) => arns.cluster(ctx.regional, name));
      const { page, nextToken } = paginate(all, p);
      return { clusterArns: page, nextToken };
    },

    DescribeClusters: {
      resources: (p, ctx) =>
        asList<string>(p.clusters ?? ['default']).map((c) => (c.startsWith('arn:') ? c : arns.cluster(ctx.regional, c))),
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
      resources: clusterArnOf,
      handler: (p, ctx) => {
        const cluster = findCluster(ctx, p.cluster);
        const all = [...cluster.services.values()].filter((s) => s.status === 'ACTIVE').map((s) => s.serviceArn!);
        const { page, nextToken } = paginate(all, p, 100);
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
      const ref = nameFromRef(String(p.taskDefinition ?? ''));
      const defs = ctx.regional.ecs.taskDefinitions;
      let record = defs.get(ref);
      if (!record && !ref.includes(':')) {
        // A bare family means its latest ACTIVE revision.
        record = [...defs.values()]
          .filter((d) => d.taskDefinition.family === ref && d.taskDefinition.status === 'ACTIVE')
          .sort((a, b) => b.taskDefinition.revision! - a.taskDefinition.revision!)[0];
      }
      if (!record) throw new AwsError('ClientException', 'Unable to describe task definition.');
      return {
        taskDefinition: structuredClone(record.taskDefinition),
        ...(asList(p.include).includes('TAGS') ? { tags: structuredClone(record.tags) } : {}),
      };
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
  },
};
