/**
 * Where a container's logs are, from its task definition, and the last lines of an awslogs stream.
 * Shared by `/ecs logs` and the notifier's diagnosis.
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import type { AwsSession } from '../aws/session';

export type LogsLocation =
  | { kind: 'awslogs'; region: string; group: string; stream: string; container: string }
  | { kind: 'elsewhere'; container: string; driver: string; explanation: string };

/** The awslogs stream is `<awslogs-stream-prefix>/<container>/<task id>` (ECS developer guide, "Using the awslogs log driver"). */
export function logsLocation(container: ContainerDefinition, taskArn: string, defaultRegion: string): LogsLocation {
  const name = container.name ?? '?';
  const driver = container.logConfiguration?.logDriver;
  const options = container.logConfiguration?.options ?? {};
  if (!driver) return { kind: 'elsewhere', container: name, driver: 'none', explanation: `${name} has no log configuration: its output is not kept anywhere ECS can show` };
  if (driver !== 'awslogs')
    return { kind: 'elsewhere', container: name, driver, explanation: `${name} logs with ${driver}, not to CloudWatch Logs: look where that driver sends them` };
  const group = options['awslogs-group'];
  const prefix = options['awslogs-stream-prefix'];
  if (!group) return { kind: 'elsewhere', container: name, driver, explanation: `${name} uses awslogs without awslogs-group` };
  if (!prefix)
    return { kind: 'elsewhere', container: name, driver, explanation: `${name} logs to ${group} without awslogs-stream-prefix, so its stream is named by the Docker container id and cannot be found from the task` };
  const taskId = taskArn.slice(taskArn.lastIndexOf('/') + 1);
  return { kind: 'awslogs', region: options['awslogs-region'] || defaultRegion, group, stream: `${prefix}/${name}/${taskId}`, container: name };
}

export interface LogLine {
  timestamp: number;
  message: string;
}

/** The last `limit` lines of the stream, oldest first; [] when the stream does not exist (yet). */
export async function lastLogLines(session: AwsSession, where: Extract<LogsLocation, { kind: 'awslogs' }>, limit: number): Promise<LogLine[]> {
  const { CloudWatchLogsClient, GetLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const logs = session.client(CloudWatchLogsClient, where.region);
  const lines: LogLine[] = [];
  let token: string | undefined;
  // Reading backwards from the end: a page may be empty while older events exist, and the end is
  // reached when the backward token comes back unchanged (CloudWatch Logs API reference).
  for (let page = 0; page < 10 && lines.length < limit; page++) {
    let out;
    try {
      out = await logs.send(
        new GetLogEventsCommand({ logGroupName: where.group, logStreamName: where.stream, startFromHead: false, limit: limit - lines.length, ...(token ? { nextToken: token } : {}) }),
      );
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') return [];
      throw error;
    }
    const events = (out.events ?? []).map((e) => ({ timestamp: e.timestamp ?? 0, message: e.message ?? '' }));
    lines.unshift(...events);
    if (!out.nextBackwardToken || out.nextBackwardToken === token) break;
    token = out.nextBackwardToken;
    if (!events.length) break;
  }
  return lines.slice(-limit);
}
