import { escapeText } from '../../slack/format';
import { defineVerb, expectCount, onTarget, resolveTarget, usageError } from '../verb';
import type { LogsArgs } from './args';

export const DEFAULT_LOG_LINES = 50;
export const MAX_LOG_LINES = 200;
/** A task id (32 hex characters, or the older UUID form), its first 8 or more characters (as `/ecs status` shows them), or a task ARN. */
const TASK = /^([0-9a-f]{8,32}|[0-9a-f-]{36}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task\/[A-Za-z0-9_-]{1,255}\/[0-9a-f-]{32,36})$/;
const CONTAINER = /^[A-Za-z0-9_-]{1,255}$/;

export const logsVerb = defineVerb<LogsArgs>({
  name: 'logs',
  summary: "Show the last lines of a service's container logs",
  usage: '/ecs logs <service> [--task <task-id>] [--container <name>] [--lines <n>]',
  details: [
    `Without \`--task\`: the newest task of the service, running or recently stopped. Without \`--container\`: the application container. \`--lines\`: 1 to ${MAX_LOG_LINES}, ${DEFAULT_LOG_LINES} by default.`,
    'Logs are read from CloudWatch Logs (the awslogs driver with a stream prefix); for other drivers (FireLens, Splunk, …) the answer says where the logs are.',
  ],
  permission: 'read',
  checks: 'target',
  runsIn: 'worker',
  flags: { withValue: ['task', 'container', 'lines'], boolean: [] },
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
    return { target, lines, ...(task ? { task } : {}), ...(container ? { container } : {}) };
  },
  scope: onTarget,
  handler: () => import('../logs').then((m) => m.logs),
});
