import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { FLEET_CLUSTER, seedFleet, seedFleetService, type SeededFleet } from '../local/aws/seed-fleet';
import { organizationOf, putOrganizationAccount } from '../local/aws/services/organizations';
import { clearCredentialCache } from '../src/aws/credentials';
import { fleetSchema, type FleetConfig } from '../src/config/fleet-schema';
import { accountState, sdkFleetAws } from '../src/fleet/aws';
import { mergeCatalog } from '../src/fleet/refresh';
import { aliasFromTemplate, discoverFleet, MAX_IN_FLIGHT_PER_ACCOUNT, type EcsReader, type FleetAws } from '../src/fleet/discovery';

/** Discovery against the emulator's organization and accounts, through the SDK as in production. */
const admin = { teamId: 'T0LOCAL', userId: 'U0ADMIN' };
const MANAGEMENT = '111111111111';
const TAG = 'ecs-chatops:alias';
let aws: AwsEmulator;
let fleet: SeededFleet;
const made: Array<{ destroy(): void }> = [];

const config = (extra: Partial<FleetConfig> = {}): FleetConfig => ({
  ...fleetSchema.parse({ organizations: true, regions: ['us-east-1', 'eu-west-1'] })!,
  ...extra,
});
const fleetAws = () => {
  const f = sdkFleetAws(admin, 'us-east-1');
  made.push(f);
  return f;
};

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  aws = await startAwsEmulator({ seed: false });
  Object.assign(process.env, aws.endpointEnv());
  fleet = seedFleet(aws.state, { accounts: 12, regions: ['us-east-1', 'eu-west-1'], servicesPerAccount: 3, broken: 2 });
});
afterAll(async () => {
  await aws.close();
});
beforeEach(() => {
  clearCredentialCache();
  aws.traffic.resetMeter();
});
afterEach(() => {
  for (const f of made.splice(0)) f.destroy();
  aws.traffic.throttle('*', undefined);
  aws.traffic.latencyMs = 0;
});

describe('fleet discovery', () => {
  it('finds every service of the organization with its alias tag and labels; an account without the role is one result with its fix', async () => {
    const result = await discoverFleet(config(), fleetAws());
    // The management account has no role either: it is reported like any other.
    expect(result.accounts).toBe(13);
    const expected = fleet.services.filter((s) => !fleet.missingRole.includes(s.accountId));
    expect(result.services.map((s) => s.alias).sort()).toEqual(expected.map((s) => s.alias).sort());
    const one = result.services.find((s) => s.alias === 'api-fleet-001')!;
    expect(one).toEqual({
      alias: 'api-fleet-001',
      accountId: '300000000001',
      region: 'us-east-1',
      cluster: 'fleet',
      service: 'api',
      serviceArn: 'arn:aws:ecs:us-east-1:300000000001:service/fleet/api',
      roleArn: 'arn:aws:iam::300000000001:role/ecs-chatops-target',
      labels: { env: 'prod', team: 'payments' },
      source: 'discovered',
    });
    expect(result.failures.map((f) => [f.accountId, f.reason])).toEqual([[MANAGEMENT, 'role'], ...fleet.missingRole.map((id) => [id, 'role'])]);
    expect(result.failures.at(-1)!.fix).toContain(`deploy infra/cross-account-role.yaml in ${fleet.missingRole[0]}`);
  });

  it('names an untagged service by the naming rule, reports a tag that is no alias, and gives every claimant of an alias to the refresh', async () => {
    const r = aws.state.region('300000000003', 'us-east-1');
    const api = r.ecs.clusters.get('fleet')!.services.get('api')!;
    const saved = structuredClone(api.tags);
    const worker = aws.state.region('300000000003', 'eu-west-1').ecs.clusters.get('fleet')!.services.get('worker')!;
    const savedWorker = structuredClone(worker.tags);
    const web = r.ecs.clusters.get('fleet')!.services.get('web')!;
    const savedWeb = structuredClone(web.tags);
    try {
      api.tags = api.tags!.filter((t) => t.key !== 'ecs-chatops:alias');
      worker.tags = [{ key: 'ecs-chatops:alias', value: 'Not An Alias' }];
      web.tags = [{ key: 'ecs-chatops:alias', value: 'api-fleet-001' }];
      const result = await discoverFleet(
        config({ accounts: ['300000000003', '300000000001'], organizations: false, aliasTemplate: '{region}-{service}-{accountId}' }),
        fleetAws(),
      );
      expect(result.services.map((s) => s.alias)).toContain('us-east-1-api-300000000003');
      expect(result.skipped).toEqual([
        expect.objectContaining({ serviceArn: worker.serviceArn, reason: expect.stringContaining('`Not An Alias` is not an alias') }),
      ]);
      // Who keeps `api-fleet-001` is the refresh's to settle (mergeCatalog): it knows who held it.
      expect(result.services.filter((s) => s.alias === 'api-fleet-001').map((s) => s.serviceArn)).toEqual([
        'arn:aws:ecs:us-east-1:300000000001:service/fleet/api',
        web.serviceArn,
      ]);
    } finally {
      api.tags = saved;
      worker.tags = savedWorker;
      web.tags = savedWeb;
    }
  });

  it('filters accounts by OU and by account tag, and leaves out the excluded', async () => {
    const byOu = await discoverFleet(config({ organizationalUnits: [fleet.units.staging!] }), fleetAws());
    expect(new Set(byOu.services.map((s) => s.labels.env))).toEqual(new Set(['staging']));
    putOrganizationAccount(aws.state, { id: '300000000099', name: 'tagless' });
    const byTag = await discoverFleet(config({ accountTags: { team: 'search' }, excludeAccounts: ['300000000002'] }), fleetAws());
    expect(new Set(byTag.services.map((s) => s.accountId))).toEqual(new Set(['300000000006', '300000000010']));
    expect(byTag.failures).toEqual([]);
  });

  it('keeps at most five calls in flight per account, and backs off when throttled rather than failing', async () => {
    aws.traffic.latencyMs = 20;
    aws.traffic.throttle('300000000005', { burst: 2, perSecond: 10 });
    const result = await discoverFleet(config({ organizations: false, accounts: ['300000000005', '300000000006'] }), fleetAws());
    expect(aws.traffic.throttled.get('300000000005')).toBeGreaterThan(0);
    expect(result.failures).toEqual([]);
    expect(result.services.filter((s) => s.accountId === '300000000005')).toHaveLength(3);
    expect(aws.traffic.maxInFlight('300000000006')).toBeLessThanOrEqual(MAX_IN_FLIGHT_PER_ACCOUNT);
    expect(aws.traffic.maxInFlight('300000000006')).toBeGreaterThan(1);
  });

  it('says why an account refused ECS: its role lacks the grants', async () => {
    const lift = aws.faults.deny('ecs:ListClusters', { principal: 'arn:aws:sts::300000000005:*' });
    try {
      const result = await discoverFleet(config({ organizations: false, accounts: ['300000000005'], regions: ['us-east-1'] }), fleetAws());
      expect(result.failures).toEqual([expect.objectContaining({ accountId: '300000000005', region: 'us-east-1', reason: 'access' })]);
    } finally {
      lift();
    }
  });
});

describe('accounts that are not ACTIVE', () => {
  it('are not looked in: listed with their State (not as failures), and their services leave the catalog at the refresh', async () => {
    const org = organizationOf(aws.state)!;
    const states = { '300000000004': 'SUSPENDED', '300000000005': 'PENDING_CLOSURE', '300000000006': 'CLOSED', '300000000007': 'PENDING_ACTIVATION' } as const;
    const first = await discoverFleet(config(), fleetAws());
    const before = mergeCatalog(first, [], [], TAG).services;
    try {
      for (const [id, state] of Object.entries(states)) org.accounts.get(id)!.state = state;
      const after = await discoverFleet(config(), fleetAws());
      expect(after.inactive).toEqual(
        Object.entries(states).map(([accountId, state]) => ({ accountId, accountName: org.accounts.get(accountId)!.name, state })),
      );
      // 300000000004 has no target role either: not active, so not "deploy the target role".
      expect(after.failures.map((f) => f.accountId)).not.toContain('300000000004');
      expect(after.accounts).toBe(first.accounts - 4);
      const merged = mergeCatalog(after, [], before, TAG);
      expect(before.some((s) => s.accountId === '300000000005')).toBe(true);
      expect(merged.services.filter((s) => s.accountId in states)).toEqual([]);
      expect(merged.kept).toBe(0);
    } finally {
      for (const id of Object.keys(states)) org.accounts.get(id)!.state = 'ACTIVE';
    }
  });
});

describe('aliases from the naming rule', () => {
  const ACCOUNT = '300000000011';
  /** `twin` in cluster `fleet` of each region of ACCOUNT, untagged, and in cluster `blue` of us-east-1; removed afterwards. */
  function twins(): () => void {
    const cleanups: Array<() => void> = [];
    for (const region of ['us-east-1', 'eu-west-1']) {
      seedFleetService(aws.state, { accountId: ACCOUNT, region, serviceName: 'twin', alias: 'unused', env: 'prod', team: 'payments' });
      const cluster = aws.state.region(ACCOUNT, region).ecs.clusters.get(FLEET_CLUSTER)!;
      cluster.services.get('twin')!.tags = [{ key: 'env', value: 'prod' }];
      cleanups.push(() => cluster.services.delete('twin'));
    }
    const r = aws.state.region(ACCOUNT, 'us-east-1');
    const fleetCluster = r.ecs.clusters.get(FLEET_CLUSTER)!;
    const twin = fleetCluster.services.get('twin')!;
    const clusterArn = fleetCluster.cluster.clusterArn!.replace(`/${FLEET_CLUSTER}`, '/blue');
    r.ecs.clusters.set('blue', {
      cluster: { ...fleetCluster.cluster, clusterArn, clusterName: 'blue' },
      services: new Map([['twin', { ...twin, clusterArn, serviceArn: twin.serviceArn!.replace(`/${FLEET_CLUSTER}/`, '/blue/') }]]),
      tasks: new Map(),
    });
    cleanups.push(() => r.ecs.clusters.delete('blue'));
    return () => {
      for (const cleanup of cleanups) cleanup();
    };
  }

  it('are unique per region by default when several regions are configured; the same name in two clusters is reported with the tag to set', async () => {
    const remove = twins();
    try {
      const twoRegions = config({ organizations: false, accounts: [ACCOUNT] });
      expect(twoRegions.aliasTemplate).toBeUndefined();
      const found = await discoverFleet(twoRegions, fleetAws());
      const twinsFound = found.services.filter((s) => s.service === 'twin');
      expect(twinsFound.map((s) => [s.alias, s.region, s.cluster])).toEqual([
        [`twin-${ACCOUNT}-eu-west-1`, 'eu-west-1', 'fleet'],
        [`twin-${ACCOUNT}-us-east-1`, 'us-east-1', 'blue'],
        [`twin-${ACCOUNT}-us-east-1`, 'us-east-1', 'fleet'],
      ]);
      const merged = mergeCatalog(found, [], [], TAG);
      expect(merged.services.filter((s) => s.service === 'twin').map((s) => s.alias)).toEqual([`twin-${ACCOUNT}-eu-west-1`]);
      expect(merged.skipped).toEqual([
        {
          serviceArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:service/blue/twin`,
          reason: expect.stringContaining(
            `\`twin\` in each of the clusters \`blue\`, \`fleet\` of ${ACCOUNT} us-east-1 claims the alias \`twin-${ACCOUNT}-us-east-1\``,
          ),
        },
        {
          serviceArn: `arn:aws:ecs:us-east-1:${ACCOUNT}:service/fleet/twin`,
          reason: expect.stringContaining(`tag this service \`${TAG}=twin-${ACCOUNT}-us-east-1-fleet\``),
        },
      ]);
      // One region: the shorter rule, no region in it.
      const oneRegion = await discoverFleet(config({ organizations: false, accounts: [ACCOUNT], regions: ['eu-west-1'] }), fleetAws());
      expect(oneRegion.services.filter((s) => s.service === 'twin').map((s) => s.alias)).toEqual([`twin-${ACCOUNT}`]);
    } finally {
      remove();
    }
  });
});

describe('the default naming rule uses the account id, not its name', () => {
  // Two accounts of the organization, neither broken: their services lose their alias tag, so the naming rule names them.
  const [FIRST, SECOND] = ['300000000007', '300000000008'];
  function untagged(): () => void {
    const org = organizationOf(aws.state)!;
    const restore: Array<() => void> = [];
    for (const accountId of [FIRST, SECOND]) {
      const name = org.accounts.get(accountId)!.name;
      restore.push(() => {
        org.accounts.get(accountId)!.name = name;
      });
      for (const region of ['us-east-1', 'eu-west-1']) {
        for (const service of aws.state.region(accountId, region).ecs.clusters.get(FLEET_CLUSTER)!.services.values()) {
          const tags = service.tags;
          service.tags = tags!.filter((t) => t.key !== TAG);
          restore.push(() => {
            service.tags = tags;
          });
        }
      }
    }
    return () => {
      for (const undo of restore) undo();
    };
  }
  const refresh = async (previous: Parameters<typeof mergeCatalog>[2]) =>
    mergeCatalog(await discoverFleet(config({ organizationalUnits: [] }), fleetAws()), [], previous, TAG);
  const aliasesOf = (services: Parameters<typeof mergeCatalog>[2], accountId: string) =>
    services
      .filter((s) => s.accountId === accountId)
      .map((s) => s.alias)
      .sort();

  it('gives two accounts of the same name distinct aliases, none left out', async () => {
    const restore = untagged();
    try {
      const org = organizationOf(aws.state)!;
      org.accounts.get(SECOND)!.name = org.accounts.get(FIRST)!.name;
      const merged = await refresh([]);
      expect(aliasesOf(merged.services, FIRST)).toEqual([`api-${FIRST}-us-east-1`, `web-${FIRST}-us-east-1`, `worker-${FIRST}-eu-west-1`]);
      expect(aliasesOf(merged.services, SECOND)).toEqual([`api-${SECOND}-us-east-1`, `web-${SECOND}-us-east-1`, `worker-${SECOND}-eu-west-1`]);
      expect(merged.skipped.filter((s) => s.serviceArn.includes(FIRST) || s.serviceArn.includes(SECOND))).toEqual([]);
    } finally {
      restore();
    }
  });

  it('keeps every alias of an account that is renamed', async () => {
    const restore = untagged();
    try {
      const before = await refresh([]);
      organizationOf(aws.state)!.accounts.get(FIRST)!.name = 'payments-prod-renamed';
      const after = await refresh(before.services);
      expect(aliasesOf(after.services, FIRST)).toEqual(aliasesOf(before.services, FIRST));
      expect(aliasesOf(after.services, FIRST)).toHaveLength(3);
      expect(after.services.filter((s) => s.accountId === FIRST)).toEqual(before.services.filter((s) => s.accountId === FIRST));
    } finally {
      restore();
    }
  });
});

describe("the bot's own session refused", () => {
  it('is one result with its own fix, not "deploy the target role": at AssumeRole, or in one region', async () => {
    const refused = (name: string) => Object.assign(new Error('The security token included in the request is invalid.'), { name });
    const reader: EcsReader = {
      listClusters: async () => {
        throw refused('InvalidClientTokenId');
      },
      listServices: async () => ({ serviceArns: [] }),
      describeServices: async () => [],
    };
    const fake: FleetAws = {
      organizationAccounts: async () => [],
      assume: async (accountId) => {
        if (accountId === '300000000001') throw refused('ExpiredToken');
        return () => reader;
      },
      own: () => () => reader,
    };
    const result = await discoverFleet(config({ organizations: false, accounts: ['300000000001', '300000000002'], regions: ['ap-east-1'] }), fake);
    expect(result.failures.map((f) => [f.accountId, f.region, f.reason, f.fix])).toEqual([
      [
        '300000000001',
        undefined,
        'error',
        "the bot's own AWS session was refused (expired or not valid there), not the target role: run it again; if it persists, check the bot's deployment (its Lambda role)",
      ],
      ['300000000002', 'ap-east-1', 'error', expect.stringContaining('check that ap-east-1 is enabled in 300000000002 and')],
    ]);
  });
});

describe('the per-account bound', () => {
  it('never has more than five calls of one account in flight, however many clusters and services it has', async () => {
    let inFlight = 0;
    let peak = 0;
    const tracked = async <T>(value: T): Promise<T> => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 2));
      inFlight--;
      return value;
    };
    const clusters = Array.from({ length: 30 }, (_, i) => `arn:aws:ecs:us-east-1:300000000001:cluster/c${i}`);
    const reader: EcsReader = {
      listClusters: () => tracked({ clusterArns: clusters }),
      listServices: (cluster) => tracked({ serviceArns: Array.from({ length: 25 }, (_, i) => `${cluster.replace(':cluster/', ':service/')}/s${i}`) }),
      describeServices: (_cluster, arns) =>
        tracked(arns.map((serviceArn) => ({ serviceArn, serviceName: serviceArn.split('/').pop()!, status: 'ACTIVE', tags: [] }))),
    };
    const fake: FleetAws = { organizationAccounts: async () => [], assume: async () => () => reader, own: () => () => reader };
    const result = await discoverFleet(config({ organizations: false, accounts: ['300000000001'], regions: ['us-east-1', 'eu-west-1'] }), fake);
    expect(result.failures).toEqual([]);
    expect(peak).toBe(MAX_IN_FLIGHT_PER_ACCOUNT);
  });
});

describe('the naming rule', () => {
  it("fills placeholders, lowercases, turns other characters into dashes; beyond 40, cuts the service's name and adds a hash of the whole", () => {
    expect(aliasFromTemplate('{service}-{account}', { service: 'Web_API', account: 'Prod Payments', accountId: '1', cluster: 'c', region: 'r' })).toBe(
      'web-api-prod-payments',
    );
    const long = (region: string) =>
      aliasFromTemplate('{service}-{account}-{region}', { service: 'payments-gateway', account: 'acme-production', accountId: '1', cluster: 'c', region });
    const [one, two] = [long('ap-southeast-1'), long('ap-southeast-2')];
    // The service's name is cut, the rest kept whole.
    expect(one).toMatch(/^paym-[0-9a-f]{4}-acme-production-ap-southeast-1$/);
    expect(one).toHaveLength(40);
    expect(two).not.toBe(one);
    expect(long('ap-southeast-1')).toBe(one);
    expect(aliasFromTemplate('{accountId}-{service}', { service: 'x'.repeat(50), account: 'a', accountId: '123', cluster: 'c', region: 'r' })).toMatch(
      /^x{35}-[0-9a-f]{4}$/,
    );
  });

  it('keeps the account id and region whole when a long name is cut: one long service name in 200 accounts gets 200 aliases', () => {
    const service = 'otel-collector-sidecar-service';
    const ids = Array.from({ length: 200 }, (_, i) => String(400_000_000_000 + i * 7919));
    const aliases = ids.map((accountId) =>
      aliasFromTemplate('{service}-{accountId}-{region}', { service, account: 'shared-name', accountId, cluster: 'c', region: 'ap-southeast-1' }),
    );
    expect(new Set(aliases).size).toBe(ids.length);
    aliases.forEach((alias, i) => {
      expect(alias).toMatch(/^[a-z][a-z0-9-]{0,39}$/);
      expect(alias).toMatch(new RegExp(`^otel-co-[0-9a-f]{4}-${ids[i]}-ap-southeast-1$`));
    });
    // Two long names alike at the start in one account and region stay apart by the hash.
    const alike = (name: string) => aliasFromTemplate('{service}-{accountId}', { service: name, account: 'a', accountId: ids[0]!, cluster: 'c', region: 'r' });
    expect(alike(`${service}-blue-canary`)).not.toBe(alike(`${service}-green-canary`));
    expect(alike(`${service}-blue-canary`)).toHaveLength(40);
  });

  it("reads an account's State, the retired Status only when State is absent", () => {
    expect(accountState({ State: 'SUSPENDED', Status: 'ACTIVE' })).toBe('SUSPENDED');
    expect(accountState({ Status: 'PENDING_CLOSURE' })).toBe('PENDING_CLOSURE');
    expect(accountState({})).toBeUndefined();
  });
});
