/**
 * A catalog refresh: discover the fleet, put the hand-declared targets over it, settle who gets an
 * alias several services claim, write what changed, and say what changed: added, removed and
 * changed services, the accounts that could not be read (each with its fix), the organization's
 * accounts that are not ACTIVE, and the services left out (each with why and what to tag).
 *
 * - A declared target keeps its configured labels only: its service's tags are not merged in. The
 *   configuration is reviewed; a tag can be set by anyone with ecs:TagResource in that account,
 *   and labels grant access (selector grants) and choose what fleet commands act on.
 * - An account (or region) that could not be read keeps its services from the last refresh: an
 *   unreachable account is not a fleet that vanished. An account that is no longer ACTIVE in the
 *   organization (suspended, closing, closed) is not unreadable: its services leave the catalog.
 */
import type { Config } from '../config/schema';
import type { AccountFailure, DiscoveryResult, InactiveAccount, SkippedService } from './discovery';
import { aliasFromTemplate } from './discovery';
import { sameService, type CatalogSnapshot, type RefreshRecord, type RefreshStart } from './catalog';
import { declaredService } from './memory-catalog';
import { DEFAULT_ALIAS_TAG } from './names';
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
  /** Organization accounts not ACTIVE: not looked in, their services removed. */
  inactive: InactiveAccount[];
  skipped: SkippedService[];
  /** Services of failed accounts kept from the last refresh. */
  kept: number;
  total: number;
  accounts: number;
  /** The refresh before this one, if it started and never finished (this one rewrote what it left). */
  unfinished?: RefreshStart;
}

/**
 * The catalog a discovery gives: declared targets first (configured labels only), then the
 * services of unreadable accounts kept from `previous`, then the discovered services, each alias
 * given to one service by these rules, in this order:
 *
 * 1. a declared target's alias is its own: a discovered service claiming it is left out;
 * 2. a service kept because its account (or region) could not be read keeps its alias: a
 *    newcomer claiming it meanwhile is left out (an alias is not lost while its account is unreadable);
 * 3. the service that held the alias in `previous` (the catalog before this refresh) keeps it if it
 *    still claims it: the other claimants are left out, whatever their account, region or ARN
 *    (so tagging a service with someone's alias cannot take it);
 * 4. an alias no one held: its only claimant gets it; several claimants (the same service name in
 *    two clusters of one account and region under the naming rule, or two tags alike) all are
 *    left out: no order among them is a reason to pick one.
 * Every service left out is in `skipped` with the tag (`aliasTag`) that would give it an alias.
 */
export function mergeCatalog(
  discovered: DiscoveryResult,
  declared: readonly FleetService[],
  previous: readonly FleetService[],
  aliasTag: string,
): { services: FleetService[]; skipped: SkippedService[]; kept: number } {
  const skipped = [...discovered.skipped];
  const merged = new Map<string, FleetService>();
  for (const d of declared) merged.set(d.alias, d);
  const declaredArns = new Set(declared.map((d) => d.serviceArn));

  const unreadable = (s: FleetService) => discovered.failures.some((f) => f.accountId === s.accountId && (f.region === undefined || f.region === s.region));
  let kept = 0;
  for (const s of previous) {
    if (s.source !== 'discovered' || merged.has(s.alias) || declaredArns.has(s.serviceArn) || !unreadable(s)) continue;
    merged.set(s.alias, s);
    kept++;
  }

  const claims = new Map<string, FleetService[]>();
  for (const s of discovered.services) {
    if (declaredArns.has(s.serviceArn)) continue; // a declared alias names it
    claims.set(s.alias, [...(claims.get(s.alias) ?? []), s]);
  }
  const heldBefore = new Map(previous.filter((s) => s.source === 'discovered').map((s) => [s.alias, s.serviceArn]));
  const retag = `tag it \`${aliasTag}=<an alias of its own>\``;
  for (const [alias, claimants] of claims) {
    const holder = merged.get(alias);
    if (holder) {
      const why =
        holder.source === 'declared'
          ? `alias \`${alias}\` is a declared target's (targets.${alias})`
          : `alias \`${alias}\` is held by ${holder.serviceArn}, whose account could not be read this time and keeps its services`;
      for (const c of claimants) skipped.push({ serviceArn: c.serviceArn, reason: `${why}: ${retag}` });
      continue;
    }
    const keeper = claimants.find((c) => c.serviceArn === heldBefore.get(alias)) ?? (claimants.length === 1 ? claimants[0] : undefined);
    if (keeper) {
      merged.set(alias, keeper);
      for (const c of claimants) {
        if (c !== keeper)
          skipped.push({ serviceArn: c.serviceArn, reason: `alias \`${alias}\` is held by ${keeper.serviceArn} since an earlier refresh: ${retag}` });
      }
      continue;
    }
    for (const c of claimants) skipped.push({ serviceArn: c.serviceArn, reason: contestedReason(alias, c, claimants, aliasTag) });
  }
  skipped.sort((a, b) => a.serviceArn.localeCompare(b.serviceArn));
  return { services: [...merged.values()].sort((a, b) => a.alias.localeCompare(b.alias)), skipped, kept };
}

/** Why a service claiming an alias no one held is left out, with the tag that fixes it. */
function contestedReason(alias: string, service: FleetService, claimants: readonly FleetService[], aliasTag: string): string {
  const others = claimants.filter((c) => c !== service).map((c) => c.serviceArn);
  const clusters = claimants.every((c) => c.accountId === service.accountId && c.region === service.region && c.service === service.service);
  const suggestion = aliasFromTemplate('{service}-{cluster}', { service: alias, cluster: service.cluster, account: '', accountId: '', region: '' });
  const where = clusters
    ? `\`${service.service}\` in each of the clusters ${claimants.map((c) => `\`${c.cluster}\``).join(', ')} of ${service.accountId} ${service.region} claims the alias \`${alias}\` (from the naming rule or a tag alike)`
    : `alias \`${alias}\` is claimed by ${others.join(', ')} too, and none held it before`;
  return `${where}; none of them gets it: tag this service \`${aliasTag}=${suggestion}\` (or another alias of its own)`;
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
  const { services, skipped, kept } = mergeCatalog(discovered, declared, previous, deps.config.fleet?.aliasTag ?? DEFAULT_ALIAS_TAG);

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
    inactive: discovered.inactive,
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
