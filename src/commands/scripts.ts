import { isAllowed, type AllowlistEntry } from '../auth/roles';
import type { Config } from '../config/schema';
import { escapeText } from '../slack/format';
import { describeScriptArgs, scriptUsage } from './script-args';
import type { AckCommand } from './types';

/** Names of the scripts this person may run in this channel. */
export function scriptsFor(config: Config, entry: AllowlistEntry | undefined, channelId: string): string[] {
  return Object.entries(config.scripts)
    .filter(([name, s]) => isAllowed(entry, 'run', { channelId, service: s.target, script: name }).allowed)
    .map(([name]) => name);
}

/** `/ecs scripts`: the scripts you may run, each with its usage and argument patterns. */
export const scripts: AckCommand = ({ config, entry, invocation }) => {
  const mine = scriptsFor(config, entry, invocation.channelId);
  if (mine.length === 0) {
    const declared = Object.keys(config.scripts).length;
    return { text: declared ? `You may not run any of the ${declared} declared scripts here. An admin can grant the \`operator\` role (\`/ecs allow\`).` : 'No scripts are declared in the configuration.' };
  }
  const lines = mine.flatMap((name) => {
    const s = config.scripts[name]!;
    return [
      `• \`${escapeText(scriptUsage(name, s))}\`${s.description ? `: ${escapeText(s.description)}` : ''} (on \`${s.target}\`, stops after ${Math.round(s.timeoutSeconds / 60)} min${s.requiresApproval ? ', needs an approval' : ''}${s.allowOverlap ? '' : ', one run at a time'})`,
      ...describeScriptArgs(s).map((d) => `    ${d}`),
    ];
  });
  return { text: ['*Scripts you may run*', ...lines].join('\n') };
};
