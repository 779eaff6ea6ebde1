import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DescribeServicesCommand, ECSClient, ListClustersCommand, ListServicesCommand, ListTagsForResourceCommand } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { seedFleet } from '../local/aws/seed-fleet';
import { ecrState } from '../local/aws/services/ecr';

/** The fleet seed, and the latency, per-account throttling and in-flight meter every emulator call passes. */
let emu: AwsEmulator;
const destroy: Array<{ destroy(): void }> = [];

beforeEach(async () => {
  emu = await startAwsEmulator({ seed: false });
});
afterEach(async () => {
  for (const c of destroy.splice(0)) c.destroy();
  await emu.close();
});

/** An ECS client signed as the target role of `account` (assumed from the emulator's default principal). */
async function ecsIn(account: string, region = 'us-east-1', maxAttempts = 1): Promise<ECSClient> {
  const sts = new STSClient({ region, endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
  destroy.push(sts);
  const out = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/ecs-chatops-target`, RoleSessionName: 'fleet-test' }));
  const c = out.Credentials!;
  const ecs = new ECSClient({
    region,
    endpoint: emu.url,
    maxAttempts,
    credentials: { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! },
  });
  destroy.push(ecs);
  return ecs;
}

describe('seedFleet', () => {
  it('creates accounts in OUs with tags, the target role, a cluster per region and tagged services with their tasks', async () => {
    const fleet = seedFleet(emu.state, { accounts: 4, regions: ['us-east-1', 'eu-west-1'], servicesPerAccount: 5 });
    expect(fleet.accounts.map((a) => [a.id, a.ou, a.team])).toEqual([
      ['300000000001', 'prod', 'payments'],
      ['300000000002', 'staging', 'search'],
      ['300000000003', 'prod', 'identity'],
      ['300000000004', 'staging', 'growth'],
    ]);
    expect(fleet.services).toHaveLength(20);
    const ecs = await ecsIn('300000000001', 'eu-west-1');
    const clusters = await ecs.send(new ListClustersCommand({}));
    expect(clusters.clusterArns).toEqual(['arn:aws:ecs:eu-west-1:300000000001:cluster/fleet']);
    const { serviceArns } = await ecs.send(new ListServicesCommand({ cluster: 'fleet' }));
    expect(serviceArns).toHaveLength(2);
    const { services } = await ecs.send(new DescribeServicesCommand({ cluster: 'fleet', services: serviceArns, include: ['TAGS'] }));
    expect(services![0]).toMatchObject({ runningCount: 2, desiredCount: 2, status: 'ACTIVE' });
    expect(services![0]!.tags).toEqual([
      { key: 'ecs-chatops:alias', value: 'worker-fleet-001' },
      { key: 'env', value: 'prod' },
      { key: 'team', value: 'payments' },
    ]);
    const tags = await ecs.send(new ListTagsForResourceCommand({ resourceArn: serviceArns![0] }));
    expect(tags.tags).toEqual(services![0]!.tags);
    await expect(ecs.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:ecs:eu-west-1:300000000001:service/fleet/nope' }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });

  it('breaks what it is asked to: accounts without the target role, services whose image is not in ECR', async () => {
    const fleet = seedFleet(emu.state, { accounts: 10, regions: ['us-east-1'], broken: 4 });
    expect(fleet.missingRole).toHaveLength(2);
    expect(fleet.failingServices).toHaveLength(2);
    await expect(ecsIn(fleet.missingRole[0]!)).rejects.toMatchObject({ name: 'AccessDenied' });
    const [, region, account, , service] = /^arn:aws:ecs:([^:]+):(\d+):service\/(\w+)\/(.+)$/.exec(fleet.failingServices[0]!)!;
    const repo = ecrState(emu.state.region(account!, region!)).get(service!);
    expect(repo?.images).toEqual([]);
  });
});

describe('fleet traffic', () => {
  it('meters the most calls each account had in flight at once, with latency per call', async () => {
    seedFleet(emu.state, { accounts: 2, regions: ['us-east-1'], traffic: emu.traffic, latencyMs: 30 });
    const a = await ecsIn('300000000001');
    const b = await ecsIn('300000000002');
    emu.traffic.resetMeter();
    const started = Date.now();
    await Promise.all([...Array.from({ length: 4 }, () => a.send(new ListClustersCommand({}))), b.send(new ListClustersCommand({}))]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(30);
    expect(emu.traffic.maxInFlight('300000000001')).toBe(4);
    expect(emu.traffic.maxInFlight('300000000002')).toBe(1);
    expect(emu.traffic.maxInFlightPerAccount()).toEqual({ accountId: '300000000001', max: 4 });
  });

  it('throttles one account beyond its burst with ECS ThrottlingException, leaving the others alone', async () => {
    seedFleet(emu.state, { accounts: 2, regions: ['us-east-1'] });
    const a = await ecsIn('300000000001');
    const b = await ecsIn('300000000002');
    emu.traffic.throttle('300000000001', { burst: 2, perSecond: 0.001 });
    await a.send(new ListClustersCommand({}));
    await a.send(new ListClustersCommand({}));
    await expect(a.send(new ListClustersCommand({}))).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded' });
    await b.send(new ListClustersCommand({}));
    expect(emu.traffic.throttled.get('300000000001')).toBe(1);
    emu.traffic.throttle('300000000001', undefined);
    await a.send(new ListClustersCommand({}));
  });

  it('throttles every account when asked through the seed, and the SDK retries until the bucket refills', async () => {
    seedFleet(emu.state, { accounts: 1, regions: ['us-east-1'], traffic: emu.traffic, throttle: { burst: 1, perSecond: 20 } });
    // AssumeRole is the bot's account's call: its bucket empties too, so it retries as well.
    const a = await ecsIn('300000000001', 'us-east-1', 5);
    await Promise.all([a.send(new ListClustersCommand({})), a.send(new ListClustersCommand({}))]);
    expect(emu.traffic.throttled.get('300000000001')).toBeGreaterThanOrEqual(1);
  });
});
