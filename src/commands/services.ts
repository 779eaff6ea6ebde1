import { visibleServices } from '../auth/roles';
import { escapeText } from '../slack/format';
import type { AckAnswer } from './types';
import type { NoArgs } from './verb';

/** `/ecs services`: the services this person holds a role on here, and nothing about the others. */
export const services: AckAnswer<NoArgs> = (_args, { config, entry, invocation }) => {
  const mine = visibleServices(entry, invocation.channelId, Object.keys(config.targets));
  const lines = mine.map((alias) => {
    const t = config.targets[alias]!;
    const where = `${t.cluster}/${t.service} in ${t.region}${t.roleArn ? ` (account ${t.roleArn.split(':')[4]})` : ''}`;
    return `• \`${alias}\` — ${t.description ? `${escapeText(t.description)}, ` : ''}${escapeText(where)}`;
  });
  return { text: lines.length ? ['*Your services here*', ...lines].join('\n') : 'You hold no role on any service in this channel.' };
};
