/**
 * The deploy workflow's path for CODE_DEPLOY services (src/deploy/codedeploy.ts): after the new
 * revision is registered, a CodeDeploy deployment of its AppSpec through the planned deployment
 * group, instead of UpdateService; then the deployment is followed (GetDeployment, and
 * ListDeploymentTargets once then GetDeploymentTarget: lifecycle events and the task sets' traffic
 * weights) in the rollout's living message.
 *
 * - Exactly once: CreateDeployment has no client token, so the deployment carries this deploy's id
 *   in its description, and the step first looks for it (ListDeployments of the group since the
 *   request, GetDeployment of each); a retried step finds the one it created.
 * - CodeDeploy decides the end: Succeeded; Failed or Stopped with its rollback deployment
 *   (rollbackInfo.rollbackDeploymentId), which is followed to its end and never doubled.
 * - The bot's own failure conditions stop the deployment: the replacement task set crashing in a
 *   loop (its stopped tasks at ECS's circuit-breaker threshold, src/deploy/codedeploy-replacement.ts:
 *   CodeDeploy itself waits 60 minutes for a healthy replacement), the rollout's timeout before the
 *   traffic moved, CodeDeploy unreadable for too long. StopDeployment with autoRollbackEnabled (the
 *   target's `deploy.rollback`), said once in the thread with why (the tasks' stop reasons, as AWS
 *   wrote them); then CodeDeploy's rollback is followed. A deployment CodeDeploy ended first
 *   (DeploymentAlreadyCompletedException) is left to CodeDeploy's own ending and rollback.
 *
 * Replay rules are deploy.ts's: the outside world only inside steps, posts claimed per key.
 */
import { StepSemantics } from '@aws/durable-execution-sdk-js';
import {
  CodeDeployClient,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  GetDeploymentTargetCommand,
  ListDeploymentsCommand,
  ListDeploymentTargetsCommand,
  StopDeploymentCommand,
  type DeploymentInfo,
} from '@aws-sdk/client-codedeploy';
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import { appSpec, deploymentDescription, said, type CodeDeployPlan } from '../deploy/codedeploy';
import { watchReplacement } from '../deploy/codedeploy-replacement';
import { stopReasonsLine } from '../deploy/rollout-text';
import { nextPollSeconds, type WatchProgress } from '../deploy/watch';
import { shortTaskDefinition } from '../ecs/taskdef';
import { code, escapeText, formatDuration, quantity, unescapeText } from '../slack/format';
import type { Outcome } from '../slack/thread-output';
import type { StagedKit } from './deploy-staged';

/** How the CodeDeploy path ended, for the workflow's finish(). */
export interface CodeDeployEnding {
  outcome: Outcome;
  summary: string;
  detail: string;
  /** What the service runs at the end (the previous revision after a rollback). */
  taskDefinition: string;
  /** The deployment's verdict as the deploy's record keeps it, and its rollback's. */
  verdict: 'completed' | 'failed' | 'timeout' | 'lost';
  rollback?: 'completed' | 'failed' | 'timeout';
  rolledBack?: boolean;
  deploymentId?: string;
  /** When CreateDeployment was made (CodeDeploy's createTime). */
  at?: number;
  seconds: number;
  polls: number;
  record: string[];
}

/** What one poll knows: the deployment watched (the rollout's, or its rollback's) and what was said of it. */
interface Progress {
  deploymentId: string;
  role: 'rollout' | 'rollback';
  targetId?: string;
  status?: string;
  /** `name:status` of each lifecycle event, in order. */
  events: string[];
  /** One line per task set (label, counts, traffic). */
  sets: string[];
  /** Production traffic on the replacement, percent. */
  weight?: number;
  /** AllowTraffic has succeeded: production traffic is on the new revision. */
  shifted?: boolean;
  error?: string;
  rollbackDeploymentId?: string;
  /** The replacement task set (GetDeploymentTarget's Green): its id and desired count. */
  replacementSet?: { id: string; desiredCount: number };
  /** Its stopped tasks seen so far (src/deploy/codedeploy-replacement.ts). */
  replacement?: WatchProgress;
  /** Set by the poll that found the replacement crashing in a loop: why, in words. */
  failing?: string;
  record: string[];
  messageTs?: string;
}

interface Poll {
  progress: Progress;
  state: 'in-progress' | 'succeeded' | 'failed' | 'stopped';
  error?: string;
}

const MAX_POLL_ERRORS = 12;
/** A deployment CodeDeploy says has ended but still shows under way is stopped again at most this many times. */
const MAX_ENDED_ANSWERS = 3;
const ENDED = new Set(['Succeeded', 'Failed', 'Stopped']);
const ICON: Record<string, string> = { Succeeded: '✅', InProgress: '⏳', Failed: '❌', Skipped: '⏭️', Pending: '▫️' };
/** How long the deployment is followed after its production traffic moved (the termination wait), beyond its timeout. */
const AFTER_SHIFT_SECONDS = 15 * 60;

const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);

export async function deployThroughCodeDeploy(
  kit: StagedKit,
  started: { taskDefinition: string; codeDeploy: CodeDeployPlan; approvedBy: string },
): Promise<CodeDeployEnding> {
  const { context, input } = kit;
  const target = input.where;
  const p = started.codeDeploy;
  const to = code(shortTaskDefinition(started.taskDefinition));
  const from = code(shortTaskDefinition(input.plan.currentTaskDefinition));
  const group = code(`${p.application}/${p.deploymentGroup}`);
  const description = deploymentDescription(input.deployId, input.target);

  // ---- create the deployment, once ----------------------------------------------------------
  const created = await context.step(
    'codedeploy-create',
    async () =>
      kit.withAws(async (aws): Promise<{ ok: true; deploymentId: string; at: number } | { ok: false; message: string }> => {
        const cd = aws.client(CodeDeployClient);
        const own = await findOwnDeployment(cd, p, description, input.requestedAt);
        if (own) return { ok: true, deploymentId: own.deploymentId!, at: own.createTime?.getTime() ?? kit.now() };
        const service = (await aws.ecs().send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }))).services?.[0];
        if (service?.taskDefinition !== input.plan.currentTaskDefinition) {
          return {
            ok: false,
            message: `\`${input.target}\` changed since the request: it now runs ${code(shortTaskDefinition(service?.taskDefinition))}, the request was made against ${from}. Nothing was deployed; ask again if it is still wanted.`,
          };
        }
        let deploymentId: string;
        try {
          const out = await cd.send(
            new CreateDeploymentCommand({
              applicationName: p.application,
              deploymentGroupName: p.deploymentGroup,
              deploymentConfigName: p.deploymentConfig,
              description,
              revision: { revisionType: 'AppSpecContent', appSpecContent: { content: appSpec(started.taskDefinition, p) } },
              ...(p.autoRollback ? { autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE', 'DEPLOYMENT_STOP_ON_REQUEST'] } } : {}),
            }),
          );
          deploymentId = out.deploymentId!;
        } catch (error) {
          // Throttling, 5xx, the network: the step retries. CodeDeploy's refusals (another deployment under way, a bad revision) end the deploy.
          if (transient(error)) throw error;
          return { ok: false, message: `CodeDeploy refused the deployment through ${group}: ${escapeText((error as Error).message)}` };
        }
        // CodeDeploy's own time of creation (the rollout's start). A step that dies here finds its deployment again above.
        const info = (await cd.send(new GetDeploymentCommand({ deploymentId }))).deploymentInfo;
        return { ok: true, deploymentId, at: info?.createTime?.getTime() ?? kit.now() };
      }),
    { retryStrategy: kit.retry, semantics: StepSemantics.AtLeastOncePerRetry },
  );
  if (!created.ok)
    return {
      outcome: 'failure',
      summary: created.message.split('\n')[0]!,
      detail: `❌ ${created.message}`,
      taskDefinition: input.plan.currentTaskDefinition,
      verdict: 'failed',
      seconds: 0,
      polls: 0,
      record: [],
    };
  // The living message's title: who approved, what was registered, the deployment.
  const title = [
    `👍 Approved by ${started.approvedBy}`,
    input.plan.action === 'deploy' ? `📝 Registered ${to}` : '',
    `🚀 CodeDeploy deployment ${code(created.deploymentId)} created at ${hhmmss(created.at)} UTC through ${group}: \`${input.target}\` → ${to}`,
  ]
    .filter(Boolean)
    .join(' · ');

  // ---- follow it (and CodeDeploy's rollback) ------------------------------------------------
  let progress: Progress = { deploymentId: created.deploymentId, role: 'rollout', events: [], sets: [], record: [] };
  let seconds = 0;
  let errors = 0;
  let polls = 0;
  /** Why the bot stopped the deployment, once it did, and which of its conditions that was. */
  let stopped: string | undefined;
  let stoppedFor: 'failing' | 'lost' | 'timeout' | undefined;
  /** StopDeployments CodeDeploy answered with DeploymentAlreadyCompletedException. */
  let endedAnswers = 0;
  /** Why the rollout failed, once CodeDeploy's rollback is being followed. */
  let failed = '';
  const ending = (e: Omit<CodeDeployEnding, 'seconds' | 'polls' | 'record' | 'deploymentId' | 'at'>): CodeDeployEnding => ({
    ...e,
    deploymentId: created.deploymentId,
    at: created.at,
    seconds,
    polls,
    record: progress.record,
  });
  for (let n = 1; ; n++) {
    const pause = nextPollSeconds(seconds, errors);
    await context.wait(`codedeploy-wait-${n}`, { seconds: pause });
    seconds += pause;
    polls++;
    const before = progress;
    const elapsed = seconds;
    const poll: Poll = await context.step(
      `codedeploy-${n}`,
      async () => {
        try {
          return await kit.withAws(async (aws) => {
            const { failing: _, ...observed } = await observe(aws.client(CodeDeployClient), before);
            let next: Progress = observed;
            // The replacement's stopped tasks, while the rollout runs and the bot has not stopped it.
            if (next.role === 'rollout' && !stopped && stateOf(next.status) === 'in-progress' && next.replacementSet) {
              const set = { ...next.replacementSet, taskDefinition: started.taskDefinition };
              const seen = await watchReplacement(aws.ecs(), target, set, next.replacement);
              next = {
                ...next,
                replacement: seen.progress,
                record: [...next.record, ...seen.lines.map(unescapeText)].slice(-500),
                ...(seen.failing ? { failing: seen.failing } : {}),
              };
            }
            const messageTs = await kit.showLiving(`codedeploy-${n}-living`, living(title, next, elapsed), next.messageTs);
            return { progress: { ...next, ...(messageTs ? { messageTs } : {}) }, state: stateOf(next.status) };
          });
        } catch (error) {
          const message = escapeText((error as Error).message);
          if (errors === 0 || (errors + 1) % 4 === 0)
            await kit
              .post(
                `codedeploy-${n}-error`,
                `⚠️ Could not read the CodeDeploy deployment (${message}); trying again in ${nextPollSeconds(elapsed, errors + 1)} s.`,
              )
              .catch(() => undefined);
          return { progress: before, state: 'in-progress' as const, error: message };
        }
      },
      { retryStrategy: kit.retry },
    );
    progress = poll.progress;
    errors = poll.error ? errors + 1 : 0;

    if (progress.role === 'rollback') {
      if (poll.state === 'succeeded')
        return ending({
          outcome: 'failure',
          summary: `${failed}; rolled back to ${from}`,
          detail: `❌ ${failed}.\nRolled back by CodeDeploy (deployment ${code(progress.deploymentId)} Succeeded): \`${input.target}\` runs ${from} again.`,
          taskDefinition: input.plan.currentTaskDefinition,
          verdict: stoppedFor === 'lost' || stoppedFor === 'timeout' ? stoppedFor : 'failed',
          rollback: 'completed',
          rolledBack: true,
        });
      if (poll.state !== 'in-progress' || seconds >= 2 * input.timeoutSeconds + AFTER_SHIFT_SECONDS)
        return ending({
          outcome: 'failure',
          summary: `${failed}; CodeDeploy's rollback did not complete (${said(progress.status ?? 'timeout')})`,
          detail: `🔥 ${failed}, and CodeDeploy's rollback ${code(progress.deploymentId)} did not complete (${said(progress.status ?? 'still running')}${progress.error ? `: ${progress.error}` : ''}). Look at \`/ecs status ${input.target}\` now.`,
          taskDefinition: started.taskDefinition,
          verdict: 'failed',
          rollback: poll.state === 'in-progress' ? 'timeout' : 'failed',
        });
      continue;
    }

    if (poll.state === 'succeeded')
      return ending({
        outcome: 'success',
        summary: `${to} is live after ${formatDuration(seconds * 1000)}`,
        detail: `✅ ${to} is live: CodeDeploy deployment ${code(created.deploymentId)} Succeeded after ${formatDuration(seconds * 1000)}.`,
        taskDefinition: started.taskDefinition,
        verdict: 'completed',
      });
    if (poll.state === 'failed' || poll.state === 'stopped') {
      if (progress.rollbackDeploymentId) {
        // CodeDeploy rolls back (its auto-rollback, or the bot's StopDeployment): followed, never doubled.
        failed = stopped ?? failureWords(progress);
        await context.step(`codedeploy-${n}-rollback`, async () => {
          await kit.post(
            'codedeploy-rollback',
            // The bot's own stop already said why.
            `${stopped ? '' : `❌ ${failed}.\n`}↩️ CodeDeploy is rolling back to ${from} (deployment ${code(progress.rollbackDeploymentId!)}); watched above.`,
          );
          return true;
        });
        progress = {
          deploymentId: progress.rollbackDeploymentId,
          role: 'rollback',
          events: [],
          sets: [],
          record: progress.record,
          ...(progress.messageTs ? { messageTs: progress.messageTs } : {}),
        };
        continue;
      }
      const why = stopped ?? failureWords(progress);
      const left = p.autoRollback ? 'CodeDeploy started no rollback deployment' : 'auto-rollback is off for this deployment';
      return ending({
        outcome: 'failure',
        summary: `${why}; not rolled back (${left})`,
        detail: `❌ ${why}.\nNot rolled back: ${left}. \`/ecs status ${input.target}\` shows what the service runs; \`/ecs rollback ${input.target}\` asks for one.`,
        taskDefinition: progress.shifted ? started.taskDefinition : input.plan.currentTaskDefinition,
        verdict: 'failed',
      });
    }
    if (stopped) {
      if (seconds >= 2 * input.timeoutSeconds + AFTER_SHIFT_SECONDS)
        return ending({
          outcome: 'failure',
          summary: `${stopped}; CodeDeploy did not end the deployment`,
          detail: `❌ ${stopped}; CodeDeploy did not end the deployment either. Look at \`/ecs status ${input.target}\` now.`,
          taskDefinition: started.taskDefinition,
          verdict: 'timeout',
        });
      continue;
    }
    const lost = errors >= MAX_POLL_ERRORS ? `lost track of the deployment (${poll.error ?? 'CodeDeploy did not answer'})` : undefined;
    const timedOut =
      !progress.shifted && seconds >= input.timeoutSeconds ? `the rollout did not finish within ${formatDuration(input.timeoutSeconds * 1000)}` : undefined;
    const failing = poll.state === 'in-progress' && !poll.error ? progress.failing : undefined;
    if (failing || lost || timedOut) {
      stoppedFor = failing ? 'failing' : lost ? 'lost' : 'timeout';
      stopped = (failing ?? lost ?? timedOut)!;
      const reasons = failing ? stopReasonsLine(progress.replacement?.stopReasons ?? []) : '';
      const took = await stopDeployment(kit, n, created.deploymentId, stopped, reasons, input.rollback);
      // CodeDeploy ended it first (its own failure and rollback, or success): its ending is followed and
      // told, not the bot's stop. Unless the bot cannot read the deployment, or CodeDeploy kept saying
      // so while showing it under way: then the stop stands, and the wait after a stop bounds the watch.
      if (took === 'ended' && !lost && ++endedAnswers < MAX_ENDED_ANSWERS) {
        stopped = stoppedFor = undefined;
        continue;
      }
      if (took === 'refused')
        return ending({
          outcome: lost ? 'warning' : 'failure',
          summary: `${stopped}; StopDeployment was refused`,
          detail: `${lost ? '⚠️' : '❌'} ${stopped}, and CodeDeploy refused to stop it. Look at \`/ecs status ${input.target}\` now.`,
          taskDefinition: started.taskDefinition,
          verdict: stoppedFor === 'failing' ? 'failed' : stoppedFor,
        });
      continue;
    }
    // The traffic moved; CodeDeploy keeps the original task set for its termination wait. Followed for a while longer, then left.
    if (progress.shifted && seconds >= input.timeoutSeconds + AFTER_SHIFT_SECONDS + (p.terminationWaitMinutes ?? 0) * 60)
      return ending({
        outcome: 'warning',
        summary: `${to} takes the production traffic, but CodeDeploy had not ended deployment ${code(created.deploymentId)} (${said(progress.status)})`,
        detail: `⚠️ ${to} takes the production traffic, but CodeDeploy had not ended deployment ${code(created.deploymentId)} when the bot stopped watching (${said(progress.status)}).`,
        taskDefinition: started.taskDefinition,
        verdict: 'lost',
      });
  }
}

/**
 * StopDeployment, said in the thread once (the post is claimed per poll) with why and `reasons`
 * (the stopped tasks' reasons, escaped, or ''); a deployment CodeDeploy already ended: 'ended',
 * nothing said (CodeDeploy's own ending is told by the watch).
 */
async function stopDeployment(
  kit: StagedKit,
  n: number,
  deploymentId: string,
  why: string,
  reasons: string,
  rollback: boolean,
): Promise<'sent' | 'ended' | 'refused'> {
  return kit.context.step(
    `codedeploy-${n}-stop`,
    async () =>
      kit.withAws(async (aws) => {
        try {
          await aws.client(CodeDeployClient).send(new StopDeploymentCommand({ deploymentId, autoRollbackEnabled: rollback }));
        } catch (error) {
          const name = (error as { name?: string }).name ?? '';
          if (name === 'DeploymentAlreadyCompletedException') return 'ended' as const;
          if (transient(error)) throw error;
          await kit.post(`codedeploy-stop-${n}`, `❌ ${why}.${reasons}\n\`StopDeployment\` was refused: ${escapeText((error as Error).message)}`);
          return 'refused' as const;
        }
        await kit.post(
          `codedeploy-stop-${n}`,
          `❌ ${why}.${reasons}\n🛑 \`StopDeployment\` sent${rollback ? ' with auto-rollback: CodeDeploy rolls back, watched above' : ' without rollback (`deploy.rollback` is off)'}.`,
        );
        return 'sent' as const;
      }),
    { retryStrategy: kit.retry, semantics: StepSemantics.AtLeastOncePerRetry },
  );
}

/** This deploy's deployment, if an earlier run of the step created it: the group's deployments since the request, by description. */
async function findOwnDeployment(cd: CodeDeployClient, p: CodeDeployPlan, description: string, since: number): Promise<DeploymentInfo | undefined> {
  const listed = await cd.send(
    new ListDeploymentsCommand({
      applicationName: p.application,
      deploymentGroupName: p.deploymentGroup,
      createTimeRange: { start: new Date(since - 60_000) },
    }),
  );
  for (const id of (listed.deployments ?? []).slice(0, 25)) {
    const info = (await cd.send(new GetDeploymentCommand({ deploymentId: id }))).deploymentInfo;
    if (info?.description === description && info.creator === 'user') return info;
  }
  return undefined;
}

/** An error a retry may change (throttling, CodeDeploy's 5xx, the network), as opposed to CodeDeploy's refusal of the request. */
function transient(error: unknown): boolean {
  const e = error as { name?: string; $fault?: string };
  return !/Exception$/.test(e.name ?? '') || e.name === 'ThrottlingException' || e.$fault === 'server';
}

const stateOf = (status: string | undefined): Poll['state'] =>
  status === 'Succeeded' ? 'succeeded' : status === 'Failed' ? 'failed' : status === 'Stopped' ? 'stopped' : 'in-progress';

function failureWords(p: Progress): string {
  const failed = p.events.find((e) => e.endsWith(':Failed'))?.split(':')[0];
  return `CodeDeploy deployment ${code(p.deploymentId)} ${said(p.status ?? 'failed')}${failed ? ` at ${code(failed)}` : ''}${p.error ? `: ${p.error}` : ''}`.replace(
    /\.+$/,
    '',
  );
}

/** GetDeployment and GetDeploymentTarget: the deployment's status, events and task sets; new lines for the record. */
async function observe(cd: CodeDeployClient, before: Progress): Promise<Progress> {
  const info = (await cd.send(new GetDeploymentCommand({ deploymentId: before.deploymentId }))).deploymentInfo ?? {};
  let targetId = before.targetId;
  if (!targetId) targetId = (await cd.send(new ListDeploymentTargetsCommand({ deploymentId: before.deploymentId }))).targetIds?.[0];
  const ecsTarget = targetId
    ? (await cd.send(new GetDeploymentTargetCommand({ deploymentId: before.deploymentId, targetId }))).deploymentTarget?.ecsTarget
    : undefined;
  const events = (ecsTarget?.lifecycleEvents ?? []).map((e) => `${e.lifecycleEventName ?? '?'}:${e.status ?? '?'}`);
  const green = ecsTarget?.taskSetsInfo?.find((s) => s.taskSetLabel === 'Green');
  const sets = (ecsTarget?.taskSetsInfo ?? []).map(
    (s) =>
      `${s.taskSetLabel === 'Green' ? 'green (replacement)' : 'blue (original)'}: ${s.runningCount ?? 0}/${s.desiredCount ?? 0} running, ${s.trafficWeight ?? 0}% of production traffic${s.status ? ` · ${said(s.status)}` : ''}`,
  );
  const at = hhmmss(ecsTarget?.lastUpdatedAt?.getTime() ?? info.completeTime?.getTime() ?? info.startTime?.getTime() ?? Date.now());
  const record = [...before.record];
  const label = before.role === 'rollback' ? 'rollback ' : '';
  if (info.status && info.status !== before.status) record.push(`${at} ${label}deployment ${info.deploymentId} status ${info.status}`);
  events.forEach((e, i) => {
    if (before.events[i] !== e) record.push(`${at} ${label}event ${e.replace(':', ' ')}`);
  });
  if (green?.trafficWeight !== undefined && green.trafficWeight !== before.weight)
    record.push(`${at} ${label}replacement takes ${green.trafficWeight}% of production traffic`);
  const error = info.errorInformation?.message ? said(`${info.errorInformation.code ?? ''}: ${info.errorInformation.message}`.replace(/^: /, '')) : undefined;
  if (error && error !== before.error) record.push(`${at} ${label}error ${info.errorInformation?.code ?? ''} ${info.errorInformation?.message ?? ''}`);
  return {
    ...before,
    ...(targetId ? { targetId } : {}),
    ...(info.status ? { status: info.status } : {}),
    events,
    sets,
    ...(green?.trafficWeight !== undefined ? { weight: green.trafficWeight } : {}),
    // The SDK's ECSTaskSet spells it `identifer`.
    ...(green?.identifer ? { replacementSet: { id: green.identifer, desiredCount: green.desiredCount ?? 0 } } : {}),
    shifted: before.shifted || events.includes('AllowTraffic:Succeeded'),
    ...(error ? { error } : {}),
    ...(info.rollbackInfo?.rollbackDeploymentId ? { rollbackDeploymentId: info.rollbackInfo.rollbackDeploymentId } : {}),
    record: record.slice(-500),
  };
}

/** The living message: the title, where the deployment stands, its events, its task sets. */
function living(title: string, p: Progress, elapsed: number): string {
  const status = p.status ?? 'Created';
  const icon = p.role === 'rollback' ? '↩️' : ENDED.has(status) ? (ICON[status] ?? '🛑') : '🔄';
  const events = p.events
    .filter((e) => !(p.role === 'rollback' && e.endsWith(':Skipped')))
    .map((e) => {
      const [name, state] = e.split(':');
      return `${ICON[state!] ?? '•'} ${escapeText(name!)}`;
    });
  return [
    title,
    `${icon} CodeDeploy ${p.role === 'rollback' ? 'rollback ' : ''}deployment ${code(p.deploymentId)}: ${said(status)} · ${formatDuration(elapsed * 1000)}`,
    ...(events.length ? [events.join(' · ')] : []),
    ...p.sets,
    ...(p.role === 'rollout' && p.replacement?.failedTasks ? [`🛑 ${quantity(p.replacement.failedTasks, 'task')} of the replacement stopped`] : []),
    ...(p.error ? [`⚠️ ${p.error}`] : []),
  ].join('\n');
}
