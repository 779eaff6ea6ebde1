import { grantCovers, isAllowed, validInChannel, type AllowlistEntry, type Permission } from '../auth/roles';
import { UsageError } from '../platform/errors';
import { servicePin } from './pin';
import { checkSelectionSize, explainNoMatch, labelsOf, summariseLabels } from './selector';
import type { CatalogReader, FleetService, Selector } from './types';

/**
 * What a command naming a selector acts on: the services of the catalog that match it AND that
 * the person may see here (a role on them in this channel), never the others — a selector is no
 * way around the allowlist, and suggestions come only from what the person may see.
 */

/** A selector that matches none of the person's services: the message names the closest labels. */
export class NoServiceMatchesError extends UsageError {}

/** The services this person holds any role on in this channel (by alias, bound to that very service if pinned, `*` or a selector grant). */
export function visibleFleet(entry: AllowlistEntry | undefined, channelId: string, services: readonly FleetService[]): FleetService[] {
  const grants = (entry?.grants ?? []).filter((g) => validInChannel(g, channelId));
  return services.filter((s) => grants.some((g) => grantCovers(g, s.alias, labelsOf(s), servicePin(s), s.source === 'discovered')));
}

/** Holds `permission` on every one of the services here: `--all` beyond `maxSelection` needs `admin` on all of them. */
export const holdsOnEvery = (entry: AllowlistEntry | undefined, channelId: string, permission: Permission, services: readonly FleetService[]): boolean =>
  services.every(
    (s) =>
      isAllowed(entry, permission, { channelId, service: s.alias, labels: labelsOf(s), pin: servicePin(s), discovered: s.source === 'discovered' }).allowed,
  );

export interface SelectOptions {
  entry: AllowlistEntry | undefined;
  channelId: string;
  /** `selectors.maxSelection`; absent: no bound (a paged listing). */
  max?: number;
  /** `--all` was given: beyond `max`, allowed to someone with `admin` on every selected service here. */
  all?: boolean;
}

/** The matching services the person may see, sorted by alias; none → NoServiceMatchesError; too many → SelectionTooLargeError. */
export async function selectServices(catalog: CatalogReader, selector: Selector, options: SelectOptions): Promise<FleetService[]> {
  const { entry, channelId } = options;
  const selected = visibleFleet(entry, channelId, await catalog.select(selector)).sort((a, b) => a.alias.localeCompare(b.alias));
  if (selected.length === 0) {
    // Only what they may see: every service's labels would tell them about services not theirs.
    const mine = selector.kind === 'all' ? [] : visibleFleet(entry, channelId, await catalog.select({ kind: 'all' }));
    throw new NoServiceMatchesError(explainNoMatch(selector, summariseLabels(mine)));
  }
  if (options.max !== undefined)
    checkSelectionSize(selector, selected, {
      max: options.max,
      all: options.all === true,
      mayActOnAll: (services) => holdsOnEvery(entry, channelId, 'admin', services),
    });
  return selected;
}
