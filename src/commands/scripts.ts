import { isAllowed, type AllowlistEntry } from '../auth/roles';
import { declaredLabels, withLabels } from '../fleet/memory-catalog';
import type { Config } from '../config/schema';
import { escapeText } from '../slack/format';
import { describeScriptArgs, scriptUsage } from './script-args';
import type { AckAnswer } from './types';
import type { NoArgs } from './verb';

/** Names of the scripts this person may run in this channel. */
export function scriptsFor(config: Config, entry: AllowlistEntry | undefined, channelId: string): string[] {
  return Object.entries(config.scripts)
    .filter(([name, s]) => isAllowed(entry, 'run', withLabels({ channelId, service: s.target, script: name }, declaredLabels(config))).allowed)
    .map(([name]) => name);
}

/** `/ecs scripts`: the scripts you may run, each with its usage and argument patterns. */
export const scripts: AckAnswer<NoArgs> = (_args, { config, entry, invocation }) => {
  const mine = scriptsFor(config, entry, invocation.channelId);
  // Not even how many scripts exist: only what this person may run here.
  if (mine.length === 0) return { text: 'You may not run any script in this channel. An admin can grant the `operator` role (`/ecs allow`).' };
  const lines = mine.flatMap((name) => {
    const s = config.scripts[name]!;
    return [
      `• \`${escapeText(scriptUsage(name, s))}\`${s.description ? `: ${escapeText(s.description)}` : ''} (on \`${s.target}\`, stops after ${Math.round(s.timeoutSeconds / 60)} min${s.requiresApproval ? ', needs an approval' : ''}${s.allowOverlap ? '' : ', one run at a time'})`,
      ...describeScriptArgs(s).map((d) => `    ${d}`),
    ];
  });
  return { text: ['*Scripts you may run*', ...lines].join('\n') };
};
