/**
 * The durable workflow of one deploy: wait for the approvals, register and roll out the new task
 * definition, watch the rollout to its end, roll back when it fails. Approvals take minutes to
 * hours and rollouts often outlive a Lambda, so every wait is a durable one: a waiting execution
 * holds no Lambda, and each poll is a fresh invocation that replays the checkpointed steps.
 *
 * Replay rules (as in run.ts): the outside world (ECS, Slack, DynamoDB, the clock) is only
 * touched inside steps; between steps the code uses step results and the input, so a replay takes
 * the same path. Time limits are sums of the waits taken, never Date.now(). A step can run twice
 * (its invocation died before the checkpoint), so Slack posts are claimed per deploy and step, and
 * the update step recognises its own earlier UpdateService.
 */
import { StepSemantics, type DurableContext } from '@aws/durable-execution-sdk-js';
import { DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand, type Service } from '@aws-sdk/client-ecs';
import type { WebClient } from '@slack/web-api';
import type { AuditLog } from '../audit/audit';
import { AwsSession } from '../aws/session';
import { awaitApproval, notApprovedSummary, type Decision } from '../approval/await-approval';
import type { Approvals } from '../approval/approvals';
import { basisNow, describeTaskDefinition } from '../deploy/plan';
import { basisChanges } from '../deploy/plan-hash';
import type { DeployHistory } from '../deploy/history';
import { postOnce } from './post-once';
import type { DeployWorkflowInput } from './inputs';
import type { RequestStatus } from '../approval/types';
import { eventKey, nextPollSeconds, observeRollout, readStoppedTasks, startProgress, type WatchProgress, type WatchVerdict } from '../deploy/watch';
import { registerInput, shortTaskDefinition } from '../ecs/taskdef';
import { UserFacingError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import type { StateStore } from '../platform/state';
import { code, escapeText, formatDuration } from '../slack/format';
import type { Outcome } from '../slack/thread-output';
import { crashExcerpt, rolloutText, stopReasonsLine, stoppedTaskLines } from '../deploy/rollout-text';
import { uploadFiles } from '../slack/upload';
import { stagedEnding, watchServiceDeployment, type GateRecord, type StagedKit } from './deploy-staged';
import { deployThroughCodeDeploy } from './deploy-codedeploy';
import type { CodeDeployPlan } from '../deploy/codedeploy';
import { deployPostKey, deployUpdateKey } from '../platform/state-keys';
import { adjustRange, range, type Adjusted } from '../deploy/scale';
import { resumeAfterDeploy, suspendForDeploy, type AutoscalingKit } from './deploy-autoscaling';
import { remainingTime, workflowThread } from './thread';
import type { ResumeResult, SuspendResult } from '../deploy/autoscaling-suspend';

export interface DeployWorkflowDeps {
  /** A Slack client with the bot token (createSlackClient). */
  slack: () => Promise<WebClient>;
  state: StateStore;
  approvals: Approvals;
  history: DeployHistory;
  audit: () => AuditLog;
  logger: Logger;
  /** Only read inside steps. */
  now?: () => number;
}

export interface DeployWorkflowResult {
  outcome: Outcome;
  /** A scale with `--adjust-autoscaling`: the range before and after (absent when it needed no change). */
  autoscaling?: Adjusted;
  summary: string;
  status: RequestStatus;
  taskDefinition?: string;
  rolledBack?: boolean;
  polls: number;
  /** ECS-native deployments: each gate as it was decided. */
  gates?: GateRecord[];
}

/** Checkpointed result of `register` / `update`. */
type Started =
  | {
      ok: true;
      taskDefinition: string;
      deploymentId: string;
      at: number;
      messageTs?: string;
      /** A scale: service event ids from before it (not reported) and the watched deployment's failedTasks then. */
      seen?: string[];
      failedBefore?: number;
      /** The service's deployment strategy (absent: ROLLING). */
      strategy?: string;
    }
  | { ok: false; message: string };

/** Checkpointed result of one watch poll. */
interface Poll {
  progress: WatchProgress;
  verdict: WatchVerdict;
  /** Why ECS could not be read, as Slack text. */
  error?: string;
}

/** How a deploy ended: what finish() records and announces. */
interface Ending {
  result: DeployWorkflowResult & { detail?: string };
  watched?: { rollout: Watched; rollback?: Watched };
  deployed?: Extract<Started, { ok: true }>;
}

interface Watched {
  /** `lost`: why ECS could not be read, as Slack text (like a failed verdict's reason). */
  verdict: WatchVerdict | { state: 'timeout' } | { state: 'lost'; reason: string };
  progress: WatchProgress;
  seconds: number;
}

const POST_CLAIM_TTL = 7 * 86_400;
/** ECS and Slack hiccups inside a step: a few retries, further apart each time. */
const RETRY = (_error: Error, attempt: number) => ({ shouldRetry: attempt < 5, delay: { seconds: 5 * attempt } });
/** Consecutive failed polls after which the bot stops watching and says so. */
const MAX_POLL_ERRORS = 12;
/** Errors no retry will change: ECS said no to the request itself. */
const PERMANENT = new Set([
  'ClientException',
  // Application Auto Scaling's refusals (a scale's range).
  'ValidationException',
  'ObjectNotFoundException',
  'InvalidParameterException',
  'AccessDeniedException',
  'AccessDenied',
  'ServiceNotFoundException',
  'ServiceNotActiveException',
  'ClusterNotFoundException',
  'UnsupportedFeatureException',
  'PlatformUnknownException',
  'PlatformTaskDefinitionIncompatibilityException',
]);

/** A refusal ends the deploy with ECS's reason; anything else (throttling, 5xx, network) is thrown so the step retries. */
function refused(error: unknown, doing: string): { ok: false; message: string } {
  if (error instanceof UserFacingError) return { ok: false, message: `${doing} failed: ${error.userMessage}` };
  if (!PERMANENT.has((error as { name?: string }).name ?? '')) throw error;
  return { ok: false, message: `${doing} failed: ${escapeText((error as Error).message)}` };
}

export function createDeployWorkflow(deps: DeployWorkflowDeps) {
  const now = deps.now ?? Date.now;

  return async function deployWorkflow(input: DeployWorkflowInput, context: DurableContext): Promise<DeployWorkflowResult> {
    const logger = deps.logger.child({ deployId: input.deployId, target: input.target });
    const remainingMs = remainingTime(context);
    /** AWS access for one step, acting for the requester (as the worker did when planning). */
    const withAws = async <T>(work: (aws: AwsSession) => Promise<T>): Promise<T> => {
      const aws = new AwsSession(target, {
        teamId: input.teamId,
        userId: input.requesterId,
        ...(input.requesterName ? { userName: input.requesterName } : {}),
      });
      try {
        return await work(aws);
      } finally {
        aws.destroy();
      }
    };
    const thread = workflowThread({ slack: deps.slack, channel: input.channelId, parentTs: input.parentTs, remainingMs, logger });
    /** Posts once per (deploy, key), even when the step runs again. */
    const post = async (key: string, text: string) => {
      if (!text) return;
      await postOnce(deps.state, deployPostKey(input.deployId, key), POST_CLAIM_TTL, async () => void (await (await thread()).post(text)));
    };
    const postIfPossible = (key: string, text: string) => post(key, text).catch((error: unknown) => logger.warn('thread post failed', { key, error }));
    /**
     * Shows `text` in a living message: edits the one at `ts`, or posts it once per (deploy, key).
     * Returns its ts (undefined when it could not be posted: a later poll posts it under its own
     * key). Never throws: the rollout goes on without its picture.
     */
    const showLiving = async (key: string, text: string, ts: string | undefined): Promise<string | undefined> => {
      try {
        const out = await thread();
        if (ts) {
          await (await out.living(text, undefined, ts))?.close(text);
          return ts;
        }
        const claim = deployPostKey(input.deployId, key);
        if (!(await deps.state.claim(claim, POST_CLAIM_TTL))) return undefined;
        const message = await out.living(text);
        if (!message?.ts) await deps.state.release(claim).catch(() => undefined);
        return message?.ts;
      } catch (error) {
        logger.warn('rollout message not shown', { key, error });
        return ts;
      }
    };
    // Where the request was approved for, as planned: a redeployed bot with another config does
    // not move a running deploy to another service.
    const target = input.where;
    const autoscalingKit: AutoscalingKit = {
      context,
      input,
      state: deps.state,
      logger,
      withAws,
      post,
      retry: RETRY,
      refused,
      permanent: (error) => error instanceof UserFacingError || PERMANENT.has((error as { name?: string }).name ?? ''),
    };
    /** `suspendAutoscaling`: what the suspend step did (kept for the audit). */
    let suspension: SuspendResult | undefined;

    // ---- approval: a callback completed by whoever decides the request (src/approval/approve.ts) ----
    // A change its target lets through without approval (a scale, `scale.requiresApproval: false`) has no request to wait for.
    const decision: Decision =
      input.approval === 'not-required'
        ? { status: 'approved', approvals: [] }
        : await awaitApproval(
            context,
            { approvals: deps.approvals, slack: deps.slack, logger, now, post, retryStrategy: RETRY },
            { requestKey: input.requestKey, requestedAt: input.requestedAt, deadline: input.deadline, channelId: input.channelId, parentTs: input.parentTs },
          );
    const approvedBy = decision.approvals.map((u) => `<@${u}>`).join(', ');
    /** Who let the change through, for the parent and the rollout's title. */
    const approvedWords = input.approval === 'not-required' ? 'no approval needed' : `approved by ${approvedBy}`;
    const scale = input.plan.action === 'scale' ? input.plan.scale : undefined;
    // The parent keeps what was asked and what changed; the outcome follows it.
    const details = input.plan.imageNotes.map((n) => `• ${n}`).join('\n');
    const finalHeadline = `${input.headline}${decision.status === 'approved' ? ` · ${approvedWords}` : ''}${details ? `\n${details}\n` : ''}`;
    let ending: Ending;
    if (decision.status !== 'approved') {
      ending = end({ outcome: 'cancelled', summary: notApprovedSummary(decision), status: decision.status, polls: 0 }, undefined, undefined);
    } else {
      try {
        ending = await deployAndWatch();
      } catch (error) {
        // A step that kept failing after its retries (ECS down for minutes): said, not silent.
        logger.error('deploy workflow step failed for good', { error });
        const message = escapeText((error as Error).message);
        ending = end(
          {
            outcome: 'failure',
            summary: `the deploy stopped: ${message}`,
            status: 'approved',
            polls: 0,
            detail: `❌ The deploy stopped after repeated errors: ${message}. Check \`/ecs status ${input.target}\` before trying again.`,
          },
          undefined,
          undefined,
        );
      }
    }
    return finish(ending);

    async function deployAndWatch(): Promise<Ending> {
      // ---- the plan the approvals are bound to, read again: if it moved, they are void ----------
      const basis = input.plan.basis;
      const moved: string[] = basis
        ? await context.step('recheck', async () => withAws(async (aws) => basisChanges(basis, await basisNow(aws, target, input.plan))), {
            retryStrategy: RETRY,
          })
        : [];
      if (moved.length) {
        const why = escapeText(moved.join('; '));
        return end(
          {
            outcome: 'failure',
            summary: `the plan changed since it was approved (${why})`,
            status: 'approved',
            polls: 0,
            detail: `❌ The plan changed since it was approved (plan \`${input.plan.hash}\`): ${why}. The approvals were for something else, so they are void and nothing was deployed; ask again to see the new plan.`,
          },
          undefined,
          undefined,
        );
      }

      // ---- register the new revision (deploy) and update the service --------------------------
      const registered: { ok: true; taskDefinition: string } | { ok: false; message: string } = await context.step(
        'register',
        async () => {
          if (input.plan.action !== 'deploy') return { ok: true as const, taskDefinition: input.plan.targetTaskDefinition ?? input.plan.currentTaskDefinition };
          return withAws(async (aws) => {
            const current = await describeTaskDefinition(aws, input.plan.currentTaskDefinition);
            const { tags, ...td } = current;
            const out = await aws.ecs().send(new RegisterTaskDefinitionCommand(registerInput(td, input.plan.changes, tags)));
            // Said in the rollout's message, once it starts.
            return { ok: true as const, taskDefinition: out.taskDefinition!.taskDefinitionArn! };
          }).catch((error: unknown) => refused(error, 'registering the new task definition'));
        },
        { retryStrategy: RETRY },
      );
      // A CODE_DEPLOY service: a CodeDeploy deployment of the new revision instead of UpdateService (deploy-codedeploy.ts).
      if (input.plan.codeDeploy && registered.ok) return codeDeployDeploy(registered.taskDefinition, input.plan.codeDeploy);
      // A scale with `--adjust-autoscaling`: the range widened first (its own step, so the old range survives a retried update).
      const widening: Adjusted | { ok: false; message: string } | undefined =
        scale?.adjustAutoscaling && registered.ok
          ? await context.step(
              'autoscaling',
              async () => withAws((aws) => adjustRange(aws, target, scale)).catch((error: unknown) => refused(error, 'widening the autoscaling range')),
              { retryStrategy: RETRY },
            )
          : undefined;
      if (widening && 'ok' in widening)
        return end(
          { outcome: 'failure', summary: widening.message, status: 'approved', polls: 0, detail: `❌ ${widening.message}. The desired count was not changed.` },
          undefined,
          undefined,
        );
      const autoscaling = widening;
      if (input.suspendAutoscaling && registered.ok) {
        const suspended = await suspendForDeploy(autoscalingKit);
        if ('ok' in suspended)
          return end(
            { outcome: 'failure', summary: suspended.message, status: 'approved', polls: 0, detail: `❌ ${suspended.message}. Nothing was deployed.` },
            undefined,
            undefined,
          );
        suspension = suspended;
      }
      const updateKey = deployUpdateKey(input.deployId);
      const newRevision = code(shortTaskDefinition(registered.ok ? registered.taskDefinition : ''));
      /** The rollout message's title: who approved, what was registered, when UpdateService was called. */
      const rolloutTitle = (at: number) =>
        [
          input.approval === 'not-required' ? '▶️ No approval needed' : `👍 Approved by ${approvedBy}`,
          autoscaling?.to ? `🎚️ Autoscaling range ${range(autoscaling.from ?? autoscaling.to)} → ${range(autoscaling.to)}` : '',
          input.plan.action === 'deploy'
            ? `📝 Registered ${newRevision} (from ${code(shortTaskDefinition(input.plan.currentTaskDefinition))} with the new image${input.plan.changes.length > 1 ? 's' : ''})`
            : '',
          scale
            ? `📏 \`UpdateService\` called at ${new Date(at).toISOString().slice(11, 19)} UTC: \`${input.target}\` desired count ${scale.fromDesiredCount} → ${scale.desiredCount}`
            : `🚀 \`UpdateService\` called at ${new Date(at).toISOString().slice(11, 19)} UTC: \`${input.target}\` → ${newRevision}`,
        ]
          .filter(Boolean)
          .join(' · ');
      const startRolloutMessage = (at: number, deploymentId: string, serviceArn: string | undefined) =>
        showLiving(
          'update',
          rolloutText({
            title: rolloutTitle(at),
            serviceName: input.target,
            progress: {
              ...startProgress(deploymentId, registered.ok ? registered.taskDefinition : '', at),
              ...(serviceArn ? { serviceArn } : {}),
              ...(scale ? { role: 'scaled' } : {}),
            },
            verdict: { state: 'in-progress' },
            seconds: 0,
          }),
          undefined,
        );
      const started: Started = !registered.ok
        ? registered
        : await context.step(
            'update',
            async () => {
              return withAws(async (aws): Promise<Started> => {
                const ecs = aws.ecs();
                const service = await describeService(aws);
                if (scale) {
                  // The desired count only: no new deployment; the PRIMARY one is watched until it runs that many (a retried step sets the same count).
                  const out = await ecs.send(new UpdateServiceCommand({ cluster: target.cluster, service: target.service, desiredCount: scale.desiredCount }));
                  const primary = out.service?.deployments?.find((d) => d.status === 'PRIMARY');
                  const at = now();
                  const messageTs = await startRolloutMessage(at, primary?.id ?? '', out.service?.serviceArn);
                  return {
                    ok: true,
                    taskDefinition: out.service?.taskDefinition ?? registered.taskDefinition,
                    deploymentId: primary?.id ?? '',
                    at,
                    ...(messageTs ? { messageTs } : {}),
                    // The service's events so far are not this scale's.
                    seen: (service.events ?? []).map(eventKey).slice(0, 100),
                    failedBefore: primary?.failedTasks ?? 0,
                  };
                }
                const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
                // This step may have run before and died after its UpdateService: it noted the PRIMARY
                // deployment it found first, so a new PRIMARY of our task definition is our own.
                const first = await deps.state.claim(updateKey, POST_CLAIM_TTL, { before: primary?.id ?? '' });
                const noted = first ? undefined : await deps.state.get<{ before?: string }>(updateKey);
                if (noted && primary && primary.id !== noted.before && primary.taskDefinition === registered.taskDefinition) {
                  const at = primary.createdAt?.getTime() ?? now();
                  const messageTs = await startRolloutMessage(at, primary.id!, service.serviceArn);
                  const strategy = service.deploymentConfiguration?.strategy;
                  return {
                    ok: true,
                    taskDefinition: registered.taskDefinition,
                    deploymentId: primary.id!,
                    at,
                    ...(messageTs ? { messageTs } : {}),
                    ...(strategy ? { strategy } : {}),
                  };
                }
                if (service.taskDefinition !== input.plan.currentTaskDefinition) {
                  return {
                    ok: false,
                    message: `\`${input.target}\` changed since the request: it now runs ${code(shortTaskDefinition(service.taskDefinition))}, the request was made against ${code(shortTaskDefinition(input.plan.currentTaskDefinition))}. Nothing was deployed; ask again if it is still wanted.`,
                  };
                }
                const out = await ecs.send(
                  new UpdateServiceCommand({
                    cluster: target.cluster,
                    service: target.service,
                    taskDefinition: registered.taskDefinition,
                    ...(input.plan.action === 'redeploy' ? { forceNewDeployment: true } : {}),
                  }),
                );
                const deployment = out.service?.deployments?.find((d) => d.status === 'PRIMARY');
                const at = deployment?.createdAt?.getTime() ?? now();
                const messageTs = await startRolloutMessage(at, deployment?.id ?? '', out.service?.serviceArn);
                const strategy = out.service?.deploymentConfiguration?.strategy;
                return {
                  ok: true,
                  taskDefinition: registered.taskDefinition,
                  deploymentId: deployment?.id ?? '',
                  at,
                  ...(messageTs ? { messageTs } : {}),
                  ...(strategy ? { strategy } : {}),
                };
              }).catch((error: unknown) => refused(error, 'updating the service'));
            },
            // Safe to retry: a second run finds its own deployment instead of updating again.
            { retryStrategy: RETRY, semantics: StepSemantics.AtLeastOncePerRetry },
          );
      if (!started.ok)
        return end(
          { outcome: 'failure', summary: started.message.split('\n')[0]!, status: 'approved', polls: 0, detail: `❌ ${started.message}` },
          undefined,
          undefined,
        );
      if (!scale && started.strategy && started.strategy !== 'ROLLING') return stagedDeploy(started, rolloutTitle(started.at));

      // ---- watch the rollout ------------------------------------------------------------------
      let polls = 0;
      /** Watches one deployment to its end, its state shown in one living message titled `title` (posted by the first poll unless `messageTs`). */
      const watch = async (
        phase: string,
        deploymentId: string,
        taskDefinition: string,
        since: number,
        view: { title: string; messageTs?: string; role?: string; roles?: Record<string, string>; seen?: string[]; failedBefore?: number },
      ): Promise<Watched> => {
        let progress: WatchProgress = {
          ...startProgress(deploymentId, taskDefinition, since),
          ...(view.seen ? { seenEventIds: view.seen } : {}),
          ...(view.failedBefore ? { failedTasks: view.failedBefore } : {}),
          ...(view.messageTs ? { messageTs: view.messageTs } : {}),
          ...(view.role ? { role: view.role } : {}),
          ...(view.roles ? { roles: view.roles } : {}),
        };
        let seconds = 0;
        let errors = 0;
        /** The watch ends without a verdict of ECS's: the living message says so instead of "in progress". */
        const stoppedWatching = async (verdict: Watched['verdict'], last: WatchProgress, after: number): Promise<Watched> => {
          await context.step(`${phase}-stopped`, async () => {
            await showLiving(
              `${phase}-stopped`,
              rolloutText({ title: view.title, serviceName: input.target, progress: last, verdict, seconds: after }),
              last.messageTs,
            );
            return true;
          });
          return { verdict, progress: last, seconds: after };
        };
        for (let n = 1; ; n++) {
          const pause = nextPollSeconds(seconds, errors);
          await context.wait(`${phase}-wait-${n}`, { seconds: pause });
          seconds += pause;
          polls++;
          const before = progress;
          const failedSoFar = errors;
          const elapsed = seconds;
          const poll: Poll = await context.step(
            `${phase}-${n}`,
            async () => {
              try {
                return await withAws(async (aws) => {
                  const service = await describeService(aws);
                  const seen = observeRollout(service, before);
                  // Both keep their lines in the progress's record.
                  const next = seen.fetchStoppedTasks
                    ? (await readStoppedTasks(aws.ecs(), target.cluster, target.service, seen.progress)).progress
                    : seen.progress;
                  // The living message shows where the rollout stands; the lines are in the record. A
                  // message Slack does not take is lost, not the verdict: ECS was read.
                  const text = rolloutText({ title: view.title, serviceName: input.target, progress: next, verdict: seen.verdict, seconds: elapsed });
                  const messageTs = await showLiving(`${phase}-${n}-living`, text, next.messageTs);
                  return { progress: { ...next, ...(messageTs ? { messageTs } : {}) }, verdict: seen.verdict };
                });
              } catch (error) {
                const message = escapeText((error as Error).message);
                // Said once when it starts and every few polls after: backing off, not giving up.
                if (failedSoFar === 0 || (failedSoFar + 1) % 4 === 0) {
                  await post(
                    `${phase}-${n}-error`,
                    `⚠️ Could not read the service (${message}); trying again in ${nextPollSeconds(seconds, failedSoFar + 1)} s.`,
                  ).catch(() => undefined);
                }
                return { progress: before, verdict: { state: 'in-progress' as const }, error: message };
              }
            },
            { retryStrategy: RETRY },
          );
          progress = poll.progress;
          errors = poll.error ? errors + 1 : 0;
          if (poll.verdict.state !== 'in-progress') return { verdict: poll.verdict, progress, seconds };
          if (errors >= MAX_POLL_ERRORS) return stoppedWatching({ state: 'lost', reason: poll.error ?? 'ECS did not answer' }, progress, seconds);
          if (seconds >= input.timeoutSeconds) return stoppedWatching({ state: 'timeout' }, progress, seconds);
        }
      };

      const rollout = await watch('rollout', started.deploymentId, started.taskDefinition, started.at, {
        title: rolloutTitle(started.at),
        ...(started.messageTs ? { messageTs: started.messageTs } : {}),
        ...(scale ? { role: 'scaled', ...(started.seen ? { seen: started.seen } : {}), failedBefore: started.failedBefore ?? 0 } : {}),
      });
      if (scale) return scaleEnding(rollout, started, autoscaling, polls);
      if (rollout.verdict.state === 'completed') {
        return end(
          {
            outcome: 'success',
            summary: `${code(shortTaskDefinition(started.taskDefinition))} is live and steady after ${formatDuration(rollout.seconds * 1000)}`,
            status: 'approved',
            taskDefinition: started.taskDefinition,
            polls,
          },
          { rollout },
          started,
        );
      }
      if (rollout.verdict.state === 'lost') {
        return end(
          {
            outcome: 'warning',
            summary: `lost track of the rollout (${rollout.verdict.reason}); check \`/ecs status ${input.target}\``,
            status: 'approved',
            taskDefinition: started.taskDefinition,
            polls,
          },
          { rollout },
          started,
        );
      }
      const why = (
        rollout.verdict.state === 'timeout'
          ? `the rollout did not finish within ${formatDuration(input.timeoutSeconds * 1000)}`
          : rollout.verdict.state === 'failed'
            ? rollout.verdict.reason
            : 'the rollout did not complete'
      ).replace(/\.+$/, '');
      // Each stopped task with its console and log links (the task definition says where it logs);
      // without them, the distinct stop reasons.
      const stopped = rollout.progress.stopped ?? [];
      const reasons = stopped.length
        ? await context.step(
            'stopped-tasks',
            async () => {
              const containers = await withAws((aws) => describeTaskDefinition(aws, started.taskDefinition))
                .then((td) => td.containerDefinitions ?? [])
                .catch((error: unknown) => {
                  logger.warn('no log links: the task definition could not be read', { error });
                  return [];
                });
              // The first crashed container's last log lines: the why, without leaving the thread.
              const excerpt = await withAws((aws) => crashExcerpt(aws, stopped, containers, target.region)).catch((error: unknown) => {
                logger.warn('no log excerpt: the log stream could not be read', { error });
                return '';
              });
              return `\nStopped tasks:\n${stoppedTaskLines(stopped, containers).join('\n')}${excerpt}`;
            },
            { retryStrategy: RETRY },
          )
        : stopReasonsLine(rollout.progress.stopReasons);

      // ---- roll back ---------------------------------------------------------------------------
      const ecsRollback = rollout.verdict.state === 'failed' ? rollout.verdict.ecsRollback : undefined;
      if (rollout.verdict.state === 'failed' && rollout.verdict.superseded) {
        // Someone else's deploy replaced this one: rolling back would undo theirs.
        return end(
          {
            outcome: 'warning',
            summary: `${why}; not rolled back: that deploy is someone else's`,
            status: 'approved',
            taskDefinition: started.taskDefinition,
            polls,
            detail: `⚠️ ${why}. Not rolled back: the deployment that replaced it is someone else's; \`/ecs status ${input.target}\` shows where the service is.`,
          },
          { rollout },
          started,
        );
      }
      const previous = input.plan.currentTaskDefinition;
      if (!ecsRollback && (!input.rollback || previous === started.taskDefinition)) {
        const left = input.rollback ? 'there is no other revision to go back to' : 'automatic rollback is off for this service';
        return end(
          {
            outcome: 'failure',
            summary: `${why}; not rolled back (${left})`,
            status: 'approved',
            taskDefinition: started.taskDefinition,
            polls,
            detail: `❌ ${why}.${reasons}\nNot rolled back: ${left}. \`/ecs rollback ${input.target}\` asks for one.`,
          },
          { rollout },
          started,
        );
      }
      const back: Started = ecsRollback
        ? await context.step('rollback', async () => {
            await post(
              'rollback',
              `❌ ${why}.${reasons}\n↩️ ECS's circuit breaker is rolling back to ${code(shortTaskDefinition(ecsRollback.taskDefinition))}; watching it below.`,
            );
            return { ok: true as const, taskDefinition: ecsRollback.taskDefinition, deploymentId: ecsRollback.deploymentId, at: now() };
          })
        : await context.step(
            'rollback',
            async () =>
              withAws(async (aws): Promise<Started> => {
                const out = await aws.ecs().send(new UpdateServiceCommand({ cluster: target.cluster, service: target.service, taskDefinition: previous }));
                const deployment = out.service?.deployments?.find((d) => d.status === 'PRIMARY');
                await postIfPossible('rollback', `❌ ${why}.${reasons}\n↩️ Rolling back to ${code(shortTaskDefinition(previous))}; watching it below.`);
                return { ok: true, taskDefinition: previous, deploymentId: deployment?.id ?? '', at: deployment?.createdAt?.getTime() ?? now() };
              }).catch((error: unknown) => refused(error, 'rolling back')),
            { retryStrategy: RETRY },
          );
      if (!back.ok) {
        return end(
          {
            outcome: 'failure',
            summary: `${why}; the rollback could not be started (${back.message})`,
            status: 'approved',
            taskDefinition: started.taskDefinition,
            polls,
            rolledBack: false,
          },
          { rollout },
          started,
        );
      }
      const rolledBack = await watch('rollback', back.deploymentId, back.taskDefinition, back.at, {
        title: `↩️ Rolling \`${input.target}\` back to ${code(shortTaskDefinition(back.taskDefinition))}`,
        role: 'rollback to',
        roles: { [started.deploymentId]: 'failed' },
      });
      const backOk = rolledBack.verdict.state === 'completed';
      return end(
        {
          outcome: 'failure',
          summary: `${why}; ${backOk ? `rolled back to ${code(shortTaskDefinition(back.taskDefinition))}` : `the rollback to ${code(shortTaskDefinition(back.taskDefinition))} did not settle either (${rolledBack.verdict.state})`}`,
          status: 'approved',
          taskDefinition: back.taskDefinition,
          rolledBack: true,
          polls,
          // The reasons are in the failure reply above.
          detail: `${backOk ? '↩️' : '🔥'} ${why}.\n${backOk ? `Rolled back: \`${input.target}\` runs ${code(shortTaskDefinition(back.taskDefinition))} again and is steady.` : `The rollback did not settle (${rolledBack.verdict.state}): look at \`/ecs status ${input.target}\` now.`}`,
        },
        { rollout, rollback: rolledBack },
        started,
      );
    }

    /** How a scale ended: steady at the new count, or not (a scale is never rolled back: the thread says what to do). */
    function scaleEnding(rollout: Watched, started: Extract<Started, { ok: true }>, autoscaling: Adjusted | undefined, polls: number): Ending {
      const count = `${scale!.desiredCount} task${scale!.desiredCount === 1 ? '' : 's'}`;
      const base = { status: 'approved' as const, taskDefinition: started.taskDefinition, polls, ...(autoscaling ? { autoscaling } : {}) };
      const state = rollout.verdict.state;
      if (state === 'completed')
        return end(
          { ...base, outcome: 'success', summary: `\`${input.target}\` runs ${count} and is steady after ${formatDuration(rollout.seconds * 1000)}` },
          { rollout },
          started,
        );
      const why =
        state === 'timeout'
          ? `\`${input.target}\` did not reach ${count} within ${formatDuration(input.timeoutSeconds * 1000)}`
          : state === 'lost'
            ? `lost track of the scale (${rollout.verdict.reason})`
            : state === 'failed'
              ? rollout.verdict.reason.replace(/\.+$/, '')
              : 'the scale did not complete';
      return end(
        {
          ...base,
          outcome: state === 'lost' ? 'warning' : 'failure',
          summary: why,
          detail: `${state === 'lost' ? '⚠️' : '❌'} ${why}. A scale is not rolled back: the desired count stays ${scale!.desiredCount}; \`/ecs status ${input.target}\` shows where the service is, \`/ecs scale ${input.target} ${scale!.fromDesiredCount}\` asks to go back.`,
        },
        { rollout },
        started,
      );
    }

    /** What the watches of deploy-staged.ts and deploy-codedeploy.ts borrow from this workflow. */
    function kit(): StagedKit {
      return {
        context,
        input,
        withAws,
        post,
        showLiving,
        slack: deps.slack,
        state: deps.state,
        approvals: deps.approvals,
        logger,
        now,
        retry: RETRY,
        permanent: PERMANENT,
      };
    }

    /** CODE_DEPLOY: a CodeDeploy deployment of the registered revision, followed (and rolled back) by deploy-codedeploy.ts. */
    async function codeDeployDeploy(taskDefinition: string, codeDeploy: CodeDeployPlan): Promise<Ending> {
      const cd = await deployThroughCodeDeploy(kit(), { taskDefinition, codeDeploy, approvedBy });
      const deployed = cd.deploymentId ? { ok: true as const, taskDefinition, deploymentId: cd.deploymentId, at: cd.at ?? now() } : undefined;
      const progress = { ...startProgress(cd.deploymentId ?? '', taskDefinition, cd.at ?? now()), record: cd.record };
      const verdict = (state: string): Watched['verdict'] =>
        state === 'completed' || state === 'timeout' ? { state } : state === 'lost' ? { state, reason: cd.summary } : { state: 'failed', reason: cd.summary };
      return end(
        {
          outcome: cd.outcome,
          summary: cd.summary,
          status: 'approved',
          taskDefinition: cd.taskDefinition,
          polls: cd.polls,
          detail: cd.detail,
          ...(cd.rolledBack !== undefined ? { rolledBack: cd.rolledBack } : {}),
        },
        deployed
          ? {
              rollout: { verdict: verdict(cd.verdict), progress, seconds: cd.seconds },
              ...(cd.rollback ? { rollback: { verdict: verdict(cd.rollback), progress: { ...progress, record: [] }, seconds: cd.seconds } } : {}),
            }
          : undefined,
        deployed,
      );
    }

    /** BLUE_GREEN / LINEAR / CANARY: watched through its service deployment, gates decided by reaction (deploy-staged.ts). */
    async function stagedDeploy(started: Extract<Started, { ok: true }>, title: string): Promise<Ending> {
      const staged = await watchServiceDeployment(kit(), {
        taskDefinition: started.taskDefinition,
        at: started.at,
        title,
        ...(started.messageTs ? { messageTs: started.messageTs } : {}),
      });
      const ending = stagedEnding(staged, input, started.taskDefinition);
      const v = staged.verdict;
      const verdict: Watched['verdict'] =
        v.state === 'completed' || v.state === 'timeout' || v.state === 'lost' ? v : { state: 'failed', reason: v.state === 'in-progress' ? '' : v.reason };
      return end(
        {
          outcome: ending.outcome,
          summary: ending.summary,
          status: 'approved',
          taskDefinition: ending.taskDefinition,
          polls: staged.polls,
          detail: ending.detail,
          ...(ending.rolledBack !== undefined ? { rolledBack: ending.rolledBack } : {}),
          ...(staged.gates.length ? { gates: staged.gates } : {}),
        },
        { rollout: { verdict, progress: { ...startProgress('', started.taskDefinition, started.at), record: staged.record }, seconds: staged.seconds } },
        started,
      );
    }

    async function describeService(aws: AwsSession): Promise<Service> {
      const out = await aws.ecs().send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }));
      const service = out.services?.[0];
      if (!service) throw new Error(`service ${target.service} not found in ${target.cluster}`);
      return service;
    }

    /** Everything the watch saw (states, service events, stopped tasks), as plain text for the attached record. */
    function eventRecord(watched: NonNullable<Ending['watched']>): string {
      const part = (title: string, w: Watched | undefined) => (w?.progress.record?.length ? [`${title}`, ...w.progress.record, ''] : []);
      return [...part(`Rollout of ${input.target} (deploy ${input.deployId})`, watched.rollout), ...part('Rollback', watched.rollback)].join('\n');
    }

    /**
     * The end, said once: the reply is the share of the record file, `text` its comment, so the
     * thread gets one message and the full record. A file Slack does not take: the text alone.
     */
    async function postWithRecord(key: string, text: string, record: string): Promise<void> {
      const claim = deployPostKey(input.deployId, key);
      if (!(await deps.state.claim(claim, POST_CLAIM_TTL))) return;
      try {
        await uploadFiles(await deps.slack(), {
          channelId: input.channelId,
          threadTs: input.parentTs,
          initialComment: `${text}\nThe rollout's full record is attached.`,
          files: [{ filename: `deploy-${input.deployId}.txt`, title: `deploy ${input.deployId}: the rollout's record`, content: record }],
          signal: AbortSignal.timeout(Math.max(1_000, remainingMs() - 10_000)),
        });
      } catch (error) {
        logger.warn('the record could not be attached; the end is said without it', { error });
        await deps.state.release(claim).catch(() => undefined);
        await post(key, text);
      }
    }

    /** How the deploy ended, for finish(). */
    function end(result: DeployWorkflowResult & { detail?: string }, watched: Ending['watched'], deployed: Ending['deployed']): Ending {
      return { result, ...(watched ? { watched } : {}), ...(deployed ? { deployed } : {}) };
    }

    /**
     * The end, in two steps so a Slack outage cannot undo the bookkeeping: `finish` records the
     * audit and the history and releases the lock (no Slack); `announce` says it in the thread and
     * marks the parent, and a failure there is logged, not retried into a second ending.
     */
    async function finish({ result, watched, deployed }: Ending): Promise<DeployWorkflowResult> {
      const decided = decision;
      // Scaling activities put back before the end is recorded, however the deploy ended.
      const resumed: ResumeResult | undefined = input.suspendAutoscaling && decided.status === 'approved' ? await resumeAfterDeploy(autoscalingKit) : undefined;
      await context.step(
        'finish',
        async () => {
          const took = formatDuration(now() - input.requestedAt);
          // What ran well and what did not, for the next `/ecs rollback` without a revision.
          const at = new Date(now()).toISOString();
          const record = (taskDefinition: string, outcome: 'success' | 'failure') =>
            deps.history
              .record(input.target, { taskDefinition, outcome, deployId: input.deployId, at })
              .catch((error: unknown) => logger.warn('deploy history not recorded', { error }));
          if (deployed && watched && !scale) {
            const rolledOut = watched.rollout.verdict.state === 'completed';
            await record(deployed.taskDefinition, rolledOut ? 'success' : 'failure');
            if (watched.rollback?.verdict.state === 'completed' && result.taskDefinition) await record(result.taskDefinition, 'success');
          }
          // The record first, then the lock, then the message: whoever sees the end finds them done.
          await deps
            .audit()
            .complete(input.audit, {
              outcome: result.outcome,
              durationMs: now() - input.requestedAt,
              reason: result.summary,
              threadTs: input.parentTs,
              detail: {
                deployId: input.deployId,
                action: input.plan.action,
                requester: input.requesterId,
                status: decided.status,
                approvers: decided.approvals,
                ...(decided.decidedBy ? { decidedBy: decided.decidedBy } : {}),
                requestedAt: new Date(input.requestedAt).toISOString(),
                ...(decided.decidedAt ? { decidedAt: new Date(decided.decidedAt).toISOString() } : {}),
                finishedAt: new Date(now()).toISOString(),
                took,
                fromTaskDefinition: input.plan.currentTaskDefinition,
                ...(deployed ? { toTaskDefinition: deployed.taskDefinition, deploymentStartedAt: new Date(deployed.at).toISOString() } : {}),
                images: input.plan.changes,
                ...(watched
                  ? {
                      rolloutSeconds: watched.rollout.seconds,
                      rolloutVerdict: watched.rollout.verdict.state,
                      stopReasons: watched.rollout.progress.stopReasons,
                    }
                  : {}),
                ...(watched?.rollback ? { rolledBackTo: result.taskDefinition, rollbackVerdict: watched.rollback.verdict.state } : {}),
                polls: result.polls,
                ...(scale
                  ? {
                      desiredCount: scale.desiredCount,
                      fromDesiredCount: scale.fromDesiredCount,
                      runningBefore: scale.running,
                      ...(input.approval ? { approval: input.approval } : {}),
                      ...(scale.bounds ? { autoscalingRange: scale.bounds } : {}),
                      ...(result.autoscaling ? { autoscalingAdjusted: result.autoscaling } : {}),
                    }
                  : {}),
                ...(result.gates ? { gates: result.gates } : {}),
                ...(resumed ? { autoscalingSuspension: { ...(suspension ?? {}), resumed } } : {}),
              },
            })
            .catch((error: unknown) => logger.error('audit completion failed', { error }));
          // Free for the next deploy (only this deploy's lock) before the message says this one ended.
          await deps.state.release(input.lockKey, { deployId: input.deployId });
        },
        { retryStrategy: RETRY },
      );
      await context
        .step(
          'announce',
          async () => {
            const out = await thread(finalHeadline);
            const text = result.detail ?? (decided.status === 'approved' ? `${result.outcome === 'success' ? '✅' : '⚠️'} ${result.summary}.` : '');
            const record = watched ? eventRecord(watched) : '';
            if (record) await postWithRecord('finish', text, record);
            else await post('finish', text);
            await out.finish({ outcome: result.outcome, summary: result.summary });
          },
          { retryStrategy: RETRY },
        )
        .catch((error: unknown) => logger.error('could not announce the end of the deploy', { error }));
      const { detail: _detail, ...rest } = result;
      return rest;
    }
  };
}
