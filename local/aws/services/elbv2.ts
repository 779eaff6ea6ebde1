/**
 * Elastic Load Balancing v2 (query protocol, Version 2015-12-01): target groups and their health.
 * Registered targets are not stored: like ECS does for real, every non-stopped task of a service
 * whose `loadBalancers` names the target group is registered (awsvpc: by IP and container port),
 * so health follows whatever the ECS side (deployments, rollouts) does to tasks. A load balancer
 * with an alternate target group (ECS-native blue/green) registers each revision's tasks in one
 * of its two groups: green in the one blue does not use.
 */
import type { TargetGroup, TargetHealthDescription } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { Task } from '@aws-sdk/client-ecs';
import { AwsError, asList, type CallContext, type ServiceDefinition } from '../protocols';
import { servingGroup } from '../service-deployments';
import type { RegionState } from '../state';

const stores = new WeakMap<RegionState, Map<string, TargetGroup>>();
/** Target groups by ARN. */
export const elbv2State = (r: RegionState): Map<string, TargetGroup> => stores.get(r) ?? stores.set(r, new Map()).get(r)!;

export function putTargetGroup(r: RegionState, group: TargetGroup): TargetGroup {
  elbv2State(r).set(group.TargetGroupArn!, group);
  return group;
}

const notFound = () => new AwsError('TargetGroupNotFound', 'One or more target groups not found');

/**
 * What ELB reports for a task in each ECS lifecycle state; undefined while it is not registered yet
 * (ECS registers the task's IP on ACTIVATING). A fresh RUNNING task is still in its initial health
 * checks for `ecsTimings.healthyMs`, the time the scheduler needs to count it healthy.
 */
function health(ctx: CallContext, task: Task): TargetHealthDescription['TargetHealth'] | undefined {
  switch (task.lastStatus) {
    case 'PROVISIONING':
    case 'PENDING':
      return undefined;
    case 'ACTIVATING':
      return { State: 'initial', Reason: 'Elb.RegistrationInProgress', Description: 'Target registration is in progress' };
    case 'RUNNING': {
      if (task.healthStatus === 'UNHEALTHY') return { State: 'unhealthy', Reason: 'Target.FailedHealthChecks', Description: 'Health checks failed' };
      const checking = (task.startedAt?.getTime() ?? 0) + (ctx.state.ecsTimings?.healthyMs ?? 0) > ctx.clock.now();
      return checking ? { State: 'initial', Reason: 'Elb.InitialHealthChecking', Description: 'Initial health checks in progress' } : { State: 'healthy' };
    }
    default:
      return { State: 'draining', Reason: 'Target.DeregistrationInProgress', Description: 'Target deregistration is in progress' };
  }
}

function registeredTargets(ctx: CallContext, group: TargetGroup): TargetHealthDescription[] {
  const out: TargetHealthDescription[] = [];
  for (const cluster of ctx.regional.ecs.clusters.values()) {
    for (const service of cluster.services.values()) {
      // A service with task sets (CodeDeploy's) registers each set's tasks in that set's target group.
      const sets = service.taskSets?.length ? service.taskSets : undefined;
      const balanced = sets
        ? sets.flatMap((set) => (set.loadBalancers ?? []).map((lb) => ({ lb, set: set.id })))
        : (service.loadBalancers ?? []).map((lb) => ({ lb, set: undefined }));
      for (const { lb, set } of balanced) {
        const alternate = lb.advancedConfiguration?.alternateTargetGroupArn;
        if (lb.targetGroupArn !== group.TargetGroupArn && alternate !== group.TargetGroupArn) continue;
        for (const task of cluster.tasks.values()) {
          if (task.group !== `service:${service.serviceName}` || task.lastStatus === 'STOPPED') continue;
          if (set !== undefined && task.startedBy !== set) continue;
          // ECS-native blue/green: each revision's tasks are in one of the two groups (service-deployments.ts).
          if (set === undefined && servingGroup(cluster, task.startedBy, lb) !== group.TargetGroupArn) continue;
          const ip = task.attachments?.flatMap((a) => a.details ?? []).find((d) => d.name === 'privateIPv4Address')?.value;
          const targetHealth = health(ctx, task);
          if (!ip || !targetHealth) continue;
          out.push({
            Target: { Id: ip, Port: lb.containerPort, AvailabilityZone: task.availabilityZone },
            HealthCheckPort: group.HealthCheckPort === 'traffic-port' ? String(lb.containerPort) : group.HealthCheckPort,
            TargetHealth: targetHealth,
          });
        }
      }
    }
  }
  return out;
}

export const elbv2Service: ServiceDefinition = {
  name: 'elasticloadbalancing',
  protocol: 'query',
  version: '2015-12-01',
  xmlNamespace: 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/',
  actions: {
    DescribeTargetGroups: (p, ctx) => {
      const groups = [...elbv2State(ctx.regional).values()];
      const arns = asList<string>(p.TargetGroupArns);
      const names = asList<string>(p.Names);
      if (arns.length && names.length) throw AwsError.common('Validation', 'Target group names and target group ARNs cannot be specified at the same time');
      // Asking for several at once fails as a whole if any one is missing.
      const pick = (want: string[], key: 'TargetGroupArn' | 'TargetGroupName') =>
        want.map((w) => {
          const group = groups.find((g) => g[key] === w);
          if (!group) throw notFound();
          return group;
        });
      const TargetGroups = arns.length
        ? pick(arns, 'TargetGroupArn')
        : names.length
          ? pick(names, 'TargetGroupName')
          : groups.filter((g) => !p.LoadBalancerArn || g.LoadBalancerArns?.includes(p.LoadBalancerArn));
      return { TargetGroups: structuredClone(TargetGroups) };
    },

    DescribeTargetHealth: {
      resources: (p) => [String(p.TargetGroupArn ?? '')],
      handler: (p, ctx) => {
        const group = elbv2State(ctx.regional).get(String(p.TargetGroupArn ?? ''));
        if (!group) throw notFound();
        const registered = registeredTargets(ctx, group);
        const asked = asList<{ Id: string; Port?: string }>(p.Targets);
        if (!asked.length) return { TargetHealthDescriptions: registered };
        return {
          TargetHealthDescriptions: asked.map(
            (t) =>
              registered.find((r) => r.Target!.Id === t.Id && (!t.Port || r.Target!.Port === Number(t.Port))) ?? {
                Target: { Id: t.Id, ...(t.Port ? { Port: Number(t.Port) } : {}) },
                TargetHealth: { State: 'unused', Reason: 'Target.NotRegistered', Description: 'Target is not registered to the target group' },
              },
          ),
        };
      },
    },
  },
};
