import { ALL, grantsPermission, validInChannel, type AllowlistEntry, type Decision, type Grant } from './roles';

/**
 * Delegated administration. An `admin` grant administers exactly its own scope: an admin on `web`
 * may give and take roles on `web` (and its scripts), in the channels of her grant, and nothing
 * else. Nobody can create, widen or remove a grant beyond the scope of their own admin grants, and
 * nobody can remove a person whose grants reach beyond the remover's scope. A global admin holds
 * `admin` on `*` in every channel: only another global admin covers her grants, and nobody
 * removes themselves, so the last one of a team stays.
 */

/** The admin grants that count in this channel. */
const adminGrantsHere = (admin: AllowlistEntry | undefined, channelId: string): Grant[] =>
  (admin?.grants ?? []).filter((g) => grantsPermission(g, 'admin') && validInChannel(g, channelId));

/** Channels a grant reaches are within an admin grant's channels (absent = everywhere). */
const channelsWithin = (grant: Grant, admin: Grant): boolean =>
  admin.channels === undefined || (grant.channels !== undefined && grant.channels.every((c) => admin.channels!.includes(c)));

/** The first service of `grant` that no admin grant (with wide enough channels) covers. */
function uncoveredService(admins: Grant[], grant: Grant): string | undefined {
  const services = grant.services.includes(ALL) ? [ALL] : grant.services;
  return services.find((s) => !admins.some((a) => channelsWithin(grant, a) && (a.services.includes(ALL) || (s !== ALL && a.services.includes(s)))));
}

/** May `admin`, typing in `channelId`, give (or take away) `grant`? */
export function mayAdminister(admin: AllowlistEntry | undefined, grant: Grant, channelId: string): Decision {
  const admins = adminGrantsHere(admin, channelId);
  if (admins.length === 0) return { allowed: false, reason: 'you need the `admin` role in this channel' };
  const service = uncoveredService(admins, grant);
  if (service === undefined) return { allowed: true };
  const wide = admins.some((a) => a.services.includes(ALL) || (service !== ALL && a.services.includes(service)));
  if (!wide) {
    return { allowed: false, reason: `your \`admin\` role does not cover ${service === ALL ? 'every service' : `service \`${service}\``}` };
  }
  return {
    allowed: false,
    reason: `your \`admin\` role for ${service === ALL ? 'every service' : `service \`${service}\``} does not reach ${grant.channels ? 'all of those channels' : 'every channel'}`,
  };
}

/** The part of someone's grants that `admin` administers (what a scoped admin is shown). */
export const grantsWithinScope = (admin: AllowlistEntry | undefined, grants: Grant[], channelId: string): Grant[] =>
  grants.filter((g) => mayAdminister(admin, g, channelId).allowed);

/** May `admin` remove `target` from the allowlist? Only when every grant of theirs is within her scope. */
export function mayRemove(admin: AllowlistEntry | undefined, target: AllowlistEntry, channelId: string): Decision {
  if (adminGrantsHere(admin, channelId).length === 0) return { allowed: false, reason: 'you need the `admin` role in this channel' };
  // Not which grants: the thread is public, and what lies beyond this admin's scope is not hers to learn.
  if (!target.grants.every((grant) => mayAdminister(admin, grant, channelId).allowed))
    return { allowed: false, reason: 'that person has grants beyond your scope' };
  return { allowed: true };
}
