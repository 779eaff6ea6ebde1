import { lookup } from '../../config/records';
import { grepPattern, parseLogDuration } from '../../ecs/log-search';
import { UsageError } from '../../platform/errors';
import { escapeText } from '../../slack/format';
import { defineVerb, expectCount, onTarget, resolveTarget, usageError } from '../verb';
import type { LogsArgs } from './args';

export const DEFAULT_LOG_LINES = 50;
export const MAX_LOG_LINES = 200;
/** A task id (32 hex characters, or the older UUID form), its first 8 or more characters (as `/ecs status` shows them), or a task ARN. */
const TASK = /^([0-9a-f]{8,32}|[0-9a-f-]{36}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task\/[A-Za-z0-9_-]{1,255}\/[0-9a-f-]{32,36})$/;
const CONTAINER = /^[A-Za-z0-9_-]{1,255}$/;
/** How far back `--since` reaches: a week (log groups often keep no more, and a Lambda reads no more in time). */
export const MAX_SINCE_MS = 7 * 86_400_000;
/** A follow fits one worker Lambda (15 min). */
export const MAX_FOLLOW_MS = 15 * 60_000;

export const logsVerb = defineVerb<LogsArgs>({
  name: 'logs',
  summary: "Show a service's container logs: the last lines of a task, or a time window across its tasks",
  usage: '/ecs logs <service> [--since <15m>] [--grep <text>] [--follow <5m>] [--task <task-id>] [--container <name>] [--lines <n>]',
  details: [
    `Without \`--since\` or \`--grep\`: the last lines of one task, the newest of the service (running or recently stopped) unless \`--task\` names one. Without \`--container\`: the application container. \`--lines\`: 1 to ${MAX_LOG_LINES}, ${DEFAULT_LOG_LINES} by default.`,
    "`--since 30s|15m|2h|7d` (at most 7d; 15m with `--grep` alone): every line of that window across all the service's tasks (or the one `--task`), newest last, each with its task id; the last `--lines` in the thread, the whole window attached as a file.",
    '`--grep <text>`: only lines containing that literal text (case-sensitive; quote it for spaces: `--grep "connection refused"`). It is passed to CloudWatch Logs as one quoted term, never as filter-pattern syntax; double quotes and backslashes are not accepted.',
    '`--follow 5m` (10s to 15m): after the window (the last minute unless `--since`), new lines as they arrive, in one message that shows the latest of them (read every 2 s from CloudWatch Logs with FilterLogEvents, not Live Tail); all of them attached at the end. `/ecs cancel <run-id>` or its Cancel button stops it: whoever started it (if they may use `/ecs cancel` at all, which needs `run` in the channel), or anyone who may `run` on the service; otherwise it ends by itself.',
    "A service discovered into the fleet's catalog (`/ecs services --refresh`) can be named too, without `--follow`.",
    'Logs are read from CloudWatch Logs (the awslogs driver with a stream prefix); for other drivers (FireLens, Splunk, …) the answer says where the logs are.',
  ],
  permission: 'read',
  checks: 'target',
  onDiscovered: true,
  runsIn: 'worker',
  flags: { withValue: ['task', 'container', 'lines', 'since', 'grep', 'follow'], boolean: [] },
  parse(words, config, visible) {
    expectCount(this, words, 0, 1);
    const target = resolveTarget(this, words.positional[0], config, visible);
    const task = words.flags.get('task') as string | undefined;
    const container = words.flags.get('container') as string | undefined;
    const linesText = (words.flags.get('lines') as string | undefined) ?? String(DEFAULT_LOG_LINES);
    if (task !== undefined && !TASK.test(task))
      throw usageError(this, `\`${escapeText(task)}\` is not a task id: give the id (32 hex characters) or the task ARN.`);
    if (container !== undefined && !CONTAINER.test(container)) throw usageError(this, `\`${escapeText(container)}\` is not a container name.`);
    const lines = /^\d{1,4}$/.test(linesText) ? Number(linesText) : Number.NaN;
    if (!(lines >= 1 && lines <= MAX_LOG_LINES))
      throw usageError(this, `\`--lines\` is a number from 1 to ${MAX_LOG_LINES}, not \`${escapeText(linesText)}\`.`);
    const sinceText = words.flags.get('since') as string | undefined;
    const since = sinceText === undefined ? undefined : parseLogDuration(sinceText);
    if (sinceText !== undefined && !(since && since <= MAX_SINCE_MS))
      throw usageError(this, `\`--since\` is a duration up to 7d, such as \`30s\`, \`15m\`, \`2h\` or \`1d\`, not \`${escapeText(sinceText)}\`.`);
    const followText = words.flags.get('follow') as string | undefined;
    const follow = followText === undefined ? undefined : parseLogDuration(followText);
    if (followText !== undefined && !(follow && follow >= 10_000 && follow <= MAX_FOLLOW_MS))
      throw usageError(this, `\`--follow\` is a duration from 10s to 15m, such as \`30s\` or \`5m\`, not \`${escapeText(followText)}\`.`);
    // A follow runs in the run workflow, which finds its service among the declared targets.
    if (follow && !lookup(config.targets, target))
      throw usageError(
        this,
        `\`--follow\` needs \`${escapeText(target)}\` declared under \`targets:\`: it is only discovered from the fleet. Without \`--follow\`, \`logs\` reads it as it is.`,
      );
    const grep = words.flags.get('grep') as string | undefined;
    if (grep !== undefined) {
      try {
        grepPattern(grep);
      } catch (error) {
        if (error instanceof UsageError) throw usageError(this, error.message);
        throw error;
      }
    }
    return {
      target,
      lines,
      ...(task ? { task } : {}),
      ...(container ? { container } : {}),
      ...(since ? { since } : {}),
      ...(grep !== undefined ? { grep } : {}),
      ...(follow ? { follow } : {}),
    };
  },
  scope: onTarget,
  handler: () => import('../logs-window').then((m) => m.logsCommand),
});
