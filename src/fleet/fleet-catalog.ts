/**
 * What the fleet commands select from: with `fleet:` configured, the catalog in DynamoDB (what
 * discovery found) with the declared targets over it (a declared alias overrides a discovered
 * one, even before the next refresh); without it, the declared targets alone.
 */
import type { Config } from '../config/schema';
import { byAliasOrder, memoryCatalog } from './memory-catalog';
import { summariseLabels } from './selector';
import type { CatalogReader } from './types';

export async function fleetCatalog(config: Config): Promise<CatalogReader> {
  const declared = memoryCatalog(config);
  if (!config.fleet) return declared;
  const { DynamoCatalog } = await import('./catalog');
  return declaredOver(new DynamoCatalog(), declared);
}

/** `discovered` with `declared` over it: the same alias is the declared one. */
export function declaredOver(discovered: CatalogReader, declared: CatalogReader): CatalogReader {
  const select: CatalogReader['select'] = async (selector) => {
    const [found, mine, everyDeclared] = await Promise.all([discovered.select(selector), declared.select(selector), declared.select({ kind: 'all' })]);
    // A discovered service whose alias is declared is replaced: it counts only if the declared one matches.
    // So is one a target declares under another alias (declared since the last refresh): its tags never select it.
    const declaredAliases = new Set(everyDeclared.map((s) => s.alias));
    const declaredArns = new Set(everyDeclared.map((s) => s.serviceArn));
    return [...found.filter((s) => !declaredAliases.has(s.alias) && !declaredArns.has(s.serviceArn)), ...mine].sort((a, b) => a.alias.localeCompare(b.alias));
  };
  return {
    get: async (alias) => (await declared.get(alias)) ?? discovered.get(alias),
    getMany: async (aliases) => {
      const mine = await declared.getMany(aliases);
      const declaredAliases = new Set(mine.map((s) => s.alias));
      const rest = aliases.filter((a) => !declaredAliases.has(a));
      return byAliasOrder([...mine, ...(rest.length ? await discovered.getMany(rest) : [])]);
    },
    select,
    labels: async () => summariseLabels(await select({ kind: 'all' })),
  };
}
