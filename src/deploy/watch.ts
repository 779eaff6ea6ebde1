/**
 * Watching one ECS deployment to its end, for the durable deploy workflow: each poll is one
 * checkpointed step (DescribeServices → observeRollout, and readStoppedTasks when tasks failed),
 * and between polls the workflow sleeps nextPollSeconds() with a durable wait.
 *
 * Everything here is deterministic given its inputs (time comes in as arguments) and returns plain
 * JSON, because steps are replayed from checkpoints. No Slack, no DynamoDB: what the caller shows
 * (src/deploy/rollout-text.ts) is Slack mrkdwn, AWS text in it escaped.
 *
 * The verdict, in the order it is decided (observeRollout):
 *   1. failed: the service is no longer ACTIVE (deleted).
 *   2. failed: the watched deployment's rolloutState is FAILED (the circuit breaker), with
 *      rolloutStateReason. When another deployment is PRIMARY by then, ECS rolled back itself
 *      (breaker with rollback: true): `ecsRollback` names that PRIMARY, so the caller does not roll
 *      back a second time.
 *   3. failed: the watched deployment is no longer PRIMARY though it did not fail: a circuit-breaker
 *      rollback caught before the FAILED state showed (ecsRollback), or someone deployed over it.
 *   4. failed: the watched deployment is gone from the service (INACTIVE): someone deployed over it,
 *      or ECS rolled back and finished before this poll (told apart by the service events).
 *   5. completed: the watched deployment is PRIMARY and COMPLETED (or, without a rolloutState,
 *      runs desiredCount tasks), AND the service is steady: it is the only deployment left and runs
 *      its desired count. ECS may say COMPLETED while old tasks still drain: that is in-progress.
 *      desiredCount 0: PRIMARY and COMPLETED is enough.
 *   6. failed: tasks keep stopping: failedTasks >= failureThreshold(desiredCount), as ECS's circuit
 *      breaker counts, also when the breaker is off. Not when the breaker is on with rollback: ECS
 *      is about to roll back itself and two rollbacks must not race (rule 2 then decides).
 *   7. otherwise in-progress. Timeouts are the caller's.
 */
import { DescribeTasksCommand, ListTasksCommand, type Deployment, type ECSClient, type Service, type Task } from '@aws-sdk/client-ecs';
import { shortTaskDefinition } from '../ecs/taskdef';
import { code, escapeText, unescapeText } from '../slack/format';

/** What has been seen and said so far; checkpointed between polls (plain JSON). */
export interface WatchProgress {
  /** The deployment being watched (ECS deployment id, `ecs-svc/…`) and its task definition ARN. */
  deploymentId: string;
  taskDefinition: string;
  /**
   * Epoch ms when the watched deployment was started (UpdateService returned); service events older
   * than this are not reported. While the deployment is listed, its own `createdAt` (ECS's clock,
   * the clock events are stamped with) is the cut-off instead.
   */
  since: number;
  /** Service event ids already reported (keep at most the newest 100). */
  seenEventIds: string[];
  /** The watched deployment's failedTasks when last seen. */
  failedTasks: number;
  /** Stopped task ids already reported (at most 100). */
  stoppedTaskIds: string[];
  /** Stopped task ids looked at that were not the watched deployment's, so they are described once (at most 100). */
  otherTaskIds?: string[];
  /** Stop reasons reported so far, distinct, at most 5 (quoted in the final report). Plain text as AWS wrote it (clipped, not escaped). */
  stopReasons: string[];
  /** Last status line posted, so an unchanged state is not posted again. */
  lastStatusLine?: string;
  /** The watched deployment's role in words ("new", "rollback to"); "new" when unset. */
  role?: string;
  /** Other deployments' roles in words by deployment id (e.g. the failed one during a rollback); otherwise "now primary" or "previous". */
  roles?: Record<string, string>;
  /** Task counts of each deployment at the last poll, by deployment id: the next poll says what changed. */
  counts?: Record<string, DeploymentCounts>;
  /** The rollout as it stands, one line per deployment with its role and the change since the last poll (Slack mrkdwn). */
  current?: string[];
  /** The newest service events (Slack mrkdwn lines), oldest first, at most LATEST_EVENTS. */
  latestEvents?: string[];
  /** Everything said about the rollout, as plain text, for the record attached at the end (newest MAX_RECORD lines). */
  record?: string[];
  /** The watched deployment's stopped tasks with their reasons (the first MAX_STOPPED): the failure reply links each. */
  stopped?: StoppedTask[];
  /** The service's ARN (for console links), from the last DescribeServices. */
  serviceArn?: string;
  /** The living message showing this rollout in the thread, once posted (kept so later polls edit it). */
  messageTs?: string;
}

export interface DeploymentCounts {
  running: number;
  pending: number;
  failed: number;
}

export interface StoppedTask {
  taskArn: string;
  /** Plain text as AWS wrote it (clipped, not escaped). */
  reason: string;
  /** Its containers that exited with an error or a reason (where their logs are worth a look). */
  containers: string[];
}

export type WatchVerdict =
  | { state: 'in-progress' }
  | { state: 'completed' }
  | { state: 'failed'; reason: string; ecsRollback?: { deploymentId: string; taskDefinition: string }; superseded?: boolean };
// `superseded`: someone else deployed over the watched deployment; rolling back would undo their deploy.
// `reason` is Slack mrkdwn: AWS text in it is escaped, names are in backticks.

const MAX_IDS = 100;
const MAX_REASONS = 5;
const MAX_RECORD = 300;
const MAX_STOPPED = 10;
/** Service events shown in the living message: the full list goes to the record. */
export const LATEST_EVENTS = 3;

/** Appends lines (Slack mrkdwn) to the record as plain text, keeping the newest. */
const recorded = (record: string[] | undefined, lines: string[]) =>
  lines.length ? [...(record ?? []), ...lines.map(unescapeText)].slice(-MAX_RECORD) : (record ?? []);

export function startProgress(deploymentId: string, taskDefinition: string, since: number): WatchProgress {
  return { deploymentId, taskDefinition, since, seenEventIds: [], failedTasks: 0, stoppedTaskIds: [], stopReasons: [] };
}

/** ECS's circuit-breaker threshold: half the desired count rounded up, within [3, 200]. */
export function failureThreshold(desiredCount: number): number {
  return Math.max(3, Math.min(200, Math.ceil(desiredCount / 2)));
}

/**
 * The bot's failing-tasks rule, counted as ECS's circuit breaker counts: when `failed` tasks of a
 * new revision (a deployment, a service deployment's target revision, CodeDeploy's replacement task
 * set) reached failureThreshold(desiredCount), the reason in words ("3 tasks of `whose` failed to
 * start or stay running"); otherwise undefined.
 */
export function tasksFailing(failed: number, desiredCount: number, whose: string): string | undefined {
  return failed >= failureThreshold(desiredCount) ? `${failed} tasks of ${whose} failed to start or stay running` : undefined;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Escapes what Slack mrkdwn would read as markup, and shortens. */
function escapeMrkdwn(text: string, max = 400): string {
  return escapeText(clip(text, max));
}

const keepNewest = (ids: string[]) => ids.slice(-MAX_IDS);
const utcTime = (d: Date) => d.toISOString().slice(11, 19);

const countsOf = (d: Deployment): DeploymentCounts => ({ running: d.runningCount ?? 0, pending: d.pendingCount ?? 0, failed: d.failedTasks ?? 0 });

/** "+2 running, −1 pending": what changed between two polls, empty when nothing did. */
export function countChange(before: DeploymentCounts, after: DeploymentCounts): string {
  return (['running', 'pending', 'failed'] as const)
    .filter((k) => after[k] !== before[k])
    .map((k) => `${after[k] > before[k] ? '+' : '−'}${Math.abs(after[k] - before[k])} ${k}`)
    .join(', ');
}

/**
 * One deployment in words: "new `web:44`: 0/2 running, 4 failed", with " (+2 failed)" when `before`
 * (its counts at the previous poll) differs. Pending and failed only when there are any.
 */
export function deploymentLine(d: Deployment, role: string, before?: DeploymentCounts): string {
  const now = countsOf(d);
  const parts = [`${now.running}/${d.desiredCount ?? 0} running`];
  if (now.pending) parts.push(`${now.pending} pending`);
  if (now.failed) parts.push(`${now.failed} failed`);
  const change = before ? countChange(before, now) : '';
  return `${escapeText(role)} ${code(shortTaskDefinition(d.taskDefinition))}: ${parts.join(', ')}${change ? ` (${change})` : ''}`;
}

/** The rollout state in words. */
export function stateWords(verdict: WatchVerdict): string {
  return verdict.state === 'completed' ? '✅ completed' : verdict.state === 'failed' ? '❌ failed' : '🔄 in progress';
}

function roleOf(d: Deployment, progress: WatchProgress): string {
  if (d.id === progress.deploymentId) return progress.role ?? 'new';
  return progress.roles?.[d.id ?? ''] ?? (d.status === 'PRIMARY' ? 'now primary' : 'previous');
}

/** The deployments still on the service, the watched one first. */
function listed(service: Service, watched: Deployment | undefined): Deployment[] {
  const others = (service.deployments ?? []).filter((d) => d !== watched && d.status !== 'INACTIVE');
  return watched ? [watched, ...others] : others;
}

function judge(service: Service, progress: WatchProgress, watched: Deployment | undefined, cutoff: number): WatchVerdict {
  const deployments = service.deployments ?? [];
  const primary = deployments.find((d) => d.status === 'PRIMARY');
  const id = progress.deploymentId;
  // For the reasons, which are Slack text.
  const deployment = `deployment ${escapeText(id)}`;
  const td = (d: Deployment | undefined) => code(shortTaskDefinition(d?.taskDefinition));
  const rollbackTo = (d: Deployment | undefined) =>
    d?.id && d.taskDefinition ? { ecsRollback: { deploymentId: d.id, taskDefinition: d.taskDefinition } } : {};
  const breakerRollback = (d: Deployment | undefined) => !!d && /circuit breaker: rolling back/i.test(d.rolloutStateReason ?? '');

  if (service.status && service.status !== 'ACTIVE')
    return { state: 'failed', reason: `the service is ${escapeText(service.status)} (deleted) while ${deployment} was rolling out` };

  if (watched?.rolloutState === 'FAILED') {
    const reason = escapeMrkdwn(watched.rolloutStateReason || 'ECS marked the deployment FAILED');
    return primary && primary.id !== id ? { state: 'failed', reason, ...rollbackTo(primary) } : { state: 'failed', reason };
  }
  if (watched && watched.status !== 'PRIMARY') {
    if (breakerRollback(primary)) return { state: 'failed', reason: escapeMrkdwn(primary!.rolloutStateReason!), ...rollbackTo(primary) };
    return {
      state: 'failed',
      superseded: true,
      reason: `${deployment} was replaced by another deployment (${td(primary)}, ${escapeText(primary?.id ?? 'unknown')}) before it finished`,
    };
  }
  if (!watched) {
    // Already INACTIVE: the service events since the start tell a finished ECS rollback from someone else's deploy.
    const recent = (service.events ?? []).filter((e) => (e.createdAt?.getTime() ?? 0) >= cutoff).map((e) => e.message ?? '');
    const failed = recent.some((m) => m.includes(`(deployment ${id}) deployment failed`));
    if (failed && (breakerRollback(primary) || recent.some((m) => /rolling back to deployment/.test(m)))) {
      return { state: 'failed', reason: `${deployment} failed (ECS deployment circuit breaker) and ECS rolled back`, ...rollbackTo(primary) };
    }
    return {
      state: 'failed',
      ...(primary && !failed ? { superseded: true } : {}),
      reason: `${deployment} is no longer on the service: ${primary ? `another deployment (${td(primary)}, ${escapeText(primary.id ?? 'unknown')}) replaced it` : 'it has no deployments'}${failed ? ' after it failed' : ''}`,
    };
  }

  const desired = watched.desiredCount ?? service.desiredCount ?? 0;
  const alone = deployments.length === 1;
  const done = watched.rolloutState ? watched.rolloutState === 'COMPLETED' : alone && (watched.runningCount ?? 0) === desired;
  if (done && (desired === 0 || (alone && (watched.runningCount ?? 0) === desired))) return { state: 'completed' };

  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker;
  const failing = tasksFailing(watched.failedTasks ?? 0, service.desiredCount ?? desired, 'the new deployment');
  if (failing && !(breaker?.enable && breaker.rollback)) return { state: 'failed', reason: failing };
  return { state: 'in-progress' };
}

/**
 * Judges one DescribeServices result against what was seen before. `lines` are new lines for the
 * record (Slack mrkdwn, AWS text escaped; kept as plain text in `progress.record`): a status line
 * when it changed, e.g. "🔄 in progress · new `web:43`: 1/2 running, 1 pending · previous `web:42`:
 * 2/2 running", then each new service event since the deployment started, oldest first, as
 * "• HH:MM:SS message" (UTC). `progress.current` is the rollout as it stands for the living message:
 * one line per deployment with the change since the last poll ("new `web:43`: 0/2 running,
 * 4 failed (+2 failed)"); `progress.latestEvents` its newest events.
 * `fetchStoppedTasks` is true when the watched deployment's failedTasks grew.
 */
export function observeRollout(
  service: Service,
  progress: WatchProgress,
): { lines: string[]; progress: WatchProgress; verdict: WatchVerdict; fetchStoppedTasks: boolean } {
  const watched = service.deployments?.find((d) => d.id === progress.deploymentId);
  const cutoff = watched?.createdAt ? watched.createdAt.getTime() : progress.since;
  const verdict = judge(service, progress, watched, cutoff);
  const lines: string[] = [];
  const next: WatchProgress = { ...progress };

  if (service.serviceArn) next.serviceArn = service.serviceArn;
  const deployments = listed(service, watched);
  if (watched) {
    // The record's line: the state without the change (an unchanged state is not said again).
    const line = `${stateWords(verdict)} · ${deployments.map((d) => deploymentLine(d, roleOf(d, progress))).join(' · ')}`;
    if (line !== progress.lastStatusLine) lines.push(line);
    next.lastStatusLine = line;
  }
  next.current = deployments.map((d) => deploymentLine(d, roleOf(d, progress), progress.counts?.[d.id ?? '']));
  next.counts = Object.fromEntries(deployments.map((d) => [d.id ?? '', countsOf(d)]));

  // DescribeServices lists events newest first; same-instant events keep that order reversed.
  const seen = new Set(progress.seenEventIds);
  const fresh = (service.events ?? [])
    .filter((e) => e.createdAt && e.createdAt.getTime() >= cutoff && !seen.has(eventKey(e)))
    .reverse()
    .sort((a, b) => a.createdAt!.getTime() - b.createdAt!.getTime());
  const events = fresh.map((e) => `• ${utcTime(e.createdAt!)} ${escapeMrkdwn(e.message ?? '')}`);
  lines.push(...events);
  if (fresh.length) next.seenEventIds = keepNewest([...progress.seenEventIds, ...fresh.map(eventKey)]);
  if (events.length) next.latestEvents = [...(progress.latestEvents ?? []), ...events].slice(-LATEST_EVENTS);
  next.record = recorded(progress.record, lines);

  const failedTasks = watched?.failedTasks ?? progress.failedTasks;
  next.failedTasks = failedTasks;
  return { lines, progress: next, verdict, fetchStoppedTasks: failedTasks > progress.failedTasks };
}

export const eventKey = (e: { id?: string; createdAt?: Date; message?: string }) => e.id ?? `${e.createdAt?.getTime()}:${e.message}`;
const taskIdOf = (arn: string) => arn.split('/').pop() ?? arn;

/** "Essential container in task exited (container `app` exited with code 1)": plain text, clipped, not escaped. */
export function stopReason(task: Task): string {
  const stopped = task.stoppedReason ?? 'no reason given';
  const containers = (task.containers ?? [])
    .map((c) => {
      const exit = c.exitCode !== undefined && c.exitCode !== 0 ? ` exited with code ${c.exitCode}` : '';
      const reason = c.reason && c.reason !== stopped ? `${exit ? ':' : ''} ${clip(c.reason, 200)}` : '';
      return exit || reason ? `container \`${clip(c.name ?? '?', 100)}\`${exit}${reason}` : '';
    })
    .filter(Boolean);
  return `${clip(stopped, 300)}${containers.length ? ` (${containers.join('; ')})` : ''}`;
}

/** The containers of a stopped task that exited with an error or have a reason: where its logs tell why. */
function failedContainers(task: Task): string[] {
  const flagged = (task.containers ?? []).filter((c) => c.name && ((c.exitCode !== undefined && c.exitCode !== 0) || c.reason));
  return (flagged.length ? flagged : (task.containers ?? []).filter((c) => c.name)).map((c) => c.name!).slice(0, 3);
}

/**
 * ListTasks (desiredStatus STOPPED, serviceName, one page of 100) and one DescribeTasks for the
 * listed tasks not looked at before: the watched deployment's ones (its task definition, and started
 * by it when ECS says who started the task) become lines "🛑 task `abc123def456` stopped: <reason>";
 * the others are remembered so they are not described again. At most 2 ECS calls; errors propagate
 * (the caller's step retries or backs off).
 */
export async function readStoppedTasks(
  ecs: ECSClient,
  cluster: string,
  serviceName: string,
  progress: WatchProgress,
): Promise<{ lines: string[]; progress: WatchProgress }> {
  const listed = await ecs.send(new ListTasksCommand({ cluster, serviceName, desiredStatus: 'STOPPED', maxResults: 100 }));
  const known = new Set([...progress.stoppedTaskIds, ...(progress.otherTaskIds ?? [])]);
  const unseen = (listed.taskArns ?? []).filter((arn) => !known.has(taskIdOf(arn))).slice(0, 100);
  if (!unseen.length) return { lines: [], progress };

  const described = await ecs.send(new DescribeTasksCommand({ cluster, tasks: unseen }));
  const tasks = (described.tasks ?? []).filter((t) => t.taskArn);
  const ours = (t: Task) => t.taskDefinitionArn === progress.taskDefinition && (!t.startedBy || t.startedBy === progress.deploymentId);
  const mine = tasks.filter(ours).sort((a, b) => (a.stoppedAt?.getTime() ?? 0) - (b.stoppedAt?.getTime() ?? 0));
  const others = tasks.filter((t) => !ours(t));

  const lines: string[] = [];
  const reasons = [...progress.stopReasons];
  for (const task of mine) {
    const reason = stopReason(task);
    lines.push(`🛑 task \`${taskIdOf(task.taskArn!).slice(0, 12)}\` stopped: ${escapeMrkdwn(reason, Infinity)}`);
    if (reasons.length < MAX_REASONS && !reasons.includes(reason)) reasons.push(reason);
  }
  return {
    lines,
    progress: {
      ...progress,
      stoppedTaskIds: keepNewest([...progress.stoppedTaskIds, ...mine.map((t) => taskIdOf(t.taskArn!))]),
      otherTaskIds: keepNewest([...(progress.otherTaskIds ?? []), ...others.map((t) => taskIdOf(t.taskArn!))]),
      stopReasons: reasons,
      stopped: [...(progress.stopped ?? []), ...mine.map((t) => ({ taskArn: t.taskArn!, reason: stopReason(t), containers: failedContainers(t) }))].slice(
        0,
        MAX_STOPPED,
      ),
      record: recorded(progress.record, lines),
    },
  };
}

const SCHEDULE: Array<[untilSeconds: number, every: number]> = [
  [120, 5],
  [300, 10],
  [900, 20],
  [Infinity, 30],
];
const MAX_BACKOFF = 120;

/** Seconds to wait before the next poll: 5 s during the first 2 minutes of the rollout, 10 s until 5 minutes, 20 s until 15 minutes, then 30 s; with `consecutiveErrors` > 0 (ECS throttling or errors), double per error up to 120 s. */
export function nextPollSeconds(elapsedSeconds: number, consecutiveErrors: number): number {
  const base = SCHEDULE.find(([until]) => Math.max(0, elapsedSeconds) < until)![1];
  const errors = Math.max(0, Math.floor(consecutiveErrors));
  return errors > 0 ? Math.min(MAX_BACKOFF, base * 2 ** Math.min(errors, 10)) : base;
}

/** The poll times (seconds from the start) of an error-free rollout of `minutes`: one at 0, then nextPollSeconds apart. */
function pollTimes(minutes: number): number[] {
  const end = minutes * 60;
  const times: number[] = [];
  for (let t = 0; t < end; t += nextPollSeconds(t, 0)) times.push(t);
  return times;
}

/** The most DescribeServices calls per minute this schedule can make, and the average over a rollout of `minutes` (for the docs/benchmark). */
export function describeCallsPerMinute(minutes: number): { peak: number; average: number } {
  const times = pollTimes(minutes);
  if (!times.length) return { peak: 0, average: 0 };
  // The busiest 60-second window starts at a poll.
  const peak = Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + 60).length));
  return { peak, average: Math.round((times.length / minutes) * 100) / 100 };
}
