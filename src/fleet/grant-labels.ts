import { ALL, type Grant } from '../auth/roles';
import { lookup } from '../config/records';
import type { Config } from '../config/schema';
import { declaredLabels } from './memory-catalog';
import { labelsOf } from './selector';
import type { CatalogReader, LabelsOf } from './types';

/**
 * The labels of every service some grants name: the declared targets' from the configuration, and
 * those of discovered services read from the fleet's catalog (one GetItem each, in parallel; a
 * grant names at most one). What an admin's selector grant is checked against when she removes
 * someone (`/ecs deny`): without them, a discovered service she granted would lie beyond her scope.
 * A service the catalog no longer has keeps no labels: covered by no selector (deny by default).
 */
export async function labelsOfGranted(config: Config, catalog: () => Promise<CatalogReader>, grants: readonly Grant[]): Promise<LabelsOf> {
  const declared = declaredLabels(config);
  const undeclared = [...new Set(grants.flatMap((g) => g.services).filter((s) => s !== ALL && lookup(config.targets, s) === undefined))];
  if (undeclared.length === 0 || !config.fleet) return declared;
  const reader = await catalog();
  const found = await Promise.all(undeclared.map((alias) => reader.get(alias)));
  const discovered = new Map(found.flatMap((s) => (s ? [[s.alias, labelsOf(s)] as const] : [])));
  return (alias) => declared(alias) ?? discovered.get(alias);
}
