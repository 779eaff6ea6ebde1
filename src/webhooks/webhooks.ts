import { randomUUID } from 'node:crypto';
import type { Requester } from '../api/requester';
import type { RateLimit, RateLimiter } from '../api/rate-limit';
import { BadRequestError, type ApiCommand } from '../api/requests';
import type { AuditLog, AuditRecord } from '../audit/audit';
import type { Config } from '../config/schema';
import type { WebhookSource } from '../config/webhooks-schema';
import { header, json, rawBody, type HttpEvent, type HttpResult } from '../ingress/http';
import { log } from '../platform/logger';
import type { StateStore } from '../platform/state';
import { webhookReplayKey } from '../platform/state-keys';
import { webhookUserId } from '../slack/invocation';
import { refusalBucketOf, WEBHOOK_REFUSAL_AUDIT_LIMIT, type RefusalGate, type Suppressed } from './refusals';
import type { SecretSlot, SourceSecrets, WebhookSecrets } from './secrets';
import {
  checkSignedHeaders,
  SIGNATURE_HEADER,
  matchingSecret,
  signatureDigest,
  TIMESTAMP_HEADER,
  WEBHOOK_REPLAY_TTL_SECONDS,
  type SignatureProblem,
} from './signature';
import { matchAction, parseTicket, ticketCommand, type Ticket } from './ticket';

type Submitted = { statusCode: number; body: Record<string, unknown> };

export interface WebhookDeps {
  config: () => Config;
  secrets: WebhookSecrets;
  /** The SSM path the function may read (serverless.yml's webhookSecretsPath): a source's parameter must lie under it. */
  secretsPath: () => string;
  state: StateStore;
  audit: () => AuditLog;
  rateLimiter: RateLimiter;
  /** Which refusals are audited one by one (src/webhooks/refusals.ts): a flood of bad signatures does not fill the audit. */
  refusals: RefusalGate;
  /** The signed API's entry for work from outside Slack (src/api/api.ts): allowlist, idempotency, parse, authorise, audit, worker. */
  submit: (requester: Requester, command: ApiCommand) => Promise<Submitted>;
  now: () => number;
}

export interface WebhookEvent extends HttpEvent {
  pathParameters?: Record<string, string | undefined>;
  /** API Gateway's payload 2.0 names the caller's address: logged when refusals stop being audited one by one. */
  requestContext?: { http?: { method?: string; sourceIp?: string } };
}

const SOURCE = /^[a-z][a-z0-9-]{0,39}$/;

/** Per source: a ticket system sends bursts (a bulk transition), and retries what is refused with 429. */
export const WEBHOOK_RATE_LIMIT: RateLimit = { burst: 30, perMinute: 30 };

/**
 * One answer for every request we cannot attribute to a source: unknown source, no or a wrong
 * signature, a stale timestamp, a replay. The same status and body, so a caller without the
 * secret learns neither which sources exist nor which check failed (the audit says which).
 */
const UNAUTHORIZED = json(401, { error: 'unauthorized', message: 'missing, invalid or expired webhook signature' });

/**
 * `POST /api/webhooks/{source}`, a route without IAM authorization for ticket systems that cannot
 * sign with SigV4: the source's HMAC signature (its secret in SSM), the replay window and claim,
 * then the ticket's one matching declared action handed to `submit` as the source's principal.
 */
export function createWebhooks(deps: WebhookDeps) {
  return { handle };

  async function handle(event: WebhookEvent): Promise<HttpResult> {
    const method = event.requestContext?.http?.method ?? 'POST';
    const name = event.pathParameters?.source ?? /^\/api\/webhooks\/([^/]+)$/.exec(event.rawPath ?? '')?.[1] ?? '';
    const config = deps.config();
    const source = SOURCE.test(name) && Object.hasOwn(config.webhooks, name) ? config.webhooks[name] : undefined;
    // Answered alike whether audited or not: the bucket (the source's, or one for every unknown name) decides only the record.
    const refuse = async (reason: string, statusCode = 401, body?: Record<string, unknown>) => {
      const verdict = await deps.refusals.admit(refusalBucketOf(source ? name : undefined), { sourceIp: event.requestContext?.http?.sourceIp });
      if (verdict.audit) {
        if (verdict.suppressed) await auditSuppressed(config, source ? name : undefined, source, verdict.suppressed);
        await auditRefusal(config, name, source, reason);
      }
      return body ? json(statusCode, body) : UNAUTHORIZED;
    };

    if (!source) return refuse('unknown webhook source');
    if (method !== 'POST') return json(405, { error: 'method_not_allowed', message: 'webhooks are POST requests' });

    const timestamp = header(event, TIMESTAMP_HEADER);
    const signature = header(event, SIGNATURE_HEADER);
    const malformed = checkSignedHeaders(timestamp, signature, deps.now());
    if (malformed) return refuse(malformed);

    const secrets = await secretsOf(name, source);
    if (secrets === undefined) return refuse('the source’s secret could not be read', 503, { error: 'unavailable', message: 'nothing ran, try again' });
    const body = rawBody(event);
    const matched = matchingSecret(secrets, timestamp!, body, signature!);
    if (!matched) return refuse('signature mismatch' satisfies SignatureProblem);

    const limited = await deps.rateLimiter.take(webhookUserId(name));
    if (!limited.allowed) return json(429, { error: 'rate_limited', message: `Too many webhooks from ${name}; try again in ${limited.retryAfterSeconds} s.` });

    // Claimed by its signature before anything is read from it: the same signed request runs at most once.
    const claim = webhookReplayKey(name, signatureDigest(signature!));
    if (!(await deps.state.claim(claim, WEBHOOK_REPLAY_TTL_SECONDS, { at: new Date(deps.now()).toISOString() }))) {
      // Signed with the secret, so within the source's rate limit: always audited, a flood of forgeries cannot hide it.
      await auditRefusal(config, name, source, 'replayed request (its signature was seen already)');
      return UNAUTHORIZED;
    }

    // Nothing ran when it fails: the very same signed request may be retried.
    const free = () => deps.state.release(claim).catch(() => undefined);
    try {
      const answer = await accept(config, name, source, body, matched);
      if (answer.statusCode >= 500) await free();
      return answer;
    } catch (error) {
      await free();
      throw error;
    }
  }

  async function accept(config: Config, name: string, source: WebhookSource, body: string, secret: SecretSlot): Promise<HttpResult> {
    let ticket: Ticket;
    try {
      ticket = parseTicket(body);
    } catch (e) {
      if (!(e instanceof BadRequestError)) throw e;
      await auditRefusal(config, name, source, e.message, 'invalid');
      return json(400, { error: 'bad_request', message: e.message });
    }
    const action = matchAction(source, ticket);
    if (!action) {
      // Not audited: a ticket system sends every transition it is set up for, and one that asks for nothing is no attempt to act.
      log.info('webhook ticket matches no action', { source: name, ticket: ticket.id });
      return json(200, { state: 'ignored', ticket: ticket.id, message: `no action of source ${name} matches this ticket` });
    }
    let command: ApiCommand;
    try {
      command = ticketCommand(source, action, ticket);
    } catch (e) {
      if (!(e instanceof BadRequestError)) throw e;
      await auditRefusal(config, name, source, `action ${action.name}: ${e.message}`, 'invalid', ticket);
      return json(400, { error: 'bad_request', message: e.message, action: action.name });
    }
    const requester: Requester = {
      userId: webhookUserId(name),
      name: webhookUserId(name),
      origin: { via: 'webhook', source: name, ticket: ticket.id, ...(ticket.url ? { ticketUrl: ticket.url } : {}) },
      audit: { via: 'webhook', ticket: ticket.id, ...(ticket.url ? { ticketUrl: ticket.url } : {}), signedWith: secret },
    };
    // Which secret signed it, for the rotation's last step: once no webhook says `previous`, that parameter can go.
    // Named `signedWith`: the logger masks keys that look secret, and this one only names a slot.
    log.info('webhook signature verified', { source: name, ticket: ticket.id, action: action.name, signedWith: secret });
    const result = await deps.submit(requester, command);
    return json(result.statusCode, { ...result.body, action: action.name, ticket: ticket.id });
  }

  /** The source's secrets, if its parameter lies where the function may read: another is a misconfiguration, logged. */
  async function secretsOf(name: string, source: WebhookSource): Promise<SourceSecrets | undefined> {
    const path = deps.secretsPath().replace(/\/+$/, '');
    if (!source.secretParam.startsWith(`${path}/`)) {
      log.error('webhook secret parameter outside the readable path', { source: name, parameter: source.secretParam, path });
      return undefined;
    }
    try {
      const secrets = await deps.secrets.get(source.secretParam);
      if (secrets === undefined) log.error('webhook secret parameter missing or empty', { source: name, parameter: source.secretParam });
      return secrets;
    } catch (error) {
      log.error('webhook secret could not be read', { source: name, parameter: source.secretParam, error });
      return undefined;
    }
  }

  /** One record for the refusals of a bucket this instance left out of the audit (`name` undefined: the unknown names' bucket). */
  function auditSuppressed(config: Config, name: string | undefined, source: WebhookSource | undefined, suppressed: Suppressed): Promise<void> {
    const { burst, perMinute } = WEBHOOK_REFUSAL_AUDIT_LIMIT;
    const from = name === undefined ? 'unknown sources' : 'this source';
    return auditRefusal(
      config,
      name ?? '(unknown sources)',
      source,
      `${suppressed.count} more refusal${suppressed.count === 1 ? '' : 's'} from ${from} not audited one by one (beyond ${burst} at once and ${perMinute} a minute), between ${suppressed.from} and ${suppressed.to}`,
      'denied',
      undefined,
      { suppressed: suppressed.count, from: suppressed.from, to: suppressed.to },
    );
  }

  /** A refused webhook in the audit: which source, why; never the secret, the signature or the body. */
  async function auditRefusal(
    config: Config,
    name: string,
    source: WebhookSource | undefined,
    reason: string,
    decision: AuditRecord['decision'] = 'denied',
    ticket?: Ticket,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    const teams = config.slack.teams;
    // An unknown name is the caller's text: kept only when it has a source's form (or is the unknown names' summary).
    const shown = SOURCE.test(name) || name === '(unknown sources)' ? name : '(not a source name)';
    const at = new Date(deps.now()).toISOString();
    await deps
      .audit()
      .record({
        id: randomUUID(),
        at,
        teamId: source?.team ?? teams[0]!,
        userId: webhookUserId(shown),
        channelId: source?.channel ?? '-',
        commandText: `POST /api/webhooks/${shown}`,
        via: 'webhook',
        ...(ticket ? { ticket: ticket.id, ...(ticket.url ? { ticketUrl: ticket.url } : {}) } : {}),
        decision,
        outcome: 'refused',
        reason,
        ...(detail ? { detail } : {}),
      })
      .catch((error: unknown) => log.error('webhook refusal could not be audited', { source: shown, error }));
  }
}
