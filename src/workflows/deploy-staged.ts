/**
 * The deploy workflow's watch for ECS-native BLUE_GREEN / LINEAR / CANARY services: after
 * UpdateService, the service deployment it started is followed through the service-deployment APIs
 * (ListServiceDeployments once, then DescribeServiceDeployments and DescribeServices each poll) and
 * each lifecycle stage is told in the living rollout message (src/deploy/service-deployment.ts).
 *
 * - ECS decides the end: SUCCESSFUL, ROLLBACK_* (ECS rolled back: said with its reason, never a
 *   second rollback by the bot), STOPPED.
 * - The bot's own failure conditions (the rollout's timeout, the new revision's tasks failing while
 *   ECS would not roll back) stop the deployment with `StopServiceDeployment ROLLBACK`, then the
 *   watch follows ECS's rollback to its end.
 * - Gates: a PAUSE hook AWAITING_ACTION at one of the target's `deploy.gates` is put to people as
 *   a request (kind `gate`) on a message in the deploy thread, decided by reaction under the target's
 *   rules (src/approval/approve.ts) and waited on with the deploy approval's durable callback
 *   (awaitApproval); approved → `ContinueServiceDeployment CONTINUE`, rejected, withdrawn or expired
 *   → `ROLLBACK`. The call is one step: a retried step finds the hook no longer awaiting
 *   (InvalidParameterException), which is taken as done. A PAUSE elsewhere is someone else's: said
 *   and left.
 * - While a gate waits for people nothing polls ECS: the wait is the request's callback, woken by
 *   the decision or at its deadline, which is never later than the hook's `expiresAt`; so a hook
 *   ECS times out is met then (ContinueServiceDeployment answers InvalidParameterException and
 *   the next poll reads ECS's rollback). The gate message says where the deployment stands in the
 *   words of its strategy (gateSituation: green beside blue, or a canary's / linear step's share).
 *
 * Replay rules are deploy.ts's: the outside world only inside steps, posts claimed per key.
 */
import { StepSemantics, type DurableContext } from '@aws/durable-execution-sdk-js';
import {
  ContinueServiceDeploymentCommand,
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  ListServiceDeploymentsCommand,
  StopServiceDeploymentCommand,
} from '@aws-sdk/client-ecs';
import type { WebClient } from '@slack/web-api';
import { announceRequest } from '../approval/announce';
import { awaitApproval, type Decision } from '../approval/await-approval';
import type { Approvals } from '../approval/approvals';
import { ruleFrom, type ApprovalRequest } from '../approval/types';
import type { AwsSession } from '../aws/session';
import { clock } from '../deploy/render';
import {
  gateDetails,
  gateSituation,
  observeServiceDeployment,
  pickServiceDeployment,
  type Pause,
  type StagedProgress,
  type StagedVerdict,
} from '../deploy/service-deployment';
import { nextPollSeconds } from '../deploy/watch';
import { shortTaskDefinition } from '../ecs/taskdef';
import type { Logger } from '../platform/logger';
import type { StateStore } from '../platform/state';
import { deployPostKey, trackedKey } from '../platform/state-keys';
import { code, escapeText, formatDuration } from '../slack/format';
import type { Outcome } from '../slack/thread-output';
import type { DeployWorkflowInput } from './inputs';

type Retry = (error: Error, attempt: number) => { shouldRetry: boolean; delay?: { seconds: number } };

/** What the deploy workflow lends the staged watch: its context, AWS access, claimed posts and living message. */
export interface StagedKit {
  context: DurableContext;
  input: DeployWorkflowInput;
  withAws: <T>(work: (aws: AwsSession) => Promise<T>) => Promise<T>;
  /** Posts once per (deploy, key). */
  post: (key: string, text: string) => Promise<void>;
  /** Edits the living message at `ts`, or posts it once per key; its ts. */
  showLiving: (key: string, text: string, ts: string | undefined) => Promise<string | undefined>;
  slack: () => Promise<WebClient>;
  state: StateStore;
  approvals: Approvals;
  logger: Logger;
  now: () => number;
  retry: Retry;
  /** ECS errors no retry changes. */
  permanent: Set<string>;
}

/** One gate as it was decided, for the audit. */
export interface GateRecord {
  stage: string;
  hookId: string;
  status: Decision['status'];
  approvers: string[];
  decidedBy?: string;
  /** What was sent, and whether ECS took it (`not-awaiting`: the hook had already moved on). */
  action: 'CONTINUE' | 'ROLLBACK';
  sent: 'sent' | 'not-awaiting' | 'refused';
}

export type StagedEnd = StagedVerdict | { state: 'timeout' } | { state: 'lost'; reason: string };

export interface StagedWatch {
  verdict: StagedEnd;
  /** Why the bot rolled back (its own failure condition or a gate), when it did. */
  botRollback?: string;
  seconds: number;
  polls: number;
  record: string[];
  gates: GateRecord[];
}

/** Checkpointed result of one poll. */
interface StagedPoll {
  progress: StagedProgress;
  verdict: StagedVerdict;
  pause?: Pause;
  /** The gate message's lines about the new revision (Slack mrkdwn), when `pause` is gated. */
  gateLines?: string[];
  /** Where the deployment stands at the gate, worded for its strategy (Slack mrkdwn). */
  gateSituation?: string;
  error?: string;
}

const POST_CLAIM_TTL = 7 * 86_400;
const MAX_POLL_ERRORS = 12;

export async function watchServiceDeployment(
  kit: StagedKit,
  started: { taskDefinition: string; at: number; messageTs?: string; title: string },
): Promise<StagedWatch> {
  const { context, input } = kit;
  const target = input.where;
  const gates = input.gates?.stages ?? [];
  let progress: StagedProgress & { messageTs?: string } = {
    serviceDeploymentArn: '',
    taskDefinition: started.taskDefinition,
    sourceTaskDefinition: input.plan.currentTaskDefinition,
    current: [],
    record: [],
    handledHooks: [],
    ...(started.messageTs ? { messageTs: started.messageTs } : {}),
  };
  let seconds = 0;
  let errors = 0;
  let polls = 0;
  let botRollback: string | undefined;
  const gateRecords: GateRecord[] = [];
  const living = (verdictWords: string, p: typeof progress, elapsed: number) =>
    [
      started.title,
      `${verdictWords} · ${formatDuration(elapsed * 1000)}${p.serviceDeploymentArn ? ` · service deployment ${code(p.serviceDeploymentArn.split('/').pop()!)}` : ''}`,
      ...p.current.slice(1),
    ].join('\n');
  const done = (verdict: StagedEnd): StagedWatch => ({
    verdict,
    ...(botRollback ? { botRollback } : {}),
    seconds,
    polls,
    record: progress.record,
    gates: gateRecords,
  });

  for (let n = 1; ; n++) {
    const pause = nextPollSeconds(seconds, errors);
    await context.wait(`staged-wait-${n}`, { seconds: pause });
    seconds += pause;
    polls++;
    const before = progress;
    const elapsed = seconds;
    const poll: StagedPoll = await context.step(
      `staged-${n}`,
      async () => {
        try {
          return await kit.withAws(async (aws) => {
            const ecs = aws.ecs();
            let arn = before.serviceDeploymentArn;
            if (!arn) {
              const listed = await ecs.send(
                new ListServiceDeploymentsCommand({ cluster: target.cluster, service: target.service, status: ['PENDING', 'IN_PROGRESS'] }),
              );
              arn = pickServiceDeployment(listed.serviceDeployments ?? [], started.at)?.serviceDeploymentArn ?? '';
              if (!arn) throw new Error('ECS lists no service deployment in progress for the service yet');
            }
            const described = await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }));
            const sd = described.serviceDeployments?.[0];
            if (!sd) throw new Error(`ECS cannot describe the service deployment (${described.failures?.[0]?.reason ?? 'no answer'})`);
            const service = (await ecs.send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }))).services?.[0];
            const breaker = service?.deploymentConfiguration?.deploymentCircuitBreaker;
            const seen = observeServiceDeployment(
              sd,
              { ...before, serviceDeploymentArn: arn },
              {
                ...(service?.deployments?.find((d) => d.taskDefinition === started.taskDefinition && d.status === 'PRIMARY')
                  ? { newRevision: service.deployments.find((d) => d.taskDefinition === started.taskDefinition && d.status === 'PRIMARY')! }
                  : {}),
                desiredCount: service?.desiredCount ?? 0,
                breakerRollback: !!(breaker?.enable && breaker.rollback),
                // ECS's clock, as its events are stamped.
                at: sd.updatedAt?.getTime() ?? kit.now(),
                gates: botRollback ? [] : gates,
              },
            );
            const testListenerRule = service?.loadBalancers?.find((lb) => lb.advancedConfiguration?.testListenerRule)?.advancedConfiguration?.testListenerRule;
            const gateLines =
              seen.pause?.gated && !botRollback
                ? gateDetails({
                    sd,
                    pause: seen.pause,
                    taskDefinition: started.taskDefinition,
                    sourceTaskDefinition: input.plan.currentTaskDefinition,
                    ...(testListenerRule ? { testListenerRule } : {}),
                  })
                : undefined;
            const next = { ...seen.progress, ...(before.messageTs ? { messageTs: before.messageTs } : {}) };
            const messageTs = await kit.showLiving(`staged-${n}-living`, living(next.current[0] ?? '', next, elapsed), next.messageTs);
            return {
              progress: { ...next, ...(messageTs ? { messageTs } : {}) },
              verdict: seen.verdict,
              ...(seen.pause ? { pause: seen.pause } : {}),
              ...(gateLines ? { gateLines, gateSituation: gateSituation(sd, started.taskDefinition, !!testListenerRule) } : {}),
            };
          });
        } catch (error) {
          const message = escapeText((error as Error).message);
          if (errors === 0 || (errors + 1) % 4 === 0)
            await kit
              .post(`staged-${n}-error`, `⚠️ Could not read the service deployment (${message}); trying again in ${nextPollSeconds(elapsed, errors + 1)} s.`)
              .catch(() => undefined);
          return { progress: before, verdict: { state: 'in-progress' as const }, error: message };
        }
      },
      { retryStrategy: kit.retry },
    );
    progress = poll.progress;
    errors = poll.error ? errors + 1 : 0;
    const state = poll.verdict.state;
    if (state === 'completed' || state === 'rolled-back' || state === 'stopped') return done(poll.verdict);
    if (errors >= MAX_POLL_ERRORS) return done({ state: 'lost', reason: poll.error ?? 'ECS did not answer' });

    if (poll.pause) {
      const hook = poll.pause;
      progress = { ...progress, handledHooks: [...progress.handledHooks, hook.hookId].slice(-50) };
      if (hook.gated && poll.gateLines && !botRollback) {
        const gate = await runGate(kit, n, hook, poll, progress.serviceDeploymentArn);
        gateRecords.push(gate);
        // A hook ECS had already moved on from (its own timeout): ECS's end is reported as ECS reports it.
        if (gate.action === 'ROLLBACK' && gate.sent === 'sent') botRollback = gateReason(gate);
      } else if (!botRollback) {
        await context.step(`staged-${n}-foreign-pause`, async () => {
          await kit.post(
            `pause-${hook.hookId}`,
            `⏸️ The deployment is paused at \`${escapeText(hook.stage)}\` by a PAUSE hook that is not one of \`${input.target}\`'s gates (\`deploy.gates\`): the bot leaves it to whoever owns it.${hook.expiresAt ? ` ECS applies its timeout action (${escapeText(hook.timeoutAction ?? 'ROLLBACK')}) at ${clock(hook.expiresAt)}.` : ''}`,
          );
          return true;
        });
      }
      continue;
    }

    const failing = state === 'failing' ? poll.verdict.reason : undefined;
    const timedOut =
      !botRollback && seconds >= input.timeoutSeconds ? `the rollout did not finish within ${formatDuration(input.timeoutSeconds * 1000)}` : undefined;
    if (!botRollback && (failing || timedOut)) {
      const why = (failing ?? timedOut)!;
      const stopped = await stopWithRollback(kit, n, progress.serviceDeploymentArn, why);
      if (!stopped) return done(failing ? poll.verdict : { state: 'timeout' });
      botRollback = why;
      continue;
    }
    // ECS's rollback is followed for as long again; after that the watch gives up.
    if (seconds >= 2 * input.timeoutSeconds) return done({ state: 'timeout' });
  }
}

function gateReason(gate: GateRecord): string {
  if (gate.status === 'rejected') return `rejected at the \`${gate.stage}\` gate by <@${gate.decidedBy}>`;
  if (gate.status === 'cancelled') return `withdrawn at the \`${gate.stage}\` gate`;
  return `nobody approved the \`${gate.stage}\` gate in time`;
}

/** StopServiceDeployment ROLLBACK, said in the thread; false when ECS refused it (the watch then ends). */
async function stopWithRollback(kit: StagedKit, n: number, serviceDeploymentArn: string, why: string): Promise<boolean> {
  return kit.context.step(
    `staged-${n}-stop`,
    async () =>
      kit.withAws(async (aws) => {
        try {
          await aws.ecs().send(new StopServiceDeploymentCommand({ serviceDeploymentArn, stopType: 'ROLLBACK' }));
        } catch (error) {
          const name = (error as { name?: string }).name ?? '';
          // Already completed or rolling back: ECS's own end is what the next poll reads.
          if (name !== 'ConflictException' && !kit.permanent.has(name)) throw error;
          await kit.post(`stop-${n}`, `❌ ${why}. \`StopServiceDeployment\` was refused: ${escapeText((error as Error).message)}`);
          return name === 'ConflictException';
        }
        await kit.post(
          `stop-${n}`,
          `❌ ${why}.\n↩️ Stopping the service deployment with \`ROLLBACK\`; ECS rolls back to ${code(shortTaskDefinition(kit.input.plan.currentTaskDefinition))}, watched above.`,
        );
        return true;
      }),
    { retryStrategy: kit.retry, semantics: StepSemantics.AtLeastOncePerRetry },
  );
}

/** Asks people at a gate, waits for their decision, and tells ECS; exactly one ContinueServiceDeployment. */
async function runGate(
  kit: StagedKit,
  n: number,
  pause: Pause,
  told: Pick<StagedPoll, 'gateLines' | 'gateSituation'>,
  serviceDeploymentArn: string,
): Promise<GateRecord> {
  const { context, input } = kit;
  const settings = input.gates!.rule;
  const ask = await context.step(
    `gate-${n}-ask`,
    async () => {
      // The gate message, once: a rerun of this step finds the one it posted.
      const claim = deployPostKey(input.deployId, `gate-${pause.hookId}`);
      const first = await kit.state.claim(claim, POST_CLAIM_TTL, {});
      let messageTs = first ? undefined : (await kit.state.get<{ ts?: string }>(claim))?.ts;
      const requestedAt = kit.now();
      const rule = ruleFrom(settings, requestedAt);
      if (pause.expiresAt) rule.deadline = Math.min(rule.deadline, pause.expiresAt);
      const headline = `⏸️ \`${input.target}\` is paused at \`${escapeText(pause.stage)}\`, a gate of deploy \`${input.deployId}\`: ${told.gateSituation ?? 'the new revision runs beside the previous one'}.`;
      const slack = await kit.slack();
      if (!messageTs) {
        const posted = await slack.chat.postMessage({ channel: input.channelId, thread_ts: input.parentTs, text: headline });
        messageTs = posted.ts!;
        await kit.state.put(claim, POST_CLAIM_TTL, { ts: messageTs });
      }
      const request: ApprovalRequest = {
        pk: trackedKey(input.channelId, messageTs),
        kind: 'gate',
        id: input.deployId,
        status: 'pending',
        target: input.target,
        teamId: input.teamId,
        channelId: input.channelId,
        messageTs,
        threadTs: input.parentTs,
        requesterId: input.requesterId,
        ...(input.requesterName ? { requesterName: input.requesterName } : {}),
        commandText: `gate ${pause.stage} of deploy ${input.deployId}`,
        headline,
        details: told.gateLines ?? [],
        doing: 'continuing the deployment',
        label: `the \`${escapeText(pause.stage)}\` gate of deploy \`${input.deployId}\``,
        rule,
        requestedAt: new Date(requestedAt).toISOString(),
      };
      const ttl = Math.ceil((rule.deadline - requestedAt) / 1000) + 86_400;
      const created = await kit.approvals.requests.create(request, ttl);
      const stored = created ? request : ((await kit.approvals.requests.get(request.pk)) ?? request);
      await announceRequest(slack, stored, kit.logger);
      return { requestKey: stored.pk, requestedAt: Date.parse(stored.requestedAt), deadline: stored.rule.deadline, messageTs };
    },
    { retryStrategy: kit.retry },
  );
  const decision = await awaitApproval(
    context,
    {
      approvals: kit.approvals,
      slack: kit.slack,
      logger: kit.logger,
      now: kit.now,
      post: (key, text) => kit.post(`gate-${n}-${key}`, text),
      retryStrategy: kit.retry,
    },
    {
      requestKey: ask.requestKey,
      requestedAt: ask.requestedAt,
      deadline: ask.deadline,
      channelId: input.channelId,
      parentTs: ask.messageTs,
      name: `gate-${n}`,
      expiredText: `⌛ The \`${escapeText(pause.stage)}\` gate expired at ${clock(ask.deadline)} without enough approvals: rolling back.`,
    },
  );
  const action = decision.status === 'approved' ? 'CONTINUE' : 'ROLLBACK';
  const sent = await context.step(
    `gate-${n}-continue`,
    async () =>
      kit.withAws(async (aws): Promise<GateRecord['sent']> => {
        let result: GateRecord['sent'] = 'sent';
        let refusal = '';
        try {
          await aws.ecs().send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn, hookId: pause.hookId, action }));
        } catch (error) {
          const name = (error as { name?: string }).name ?? '';
          if (!kit.permanent.has(name)) throw error;
          // The hook no longer awaits: this step's earlier run got through, or ECS applied the hook's timeout.
          result = name === 'InvalidParameterException' ? 'not-awaiting' : 'refused';
          refusal = escapeText((error as Error).message);
        }
        const said =
          result === 'sent'
            ? action === 'CONTINUE'
              ? `▶️ \`ContinueServiceDeployment CONTINUE\` sent: the deployment goes on past \`${escapeText(pause.stage)}\`.`
              : `↩️ \`ContinueServiceDeployment ROLLBACK\` sent: ECS rolls \`${input.target}\` back to ${code(shortTaskDefinition(input.plan.currentTaskDefinition))}.`
            : result === 'not-awaiting'
              ? `ℹ️ The hook at \`${escapeText(pause.stage)}\` no longer awaits a decision (${refusal}); what ECS did is in the rollout message.`
              : `⚠️ \`ContinueServiceDeployment ${action}\` was refused: ${refusal}`;
        await kit.post(`gate-${n}-continue`, said);
        return result;
      }),
    { retryStrategy: kit.retry, semantics: StepSemantics.AtLeastOncePerRetry },
  );
  return {
    stage: pause.stage,
    hookId: pause.hookId,
    status: decision.status,
    approvers: decision.approvals,
    ...(decision.decidedBy ? { decidedBy: decision.decidedBy } : {}),
    action,
    sent,
  };
}

/** How a staged deploy ended, for the workflow's finish(): the outcome, its summary and the reply. */
export function stagedEnding(
  watched: StagedWatch,
  input: Pick<DeployWorkflowInput, 'target' | 'plan'>,
  taskDefinition: string,
): { outcome: Outcome; summary: string; detail: string; taskDefinition: string; rolledBack?: boolean } {
  const to = code(shortTaskDefinition(taskDefinition));
  const from = code(shortTaskDefinition(input.plan.currentTaskDefinition));
  const v = watched.verdict;
  const took = formatDuration(watched.seconds * 1000);
  switch (v.state) {
    case 'completed':
      return {
        outcome: 'success',
        summary: `${to} is live after ${took}`,
        detail: `✅ ${to} is live: the service deployment is SUCCESSFUL after ${took}.`,
        taskDefinition,
      };
    case 'rolled-back': {
      const ok = v.status === 'ROLLBACK_SUCCESSFUL';
      const why = watched.botRollback ?? `ECS rolled the deployment back: ${v.reason.replace(/\.+$/, '')}`;
      return {
        outcome: 'failure',
        summary: `${why}; ${ok ? `rolled back to ${from}` : `the rollback failed (${v.status})`}`,
        detail: `${ok ? '❌' : '🔥'} ${why}.\n${ok ? `Rolled back by ECS (${v.status}): \`${input.target}\` runs ${from} again.` : `ECS says ${v.status}: ${v.reason}. Look at \`/ecs status ${input.target}\` now.`}${watched.botRollback ? '' : ' The bot did not roll back a second time.'}`,
        taskDefinition: ok ? input.plan.currentTaskDefinition : taskDefinition,
        rolledBack: ok,
      };
    }
    case 'stopped':
      return {
        outcome: 'failure',
        summary: `ECS stopped the deployment (${v.reason})`,
        detail: `🛑 ECS stopped the service deployment: ${v.reason}. \`/ecs status ${input.target}\` shows where the service is.`,
        taskDefinition,
      };
    case 'lost':
      return {
        outcome: 'warning',
        summary: `lost track of the service deployment (${v.reason}); check \`/ecs status ${input.target}\``,
        detail: `⚠️ Lost track of the service deployment (${v.reason}); check \`/ecs status ${input.target}\`.`,
        taskDefinition,
      };
    default: {
      const why = v.state === 'failing' ? v.reason : 'the rollout did not finish in time';
      return {
        outcome: 'failure',
        summary: `${why}${watched.botRollback ? '; ECS did not finish its rollback in time either' : ''}`,
        detail: `❌ ${why}${watched.botRollback ? ` (after ${watched.botRollback}); ECS's rollback did not finish in time either` : ''}. Look at \`/ecs status ${input.target}\` now.`,
        taskDefinition,
      };
    }
  }
}
