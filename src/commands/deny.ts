import { mayRemove } from '../auth/administration';
import { fleetCatalog } from '../fleet/fleet-catalog';
import { labelsOfGranted } from '../fleet/grant-labels';
import { PermissionDeniedError } from '../platform/errors';
import { mention } from '../slack/invocation';
import type { WorkerHandler } from './verb';
import type { DenyArgs } from './verbs/args';

/**
 * `/ecs deny @user`: removes every grant the user has, if every one of them lies within the
 * remover's admin scope. Nobody removes themselves, so the last global admin stays.
 */
export const deny: WorkerHandler<DenyArgs> = async ({ subject }, { job, allowlist, out, config, catalog }) => {
  const { teamId, userId: adminId, channelId } = job.invocation;
  if (subject === adminId)
    throw new PermissionDeniedError('you cannot remove yourself: ask another admin, so the allowlist is never left without one by accident');
  const [admin, target] = await Promise.all([allowlist.get(teamId, adminId), allowlist.get(teamId, subject)]);
  if (!target) {
    await out.post(`${mention(subject)} was not on the allowlist; nothing changed.`);
    return { outcome: 'warning', summary: `${mention(subject)} was not on the allowlist` };
  }
  // Discovered services granted by alias are checked by their labels, read from the catalog.
  const labels = await labelsOfGranted(config, async () => catalog ?? (await fleetCatalog(config)), target.grants);
  const decision = mayRemove(admin, target, channelId, labels);
  if (!decision.allowed) throw new PermissionDeniedError(decision.reason);
  // The last global admin stays by construction: only a global admin covers a global admin's
  // grants, and nobody removes themselves.
  // Only the entry as checked: a grant added meanwhile (perhaps beyond this admin's scope) stays.
  const removed = await allowlist.remove(teamId, subject, { updatedAt: target.updatedAt });
  await out.post(removed ? `${mention(subject)} is no longer on the allowlist.` : `${mention(subject)} was not on the allowlist; nothing changed.`);
  return {
    outcome: removed ? 'success' : 'warning',
    summary: removed ? `removed ${mention(subject)} from the allowlist` : `${mention(subject)} was not on the allowlist`,
  };
};
