/**
 * Names the fleet's configuration and code share, in a module with no imports: the bundles read
 * them without the configuration's validator (the build validates the configuration and embeds it).
 */

/** Placeholders a naming rule may use: the service's name, its cluster, the account's name (its id when unnamed), the account id, the region. */
export const ALIAS_PLACEHOLDERS = ['service', 'cluster', 'account', 'accountId', 'region'] as const;

/** The name of the catalog's scheduled refresh (src/fleet/schedule.ts), kept from the configuration's schedules. */
export const CATALOG_SCHEDULE = 'catalog-refresh';
