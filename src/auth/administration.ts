import { isWithin, parseSelector } from '../fleet/selector';
import type { LabelsOf } from '../fleet/types';
import { ALL, grantCovers, grantsPermission, isStaleAlias, STALE_ALIAS_NOTE, validInChannel, type AllowlistEntry, type Decision, type Grant } from './roles';

/**
 * Delegated administration. An `admin` grant administers exactly its own scope: an admin on `web`
 * may give and take roles on `web` (and its scripts), in the channels of her grant, and nothing
 * else. Nobody can create, widen or remove a grant beyond the scope of their own admin grants, and
 * nobody can remove a person whose grants reach beyond the remover's scope. A global admin holds
 * `admin` on `*` in every channel: only another global admin covers her grants, and nobody
 * removes themselves, so the last one of a team stays.
 *
 * With selectors: an admin whose grant is `team=payments` administers the services it matches
 * (an alias by its labels, `labelsOf`) and any selector within hers (`team=payments,env=prod`,
 * never `env=prod`: src/fleet/selector.ts, isWithin), since a narrower selector can never match a
 * service hers does not. A selector is never within a grant of aliases: it may match services
 * added later.
 *
 * A grant bound to a discovered service (`Grant.pins`) is judged by the service its alias names
 * now (labels and pin, `labelsOf`). Once stale (the alias now names another service, or none),
 * the service it was given for can no longer be looked up, so nobody's scope can be judged
 * against it: it may be taken away by an admin on `*`, or by the admin who gave it
 * (`Grant.grantedBy`) while she holds `admin` in the channel. Removing it only takes away access
 * that no longer works; nobody may give a stale grant (`/ecs allow` binds the current service).
 */

/** The admin grants that count in this channel. */
const adminGrantsHere = (admin: AllowlistEntry | undefined, channelId: string): Grant[] =>
  (admin?.grants ?? []).filter((g) => grantsPermission(g, 'admin') && validInChannel(g, channelId));

/** Channels a grant reaches are within an admin grant's channels (absent = everywhere). */
const channelsWithin = (grant: Grant, admin: Grant): boolean =>
  admin.channels === undefined || (grant.channels !== undefined && grant.channels.every((c) => admin.channels!.includes(c)));

/** An admin grant covers a service of the grant: by alias, `*`, or a selector matching the alias's labels (her own bound aliases: the same service only). */
const adminCoversService = (a: Grant, service: string, labelsOf: LabelsOf | undefined): boolean =>
  service === ALL
    ? grantCovers(a, service, undefined)
    : grantCovers(a, service, labelsOf?.(service), labelsOf?.pinOf?.(service), labelsOf?.discovered?.(service));

/** An admin grant covers a selector of the grant: on `*`, or one of its selectors holds the selector within it. */
function adminCoversSelector(a: Grant, text: string): boolean {
  if (a.services.includes(ALL)) return true;
  let inner: ReturnType<typeof parseSelector>;
  try {
    inner = parseSelector(text);
  } catch {
    return false;
  }
  return (a.selectors ?? []).some((outer) => {
    try {
      return isWithin(inner, parseSelector(outer));
    } catch {
      return false;
    }
  });
}

/** What a grant reaches, one item each: its aliases (or `*`; `stale`: bound to a service the alias no longer names), then its selectors. */
type Reach = { service: string; stale?: true } | { selector: string };
const reachOf = (grant: Grant, labelsOf: LabelsOf | undefined): Reach[] =>
  grant.services.includes(ALL)
    ? [{ service: ALL }]
    : [
        ...grant.services.map((service) =>
          // Bound to another service only: a grant being given is not bound yet (allow binds it), and an
          // unbound one already stored is judged by the service its alias names now, like any grant.
          isStaleAlias(grant, service, labelsOf?.pinOf?.(service)) ? { service, stale: true as const } : { service },
        ),
        ...(grant.selectors ?? []).map((selector) => ({ selector })),
      ];

/** `gaveIt`: the admin gave this grant (a stale alias of it is hers to take away). */
const covers = (a: Grant, item: Reach, labelsOf: LabelsOf | undefined, gaveIt: boolean): boolean => {
  if ('selector' in item) return adminCoversSelector(a, item.selector);
  if (item.stale) return gaveIt || a.services.includes(ALL);
  return adminCoversService(a, item.service, labelsOf);
};

const describeReach = (item: Reach): string =>
  'selector' in item
    ? `services matching \`${item.selector}\``
    : item.service === ALL
      ? 'every service'
      : item.stale
        ? `service \`${item.service}\` (${STALE_ALIAS_NOTE}: only an admin of every service, or whoever granted it, may remove it)`
        : `service \`${item.service}\``;

/** The first part of `grant` that no admin grant (with wide enough channels) covers. */
const uncovered = (admins: Grant[], grant: Grant, labelsOf: LabelsOf | undefined, gaveIt: boolean): Reach | undefined =>
  reachOf(grant, labelsOf).find((item) => !admins.some((a) => channelsWithin(grant, a) && covers(a, item, labelsOf, gaveIt)));

/** May `admin`, typing in `channelId`, give (or take away) `grant`? `labelsOf` resolves the grant's aliases (labels, pins) for her scope. */
export function mayAdminister(admin: AllowlistEntry | undefined, grant: Grant, channelId: string, labelsOf?: LabelsOf): Decision {
  const admins = adminGrantsHere(admin, channelId);
  if (admins.length === 0) return { allowed: false, reason: 'you need the `admin` role in this channel' };
  const gaveIt = grant.grantedBy !== undefined && grant.grantedBy === admin?.userId;
  const item = uncovered(admins, grant, labelsOf, gaveIt);
  if (item === undefined) return { allowed: true };
  const wide = admins.some((a) => covers(a, item, labelsOf, gaveIt));
  if (!wide) return { allowed: false, reason: `your \`admin\` role does not cover ${describeReach(item)}` };
  return {
    allowed: false,
    reason: `your \`admin\` role for ${describeReach(item)} does not reach ${grant.channels ? 'all of those channels' : 'every channel'}`,
  };
}

/** The part of someone's grants that `admin` administers (what a scoped admin is shown). */
export const grantsWithinScope = (admin: AllowlistEntry | undefined, grants: Grant[], channelId: string, labelsOf?: LabelsOf): Grant[] =>
  grants.filter((g) => mayAdminister(admin, g, channelId, labelsOf).allowed);

/** May `admin` remove `target` from the allowlist? Only when every grant of theirs is within her scope. */
export function mayRemove(admin: AllowlistEntry | undefined, target: AllowlistEntry, channelId: string, labelsOf?: LabelsOf): Decision {
  if (adminGrantsHere(admin, channelId).length === 0) return { allowed: false, reason: 'you need the `admin` role in this channel' };
  // Not which grants: the thread is public, and what lies beyond this admin's scope is not hers to learn.
  if (!target.grants.every((grant) => mayAdminister(admin, grant, channelId, labelsOf).allowed))
    return { allowed: false, reason: 'that person has grants beyond your scope' };
  return { allowed: true };
}
