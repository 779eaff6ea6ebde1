/**
 * A catalog refresh: discover the fleet, put the hand-declared targets over it (a declared alias
 * wins over a discovered one; a declared target naming a discovered service takes its labels),
 * write what changed, and say what changed: added, removed and changed services, and the accounts
 * that could not be read (each with its fix). Accounts that failed keep their services from the
 * last refresh: an unreachable account is not a fleet that vanished.
 */
import type { Config } from '../config/schema';
import type { AccountFailure, DiscoveryResult, SkippedService } from './discovery';
import { sameService, type CatalogSnapshot, type RefreshRecord, type RefreshStart } from './catalog';
import { declaredService } from './memory-catalog';
import type { FleetService } from './types';

/** src/fleet/catalog.ts's DynamoCatalog: `begin` reads what is stored and marks the refresh started, `replace` writes and marks it finished. */
export interface CatalogWriter {
  begin(start: RefreshStart): Promise<CatalogSnapshot>;
  replace(stored: CatalogSnapshot, next: readonly FleetService[], refresh: RefreshRecord): Promise<void>;
}

export interface RefreshReport {
  added: FleetService[];
  removed: FleetService[];
  changed: Array<{ before: FleetService; after: FleetService; what: string[] }>;
  failures: AccountFailure[];
  skipped: SkippedService[];
  /** Services of failed accounts kept from the last refresh. */
  kept: number;
  total: number;
  accounts: number;
  /** The refresh before this one, if it started and never finished (this one rewrote what it left). */
  unfinished?: RefreshStart;
}

/** The catalog a discovery gives, with the declared targets over it and failed accounts' services kept. */
export function mergeCatalog(
  discovered: DiscoveryResult,
  declared: readonly FleetService[],
  previous: readonly FleetService[],
): { services: FleetService[]; skipped: SkippedService[]; kept: number } {
  const skipped = [...discovered.skipped];
  const byArn = new Map(discovered.services.map((s) => [s.serviceArn, s]));
  const declaredAliases = new Set(declared.map((d) => d.alias));
  const declaredArns = new Set(declared.map((d) => d.serviceArn));
  const merged = new Map<string, FleetService>();
  for (const d of declared) merged.set(d.alias, { ...d, labels: { ...byArn.get(d.serviceArn)?.labels, ...d.labels } });
  for (const s of discovered.services) {
    if (declaredArns.has(s.serviceArn)) continue; // the declared alias names it
    if (declaredAliases.has(s.alias)) {
      skipped.push({ serviceArn: s.serviceArn, reason: `alias \`${s.alias}\` is a declared target's (targets.${s.alias})` });
      continue;
    }
    merged.set(s.alias, s);
  }
  // An account (or region) that could not be read keeps what the catalog knew of it.
  const unreadable = (s: FleetService) => discovered.failures.some((f) => f.accountId === s.accountId && (f.region === undefined || f.region === s.region));
  let kept = 0;
  for (const s of previous) {
    if (s.source !== 'discovered' || merged.has(s.alias) || !unreadable(s)) continue;
    merged.set(s.alias, s);
    kept++;
  }
  return { services: [...merged.values()].sort((a, b) => a.alias.localeCompare(b.alias)), skipped, kept };
}

function differences(before: FleetService, after: FleetService): string[] {
  const what: string[] = [];
  for (const key of ['accountId', 'region', 'cluster', 'service', 'roleArn', 'source'] as const) if (before[key] !== after[key]) what.push(key);
  const keys = new Set([...Object.keys(before.labels), ...Object.keys(after.labels)]);
  for (const key of [...keys].sort()) {
    if (before.labels[key] !== after.labels[key]) what.push(`${key}: ${before.labels[key] ?? '∅'} → ${after.labels[key] ?? '∅'}`);
  }
  return what;
}

export async function refreshCatalog(deps: {
  config: Config;
  catalog: CatalogWriter;
  discover: () => Promise<DiscoveryResult>;
  botAccountId: string;
  by: string;
  now?: () => Date;
}): Promise<RefreshReport> {
  const now = () => (deps.now?.() ?? new Date()).toISOString();
  // What is stored, not what the index says: a refresh that died halfway may have left items it does not list.
  const stored = await deps.catalog.begin({ at: now(), by: deps.by });
  const previous = stored.services;
  const discovered = await deps.discover();
  const declared = Object.entries(deps.config.targets).map(([alias, target]) => declaredService(alias, target, deps.botAccountId));
  const { services, skipped, kept } = mergeCatalog(discovered, declared, previous);

  const before = new Map(previous.map((s) => [s.alias, s]));
  const after = new Map(services.map((s) => [s.alias, s]));
  const report: RefreshReport = {
    added: services.filter((s) => !before.has(s.alias)),
    removed: previous.filter((s) => !after.has(s.alias)),
    changed: services.flatMap((s) => {
      const old = before.get(s.alias);
      return old && !sameService(old, s) ? [{ before: old, after: s, what: differences(old, s) }] : [];
    }),
    failures: discovered.failures,
    skipped,
    kept,
    total: services.length,
    accounts: discovered.accounts,
    ...(stored.unfinished ? { unfinished: stored.unfinished } : {}),
  };
  await deps.catalog.replace(stored, services, {
    at: now(),
    by: deps.by,
    services: services.length,
    failedAccounts: new Set(discovered.failures.map((f) => f.accountId)).size,
  });
  return report;
}
