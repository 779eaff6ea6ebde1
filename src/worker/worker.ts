import type { WebClient } from '@slack/web-api';
import { labelsWithDiscovered } from '../fleet/memory-catalog';
import { fleetCatalog } from '../fleet/fleet-catalog';
import { IN_FLIGHT, type AuditLog } from '../audit/audit';
import type { AllowlistStore } from '../auth/allowlist';
import type { AllowlistEntry } from '../auth/roles';
import { AwsSession } from '../aws/session';
import { authorise } from '../auth/authorise';
import { commandText, findVerb, parseRequest, scopeOf, undeclaredServiceOf, visibilityOf, type ParsedRequest } from '../commands/registry';
import { UndeclaredServiceError, type WorkerVerb } from '../commands/verb';
import type { SlackMessage } from '../slack/message';
import { REACTION_HANDLERS } from '../commands/reactions';
import type { CommandResult, WorkerCollaborators, WorkerContext } from './context';
import { defaultTarget } from '../config/default-target';
import type { Config, Target } from '../config/schema';
import { PermissionDeniedError, UsageError, UserFacingError } from '../platform/errors';
import type { CommandJob, Job, ReactionJob } from '../platform/jobs';
import type { Logger } from '../platform/logger';
import type { SlackSecrets } from '../platform/secrets';
import type { StateStore } from '../platform/state';
import { escapeText, typedCode } from '../slack/format';
import { SlackChannelError } from '../slack/channel-error';
import { requesterText } from '../slack/invocation';
import { ThreadOutput } from '../slack/thread-output';
import { permalink } from '../slack/client';
import { jobKey } from '../platform/state-keys';

/** Longer than Lambda keeps an asynchronous event (maximumEventAge 300 s) and its retries. */
const JOB_CLAIM_TTL_SECONDS = 3600;

export interface WorkerDeps extends WorkerCollaborators {
  config: () => Config;
  secrets: () => Promise<SlackSecrets>;
  slack: (token: string) => WebClient;
  allowlist: AllowlistStore;
  audit: () => AuditLog;
  state: StateStore;
  respond: (responseUrl: string, message: SlackMessage, options?: { replaceOriginal?: boolean }) => Promise<void>;
  /** Deletes a slash command's "Working on" note (response_url `delete_original`). */
  withdraw: (responseUrl: string) => Promise<void>;
  logger: Logger;
  now: () => number;
}

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
}

export function createWorker(deps: WorkerDeps) {
  return async function runJob(job: Job, context: LambdaContextLike): Promise<void> {
    // A reaction is idempotent by itself (every change to a request is a conditional update), and it
    // is on the way from a ✅ to the deploy: it needs no claim of its own.
    if (job.kind === 'reaction') return runReaction(job);
    // Lambda delivers an asynchronous invocation at least once, and a retried Invoke may queue it
    // twice: each command runs once.
    if (!(await deps.state.claim(jobKey(job.id), JOB_CLAIM_TTL_SECONDS, { kind: job.kind }))) {
      deps.logger.warn('job delivered again; it already ran', { jobId: job.id });
      return;
    }
    return runCommand(job, context);
  };

  async function runReaction(job: ReactionJob): Promise<void> {
    const tracked = await deps.state.get<Record<string, unknown>>(job.trackedKey);
    const handler = tracked && REACTION_HANDLERS[String(tracked.kind)];
    if (!tracked || !handler) {
      deps.logger.info('reaction on a message no longer tracked', { trackedKey: job.trackedKey, eventId: job.eventId });
      return;
    }
    const { botToken } = await deps.secrets();
    const logger = deps.logger.child({ jobId: job.id, user: job.userId, reaction: job.reaction, trackedKey: job.trackedKey });
    await handler({
      job,
      tracked,
      config: deps.config(),
      approvals: deps.approvals,
      slack: deps.slack(botToken),
      allowlist: deps.allowlist,
      audit: deps.audit,
      logger,
      now: deps.now,
    });
  }

  async function runCommand(job: CommandJob, context: LambdaContextLike): Promise<void> {
    const started = deps.now();
    const { invocation } = job;
    const logger = deps.logger.child({ jobId: job.id, user: invocation.userId, command: commandText(invocation) });
    const config = deps.config();
    // What only the requester needs to know goes to them privately, in place of the ack's note if there is one.
    const tellPrivately = async (text: string) => {
      if (!invocation.responseUrl) return;
      await deps
        .respond(invocation.responseUrl, { text }, { replaceOriginal: job.ackNote === true })
        .catch((error: unknown) => logger.error('response_url failed', { error }));
    };
    // Checked again with a fresh entry, against the same scope: access revoked (or a script moved) since the ack counts.
    const entry = await deps.allowlist.get(invocation.teamId, invocation.userId);
    let request: ParsedRequest;
    try {
      request = requestOf(job, config, entry);
    } catch (error) {
      // A job naming a verb this worker does not know is a fault (the crash report tells the person).
      // A job queued before an upgrade is parsed here: its text may no longer fit the configuration.
      if (!(error instanceof UserFacingError) || typeof job.verb === 'string') throw error;
      return refuseAsInvalid(error.userMessage);
    }
    async function refuseAsInvalid(message: string): Promise<void> {
      await tellPrivately(`❌ ${message}`);
      await deps
        .audit()
        .complete(job.audit, { outcome: 'refused', decision: 'invalid', reason: message, durationMs: deps.now() - started })
        .catch((e: unknown) => logger.error('audit completion failed', { error: e }));
    }
    const { verb } = request;
    const alias = request.scope.target;
    // A service only the fleet's catalog knows (the one the command acts on, or the one a grant
    // names) is read there again, fresh: it may have moved or gone since the ack.
    const named = undeclaredServiceOf(request.scope, config);
    const discovered = named && config.fleet ? await (deps.catalog ?? (await fleetCatalog(config))).get(named) : undefined;
    let target: ({ alias: string } & Target) | undefined;
    if (alias && config.targets[alias]) target = { alias, ...config.targets[alias] };
    else if (alias && discovered && verb.onDiscovered) target = { alias, ...defaultTarget(discovered) };
    else if (alias && discovered) return refuseAsInvalid(new UndeclaredServiceError(verb, alias).userMessage);
    else if (named && !discovered)
      return refuseAsInvalid(
        `The service \`${escapeText(named)}\` is no longer declared${config.fleet ? " nor in the fleet's catalog" : ''}, so I did not run ${typedCode(commandText(invocation))}.`,
      );
    const again = authorise(request, entry, invocation.channelId, labelsWithDiscovered(config, discovered));
    if (!again.allowed) {
      logger.warn('refused at the worker: access changed since the ack', { reason: again.reason });
      await tellPrivately(`🚫 Not allowed any more: ${again.reason}, so I did not run ${typedCode(commandText(invocation))}.`);
      await deps
        .audit()
        .complete(job.audit, { outcome: 'refused', decision: 'denied', reason: `refused at the worker: ${again.reason}`, durationMs: deps.now() - started })
        .catch((error: unknown) => logger.error('audit completion failed', { error }));
      return;
    }
    if (verb.runsIn === 'worker' && verb.privateAnswer) return answerPrivately(verb.privateAnswer, request.args, entry);
    const aws = target
      ? new AwsSession(target, { teamId: invocation.teamId, userId: invocation.userId, ...(invocation.userName ? { userName: invocation.userName } : {}) })
      : undefined;
    /**
     * A verb answered privately (`services` over the fleet's catalog): its answer goes to the
     * response_url in place of the ack's note; nothing is posted in the channel, no Slack token read.
     */
    async function answerPrivately(load: NonNullable<WorkerVerb<unknown>['privateAnswer']>, args: unknown, fresh: AllowlistEntry | undefined): Promise<void> {
      let result: CommandResult;
      try {
        if (!invocation.responseUrl) throw new UsageError('this command answers privately in Slack, and the request has no response_url to answer to');
        const answer = await load();
        const catalog = deps.catalog ?? (await fleetCatalog(config));
        const message = await answer(args, { invocation, config, entry: fresh, allowlist: deps.allowlist, state: deps.state, catalog });
        await deps.respond(invocation.responseUrl, message, { replaceOriginal: job.ackNote === true });
        result = { outcome: 'success', summary: message.text.split('\n')[0]! };
      } catch (error) {
        if (error instanceof UserFacingError) {
          await tellPrivately(`❌ ${error.userMessage}`);
          result = { outcome: 'failure', summary: error.userMessage.split('\n')[0]!, ...(error instanceof UsageError ? { refused: 'invalid' as const } : {}) };
        } else {
          logger.error('command failed', { error, stack: (error as Error).stack });
          await tellPrivately(`❌ Something went wrong inside the bot (job \`${job.id}\`). The logs have the details.`);
          result = { outcome: 'failure', summary: 'internal error' };
        }
      }
      await deps
        .audit()
        .complete(job.audit, {
          outcome: result.refused ? 'refused' : result.outcome,
          ...(result.refused ? { decision: result.refused } : {}),
          durationMs: deps.now() - started,
          reason: result.summary,
        })
        .catch((error: unknown) => logger.error('audit completion failed', { error }));
    }
    const remainingMs = () => context.getRemainingTimeInMillis();
    const stopMargin = stopMarginMs(remainingMs());

    let result: CommandResult = { outcome: 'failure', summary: 'did not finish' };
    let ended = false;
    let threadTs: string | undefined;
    try {
      const { botToken } = await deps.secrets();
      let out: ThreadOutput;
      const slack = deps.slack(botToken);
      // A refusal only the requester needs to see: said privately, nothing posted in the channel.
      const privateCheck = verb.runsIn === 'worker' && verb.privateRefusal && invocation.responseUrl ? await verb.privateRefusal() : undefined;
      let checked: Awaited<ReturnType<NonNullable<typeof privateCheck>>>;
      try {
        checked = await privateCheck?.(request.args, {
          job,
          config,
          entry,
          state: deps.state,
          slack,
          ...(deps.catalog ? { catalog: deps.catalog } : {}),
          ...(target ? { target } : {}),
          ...(aws ? { aws } : {}),
        });
      } catch (error) {
        // Nothing is posted yet: the requester hears of it privately, in place of the ack's note.
        logger.error('private check failed', { error, stack: (error as Error).stack });
        await tellPrivately(
          `❌ Something went wrong inside the bot before your command started (job \`${job.id}\`), so nothing ran. The logs have the details.`,
        );
        result = { outcome: 'failure', summary: 'internal error before the command started' };
        ended = true;
        return;
      }
      const verdict = typeof checked === 'string' ? { refusal: checked } : checked;
      if (verdict && 'refusal' in verdict) {
        // Bad input is marked as the worker marks it elsewhere (refuseAsInvalid); anything else is a raised hand.
        const mark = 'refused' in verdict && verdict.refused === 'invalid' ? '❌' : '✋';
        // In place of the ack's "Working on" note: nothing is under way.
        await tellPrivately(`${mark} ${verdict.refusal}`);
        result = {
          outcome: 'failure',
          summary: `refused privately: ${verdict.refusal.split('\n')[0]!}`,
          ...('refused' in verdict && verdict.refused ? { refused: verdict.refused } : {}),
        };
        ended = true;
        return;
      }
      try {
        out = await ThreadOutput.start({
          client: slack,
          channel: invocation.channelId,
          remainingMs,
          logger,
          parentText: `${requesterText(invocation)} ran ${typedCode(commandText(invocation))}`,
        });
      } catch (error) {
        // No thread to answer in: tell the requester privately, with the fix.
        const message = error instanceof SlackChannelError ? error.userMessage : `I could not post in this channel: ${escapeText((error as Error).message)}`;
        await tellPrivately(`⚠️ ${message}`);
        result = { outcome: 'failure', summary: message };
        ended = true;
        return;
      }
      threadTs = out.parentTs;
      // The thread is there for everyone to see: the private "Working on" note has done its job.
      if (job.ackNote && invocation.responseUrl) {
        await deps.withdraw(invocation.responseUrl).catch((error: unknown) => logger.warn('could not withdraw the ack note', { error }));
      }
      // Where the answer lives, recorded at once: if this worker dies, the crash report finds the thread.
      await deps
        .audit()
        .complete(
          job.audit,
          // A system calling the signed API cannot open Slack's search: it gets the thread's link.
          { outcome: 'accepted', threadTs, ...(invocation.origin ? { threadLink: await permalink(slack, invocation.channelId, threadTs) } : {}) },
          { outcome: IN_FLIGHT },
        )
        .catch((error: unknown) => logger.error('audit update failed', { error }));
      try {
        if (verb.runsIn !== 'worker' || !verb.handler) throw new Error(`\`${verb.name}\` is not answered by the worker in a thread`);
        const handler = await verb.handler();
        const ctx: WorkerContext = {
          job,
          config,
          out,
          approvals: deps.approvals,
          deployHistory: deps.deployHistory,
          startDeployWorkflow: deps.startDeployWorkflow,
          startRunWorkflow: deps.startRunWorkflow,
          ...(deps.schedules ? { schedules: deps.schedules } : {}),
          ...(deps.startFleetWorkflow ? { startFleetWorkflow: deps.startFleetWorkflow } : {}),
          ...(deps.catalog ? { catalog: deps.catalog } : {}),
          allowlist: deps.allowlist,
          state: deps.state,
          slack,
          logger,
          now: deps.now,
          remainingMs,
          ...(target ? { target } : {}),
          ...(aws ? { aws } : {}),
          ...(discovered ? { discovered } : {}),
        };
        result = await beforeTheEnd(handler(request.args, ctx, verdict?.ready), remainingMs, stopMargin);
      } catch (error) {
        if (error instanceof PermissionDeniedError) {
          await out.post(`🚫 Not allowed: ${error.userMessage}. Nothing was changed.`);
          result = { outcome: 'failure', summary: `not allowed: ${error.userMessage}`, refused: 'denied' };
        } else if (error instanceof UserFacingError) {
          await out.post(`❌ ${error.userMessage}`);
          result = { outcome: 'failure', summary: error.userMessage.split('\n')[0]!, ...(error instanceof UsageError ? { refused: 'invalid' as const } : {}) };
        } else {
          logger.error('command failed', { error, stack: (error as Error).stack });
          await out.post(`❌ Something went wrong inside the bot (job \`${job.id}\`). The logs have the details.`);
          result = { outcome: 'failure', summary: 'internal error' };
        }
      }
      // A result Slack refused went out as a file: the parent and the audit say so, with Slack's error.
      if (out.refusals.length) result = { ...result, summary: [result.summary, ...out.refusals].join('; ') };
      if (result.continues) await out.flush();
      else await out.finish({ outcome: result.outcome, summary: result.summary, ...(result.logFile ? { logFile: result.logFile } : {}) });
      await result.cleanup?.().catch((error: unknown) => logger.warn('cleanup failed', { error }));
      ended = true;
    } finally {
      aws?.destroy();
      // An error escaping the worker fails the invocation: the crash report (the on-failure
      // destination's consumer) then tells the thread and completes the record, with the reason.
      if (ended) {
        await deps
          .audit()
          .complete(
            job.audit,
            {
              // Handed to a durable workflow: still under way; the workflow records the end.
              outcome: result.continues ? 'accepted' : result.refused ? 'refused' : result.outcome,
              ...(result.refused ? { decision: result.refused } : {}),
              durationMs: deps.now() - started,
              reason: result.summary,
              ...(aws?.requestIds.length ? { awsRequestIds: aws.requestIds } : {}),
              ...(aws?.omittedRequestIds ? { awsRequestIdsOmitted: aws.omittedRequestIds } : {}),
              ...(threadTs ? { threadTs } : {}),
              ...(result.exitCode !== undefined ? { detail: { exitCode: result.exitCode } } : {}),
            },
            // A quick workflow may have ended (and completed the record) before this line runs.
            result.continues ? { outcome: IN_FLIGHT } : undefined,
          )
          .catch((error) => logger.error('audit completion failed', { error }));
      }
    }
  }
}

/**
 * The arguments as the ingress parsed and authorised them: the text is not read again (verbs that
 * act on something check it themselves, with fresh data). A job queued by the ingress of a release
 * before jobs carried their arguments (Lambda keeps an event up to 5 minutes, so only around an
 * upgrade) is parsed here once, as that ingress would have, with what the person may see now.
 */
export function requestOf(job: CommandJob, config: Config, entry: AllowlistEntry | undefined): ParsedRequest {
  if (typeof job.verb === 'string') {
    const verb = findVerb(job.verb);
    return { verb, args: job.args, scope: scopeOf(verb, job.args, config) };
  }
  return parseRequest(job.invocation.text, config, visibilityOf(config, entry, job.invocation.channelId));
}

/** The command did not finish before the worker's own time limit. */
export class OutOfTimeError extends UserFacingError {
  constructor() {
    super('I ran out of time before this finished (a worker runs at most 15 minutes). What it did so far stays done; the thread shows how far it got.');
  }
}

/**
 * How long before its limit the worker stops waiting for a command, so that it can still mark the
 * parent and complete the audit itself (Lambda kills it at the limit, with no chance to say so).
 */
export const stopMarginMs = (remainingAtStart: number): number => Math.min(20_000, Math.max(1_000, remainingAtStart / 10));

async function beforeTheEnd<T>(work: Promise<T>, remainingMs: () => number, marginMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const outOfTime = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new OutOfTimeError()), Math.max(0, remainingMs() - marginMs));
  });
  try {
    return await Promise.race([work, outOfTime]);
  } finally {
    clearTimeout(timer);
  }
}
