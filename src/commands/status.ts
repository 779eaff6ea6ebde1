import { serviceUrl, slackLink } from '../aws/console';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  type Deployment,
  type Service,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { explainAwsError } from '../aws/errors';
import { autoScalingClient, findScalableTarget, type SuspendedState } from '../aws/application-autoscaling';
import { suspendedWords } from '../deploy/autoscaling-suspend';
import { range } from '../deploy/scale';
import type { ScaleBounds } from '../deploy/types';
import { assessService, type Health } from '../ecs/health';
import { UserFacingError } from '../platform/errors';
import { RERUN_ACTION } from '../slack/actions';
import { code, escapeText } from '../slack/format';
import { stateMuteStore, type MuteRecord } from '../notify/mute';
import { describeMute } from './mute';
import type { WorkerHandler } from './verb';
import type { FleetArgs, StatusArgs } from './verbs/args';
import { fleetCommand } from './fleet';
import type { FleetService } from '../fleet/types';
import type { CommandResult, WorkerContext } from '../worker/context';

const MAX_EVENTS = 5;
const MAX_STOPPED = 5;

export interface ServiceSnapshot {
  service: Service;
  taskDefinition: TaskDefinition | undefined;
  stoppedTasks: Task[];
}

/** Reads everything `status` shows in three round trips (the last two in parallel). */
type StatusTarget = { aws?: WorkerContext['aws']; target?: Pick<NonNullable<WorkerContext['target']>, 'alias' | 'region' | 'cluster' | 'service'> };

export async function readServiceSnapshot(ctx: StatusTarget): Promise<ServiceSnapshot> {
  const { aws, target } = ctx;
  if (!aws || !target) throw new Error('status needs a target');
  const ecs = aws.ecs();
  const where = `${code(target.service)} in cluster ${code(target.cluster)} (${target.region})`;
  const described = await ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] })).catch((error) => {
    throw explainAwsError(error, `reading service ${where}`);
  });
  const service = described.services?.[0];
  if (!service || service.status === 'INACTIVE') {
    const reason = described.failures?.[0]?.reason;
    throw new UserFacingError(
      `Service ${where} ${service ? 'has been deleted (INACTIVE)' : `was not found${reason ? ` (${escapeText(reason)})` : ''}`}. Check \`targets.${target.alias}\` in the configuration.`,
    );
  }
  const [taskDefinition, stoppedTasks] = await Promise.all([
    service.taskDefinition
      ? ecs
          .send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }))
          .then((o) => o.taskDefinition)
          .catch((error) => {
            throw explainAwsError(error, `reading task definition ${code(service.taskDefinition!)}`);
          })
      : Promise.resolve(undefined),
    readStoppedTasks(ctx, service),
  ]);
  return { service, taskDefinition, stoppedTasks };
}

async function readStoppedTasks({ aws, target }: StatusTarget, service: Service): Promise<Task[]> {
  const ecs = aws!.ecs();
  const listed = await ecs
    .send(new ListTasksCommand({ cluster: target!.cluster, serviceName: service.serviceName, desiredStatus: 'STOPPED', maxResults: 100 }))
    .catch((error) => {
      throw explainAwsError(error, 'listing stopped tasks');
    });
  const arns = (listed.taskArns ?? []).slice(0, 100);
  if (arns.length === 0) return [];
  const out = await ecs.send(new DescribeTasksCommand({ cluster: target!.cluster, tasks: arns })).catch((error) => {
    throw explainAwsError(error, 'describing stopped tasks');
  });
  return (out.tasks ?? []).sort((a, b) => (b.stoppedAt?.getTime() ?? 0) - (a.stoppedAt?.getTime() ?? 0)).slice(0, MAX_STOPPED);
}

const OUTCOME: Record<Health, CommandResult['outcome']> = { healthy: 'success', degraded: 'warning', failing: 'failure' };

export function serviceOutcome(service: Service): CommandResult['outcome'] {
  return OUTCOME[assessService(service).health];
}

const family = (arn: string | undefined) => arn?.split('/').pop() ?? '?';
const shortTask = (arn: string | undefined) => arn?.split('/').pop()?.slice(0, 8) ?? '?';
const clock = (d: Date | undefined) => (d ? `${d.toISOString().slice(0, 16).replace('T', ' ')}Z` : '?');
/** AWS text, shortened and escaped so Slack shows it as written. */
const clip = (s: string, n: number) => escapeText(s.length > n ? `${s.slice(0, n - 1)}…` : s);

function deploymentLine(d: Deployment): string {
  const state = d.rolloutState ? `${escapeText(d.rolloutState)}${d.rolloutStateReason ? ` (${clip(d.rolloutStateReason, 200)})` : ''}` : 'state unknown';
  const failed = d.failedTasks ? `, ${d.failedTasks} failed` : '';
  return `• *${escapeText(d.status ?? '?')}* ${code(family(d.taskDefinition))}: ${state}; ${d.runningCount ?? 0} running, ${d.pendingCount ?? 0} pending of ${d.desiredCount ?? 0}${failed}; updated ${clock(d.updatedAt)}`;
}

function stoppedLine(t: Task): string {
  const exits = (t.containers ?? [])
    .filter((c) => c.exitCode !== undefined || c.reason)
    .map((c) => `${escapeText(c.name ?? '?')}${c.exitCode !== undefined ? ` exit ${c.exitCode}` : ''}${c.reason ? `: ${clip(c.reason, 200)}` : ''}`)
    .join('; ');
  return `• ${code(shortTask(t.taskArn))} (${code(family(t.taskDefinitionArn))}) stopped ${clock(t.stoppedAt)}${t.stopCode ? ` [${escapeText(t.stopCode)}]` : ''}: ${clip(t.stoppedReason ?? 'no reason given', 400)}${exits ? `\n    ${exits}` : ''}`;
}

/** Slack rejects a section over 3,000 characters: keep whole lines that fit and say how many did not. */
export function fitSection(lines: string[], limit = 2900): string {
  const kept: string[] = [];
  let size = 0;
  for (const [i, line] of lines.entries()) {
    const rest = lines.length - i;
    const more = `… ${rest} more (see the AWS console)`;
    if (size + line.length + 1 > limit - (rest > 1 ? more.length + 1 : 0)) {
      kept.push(line.length + size + 1 <= limit && rest === 1 ? line : more);
      return kept.join('\n');
    }
    kept.push(line);
    size += line.length + 1;
  }
  return kept.join('\n');
}

/** " · open in the AWS console", linked to the service's page (its own region and partition), when ECS gave its ARN. */
function consoleLink(service: Service): string {
  const url = service.serviceArn ? serviceUrl(service.serviceArn) : undefined;
  return url ? ` · ${slackLink(url, 'open in the AWS console')}` : '';
}

const MARK: Record<CommandResult['outcome'], string> = { success: '✅', warning: '⚠️', failure: '❌', cancelled: '🚫' };

/** The status report as sections, each within Slack's 3,000-character section limit. */
export function renderStatus(
  alias: string,
  snapshot: ServiceSnapshot,
  mute?: { record: MuteRecord; now: number },
  autoscaling?: Autoscaling,
): { sections: string[]; result: CommandResult } {
  const { service, taskDefinition, stoppedTasks } = snapshot;
  const outcome = serviceOutcome(service);
  const desired = service.desiredCount ?? 0;
  const running = service.runningCount ?? 0;
  const steady = outcome === 'success' ? 'steady' : outcome === 'warning' ? 'not steady' : 'unhealthy';
  const summary = `${alias}: ${running}/${desired} running, ${service.pendingCount ?? 0} pending, ${steady}`;

  const containers = (taskDefinition?.containerDefinitions ?? []).map((c) => `• ${code(c.name ?? '?')}: ${code(c.image ?? '?')}`);
  const sections = [
    fitSection([
      `${MARK[outcome]} *${alias}*: ${code(service.serviceName ?? '?')} in ${code(family(service.clusterArn))}${service.launchType ? ` (${escapeText(service.launchType)}${service.platformVersion ? ` ${escapeText(service.platformVersion)}` : ''})` : ''}${consoleLink(service)}`,
      ...(mute ? [`🔕 notifications ${describeMute(mute.record, mute.now)}`] : []),
      `*Tasks:* ${running} running / ${desired} desired, ${service.pendingCount ?? 0} pending${autoscaling ? ` · ${autoscalingText(autoscaling)}` : ''}`,
      `*Task definition:* ${code(family(service.taskDefinition))}`,
      ...containers,
    ]),
    fitSection(['*Deployments*', ...(service.deployments ?? []).map(deploymentLine)]),
    fitSection(['*Recent events*', ...(service.events ?? []).slice(0, MAX_EVENTS).map((e) => `• ${clock(e.createdAt)} ${clip(e.message ?? '', 400)}`)]),
    stoppedTasks.length ? fitSection(['*Recently stopped tasks*', ...stoppedTasks.map(stoppedLine)]) : '*Recently stopped tasks:* none',
  ];
  return { sections, result: { outcome, summary } };
}

/** The service's Application Auto Scaling range, none, or why it could not be read (an AWS error name). */
export type Autoscaling = { range: ScaleBounds; suspended?: SuspendedState } | { none: true } | { unreadable: string };

const autoscalingText = (a: Autoscaling) =>
  'range' in a
    ? `autoscaling ${range(a.range)}${suspendedWords(a.suspended) !== 'none' ? ` (⏸️ suspended: ${suspendedWords(a.suspended)})` : ''}`
    : 'none' in a
      ? 'no autoscaling'
      : `autoscaling range not readable (${escapeText(a.unreadable)})`;

/** Read beside the snapshot (the notifier's diagnosis reads the snapshot, not this). */
async function readAutoscaling(ctx: WorkerContext): Promise<Autoscaling> {
  try {
    const found = await findScalableTarget(autoScalingClient(ctx.aws!), ctx.target!.cluster, ctx.target!.service);
    return found
      ? { range: { min: found.MinCapacity, max: found.MaxCapacity }, ...(found.SuspendedState ? { suspended: found.SuspendedState } : {}) }
      : { none: true };
  } catch (error) {
    ctx.logger.warn('autoscaling range not read', { error });
    return { unreadable: (error as Error).name || 'error' };
  }
}

export const status: WorkerHandler<StatusArgs> = async ({ target: alias }, ctx) => {
  const now = ctx.now();
  const [snapshot, muted, autoscaling] = await Promise.all([
    readServiceSnapshot(ctx),
    stateMuteStore(ctx.state, ctx.now).mutedUntil(alias, now),
    readAutoscaling(ctx),
  ]);
  const { sections, result } = renderStatus(alias, snapshot, muted ? { record: muted, now } : undefined, autoscaling);
  const blocks = [
    ...sections.map((s) => ({ type: 'section', text: { type: 'mrkdwn', text: s } })),
    {
      type: 'actions',
      elements: [{ type: 'button', action_id: RERUN_ACTION, text: { type: 'plain_text', text: 'Refresh' }, value: `status ${alias}` }],
    },
  ];
  await ctx.out.post(sections.join('\n\n'), blocks);
  return result;
};

/** `/ecs status <service>`, or with a selector a fleet run (src/commands/fleet.ts). */
export const statusOrFleet: WorkerHandler<StatusArgs | FleetArgs, FleetService[]> = (args, ctx, selected) =>
  'selector' in args ? fleetCommand('status', args, ctx, selected) : status(args, ctx);
