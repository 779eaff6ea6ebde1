/**
 * Amazon EC2 (EC2 query dialect, Version 2016-11-15): the networking an awsvpc task depends on —
 * subnets, security groups, route tables (a subnet without an explicit association uses the VPC's
 * main table) and VPC endpoints. Enough to answer "can a task in this subnet reach ECR, Logs,
 * Secrets Manager and ssmmessages": a NAT/IGW default route, or the endpoints.
 *
 * Resources are stored as the SDK's output types; on the way out they are renamed to EC2's XML
 * element names (camelCase, lists as `…Set` with `<item>`s), which do not follow the member names.
 */
import type { RouteTable, SecurityGroup, Subnet, VpcEndpoint } from '@aws-sdk/client-ec2';
import { glob } from '../policy';
import { AwsError, asList, type Params, type ServiceDefinition } from '../protocols';
import type { RegionState } from '../state';

export interface Ec2State {
  subnets: Subnet[];
  securityGroups: SecurityGroup[];
  routeTables: RouteTable[];
  vpcEndpoints: VpcEndpoint[];
}

const stores = new WeakMap<RegionState, Ec2State>();
export const ec2State = (r: RegionState): Ec2State =>
  stores.get(r) ?? stores.set(r, { subnets: [], securityGroups: [], routeTables: [], vpcEndpoints: [] }).get(r)!;

/** Member name → EC2 XML element name, where it is not simply the member name in camelCase. */
const WIRE_NAMES: Record<string, string> = {
  Subnets: 'subnetSet',
  SecurityGroups: 'securityGroupInfo',
  RouteTables: 'routeTableSet',
  VpcEndpoints: 'vpcEndpointSet',
  Tags: 'tagSet',
  Associations: 'associationSet',
  Routes: 'routeSet',
  PropagatingVgws: 'propagatingVgwSet',
  Groups: 'groupSet',
  RouteTableIds: 'routeTableIdSet',
  SubnetIds: 'subnetIdSet',
  NetworkInterfaceIds: 'networkInterfaceIdSet',
  DnsEntries: 'dnsEntrySet',
  UserIdGroupPairs: 'groups',
};
function toWire(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toWire);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [WIRE_NAMES[k] ?? k[0]!.toLowerCase() + k.slice(1), toWire(v)]));
}

type FilterTable<T> = Record<string, (item: T) => Array<string | boolean | undefined>>;
const tags = (item: { Tags?: Array<{ Key?: string; Value?: string }> }, key: string) => (item.Tags ?? []).filter((t) => t.Key === key).map((t) => t.Value);

/** `Filter.N.Name` / `Filter.N.Value.M` as they arrive. */
interface WireFilter {
  Name?: string;
  Value?: unknown;
}

/** EC2 filters: every filter must match; within one, any value may (with `*`/`?` wildcards). */
function applyFilters<T extends { Tags?: Array<{ Key?: string; Value?: string }> }>(items: T[], filters: WireFilter[], table: FilterTable<T>): T[] {
  for (const f of filters) {
    if (!f.Name?.startsWith('tag:') && !table[f.Name ?? '']) throw new AwsError('InvalidParameterValue', `The filter '${f.Name}' is invalid`);
  }
  return items.filter((item) =>
    filters.every((f) => {
      const actual = f.Name!.startsWith('tag:') ? tags(item, f.Name!.slice(4)) : table[f.Name!]!(item);
      return asList<string>(f.Value).some((want) => actual.some((a) => a !== undefined && glob(want).test(String(a))));
    }),
  );
}

/** Looks up ids, failing on the first unknown one with the service's `…NotFound` error. */
function byIds<T>(items: T[], ids: string[], id: (item: T) => string | undefined, error: (missing: string) => AwsError): T[] {
  return ids.map((want) => {
    const item = items.find((i) => id(i) === want);
    if (!item) throw error(want);
    return item;
  });
}

function select<T extends { Tags?: Array<{ Key?: string; Value?: string }> }>(
  p: Params,
  idParam: string,
  items: T[],
  id: (item: T) => string | undefined,
  error: (missing: string) => AwsError,
  table: FilterTable<T>,
): T[] {
  const ids = asList<string>(p[idParam]);
  return applyFilters(ids.length ? byIds(items, ids, id, error) : items, asList<WireFilter>(p.Filter), table);
}

export const ec2Service: ServiceDefinition = {
  name: 'ec2',
  protocol: 'query',
  version: '2016-11-15',
  xmlNamespace: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  ec2: true,
  errors: { AccessDenied: ['UnauthorizedOperation', 403], Throttling: ['RequestLimitExceeded', 503] },
  actions: {
    DescribeSubnets: (p, ctx) => {
      const subnets = select(
        p,
        'SubnetId',
        ec2State(ctx.regional).subnets,
        (s) => s.SubnetId,
        (id) => new AwsError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`),
        {
          'subnet-id': (s) => [s.SubnetId],
          'vpc-id': (s) => [s.VpcId],
          'availability-zone': (s) => [s.AvailabilityZone],
          'cidr-block': (s) => [s.CidrBlock],
          state: (s) => [s.State],
          'default-for-az': (s) => [String(s.DefaultForAz)],
          'map-public-ip-on-launch': (s) => [String(s.MapPublicIpOnLaunch)],
        },
      );
      return toWire({ Subnets: subnets });
    },

    DescribeSecurityGroups: (p, ctx) => {
      const all = ec2State(ctx.regional).securityGroups;
      const names = asList<string>(p.GroupName);
      const byName = names.length
        ? byIds(
            all,
            names,
            (g) => g.GroupName,
            (n) => new AwsError('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC`),
          )
        : all;
      const groups = select(
        p,
        'GroupId',
        byName,
        (g) => g.GroupId,
        (id) => new AwsError('InvalidGroup.NotFound', `The security group '${id}' does not exist`),
        {
          'group-id': (g) => [g.GroupId],
          'group-name': (g) => [g.GroupName],
          'vpc-id': (g) => [g.VpcId],
          description: (g) => [g.Description],
        },
      );
      // The group's description is `groupDescription` on the wire (rules' descriptions are not).
      return toWire({ SecurityGroups: groups.map(({ Description, ...g }) => ({ ...g, GroupDescription: Description })) });
    },

    DescribeRouteTables: (p, ctx) => {
      const tables = select(
        p,
        'RouteTableId',
        ec2State(ctx.regional).routeTables,
        (t) => t.RouteTableId,
        (id) => new AwsError('InvalidRouteTableID.NotFound', `The routeTable ID '${id}' does not exist`),
        {
          'route-table-id': (t) => [t.RouteTableId],
          'vpc-id': (t) => [t.VpcId],
          'association.subnet-id': (t) => (t.Associations ?? []).map((a) => a.SubnetId),
          'association.main': (t) => (t.Associations ?? []).map((a) => String(!!a.Main)),
          'association.route-table-association-id': (t) => (t.Associations ?? []).map((a) => a.RouteTableAssociationId),
          'route.nat-gateway-id': (t) => (t.Routes ?? []).map((r) => r.NatGatewayId),
          'route.gateway-id': (t) => (t.Routes ?? []).map((r) => r.GatewayId),
          'route.destination-cidr-block': (t) => (t.Routes ?? []).map((r) => r.DestinationCidrBlock),
        },
      );
      return toWire({ RouteTables: tables });
    },

    DescribeVpcEndpoints: (p, ctx) => {
      const endpoints = select(
        p,
        'VpcEndpointId',
        ec2State(ctx.regional).vpcEndpoints,
        (e) => e.VpcEndpointId,
        (id) => new AwsError('InvalidVpcEndpointId.NotFound', `The Vpc Endpoint Id '${id}' does not exist`),
        {
          'vpc-endpoint-id': (e) => [e.VpcEndpointId],
          'vpc-id': (e) => [e.VpcId],
          'service-name': (e) => [e.ServiceName],
          'vpc-endpoint-type': (e) => [e.VpcEndpointType],
          'vpc-endpoint-state': (e) => [e.State],
        },
      );
      return toWire({ VpcEndpoints: endpoints });
    },
  },
};
