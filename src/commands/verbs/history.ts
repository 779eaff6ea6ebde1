import { describeSince, HISTORY_EXPORT_MAX, HISTORY_SHOWN, MAX_HISTORY_SINCE_MS, parseHistorySince } from '../../audit/history';
import { withLabels } from '../../fleet/memory-catalog';
import { isAllowed } from '../../auth/roles';
import { lookup } from '../../config/records';
import { UsageError } from '../../platform/errors';
import { escapeText } from '../../slack/format';
import { parseUserMention } from '../grammar';
import { defineVerb, expectCount, UnknownNameError, usageError, type Visibility } from '../verb';
import type { Config } from '../../config/schema';
import type { HistoryArgs } from './args';

/**
 * A service, or a script or job (found by its name, checked on its service): declared and on a
 * service this person holds a role on here, else unknown (the same answer whether missing or hidden).
 */
function resolveSubject(name: string, config: Config, visible: Visibility): Pick<HistoryArgs, 'target' | 'script'> {
  const service = lookup(config.targets, name) ? name : undefined;
  const of = lookup(config.scripts, name)?.target ?? lookup(config.jobs, name)?.target;
  const target = service ?? of;
  if (target && visible.services.includes(target)) return service ? { target } : { target, script: name };
  const list = visible.services.length ? ` Your services here: ${visible.services.map((s) => `\`${s}\``).join(', ')}.` : '';
  throw new UnknownNameError(`Unknown service, script or job \`${escapeText(name)}\`, or not one of yours.${list}`, target !== undefined);
}

export const historyVerb = defineVerb<HistoryArgs>({
  name: 'history',
  summary: 'Who did what, when and how it ended: the latest actions from the audit log, with links to their threads',
  usage: '/ecs history [service|script|job] [--user @person] [--since 7d] [--export]',
  details: [
    `Newest first, the latest ${HISTORY_SHOWN} in the thread: when (in your time zone), who, the command as typed, its outcome and duration, and a link to its thread.`,
    'Without a name: every service you hold a role on here (actions about no service, such as `/ecs help`, only for admins of every service). A script or job shows its runs; its service shows everything done to it.',
    `\`--user @person\`: only their actions. \`--since 30m|12h|7d|2w\` (up to ${MAX_HISTORY_SINCE_MS / 86_400_000}d): only that window. \`--export\`: the whole window (up to ${HISTORY_EXPORT_MAX.toLocaleString('en-US')} actions) attached as CSV.`,
    'Needs the viewer role (or any role) on the service; rows about services you may not read, here or in the channel where they happened, are left out. Actions recorded before history existed are not shown.',
  ],
  permission: 'read',
  // Checked on the service named; without one, each row is checked on its own service (src/audit/history.ts).
  checks: 'itself',
  runsIn: 'worker',
  flags: { withValue: ['user', 'since'], boolean: ['export'] },
  parse(words, config, visible) {
    expectCount(this, words, 0, 1);
    const name = words.positional[0];
    const userText = words.flags.get('user') as string | undefined;
    const sinceText = words.flags.get('since') as string | undefined;
    let user: string | undefined;
    try {
      user = userText === undefined ? undefined : parseUserMention(userText);
    } catch (error) {
      if (error instanceof UsageError) throw usageError(this, `\`--user\`: ${error.userMessage}`);
      throw error;
    }
    const since = sinceText === undefined ? undefined : parseHistorySince(sinceText);
    if (sinceText !== undefined && since === undefined)
      throw usageError(this, `\`--since\` is a duration such as \`30m\`, \`12h\`, \`7d\` or \`2w\`, not \`${escapeText(sinceText)}\`.`);
    if (since !== undefined && since > MAX_HISTORY_SINCE_MS)
      throw usageError(
        this,
        `\`--since\` reaches back at most ${describeSince(MAX_HISTORY_SINCE_MS).replace('the last ', '')}, not ${describeSince(since).replace('the last ', '')}.`,
      );
    return {
      ...(name !== undefined ? resolveSubject(name, config, visible) : {}),
      ...(user ? { user } : {}),
      ...(since !== undefined ? { since } : {}),
      ...(words.flags.get('export') ? { export: true as const } : {}),
    };
  },
  scope: ({ target, script }) => ({ ...(target ? { target } : {}), ...(script ? { script } : {}) }),
  // A named service (a script's or job's too) needs `read` on it; without one, the rows are checked one by one.
  authorise: (entry, scope, channelId, labelsOf) =>
    scope.target ? isAllowed(entry, 'read', withLabels({ channelId, service: scope.target }, labelsOf)) : { allowed: true },
  handler: () => import('../history').then((m) => m.history),
});
