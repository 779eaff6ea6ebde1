/**
 * The service's load balancer entries: each target group exists (a deleted one makes every task
 * registration fail), the named container maps the named port, and the target group can take the
 * tasks (target type and protocol fit the network mode and the port mapping). Checked as the bot:
 * nothing at run time reads the target group with a role of the service's (ECS uses its
 * service-linked role to register targets), so no role simulation applies here.
 */
import type { LoadBalancer, PortMapping, Service, TaskDefinition } from '@aws-sdk/client-ecs';
import { DescribeTargetGroupsCommand, ElasticLoadBalancingV2Client, type TargetGroup } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { VerifyContext } from '../context';
import type { CheckSpec, Planner } from '../types';
import { fail, ok, skip, warn } from '../types';
import { marks } from '../text';

/** `targetgroup/web/6d0e…` → `web`. */
const tgName = (arn: string) => arn.split(':').pop()?.split('/')[1] ?? arn;
const regionOf = (arn: string, fallback: string) => arn.split(':')[3] || fallback;
const isNotFound = (error: unknown) =>
  /TargetGroupNotFound/.test((error as Error)?.name ?? '') || /TargetGroupNotFound/.test(String((error as { Code?: string })?.Code ?? ''));

/**
 * Every target group of the service, described in one call per region. A missing one fails that
 * call as a whole (TargetGroupNotFound), and only then is each ARN asked for alone to learn which.
 */
function targetGroups(ctx: VerifyContext, arns: string[]): Promise<Map<string, TargetGroup | undefined>> {
  const all = [...new Set(arns)].sort();
  return ctx.once(`elbv2:DescribeTargetGroups:${all.join(',')}`, async () => {
    const found = new Map<string, TargetGroup | undefined>();
    const byRegion = new Map<string, string[]>();
    for (const arn of all) byRegion.set(regionOf(arn, ctx.region), [...(byRegion.get(regionOf(arn, ctx.region)) ?? []), arn]);
    await Promise.all(
      [...byRegion].map(async ([region, list]) => {
        const client = ctx.aws.client(ElasticLoadBalancingV2Client, region);
        const describe = async (TargetGroupArns: string[]) => (await client.send(new DescribeTargetGroupsCommand({ TargetGroupArns }))).TargetGroups ?? [];
        try {
          for (const tg of await describe(list)) found.set(tg.TargetGroupArn!, tg);
        } catch (error) {
          if (!isNotFound(error)) throw error;
          if (list.length === 1) return void found.set(list[0]!, undefined);
          await Promise.all(
            list.map(async (arn) => {
              try {
                found.set(arn, (await describe([arn]))[0]);
              } catch (inner) {
                if (!isNotFound(inner)) throw inner;
                found.set(arn, undefined);
              }
            }),
          );
        }
      }),
    );
    return found;
  });
}

export const loadBalancerChecks: Planner = ({ taskDefinition, service }) => {
  const entries = service.loadBalancers ?? [];
  if (entries.length === 0) {
    return [
      {
        id: 'loadbalancing',
        family: 'loadbalancing',
        title: 'Load balancing',
        group: ['Service'],
        run: async () => skip('the service is not behind a load balancer'),
      },
    ];
  }
  const arns = entries.map((lb) => lb.targetGroupArn).filter((a): a is string => !!a);
  return entries.flatMap((lb, i): CheckSpec[] => {
    const group = ['Service', `LoadBalancer ${i}`];
    if (!lb.targetGroupArn) {
      return [
        {
          id: `loadbalancing:${i}`,
          family: 'loadbalancing',
          title: lb.loadBalancerName ? `Classic Load Balancer \`${lb.loadBalancerName}\`` : 'Load balancer',
          group,
          run: async () =>
            skip(
              lb.loadBalancerName
                ? 'Classic Load Balancers are not checked (only target groups are)'
                : 'the entry names neither a target group nor a load balancer: not checked',
            ),
        },
      ];
    }
    return [targetGroupCheck(i, lb, arns, service, group), containerCheck(i, lb, taskDefinition, group), fitCheck(i, lb, arns, taskDefinition, group)];
  });
};

function targetGroupCheck(i: number, lb: LoadBalancer, arns: string[], service: Service, group: string[]): CheckSpec {
  const arn = lb.targetGroupArn!;
  return {
    id: `loadbalancing:${i}:target-group`,
    family: 'loadbalancing',
    title: `Target group \`${tgName(arn)}\``,
    group,
    async run(ctx) {
      const tg = (await targetGroups(ctx, arns)).get(arn);
      if (!tg) {
        const codeDeploy = service.deploymentController?.type === 'CODE_DEPLOY';
        return fail(
          `target group \`${arn}\` does not exist (deleted, or a wrong ARN): ECS cannot register the service's tasks, so new tasks never become healthy and deployments do not finish`,
          codeDeploy
            ? 'Recreate the target group and update the CodeDeploy deployment group (and the load balancer listeners) to use it; a CODE_DEPLOY service keeps its target groups in CodeDeploy.'
            : `Recreate the target group (its ARN will change) and point the service at it: \`aws ecs update-service --region ${ctx.region} --cluster ${ctx.target.cluster} --service ${ctx.target.service} --load-balancers targetGroupArn=<new target group ARN>,containerName=${lb.containerName},containerPort=${lb.containerPort} --force-new-deployment\``,
        );
      }
      const summary = `${tg.Protocol ?? '?'}:${tg.Port ?? '?'}, target type ${tg.TargetType ?? '?'}`;
      const balancers = tg.LoadBalancerArns ?? [];
      if (balancers.length === 0) {
        return warn(
          `target group \`${tg.TargetGroupName}\` (${summary}) is not attached to any load balancer: ECS registers the tasks, but no traffic reaches them`,
          `Forward a listener (or listener rule) to it: \`aws elbv2 modify-listener --listener-arn <listener ARN> --default-actions Type=forward,TargetGroupArn=${arn}\``,
        );
      }
      return ok(
        `\`${tg.TargetGroupName}\` (${summary}) behind ${marks(
          balancers.map((b) =>
            b
              .split(':')
              .pop()!
              .replace(/^loadbalancer\//, ''),
          ),
        )}`,
      );
    },
  };
}

const mappings = (ports: PortMapping[]) => (ports.length ? ports.map((p) => `${p.containerPort}/${p.protocol ?? 'tcp'}`).join(', ') : 'none');

function containerCheck(i: number, lb: LoadBalancer, taskDefinition: TaskDefinition, group: string[]): CheckSpec {
  return {
    id: `loadbalancing:${i}:container`,
    family: 'loadbalancing',
    title: `Container \`${lb.containerName}\` port ${lb.containerPort}`,
    group,
    async run(ctx) {
      const td = `\`${taskDefinition.family}:${taskDefinition.revision}\``;
      const containers = taskDefinition.containerDefinitions ?? [];
      const container = containers.find((c) => c.name === lb.containerName);
      const updateLb = (name: string, port: number | string) =>
        `\`aws ecs update-service --region ${ctx.region} --cluster ${ctx.target.cluster} --service ${ctx.target.service} --load-balancers targetGroupArn=${lb.targetGroupArn},containerName=${name},containerPort=${port}\``;
      if (!container) {
        const names = containers.map((c) => c.name!);
        return fail(
          `the service sends the target group's traffic to container \`${lb.containerName}\`, which ${td} does not have (it has ${marks(names)}): ECS rejects the deployment`,
          `Rename the container in the task definition, or point the load balancer entry at one it has: ${updateLb(names[0] ?? '<container>', lb.containerPort ?? '<port>')}`,
        );
      }
      const ports = container.portMappings ?? [];
      if (!ports.some((p) => p.containerPort === lb.containerPort)) {
        return fail(
          `container \`${container.name}\` in ${td} does not map port ${lb.containerPort} (its port mappings: ${mappings(ports)}): ECS cannot register its tasks`,
          ports.length
            ? `Add \`{"containerPort": ${lb.containerPort}, "protocol": "tcp"}\` to \`${container.name}\`'s \`portMappings\`, or point the entry at a mapped port: ${updateLb(container.name!, ports[0]!.containerPort!)}`
            : `Add \`"portMappings": [{"containerPort": ${lb.containerPort}, "protocol": "tcp"}]\` to container \`${container.name}\` in the task definition.`,
        );
      }
      return ok(`\`${container.name}\` maps port ${mappings(ports.filter((p) => p.containerPort === lb.containerPort))}`);
    },
  };
}

/** ECS registers tasks by IP in awsvpc mode and by instance otherwise; the protocol must suit the mapping. */
function fitCheck(i: number, lb: LoadBalancer, arns: string[], taskDefinition: TaskDefinition, group: string[]): CheckSpec {
  return {
    id: `loadbalancing:${i}:target-type`,
    family: 'loadbalancing',
    title: 'Target type and port',
    group,
    needs: [`loadbalancing:${i}:target-group`],
    async run(ctx) {
      const tg = (await targetGroups(ctx, arns)).get(lb.targetGroupArn!)!;
      const name = `\`${tg.TargetGroupName}\``;
      const mode = taskDefinition.networkMode ?? 'bridge';
      const recreate = (type: string) =>
        `Target type cannot be changed: create a target group with \`--target-type ${type}\` (\`aws elbv2 create-target-group --name ${tg.TargetGroupName}-${type} --protocol ${tg.Protocol} --port ${lb.containerPort} --vpc-id ${tg.VpcId} --target-type ${type}\`), forward the listener to it and point the service at it.`;
      if (mode === 'none')
        return fail(
          `the task definition uses network mode \`none\`: its tasks cannot be load balanced`,
          'Use network mode `awsvpc` (Fargate) or `bridge` (EC2).',
        );
      const expected = mode === 'awsvpc' ? 'ip' : 'instance';
      if (tg.TargetType !== expected) {
        return fail(
          `${name} has target type \`${tg.TargetType}\`, but network mode \`${mode}\` needs \`${expected}\` targets: ECS cannot register the tasks`,
          recreate(expected),
        );
      }
      const container = taskDefinition.containerDefinitions?.find((c) => c.name === lb.containerName);
      const mapping = container?.portMappings?.find((p) => p.containerPort === lb.containerPort);
      const udp = mapping?.protocol === 'udp';
      const protocol = tg.Protocol ?? '';
      if (protocol === 'GENEVE')
        return fail(`${name} is a Gateway Load Balancer target group (GENEVE), which cannot send traffic to ECS tasks`, recreate(expected));
      if (udp && !['UDP', 'TCP_UDP'].includes(protocol)) {
        return fail(
          `port ${lb.containerPort} is mapped as UDP, but ${name} speaks ${protocol}: the traffic never reaches the container`,
          'Use a UDP (or TCP_UDP) target group on a Network Load Balancer, or map the port as tcp.',
        );
      }
      if (!udp && mapping && protocol === 'UDP') {
        return fail(
          `${name} speaks UDP, but port ${lb.containerPort} is mapped as tcp`,
          `Set \`"protocol": "udp"\` on the port mapping, or use a TCP target group.`,
        );
      }
      const notes: string[] = [];
      if (tg.Port !== undefined && tg.Port !== lb.containerPort) {
        notes.push(
          mode === 'awsvpc'
            ? `the target group's port ${tg.Port} is only its default: ECS registers each task's IP with the container port ${lb.containerPort}`
            : `the target group's port ${tg.Port} is only its default: ECS registers each task with its host port`,
        );
      }
      if (tg.HealthCheckPort && tg.HealthCheckPort !== 'traffic-port' && Number(tg.HealthCheckPort) !== lb.containerPort) {
        notes.push(`health checks go to port ${tg.HealthCheckPort}, not the traffic port: the container must answer there`);
      }
      return ok(
        `\`${tg.TargetType}\` targets for network mode \`${mode}\`, ${protocol} to port ${lb.containerPort}${notes.length ? `; ${notes.join('; ')}` : ''}`,
      );
    },
  };
}
