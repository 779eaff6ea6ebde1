import { isGlobalAdmin, mayRemove } from '../auth/administration';
import { PermissionDeniedError } from '../platform/errors';
import { UsageError } from '../platform/errors';
import type { WorkerCommand } from './worker-types';

/**
 * `/ecs deny @user`: removes every grant the user has, if every one of them lies within the
 * remover's admin scope. Nobody removes themselves, and the last global admin stays.
 */
export const deny: WorkerCommand = async ({ request, job, allowlist, out }) => {
  const subject = request.scope.subject;
  if (!subject) throw new UsageError('The request names no person.');
  const { teamId, userId: adminId, channelId } = job.invocation;
  if (subject === adminId) {
    await out.post('You cannot remove yourself: ask another admin, so the allowlist is never left without one by accident.');
    return { outcome: 'failure', summary: 'refused to remove the requesting admin' };
  }
  const [admin, target] = await Promise.all([allowlist.get(teamId, adminId), allowlist.get(teamId, subject)]);
  if (!target) {
    await out.post(`<@${subject}> was not on the allowlist; nothing changed.`);
    return { outcome: 'warning', summary: `<@${subject}> was not on the allowlist` };
  }
  const decision = mayRemove(admin, target, channelId);
  if (!decision.allowed) throw new PermissionDeniedError(decision.reason);
  if (isGlobalAdmin(target)) {
    const others = (await allowlist.list(teamId)).filter((e) => e.userId !== subject && isGlobalAdmin(e));
    if (others.length === 0) throw new PermissionDeniedError(`<@${subject}> is the last admin of every service; make someone else one first`);
  }
  const removed = await allowlist.remove(teamId, subject);
  await out.post(removed ? `<@${subject}> is no longer on the allowlist.` : `<@${subject}> was not on the allowlist; nothing changed.`);
  return { outcome: removed ? 'success' : 'warning', summary: removed ? `removed <@${subject}> from the allowlist` : `<@${subject}> was not on the allowlist` };
};
