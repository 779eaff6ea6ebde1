import { isAllowed } from '../auth/roles';
import type { AckCommand } from './types';

export const services: AckCommand = ({ config, entry, invocation }) => {
  const lines = Object.entries(config.targets).map(([alias, t]) => {
    const visible = isAllowed(entry, 'read', { channelId: invocation.channelId, service: alias }).allowed;
    const where = `${t.cluster}/${t.service} in ${t.region}${t.roleArn ? ` (account ${t.roleArn.split(':')[4]})` : ''}`;
    return `• \`${alias}\` — ${t.description ? `${t.description}, ` : ''}${where}${visible ? '' : ' _(you have no role here)_'}`;
  });
  return { text: ['*Services*', ...lines].join('\n') };
};
