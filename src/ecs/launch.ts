import type { CapacityProviderStrategyItem, Cluster, Service, TaskDefinition } from '@aws-sdk/client-ecs';

/** What a task runs on: Fargate, the cluster's EC2 container instances, or external instances (ECS Anywhere). */
export type LaunchKind = 'FARGATE' | 'EC2' | 'EXTERNAL';

const FARGATE_PROVIDERS = new Set(['FARGATE', 'FARGATE_SPOT']);

/**
 * Every kind of capacity the service's tasks can run on, so a check that differs by kind (who
 * pulls the image, whose network carries awslogs, which agent ECS Exec needs) can consider each.
 *
 * Read from, in order: the launch type; else the capacity provider strategy, the service's own or
 * else the cluster's default; else the task definition's `requiresCompatibilities` when it names
 * one kind; else EC2, ECS's default launch type. In a strategy, FARGATE and FARGATE_SPOT are
 * Fargate and every other provider (an Auto Scaling group, ECS Managed Instances) is EC2; a
 * provider with neither weight nor base gets no tasks unless no provider has either. A strategy
 * that names both Fargate and EC2 providers gives both kinds, and a check must consider each.
 */
export function launchKinds(
  service: Pick<Service, 'launchType' | 'capacityProviderStrategy'> | undefined,
  cluster?: Pick<Cluster, 'defaultCapacityProviderStrategy'>,
  taskDefinition?: Pick<TaskDefinition, 'requiresCompatibilities'>,
): ReadonlySet<LaunchKind> {
  const type = service?.launchType;
  if (type) return new Set<LaunchKind>([type === 'FARGATE' || type === 'EXTERNAL' ? type : 'EC2']);
  const strategy = service?.capacityProviderStrategy?.length ? service.capacityProviderStrategy : (cluster?.defaultCapacityProviderStrategy ?? []);
  if (strategy.length) return new Set(receiving(strategy).map((s): LaunchKind => (FARGATE_PROVIDERS.has(s.capacityProvider ?? '') ? 'FARGATE' : 'EC2')));
  const required = (taskDefinition?.requiresCompatibilities ?? []).filter((c): c is LaunchKind => c === 'FARGATE' || c === 'EC2' || c === 'EXTERNAL');
  return new Set<LaunchKind>(required.length === 1 ? required : ['EC2']);
}

/** The providers of a strategy that get tasks: a weight or a base, or all of them when none has either. */
function receiving(strategy: CapacityProviderStrategyItem[]): CapacityProviderStrategyItem[] {
  const placing = strategy.filter((s) => (s.weight ?? 0) > 0 || (s.base ?? 0) > 0);
  return placing.length ? placing : strategy;
}
