import { describeGrant } from '../auth/roles';
import type { AckCommand } from './types';

export const allowlist: AckCommand = async ({ allowlist: store, invocation }) => {
  const entries = await store.list(invocation.teamId);
  if (entries.length === 0) return { text: 'The allowlist is empty.' };
  const lines = entries
    .sort((a, b) => a.userId.localeCompare(b.userId))
    .map((e) => `• <@${e.userId}>: ${e.grants.map(describeGrant).join('; ') || '_no grants_'}`);
  return { text: [`*Allowlist* (${entries.length})`, ...lines].join('\n') };
};
