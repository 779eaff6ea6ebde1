import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema';
import { DynamoCatalog } from '../src/fleet/catalog';
import type { DiscoveryResult } from '../src/fleet/discovery';
import { mergeCatalog, refreshCatalog } from '../src/fleet/refresh';
import type { FleetService } from '../src/fleet/types';
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
});
const config = parseConfig({
  slack: { teams: ['T0LOCAL'] },
  targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' }, 'svc-0007': { region: 'eu-west-1', cluster: 'x', service: 'y' } },
});

describe('the catalog', () => {
  it('holds 1,000 services: one alias is one read, a selector reads its terms and the services, labels are counted', async () => {
    const catalog = new DynamoCatalog();
    const all = Array.from({ length: 1000 }, (_, i) => service(i));
    await catalog.replace([], all, { at: '2026-12-06T20:00:00.000Z', by: 'test', services: 1000, failedAccounts: 0 });
    expect(await catalog.get('svc-0042')).toEqual(all[42]);
    expect(await catalog.get('nope')).toBeUndefined();
    const payments = await catalog.select({
      kind: 'labels',
      terms: [
        { key: 'team', values: ['payments'] },
        { key: 'env', values: ['prod'] },
      ],
    });
    expect(payments.map((s) => s.alias)).toEqual(all.filter((s) => s.labels.team === 'payments' && s.labels.env === 'prod').map((s) => s.alias));
    expect(payments).toHaveLength(250);
    const either = await catalog.aliases({
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
    await catalog.replace(await catalog.all(), first, { at: 'x', by: 'test', services: 30, failedAccounts: 0 });
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
    expect(await catalog.aliases({ kind: 'labels', terms: [{ key: 'team', values: ['ledger'] }] })).toEqual(['svc-0029']);
    expect(await catalog.get('svc-0000')).toBeUndefined();
    // A second refresh with nothing new changes nothing.
    const again = await refreshCatalog({ config, catalog, discover: async () => discovery(next), botAccountId: '111111111111', by: 'U0ADMIN' });
    expect([again.added, again.removed, again.changed]).toEqual([[], [], []]);
  });

  it('gives a declared target its configured labels in the catalog, over those of the service it names', async () => {
    const catalog = new DynamoCatalog();
    const labelled = parseConfig({
      slack: { teams: ['T0LOCAL'] },
      targets: { named: { region: 'us-east-1', cluster: 'fleet', service: 'svc-0', roleArn: service(0).roleArn, labels: { team: 'platform', tier: 'edge' } } },
    });
    await refreshCatalog({ config: labelled, catalog, discover: async () => discovery([service(0)]), botAccountId: '111111111111', by: 'U0ADMIN' });
    expect((await catalog.get('named'))?.labels).toEqual({ env: 'prod', team: 'platform', tier: 'edge' });
    expect(await catalog.aliases({ kind: 'labels', terms: [{ key: 'tier', values: ['edge'] }] })).toEqual(['named']);
  });
});

describe('merging a discovery', () => {
  it('keeps the services of an account that could not be read, and gives a declared target the labels of the service it names', () => {
    const previous = [service(0), service(1), service(5)];
    const declared = [{ ...service(5), alias: 'named', source: 'declared' as const, labels: {} }];
    const failures = [{ accountId: service(0).accountId, reason: 'role' as const, message: 'm', fix: 'f' }];
    const merged = mergeCatalog(discovery([service(5)], failures), declared, previous);
    expect(merged.services.map((s) => s.alias)).toEqual(['named', 'svc-0000', 'svc-0001']);
    expect(merged.kept).toBe(2);
    expect(merged.services[0]!.labels).toEqual(service(5).labels);
  });
});
