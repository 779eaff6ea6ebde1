import { addGrant, ALL, describeGrant, type Grant, type Role } from '../auth/roles';
import { parseChannelMention, parseUserMention } from './grammar';
import type { WorkerCommand } from './worker-types';

/** `/ecs allow @user <role> [services…] [--scripts a,b] [--channels #c]`: adds a grant. */
export const allow: WorkerCommand = async ({ request, job, allowlist, out, now }) => {
  const [mention, role, ...services] = request.words.positional as [string, Role, ...string[]];
  const userId = parseUserMention(mention);
  const scripts = request.words.flags.get('scripts');
  const channels = request.words.flags.get('channels');
  const grant: Grant = {
    role,
    services: services.length === 0 || services.includes(ALL) ? [ALL] : [...new Set(services)].sort(),
    ...(typeof scripts === 'string' ? { scripts: scripts.split(',').filter(Boolean) } : {}),
    ...(typeof channels === 'string' ? { channels: channels.split(',').filter(Boolean).map(parseChannelMention) } : {}),
  };
  const { teamId } = job.invocation;
  const existing = await allowlist.get(teamId, userId);
  const grants = addGrant(existing?.grants ?? [], grant);
  await allowlist.put({ teamId, userId, grants, addedBy: job.invocation.userId, updatedAt: new Date(now()).toISOString() });
  await out.post([`<@${userId}> now has:`, ...grants.map((g) => `• ${describeGrant(g)}`)].join('\n'));
  return { outcome: 'success', summary: `granted ${describeGrant(grant)} to <@${userId}>` };
};
