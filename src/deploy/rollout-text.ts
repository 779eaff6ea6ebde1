/**
 * How a rollout reads in its thread: the living message that shows where it stands (edited at each
 * poll) and the reply that says it failed, with the console links a person would click.
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { deploymentsUrl, logStreamUrl, serviceUrl, slackLink, taskUrl } from '../aws/console';
import type { AwsSession } from '../aws/session';
import { lastLogLines, logsLocation } from '../ecs/container-logs';
import { code, codeBlockTail, escapeText, formatDuration, quantity } from '../slack/format';
import { LATEST_EVENTS, stateWords, type StoppedTask, type WatchProgress, type WatchVerdict } from './watch';

/** "service `web` · deployment `ecs-svc/123`", linked to the console when the service's ARN is known. */
export function rolloutLinks(progress: Pick<WatchProgress, 'serviceArn' | 'deploymentId'>, serviceName: string): string {
  if (!progress.serviceArn) return '';
  return [
    slackLink(serviceUrl(progress.serviceArn), `service ${serviceName}`),
    progress.deploymentId ? slackLink(deploymentsUrl(progress.serviceArn), `deployment ${progress.deploymentId}`) : '',
  ]
    .filter(Boolean)
    .join(' · ');
}

/**
 * The living message of a rollout: `title` (Slack mrkdwn, the bot's own), the links, the state with
 * the time since it started (and the reason when it failed), one line per deployment, the newest
 * service events.
 */
export function rolloutText(input: {
  title: string;
  serviceName: string;
  progress: WatchProgress;
  verdict: WatchVerdict | { state: 'timeout' } | { state: 'lost'; reason: string };
  seconds: number;
}): string {
  const { progress, verdict } = input;
  const state =
    verdict.state === 'timeout'
      ? '⌛ not finished in time'
      : verdict.state === 'lost'
        ? `⚠️ lost track (${verdict.reason})`
        : `${stateWords(verdict)}${verdict.state === 'failed' ? `: ${verdict.reason.replace(/\.+$/, '')}` : ''}`;
  const links = rolloutLinks(progress, input.serviceName);
  const events = progress.latestEvents ?? [];
  return [
    input.title,
    `${state} · ${formatDuration(input.seconds * 1000)}${links ? ` · ${links}` : ''}`,
    ...(progress.current ?? []),
    ...(events.length ? [`_Latest ${events.length === 1 ? 'event' : `${Math.min(events.length, LATEST_EVENTS)} events`}:_`, ...events] : []),
  ].join('\n');
}

/** The distinct stop reasons of a failed rollout's tasks, as AWS wrote them (escaped): "\nStop reasons: “…”; “…”", or '' when there are none. */
export function stopReasonsLine(reasons: string[]): string {
  return reasons.length ? `\nStop reasons: ${reasons.map((r) => `“${escapeText(r)}”`).join('; ')}` : '';
}

/**
 * One line per stopped task of a failed rollout: the task (linked), its reason, and the log stream
 * of each container that failed (linked when the task definition logs with awslogs and a prefix).
 */
export function stoppedTaskLines(stopped: StoppedTask[], containers: Pick<ContainerDefinition, 'name' | 'logConfiguration'>[]): string[] {
  const logsOf = new Map(containers.map((c) => [c.name ?? '', c.logConfiguration]));
  return stopped.map((task) => {
    const id = task.taskArn.split('/').pop() ?? task.taskArn;
    const logs = task.containers
      .map((name) => {
        const url = logStreamUrl(task.taskArn, name, logsOf.get(name) as never);
        return url ? slackLink(url, `${name} logs`) : '';
      })
      .filter(Boolean);
    return `• ${slackLink(taskUrl(task.taskArn), `task ${id.slice(0, 12)}`)}${logs.length ? ` (${logs.join(', ')})` : ''}: ${escapeText(task.reason)}`;
  });
}

/** Log lines shown under a failed rollout: enough to see the error, short enough for one reply. */
const EXCERPT_LINES = 20;

/**
 * The last lines of the first stopped task's first failed container that logs with awslogs, as a
 * code block under a header; '' when there is none to read (another driver, no stream yet).
 */
export async function crashExcerpt(aws: AwsSession, stopped: StoppedTask[], containers: ContainerDefinition[], region: string): Promise<string> {
  const byName = new Map(containers.map((c) => [c.name ?? '', c]));
  for (const task of stopped) {
    for (const name of task.containers) {
      const definition = byName.get(name);
      const where = definition ? logsLocation(definition, task.taskArn, region) : undefined;
      if (where?.kind !== 'awslogs') continue;
      const lines = await lastLogLines(aws, where, EXCERPT_LINES);
      if (!lines.length) continue;
      const id = task.taskArn.split('/').pop() ?? task.taskArn;
      return `\n📄 Last ${quantity(lines.length, 'line')} of ${code(name)} in task ${code(id.slice(0, 12))}:\n${codeBlockTail(
        lines.map((l) => l.message.slice(0, 400)),
        2000,
      )}`;
    }
  }
  return '';
}
