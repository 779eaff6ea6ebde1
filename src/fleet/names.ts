/**
 * Names the fleet's configuration and code share, in a module with no imports: the bundles read
 * them without the configuration's validator (the build validates the configuration and embeds it).
 */

/** Placeholders a naming rule may use: the service's name, its cluster, the account's name (its id when unnamed; not stable: names repeat and change), the account id, the region. */
export const ALIAS_PLACEHOLDERS = ['service', 'cluster', 'account', 'accountId', 'region'] as const;

/** The service tag whose value is a discovered service's alias, unless the configuration names another. */
export const DEFAULT_ALIAS_TAG = 'ecs-chatops:alias';

/**
 * The naming rule in force: the configured one, else `{service}-{accountId}` with one region and
 * `{service}-{accountId}-{region}` with several (the configuration refuses a rule without `{region}`
 * then). The default uses the account id, never its name: an account name is not unique (two
 * accounts of one name would claim the same aliases, and a contested alias goes to neither) and
 * can be renamed (every alias of the account, and the grants naming them, would change). So the
 * default is stable and unique in the configured scope but for one service name in two clusters of
 * one account and region, which a refresh reports with the tag to set. With a 12-digit id,
 * `{service}-{accountId}-{region}` stays within 40 characters for a service name of up to 12 (the
 * longest regions have 14); a longer name is cut and a hash of the whole added, the account id
 * and region kept whole (discovery.ts aliasFromTemplate), so unique and stable as well.
 */
export const aliasTemplateFor = (fleet: { aliasTemplate?: string | undefined; regions: readonly string[] }): string =>
  fleet.aliasTemplate ?? (fleet.regions.length > 1 ? '{service}-{accountId}-{region}' : '{service}-{accountId}');

/** The name of the catalog's scheduled refresh (src/fleet/schedule.ts), kept from the configuration's schedules. */
export const CATALOG_SCHEDULE = 'catalog-refresh';
