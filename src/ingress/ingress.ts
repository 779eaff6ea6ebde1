import { randomUUID } from 'node:crypto';
import { labelsWithDiscovered } from '../fleet/memory-catalog';
import type { FleetService } from '../fleet/types';
import type { AuditLog, AuditRecord } from '../audit/audit';
import type { AllowlistStore } from '../auth/allowlist';
import { authorise } from '../auth/authorise';
import { NOT_ON_ALLOWLIST, type AllowlistEntry } from '../auth/roles';
import {
  commandText,
  parseRequest,
  UnknownNameError,
  UnknownScriptError,
  verbOf,
  undeclaredAliasOf,
  visibilityOf,
  type Invocation,
  type ParsedRequest,
} from '../commands/registry';
import type { SlackMessage } from '../slack/message';
import type { Config } from '../config/schema';
import { HiddenRefusalError, PermissionDeniedError, UserFacingError } from '../platform/errors';
import { escapeText, typedCode } from '../slack/format';
import { commandJob, type Job, type JobDispatcher } from '../platform/jobs';
import { DependencyUnavailableError, withDeadline, within } from '../platform/deadline';
import { log } from '../platform/logger';
import type { SlackSecrets } from '../platform/secrets';
import type { StateStore } from '../platform/state';
import { clickedCommand } from '../slack/actions';
import type { ChannelAccess, ChannelAccessCheck } from '../slack/channel-access';
import { SlackChannelError } from '../slack/channel-error';
import { header, json, rawBody, REPLAY_WINDOW_SECONDS, requestReplayKey, text, verifySignature, type HttpEvent, type HttpResult } from './http';
import { eventKey, trackedKey as trackedKeyOf } from '../platform/state-keys';

export interface IngressDeps {
  config: () => Config;
  secrets: () => Promise<SlackSecrets>;
  allowlist: AllowlistStore;
  audit: () => AuditLog;
  jobs: JobDispatcher;
  state: StateStore;
  /** Wakes a detached run's workflow after a cancel (src/workflows/run-wake.ts); absent: it sees it at its next poll. */
  wakeRun?: (callbackId: string) => Promise<boolean>;
  /** Posts an ephemeral answer to a response_url (used for button clicks). */
  respond: (responseUrl: string, message: SlackMessage) => Promise<void>;
  /** Whether the bot can post where a command was typed (src/slack/channel-access.ts). */
  channelAccess: ChannelAccessCheck;
  now: () => number;
  /** Milliseconds the ack may spend on its dependencies (default ACK_BUDGET_MS). */
  ackBudgetMs?: number;
  /**
   * The fleet's catalog (with `fleet:` configured): a service the command names that is not
   * declared is read from it, one GetItem beside the allowlist read.
   */
  catalog?: { get(alias: string): Promise<FleetService | undefined> };
}

/**
 * Slack gives up on an ack after 3 s, network and cold start included: every call the ack path
 * makes shares this budget, and what is left answers the person in plain words.
 */
export const ACK_BUDGET_MS = 2_300;
/** A little more, after the budget ran out, to record and say what happened. */
const CLEANUP_BUDGET_MS = 300;

/** Every dependency call of the ack path within the request's deadline, failures named. */
function guarded(deps: IngressDeps): IngressDeps {
  const { allowlist, state, jobs, wakeRun, catalog } = deps;
  return {
    ...deps,
    ...(catalog ? { catalog: { get: (alias: string) => within('catalog', () => catalog.get(alias)) } } : {}),
    secrets: () => within('secrets', deps.secrets),
    allowlist: {
      get: (...a) => within('allowlist', () => allowlist.get(...a)),
      put: (...a) => within('allowlist', () => allowlist.put(...a)),
      remove: (...a) => within('allowlist', () => allowlist.remove(...a)),
      list: (...a) => within('allowlist', () => allowlist.list(...a)),
    },
    audit: () => {
      const log = deps.audit();
      return { record: (...a) => within('audit', () => log.record(...a)), complete: (...a) => within('audit', () => log.complete(...a)) };
    },
    jobs: { dispatch: (job) => within('worker', () => jobs.dispatch(job)) },
    state: {
      claim: (...a) => within('state', () => state.claim(...a)),
      get: <T extends Record<string, unknown>>(key: string) => within('state', () => state.get<T>(key)),
      release: (...a) => within('state', () => state.release(...a)),
      refresh: (...a) => within('state', () => state.refresh(...a)),
      put: (...a) => within('state', () => state.put(...a)),
      take: <T extends Record<string, unknown>>(key: string) => within('state', () => state.take<T>(key)),
    },
    respond: (...a) => within('slack', () => deps.respond(...a)),
    ...(wakeRun ? { wakeRun: (id: string) => within('workflow', () => wakeRun(id)) } : {}),
  };
}

/** What the person is told when a dependency of the ack failed: what happened, and whether anything ran. */
export function unavailableMessage(error: DependencyUnavailableError): string {
  const how = error.timedOut ? 'did not answer in time' : `failed${causeName(error) ? ` (${causeName(error)})` : ''}`;
  switch (error.dependency) {
    case 'secrets':
      return `⚠️ I can't read my own settings right now (SSM ${how}), so nothing ran. Try again in a minute; if it keeps happening, an admin can check the ingress logs.`;
    case 'worker':
      if (!error.attempted) return '⚠️ I ran out of time before I could hand your command to my worker, so nothing ran. Try again in a minute.';
      return error.timedOut
        ? '⚠️ I could not confirm that your command started (AWS Lambda did not answer in time). Look for its thread in this channel in a minute before you try again.'
        : `⚠️ I could not hand your command to my worker (AWS Lambda ${how}), so nothing ran. Try again in a minute.`;
    case 'slack':
      return `⚠️ Slack ${how}.`;
    case 'allowlist':
      return `⚠️ I can't reach my allowlist right now (DynamoDB ${how}), so nothing ran. Try again in a minute.`;
    case 'catalog':
      return `⚠️ I can't read the fleet's catalog right now (DynamoDB ${how}), so nothing ran. Try again in a minute.`;
    default:
      return `⚠️ I can't reach my database right now (DynamoDB ${how}), so nothing ran. Try again in a minute.`;
  }
}

const logUnavailable = (error: DependencyUnavailableError): void =>
  log.error('a dependency of the ack path is unavailable', {
    dependency: error.dependency,
    timedOut: error.timedOut,
    attempted: error.attempted,
    error: error.cause,
  });

const causeName = (error: DependencyUnavailableError): string | undefined => {
  const cause = error.cause as { name?: string; code?: string } | undefined;
  const name = cause?.name && cause.name !== 'Error' ? cause.name : cause?.code;
  return name ? escapeText(name) : undefined;
};

/** How long an event_id is remembered; Slack's retries come within minutes. */
const EVENT_DEDUP_TTL_SECONDS = 24 * 3600;

const ephemeral = (message: SlackMessage): HttpResult => json(200, { response_type: 'ephemeral', ...message });

/**
 * The ack path: verify, parse, authorize (one allowlist read), hand off, answer, all well
 * within Slack's 3 seconds. Nothing here calls ECS.
 */
export function createIngress(unguarded: IngressDeps) {
  const deps = guarded(unguarded);
  const budgetMs = unguarded.ackBudgetMs ?? ACK_BUDGET_MS;
  return { handleHttp, handleInvocation, handleEventEnvelope, handleInteraction };

  /**
   * Within the ack budget. A dependency that fails or hangs ends the request with an answer that
   * says so: a slash command gets it as its ephemeral reply (HTTP 200, never Slack's generic
   * failure), an event gets a 500 so that Slack delivers it again later.
   */
  async function handleHttp(event: HttpEvent): Promise<HttpResult> {
    try {
      return await withDeadline(budgetMs, () => handleHttpWithinBudget(event));
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError)) throw error;
      logUnavailable(error);
      const isEvent = (header(event, 'content-type') ?? '').startsWith('application/json');
      return isEvent ? text(500, 'dependency unavailable') : ephemeral({ text: unavailableMessage(error) });
    }
  }

  async function handleHttpWithinBudget(event: HttpEvent): Promise<HttpResult> {
    const started = deps.now();
    const body = rawBody(event);
    // ssl_check carries no signature and needs no answer but 200.
    if (body.startsWith('ssl_check=')) return text(200, '');
    const { signingSecret } = await deps.secrets();
    try {
      verifySignature(event, body, signingSecret, deps.now());
    } catch (error) {
      log.warn('rejected request with an invalid signature', { reason: (error as Error).message, path: event.rawPath });
      return text(401, 'invalid signature');
    }

    const contentType = (header(event, 'content-type') ?? '').split(';')[0]!.trim();
    let result: HttpResult;
    if (contentType === 'application/json') {
      let envelope: unknown;
      try {
        envelope = JSON.parse(body);
      } catch {
        return text(400, 'malformed JSON body');
      }
      result = await handleEventEnvelope(envelope);
    } else if (contentType === 'application/x-www-form-urlencoded') {
      const form = new URLSearchParams(body);
      const payload = form.get('payload');
      if (payload !== null) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(payload);
        } catch {
          return text(400, 'malformed interactivity payload');
        }
        const p = parsed as { team?: { id?: string }; user?: { id?: string }; channel?: { id?: string }; response_url?: string } | null;
        const who = { teamId: p?.team?.id, userId: p?.user?.id, channelId: p?.channel?.id, commandText: 'button click' };
        const entry = prefetchEntry(who.teamId, who.userId);
        let first: boolean;
        try {
          first = await firstDelivery(event, who);
        } catch (error) {
          // Slack ignores the HTTP body of a click: its answer goes to the response_url.
          if (!(error instanceof DependencyUnavailableError) || !p?.response_url) throw error;
          logUnavailable(error);
          const url = p.response_url;
          await withDeadline(CLEANUP_BUDGET_MS, () => deps.respond(url, { text: unavailableMessage(error) })).catch(() => undefined);
          return text(200, '');
        }
        result = first ? await handleInteraction(parsed, entry) : text(200, '');
      } else if (form.get('command')) {
        const who = {
          teamId: form.get('team_id'),
          userId: form.get('user_id'),
          channelId: form.get('channel_id'),
          commandText: commandText({ command: form.get('command')!, text: form.get('text') ?? '' }),
        };
        const entry = prefetchEntry(who.teamId, who.userId);
        const discovered = prefetchDiscovered(form.get('text') ?? '');
        result = (await firstDelivery(event, who)) ? await handleSlashCommand(form, entry, discovered) : text(200, '');
      } else {
        return text(400, 'unrecognised Slack request');
      }
    } else {
      return text(400, `unsupported content type ${contentType || '(none)'}`);
    }
    log.debug('ack', { ms: deps.now() - started, status: result.statusCode });
    return result;
  }

  /**
   * Slack does not retry commands and button clicks, so the same signed request arriving twice is
   * a replay (a proxy, or someone holding a captured request): it is claimed by its signature and
   * runs once. The replay is answered with an empty 200 and audited.
   */
  async function firstDelivery(
    event: HttpEvent,
    who: { teamId?: string | null | undefined; userId?: string | null | undefined; channelId?: string | null | undefined; commandText: string },
  ): Promise<boolean> {
    const key = requestReplayKey(event);
    if (await deps.state.claim(key, REPLAY_WINDOW_SECONDS, { at: new Date(deps.now()).toISOString() })) return true;
    log.warn('replayed request ignored', { key });
    await deps.audit().record({
      id: randomUUID(),
      at: new Date(deps.now()).toISOString(),
      teamId: who.teamId ?? 'unknown',
      userId: who.userId ?? 'unknown',
      channelId: who.channelId ?? 'unknown',
      commandText: who.commandText,
      decision: 'denied',
      outcome: 'refused',
      reason: 'replayed request: this signed request was already handled',
    });
    return false;
  }

  /**
   * The one allowlist read, started beside the replay claim so the two round trips overlap. A
   * replay never awaits it (its failure is then nobody's business); everyone else does.
   */
  function prefetchEntry(teamId: string | null | undefined, userId: string | null | undefined): Promise<AllowlistEntry | undefined> | undefined {
    if (!teamId || !userId) return undefined;
    const read = deps.allowlist.get(teamId, userId);
    read.catch(() => undefined);
    return read;
  }

  /**
   * The service the command names when only the fleet's catalog may know it: one GetItem, started
   * beside the allowlist read (and the replay claim), awaited only by a request that goes on.
   */
  function prefetchDiscovered(commandWords: string): Promise<FleetService | undefined> | undefined {
    const alias = deps.catalog ? undeclaredAliasOf(commandWords.trim(), deps.config()) : undefined;
    if (!alias || !deps.catalog) return undefined;
    const read = deps.catalog.get(alias);
    read.catch(() => undefined);
    return read;
  }

  async function handleSlashCommand(
    form: URLSearchParams,
    entry?: Promise<AllowlistEntry | undefined>,
    discovered?: Promise<FleetService | undefined>,
  ): Promise<HttpResult> {
    const required = ['team_id', 'user_id', 'channel_id', 'command'] as const;
    const missing = required.filter((k) => !form.get(k));
    if (missing.length) return text(400, `missing ${missing.join(', ')}`);
    const invocation: Invocation = {
      teamId: form.get('team_id')!,
      userId: form.get('user_id')!,
      channelId: form.get('channel_id')!,
      command: form.get('command')!,
      text: (form.get('text') ?? '').trim(),
      ...optional('userName', form.get('user_name')),
      ...optional('channelName', form.get('channel_name')),
      ...optional('responseUrl', form.get('response_url')),
      ...optional('triggerId', form.get('trigger_id')),
    };
    return ephemeral(await handleInvocation(invocation, entry, 'command', discovered));
  }

  /** Never fails the ack: a question Slack does not answer in time is `unknown`, and the worker finds out. */
  function askChannelAccess(channelId: string): Promise<ChannelAccess> {
    return within('slack', async () => deps.channelAccess((await deps.secrets()).botToken, channelId)).catch((error: unknown) => {
      log.warn('could not ask Slack whether the bot can post here', { channelId, error });
      return { canPost: 'unknown' } as const;
    });
  }

  /**
   * Shared by slash commands and buttons that re-run a command. A command's answer is the
   * ephemeral note its response_url can later withdraw; a click's is posted to its response_url.
   */
  async function handleInvocation(
    invocation: Invocation,
    prefetched?: Promise<AllowlistEntry | undefined>,
    from: 'command' | 'click' = 'click',
    prefetchedService?: Promise<FleetService | undefined>,
  ): Promise<SlackMessage> {
    const config = deps.config();
    const attempt = {
      id: randomUUID(),
      at: new Date(deps.now()).toISOString(),
      teamId: invocation.teamId,
      userId: invocation.userId,
      channelId: invocation.channelId,
      commandText: commandText(invocation),
      ...optional('userName', invocation.userName),
    };
    const audit = (fields: Pick<AuditRecord, 'decision' | 'outcome'> & Partial<AuditRecord>) => deps.audit().record({ ...attempt, ...fields });

    if (!config.slack.teams.includes(invocation.teamId)) {
      await audit({ decision: 'denied', outcome: 'refused', reason: 'workspace not configured' });
      return {
        text: `This bot is not set up for this Slack workspace (\`${invocation.teamId}\`). An admin can add it under \`slack.teams\` in the bot's configuration.`,
      };
    }

    // Asked beside the allowlist read, so the ack waits for the slower of the two, not both.
    // Only for commands answered in a thread: the ack-only ones answer privately wherever they are typed.
    const channelAccessOf =
      from === 'command' && answeredInThread(invocation.text) ? askChannelAccess(invocation.channelId) : Promise.resolve<ChannelAccess>({ canPost: 'unknown' });
    // One allowlist read, before anything is parsed: what a person is told depends on what they may see.
    // The catalog's read of an undeclared service the command names goes beside it, never after it.
    const serviceRead = prefetchedService ?? prefetchDiscovered(invocation.text);
    const entry = await (prefetched ?? deps.allowlist.get(invocation.teamId, invocation.userId));
    let discovered: FleetService | undefined;
    const refuse = async (reason: string, fields: Partial<AuditRecord> = {}): Promise<SlackMessage> => {
      await audit({ ...fields, decision: 'denied', outcome: 'refused', reason });
      return {
        text: `🚫 Not allowed: ${reason}, so I can't run ${typedCode(commandText(invocation))}. Ask an admin (\`/ecs allow\`) if you need it; \`/ecs whoami\` shows what you may do.`,
      };
    };

    let request: ParsedRequest;
    try {
      // People with no grant learn nothing beyond that: no service or script names, no patterns.
      const verb = verbOf(invocation.text);
      if (!verb.public && !onAllowlist(entry)) return await refuse(NOT_ON_ALLOWLIST, { verb: verb.name });
      // Under way since before the allowlist answered: awaited only by someone who may go on.
      discovered = await serviceRead;
      const visible = visibilityOf(config, entry, invocation.channelId, discovered);
      request = parseRequest(invocation.text, config, visible);
    } catch (error) {
      if (!(error instanceof UserFacingError)) throw error;
      const hidden = (error instanceof UnknownNameError || error instanceof UnknownScriptError) && error.hidden;
      // A name that exists but is not theirs is answered like an unknown one, and audited as the denial it is.
      await audit({
        decision: hidden ? 'denied' : 'invalid',
        outcome: 'refused',
        reason: hidden ? `no role here on what the request names (answered as unknown): ${error.userMessage}` : error.userMessage,
      });
      if (error instanceof UnknownScriptError) {
        const mine = visibilityOf(config, entry, invocation.channelId).scripts;
        return {
          text: `${error.userMessage} ${mine.length ? `Scripts you may run: ${mine.map((n) => `\`${n}\``).join(', ')}.` : 'You may not run any script here: that needs the `operator` role.'}`,
        };
      }
      return { text: `${error.userMessage}\nType \`${invocation.command} help\` for the list of commands.` };
    }
    const scope = { ...optional('verb', request.verb.name), ...optional('target', request.scope.target), ...optional('script', request.scope.script) };

    const decision = authorise(request, entry, invocation.channelId, labelsWithDiscovered(config, discovered));
    if (!decision.allowed) return refuse(decision.reason, scope);

    if (request.verb.runsIn === 'ack') {
      let answer: SlackMessage;
      try {
        answer = await request.verb.answer(request.args, {
          invocation,
          config,
          entry,
          allowlist: deps.allowlist,
          state: deps.state,
          ...(deps.wakeRun ? { wakeRun: deps.wakeRun } : {}),
        });
      } catch (error) {
        // The verb checked the thing it acts on (a run in another channel, say) and said no.
        if (error instanceof HiddenRefusalError) {
          await audit({ ...scope, decision: 'denied', outcome: 'refused', reason: error.userMessage });
          return { text: error.publicText };
        }
        if (error instanceof PermissionDeniedError) return refuse(error.userMessage, scope);
        throw error;
      }
      try {
        await audit({ ...scope, decision: 'allowed', outcome: 'answered' });
      } catch (error) {
        // The answer stands (a cancel may already be stored): say only that it was not recorded.
        if (!(error instanceof DependencyUnavailableError)) throw error;
        log.error('an answered command could not be audited', { error: error.cause });
        return {
          ...answer,
          text: `${answer.text}\n⚠️ (This could not be written to the audit log just now: DynamoDB ${error.timedOut ? 'did not answer in time' : 'failed'}.)`,
        };
      }
      return answer;
    }

    // A command the worker would answer in a thread the bot cannot post: say so now, run nothing.
    const access = await channelAccessOf;
    if (access.canPost === false) {
      const problem = new SlackChannelError(access.slackError, invocation.channelId);
      await audit({ ...scope, decision: 'invalid', outcome: 'refused', reason: `the bot cannot post in this channel (${access.slackError})` });
      return { text: `⚠️ ${problem.userMessage} Nothing ran.` };
    }

    const auditKey = await audit({ ...scope, decision: 'allowed', outcome: 'accepted' });
    try {
      await deps.jobs.dispatch({
        ...commandJob(attempt.id, invocation, request, auditKey, deps.now()),
        ...(from === 'command' ? { ackNote: true as const } : {}),
      });
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError)) throw error;
      // Recorded, briefly, after the budget: the attempt's record must not say "accepted" forever.
      // Not answering in time is not a failure: the worker may have been invoked and will complete the record.
      const unconfirmed = error.timedOut && error.attempted;
      const reason = `${unconfirmed ? 'unknown whether the worker started' : 'the worker could not be invoked'}: ${error.message}`;
      await withDeadline(CLEANUP_BUDGET_MS, () => deps.audit().complete(auditKey, { outcome: unconfirmed ? 'unconfirmed' : 'error', reason })).catch(
        () => undefined,
      );
      throw error;
    }
    const where = request.verb.answeredWhere ?? 'the answer will appear in a thread in this channel';
    return { text: `⏳ Working on ${typedCode(commandText(invocation))}: ${where}.` };
  }

  async function handleEventEnvelope(envelope: unknown): Promise<HttpResult> {
    const e = envelope as {
      type?: string;
      challenge?: string;
      team_id?: string;
      event_id?: string;
      event?: Record<string, unknown>;
      authorizations?: Array<{ user_id?: string }>;
    };
    if (e?.type === 'url_verification' && typeof e.challenge === 'string') return json(200, { challenge: e.challenge });
    if (e?.type !== 'event_callback' || !e.event || typeof e.event_id !== 'string') return text(400, 'unrecognised event envelope');
    if (!e.team_id || !deps.config().slack.teams.includes(e.team_id)) {
      // Signed with our secret yet from a workspace we do not serve: worth a trace, never work.
      const ev = e.event as { type?: string; user?: string; item?: { channel?: string } };
      await deps.audit().record({
        id: e.event_id,
        at: new Date(deps.now()).toISOString(),
        teamId: e.team_id ?? 'unknown',
        userId: typeof ev.user === 'string' ? ev.user : 'unknown',
        channelId: ev.item?.channel ?? 'unknown',
        commandText: `event ${String(ev.type)}`,
        decision: 'denied',
        outcome: 'refused',
        reason: 'workspace not configured',
      });
      return text(200, '');
    }

    const ev = e.event as { type?: string; user?: string; reaction?: string; item?: { type?: string; channel?: string; ts?: string } };
    if (
      (ev.type === 'reaction_added' || ev.type === 'reaction_removed') &&
      ev.item?.type === 'message' &&
      ev.item.channel &&
      ev.item.ts &&
      ev.user &&
      ev.reaction
    ) {
      const botUserId = e.authorizations?.[0]?.user_id;
      if (ev.user === botUserId) return text(200, ''); // the bot's own ⏳/✅ marks
      const trackedKey = trackedKeyOf(ev.item.channel, ev.item.ts);
      // Only reactions on messages the bot tracks (approval requests) are work; skip the rest cheaply.
      if (!(await deps.state.get(trackedKey))) return text(200, '');
      const job: Job = {
        kind: 'reaction',
        id: randomUUID(),
        eventId: e.event_id,
        teamId: e.team_id,
        userId: ev.user,
        reaction: ev.reaction,
        added: ev.type === 'reaction_added',
        channelId: ev.item.channel,
        messageTs: ev.item.ts,
        trackedKey,
        receivedAt: deps.now(),
      };
      return dispatchOnce(eventKey(e.event_id), job);
    }
    return text(200, '');
  }

  /**
   * Slack redelivers an event it thinks we missed; the conditional write lets only the first
   * delivery through. If the hand-off then fails, the claim is released and Slack gets a 500,
   * so its retry can succeed: nothing is lost and nothing runs twice.
   */
  async function dispatchOnce(claimKey: string, job: Job): Promise<HttpResult> {
    if (!(await deps.state.claim(claimKey, EVENT_DEDUP_TTL_SECONDS, { jobId: job.id }))) {
      log.info('duplicate delivery ignored', { claimKey });
      return text(200, '');
    }
    try {
      await deps.jobs.dispatch(job);
    } catch (error) {
      // With a little time of its own: the budget may be spent, and a claim left behind would make Slack's retry look like a duplicate.
      await withDeadline(CLEANUP_BUDGET_MS, () => deps.state.release(claimKey)).catch(() => undefined);
      log.error('could not hand the event to the worker', { claimKey, error });
      return text(500, 'could not dispatch');
    }
    return text(200, '');
  }

  async function handleInteraction(payload: unknown, entry?: Promise<AllowlistEntry | undefined>): Promise<HttpResult> {
    const p = payload as {
      type?: string;
      team?: { id?: string };
      user?: { id?: string; username?: string; name?: string };
      channel?: { id?: string; name?: string };
      response_url?: string;
      actions?: Array<{ action_id?: string; value?: string }>;
    };
    if (p?.type !== 'block_actions') return text(200, '');
    const action = p.actions?.[0];
    if (!p.team?.id || !p.user?.id || !p.channel?.id || !action?.action_id) return text(400, 'incomplete interaction payload');
    const commandWords = clickedCommand(action.action_id, action.value);
    if (typeof commandWords === 'string') {
      const invocation: Invocation = {
        teamId: p.team.id,
        userId: p.user.id,
        channelId: p.channel.id,
        command: deps.config().slack.command,
        text: commandWords,
        ...optional('userName', p.user.username ?? p.user.name),
        ...optional('channelName', p.channel.name),
        ...optional('responseUrl', p.response_url),
      };
      let answer: SlackMessage;
      try {
        answer = await handleInvocation(invocation, entry);
      } catch (error) {
        // A click's answer goes to its response_url, not the HTTP reply: say there what failed.
        if (!(error instanceof DependencyUnavailableError) || !p.response_url) throw error;
        logUnavailable(error);
        answer = { text: unavailableMessage(error) };
        await withDeadline(CLEANUP_BUDGET_MS, () => deps.respond(p.response_url!, answer)).catch(() => undefined);
        return text(200, '');
      }
      if (p.response_url) await deps.respond(p.response_url, answer);
      return text(200, '');
    }
    return text(200, '');
  }
}

const onAllowlist = (entry: AllowlistEntry | undefined): boolean => (entry?.grants.length ?? 0) > 0;

/** Whether the command's verb is answered by the worker, in a thread; false for text that names no verb. */
function answeredInThread(text: string): boolean {
  try {
    return verbOf(text).runsIn === 'worker';
  } catch {
    return false;
  }
}

function optional<K extends string>(key: K, value: string | null | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
