/**
 * Network checks against the local AWS emulator: `web` and `manager` run in private subnets with a
 * NAT route; `broken` was moved into an isolated VPC whose interface endpoints lack `ecr.dkr` and
 * `ssmmessages` (VERIFY_SEED.problems `network-no-egress`). Other cases change the emulator's EC2
 * state for one test.
 */
import type { Route, SecurityGroup, VpcEndpoint } from '@aws-sdk/client-ec2';
import type { Service } from '@aws-sdk/client-ecs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { VERIFY_SEED } from '../local/aws/seed-verify';
import { ec2State } from '../local/aws/services/ec2';
import { cidrContains, classifyDefaultRoute, networkChecks } from '../src/verify/checks/network';
import type { VerifyContext } from '../src/verify/context';
import { patch, runRecorded, useVerifyHarness } from './support/verify';

const h = useVerifyHarness();
const V = VERIFY_SEED;
const NET = V.network;
const region = () => h.aws.state.region(V.accountId, V.region);
const ec2 = () => ec2State(region());
const service = (name: string) => region().ecs.clusters.get('main')!.services.get(name)!;
const endpoint = (vpc: string, name: string) => ec2().vpcEndpoints.find((e) => e.VpcId === vpc && e.ServiceName === `com.amazonaws.us-east-1.${name}`)!;
const securityGroup = (id: string) => ec2().securityGroups.find((g) => g.GroupId === id)!;
const plan = async (ctx: VerifyContext) => networkChecks({ ctx, taskDefinition: await ctx.taskDefinition(), service: (await ctx.service())! });

const awsvpc = (subnets: string[], securityGroups: string[], assignPublicIp: 'ENABLED' | 'DISABLED' = 'DISABLED'): Partial<Service> => ({
  networkConfiguration: { awsvpcConfiguration: { subnets, securityGroups, assignPublicIp } },
});

const run = (alias: string) => runRecorded(h, plan, alias, 'ec2');

describe('network checks: the seeded services', () => {
  it('web: subnets and group exist, both subnets reach the internet through the NAT gateway — no endpoint checks', async () => {
    const { results, r, calls } = await run('web');
    expect(results.map((x) => [x.id, x.status])).toEqual([
      ['network:subnets', 'OK'],
      ['network:security-groups', 'OK'],
      ['network:egress', 'OK'],
    ]);
    expect(r['network:subnets']!.message).toContain(`in \`${NET.vpc}\``);
    // private-b has no explicit association: the VPC's main table is used.
    expect(r['network:egress']!.message).toBe(
      `\`${NET.privateSubnets[0]}\` → NAT gateway \`${NET.natGateway}\`; \`${NET.privateSubnets[1]}\` → NAT gateway \`${NET.natGateway}\`: VPC endpoints are not needed`,
    );
    expect(calls.map((c) => c.action).sort()).toEqual(['DescribeRouteTables', 'DescribeSecurityGroups', 'DescribeSubnets']);
  });

  it('manager: the same network passes', async () => {
    const { results } = await run('manager');
    expect(results.every((x) => x.status === 'OK')).toBe(true);
  });

  it('broken: an isolated subnet without ecr.dkr and ssmmessages endpoints fails on exactly those two', async () => {
    const problem = V.problems.find((p) => p.id === 'network-no-egress')!;
    const { results, r, calls } = await run('broken');
    expect(results.map((x) => [x.id, x.status])).toEqual([
      ['network:subnets', 'OK'],
      ['network:security-groups', 'OK'],
      ['network:egress', 'OK'],
      ['network:endpoint:ecr.api', 'OK'],
      ['network:endpoint:ecr.dkr', 'FAIL'],
      ['network:endpoint:s3', 'OK'],
      ['network:endpoint:logs', 'OK'],
      ['network:endpoint:ssm', 'OK'],
      ['network:endpoint:secretsmanager', 'OK'],
      ['network:endpoint:ssmmessages', 'FAIL'],
    ]);
    expect(r['network:egress']!.message).toContain(`\`${problem.resource}\` → no default route (0.0.0.0/0)`);
    expect(r['network:egress']!.message).toContain('reach AWS only through VPC endpoints');
    const dkr = r['network:endpoint:ecr.dkr']!;
    expect(dkr.message).toContain(`\`${NET.isolated.vpc}\` has no \`com.amazonaws.us-east-1.ecr.dkr\` endpoint`);
    expect(dkr.message).toContain("pulling `app`'s image");
    expect(dkr.fix).toContain(
      `aws ec2 create-vpc-endpoint --region us-east-1 --vpc-id ${NET.isolated.vpc} --vpc-endpoint-type Interface --service-name com.amazonaws.us-east-1.ecr.dkr --subnet-ids ${NET.isolated.subnet} --security-group-ids ${NET.isolated.endpointSecurityGroup} --private-dns-enabled`,
    );
    expect(dkr.fix).toContain(`--route-table-id ${NET.isolated.mainRouteTable} --destination-cidr-block 0.0.0.0/0 --nat-gateway-id`);
    expect(r['network:endpoint:ssmmessages']!.message).toContain('ECS Exec sessions');
    expect(r['network:endpoint:s3']!.message).toContain('Gateway');
    expect(results.every((x) => x.status !== 'FAIL' || x.fix)).toBe(true);
    // The kms endpoint exists but is not needed: Secrets Manager and SSM decrypt on the task's behalf.
    expect(r['network:endpoint:kms']).toBeUndefined();
    expect(calls.filter((c) => c.action === 'DescribeVpcEndpoints')).toHaveLength(1);
    expect(calls.filter((c) => c.action === 'DescribeRouteTables')).toHaveLength(1);
    // The tasks' groups, then (once) the groups of the VPC's interface endpoints.
    expect(calls.filter((c) => c.action === 'DescribeSecurityGroups')).toHaveLength(2);
  });
});

describe('network checks: made-up failures', () => {
  it('another network mode is skipped', async () => {
    patch(region().ecs.taskDefinitions.get('web:42')!.taskDefinition, { networkMode: 'bridge' });
    const { results, calls } = await run('web');
    expect(results.map((x) => [x.id, x.status])).toEqual([['network', 'SKIP']]);
    expect(calls).toEqual([]);
  });

  it('a deleted subnet fails (and the egress check waits for it); a deleted group fails', async () => {
    patch(service('web'), awsvpc([NET.privateSubnets[0], 'subnet-0deadbeef0000000'], [NET.taskSecurityGroup, 'sg-0deadbeef0000000']));
    const { r } = await run('web');
    expect(r['network:subnets']!.status).toBe('FAIL');
    expect(r['network:subnets']!.message).toContain('`subnet-0deadbeef0000000` does not exist');
    expect(r['network:subnets']!.fix).toContain(`subnets=[${NET.privateSubnets[0]}]`);
    expect(r['network:egress']!.status).toBe('SKIP');
    expect(r['network:security-groups']!.status).toBe('FAIL');
    expect(r['network:security-groups']!.fix).toContain(`securityGroups=[${NET.taskSecurityGroup}]`);
  });

  it('a group in another VPC, or one that allows no outbound HTTPS, fails', async () => {
    patch(service('web'), awsvpc([...NET.privateSubnets], [NET.isolated.securityGroup]));
    let { r } = await run('web');
    expect(r['network:security-groups']!.status).toBe('FAIL');
    expect(r['network:security-groups']!.message).toContain(`is in \`${NET.isolated.vpc}\``);

    patch(securityGroup(NET.taskSecurityGroup), { IpPermissionsEgress: [] } as Partial<SecurityGroup>);
    patch(service('web'), awsvpc([...NET.privateSubnets], [NET.taskSecurityGroup]));
    ({ r } = await run('web'));
    expect(r['network:security-groups']!.status).toBe('FAIL');
    expect(r['network:security-groups']!.message).toContain('allows outbound HTTPS (tcp 443)');
    expect(r['network:security-groups']!.fix).toContain(`authorize-security-group-egress --region us-east-1 --group-id ${NET.taskSecurityGroup}`);
  });

  it('a public subnet without a public IP has no way out: it says so, and every needed endpoint fails', async () => {
    patch(service('web'), awsvpc([NET.publicSubnet], [NET.taskSecurityGroup], 'DISABLED'));
    const { r } = await run('web');
    expect(r['network:egress']!.message).toContain(`internet gateway \`${NET.internetGateway}\`, but \`assignPublicIp\` is DISABLED`);
    for (const name of ['ecr.api', 'ecr.dkr', 'logs', 'ssm', 'secretsmanager', 'ssmmessages']) expect(r[`network:endpoint:${name}`]!.status).toBe('FAIL');
    // The VPC's S3 gateway endpoint exists but is not in the public subnet's route table.
    expect(r['network:endpoint:s3']!.status).toBe('FAIL');
    expect(r['network:endpoint:s3']!.fix).toContain(
      `modify-vpc-endpoint --region us-east-1 --vpc-endpoint-id ${NET.s3Endpoint} --add-route-table-ids ${NET.routeTables.public}`,
    );
    // No endpoint serves public.ecr.aws: the log router's image needs the internet.
    expect(r['network:internet']!.status).toBe('FAIL');
    expect(r['network:internet']!.message).toContain('`log-router`');
    // Without other interface endpoints in this VPC, the fix uses the tasks' group and says what it must allow.
    expect(r['network:endpoint:ecr.dkr']!.fix).toContain(
      `--security-group-ids ${NET.taskSecurityGroup} --private-dns-enabled\` (that group must allow inbound tcp 443 from the tasks)`,
    );
    // The subnet already routes to an internet gateway: a public IP is the other way out.
    expect(r['network:endpoint:ecr.dkr']!.fix).toContain('assignPublicIp=ENABLED');
  });

  it('with a public IP, the internet gateway is a way out', async () => {
    patch(service('web'), awsvpc([NET.publicSubnet], [NET.taskSecurityGroup], 'ENABLED'));
    const { results, r } = await run('web');
    expect(r['network:egress']!.message).toContain('tasks get a public IP');
    expect(results.some((x) => x.id.startsWith('network:endpoint'))).toBe(false);
  });

  it('a NAT route left as a blackhole is no way out', async () => {
    const nat = ec2()
      .routeTables.find((t) => t.RouteTableId === NET.routeTables.privateA)!
      .Routes!.find((x) => x.NatGatewayId)!;
    patch(nat, { State: 'blackhole' } as Partial<Route>);
    const { r } = await run('web');
    expect(r['network:egress']!.message).toContain(`\`${NET.natGateway}\`, which no longer exists (blackhole)`);
    expect(r['network:endpoint:ecr.dkr']!.status).toBe('FAIL');
  });

  it('endpoints: pending is a WARN, private DNS off is a WARN, a group shutting the tasks out fails, a gateway missing the route table fails', async () => {
    patch(endpoint(NET.isolated.vpc, 'ecr.api'), { State: 'pending' as VpcEndpoint['State'] });
    patch(endpoint(NET.isolated.vpc, 'logs'), { PrivateDnsEnabled: false });
    patch(securityGroup(NET.isolated.endpointSecurityGroup), { IpPermissions: [] } as Partial<SecurityGroup>);
    patch(endpoint(NET.isolated.vpc, 's3'), { RouteTableIds: [] });
    const { r } = await run('broken');
    expect(r['network:endpoint:ecr.api']).toMatchObject({ status: 'WARN' });
    expect(r['network:endpoint:ecr.api']!.message).toContain('is pending');
    const logs = r['network:endpoint:logs']!;
    expect(logs.status).toBe('FAIL'); // the group also shuts the tasks out
    expect(logs.message).toContain('private DNS off');
    expect(logs.message).toContain(
      `(\`${NET.isolated.endpointSecurityGroup}\`) does not allow inbound tcp 443 from the tasks in \`${NET.isolated.subnet} 10.1.1.0/24\``,
    );
    expect(logs.fix).toContain(
      `authorize-security-group-ingress --region us-east-1 --group-id ${NET.isolated.endpointSecurityGroup} --protocol tcp --port 443 --source-group ${NET.isolated.securityGroup}`,
    );
    expect(r['network:endpoint:s3']!.status).toBe('FAIL');
    expect(r['network:endpoint:s3']!.fix).toContain(`--add-route-table-ids ${NET.isolated.mainRouteTable}`);
  });

  it('on EC2, only what the task itself reaches (ECS Exec) needs an endpoint', async () => {
    patch(service('broken'), { launchType: 'EC2' } as Partial<Service>);
    const { results, r } = await run('broken');
    expect(results.filter((x) => x.id.startsWith('network:endpoint')).map((x) => [x.id, x.status])).toEqual([['network:endpoint:ssmmessages', 'FAIL']]);
    expect(r['network:egress']!.message).toContain('container instance’s own network, which is not checked');

    // …and without ECS Exec, nothing at all: no endpoint checks, and the egress check says why.
    patch(service('broken'), { enableExecuteCommand: false });
    const again = await run('broken');
    expect(again.results.some((x) => x.id.startsWith('network:endpoint'))).toBe(false);
    expect(again.r['network:egress']!.message).toContain('The tasks have no way out, but need no AWS service through their own network interface');
  });

  it('when the bot may not describe subnets, says which permission it needs (never OK)', async () => {
    onTestFinished(h.aws.faults.deny('ec2:DescribeSubnets'));
    const { r } = await run('web');
    expect(r['network:subnets']).toMatchObject({ status: 'WARN', unverified: true });
    expect(r['network:subnets']!.message).toContain('`ec2:DescribeSubnets`');
    expect(r['network:egress']!.status).not.toBe('OK');
    expect(r['network:security-groups']!.status).toBe('OK');
  });

  it('when the bot may not describe endpoints, each endpoint check says so', async () => {
    onTestFinished(h.aws.faults.deny('ec2:DescribeVpcEndpoints'));
    const { results } = await run('broken');
    const endpoints = results.filter((x) => x.id.startsWith('network:endpoint'));
    expect(endpoints.length).toBeGreaterThan(0);
    for (const e of endpoints) expect(e).toMatchObject({ status: 'WARN', unverified: true });
    expect(endpoints[0]!.message).toContain('`ec2:DescribeVpcEndpoints`');
  });
});

describe('network helpers', () => {
  it('contains CIDRs', () => {
    expect(cidrContains('10.1.0.0/16', '10.1.1.0/24')).toBe(true);
    expect(cidrContains('10.1.1.0/24', '10.1.0.0/16')).toBe(false);
    expect(cidrContains('10.2.0.0/16', '10.1.1.0/24')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '192.168.3.0/24')).toBe(true);
    expect(cidrContains('not-a-cidr', '10.0.0.0/8')).toBe(false);
  });

  it('words default routes', () => {
    expect(classifyDefaultRoute(undefined, false).egress).toBe('no');
    expect(classifyDefaultRoute({ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'active' }, false).egress).toBe('yes');
    expect(classifyDefaultRoute({ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'active' }, true).egress).toBe('yes');
    expect(classifyDefaultRoute({ DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'active' }, false).egress).toBe('no');
    expect(classifyDefaultRoute({ DestinationCidrBlock: '0.0.0.0/0', TransitGatewayId: 'tgw-1', State: 'active' }, false)).toMatchObject({ egress: 'assumed' });
    expect(classifyDefaultRoute({ DestinationCidrBlock: '0.0.0.0/0', VpcPeeringConnectionId: 'pcx-1', State: 'active' }, false).egress).toBe('no');
  });
});
