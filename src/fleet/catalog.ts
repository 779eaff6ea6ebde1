/**
 * The fleet's catalog in DynamoDB (CatalogTable, pk only):
 *
 *   svc#<alias>          one per service: where it lives and its labels      → get(alias) is one GetItem
 *   sel#<key>=<value>    per label value (built-ins account/region/cluster
 *                        too): the aliases carrying it                          → a term is one GetItem
 *   sel#*                every alias                                            → `*` is one GetItem
 *   meta#labels          every label key → value → how many services           → "did you mean" is one GetItem
 *   meta#refresh         the last finished refresh, and one started since that has not finished
 *
 * Why these rather than a GSI: a selector is a conjunction of equalities over a few keys, and the
 * sets are small (1,000 aliases ≈ 20 KB, far below the 400 KB item limit), so reading one item per
 * term and intersecting costs 1–3 GetItems plus BatchGetItems for the services, with no index to
 * keep or pay for; a GSI on one label key could not answer `team=payments,env=prod` without a
 * Scan or a query per key anyway. The index items are rewritten only by a refresh (one writer).
 *
 * A refresh writes in batches, so one that dies halfway leaves some items new and some old. Both
 * sides are made safe against that:
 * - reads: the index items only say which services to read; a service is selected only when its
 *   own stored labels match (a stale `sel#` item never widens a selection), and an alias whose
 *   `svc#` item is gone is skipped;
 * - writes: a refresh reads the table whole (one consistent Scan, the worker's alone: the ingress
 *   and the selectors never scan) and diffs the catalog it wants against what is stored, not
 *   against what the index said: every item that differs is rewritten, every item the new
 *   catalog does not hold is deleted, whoever left it. We chose this over generations
 *   (`svc#<gen>#<alias>` and a pointer flipped at the end) because a generation would cost the
 *   ingress a second read to resolve an alias, and the whole catalog of 1,000 services is well
 *   under a megabyte: one or two Scan pages, on a path that runs every few hours.
 * `meta#refresh` holds `started` from a refresh's start until it finishes, so the next one can say
 * that the last did not finish (and that it mended what that one left).
 */
import { ddb } from '../platform/dynamo';
import { UserFacingError } from '../platform/errors';
import { tableName } from '../platform/tables';
import { labelsOf, matchesService, summariseLabels } from './selector';
import type { CatalogReader, FleetService, Selector } from './types';

const SERVICE = 'svc#';
const SELECT = 'sel#';
const ALL = 'sel#*';
const LABELS = 'meta#labels';
const REFRESH = 'meta#refresh';
/** DynamoDB's limits per BatchGetItem and BatchWriteItem. */
const GET_BATCH = 100;
const WRITE_BATCH = 25;

/** The DynamoDB calls the catalog makes (the document client's), passed in: a test's may fail partway. */
export type CatalogDb = Pick<typeof ddb, 'get' | 'put' | 'batchGet' | 'batchWrite' | 'scan'>;

type Item = Record<string, unknown>;

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, i * size + size));

/** Tries of a batch DynamoDB left partly unprocessed before giving up (≈ 9 s of backoff). */
const MAX_BATCH_ATTEMPTS = 9;
const backoffMs = (attempt: number) => Math.min(2_000, 50 * 2 ** attempt);

/**
 * DynamoDB's item limit is 400 KB; an item's JSON is a close upper estimate of its size there (a
 * list element costs its bytes plus ~3 in DynamoDB, its quotes and comma in JSON), kept a little
 * below the limit. The largest items are `sel#*` and one region's `sel#region=…`: about 40
 * bytes per alias, so some 9,000 services per catalog.
 */
const MAX_ITEM_BYTES = 390_000;

/** The fleet outgrew what one index item can list: refused before anything is written. */
export class CatalogTooLargeError extends UserFacingError {
  constructor(pk: string, services: number, bytes: number) {
    super(
      `The catalog cannot hold ${services} services: its index item \`${pk}\` would take ${Math.round(bytes / 1024)} KB, beyond DynamoDB's 400 KB item limit (about 9,000 services). Narrow \`fleet:\` (accounts, OUs or regions). Nothing was changed.`,
    );
  }
}

/** DynamoDB kept leaving part of a catalog batch unprocessed (throttled): said as such, never retried forever. */
export class CatalogBusyError extends UserFacingError {
  constructor(what: 'reads' | 'writes', left: number) {
    super(
      `The fleet's catalog is throttled (DynamoDB left ${left} ${what} unprocessed after ${MAX_BATCH_ATTEMPTS} tries). Nothing else was changed; try again in a minute.`,
    );
  }
}

function toService(item: Item): FleetService {
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

/** A refresh that has started: kept in `meta#refresh` until it finishes. */
export interface RefreshStart {
  at: string;
  by: string;
}

/** The catalog as a refresh found it: every item as stored, read before it writes anything. */
export interface CatalogSnapshot {
  /** Every `svc#` item, whether or not the index lists it. */
  services: FleetService[];
  /** Every item but `meta#refresh`, by key. */
  items: ReadonlyMap<string, Item>;
  /** A refresh that started and never finished before this one. */
  unfinished?: RefreshStart;
}

export class DynamoCatalog implements CatalogReader {
  constructor(
    private readonly table: () => string = () => tableName('catalog'),
    private readonly db: CatalogDb = ddb,
    /** How long to wait before the nth retry of unprocessed items (tests: 0). */
    private readonly retryDelayMs: (attempt: number) => number = backoffMs,
  ) {}

  private pause(attempt: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, this.retryDelayMs(attempt)));
  }

  async get(alias: string): Promise<FleetService | undefined> {
    // Strongly consistent: the worker reads again to see a service moved since the ack (one item: the cost is nil).
    const out = await this.db.get({ TableName: this.table(), Key: { pk: `${SERVICE}${alias}` }, ConsistentRead: true });
    return out.Item ? toService(out.Item) : undefined;
  }

  async getMany(aliases: readonly string[]): Promise<FleetService[]> {
    // DynamoDB refuses a BatchGetItem naming one key twice.
    return this.many([...new Set(aliases)]);
  }

  /**
   * The services a selector matches, sorted by alias. The index items name the candidates; each is
   * kept only if its own labels match, so an index item a crashed refresh left stale can only narrow.
   */
  async select(selector: Selector): Promise<FleetService[]> {
    return (await this.many(await this.candidates(selector))).filter((service) => matchesService(selector, service));
  }

  async labels(): Promise<Record<string, Record<string, number>>> {
    const out = await this.db.get({ TableName: this.table(), Key: { pk: LABELS } });
    return (out.Item?.labels as Record<string, Record<string, number>> | undefined) ?? {};
  }

  async lastRefresh(): Promise<RefreshRecord | undefined> {
    const out = await this.db.get({ TableName: this.table(), Key: { pk: REFRESH } });
    return out.Item?.refresh as RefreshRecord | undefined;
  }

  /**
   * A refresh begins: the table read whole as stored (consistently: the last refresh's writes
   * included), then `meta#refresh` marked as started, keeping the last finished refresh.
   */
  async begin(start: RefreshStart): Promise<CatalogSnapshot> {
    const items = new Map<string, Item>();
    let meta: Item | undefined;
    let startKey: Item | undefined;
    do {
      const out = await this.db.scan({ TableName: this.table(), ConsistentRead: true, ...(startKey ? { ExclusiveStartKey: startKey } : {}) });
      for (const item of out.Items ?? []) {
        if (item.pk === REFRESH) meta = item;
        else items.set(String(item.pk), item);
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    await this.db.put({ TableName: this.table(), Item: { pk: REFRESH, ...(meta?.refresh ? { refresh: meta.refresh } : {}), started: start } });
    const services = [...items.entries()]
      .filter(([pk]) => pk.startsWith(SERVICE))
      .map(([, item]) => toService(item))
      .sort((a, b) => a.alias.localeCompare(b.alias));
    return { services, items, ...(meta?.started ? { unfinished: meta.started as RefreshStart } : {}) };
  }

  /**
   * Makes the catalog `next`, given what `begin` found stored: every item that differs from what
   * `next` wants is written, every other item deleted (even one the index does not know of), and
   * the refresh recorded as finished last.
   */
  async replace(stored: CatalogSnapshot, next: readonly FleetService[], refresh: RefreshRecord): Promise<void> {
    const wanted = catalogItems(next);
    // Checked before any write: DynamoDB would refuse the item partway through the refresh.
    for (const item of wanted.values()) {
      const bytes = Buffer.byteLength(JSON.stringify(item));
      if (bytes > MAX_ITEM_BYTES) throw new CatalogTooLargeError(String(item.pk), next.length, bytes);
    }
    const puts = [...wanted.values()].filter((item) => !sameItem(stored.items.get(String(item.pk)), item));
    const deletes = [...stored.items.keys()].filter((pk) => !wanted.has(pk));
    const requests = [...puts.map((Item) => ({ PutRequest: { Item } })), ...deletes.map((pk) => ({ DeleteRequest: { Key: { pk } } }))];
    for (const batch of chunks(requests, WRITE_BATCH)) await this.write(batch);
    await this.db.put({ TableName: this.table(), Item: { pk: REFRESH, refresh } });
  }

  /** The aliases the index items give for a selector (sorted): candidates only, see `select`. */
  private async candidates(selector: Selector): Promise<string[]> {
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

  private async write(batch: Array<Record<string, unknown>>): Promise<void> {
    let pending: unknown[] = batch;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= MAX_BATCH_ATTEMPTS) throw new CatalogBusyError('writes', pending.length);
      if (attempt > 0) await this.pause(attempt);
      const out = await this.db.batchWrite({ RequestItems: { [this.table()]: pending as never } });
      pending = out.UnprocessedItems?.[this.table()] ?? [];
    }
  }

  private async aliasSet(pk: string): Promise<string[]> {
    const out = await this.db.get({ TableName: this.table(), Key: { pk } });
    return (out.Item?.aliases as string[] | undefined) ?? [];
  }

  /** The services of these aliases that exist (an alias without its `svc#` item is skipped), sorted. */
  private async many(aliases: readonly string[]): Promise<FleetService[]> {
    const found: FleetService[] = [];
    for (const batch of chunks(aliases, GET_BATCH)) {
      let keys: Item[] = batch.map((alias) => ({ pk: `${SERVICE}${alias}` }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt >= MAX_BATCH_ATTEMPTS) throw new CatalogBusyError('reads', keys.length);
        if (attempt > 0) await this.pause(attempt);
        const out = await this.db.batchGet({ RequestItems: { [this.table()]: { Keys: keys } } });
        found.push(...(out.Responses?.[this.table()] ?? []).map(toService));
        keys = (out.UnprocessedKeys?.[this.table()]?.Keys as Item[] | undefined) ?? [];
      }
    }
    return found.sort((a, b) => a.alias.localeCompare(b.alias));
  }
}

/** Every item the catalog of `services` consists of, by key (`meta#refresh` aside). */
function catalogItems(services: readonly FleetService[]): Map<string, Item> {
  const items = new Map<string, Item>();
  const put = (item: Item) => items.set(String(item.pk), item);
  for (const service of services) put({ pk: `${SERVICE}${service.alias}`, ...service });
  for (const [pk, aliases] of selectIndex(services)) put({ pk, aliases });
  put({ pk: ALL, aliases: services.map((s) => s.alias).sort() });
  put({ pk: LABELS, labels: summariseLabels(services) });
  return items;
}

/** The same item as DynamoDB gives it back: attribute order aside, undefined attributes dropped. */
function sameItem(stored: Item | undefined, wanted: Item): boolean {
  return stored !== undefined && canonicalJson(stored) === canonicalJson(wanted);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
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

/** `sel#<key>=<value>` → sorted aliases, for every label value (built-ins included, as selectors match them). */
function selectIndex(services: readonly FleetService[]): Map<string, string[]> {
  const index = new Map<string, string[]>();
  for (const service of services) {
    for (const [key, value] of Object.entries(labelsOf(service))) {
      const pk = `${SELECT}${key}=${value}`;
      index.set(pk, [...(index.get(pk) ?? []), service.alias]);
    }
  }
  for (const aliases of index.values()) aliases.sort();
  return index;
}
