import { randomUUID } from 'node:crypto';
import type { AuditLog, AuditRecord } from '../audit/audit';
import type { AllowlistStore } from '../auth/allowlist';
import { isAllowed } from '../auth/roles';
import { ACK_COMMANDS } from '../commands/ack-commands';
import { commandText, parseRequest, UnknownScriptError, type Invocation, type ParsedRequest } from '../commands/registry';
import { scriptsFor } from '../commands/scripts';
import type { SlackMessage } from '../commands/types';
import type { Config } from '../config/schema';
import { UserFacingError } from '../platform/errors';
import type { Job, JobDispatcher } from '../platform/jobs';
import { log } from '../platform/logger';
import type { SlackSecrets } from '../platform/secrets';
import type { StateStore } from '../platform/state';
import { CANCEL_ACTION, RERUN_ACTION } from '../slack/actions';
import { header, json, rawBody, text, verifySignature, type HttpEvent, type HttpResult } from './http';

export interface IngressDeps {
  config: () => Config;
  secrets: () => Promise<SlackSecrets>;
  allowlist: AllowlistStore;
  audit: () => AuditLog;
  jobs: JobDispatcher;
  state: StateStore;
  /** Posts an ephemeral answer to a response_url (used for button clicks). */
  respond: (responseUrl: string, message: SlackMessage) => Promise<void>;
  now: () => number;
}

/** How long an event_id is remembered; Slack's retries come within minutes. */
const EVENT_DEDUP_TTL_SECONDS = 24 * 3600;

const ephemeral = (message: SlackMessage): HttpResult => json(200, { response_type: 'ephemeral', ...message });

/**
 * The ack path: verify, parse, authorize (one allowlist read), hand off, answer, all well
 * within Slack's 3 seconds. Nothing here calls ECS.
 */
export function createIngress(deps: IngressDeps) {
  return { handleHttp, handleInvocation, handleEventEnvelope, handleInteraction };

  async function handleHttp(event: HttpEvent): Promise<HttpResult> {
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
        result = await handleInteraction(parsed);
      } else if (form.get('command')) {
        result = await handleSlashCommand(form);
      } else {
        return text(400, 'unrecognised Slack request');
      }
    } else {
      return text(400, `unsupported content type ${contentType || '(none)'}`);
    }
    log.debug('ack', { ms: deps.now() - started, status: result.statusCode });
    return result;
  }

  async function handleSlashCommand(form: URLSearchParams): Promise<HttpResult> {
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
    return ephemeral(await handleInvocation(invocation));
  }

  /** Shared by slash commands and buttons that re-run a command. */
  async function handleInvocation(invocation: Invocation): Promise<SlackMessage> {
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
      return { text: `This bot is not set up for this Slack workspace (\`${invocation.teamId}\`). An admin can add it under \`slack.teams\` in the bot's configuration.` };
    }

    let request: ParsedRequest;
    try {
      request = parseRequest(invocation.text, config);
    } catch (error) {
      if (!(error instanceof UserFacingError)) throw error;
      await audit({ decision: 'invalid', outcome: 'refused', reason: error.userMessage });
      if (error instanceof UnknownScriptError) {
        const mine = scriptsFor(config, await deps.allowlist.get(invocation.teamId, invocation.userId), invocation.channelId);
        return { text: `${error.userMessage} ${mine.length ? `Scripts you may run: ${mine.map((n) => `\`${n}\``).join(', ')}.` : 'You may not run any script here.'}` };
      }
      return { text: `${error.userMessage}\nType \`${invocation.command} help\` for the list of commands.` };
    }
    const scope = { ...optional('verb', request.verb.name), ...optional('target', request.scope.target) };

    const entry = await deps.allowlist.get(invocation.teamId, invocation.userId);
    if (request.verb.permission) {
      const decision = isAllowed(entry, request.verb.permission, {
        channelId: invocation.channelId,
        ...optional('service', request.scope.target),
        ...optional('script', request.scope.script),
      });
      if (!decision.allowed) {
        await audit({ ...scope, decision: 'denied', outcome: 'refused', reason: decision.reason });
        return {
          text: `🚫 Not allowed: ${decision.reason}, so I can't run \`${commandText(invocation)}\`. Ask an admin (\`/ecs allow\`) if you need it; \`/ecs whoami\` shows what you may do.`,
        };
      }
    }

    if (request.verb.runsIn === 'ack') {
      const answer = await ACK_COMMANDS[request.verb.name]!({ invocation, request, config, entry, allowlist: deps.allowlist, state: deps.state });
      await audit({ ...scope, decision: 'allowed', outcome: 'answered' });
      return answer;
    }

    const auditKey = await audit({ ...scope, decision: 'allowed', outcome: 'accepted' });
    await deps.jobs.dispatch({ kind: 'command', id: attempt.id, invocation, audit: auditKey, receivedAt: deps.now() });
    const where = request.verb.name === 'deploy' || request.verb.name === 'rollback' ? 'the approval request will appear in this channel, progress in its thread' : 'the answer will appear in a thread in this channel';
    return { text: `⏳ Working on \`${commandText(invocation)}\`: ${where}.` };
  }

  async function handleEventEnvelope(envelope: unknown): Promise<HttpResult> {
    const e = envelope as { type?: string; challenge?: string; team_id?: string; event_id?: string; event?: Record<string, unknown>; authorizations?: Array<{ user_id?: string }> };
    if (e?.type === 'url_verification' && typeof e.challenge === 'string') return json(200, { challenge: e.challenge });
    if (e?.type !== 'event_callback' || !e.event || typeof e.event_id !== 'string') return text(400, 'unrecognised event envelope');
    if (!e.team_id || !deps.config().slack.teams.includes(e.team_id)) return text(200, '');

    const ev = e.event as { type?: string; user?: string; reaction?: string; item?: { type?: string; channel?: string; ts?: string } };
    if ((ev.type === 'reaction_added' || ev.type === 'reaction_removed') && ev.item?.type === 'message' && ev.item.channel && ev.item.ts && ev.user && ev.reaction) {
      const botUserId = e.authorizations?.[0]?.user_id;
      if (ev.user === botUserId) return text(200, ''); // the bot's own ⏳/✅ marks
      const trackedKey = `tracked#${ev.item.channel}#${ev.item.ts}`;
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
      return dispatchOnce(`event#${e.event_id}`, job);
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
      await deps.state.release(claimKey).catch(() => undefined);
      log.error('could not hand the event to the worker', { claimKey, error });
      return text(500, 'could not dispatch');
    }
    return text(200, '');
  }

  async function handleInteraction(payload: unknown): Promise<HttpResult> {
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
    const commandWords = action.action_id === RERUN_ACTION ? action.value : action.action_id === CANCEL_ACTION ? `cancel ${action.value ?? ''}` : undefined;
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
      const answer = await handleInvocation(invocation);
      if (p.response_url) await deps.respond(p.response_url, answer);
      return text(200, '');
    }
    return text(200, '');
  }
}

function optional<K extends string>(key: K, value: string | null | undefined): Partial<Record<K, string>> {
  return value ? ({ [key]: value } as Record<K, string>) : {};
}
