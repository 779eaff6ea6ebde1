/**
 * The network an awsvpc task lands in: its subnets and security groups exist, and it can reach
 * what it needs at start-up (ECR and S3 for the image, CloudWatch Logs, SSM / Secrets Manager for
 * secrets, ssmmessages for ECS Exec) — through a NAT gateway, an internet gateway with a public IP,
 * or VPC endpoints. Without any of them a Fargate task hangs in PENDING and stops with
 * "ResourceInitializationError … i/o timeout", which is hard to trace back to a route table.
 */
import {
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
  type IpPermission,
  type Route,
  type RouteTable,
  type SecurityGroup,
  type Subnet,
  type VpcEndpoint,
} from '@aws-sdk/client-ec2';
import type { AwsVpcConfiguration, Service, TaskDefinition } from '@aws-sdk/client-ecs';
import { tryParseImageRef } from '../../ecs/images';
import type { VerifyContext } from '../context';
import type { CheckOutcome, CheckSpec, Planner } from '../types';
import { fail, ok, skip, warn } from '../types';
import { marks } from '../text';
import { execConfiguration } from './lookups';

const GROUP = ['Network'];
const ENDPOINT_GROUP = ['Network', 'VPC endpoints'];
const sorted = (ids: string[]) => [...new Set(ids)].sort();

// AWS lookups, each made once per run -------------------------------------------------------

/** By filter rather than by id, so one deleted subnet does not fail the whole call (InvalidSubnetID.NotFound). */
function describeSubnets(ctx: VerifyContext, ids: string[]): Promise<Map<string, Subnet>> {
  const want = sorted(ids);
  return ctx.once(`ec2:DescribeSubnets:${want.join(',')}`, async () => {
    const out = await ctx.aws.client(EC2Client).send(new DescribeSubnetsCommand({ Filters: [{ Name: 'subnet-id', Values: want }] }));
    return new Map((out.Subnets ?? []).map((s) => [s.SubnetId!, s]));
  });
}

function describeSecurityGroups(ctx: VerifyContext, ids: string[]): Promise<Map<string, SecurityGroup>> {
  const want = sorted(ids);
  return ctx.once(`ec2:DescribeSecurityGroups:${want.join(',')}`, async () => {
    if (want.length === 0) return new Map<string, SecurityGroup>();
    const out = await ctx.aws.client(EC2Client).send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-id', Values: want }] }));
    return new Map((out.SecurityGroups ?? []).map((g) => [g.GroupId!, g]));
  });
}

/** Every route table of the VPC in one call: explicit associations and the main table. */
function describeRouteTables(ctx: VerifyContext, vpcId: string): Promise<RouteTable[]> {
  return ctx.once(`ec2:DescribeRouteTables:${vpcId}`, async () => {
    const tables: RouteTable[] = [];
    let NextToken: string | undefined;
    do {
      const out = await ctx.aws
        .client(EC2Client)
        .send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }], ...(NextToken ? { NextToken } : {}) }));
      tables.push(...(out.RouteTables ?? []));
      NextToken = out.NextToken;
    } while (NextToken);
    return tables;
  });
}

function describeVpcEndpoints(ctx: VerifyContext, vpcId: string): Promise<VpcEndpoint[]> {
  return ctx.once(`ec2:DescribeVpcEndpoints:${vpcId}`, async () => {
    const endpoints: VpcEndpoint[] = [];
    let NextToken: string | undefined;
    do {
      const out = await ctx.aws
        .client(EC2Client)
        .send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }], ...(NextToken ? { NextToken } : {}) }));
      endpoints.push(...(out.VpcEndpoints ?? []));
      NextToken = out.NextToken;
    } while (NextToken);
    return endpoints;
  });
}

// Egress --------------------------------------------------------------------------------------

export interface SubnetEgress {
  subnetId: string;
  cidr?: string;
  routeTableId?: string;
  /** `assumed`: a route to something we cannot look behind (transit gateway, firewall, NAT instance). */
  egress: 'yes' | 'assumed' | 'no';
  via: string;
  /** The default route goes to an internet gateway that a public IP would make usable. */
  needsPublicIp?: boolean;
}

export interface EgressAnalysis {
  vpcId: string;
  subnets: SubnetEgress[];
}

/** Where a subnet's default route leads, in plain words. */
export function classifyDefaultRoute(route: Route | undefined, publicIp: boolean): Pick<SubnetEgress, 'egress' | 'via' | 'needsPublicIp'> {
  if (!route) return { egress: 'no', via: 'no default route (0.0.0.0/0)' };
  const target =
    route.NatGatewayId ??
    route.GatewayId ??
    route.TransitGatewayId ??
    route.NetworkInterfaceId ??
    route.InstanceId ??
    route.VpcPeeringConnectionId ??
    route.CarrierGatewayId ??
    route.LocalGatewayId ??
    route.CoreNetworkArn ??
    'an unknown target';
  if (route.State === 'blackhole') return { egress: 'no', via: `the default route points to \`${target}\`, which no longer exists (blackhole)` };
  if (route.NatGatewayId) return { egress: 'yes', via: `NAT gateway \`${route.NatGatewayId}\`` };
  if (route.GatewayId?.startsWith('igw-')) {
    return publicIp
      ? { egress: 'yes', via: `internet gateway \`${route.GatewayId}\` (tasks get a public IP)` }
      : {
          egress: 'no',
          via: `internet gateway \`${route.GatewayId}\`, but \`assignPublicIp\` is DISABLED, so tasks have no public IP to use it`,
          needsPublicIp: true,
        };
  }
  if (route.VpcPeeringConnectionId)
    return { egress: 'no', via: `peering connection \`${route.VpcPeeringConnectionId}\`, which does not carry traffic on to the internet` };
  return { egress: 'assumed', via: `\`${target}\` (assumed to lead to the internet; not checked beyond the route table)` };
}

const awsvpc = (service: Service): AwsVpcConfiguration | undefined => service.networkConfiguration?.awsvpcConfiguration;

/** Each (existing) subnet's route table — its explicit association, else the VPC's main table — and default route. */
function analyzeEgress(ctx: VerifyContext, service: Service): Promise<EgressAnalysis> {
  return ctx.once('network:egress', async () => {
    const config = awsvpc(service)!;
    const subnets = [...(await describeSubnets(ctx, config.subnets ?? [])).values()];
    const vpcId = subnets[0]?.VpcId;
    if (!vpcId) throw new Error('none of the service’s subnets exists');
    const tables = await describeRouteTables(ctx, vpcId);
    const main = tables.find((t) => t.Associations?.some((a) => a.Main));
    const publicIp = config.assignPublicIp === 'ENABLED';
    return {
      vpcId,
      subnets: subnets.map((s): SubnetEgress => {
        const table = tables.find((t) => t.Associations?.some((a) => a.SubnetId === s.SubnetId)) ?? main;
        const route = table?.Routes?.find((r) => r.DestinationCidrBlock === '0.0.0.0/0');
        const base = {
          subnetId: s.SubnetId!,
          ...(s.CidrBlock ? { cidr: s.CidrBlock } : {}),
          ...(table?.RouteTableId ? { routeTableId: table.RouteTableId } : {}),
        };
        if (!table) return { ...base, egress: 'no', via: 'no route table (neither associated nor a main table)' };
        return { ...base, ...classifyDefaultRoute(route, publicIp) };
      }),
    };
  });
}

// What the tasks need to reach ----------------------------------------------------------------

export interface EndpointNeed {
  /** `ecr.dkr`, `s3`, … (the tail of `com.amazonaws.<region>.<service>`). */
  service: string;
  type: 'Interface' | 'Gateway';
  reasons: string[];
}

export interface NetworkNeeds {
  endpoints: EndpointNeed[];
  /** What no endpoint of this VPC can serve (other registries, other regions). */
  internet: string[];
  /** Some tasks run on EC2, whose container instance pulls images, ships awslogs and fetches secrets over its own network. */
  hostManaged: boolean;
}

/** The AWS services the tasks reach over their own network interface, derived from the task definition and the service. */
async function networkNeeds(ctx: VerifyContext, taskDefinition: TaskDefinition, service: Service): Promise<NetworkNeeds> {
  const endpoints = new Map<string, EndpointNeed>();
  const internet: string[] = [];
  const need = (name: string, reason: string, type: EndpointNeed['type'] = 'Interface') => {
    const entry = endpoints.get(name) ?? endpoints.set(name, { service: name, type, reasons: [] }).get(name)!;
    if (!entry.reasons.includes(reason)) entry.reasons.push(reason);
  };
  // Tasks on Fargate pull, log and fetch secrets through their own interface; on EC2 the instance does.
  const kinds = await ctx.launchKinds();
  if (kinds.has('FARGATE')) {
    for (const c of taskDefinition.containerDefinitions ?? []) {
      const name = `\`${c.name}\``;
      const image = c.image ?? '';
      const ecr = image ? tryParseImageRef(image)?.ecr : undefined;
      if (ecr && ecr.region === ctx.region) {
        need('ecr.api', `pulling ${name}'s image`);
        need('ecr.dkr', `pulling ${name}'s image`);
        need('s3', `pulling ${name}'s image layers (ECR keeps them in S3)`, 'Gateway');
      } else if (ecr) {
        internet.push(`${name}'s image \`${image}\` (ECR in ${ecr.region}: endpoints here only reach ${ctx.region})`);
      } else if (image) {
        internet.push(`${name}'s image \`${image}\` (not in ECR)`);
      }
      if (c.repositoryCredentials?.credentialsParameter) need('secretsmanager', `${name}'s registry credentials`);
      if (c.logConfiguration?.logDriver === 'awslogs') {
        const region = c.logConfiguration.options?.['awslogs-region'] ?? ctx.region;
        if (region === ctx.region) need('logs', `${name}'s awslogs`);
        else internet.push(`${name}'s awslogs in ${region}`);
      }
      for (const s of c.secrets ?? []) {
        const from = s.valueFrom ?? '';
        const [, , kind, region] = from.startsWith('arn:') ? from.split(':') : ['', '', 'ssm', ctx.region];
        if (region && region !== ctx.region) internet.push(`${name}'s secret \`${s.name}\` in ${region}`);
        else if (kind === 'secretsmanager') need('secretsmanager', `${name}'s secrets`);
        else need('ssm', `${name}'s secrets (Parameter Store)`);
      }
      if (c.environmentFiles?.length) need('s3', `${name}'s environment files`, 'Gateway');
    }
  }
  if (service.enableExecuteCommand) {
    need('ssmmessages', 'ECS Exec sessions');
    const exec = await execConfiguration(ctx);
    if (exec.kmsKeyId) need('kms', 'ECS Exec session encryption');
    if (exec.logging === 'OVERRIDE' && exec.logConfiguration?.cloudWatchLogGroupName) need('logs', 'ECS Exec session logs');
    if (exec.logging === 'OVERRIDE' && exec.logConfiguration?.s3BucketName) need('s3', 'ECS Exec session logs', 'Gateway');
  }
  // ECR's own pair first, then in a stable order.
  const order = ['ecr.api', 'ecr.dkr', 's3', 'logs', 'ssm', 'secretsmanager', 'ssmmessages', 'kms'];
  return {
    endpoints: [...endpoints.values()].sort((a, b) => order.indexOf(a.service) - order.indexOf(b.service)),
    internet,
    hostManaged: [...kinds].some((kind) => kind !== 'FARGATE'),
  };
}

// Security group rules ------------------------------------------------------------------------

const allowsHttps = (p: IpPermission) => p.IpProtocol === '-1' || (p.IpProtocol === 'tcp' && (p.FromPort ?? 0) <= 443 && 443 <= (p.ToPort ?? 65535));

function ipv4(cidr: string): { base: number; bits: number } | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const bits = Number(m[5]);
  const base = m.slice(1, 5).reduce((n, part) => n * 256 + Number(part), 0);
  return { base, bits };
}

/** `10.1.0.0/16` contains `10.1.1.0/24`. */
export function cidrContains(outer: string, inner: string): boolean {
  const o = ipv4(outer);
  const i = ipv4(inner);
  if (!o || !i || o.bits > i.bits) return false;
  const size = 2 ** (32 - o.bits);
  return Math.floor(o.base / size) === Math.floor(i.base / size);
}

// Checks ----------------------------------------------------------------------------------------

export const networkChecks: Planner = ({ taskDefinition, service }) => {
  const mode = taskDefinition.networkMode ?? 'bridge';
  if (mode !== 'awsvpc') {
    return [
      {
        id: 'network',
        family: 'network',
        title: 'Network',
        group: GROUP,
        run: async () => skip(`network mode \`${mode}\`: tasks use their container instance's network, which is not checked`),
      },
    ];
  }
  const config = awsvpc(service);
  if (!config?.subnets?.length) {
    return [
      {
        id: 'network',
        family: 'network',
        title: 'Network',
        group: GROUP,
        run: async (ctx) =>
          fail(
            'the task definition uses network mode `awsvpc`, but the service has no subnets: ECS cannot place its tasks',
            `\`aws ecs update-service --region ${ctx.region} --cluster ${ctx.target.cluster} --service ${ctx.target.service} --network-configuration "awsvpcConfiguration={subnets=[<subnet-id>],securityGroups=[<sg-id>]}"\``,
          ),
      },
    ];
  }
  return [subnetsCheck(config), securityGroupsCheck(config), egressCheck(taskDefinition, service)];
};

const networkConfigFix = (ctx: VerifyContext, config: AwsVpcConfiguration, subnets: string[], groups: string[]) =>
  `\`aws ecs update-service --region ${ctx.region} --cluster ${ctx.target.cluster} --service ${ctx.target.service} --network-configuration "awsvpcConfiguration={subnets=[${subnets.join(',')}],securityGroups=[${groups.join(',')}],assignPublicIp=${config.assignPublicIp ?? 'DISABLED'}}"\``;

function subnetsCheck(config: AwsVpcConfiguration): CheckSpec {
  return {
    id: 'network:subnets',
    family: 'network',
    title: 'Subnets',
    group: GROUP,
    async run(ctx) {
      const ids = config.subnets ?? [];
      const found = await describeSubnets(ctx, ids);
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length) {
        const kept = ids.filter((id) => found.has(id));
        return fail(
          `${marks(missing)} ${missing.length === 1 ? 'does' : 'do'} not exist in ${ctx.region} (deleted, or from another account or region): ECS cannot place tasks there`,
          `Point the service at existing subnets: ${networkConfigFix(ctx, config, kept.length ? kept : ['<subnet-id>'], config.securityGroups ?? [])}`,
        );
      }
      const subnets = ids.map((id) => found.get(id)!);
      const vpcs = sorted(subnets.map((s) => s.VpcId!));
      if (vpcs.length > 1) {
        return fail(
          `the subnets are in different VPCs (${subnets.map((s) => `\`${s.SubnetId}\` in \`${s.VpcId}\``).join(', ')}): a service's subnets must share one VPC`,
          `Keep only subnets of one VPC: ${networkConfigFix(
            ctx,
            config,
            subnets.filter((s) => s.VpcId === subnets[0]!.VpcId).map((s) => s.SubnetId!),
            config.securityGroups ?? [],
          )}`,
        );
      }
      const full = subnets.filter((s) => s.AvailableIpAddressCount === 0);
      const unavailable = subnets.filter((s) => s.State && s.State !== 'available');
      const list = subnets.map((s) => `\`${s.SubnetId}\` (${s.AvailabilityZone}, ${s.AvailableIpAddressCount ?? '?'} free IPs)`).join(', ');
      if (full.length || unavailable.length) {
        const problems = [
          ...full.map((s) => `\`${s.SubnetId}\` has no free IP address left, so tasks cannot get a network interface there`),
          ...unavailable.map((s) => `\`${s.SubnetId}\` is ${s.State}`),
        ];
        return warn(
          `${problems.join('; ')} (${list})`,
          'Free addresses in the subnet (stopped tasks, unused interfaces) or add a larger subnet to the service’s network configuration.',
        );
      }
      return ok(`${list} in \`${vpcs[0]}\``);
    },
  };
}

function securityGroupsCheck(config: AwsVpcConfiguration): CheckSpec {
  return {
    id: 'network:security-groups',
    family: 'network',
    title: 'Security groups',
    group: GROUP,
    async run(ctx) {
      const ids = config.securityGroups ?? [];
      if (ids.length === 0) return skip("the service names no security group, so ECS uses the VPC's default group (not checked)");
      // The subnets only tell the VPC to compare with; the Subnets check reports it if they cannot be read.
      const [found, subnets] = await Promise.all([
        describeSecurityGroups(ctx, ids),
        describeSubnets(ctx, config.subnets ?? []).catch(() => new Map<string, Subnet>()),
      ]);
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length) {
        const kept = ids.filter((id) => found.has(id));
        return fail(
          `${marks(missing)} ${missing.length === 1 ? 'does' : 'do'} not exist in ${ctx.region}: ECS cannot start tasks with ${missing.length === 1 ? 'it' : 'them'}`,
          `Point the service at existing groups: ${networkConfigFix(ctx, config, config.subnets ?? [], kept.length ? kept : ['<sg-id>'])}`,
        );
      }
      const groups = ids.map((id) => found.get(id)!);
      const vpc = [...subnets.values()][0]?.VpcId;
      const elsewhere = vpc ? groups.filter((g) => g.VpcId !== vpc) : [];
      if (elsewhere.length) {
        const inVpc = groups.filter((g) => g.VpcId === vpc).map((g) => g.GroupId!);
        return fail(
          `${elsewhere.map((g) => `\`${g.GroupId}\` is in \`${g.VpcId}\``).join(', ')}, but the subnets are in \`${vpc}\`: a task's security groups must be in its VPC`,
          `Use groups of \`${vpc}\`: ${networkConfigFix(ctx, config, config.subnets ?? [], inVpc.length ? inVpc : ['<sg-id>'])}`,
        );
      }
      const names = groups.map((g) => `\`${g.GroupId}\` (${g.GroupName})`).join(', ');
      // Rules of all the task's groups add up: one group allowing HTTPS out is enough.
      if (!groups.some((g) => (g.IpPermissionsEgress ?? []).some(allowsHttps))) {
        return fail(
          `none of ${names} allows outbound HTTPS (tcp 443): tasks cannot pull images or reach AWS APIs`,
          `\`aws ec2 authorize-security-group-egress --region ${ctx.region} --group-id ${groups[0]!.GroupId} --ip-permissions 'IpProtocol=tcp,FromPort=443,ToPort=443,IpRanges=[{CidrIp=0.0.0.0/0}]'\``,
        );
      }
      return ok(`${names} exist and allow outbound HTTPS`);
    },
  };
}

function egressCheck(taskDefinition: TaskDefinition, service: Service): CheckSpec {
  return {
    id: 'network:egress',
    family: 'network',
    title: 'Route to the internet',
    group: GROUP,
    needs: ['network:subnets'],
    async run(ctx) {
      const { subnets } = await analyzeEgress(ctx, service);
      const lines = subnets.map((s) => `\`${s.subnetId}\` → ${s.via}`).join('; ');
      const isolated = subnets.filter((s) => s.egress === 'no');
      const host = [...(await ctx.launchKinds())].some((kind) => kind !== 'FARGATE')
        ? ' (EC2: images, awslogs and secrets go through the container instance’s own network, which is not checked; only ECS Exec uses the task’s)'
        : '';
      if (isolated.length === 0) return ok(`${lines}: VPC endpoints are not needed${host}`);
      const which = isolated.length === subnets.length ? 'the tasks' : `tasks in ${marks(isolated.map((s) => s.subnetId))}`;
      const needs = await networkNeeds(ctx, taskDefinition, service);
      if (needs.endpoints.length === 0 && needs.internet.length === 0)
        return ok(`${lines}. ${which[0]!.toUpperCase()}${which.slice(1)} have no way out, but need no AWS service through their own network interface${host}`);
      return ok(`${lines}. Without a way out, ${which} reach AWS only through VPC endpoints, checked below${host}`);
    },
    async then(ctx) {
      try {
        const analysis = await analyzeEgress(ctx, service);
        if (!analysis.subnets.some((s) => s.egress === 'no')) return [];
        const needs = await networkNeeds(ctx, taskDefinition, service);
        return [
          ...needs.endpoints.map((need) => endpointCheck(need, analysis, service)),
          ...(needs.internet.length ? [internetOnlyCheck(needs.internet, analysis, service)] : []),
        ];
      } catch (error) {
        // Planning must not break the run: report what kept us from it as a check that could not run.
        return [{ id: 'network:endpoints', family: 'network', title: 'VPC endpoints', group: ENDPOINT_GROUP, run: () => Promise.reject(error) }];
      }
    },
  };
}

const isAvailable = (e: VpcEndpoint) => String(e.State ?? '').toLowerCase() === 'available';

function createEndpointCommand(ctx: VerifyContext, need: EndpointNeed, analysis: EgressAnalysis, endpoints: VpcEndpoint[], service: Service): string {
  const name = `com.amazonaws.${ctx.region}.${need.service}`;
  const isolated = analysis.subnets.filter((s) => s.egress === 'no');
  if (need.type === 'Gateway') {
    const tables = sorted(isolated.map((s) => s.routeTableId).filter((t): t is string => !!t));
    return `\`aws ec2 create-vpc-endpoint --region ${ctx.region} --vpc-id ${analysis.vpcId} --vpc-endpoint-type Gateway --service-name ${name} --route-table-ids ${tables.join(' ')}\``;
  }
  // Reuse the group the VPC's other interface endpoints use; else the tasks' own (it must then allow 443 in from them).
  const endpointGroups = sorted(endpoints.filter((e) => e.VpcEndpointType === 'Interface').flatMap((e) => (e.Groups ?? []).map((g) => g.GroupId!)));
  const groups = endpointGroups.length ? endpointGroups : (awsvpc(service)?.securityGroups ?? ['<sg-id>']);
  const note = endpointGroups.length ? '' : ' (that group must allow inbound tcp 443 from the tasks)';
  return `\`aws ec2 create-vpc-endpoint --region ${ctx.region} --vpc-id ${analysis.vpcId} --vpc-endpoint-type Interface --service-name ${name} --subnet-ids ${analysis.subnets.map((s) => s.subnetId).join(' ')} --security-group-ids ${groups.join(' ')} --private-dns-enabled\`${note}`;
}

/** The other way to fix a missing endpoint: a way out to the internet (a public IP where an internet gateway is already routed). */
const orNat = (ctx: VerifyContext, analysis: EgressAnalysis, service: Service) => {
  const isolated = analysis.subnets.filter((s) => s.egress === 'no');
  const config = awsvpc(service);
  if (isolated.every((s) => s.needsPublicIp) && config) {
    return `Or give the tasks a public IP, since the subnets route to an internet gateway: \`aws ecs update-service --region ${ctx.region} --cluster ${ctx.target.cluster} --service ${ctx.target.service} --network-configuration "awsvpcConfiguration={subnets=[${(config.subnets ?? []).join(',')}],securityGroups=[${(config.securityGroups ?? []).join(',')}],assignPublicIp=ENABLED}"\`.`;
  }
  const tables = sorted(isolated.map((s) => s.routeTableId ?? '<rtb-id>'));
  return `Or give ${tables.length === 1 ? 'the subnets’ route table' : 'each of their route tables'} a way out: \`aws ec2 create-route --region ${ctx.region} --route-table-id ${tables[0]} --destination-cidr-block 0.0.0.0/0 --nat-gateway-id <nat-id>\`.`;
};

/** One VPC endpoint the isolated tasks need: present, available, reachable (DNS, security group, route tables). */
function endpointCheck(need: EndpointNeed, analysis: EgressAnalysis, service: Service): CheckSpec {
  return {
    id: `network:endpoint:${need.service}`,
    family: 'network',
    title: `\`${need.service}\``,
    group: ENDPOINT_GROUP,
    async run(ctx): Promise<CheckOutcome> {
      const name = `com.amazonaws.${ctx.region}.${need.service}`;
      const endpoints = await describeVpcEndpoints(ctx, analysis.vpcId);
      // S3 also works through an interface endpoint; the others only exist as interface endpoints.
      const matching = endpoints.filter((e) => e.ServiceName === name && (need.type === 'Interface' ? e.VpcEndpointType === 'Interface' : true));
      const isolated = analysis.subnets.filter((s) => s.egress === 'no');
      const forWhat = need.reasons.join(', ');
      if (matching.length === 0) {
        return fail(
          `\`${analysis.vpcId}\` has no \`${name}\` endpoint, and ${marks(isolated.map((s) => s.subnetId))} ${isolated.length === 1 ? 'has' : 'have'} no route to the internet: needed for ${forWhat}`,
          `${createEndpointCommand(ctx, need, analysis, endpoints, service)}. ${orNat(ctx, analysis, service)}`,
        );
      }
      const usable = matching.filter(isAvailable);
      if (usable.length === 0) {
        const states = matching.map((e) => `\`${e.VpcEndpointId}\` is ${String(e.State ?? 'in an unknown state').toLowerCase()}`).join(', ');
        if (matching.some((e) => String(e.State).toLowerCase() === 'pending'))
          return warn(`${states}: needed for ${forWhat}`, 'Wait for it to become available, then check again.');
        return fail(`${states}, not available: needed for ${forWhat}`, `Create a new one: ${createEndpointCommand(ctx, need, analysis, endpoints, service)}`);
      }
      const problems: CheckOutcome[] = [];
      const gateway = usable.find((e) => e.VpcEndpointType === 'Gateway');
      const iface = usable.find((e) => e.VpcEndpointType === 'Interface');
      if (gateway && !iface) {
        // A gateway endpoint works only through the route tables it is added to.
        const missing = sorted(isolated.map((s) => s.routeTableId).filter((t): t is string => !!t && !(gateway.RouteTableIds ?? []).includes(t)));
        if (missing.length) {
          const users = isolated.filter((s) => s.routeTableId && missing.includes(s.routeTableId)).map((s) => s.subnetId);
          problems.push(
            fail(
              `gateway endpoint \`${gateway.VpcEndpointId}\` is not added to route table ${marks(missing)} (used by ${marks(users)}), so those tasks cannot reach it: needed for ${forWhat}`,
              `\`aws ec2 modify-vpc-endpoint --region ${ctx.region} --vpc-endpoint-id ${gateway.VpcEndpointId} --add-route-table-ids ${missing.join(' ')}\``,
            ),
          );
        }
      }
      if (iface) {
        if (!iface.PrivateDnsEnabled) {
          problems.push(
            warn(
              `interface endpoint \`${iface.VpcEndpointId}\` has private DNS off, so \`${need.service}.${ctx.region}.amazonaws.com\` does not resolve to it (unless you run your own private zone)`,
              `\`aws ec2 modify-vpc-endpoint --region ${ctx.region} --vpc-endpoint-id ${iface.VpcEndpointId} --private-dns-enabled\``,
            ),
          );
        }
        const blocked = await endpointIngressProblem(ctx, iface, isolated, service);
        if (blocked) problems.push(blocked);
      }
      if (problems.length === 0) {
        const e = iface ?? gateway!;
        return ok(`\`${e.VpcEndpointId}\` (${e.VpcEndpointType}, available) for ${forWhat}`);
      }
      const failed = problems.some((p) => p.status === 'FAIL');
      return { status: failed ? 'FAIL' : 'WARN', message: problems.map((p) => p.message).join('; '), fix: problems.map((p) => p.fix).join('; then ') };
    },
  };
}

/** Does one of the endpoint's security groups let the tasks in on 443 (by group or by a CIDR covering their subnet)? */
async function endpointIngressProblem(
  ctx: VerifyContext,
  endpoint: VpcEndpoint,
  isolated: SubnetEgress[],
  service: Service,
): Promise<CheckOutcome | undefined> {
  const groupIds = (endpoint.Groups ?? []).map((g) => g.GroupId!).filter(Boolean);
  if (groupIds.length === 0) return undefined;
  // One call for the groups of every interface endpoint in the VPC, shared by all endpoint checks.
  const all = sorted(
    (await describeVpcEndpoints(ctx, endpoint.VpcId!)).filter((e) => e.VpcEndpointType === 'Interface').flatMap((e) => (e.Groups ?? []).map((g) => g.GroupId!)),
  );
  const groups = await describeSecurityGroups(ctx, all);
  const taskGroups = new Set(awsvpc(service)?.securityGroups ?? []);
  const rules = groupIds.flatMap((id) => groups.get(id)?.IpPermissions ?? []).filter(allowsHttps);
  // Rules we cannot evaluate (prefix lists) are given the benefit of the doubt.
  if (rules.some((r) => (r.PrefixListIds ?? []).length)) return undefined;
  const bySg = rules.some((r) => (r.UserIdGroupPairs ?? []).some((p) => p.GroupId && taskGroups.has(p.GroupId)));
  if (bySg) return undefined;
  const shut = isolated.filter((s) => !rules.some((r) => (r.IpRanges ?? []).some((range) => range.CidrIp && s.cidr && cidrContains(range.CidrIp, s.cidr))));
  if (shut.length === 0) return undefined;
  const group = groupIds[0]!;
  const source = [...taskGroups][0];
  return fail(
    `the security group${groupIds.length === 1 ? '' : 's'} of \`${endpoint.VpcEndpointId}\` (${marks(groupIds)}) do${groupIds.length === 1 ? 'es' : ''} not allow inbound tcp 443 from the tasks in ${marks(shut.map((s) => `${s.subnetId} ${s.cidr ?? ''}`.trim()))}`,
    source
      ? `\`aws ec2 authorize-security-group-ingress --region ${ctx.region} --group-id ${group} --protocol tcp --port 443 --source-group ${source}\``
      : `\`aws ec2 authorize-security-group-ingress --region ${ctx.region} --group-id ${group} --protocol tcp --port 443 --cidr ${shut[0]!.cidr ?? '<cidr>'}\``,
  );
}

/** Images from other registries or regions: no endpoint of this VPC can serve them. */
function internetOnlyCheck(what: string[], analysis: EgressAnalysis, service: Service): CheckSpec {
  return {
    id: 'network:internet',
    family: 'network',
    title: 'Beyond VPC endpoints',
    group: ENDPOINT_GROUP,
    async run(ctx) {
      const isolated = analysis.subnets.filter((s) => s.egress === 'no');
      return fail(
        `${what.join('; ')}: no VPC endpoint reaches ${what.length === 1 ? 'it' : 'them'}, and ${marks(isolated.map((s) => s.subnetId))} ${isolated.length === 1 ? 'has' : 'have'} no route to the internet`,
        `${orNat(ctx, analysis, service).replace(/^Or give/, 'Give')} Or copy the images into ECR in ${ctx.region} (a pull-through cache rule does it for public registries).`,
      );
    },
  };
}
