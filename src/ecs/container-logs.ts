/**
 * Where a container's logs are, from its task definition's logConfiguration, and the last lines
 * of an awslogs stream. Used by `/ecs logs` and by the notifier's diagnosis.
 */
import { CloudWatchLogsClient, GetLogEventsCommand, type GetLogEventsCommandOutput, type OutputLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import type { AwsSession } from '../aws/session';

export type LogsLocation =
  | { kind: 'awslogs'; region: string; group: string; stream: string; container: string }
  /** `explanation` is plain text (names from the task definition in it): escape it before showing it in Slack. */
  | { kind: 'elsewhere'; container: string; driver: string; explanation: string };

export interface LogLine {
  timestamp: number;
  message: string;
}

/** `arn:aws:ecs:us-east-1:1…:task/prod/0f2c…` (or the old `task/0f2c…`) → `0f2c…`. */
const taskIdOf = (taskArn: string): string => taskArn.slice(taskArn.lastIndexOf('/') + 1);

/** FireLens outputs that write to CloudWatch Logs name their group in the container's options (Fluent Bit's plugin names). */
const FIRELENS_CLOUDWATCH_OUTPUTS = new Set(['cloudwatch', 'cloudwatch_logs']);

function firelensExplanation(container: string, options: Record<string, string>): string {
  const output = options.Name;
  if (output && FIRELENS_CLOUDWATCH_OUTPUTS.has(output) && options.log_group_name) {
    return `The ${container} container logs with awsfirelens (Fluent Bit output ${output}): its lines go to log group ${options.log_group_name}${options.region ? ` in ${options.region}` : ''}, in streams FireLens names, so I cannot tell which stream is this task's.`;
  }
  return `The ${container} container logs with awsfirelens; its logs are not in CloudWatch Logs where I can find them: see your FireLens output${output ? ` (${output})` : ''}.`;
}

/**
 * Where `container` of the task `taskArn` writes its logs. awslogs: the stream is
 * `<awslogs-stream-prefix>/<container>/<task id>` in `awslogs-group`, in `awslogs-region` (else
 * `defaultRegion`, the task's). Without a prefix the stream is named by the Docker container id,
 * which ECS does not report, so it cannot be derived. Any other driver: where to look instead.
 */
export function logsLocation(container: ContainerDefinition, taskArn: string, defaultRegion: string): LogsLocation {
  const name = container.name ?? '?';
  const config = container.logConfiguration;
  const options: Record<string, string> = config?.options ?? {};
  const elsewhere = (driver: string, explanation: string): LogsLocation => ({ kind: 'elsewhere', container: name, driver, explanation });
  if (!config?.logDriver) {
    return elsewhere(
      'none',
      `The ${name} container has no log configuration: its output stays with the container runtime on the host (Docker's default driver), not in CloudWatch Logs.`,
    );
  }
  const driver = config.logDriver;
  if (driver === 'awsfirelens') return elsewhere(driver, firelensExplanation(name, options));
  if (driver !== 'awslogs')
    return elsewhere(driver, `The ${name} container logs with the ${driver} driver; its logs are not in CloudWatch Logs: look where ${driver} sends them.`);
  const group = options['awslogs-group'];
  if (!group) return elsewhere(driver, `The ${name} container uses awslogs without an awslogs-group, so I cannot tell where its logs are.`);
  const prefix = options['awslogs-stream-prefix'];
  if (!prefix) {
    return elsewhere(
      driver,
      `The ${name} container logs to ${group} with awslogs but without awslogs-stream-prefix: its streams are named by Docker container ids, so the stream of a task cannot be derived. Add awslogs-stream-prefix to the task definition.`,
    );
  }
  return { kind: 'awslogs', region: options['awslogs-region'] || defaultRegion, group, stream: `${prefix}/${name}/${taskIdOf(taskArn)}`, container: name };
}

/** GetLogEvents returns at most 10,000 events a page. */
const MAX_PAGE = 10_000;
/**
 * Paging backwards, a page may be empty while older events exist, so emptiness does not end the
 * walk; the repeated token does. This bounds the walk on a stream of many empty pages, within a
 * worker's (or the notifier's) time.
 */
const MAX_PAGES = 50;

/**
 * One GetLogEvents page of the stream, read `forward` (from its head, or on from a
 * nextForwardToken: AWS asks for startFromHead true with one) or backward (from its end, or on
 * from a nextBackwardToken). Undefined when the group or the stream does not exist (yet): a task
 * that has not started its container has no lines, which is not a failure.
 */
export async function logPage(
  session: AwsSession,
  where: Extract<LogsLocation, { kind: 'awslogs' }>,
  page: { forward: boolean; token?: string | undefined; limit?: number },
): Promise<GetLogEventsCommandOutput | undefined> {
  try {
    return await session.client(CloudWatchLogsClient, where.region).send(
      new GetLogEventsCommand({
        logGroupName: where.group,
        logStreamName: where.stream,
        startFromHead: page.forward,
        ...(page.limit !== undefined ? { limit: page.limit } : {}),
        ...(page.token ? { nextToken: page.token } : {}),
      }),
    );
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** The last `limit` lines of the stream, oldest first; [] when the stream does not exist (yet). */
export async function lastLogLines(session: AwsSession, where: Extract<LogsLocation, { kind: 'awslogs' }>, limit: number): Promise<LogLine[]> {
  if (limit <= 0) return [];
  // Pages come newest first when walking backwards; each page's events are oldest first.
  const pages: OutputLogEvent[][] = [];
  let count = 0;
  let token: string | undefined;
  for (let i = 0; i < MAX_PAGES && count < limit; i++) {
    const out = await logPage(session, where, { forward: false, token, limit: Math.min(limit - count, MAX_PAGE) });
    if (!out) return [];
    const events = out.events ?? [];
    pages.unshift(events);
    count += events.length;
    if (!out.nextBackwardToken || out.nextBackwardToken === token) break;
    token = out.nextBackwardToken;
  }
  return pages
    .flat()
    .slice(-limit)
    .map((e) => ({ timestamp: e.timestamp ?? 0, message: e.message ?? '' }));
}
