/**
 * Notifications in Slack's words. Everything that comes from AWS (reasons, names, log lines) is
 * escaped: it is never Slack markup. Links are built by us around escaped text.
 */
import { deploymentsUrl, serviceUrl, slackLink, taskUrl } from '../aws/console';
import { breakFences, code, codeBlockTail, escapeText, formatDuration, quantity } from '../slack/format';
import type { AlarmNotice, DeploymentNotice, ServiceActionNotice, ServiceRef, TaskStopNotice, UnknownNotice } from './events';
import type { Incident } from './incidents';
import type { StopDiagnosis } from './diagnose';

export interface SlackMessage {
  text: string;
  blocks?: unknown[];
}

/** Block Kit for the action buttons under a notification (src/slack/actions.ts provides them). */
export type ButtonsBlock = (target: string, taskId?: string) => unknown;

/** A deploy the bot is running on that service: its thread. */
export interface BotDeploy {
  permalink?: string;
  requester: string;
  commandText: string;
}

const serviceArnOf = (where: ServiceRef, partition = 'aws') =>
  `arn:${partition}:ecs:${where.region}:${where.account}:service/${where.cluster}/${where.service}`;
const taskIdOf = (taskArn: string) => taskArn.slice(taskArn.lastIndexOf('/') + 1);
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
/** Slack's section text limit is 3000 characters; the rest goes, marked. */
const fit = (text: string, limit = 2900) => (text.length <= limit ? text : `${text.slice(0, limit - 1)}…`);

/** The most frequent ways first: `exit 137 (OOM) in app ×12 · failed health checks ×2`. */
function counts(record: Record<string, number>): string {
  return Object.entries(record)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([what, n]) => `${escapeText(what)} ×${n}`)
    .join(' · ');
}

/** The incident's one message: edited as it grows, closed when the service is steady again. */
export function incidentMessage(incident: Incident, where: ServiceRef, buttons: ButtonsBlock): SlackMessage {
  const closed = incident.closedAt !== undefined;
  // The stops' own times: "6 tasks stopped in 4 min" is how long ECS kept failing, not how long we took.
  const span = formatDuration(Math.max(0, incident.lastEventAt - incident.firstEventAt)).replace(/ \d+ s$/, '');
  const icon = closed ? '✅' : incident.deployment?.state === 'failed' || incident.stops >= 3 ? '🔥' : '⚠️';
  const head = [`${icon} *${escapeText(incident.target)}*`];
  if (incident.stops) head.push(`${quantity(incident.stops, 'task')} stopped in ${span}`);
  const lines = [head.join(': ')];
  if (incident.stops) lines.push(counts(incident.signatures));
  if (incident.deployment) {
    const d = incident.deployment;
    lines.push(`Deployment ${d.id ? code(d.id) : ''} ${escapeText(d.state)}${d.reason ? `: ${escapeText(d.reason)}` : ''}`.replace(/\s+/g, ' '));
  }
  if (Object.keys(incident.actions).length) lines.push(counts(incident.actions));
  const links = [slackLink(serviceUrl(serviceArnOf(where)), 'service'), slackLink(deploymentsUrl(serviceArnOf(where)), 'deployments')].join(' · ');
  lines.push(
    closed
      ? `${escapeText(incident.resolution ?? 'Resolved')} · ${links}`
      : `Last event ${new Date(incident.lastEventAt).toISOString().slice(11, 16)} UTC · details in the thread · ${links}`,
  );
  const text = fit(lines.join('\n'));
  return { text, blocks: closed ? [section(text)] : [section(text), buttons(incident.target)] };
}

const exitOf = (c: StopDiagnosis['containers'][number]) =>
  [
    c.exitCode !== undefined ? `exit ${c.exitCode}` : 'no exit code',
    c.reason ? escapeText(c.reason) : undefined,
    c.essential === false ? 'not essential' : undefined,
  ]
    .filter(Boolean)
    .join(', ');

/** A stopped task, diagnosed: in the incident's thread (and a failed deploy's). */
export function stopDiagnosisMessage(
  notice: TaskStopNotice,
  diagnosis: StopDiagnosis,
  options: { buttons?: ButtonsBlock; target: string; botDeploy?: BotDeploy },
): SlackMessage {
  const taskId = taskIdOf(notice.taskArn);
  const lines = [
    `*Task ${slackLink(taskUrl(notice.taskArn), taskId)}* of ${escapeText(diagnosis.revision ?? 'an unknown revision')} stopped${notice.stopCode ? ` (${escapeText(notice.stopCode)})` : ''}: ${escapeText(notice.stoppedReason ?? 'no reason given')}`,
    ...diagnosis.containers.map((c) => `• ${code(c.name)} ${c.image ? code(c.image) : ''} — ${exitOf(c)}`.replace(/ {2,}/g, ' ')),
  ];
  if (diagnosis.deployment) {
    const d = diagnosis.deployment;
    lines.push(
      `Deployment ${code(d.id)} to ${escapeText(d.revision)} is ${escapeText((d.rolloutState ?? 'in progress').toLowerCase().replace('_', ' '))}, ${quantity(d.failedTasks, 'failed task')}${d.startedByIt ? ' (this task was one of its)' : ''}`,
    );
  }
  if (options.botDeploy) {
    lines.push(
      `🚀 The bot is deploying this service: ${options.botDeploy.permalink ? slackLink(options.botDeploy.permalink, 'its thread') : 'see its thread'} (${code(options.botDeploy.commandText)}, asked by <@${options.botDeploy.requester}>)`,
    );
  }
  if (diagnosis.logs) {
    const { location, lines: logLines } = diagnosis.logs;
    if (location.kind === 'elsewhere') lines.push(`📄 ${escapeText(location.explanation)}.`);
    else if (!logLines.length) lines.push(`📄 No log lines in ${code(`${location.group} › ${location.stream}`)}.`);
    else {
      lines.push(`📄 Last ${quantity(logLines.length, 'line')} of ${code(location.container)} (${code(location.stream)}):`);
      lines.push(
        codeBlockTail(
          logLines.map((l) => l.message),
          2900 - lines.join('\n').length - 10,
        ),
      );
    }
  }
  if (diagnosis.gaps.length) lines.push(`_Could not read ${diagnosis.gaps.map(escapeText).join('; ')}._`);
  const text = fit(lines.join('\n'), 2990);
  return { text, blocks: [section(text), ...(options.buttons ? [options.buttons(options.target, taskId)] : [])] };
}

export function deploymentMessage(notice: DeploymentNotice, botDeploy?: BotDeploy): SlackMessage {
  const what =
    notice.eventName === 'SERVICE_DEPLOYMENT_FAILED'
      ? '❌ Deployment failed'
      : notice.rollback
        ? '↩️ ECS is rolling back'
        : notice.eventName === 'SERVICE_DEPLOYMENT_COMPLETED'
          ? '✅ Deployment completed'
          : `Deployment ${escapeText(notice.eventName)}`;
  const lines = [`${what}${notice.deploymentId ? ` (${code(notice.deploymentId)})` : ''}: ${escapeText(notice.reason ?? 'no reason given')}`];
  if (botDeploy)
    lines.push(
      `🚀 Started by the bot: ${botDeploy.permalink ? slackLink(botDeploy.permalink, 'deploy thread') : 'see its thread'} (asked by <@${botDeploy.requester}>)`,
    );
  return { text: fit(lines.join('\n')) };
}

/** ECS's documented service actions, in words (others are shown by their name). */
const ACTION_WORDS: Record<string, string> = {
  SERVICE_TASK_PLACEMENT_FAILURE: 'ECS cannot place tasks',
  SERVICE_TASK_START_IMPAIRED: 'Tasks keep failing to start; ECS is backing off',
  SERVICE_DISCOVERY_INSTANCE_UNHEALTHY: 'A service discovery instance is unhealthy',
  SERVICE_TASK_CONFIGURATION_FAILURE: 'ECS cannot start tasks with this configuration',
  SERVICE_DAEMON_PLACEMENT_CONSTRAINT_VIOLATED: 'A daemon task violates its placement constraints',
  ECS_OPERATION_THROTTLED: 'ECS was throttled acting on this service',
  SERVICE_DISCOVERY_OPERATION_THROTTLED: 'Cloud Map throttled ECS',
  VPC_LATTICE_TARGET_UNHEALTHY: 'A VPC Lattice target is unhealthy',
};

/** What a placement failure's reason means, with the usual fix. */
const PLACEMENT_HINTS: Record<string, string> = {
  'RESOURCE:FARGATE':
    'Fargate has no capacity for this task size in the chosen subnets/AZs now (or Spot capacity is gone): retry later, add subnets in other AZs, or add FARGATE to the capacity provider strategy.',
  'RESOURCE:CPU': 'No container instance has enough free CPU: scale the cluster (or its capacity provider) or lower the task’s cpu.',
  'RESOURCE:MEMORY': 'No container instance has enough free memory: scale the cluster (or its capacity provider) or lower the task’s memory.',
};

export const actionKey = (notice: ServiceActionNotice) => `${ACTION_WORDS[notice.eventName] ?? notice.eventName}${notice.reason ? ` (${notice.reason})` : ''}`;

export function serviceActionMessage(notice: ServiceActionNotice): SlackMessage {
  const icon = notice.eventType === 'ERROR' ? '❌' : notice.eventType === 'WARN' ? '⚠️' : 'ℹ️';
  const lines = [`${icon} ${escapeText(ACTION_WORDS[notice.eventName] ?? notice.eventName)}${notice.reason ? `: ${code(notice.reason)}` : ''}`];
  if (notice.capacityProviders.length) lines.push(`Capacity providers: ${notice.capacityProviders.map(code).join(', ')}`);
  const hint = notice.reason ? PLACEMENT_HINTS[notice.reason] : undefined;
  if (hint) lines.push(`*Fix:* ${escapeText(hint)}`);
  return { text: fit(lines.join('\n')) };
}

export function alarmMessage(notice: AlarmNotice, target: string, buttons: ButtonsBlock, resolvedAt?: string): SlackMessage {
  const firing = notice.state === 'ALARM' && !resolvedAt;
  const icon = firing ? '🚨' : notice.state === 'OK' ? '✅' : '❔';
  const lines = [
    `${icon} *${escapeText(notice.alarmName)}* (${escapeText(target)}) is ${escapeText(notice.state)}${notice.previousState ? ` (was ${escapeText(notice.previousState)})` : ''}`,
    ...(notice.description ? [escapeText(notice.description)] : []),
    ...(notice.reason ? [`> ${escapeText(notice.reason)}`] : []),
    ...(notice.metrics.length ? [`Watching ${notice.metrics.map(code).join(', ')}`] : []),
  ];
  const text = fit(lines.join('\n'));
  return { text, blocks: firing ? [section(text), buttons(target)] : [section(text)] };
}

/** An event we could not read as a known kind: shown as it came, never dropped silently. */
export function unknownEventMessage(notice: UnknownNotice): SlackMessage {
  const json = JSON.stringify(notice.detail, null, 1) ?? 'null';
  const head = `❔ An event the bot does not know: ${code(`${notice.source} / ${notice.detailType}`)}${notice.account ? ` in ${code(`${notice.account} ${notice.region ?? ''}`.trim())}` : ''} (${escapeText(notice.why)})`;
  const resources = notice.resources.length ? `\nResources: ${notice.resources.slice(0, 5).map(code).join(', ')}` : '';
  const room = 2800 - head.length - resources.length;
  const body = breakFences(escapeText(json.length > room ? `${json.slice(0, room)}…` : json));
  return { text: `${head}${resources}\n\`\`\`${body}\`\`\`` };
}
