import { ALL, type Grant } from '../auth/roles';
import { lookup } from '../config/records';
import type { Config } from '../config/schema';
import { declaredLabels } from './memory-catalog';
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
 */
export async function labelsOfGranted(
  config: Config,
  catalog: () => Promise<CatalogReader>,
  grants: readonly Grant[],
  known: readonly FleetService[] = [],
): Promise<LabelsOf> {
  const declared = declaredLabels(config);
  if (!config.fleet) return declared;
  const discovered = new Map(known.map((s) => [s.alias, labelsOf(s)] as const));
  const unread = [...new Set(grants.flatMap((g) => g.services))].filter((s) => s !== ALL && lookup(config.targets, s) === undefined && !discovered.has(s));
  if (unread.length > 0) for (const s of await (await catalog()).getMany(unread)) discovered.set(s.alias, labelsOf(s));
  return (alias) => declared(alias) ?? discovered.get(alias);
}
