import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema';
import { CatalogBusyError, type CatalogDb, CatalogTooLargeError, DynamoCatalog, type RefreshRecord } from '../src/fleet/catalog';
import type { DiscoveryResult } from '../src/fleet/discovery';
import { mergeCatalog, refreshCatalog } from '../src/fleet/refresh';
import type { FleetService, Selector } from '../src/fleet/types';
import { ddb } from '../src/platform/dynamo';
import { tableName } from '../src/platform/tables';
import { useLocalDynamo } from './support/local-dynamo';

/** The catalog in DynamoDB (dynalite with serverless.yml's CatalogTable) and the refresh's diff. */
useLocalDynamo();

const TEAMS = ['payments', 'search', 'identity', 'growth'];
function service(i: number, extra: Partial<FleetService> = {}): FleetService {
  const accountId = String(300_000_000_000 + Math.floor(i / 5) + 1);
  const region = i % 2 === 0 ? 'us-east-1' : 'eu-west-1';
  return {
    alias: `svc-${String(i).padStart(4, '0')}`,
    accountId,
    region,
    cluster: 'fleet',
    service: `svc-${i}`,
    serviceArn: `arn:aws:ecs:${region}:${accountId}:service/fleet/svc-${i}`,
    roleArn: `arn:aws:iam::${accountId}:role/ecs-chatops-target`,
    labels: { env: Math.floor(i / 5) % 2 === 0 ? 'prod' : 'staging', team: TEAMS[Math.floor(i / 5) % 4]! },
    source: 'discovered',
    ...extra,
  };
}
const discovery = (services: FleetService[], failures: DiscoveryResult['failures'] = []): DiscoveryResult => ({
  services,
  failures,
  skipped: [],
  accounts: 200,
  inactive: [],
});
const config = parseConfig({
  slack: { teams: ['T0LOCAL'] },
  targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' }, 'svc-0007': { region: 'eu-west-1', cluster: 'x', service: 'y' } },
});

const aliases = async (catalog: DynamoCatalog, selector: Selector) => (await catalog.select(selector)).map((s) => s.alias);
/** A catalog of exactly these services, as a first refresh writes it. */
async function seed(
  catalog: DynamoCatalog,
  services: FleetService[],
  refresh: RefreshRecord = { at: 'x', by: 'test', services: services.length, failedAccounts: 0 },
) {
  await catalog.replace(await catalog.begin({ at: refresh.at, by: refresh.by }), services, refresh);
}

describe('the catalog', () => {
  it('holds 1,000 services: one alias is one read, a selector reads its terms and the services, labels are counted', async () => {
    const catalog = new DynamoCatalog();
    const all = Array.from({ length: 1000 }, (_, i) => service(i));
    await seed(catalog, all, { at: '2026-12-06T20:00:00.000Z', by: 'test', services: 1000, failedAccounts: 0 });
    expect(await catalog.get('svc-0042')).toEqual(all[42]);
    expect(await catalog.get('nope')).toBeUndefined();
    // Many at once (the allowlist's granted services): more than one BatchGetItem, a repeated alias
    // asked once (DynamoDB refuses duplicate keys), a missing one skipped, by alias.
    const wanted = [...all.slice(0, 150).map((s) => s.alias), 'svc-0003', 'nope'].reverse();
    expect(await catalog.getMany(wanted)).toEqual(all.slice(0, 150));
    expect(await catalog.getMany([])).toEqual([]);
    const payments = await catalog.select({
      kind: 'labels',
      terms: [
        { key: 'team', values: ['payments'] },
        { key: 'env', values: ['prod'] },
      ],
    });
    expect(payments.map((s) => s.alias)).toEqual(all.filter((s) => s.labels.team === 'payments' && s.labels.env === 'prod').map((s) => s.alias));
    expect(payments).toHaveLength(250);
    const either = await aliases(catalog, {
      kind: 'labels',
      terms: [
        { key: 'account', values: ['300000000001', '300000000002'] },
        { key: 'region', values: ['eu-west-1'] },
      ],
    });
    expect(either).toEqual(['svc-0001', 'svc-0003', 'svc-0005', 'svc-0007', 'svc-0009']);
    expect((await catalog.select({ kind: 'all' })).length).toBe(1000);
    expect(await catalog.select({ kind: 'labels', terms: [{ key: 'env', values: ['nowhere'] }] })).toEqual([]);
    const labels = await catalog.labels();
    expect(labels.env).toEqual({ prod: 500, staging: 500 });
    expect(labels.region).toEqual({ 'us-east-1': 500, 'eu-west-1': 500 });
    expect(await catalog.lastRefresh()).toMatchObject({ services: 1000 });
  });

  it('refreshes: says what was added, removed and changed, and drops index items nobody carries any more', async () => {
    const catalog = new DynamoCatalog();
    const first = Array.from({ length: 30 }, (_, i) => service(i));
    await seed(catalog, first);
    const next = [...first.slice(1, 29), service(29, { labels: { env: 'staging', team: 'ledger' } }), service(30)];
    const report = await refreshCatalog({ config, catalog, discover: async () => discovery(next), botAccountId: '111111111111', by: 'U0ADMIN' });
    expect(report.added.map((s) => s.alias)).toEqual(['svc-0030', 'web']);
    expect(report.removed.map((s) => s.alias)).toEqual(['svc-0000']);
    expect(report.changed.map((c) => [c.after.alias, c.what])).toEqual([
      ['svc-0007', ['accountId', 'cluster', 'service', 'roleArn', 'source', 'env: staging → ∅', 'team: search → ∅']],
      ['svc-0029', ['team: search → ledger']],
    ]);
    // svc-0007 is a declared alias: the declared target wins, the discovered service is set aside.
    expect(report.skipped).toEqual([expect.objectContaining({ serviceArn: first[7]!.serviceArn, reason: expect.stringContaining('declared') })]);
    expect((await catalog.get('svc-0007'))?.source).toBe('declared');
    expect(await catalog.get('web')).toMatchObject({ accountId: '111111111111', serviceArn: 'arn:aws:ecs:us-east-1:111111111111:service/main/web' });
    expect(await aliases(catalog, { kind: 'labels', terms: [{ key: 'team', values: ['ledger'] }] })).toEqual(['svc-0029']);
    expect(await catalog.get('svc-0000')).toBeUndefined();
    // A second refresh with nothing new changes nothing.
    const again = await refreshCatalog({ config, catalog, discover: async () => discovery(next), botAccountId: '111111111111', by: 'U0ADMIN' });
    expect([again.added, again.removed, again.changed]).toEqual([[], [], []]);
  });

  it('gives a declared target its configured labels only, not the tags of the service it names (anyone with ecs:TagResource could set those)', async () => {
    const catalog = new DynamoCatalog();
    const labelled = parseConfig({
      slack: { teams: ['T0LOCAL'] },
      targets: { named: { region: 'us-east-1', cluster: 'fleet', service: 'svc-0', roleArn: service(0).roleArn, labels: { team: 'platform', tier: 'edge' } } },
    });
    await refreshCatalog({ config: labelled, catalog, discover: async () => discovery([service(0)]), botAccountId: '111111111111', by: 'U0ADMIN' });
    expect((await catalog.get('named'))?.labels).toEqual({ team: 'platform', tier: 'edge' });
    expect(await aliases(catalog, { kind: 'labels', terms: [{ key: 'tier', values: ['edge'] }] })).toEqual(['named']);
    expect(await aliases(catalog, { kind: 'labels', terms: [{ key: 'env', values: ['prod'] }] })).toEqual([]);
    // Its tags do not show up as a change at each refresh either.
    const again = await refreshCatalog({
      config: labelled,
      catalog,
      discover: async () => discovery([service(0)]),
      botAccountId: '111111111111',
      by: 'U0ADMIN',
    });
    expect(again.changed).toEqual([]);
  });
});

/** Every item of the catalog table, by key, as stored. */
async function dump(): Promise<Record<string, unknown>> {
  const items: Record<string, unknown> = {};
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await ddb.scan({ TableName: tableName('catalog'), ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) });
    for (const item of out.Items ?? []) items[String(item.pk)] = item;
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

async function wipe(): Promise<void> {
  for (const pk of Object.keys(await dump())) await ddb.delete({ TableName: tableName('catalog'), Key: { pk } });
}

/** The catalog's DynamoDB calls, with every BatchWriteItem after the first `batches` failing as a Lambda dying there would leave it. */
function crashingAfter(batches: number): CatalogDb {
  let left = batches;
  return {
    ...ddb,
    batchWrite: async (input) => {
      if (left-- <= 0) throw new Error('simulated crash: the refresh died here');
      return ddb.batchWrite(input);
    },
  };
}

describe('a refresh that dies halfway', () => {
  const first = Array.from({ length: 100 }, (_, i) => service(i));
  // The refresh that dies: 10 services gone, 40 relabelled, 30 new (6 batches of writes).
  const crashed = [
    ...first.slice(10).map((s, i) => (i < 40 ? { ...s, labels: { env: 'prod', team: 'ledger' } } : s)),
    ...Array.from({ length: 30 }, (_, i) => service(200 + i, { labels: { env: 'prod', team: 'newcomers' } })),
  ];
  const at = '2026-12-06T21:00:00.000Z';
  const refresh = (catalog: DynamoCatalog, services: FleetService[]) =>
    refreshCatalog({ config, catalog, discover: async () => discovery(services), botAccountId: '111111111111', by: 'U0ADMIN', now: () => new Date(at) });

  // After the crash, the next refresh finds the fleet as the crashed one did, or back as it was (tags rolled back).
  for (const [name, then] of [
    ['the same fleet', crashed],
    ['the fleet as before', first],
  ] as const) {
    for (const batches of [1, 2, 4]) {
      it(`after ${batches} batch(es) written, the next refresh (${name}) leaves the catalog a clean refresh would`, async () => {
        await wipe();
        await seed(new DynamoCatalog(), first);
        await expect(refresh(new DynamoCatalog(undefined, crashingAfter(batches)), crashed)).rejects.toThrow('simulated crash');
        const mended = await refresh(new DynamoCatalog(), then);
        expect(mended.unfinished).toEqual({ at, by: 'U0ADMIN' });
        const afterCrash = await dump();

        await wipe();
        await refresh(new DynamoCatalog(), then);
        expect(afterCrash).toEqual(await dump());
      });
    }
  }

  it('is recorded in meta#refresh: started, not finished, the last finished refresh kept; the next refresh finishes it', async () => {
    await wipe();
    await seed(new DynamoCatalog(), first, { at: '2026-12-06T20:00:00.000Z', by: 'U0FIRST', services: 100, failedAccounts: 0 });
    await expect(refresh(new DynamoCatalog(undefined, crashingAfter(1)), crashed)).rejects.toThrow('simulated crash');
    expect((await dump())['meta#refresh']).toEqual({
      pk: 'meta#refresh',
      refresh: { at: '2026-12-06T20:00:00.000Z', by: 'U0FIRST', services: 100, failedAccounts: 0 },
      started: { at, by: 'U0ADMIN' },
    });
    const catalog = new DynamoCatalog();
    expect(await catalog.lastRefresh()).toMatchObject({ by: 'U0FIRST' });
    expect((await refresh(catalog, crashed)).unfinished).toEqual({ at, by: 'U0ADMIN' });
    expect((await dump())['meta#refresh']).toEqual({ pk: 'meta#refresh', refresh: { at, by: 'U0ADMIN', services: 122, failedAccounts: 0 } });
    expect((await refresh(catalog, crashed)).unfinished).toBeUndefined();
    // Nothing changed, so nothing is written in batches: a writer failing at the first batch is never called.
    await expect(refresh(new DynamoCatalog(undefined, crashingAfter(0)), crashed)).resolves.toMatchObject({ added: [], removed: [], changed: [] });
  });

  it('never widens a selection through an index item left stale, nor selects an alias whose service is gone', async () => {
    await wipe();
    const catalog = new DynamoCatalog();
    await seed(catalog, first);
    const staging = first.filter((s) => s.labels.env === 'staging').map((s) => s.alias);
    const prod = first.filter((s) => s.labels.env === 'prod').map((s) => s.alias);
    // What a crash can leave: an index item naming a service that no longer carries the label, and aliases without their svc# item.
    const table = tableName('catalog');
    await ddb.put({ TableName: table, Item: { pk: 'sel#env=prod', aliases: [...prod, staging[0]!, 'svc-gone'].sort() } });
    await ddb.put({ TableName: table, Item: { pk: 'sel#*', aliases: [...first.map((s) => s.alias), 'svc-gone'].sort() } });
    await ddb.put({ TableName: table, Item: { pk: 'sel#team=ghosts', aliases: [first[0]!.alias, 'svc-gone'] } });
    expect(await aliases(catalog, { kind: 'labels', terms: [{ key: 'env', values: ['prod'] }] })).toEqual(prod);
    expect(await aliases(catalog, { kind: 'labels', terms: [{ key: 'env', values: ['prod', 'staging'] }] })).toEqual(first.map((s) => s.alias));
    expect(await aliases(catalog, { kind: 'labels', terms: [{ key: 'team', values: ['ghosts'] }] })).toEqual([]);
    expect(await aliases(catalog, { kind: 'all' })).toEqual(first.map((s) => s.alias));
    // And the next refresh drops them.
    await refresh(catalog, first);
    const stored = await dump();
    expect(stored['sel#team=ghosts']).toBeUndefined();
    expect(stored['sel#env=prod']).toEqual({ pk: 'sel#env=prod', aliases: prod });
  });
});

describe('a fleet beyond what one index item can list', () => {
  it('is refused before anything is written, saying how to narrow it', async () => {
    await wipe();
    const first = Array.from({ length: 30 }, (_, i) => service(i));
    await seed(new DynamoCatalog(), first);
    const before = await dump();
    // 12,000 services of 40-character aliases: `sel#*` alone would be ~500 KB.
    const huge = Array.from({ length: 12_000 }, (_, i) => ({ ...service(i), alias: `svc-${String(i).padStart(5, '0')}-${'x'.repeat(30)}` }));
    const catalog = new DynamoCatalog();
    await expect(
      catalog.replace(await catalog.begin({ at: 'y', by: 'test' }), huge, { at: 'y', by: 'test', services: huge.length, failedAccounts: 0 }),
    ).rejects.toThrow(CatalogTooLargeError);
    const after = await dump();
    // Only the refresh's own "started" mark moved.
    expect({ ...after, 'meta#refresh': undefined }).toEqual({ ...before, 'meta#refresh': undefined });
  });
});

describe('a catalog DynamoDB keeps throttling', () => {
  /** A table that answers every batch with all of it unprocessed, counting the tries. */
  function alwaysThrottled(): CatalogDb & { tries: number } {
    const db = {
      ...ddb,
      tries: 0,
      batchGet: async (input: Parameters<typeof ddb.batchGet>[0]) => {
        db.tries++;
        return { Responses: {}, UnprocessedKeys: input.RequestItems } as Awaited<ReturnType<typeof ddb.batchGet>>;
      },
      batchWrite: async (input: Parameters<typeof ddb.batchWrite>[0]) => {
        db.tries++;
        return { UnprocessedItems: input.RequestItems } as Awaited<ReturnType<typeof ddb.batchWrite>>;
      },
    };
    return db;
  }

  it('gives up on reads and writes after a bounded number of tries, with a message a person can act on', async () => {
    await wipe();
    const first = Array.from({ length: 30 }, (_, i) => service(i));
    await seed(new DynamoCatalog(), first);
    const reads = alwaysThrottled();
    await expect(new DynamoCatalog(undefined, reads, () => 0).select({ kind: 'all' })).rejects.toBeInstanceOf(CatalogBusyError);
    expect(reads.tries).toBe(9);
    const writes = alwaysThrottled();
    const catalog = new DynamoCatalog(undefined, writes, () => 0);
    await expect(
      catalog.replace(await catalog.begin({ at: 'x', by: 'test' }), first.slice(1), { at: 'x', by: 'test', services: 29, failedAccounts: 0 }),
    ).rejects.toThrow(/throttled \(DynamoDB left \d+ writes unprocessed after 9 tries\)/);
    expect(writes.tries).toBe(9);
  });
});

describe('merging a discovery', () => {
  const TAG = 'ecs-chatops:alias';
  const failed = (accountId: string, region?: string) => ({ accountId, ...(region ? { region } : {}), reason: 'role' as const, message: 'm', fix: 'f' });

  it('keeps the services of an account that could not be read; a declared target keeps its configured labels only', () => {
    const previous = [service(0), service(1), service(5)];
    const declared = [{ ...service(5), alias: 'named', source: 'declared' as const, labels: {} }];
    const merged = mergeCatalog(discovery([service(5)], [failed(service(0).accountId)]), declared, previous, TAG);
    expect(merged.services.map((s) => s.alias)).toEqual(['named', 'svc-0000', 'svc-0001']);
    expect(merged.kept).toBe(2);
    expect(merged.services[0]!.labels).toEqual({});
  });

  // The holder sorts after the newcomer by ARN (eu-west-1 > ap-south-1): sort order must not decide.
  const holder = service(1, { alias: 'payments' });
  const taker = service(10, { alias: 'payments', region: 'ap-south-1', serviceArn: 'arn:aws:ecs:ap-south-1:300000000003:service/fleet/evil' });

  it('leaves an alias with the service that held it: a newcomer tagged with it is left out, with the tag to set', () => {
    const merged = mergeCatalog(discovery([taker, holder]), [], [holder], TAG);
    expect(merged.services).toEqual([holder]);
    expect(merged.skipped).toEqual([
      {
        serviceArn: taker.serviceArn,
        reason: `alias \`payments\` is held by ${holder.serviceArn} since an earlier refresh: tag it \`${TAG}=<an alias of its own>\``,
      },
    ]);
    // And again at the next refresh, and the one after: stable.
    expect(mergeCatalog(discovery([holder, taker]), [], merged.services, TAG).services).toEqual([holder]);
  });

  it('does not hand an alias over while its holder cannot be read (account or region)', () => {
    for (const failure of [failed(holder.accountId), failed(holder.accountId, holder.region)]) {
      const merged = mergeCatalog(discovery([taker], [failure]), [], [holder], TAG);
      expect(merged.services).toEqual([holder]);
      expect(merged.kept).toBe(1);
      expect(merged.skipped).toEqual([
        { serviceArn: taker.serviceArn, reason: expect.stringContaining(`is held by ${holder.serviceArn}, whose account could not be read`) },
      ]);
    }
  });

  it('frees an alias whose holder is gone from a readable account: its only claimant takes it', () => {
    expect(mergeCatalog(discovery([taker]), [], [holder], TAG).services).toEqual([taker]);
  });

  it('gives an alias no one held to none of several claimants, and says which tag fixes it', () => {
    const a = service(4, { alias: 'web-prod', service: 'web', cluster: 'blue', serviceArn: 'arn:aws:ecs:us-east-1:300000000001:service/blue/web' });
    const b = service(4, { alias: 'web-prod', service: 'web', cluster: 'green', serviceArn: 'arn:aws:ecs:us-east-1:300000000001:service/green/web' });
    const merged = mergeCatalog(discovery([a, b]), [], [], TAG);
    expect(merged.services).toEqual([]);
    expect(merged.skipped).toEqual([
      {
        serviceArn: a.serviceArn,
        reason: `\`web\` in each of the clusters \`blue\`, \`green\` of 300000000001 us-east-1 claims the alias \`web-prod\` (from the naming rule or a tag alike); none of them gets it: tag this service \`${TAG}=web-prod-blue\` (or another alias of its own)`,
      },
      { serviceArn: b.serviceArn, reason: expect.stringContaining(`tag this service \`${TAG}=web-prod-green\``) },
    ]);
    const tagged = mergeCatalog(discovery([taker, service(2, { alias: 'payments' })]), [], [], TAG);
    expect(tagged.services).toEqual([]);
    expect(tagged.skipped.map((s) => s.reason)).toEqual([
      expect.stringContaining(`alias \`payments\` is claimed by ${service(2).serviceArn} too, and none held it before`),
      expect.stringContaining(`alias \`payments\` is claimed by ${taker.serviceArn} too`),
    ]);
  });

  it('removes the services of an account that is no longer ACTIVE: it is not unreadable, so nothing is kept', async () => {
    const catalog = new DynamoCatalog();
    await seed(catalog, [service(0), service(5)]);
    const inactive = [{ accountId: service(0).accountId, state: 'SUSPENDED' }];
    const report = await refreshCatalog({
      config,
      catalog,
      discover: async () => ({ ...discovery([service(5)]), inactive }),
      botAccountId: '111111111111',
      by: 'U0ADMIN',
    });
    expect(report.removed.map((s) => s.alias)).toEqual(['svc-0000']);
    expect(report.inactive).toEqual(inactive);
    expect(report.kept).toBe(0);
  });
});
