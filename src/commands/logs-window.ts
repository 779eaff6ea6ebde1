/**
 * `/ecs logs <service> --since 15m [--grep text] [--container c] [--task id]`: a service's lines over
 * a time window, across all its tasks (the awslogs streams `<prefix>/<container>/` of its task
 * definition's container), newest last, each with its task's short id. The whole window goes to a
 * file on disk as it is read (OutputSpool: memory stays bounded however many lines), attached to
 * the thread; the thread shows its last lines.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { explainAwsError } from '../aws/errors';
import { logsLocation } from '../ecs/container-logs';
import { forgetBefore, grepPattern, type LogEventLine, type LogQuery, searchLogEvents } from '../ecs/log-search';
import { shortTaskDefinition } from '../ecs/taskdef';
import { OutputSpool } from '../exec/spool';
import { UserFacingError } from '../platform/errors';
import { code, escapeText, quantity } from '../slack/format';
import type { CommandResult, WorkerContext } from '../worker/context';
import { followLogs } from './logs-follow';
import { findTask, logs as lastLines, pickContainer } from './logs';
import type { WorkerHandler } from './verb';
import type { LogsArgs } from './verbs/args';

/** Lines read at most: beyond them the window is cut (the file would outgrow what Slack and /tmp take well). */
export const MAX_WINDOW_LINES = 500_000;
/** Reading stops this long before the Lambda's deadline, leaving time to attach the file and answer. */
const READ_MARGIN_MS = 20_000;
/** Events a FilterLogEvents page: smaller than its 10,000 so one response (and its parse) stays small in memory. */
const WINDOW_PAGE = 5000;

/** `2026-12-05 14:03:07Z 0f2c8a1b message`: when, which task (the stream's last part, 8 characters), the line. */
export function windowLineText(event: LogEventLine): string {
  const task = event.stream.slice(event.stream.lastIndexOf('/') + 1, event.stream.lastIndexOf('/') + 9);
  const message = event.message.endsWith('\n') ? event.message.replace(/\n+$/, '') : event.message;
  return `${new Date(event.timestamp).toISOString().slice(0, 19).replace('T', ' ')}Z ${task} ${message}`;
}

/** Where a service's (or one of its tasks') lines are: a FilterLogEvents query, or why they are not in CloudWatch Logs. */
export async function windowSource(
  args: LogsArgs,
  ctx: WorkerContext,
): Promise<
  | { about: string; query: Omit<LogQuery, 'startTime'> & { region: string }; container: string }
  | { about: string; elsewhere: string; driver: string; container: string }
> {
  const { aws, target } = ctx as Required<Pick<WorkerContext, 'aws' | 'target'>> & WorkerContext;
  const ecs = aws.ecs();
  let taskDefinitionArn: string | undefined;
  let taskArn: string | undefined;
  if (args.task) {
    const task = await findTask(ecs, target, args.task);
    taskDefinitionArn = task.taskDefinitionArn;
    taskArn = task.taskArn ?? '';
  } else {
    const described = await ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] })).catch((error) => {
      throw explainAwsError(error, `describing service ${code(target.service)}`);
    });
    const service = described.services?.[0];
    if (!service?.taskDefinition) throw new UserFacingError(`Service ${code(target.service)} was not found in cluster ${code(target.cluster)}.`);
    taskDefinitionArn = service.taskDefinition;
  }
  const taskDefinition = await ecs
    .send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }))
    .then((o) => o.taskDefinition ?? {})
    .catch((error) => {
      throw explainAwsError(error, `reading task definition ${code(shortTaskDefinition(taskDefinitionArn))}`);
    });
  const container = pickContainer(taskDefinition, args.container, target);
  const name = container.name ?? '?';
  const of = taskArn ? `task ${code(taskArn.slice(taskArn.lastIndexOf('/') + 1))} of *${target.alias}*` : `all tasks of *${target.alias}*`;
  const about = `${code(name)} in ${of} (${code(shortTaskDefinition(taskDefinitionArn))})`;
  // Without a task, the stream "of task ''" is the prefix all its tasks' streams share: `<prefix>/<container>/`.
  const where = logsLocation(container, taskArn ?? '', target.region);
  if (where.kind === 'elsewhere') return { about, elsewhere: where.explanation, driver: where.driver, container: name };
  return {
    about,
    container: name,
    query: { region: where.region, group: where.group, ...(taskArn ? { streamNames: [where.stream] } : { streamPrefix: where.stream }) },
  };
}

export async function logsWindow(args: LogsArgs, ctx: WorkerContext): Promise<CommandResult> {
  const { aws, target } = ctx;
  if (!aws || !target) throw new Error('logs needs a target');
  const source = await windowSource(args, ctx);
  if ('elsewhere' in source) {
    await ctx.out.post(`📄 Logs of ${source.about}:\n${escapeText(source.elsewhere)}`);
    return { outcome: 'warning', summary: `${target.alias}: ${source.container} logs with ${source.driver}, not readable here` };
  }
  // Following, the window before it is short unless asked for: the point is what comes next.
  const since = args.since ?? (args.follow ? 60_000 : 15 * 60_000);
  const endTime = ctx.now();
  const startTime = endTime - since;
  const window = `the last ${describeSpan(since)}${args.grep ? ` matching ${code(args.grep)}` : ''}`;
  const where = `${code(source.query.group)} (${escapeText(source.query.region)})`;
  const client = aws.client(CloudWatchLogsClient, source.query.region);
  const spool = await OutputSpool.create({ fileName: `logs-${target.alias.replace(/[^\w.-]/g, '_')}.txt`, tailLines: args.lines });
  const seen = new Map<string, number>();
  const filter = args.grep ? { filterPattern: grepPattern(args.grep) } : {};
  let cut: string | undefined;
  try {
    const query: LogQuery = { ...source.query, startTime, endTime, ...filter };
    cut = await readWindow(searchLogEvents(client, query, { seen, pageLimit: WINDOW_PAGE }), spool, seen, {
      maxLines: MAX_WINDOW_LINES,
      remainingMs: ctx.remainingMs,
    });
  } catch (error) {
    await spool.cleanup();
    throw explainAwsError(error, `reading the logs of ${source.about} in ${where}`);
  }
  const total = spool.lines;
  if (args.follow && !cut) {
    await ctx.out.post(`📄 ${quantity(total, 'line')} from ${source.about} in ${window}, in ${where}; following it below, newest last:`);
    let followed: Awaited<ReturnType<typeof followLogs>>;
    try {
      followed = await followLogs(ctx, {
        client,
        query: { ...source.query, ...filter },
        from: endTime,
        floor: startTime,
        durationMs: args.follow,
        about: source.about,
        spool,
        seen,
        tail: spool.tail(),
        format: windowLineText,
        describe: describeSpan,
      });
    } catch (error) {
      await spool.cleanup();
      throw explainAwsError(error, `following the logs of ${source.about} in ${where}`);
    }
    const how = followed.why === 'cancelled' ? 'cancelled' : followed.why === 'deadline' ? 'stopped at the worker’s time limit' : 'done';
    return {
      outcome: followed.why === 'duration' ? 'success' : followed.why === 'cancelled' ? 'cancelled' : 'warning',
      summary: `${target.alias}: followed ${source.container} (run ${followed.runId}), ${quantity(followed.lines, 'new line')}, ${how}`,
      logFile: await spool.close(),
      cleanup: () => spool.cleanup(),
    };
  }
  if (total === 0) {
    await spool.cleanup();
    await ctx.out.post(`📄 No lines from ${source.about} in ${window}, in ${where}.`);
    return { outcome: 'success', summary: `${target.alias}: no log lines in ${window}` };
  }
  const tail = spool.tail();
  const shown = tail.length < total ? `; the last ${tail.length} below, all of them attached` : '';
  await ctx.out.post(
    `📄 ${quantity(total, 'line')} from ${source.about} in ${window}, in ${where}, newest last${shown}:${cut ? `\n⚠️ ${cut}${args.follow ? ' (not followed)' : ''}` : ''}`,
  );
  ctx.out.useLogFile();
  ctx.out.write(`${tail.join('\n')}\n`);
  const logFile = await spool.close();
  return {
    outcome: cut ? 'warning' : 'success',
    summary: `${target.alias}: ${quantity(total, 'log line')} of ${source.container} in ${window}${cut ? ' (truncated)' : ''}`,
    logFile,
    cleanup: () => spool.cleanup(),
  };
}

/**
 * Writes the window's pages to the spool, formatted, until they end, `maxLines` are written, or the
 * Lambda's time is nearly out (then says where it stopped, for the thread).
 */
export async function readWindow(
  pages: AsyncIterable<LogEventLine[]>,
  spool: Pick<OutputSpool, 'write' | 'lines'>,
  seen: Map<string, number>,
  limits: { maxLines: number; remainingMs: () => number },
): Promise<string | undefined> {
  let last: number | undefined;
  const upTo = () => (last === undefined ? '' : ` (up to ${isoSeconds(last)})`);
  for await (const page of pages) {
    // Pages come in time order: only the last minute's ids can come again (a follow reads back 30 s).
    forgetBefore(seen, page[page.length - 1]!.timestamp - 60_000);
    const room = limits.maxLines - spool.lines;
    const kept = room < page.length ? page.slice(0, room) : page;
    spool.write(kept.map(windowLineText));
    if (kept.length) last = kept[kept.length - 1]!.timestamp;
    if (kept.length < page.length) return `truncated at ${quantity(limits.maxLines, 'line')}${upTo()}: narrow it with a shorter \`--since\` or \`--grep\``;
    if (limits.remainingMs() < READ_MARGIN_MS)
      return `truncated: out of time after ${quantity(spool.lines, 'line')}${upTo()}: narrow it with a shorter \`--since\` or \`--grep\``;
  }
  return undefined;
}

const isoSeconds = (t: number) => `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')}Z`;

/** `/ecs logs`: a window (`--since`, `--grep`, `--follow`) across the service's tasks, else the last lines of one task (logs.ts). */
export const logsCommand: WorkerHandler<LogsArgs> = (args, ctx) =>
  args.since !== undefined || args.grep !== undefined || args.follow !== undefined ? logsWindow(args, ctx) : lastLines(args, ctx);

/** `10 min`, `2 h 30 min`, `45 s`, `7 d`: a `--since`/`--follow` as people typed it. */
export function describeSpan(ms: number): string {
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ] as const) {
    if (rest >= seconds) parts.push(`${Math.floor(rest / seconds)} ${unit}`);
    rest %= seconds;
  }
  return parts.join(' ') || '0 s';
}
