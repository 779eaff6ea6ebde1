import type { Config } from '../config/schema';

/**
 * The catalog's scheduled refresh: an EventBridge Scheduler schedule of its own (scripts/schedules.ts
 * writes it beside the configuration's), delivered to the `scheduled` function, which submits
 * `/ecs services --refresh` as `schedule:catalog-refresh` in `fleet.refreshChannel`. Its grant comes
 * from this declaration (src/schedules/principal.ts): admin of every service, in that channel only.
 */
export { CATALOG_SCHEDULE } from './names';
export const CATALOG_REFRESH_TEXT = 'services --refresh';

export interface CatalogSchedule {
  expression: string;
  timezone: 'UTC';
  channel: string;
  description: string;
}

/** The schedule, when the configuration discovers a fleet and names the channel its refreshes are told in. */
export function catalogSchedule(config: Config): CatalogSchedule | undefined {
  const fleet = config.fleet;
  if (!fleet?.refreshChannel) return undefined;
  return {
    expression: fleet.refreshSchedule,
    timezone: 'UTC',
    channel: fleet.refreshChannel,
    description: 'Refreshes the fleet catalog (/ecs services --refresh)',
  };
}
