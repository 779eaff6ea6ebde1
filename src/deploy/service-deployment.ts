/**
 * Watching an ECS-native BLUE_GREEN / LINEAR / CANARY deployment through the service-deployment
 * APIs (ListServiceDeployments, DescribeServiceDeployments), for the durable deploy workflow
 * (src/workflows/deploy-staged.ts). Everything here is pure: it judges one ServiceDeployment (and
 * the service's Deployment of the new revision, for its failed tasks) against what was seen before
 * and returns plain JSON for the checkpoint, and the Slack text (mrkdwn, AWS text escaped).
 *
 * The verdict, in order:
 *   1. completed: status SUCCESSFUL.
 *   2. rolled-back: ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED (ECS rolled back, by itself, by a hook,
 *      or because the bot asked): the bot never rolls back a second time.
 *   3. stopped: STOPPED (a failure without rollback, or a newer deployment superseded it).
 *   4. failing: IN_PROGRESS and the new revision's tasks keep failing (failedTasks at ECS's circuit
 *      breaker threshold) while ECS itself would not roll back (no breaker with rollback): the
 *      caller stops the deployment with ROLLBACK.
 *   5. otherwise in-progress (PENDING, IN_PROGRESS, ROLLBACK_REQUESTED/IN_PROGRESS, STOP_REQUESTED).
 * A PAUSE hook AWAITING_ACTION is reported separately (`pause`): the caller asks people when its
 * stage is one of the target's gates, and says it leaves it otherwise.
 */
import type { Deployment, DeploymentLifecycleHookDetail, ServiceDeployment, ServiceDeploymentBrief, ServiceRevisionSummary } from '@aws-sdk/client-ecs';
import { shortTaskDefinition } from '../ecs/taskdef';
import { code, escapeText, unescapeText } from '../slack/format';
import { LINEAR_DEFAULTS } from './strategy';
import { tasksFailing } from './watch';

/** What has been seen of the service deployment so far (checkpointed, plain JSON). */
export interface StagedProgress {
  serviceDeploymentArn: string;
  /** The target (new) and source (running before) task definitions, for naming the revisions. */
  taskDefinition: string;
  sourceTaskDefinition: string;
  /** The last stage, status and production weight (percent) of the new revision seen, so a change is said once. */
  stage?: string;
  status?: string;
  production?: number;
  /** The deployment as it stands (Slack mrkdwn lines) for the living message. */
  current: string[];
  /** Every stage and status change, plain text with the UTC time, for the record attached at the end. */
  record: string[];
  /** PAUSE hooks already dealt with (asked about, or said to be someone else's). */
  handledHooks: string[];
}

export type StagedVerdict =
  | { state: 'in-progress' }
  | { state: 'completed' }
  | { state: 'rolled-back'; status: string; reason: string }
  | { state: 'stopped'; reason: string }
  | { state: 'failing'; reason: string };

/** A PAUSE hook waiting for someone, at a stage. */
export interface Pause {
  hookId: string;
  stage: string;
  /** Epoch ms when ECS applies the hook's timeout action. */
  expiresAt?: number;
  timeoutAction?: string;
  /** The stage is one of the target's gates: the bot asks people. */
  gated: boolean;
}

const MAX_RECORD = 300;
const ROLLED_BACK = new Set(['ROLLBACK_SUCCESSFUL', 'ROLLBACK_FAILED']);
const ONGOING = new Set(['PENDING', 'IN_PROGRESS']);

/**
 * The service deployment an UpdateService started: among the service's PENDING / IN_PROGRESS ones,
 * the newest created no earlier than `since` (epoch ms, a few seconds of clock skew allowed), else
 * the newest. Undefined when there is none.
 */
export function pickServiceDeployment(briefs: ServiceDeploymentBrief[], since: number): ServiceDeploymentBrief | undefined {
  const ongoing = briefs.filter((b) => b.serviceDeploymentArn && ONGOING.has(b.status ?? ''));
  const newest = [...ongoing].sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0));
  return newest.find((b) => (b.createdAt?.getTime() ?? 0) >= since - 5_000) ?? newest[0];
}

const weight = (n: number | undefined) => (n === undefined ? undefined : `${Number(n.toFixed(1))}%`);

/** One revision in words: "new `web:43`: 2/2 running, production 10%, test 100%". */
export function revisionLine(role: string, taskDefinition: string, revision: ServiceRevisionSummary | undefined): string {
  const parts = [`${revision?.runningTaskCount ?? 0}/${revision?.requestedTaskCount ?? 0} running`];
  if (revision?.pendingTaskCount) parts.push(`${revision.pendingTaskCount} pending`);
  const production = weight(revision?.requestedProductionTrafficWeight);
  const test = weight(revision?.requestedTestTrafficWeight);
  if (production) parts.push(`production ${production}`);
  if (test) parts.push(`test ${test}`);
  return `${role} ${code(shortTaskDefinition(taskDefinition))}: ${parts.join(', ')}`;
}

/** The stage in words, with the bake time when it bakes. */
export function stageWords(sd: ServiceDeployment): string {
  const stage = sd.lifecycleStage ?? '';
  const bake =
    stage === 'BAKE_TIME' && sd.deploymentConfiguration?.bakeTimeInMinutes !== undefined ? ` (${sd.deploymentConfiguration.bakeTimeInMinutes} min)` : '';
  const step = stage === 'PRODUCTION_TRAFFIC_SHIFT' ? linearStep(sd) : undefined;
  return stage ? `stage \`${escapeText(stage)}\`${bake}${step ? ` (${step})` : ''}` : '';
}

/** A LINEAR deployment's step by the new revision's production weight ("step 2 of 4"); undefined for other strategies or before the first step. */
export function linearStep(sd: ServiceDeployment): string | undefined {
  const production = sd.targetServiceRevision?.requestedProductionTrafficWeight ?? 0;
  if (sd.deploymentConfiguration?.strategy !== 'LINEAR' || production <= 0) return undefined;
  const every = sd.deploymentConfiguration.linearConfiguration?.stepPercent ?? LINEAR_DEFAULTS.stepPercent;
  const steps = Math.ceil(100 / every);
  return `step ${Math.min(steps, Math.max(1, Math.round(production / every)))} of ${steps}`;
}

/** The status in words, for the living message. */
export function statusWords(status: string | undefined): string {
  switch (status) {
    case 'SUCCESSFUL':
      return '✅ successful';
    case 'ROLLBACK_SUCCESSFUL':
      return '↩️ rolled back by ECS';
    case 'ROLLBACK_FAILED':
      return '🔥 rollback failed';
    case 'ROLLBACK_REQUESTED':
    case 'ROLLBACK_IN_PROGRESS':
      return '↩️ rolling back';
    case 'STOPPED':
    case 'STOP_REQUESTED':
      return '🛑 stopped';
    default:
      return '🔄 in progress';
  }
}

/** The first PAUSE hook awaiting action that has not been dealt with yet. */
export function pendingPause(sd: ServiceDeployment, handled: string[], gates: string[]): Pause | undefined {
  if (sd.status !== 'IN_PROGRESS') return undefined;
  const hook = (sd.lifecycleHookDetails ?? []).find(
    (h: DeploymentLifecycleHookDetail) => h.targetType === 'PAUSE' && h.status === 'AWAITING_ACTION' && h.hookId && !handled.includes(h.hookId),
  );
  if (!hook) return undefined;
  const stage = sd.lifecycleStage ?? '';
  return {
    hookId: hook.hookId!,
    stage,
    ...(hook.expiresAt ? { expiresAt: hook.expiresAt.getTime() } : {}),
    ...(hook.timeoutAction ? { timeoutAction: hook.timeoutAction } : {}),
    gated: gates.includes(stage),
  };
}

/**
 * Judges one DescribeServiceDeployments result; `newRevision` is the service's Deployment of the
 * new task definition (DescribeServices), for its failed tasks; `breakerRollback`: the service's
 * circuit breaker rolls back by itself. `at` (epoch ms) stamps the record.
 */
export function observeServiceDeployment(
  sd: ServiceDeployment,
  progress: StagedProgress,
  input: { newRevision?: Deployment; desiredCount?: number; breakerRollback?: boolean; at: number; gates: string[] },
): { progress: StagedProgress; verdict: StagedVerdict; pause?: Pause } {
  const status = sd.status ?? 'PENDING';
  const reason = escapeText(sd.statusReason ?? sd.rollback?.reason ?? '');
  const current = [
    [statusWords(status), stageWords(sd)].filter(Boolean).join(' · '),
    revisionLine('new', progress.taskDefinition, sd.targetServiceRevision),
    ...(sd.sourceServiceRevisions ?? []).map((r, i) => revisionLine(i === 0 ? 'previous' : 'older', progress.sourceTaskDefinition, r)),
  ];
  const breaker = sd.deploymentCircuitBreaker;
  if (breaker && breaker.status !== 'DISABLED')
    current.push(`circuit breaker ${escapeText(breaker.status ?? '')}: ${breaker.failureCount ?? 0}/${breaker.threshold ?? 0} failed`);
  if (sd.alarms?.triggeredAlarmNames?.length) current.push(`🚨 alarms: ${sd.alarms.triggeredAlarmNames.map((a) => code(a)).join(', ')}`);
  if (reason && status !== 'IN_PROGRESS') current.push(`_${reason}_`);

  const lines: string[] = [];
  const time = new Date(input.at).toISOString().slice(11, 19);
  // The record is a plain-text file: the mrkdwn lines are unescaped, AWS's own text goes in as AWS wrote it.
  // A new production weight within the same stage is a step of its own (LINEAR's steps, a rollback's shift back).
  const production = sd.targetServiceRevision?.requestedProductionTrafficWeight;
  const shifted = production !== undefined && progress.production !== undefined && production !== progress.production;
  if (sd.lifecycleStage && (sd.lifecycleStage !== progress.stage || shifted))
    lines.push(`${time} stage ${sd.lifecycleStage} · ${unescapeText(current.slice(1).join(' · '))}`);
  if (status !== progress.status) lines.push(`${time} status ${status}${sd.statusReason ? `: ${sd.statusReason}` : ''}`);

  const next: StagedProgress = {
    ...progress,
    ...(sd.lifecycleStage ? { stage: sd.lifecycleStage } : {}),
    ...(production !== undefined ? { production } : {}),
    status,
    current,
    record: [...progress.record, ...lines].slice(-MAX_RECORD),
  };
  const pause = pendingPause(sd, progress.handledHooks, input.gates);
  return { progress: next, verdict: judgeServiceDeployment(sd, input), ...(pause ? { pause } : {}) };
}

function judgeServiceDeployment(sd: ServiceDeployment, input: { newRevision?: Deployment; desiredCount?: number; breakerRollback?: boolean }): StagedVerdict {
  const status = sd.status ?? 'PENDING';
  const reason = escapeText(sd.statusReason ?? sd.rollback?.reason ?? '');
  if (status === 'SUCCESSFUL') return { state: 'completed' };
  if (ROLLED_BACK.has(status)) return { state: 'rolled-back', status, reason: reason || `ECS says ${status}` };
  if (status === 'STOPPED') return { state: 'stopped', reason: reason || 'ECS stopped the deployment' };
  const failing = tasksFailing(input.newRevision?.failedTasks ?? 0, input.desiredCount ?? 0, 'the new revision');
  if (status === 'IN_PROGRESS' && !input.breakerRollback && failing) return { state: 'failing', reason: failing };
  return { state: 'in-progress' };
}

/** What the gate message says runs on green, and what to do: Slack mrkdwn (AWS text escaped). */
export function gateDetails(input: {
  sd: ServiceDeployment;
  pause: Pause;
  taskDefinition: string;
  sourceTaskDefinition: string;
  testListenerRule?: string;
}): string[] {
  const { sd, pause } = input;
  const expires = pause.expiresAt
    ? `ECS applies its timeout action (${escapeText(pause.timeoutAction ?? 'ROLLBACK')}) at ${new Date(pause.expiresAt).toISOString().slice(11, 16)} UTC if nobody decides.`
    : '';
  const blueGreen = strategyOf(sd) === 'BLUE_GREEN';
  return [
    revisionLine(blueGreen ? 'green (new)' : 'new', input.taskDefinition, sd.targetServiceRevision),
    ...(sd.sourceServiceRevisions ?? []).slice(0, 1).map((r) => revisionLine(blueGreen ? 'blue (running)' : 'previous', input.sourceTaskDefinition, r)),
    input.testListenerRule
      ? `test listener rule: ${code(input.testListenerRule)}`
      : `no test listener rule: ${blueGreen ? 'green' : 'the new revision'} has no test traffic`,
    `Approve to let the deployment go on (\`ContinueServiceDeployment CONTINUE\`); reject to roll back (\`ROLLBACK\`). ${expires}`.trim(),
  ];
}

/** The strategy ECS recorded for this deployment (a service deployment carries its own configuration); blue/green when it says none. */
const strategyOf = (sd: ServiceDeployment) => sd.deploymentConfiguration?.strategy ?? 'BLUE_GREEN';

/**
 * Where the deployment stands at a gate, in one clause for the gate message, worded per strategy
 * from the service deployment's own state: blue/green's green beside blue (with its test traffic),
 * a canary's or linear step's share of production traffic (and which step of how many). Test
 * traffic is named only when the service has a test listener rule (without one it reaches nothing).
 */
export function gateSituation(sd: ServiceDeployment, taskDefinition: string, hasTestListener: boolean): string {
  const strategy = strategyOf(sd);
  const target = sd.targetServiceRevision;
  const revision = code(shortTaskDefinition(taskDefinition));
  const production = target?.requestedProductionTrafficWeight ?? 0;
  const test = hasTestListener ? (target?.requestedTestTrafficWeight ?? 0) : 0;
  const running = target?.runningTaskCount ?? 0;
  if (strategy === 'BLUE_GREEN') {
    if (!running) return `green (${revision}) has no task running yet; blue serves all traffic`;
    if (production >= 100) return `green (${revision}) takes all production traffic; blue still runs beside it`;
    return `green runs the new revision ${revision} beside blue with ${test > 0 ? `${weight(test)} of test traffic and ` : ''}no production traffic yet`;
  }
  const name = strategy === 'CANARY' ? `the canary ${revision}` : `the new revision ${revision}`;
  if (!running) return `${name} has no task running yet; the previous revision serves all traffic`;
  if (production <= 0)
    return `${name} runs beside the previous revision with ${test > 0 ? `${weight(test)} of test traffic and ` : ''}no production traffic yet`;
  if (production >= 100) return `${name} takes all production traffic; the previous revision still runs beside it`;
  const step = linearStep(sd);
  return `${name} takes ${weight(production)} of production traffic${step ? ` (${step})` : ''}, the previous revision ${weight(100 - production)}`;
}
