import { ALL, type Grant } from '../auth/roles';
import { lookup } from '../config/records';
import type { Config } from '../config/schema';
import { declaredLabels } from './memory-catalog';
import { servicePin } from './pin';
import { labelsOf } from './selector';
import type { CatalogReader, FleetService, LabelsOf } from './types';

/**
 * The labels of every service some grants name: the declared targets' from the configuration, and
 * those of discovered services read from the fleet's catalog (one BatchGetItem per 100 aliases).
 * What an admin's selector grant is checked against when she removes someone (`/ecs deny`), lists
 * the allowlist (`/ecs allowlist`) or sees what a person now has (`/ecs allow`): without them, a
 * discovered service within her selector would lie beyond her scope. `known`: discovered services
 * the caller has just read (not read again). A service the catalog no longer has keeps no labels:
 * covered by no selector (deny by default). Without `fleet:`, the declared targets alone, no read.
 * With the labels, each service's pin (`pinOf`): a grant bound to a service its alias no longer
 * names (or an alias the catalog no longer has) is then stale, shown so and removable only by an
 * admin of `*` or whoever gave it (src/auth/administration.ts).
 */
export async function labelsOfGranted(
  config: Config,
  catalog: () => Promise<CatalogReader>,
  grants: readonly Grant[],
  known: readonly FleetService[] = [],
): Promise<LabelsOf> {
  const declared = declaredLabels(config);
  if (!config.fleet) return declared;
  const discovered = new Map(known.map((s) => [s.alias, s] as const));
  const unread = [...new Set(grants.flatMap((g) => g.services))].filter((s) => s !== ALL && lookup(config.targets, s) === undefined && !discovered.has(s));
  if (unread.length > 0) for (const s of await (await catalog()).getMany(unread)) discovered.set(s.alias, s);
  const labels = new Map([...discovered].map(([alias, s]) => [alias, labelsOf(s)] as const));
  const pins = new Map([...discovered].map(([alias, s]) => [alias, servicePin(s)] as const));
  return Object.assign((alias: string) => declared(alias) ?? labels.get(alias), {
    // A declared alias is the declared target's, as for its labels.
    pinOf: (alias: string) => (declared(alias) ? declared.pinOf?.(alias) : pins.get(alias)),
    discovered: (alias: string) => !declared(alias) && discovered.has(alias),
  });
}
