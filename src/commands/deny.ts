import { parseUserMention } from './grammar';
import type { WorkerCommand } from './worker-types';

/** `/ecs deny @user`: removes every grant the user has. */
export const deny: WorkerCommand = async ({ request, job, allowlist, out }) => {
  const userId = parseUserMention(request.words.positional[0]!);
  if (userId === job.invocation.userId) {
    await out.post('You cannot remove yourself: ask another admin, so the allowlist is never left without one by accident.');
    return { outcome: 'failure', summary: 'refused to remove the requesting admin' };
  }
  const removed = await allowlist.remove(job.invocation.teamId, userId);
  await out.post(removed ? `<@${userId}> is no longer on the allowlist.` : `<@${userId}> was not on the allowlist; nothing changed.`);
  return { outcome: removed ? 'success' : 'warning', summary: removed ? `removed <@${userId}> from the allowlist` : `<@${userId}> was not on the allowlist` };
};
