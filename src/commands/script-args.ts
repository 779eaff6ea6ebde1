import type { Script } from '../config/schema';
import { checkArguments } from '../exec/command';
import { UsageError } from '../platform/errors';
import { escapeText } from '../slack/format';

/** `/ecs run backup.sh <label>` style usage, with each argument's pattern. */
export function scriptUsage(name: string, script: Script): string {
  const args = script.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`));
  if (script.extraArgs.max > 0) args.push(`[more… up to ${script.extraArgs.max}]`);
  return `/ecs run ${name}${args.length ? ` ${args.join(' ')}` : ''}`;
}

export function describeScriptArgs(script: Pick<Script, 'args'>): string[] {
  return script.args.map(
    (a) => `\`${a.name}\`${a.optional ? ' (optional)' : ''}: must match \`${escapeText(a.pattern)}\`${a.description ? `: ${escapeText(a.description)}` : ''}`,
  );
}

/**
 * Checks the words typed after the script name against its declaration (count, length, control
 * characters, each value against its pattern as a whole: src/exec/command.ts), with the usage.
 * The values reach the container as literal arguments: this is about what the script accepts,
 * not about shell safety (there is no shell).
 */
export function validateScriptArgs(name: string, script: Script, values: string[]): string[] {
  return validateArgs(script, values, scriptUsage(name, script));
}

/** The same checks for any declaration of arguments (scripts, jobs), refused with `usage` (plain text) and each pattern. */
export function validateArgs(rules: Pick<Script, 'args'> & Partial<Pick<Script, 'extraArgs'>>, values: string[], usageText: string): string[] {
  const problems = checkArguments(rules, values);
  if (problems.length === 0) return values;
  const usage = `Usage: \`${escapeText(usageText)}\``;
  const lines = problems.length === 1 ? [problems[0]!.message] : ['The arguments were refused:', ...problems.map((p) => `• ${p.message}`)];
  throw new UsageError([...lines, usage, ...describeScriptArgs(rules)].join('\n'));
}
