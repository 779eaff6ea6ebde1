/**
 * The fleet's catalog in DynamoDB (CatalogTable, pk only):
 *
 *   svc#<alias>          one per service: where it lives and its labels      → get(alias) is one GetItem
 *   sel#<key>=<value>    per label value (built-ins account/region/cluster
 *                        too): the aliases carrying it                          → a term is one GetItem
 *   sel#*                every alias                                            → `*` is one GetItem
 *   meta#labels          every label key → value → how many services           → "did you mean" is one GetItem
 *   meta#refresh         when and how the last refresh went
 *
 * Why these rather than a GSI: a selector is a conjunction of equalities over a few keys, and the
 * sets are small (1,000 aliases ≈ 20 KB, far below the 400 KB item limit), so reading one item per
 * term and intersecting costs 1–3 GetItems plus BatchGetItems for the services, with no index to
 * keep or pay for; a GSI on one label key could not answer `team=payments,env=prod` without a
 * Scan or a query per key anyway. The index items are rewritten only by a refresh (one writer).
 */
import { ddb } from '../platform/dynamo';
import { tableName } from '../platform/tables';
import type { CatalogReader, FleetService, Selector } from './types';

const SERVICE = 'svc#';
const SELECT = 'sel#';
const ALL = 'sel#*';
const LABELS = 'meta#labels';
const REFRESH = 'meta#refresh';
/** DynamoDB's limits per BatchGetItem and BatchWriteItem. */
const GET_BATCH = 100;
const WRITE_BATCH = 25;

/** Every label of a service as selectors see it: its own, and where it lives. */
export function selectableLabels(service: FleetService): Record<string, string> {
  return { ...service.labels, account: service.accountId, region: service.region, cluster: service.cluster };
}

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

function toService(item: Record<string, unknown>): FleetService {
  const { pk: _pk, ...rest } = item;
  return rest as unknown as FleetService;
}

/** The last refresh, as kept in the catalog. */
export interface RefreshRecord {
  at: string;
  by: string;
  services: number;
  failedAccounts: number;
}

export class DynamoCatalog implements CatalogReader {
  constructor(private readonly table: () => string = () => tableName('catalog')) {}

  async get(alias: string): Promise<FleetService | undefined> {
    const out = await ddb.get({ TableName: this.table(), Key: { pk: `${SERVICE}${alias}` } });
    return out.Item ? toService(out.Item) : undefined;
  }

  async select(selector: Selector): Promise<FleetService[]> {
    return this.many(await this.aliases(selector));
  }

  /** The aliases a selector matches (sorted), without reading the services. */
  async aliases(selector: Selector): Promise<string[]> {
    if (selector.kind === 'all') return this.aliasSet(ALL);
    let matched: Set<string> | undefined;
    for (const term of selector.terms) {
      const union = new Set<string>();
      for (const value of term.values) for (const alias of await this.aliasSet(`${SELECT}${term.key}=${value}`)) union.add(alias);
      matched = matched ? new Set([...matched].filter((a) => union.has(a))) : union;
      if (matched.size === 0) break;
    }
    return [...(matched ?? [])].sort();
  }

  async labels(): Promise<Record<string, Record<string, number>>> {
    const out = await ddb.get({ TableName: this.table(), Key: { pk: LABELS } });
    return (out.Item?.labels as Record<string, Record<string, number>> | undefined) ?? {};
  }

  async lastRefresh(): Promise<RefreshRecord | undefined> {
    const out = await ddb.get({ TableName: this.table(), Key: { pk: REFRESH } });
    return out.Item?.refresh as RefreshRecord | undefined;
  }

  /** Every service of the catalog, by alias. */
  async all(): Promise<FleetService[]> {
    return this.many(await this.aliasSet(ALL));
  }

  /**
   * Replaces the catalog with `next` given what it holds now (`previous`): services written only
   * when new or changed, removed ones deleted, the index items rewritten, the refresh recorded last.
   */
  async replace(previous: readonly FleetService[], next: readonly FleetService[], refresh: RefreshRecord): Promise<void> {
    const before = new Map(previous.map((s) => [s.alias, s]));
    const after = new Map(next.map((s) => [s.alias, s]));
    const puts: Array<Record<string, unknown>> = [];
    const deletes: string[] = [];
    for (const service of next) {
      const old = before.get(service.alias);
      if (!old || !sameService(old, service)) puts.push({ pk: `${SERVICE}${service.alias}`, ...service });
    }
    for (const alias of before.keys()) if (!after.has(alias)) deletes.push(`${SERVICE}${alias}`);

    const index = selectIndex(next);
    const oldIndex = selectIndex(previous);
    for (const [pk, aliases] of index) if (oldIndex.get(pk)?.join(',') !== aliases.join(',')) puts.push({ pk, aliases });
    for (const pk of oldIndex.keys()) if (!index.has(pk)) deletes.push(pk);
    puts.push({ pk: ALL, aliases: [...after.keys()].sort() });
    puts.push({ pk: LABELS, labels: labelCounts(next) });

    const requests = [...puts.map((Item) => ({ PutRequest: { Item } })), ...deletes.map((pk) => ({ DeleteRequest: { Key: { pk } } }))];
    for (const batch of chunks(requests, WRITE_BATCH)) await this.write(batch);
    await ddb.put({ TableName: this.table(), Item: { pk: REFRESH, refresh } });
  }

  private async write(batch: Array<Record<string, unknown>>): Promise<void> {
    let pending: unknown[] = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
      if (attempt > 8) throw new Error(`DynamoDB left ${pending.length} catalog writes unprocessed`);
      const out = await ddb.batchWrite({ RequestItems: { [this.table()]: pending as never } });
      pending = out.UnprocessedItems?.[this.table()] ?? [];
    }
  }

  private async aliasSet(pk: string): Promise<string[]> {
    const out = await ddb.get({ TableName: this.table(), Key: { pk } });
    return (out.Item?.aliases as string[] | undefined) ?? [];
  }

  private async many(aliases: readonly string[]): Promise<FleetService[]> {
    const found: FleetService[] = [];
    for (const batch of chunks(aliases, GET_BATCH)) {
      let keys: Array<Record<string, unknown>> = batch.map((alias) => ({ pk: `${SERVICE}${alias}` }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
        const out = await ddb.batchGet({ RequestItems: { [this.table()]: { Keys: keys } } });
        found.push(...(out.Responses?.[this.table()] ?? []).map(toService));
        keys = (out.UnprocessedKeys?.[this.table()]?.Keys as Array<Record<string, unknown>> | undefined) ?? [];
      }
    }
    return found.sort((a, b) => a.alias.localeCompare(b.alias));
  }
}

export function sameService(a: FleetService, b: FleetService): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(s: FleetService) {
  return {
    alias: s.alias,
    accountId: s.accountId,
    region: s.region,
    cluster: s.cluster,
    service: s.service,
    serviceArn: s.serviceArn,
    roleArn: s.roleArn ?? null,
    labels: Object.fromEntries(Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b))),
    source: s.source,
  };
}

/** `sel#<key>=<value>` → sorted aliases, for every label value (built-ins included). */
function selectIndex(services: readonly FleetService[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const service of services) {
    for (const [key, value] of Object.entries(selectableLabels(service))) {
      const pk = `${SELECT}${key}=${value}`;
      index.set(pk, [...(index.get(pk) ?? []), service.alias]);
    }
  }
  for (const aliases of index.values()) aliases.sort();
  return index;
}

function labelCounts(services: readonly FleetService[]): Record<string, Record<string, number>> {
  const counts: Record<string, Record<string, number>> = {};
  for (const service of services) {
    for (const [key, value] of Object.entries(selectableLabels(service))) {
      const values = (counts[key] ??= {});
      values[value] = (values[value] ?? 0) + 1;
    }
  }
  return counts;
}
