/**
 * Names the fleet's configuration and code share, in a module with no imports: the bundles read
 * them without the configuration's validator (the build validates the configuration and embeds it).
 */

/** Placeholders a naming rule may use: the service's name, its cluster, the account's name (its id when unnamed), the account id, the region. */
export const ALIAS_PLACEHOLDERS = ['service', 'cluster', 'account', 'accountId', 'region'] as const;

/** The service tag whose value is a discovered service's alias, unless the configuration names another. */
export const DEFAULT_ALIAS_TAG = 'ecs-chatops:alias';

/**
 * The naming rule in force: the configured one, else `{service}-{account}` with one region and
 * `{service}-{account}-{region}` with several (the configuration refuses a rule without `{region}`
 * then), so the default is unique in the configured scope but for one service name in two
 * clusters of one account and region, which a refresh reports with the tag to set.
 */
export const aliasTemplateFor = (fleet: { aliasTemplate?: string | undefined; regions: readonly string[] }): string =>
  fleet.aliasTemplate ?? (fleet.regions.length > 1 ? '{service}-{account}-{region}' : '{service}-{account}');

/** The name of the catalog's scheduled refresh (src/fleet/schedule.ts), kept from the configuration's schedules. */
export const CATALOG_SCHEDULE = 'catalog-refresh';
