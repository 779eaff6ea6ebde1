import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DescribeServicesCommand, ECSClient, ListClustersCommand, ListServicesCommand, ListTagsForResourceCommand } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { seedFleet } from '../local/aws/seed-fleet';
import type { PolicyDocument } from '../local/aws/policy';
import { ecrState } from '../local/aws/services/ecr';
import { putRole, roleDocuments, trustPolicy } from '../local/aws/services/iam';

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

const DEFAULT_PRINCIPAL = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };

/** AssumeRole of `account`'s target role, as the bot asks it (its source identity `ecs-chatops@<user>`), signed as `credentials`. */
async function assumeTarget(
  account: string,
  options: { region?: string; sourceIdentity?: string; credentials?: typeof DEFAULT_PRINCIPAL & { sessionToken?: string } } = {},
) {
  const sts = new STSClient({
    region: options.region ?? 'us-east-1',
    endpoint: emu.url,
    credentials: options.credentials ?? DEFAULT_PRINCIPAL,
    maxAttempts: 1,
  });
  destroy.push(sts);
  const sourceIdentity = 'sourceIdentity' in options ? options.sourceIdentity : 'ecs-chatops@U0TEST';
  return sts.send(
    new AssumeRoleCommand({
      RoleArn: `arn:aws:iam::${account}:role/ecs-chatops-target`,
      RoleSessionName: 'fleet-test',
      ...(sourceIdentity ? { SourceIdentity: sourceIdentity } : {}),
    }),
  );
}

/** An ECS client signed as the target role of `account` (assumed from the emulator's default principal, the bot's stand-in). */
async function ecsIn(account: string, region = 'us-east-1', maxAttempts = 1): Promise<ECSClient> {
  const out = await assumeTarget(account, { region });
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

  it("gives each account infra/cross-account-role.yaml's trust: the bot's named roles only, with an ecs-chatops@ source identity", async () => {
    seedFleet(emu.state, { accounts: 1, regions: ['us-east-1'] });
    const account = '300000000001';
    expect(JSON.stringify(roleDocuments(emu.state, `arn:aws:iam::${account}:role/ecs-chatops-target`)!.trust)).not.toContain(':root');
    // IAM judges enforced principals (authorization.ts): the bot's stand-in role, allowed to assume any role, and another role of its account.
    const allowAssume: PolicyDocument = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'], Resource: '*' }],
    };
    const session = (name: string) => {
      const role = putRole(emu.state, '111111111111', name, { trust: trustPolicy({ Service: 'lambda.amazonaws.com' }), inline: { assume: allowAssume } });
      emu.authority.enforce(role.arn);
      const issued = emu.state.issueCredentials(role, name, { issuedAt: emu.clock.date(), expiration: emu.clock.date(3_600_000) });
      return { accessKeyId: issued.accessKeyId, secretAccessKey: issued.secretAccessKey, sessionToken: issued.sessionToken! };
    };
    const bot = session(emu.state.defaultCredentials.identity.roleArn!.split('/').pop()!);
    await expect(assumeTarget(account, { credentials: bot })).resolves.toMatchObject({ SourceIdentity: 'ecs-chatops@U0TEST' });
    // Without the source identity, or with another one, the trust's condition refuses it.
    for (const sourceIdentity of [undefined, 'someone@U0TEST']) {
      await expect(assumeTarget(account, { credentials: bot, sourceIdentity })).rejects.toMatchObject({ name: 'AccessDenied' });
    }
    // A role of the bot's account the trust does not name is refused, as on AWS, though its own policy allows AssumeRole.
    await expect(assumeTarget(account, { credentials: session('ecs-chatops-local-us-east-1-reports') })).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('sts:AssumeRole'),
    });
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

  it('throttles one account beyond its burst with ECS ThrottlingException, a bucket per region, leaving the others alone', async () => {
    seedFleet(emu.state, { accounts: 2, regions: ['us-east-1'] });
    const a = await ecsIn('300000000001');
    const b = await ecsIn('300000000002');
    emu.traffic.throttle('300000000001', { burst: 2, perSecond: 0.001 });
    await a.send(new ListClustersCommand({}));
    await a.send(new ListClustersCommand({}));
    await expect(a.send(new ListClustersCommand({}))).rejects.toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded' });
    // AWS's limits are per account and region: the same account in another region has its own bucket.
    const aWest = await ecsIn('300000000001', 'eu-west-1');
    await aWest.send(new ListClustersCommand({}));
    await aWest.send(new ListClustersCommand({}));
    await expect(aWest.send(new ListClustersCommand({}))).rejects.toMatchObject({ name: 'ThrottlingException' });
    await b.send(new ListClustersCommand({}));
    expect(emu.traffic.throttled.get('300000000001')).toBe(2);
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
