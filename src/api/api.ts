import { createHash, randomUUID } from 'node:crypto';
import { declaredLabels, labelsWithDiscovered, withLabels } from '../fleet/memory-catalog';
import type { FleetService } from '../fleet/types';
import type { AuditKey, AuditLog, AuditRecord } from '../audit/audit';
import type { AllowlistStore } from '../auth/allowlist';
import { authorise } from '../auth/authorise';
import { isAllowed, type AllowlistEntry } from '../auth/roles';
import { parseRequest, undeclaredAliasOf, UnknownNameError, UnknownScriptError, visibilityOf, type ParsedRequest } from '../commands/registry';
import { UndeclaredServiceError } from '../commands/verb';
import type { Config } from '../config/schema';
import { json, rawBody, type HttpEvent, type HttpResult } from '../ingress/http';
import { UserFacingError } from '../platform/errors';
import { commandJob, type JobDispatcher } from '../platform/jobs';
import { log } from '../platform/logger';
import type { StateStore } from '../platform/state';
import { apiIdempotencyKey, apiRequestKey } from '../platform/state-keys';
import { typedPlain } from '../slack/format';
import { commandText, type Invocation } from '../slack/invocation';
import { principalFromArn, principalUserId, type IamAuthorizerContext, type Principal } from './principal';
import type { RateLimiter } from './rate-limit';
import { BadRequestError, deployRequest, runRequest, type ApiCommand } from './requests';
import type { Requester } from './requester';

/** A payload 2.0 event of a route with IAM authorization (API Gateway fills `authorizer.iam`). */
export interface ApiEvent extends HttpEvent {
  routeKey?: string;
  pathParameters?: Record<string, string | undefined>;
  requestContext?: HttpEvent['requestContext'] & { authorizer?: { iam?: IamAuthorizerContext } };
}

export interface ApiDeps {
  config: () => Config;
  allowlist: AllowlistStore;
  audit: () => AuditLog;
  jobs: JobDispatcher;
  state: StateStore;
  rateLimiter: RateLimiter;
  /** One audit record (strongly consistent): where a request's thread is and how it ended. */
  readAudit: (key: AuditKey) => Promise<AuditRecord | undefined>;
  /**
   * The fleet's catalog (with `fleet:` configured): a service a request names that is not declared
   * is read here (one GetItem), so a discovered-only alias is told apart from an unknown one.
   * Absent for callers that can name declared targets only (webhook actions, schedules).
   */
  catalog?: { get(alias: string): Promise<FleetService | undefined> };
  now: () => number;
}

/** Idempotency keys are remembered a day: a caller retrying later than that is making a new request. */
const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** How long `GET /api/runs/{id}` answers for a request. */
const REQUEST_TTL_SECONDS = 30 * 24 * 3600;

/** What API Gateway itself answers when the IAM authorizer refuses (and what we answer for a caller we cannot name). */
const FORBIDDEN = { message: 'Forbidden' } as const;

const error = (statusCode: number, code: string, message: string, headers: Record<string, string> = {}): HttpResult => {
  const result = json(statusCode, { error: code, message });
  return { ...result, headers: { ...result.headers, ...headers } };
};

function iamRequester(principal: Principal, command: Pick<ApiCommand, 'ticket'>): Requester {
  return {
    userId: principalUserId(principal),
    name: principal.arn,
    ...(principal.session ? { userName: principal.session } : {}),
    origin: {
      via: 'api',
      principal: principal.arn,
      ...(principal.session ? { session: principal.session } : {}),
      ...(command.ticket ? { ticket: command.ticket } : {}),
    },
    audit: { via: 'api', principal: principal.callerArn, ...(command.ticket ? { ticket: command.ticket } : {}) },
  };
}

/** The request record kept for `GET /api/runs/{id}`. */
interface RequestRecord extends Record<string, unknown> {
  id: string;
  principal: string;
  teamId: string;
  channelId: string;
  target?: string;
  script?: string;
  verb: string;
  auditPk: string;
  auditSk: string;
}

/**
 * The entry point for work from outside Slack: a principal (an IAM caller here; a schedule or a
 * webhook source later) names a command, which is parsed, authorised, audited and handed to the
 * worker exactly as a slash command is. The worker opens the thread in the channel and every
 * approval happens there, by people.
 */
export function createApi(deps: ApiDeps) {
  return { handle, submit };

  async function handle(event: ApiEvent): Promise<HttpResult> {
    const callerArn = event.requestContext?.authorizer?.iam?.userArn;
    const principal = callerArn ? principalFromArn(callerArn) : undefined;
    // API Gateway lets no unsigned request through; a caller it names that we cannot is refused the same way.
    if (!principal) {
      log.warn('api request without a principal we serve', { callerArn });
      return json(403, FORBIDDEN);
    }
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath ?? '';
    const limited = await deps.rateLimiter.take(principal.arn);
    if (!limited.allowed) {
      return error(429, 'rate_limited', `Too many requests from ${principal.arn}; try again in ${limited.retryAfterSeconds} s.`, {
        'retry-after': String(limited.retryAfterSeconds),
      });
    }
    if (method === 'POST' && path === '/api/runs') return post(principal, event, runRequest);
    if (method === 'POST' && path === '/api/deploys') return post(principal, event, deployRequest);
    const read = /^\/api\/runs\/([A-Za-z0-9-]{1,64})$/.exec(path);
    if (method === 'GET' && read) return status(principal, event.pathParameters?.id ?? read[1]!);
    return error(404, 'not_found', `No route ${method} ${path}.`);
  }

  async function post(principal: Principal, event: ApiEvent, parse: (raw: string) => ApiCommand): Promise<HttpResult> {
    let command: ApiCommand;
    try {
      command = parse(rawBody(event));
    } catch (e) {
      if (e instanceof BadRequestError) return error(400, 'bad_request', e.message);
      throw e;
    }
    const result = await submit(principal, command);
    return json(result.statusCode, result.body);
  }

  /**
   * One command from a principal: the allowlist (deny by default), the idempotency key, the same
   * parse and authorisation as Slack's, the audit record, the worker. Never throws for bad input.
   */
  async function submit(principal: Principal | Requester, command: ApiCommand): Promise<{ statusCode: number; body: Record<string, unknown> }> {
    const config = deps.config();
    const fail = (statusCode: number, code: string, message: string) => ({ statusCode, body: { error: code, message } });
    const teams = config.slack.teams;
    const teamId = command.teamId ?? (teams.length === 1 ? teams[0] : undefined);
    if (!teamId) return fail(400, 'bad_request', 'team is required: the bot serves several Slack workspaces');
    if (!teams.includes(teamId)) return fail(400, 'bad_request', `the bot is not set up for workspace ${teamId}`);

    const requester = 'userId' in principal ? principal : iamRequester(principal, command);
    const { userId } = requester;
    const invocation: Invocation = {
      teamId,
      userId,
      channelId: command.channelId,
      command: config.slack.command,
      text: command.text,
      ...(requester.userName ? { userName: requester.userName } : {}),
      origin: requester.origin,
    };
    const attempt = {
      id: randomUUID(),
      at: new Date(deps.now()).toISOString(),
      teamId,
      userId,
      channelId: command.channelId,
      commandText: commandText(invocation),
      ...(requester.userName ? { userName: requester.userName } : {}),
      ...requester.audit,
    };
    const audit = (fields: Pick<AuditRecord, 'decision' | 'outcome'> & Partial<AuditRecord>) => deps.audit().record({ ...attempt, ...fields });

    // The catalog's read of an undeclared service the command names goes beside the allowlist read, never after it.
    const serviceRead = discoveredServiceOf(command.text, config);
    const entry = await deps.allowlist.get(teamId, userId);
    if (!entry || entry.grants.length === 0) {
      await audit({ decision: 'denied', outcome: 'refused', reason: 'unknown principal: no allowlist entry matches it' });
      return fail(
        403,
        'forbidden',
        requester.notAllowed ?? `${requester.name} is not on the allowlist. An admin can add it with \`/ecs allow ${requester.name} <role> …\`.`,
      );
    }

    const idemKey = apiIdempotencyKey(requester.name, command.idempotencyKey);
    const hash = createHash('sha256').update(command.canonical).digest('hex');
    const replay = async (): Promise<{ statusCode: number; body: Record<string, unknown> } | undefined> => {
      const first = await deps.state.get<{ id?: string; hash?: string }>(idemKey);
      if (!first?.id) return undefined;
      if (first.hash !== hash) return fail(409, 'conflict', `idempotencyKey ${command.idempotencyKey} was used for another request (${first.id})`);
      return { statusCode: 200, body: await describe(first.id, { replayed: true }) };
    };
    const earlier = await replay();
    if (earlier) return earlier;

    let discovered: FleetService | undefined;
    try {
      discovered = await serviceRead;
    } catch (e) {
      log.error('the fleet catalog could not be read', { error: e, alias: undeclaredAliasOf(command.text, config) });
      return fail(503, 'unavailable', "the fleet's catalog could not be read; nothing ran, try again");
    }

    let request: ParsedRequest;
    try {
      request = parseRequest(command.text, config, visibilityOf(config, entry, command.channelId, discovered));
    } catch (e) {
      if (!(e instanceof UserFacingError)) throw e;
      if (e instanceof UndeclaredServiceError) {
        // Visible to this principal, but only discovered: the same refusal and fix as in Slack. A 400 as every
        // request the bot cannot act on as given (the command line exits 64), with its own code to tell it apart.
        await audit({ decision: 'invalid', outcome: 'refused', reason: e.userMessage });
        return fail(400, 'undeclared_service', typedPlain(e.userMessage));
      }
      const hidden = (e instanceof UnknownNameError || e instanceof UnknownScriptError) && e.hidden;
      await audit({
        decision: hidden ? 'denied' : 'invalid',
        outcome: 'refused',
        reason: hidden ? `no role here on what the request names (answered as unknown): ${e.userMessage}` : e.userMessage,
      });
      return fail(400, 'bad_request', typedPlain(e.userMessage));
    }
    const scope = {
      verb: request.verb.name,
      ...(request.scope.target ? { target: request.scope.target } : {}),
      ...(request.scope.script ? { script: request.scope.script } : {}),
    };
    const decision = authorise(request, entry, command.channelId, labelsWithDiscovered(config, discovered));
    if (!decision.allowed) {
      await audit({ ...scope, decision: 'denied', outcome: 'refused', reason: decision.reason });
      return fail(403, 'forbidden', `not allowed: ${typedPlain(decision.reason)}`);
    }

    // Claimed before anything is recorded or run: of two concurrent requests with one key, one runs.
    if (!(await deps.state.claim(idemKey, IDEMPOTENCY_TTL_SECONDS, { id: attempt.id, hash }))) {
      return (await replay()) ?? fail(409, 'conflict', `idempotencyKey ${command.idempotencyKey} is being used by another request`);
    }
    let auditKey: AuditKey | undefined;
    try {
      auditKey = await audit({ ...scope, decision: 'allowed', outcome: 'accepted' });
      const record: RequestRecord = {
        id: attempt.id,
        principal: requester.name,
        teamId,
        channelId: command.channelId,
        verb: request.verb.name,
        ...(request.scope.target ? { target: request.scope.target } : {}),
        ...(request.scope.script ? { script: request.scope.script } : {}),
        auditPk: auditKey.pk,
        auditSk: auditKey.sk,
      };
      await deps.state.put(apiRequestKey(attempt.id), REQUEST_TTL_SECONDS, record);
      await deps.jobs.dispatch(commandJob(attempt.id, invocation, request, auditKey, deps.now()));
    } catch (e) {
      // Nothing ran: the key is free again for the caller's retry, and the record says why.
      await deps.state.release(idemKey).catch(() => undefined);
      if (auditKey)
        await deps
          .audit()
          .complete(auditKey, { outcome: 'error', reason: `the worker could not be invoked: ${(e as Error).name}` })
          .catch(() => undefined);
      log.error('api request could not be handed to the worker', { error: e, id: attempt.id });
      return fail(503, 'unavailable', 'the request could not be handed to the worker; nothing ran, try again');
    }
    return { statusCode: 202, body: { id: attempt.id, state: 'accepted', thread: null } };
  }

  /** The service only the fleet's catalog may know that the command names: read only with `fleet:` and a name not declared. */
  function discoveredServiceOf(text: string, config: Config): Promise<FleetService | undefined> {
    const alias = deps.catalog ? undeclaredAliasOf(text, config) : undefined;
    if (!alias || !deps.catalog) return Promise.resolve(undefined);
    const read = deps.catalog.get(alias);
    // Awaited only by a request that goes on (a principal on the allowlist): never an unhandled rejection.
    read.catch(() => undefined);
    return read;
  }

  /** `GET /api/runs/{id}`: for the principal that asked, or one that may read its service in its channel. */
  async function status(principal: Principal, id: string): Promise<HttpResult> {
    const record = await deps.state.get<RequestRecord>(apiRequestKey(id));
    const notFound = error(404, 'not_found', `No request ${id} that you may read.`);
    if (!record) return notFound;
    if (record.principal !== principal.arn) {
      const entry: AllowlistEntry | undefined = await deps.allowlist.get(record.teamId, principalUserId(principal));
      // Not theirs to read: answered as if it did not exist.
      if (
        !record.target ||
        !isAllowed(entry, 'read', withLabels({ channelId: record.channelId, service: record.target }, declaredLabels(deps.config()))).allowed
      )
        return notFound;
    }
    return json(200, await describe(id));
  }

  async function describe(id: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const record = await deps.state.get<RequestRecord>(apiRequestKey(id));
    const audited = record ? await deps.readAudit({ pk: record.auditPk, sk: record.auditSk }) : undefined;
    const exitCode = (audited?.detail as { exitCode?: unknown } | undefined)?.exitCode;
    const threadTs = audited?.threadTs;
    const permalink = audited?.threadLink;
    return {
      id,
      state: audited?.outcome ?? 'accepted',
      ...(typeof exitCode === 'number' ? { exitCode } : {}),
      ...(audited?.reason && audited.outcome !== 'accepted' ? { summary: audited.reason } : {}),
      ...(audited?.durationMs !== undefined ? { durationMs: audited.durationMs } : {}),
      thread: threadTs && record ? { channel: record.channelId, ts: threadTs, ...(permalink ? { permalink } : {}) } : null,
      ...extra,
    };
  }
}
