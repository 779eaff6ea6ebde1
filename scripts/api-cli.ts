/**
 * `ecs-chatops run | job | deploy | status` (bin/ecs-chatops.js): the bot's signed API from a
 * terminal or a CI job, signed with the caller's own AWS credentials (the SDK's default chain).
 * A request opens the usual thread in the channel and goes through the same allowlist, approvals
 * and audit as one typed in Slack; this prints its id and the thread's link and, with --wait,
 * follows it to its end and exits with the run's exit code.
 *
 * Results go to stdout (one JSON object with --json); usage, errors and notes go to stderr.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { formatDuration } from '../src/slack/format';
import { ApiError, ApiUnreachableError, CredentialsError, createApiClient, realSleep, type ApiAnswer } from './api-client';
import type { CliIo } from './verify';

/** The process's exit codes besides a script's own (documented in USAGE and the README). */
// The command line's own outcomes use the BSD sysexits codes (64 and up), which scripts rarely
// exit with, so a CI step can tell "refused" or "not finished" from the script's own 2 or 3.
export const EXIT = {
  ok: 0,
  /** The run failed with no exit code of its own (a deploy that failed or rolled back, a task that did not start). */
  failed: 1,
  /** Bad arguments, or the API said the request is not valid (400), names no request of yours (404) or reuses a key (409). */
  usage: 64,
  /** Refused: not on the allowlist or without the role (403), or refused by the bot once checked again. */
  refused: 77,
  /** Not approved (rejected, expired) or cancelled. */
  notApproved: 65,
  /** The API could not be reached or kept failing (network, 5xx, 429), or there are no AWS credentials to sign with. */
  unavailable: 69,
  /** Not finished: --wait gave up (--timeout), or `status` without --wait of a request still under way. */
  unfinished: 75,
} as const;

export const API_CLI_USAGE = `usage:
  ecs-chatops run <script> [args…] --channel <id> [options]    run a maintenance script
  ecs-chatops job <job> [args…] --channel <id> [options]       run a one-off job
  ecs-chatops deploy <service> <tag|image> --channel <id> [options]
  ecs-chatops status <request-id> [--wait]

Sends the request to the bot's signed API with your AWS credentials (the SDK's default chain:
AWS_ACCESS_KEY_ID…, AWS_PROFILE, SSO, a role in CI). It opens the usual thread in the channel,
under the same allowlist, approvals and audit as in Slack; this prints its id and thread link.
Arguments that start with - go after --: run backup.sh --channel C0OPS -- --dry-run

options:
  --channel <id>            the Slack channel's id (C0123ABCD; names are not looked up), or $ECS_CHATOPS_CHANNEL
  --wait                    follow the request to its end; the exit code follows the run's
  --timeout <30m|90s|2h>    how long --wait follows (default 60m)
  --ticket <ref>            the change ticket the thread names (CHG-1234)
  --idempotency-key <key>   the request's key (default: a new UUID, printed): the same key never runs twice
  --team <id>               the Slack workspace, when the bot serves several
  --endpoint <url>          the API, or $ECS_CHATOPS_API_URL (the stack's SlackEventsUrl without /slack/events)
  --region <region>         for signing, when the endpoint does not name it (else $AWS_REGION)
  --json                    one JSON object on stdout (id, state, exitCode, summary, durationMs, thread)
  -h, --help                this help

exit codes:
  0    success (without --wait: the request was accepted)
  n    the script's own non-zero exit code (with --wait or status)
  1    failed without an exit code of its own (a deploy that failed or rolled back)
  64   bad usage, or the API refused the request as invalid (400), unknown (404) or a reused key (409)
  65   not approved (rejected or expired) or cancelled
  69   the API could not be reached or kept failing, or no AWS credentials
  75   not finished: --wait timed out, or status of a request still under way
  77   refused: not on the allowlist or without the role (403)
  (the command line's own codes are sysexits' 64–78, which scripts rarely use; --json tells any case apart)
`;

export class UsageError extends Error {}

interface Common {
  json: boolean;
  wait: boolean;
  timeoutMs: number;
  endpoint: URL;
  region: string;
}

/** What is asked for, as the API's body will say it (without the idempotency key, chosen later). */
export type Submission =
  | { kind: 'run'; path: '/api/runs'; body: { script: string; args: string[] } | { job: string; args: string[] } }
  | { kind: 'deploy'; path: '/api/deploys'; body: { service: string } & ({ tag: string } | { image: string }) };

export type CliCommand =
  | { verb: 'help' }
  | ({ verb: 'submit'; submission: Submission; channel: string; ticket?: string; team?: string; idempotencyKey?: string } & Common)
  | ({ verb: 'status'; id: string } & Common);

const CHANNEL_ID = /^[CG][A-Z0-9]{2,20}$/;
const REQUEST_ID = /^[A-Za-z0-9-]{1,64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const LOCAL_HOST = /^(127\.0\.0\.1|localhost|\[::1\])$/;
const DEFAULT_TIMEOUT_MS = 60 * 60_000;

/** The API's region from its default host name (`<id>.execute-api.<region>.amazonaws.com`). */
const regionOfHost = (host: string) => /^[a-z0-9]+\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?$/.exec(host)?.[1];

/** `30m`, `90s`, `2h`, or seconds. */
export function parseTimeout(text: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) throw new UsageError(`--timeout ${text}: give a duration such as 90s, 30m or 2h`);
  return Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

function parseCliArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      channel: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      ticket: { type: 'string' },
      'idempotency-key': { type: 'string' },
      team: { type: 'string' },
      endpoint: { type: 'string' },
      region: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** `argv` starts with the verb (run, job, deploy, status); `env` gives the defaults named in USAGE. */
export function parseCommand(argv: string[], env: Record<string, string | undefined>): CliCommand {
  const [verb, ...rest] = argv;
  let parsed: ReturnType<typeof parseCliArgs>;
  try {
    parsed = parseCliArgs(rest);
  } catch (error) {
    const hint = /Unknown option/.test((error as Error).message) ? ' (a script argument that starts with - goes after --)' : '';
    throw new UsageError(`${(error as Error).message}${hint}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { verb: 'help' };
  if (verb !== 'run' && verb !== 'job' && verb !== 'deploy' && verb !== 'status') throw new UsageError(`unknown command ${verb ?? '(none)'}`);

  const common = (): Common => ({
    json: Boolean(values.json),
    wait: Boolean(values.wait),
    timeoutMs: values.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseTimeout(values.timeout),
    ...endpointAndRegion(values.endpoint ?? env.ECS_CHATOPS_API_URL, values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION),
  });

  if (verb === 'status') {
    const [id, ...extra] = positionals;
    if (!id) throw new UsageError('which request? status <request-id>');
    if (extra.length) throw new UsageError(`one request at a time (got ${positionals.join(' ')})`);
    if (!REQUEST_ID.test(id)) throw new UsageError(`${id} is not a request id (letters, digits and -, as run and deploy print it)`);
    for (const flag of ['channel', 'ticket', 'idempotency-key', 'team'] as const)
      if (values[flag] !== undefined) throw new UsageError(`--${flag} is for run, job and deploy, not status`);
    return { verb: 'status', id, ...common() };
  }

  let submission: Submission;
  if (verb === 'deploy') {
    const [service, ref, ...extra] = positionals;
    if (!service || !ref) throw new UsageError('deploy <service> <tag|image>: which service, and which tag or image?');
    if (extra.length) throw new UsageError(`deploy takes a service and one tag or image (got ${positionals.join(' ')})`);
    // A bare tag (v1.5.0) is the service's repository at that tag; anything else (a repository, a digest) is an image.
    submission = { kind: 'deploy', path: '/api/deploys', body: { service, ...(TAG.test(ref) ? { tag: ref } : { image: ref }) } };
  } else {
    const [name, ...args] = positionals;
    if (!name) throw new UsageError(`${verb} <${verb === 'run' ? 'script' : 'job'}> [args…]: which ${verb === 'run' ? 'script' : 'job'}?`);
    submission = { kind: 'run', path: '/api/runs', body: verb === 'run' ? { script: name, args } : { job: name, args } };
  }

  const channel = values.channel ?? env.ECS_CHATOPS_CHANNEL;
  if (!channel) throw new UsageError('--channel is required: the id of the channel where the thread opens (C0123ABCD), or set ECS_CHATOPS_CHANNEL');
  if (!CHANNEL_ID.test(channel))
    throw new UsageError(
      `--channel ${channel}: give the channel's id (C0123ABCD), not its name; the API does not look names up. ` +
        'In Slack: open the channel, click its name, the id is at the bottom of About.',
    );
  const idempotencyKey = values['idempotency-key'];
  if (idempotencyKey !== undefined && !/^[A-Za-z0-9._:-]{1,128}$/.test(idempotencyKey))
    throw new UsageError(`--idempotency-key ${idempotencyKey}: up to 128 letters, digits and . _ : -`);
  return {
    verb: 'submit',
    submission,
    channel,
    ...(values.ticket !== undefined ? { ticket: values.ticket } : {}),
    ...(values.team !== undefined ? { team: values.team } : {}),
    ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    ...common(),
  };
}

function endpointAndRegion(given: string | undefined, regionGiven: string | undefined): { endpoint: URL; region: string } {
  if (!given) throw new UsageError("where is the bot's API? give --endpoint https://<api-id>.execute-api.<region>.amazonaws.com or set ECS_CHATOPS_API_URL");
  let endpoint: URL;
  try {
    endpoint = new URL(given);
  } catch {
    throw new UsageError(`--endpoint ${given} is not a URL`);
  }
  // Plain http only to this machine (the local world); credentials-signed requests go over TLS.
  if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && LOCAL_HOST.test(endpoint.hostname)))
    throw new UsageError(`--endpoint ${given} must be https:// (http:// only for this machine)`);
  if (endpoint.search || endpoint.hash) throw new UsageError(`--endpoint ${given}: the API's base URL, without ? or #`);
  const region = regionOfHost(endpoint.hostname) ?? regionGiven;
  if (!region) throw new UsageError(`which region signs for ${endpoint.host}? give --region or set AWS_REGION`);
  return { endpoint, region };
}

/** A request's state as GET /api/runs/{id} answers it. */
export interface RequestStatus {
  id: string;
  state: string;
  exitCode?: number;
  summary?: string;
  durationMs?: number;
  thread: { channel: string; ts: string; permalink?: string } | null;
  replayed?: boolean;
}

const IN_FLIGHT = new Set(['accepted', 'unconfirmed']);
export const isFinished = (status: Pick<RequestStatus, 'state'>) => !IN_FLIGHT.has(status.state);

/** The process exit code for a request that ended (see EXIT). */
export function exitCodeOf(status: Pick<RequestStatus, 'state' | 'exitCode'>): number {
  const code = typeof status.exitCode === 'number' && Number.isInteger(status.exitCode) ? status.exitCode : undefined;
  switch (status.state) {
    case 'success':
    case 'answered':
      return EXIT.ok;
    case 'warning':
      return code && code > 0 && code < 256 ? code : EXIT.ok;
    case 'failure':
      return code && code > 0 && code < 256 ? code : EXIT.failed;
    case 'cancelled':
      return EXIT.notApproved;
    case 'refused':
      return EXIT.refused;
    case 'error':
      return EXIT.unavailable;
    default:
      return IN_FLIGHT.has(status.state) ? EXIT.unfinished : EXIT.failed;
  }
}

/** The exit code for an API error answer (after the client's retries). */
export function exitCodeOfApiError(error: ApiError): number {
  if (error.status === 400 || error.status === 404 || error.status === 409) return EXIT.usage;
  if (error.status === 401 || error.status === 403) return EXIT.refused;
  return EXIT.unavailable;
}

export interface ApiCliDeps {
  env: Record<string, string | undefined>;
  /** The AWS credentials to sign with; by default the SDK's default chain (env, profile, SSO, container, instance). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  newKey?: () => string;
}

/** How long, after the request is accepted, the thread's link is looked for (the worker opens it within a second or two). */
const THREAD_WAIT_MS = 15_000;
/** Polls of --wait: 2 s, growing to 10 s (the API lets a caller 10 requests a minute once its burst is spent). */
const firstPollMs = 2_000;
const maxPollMs = 10_000;

export async function main(argv: string[], io: CliIo, deps: ApiCliDeps = { env: process.env }): Promise<number> {
  const stderr = io.stderr ?? io.stdout;
  const name = `ecs-chatops ${argv[0] ?? ''}`.trim();
  let command: CliCommand;
  try {
    command = parseCommand(argv, deps.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr(`${name}: ${error.message}\n${name} --help shows the options and exit codes.\n`);
    return EXIT.usage;
  }
  if (command.verb === 'help') {
    io.stdout(API_CLI_USAGE);
    return EXIT.ok;
  }
  const json = command.json;
  const out = createOutput(io, stderr, json);
  const sleep = deps.sleep ?? realSleep;
  const now = deps.now ?? Date.now;
  const credentials = deps.credentials ?? (await defaultCredentials());
  const client = createApiClient({ endpoint: command.endpoint, region: command.region, credentials, sleep, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  const get = async (id: string) => toStatus(await client.request('GET', `/api/runs/${id}`));

  let idempotencyKey: string | undefined;
  try {
    let status: RequestStatus;
    if (command.verb === 'submit') {
      idempotencyKey = command.idempotencyKey ?? (deps.newKey ?? randomUUID)();
      // Said before sending: whatever happens next, the same key retries without running twice.
      out.note(`idempotency key ${idempotencyKey} (to retry this request without running it twice: --idempotency-key ${idempotencyKey})`);
      const answer = await client.request('POST', command.submission.path, {
        ...command.submission.body,
        channel: command.channel,
        idempotencyKey,
        ...(command.ticket !== undefined ? { ticket: command.ticket } : {}),
        ...(command.team !== undefined ? { team: command.team } : {}),
      });
      status = toStatus(answer);
      out.line(status.replayed ? `request ${status.id} (already made with this idempotency key: not run again)` : `request ${status.id} accepted`);
      const deadline = now() + THREAD_WAIT_MS;
      for (let pause = 500; !status.thread && !isFinished(status) && now() < deadline; pause = Math.min(pause * 2, 4_000)) {
        await sleep(pause);
        status = await get(status.id);
      }
      out.line(status.thread ? `thread: ${threadLink(status.thread)}` : `thread: not open yet; ecs-chatops status ${status.id} shows it once it is`);
    } else {
      status = await get(command.id);
      out.line(`request ${status.id}: ${status.state}${status.thread ? `, thread: ${threadLink(status.thread)}` : ''}`);
    }

    if (command.wait && !isFinished(status)) {
      const deadline = now() + command.timeoutMs;
      for (let pause = firstPollMs; !isFinished(status) && now() < deadline; pause = Math.min(Math.round(pause * 1.5), maxPollMs)) {
        await sleep(Math.min(pause, Math.max(0, deadline - now())));
        status = await get(status.id);
      }
    }
    out.result({ ...status, ...(idempotencyKey ? { idempotencyKey } : {}) });
    // Without --wait, run and deploy succeed once the request is accepted, however it ends.
    const accepting = command.verb === 'submit' && !command.wait;
    if (!isFinished(status)) {
      if (accepting) return EXIT.ok;
      out.note(
        command.wait
          ? `still ${status.state} after ${formatDuration(command.timeoutMs)}; it goes on: ecs-chatops status ${status.id} --wait`
          : `still ${status.state}; ecs-chatops status ${status.id} --wait follows it to its end`,
      );
      return EXIT.unfinished;
    }
    out.line(outcomeLine(status));
    return accepting ? EXIT.ok : exitCodeOf(status);
  } catch (error) {
    const retry = idempotencyKey ? ` Retrying with --idempotency-key ${idempotencyKey} never runs it twice.` : '';
    if (error instanceof ApiError) {
      out.error(error.code ?? `http_${error.status}`, `${name}: ${apiErrorText(error)}${error.status === 429 || error.status >= 500 ? retry : ''}`);
      return exitCodeOfApiError(error);
    }
    if (error instanceof ApiUnreachableError) {
      out.error('unreachable', `${name}: ${error.message}.${retry}`);
      return EXIT.unavailable;
    }
    if (error instanceof CredentialsError) {
      out.error('no_credentials', `${name}: ${error.message} (check with: aws sts get-caller-identity)`);
      return EXIT.unavailable;
    }
    throw error;
  }
}

async function defaultCredentials(): Promise<AwsCredentialIdentityProvider> {
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node');
  return defaultProvider();
}

function toStatus(answer: ApiAnswer): RequestStatus {
  const b = answer.body;
  if (typeof b.id !== 'string' || typeof b.state !== 'string')
    throw new ApiUnreachableError(`the API answered ${answer.status} without a request id and state`);
  const thread = b.thread && typeof b.thread === 'object' ? (b.thread as RequestStatus['thread']) : null;
  return {
    id: b.id,
    state: b.state,
    ...(typeof b.exitCode === 'number' ? { exitCode: b.exitCode } : {}),
    ...(typeof b.summary === 'string' ? { summary: b.summary } : {}),
    ...(typeof b.durationMs === 'number' ? { durationMs: b.durationMs } : {}),
    thread,
    ...(b.replayed === true ? { replayed: true } : {}),
  };
}

/** Text from the API (a script's summary, a message) shown in a terminal: no control characters, so no escape sequences. */
const terminalSafe = (text: string) => text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');

const threadLink = (thread: NonNullable<RequestStatus['thread']>) => terminalSafe(thread.permalink ?? `channel ${thread.channel}, message ${thread.ts}`);

function apiErrorText(error: ApiError): string {
  const what =
    {
      400: 'the request is not valid',
      401: 'not signed',
      403: 'refused',
      404: 'not found',
      409: 'conflict',
      429: 'too many requests',
    }[error.status] ?? `HTTP ${error.status}`;
  return `${what}: ${terminalSafe(error.message)}`;
}

export function outcomeLine(status: RequestStatus): string {
  const parts = [status.state];
  if (status.exitCode !== undefined) parts.push(`exit ${status.exitCode}`);
  if (status.durationMs !== undefined) parts.push(`after ${formatDuration(status.durationMs)}`);
  return `${parts.join(', ')}${status.summary ? `: ${terminalSafe(status.summary)}` : ''}`;
}

/** Human lines on stdout, or (--json) one object at the end; notes and errors on stderr either way. */
function createOutput(io: CliIo, stderr: (s: string) => void, json: boolean) {
  return {
    line: (text: string) => void (!json && io.stdout(`${text}\n`)),
    note: (text: string) => stderr(`${text}\n`),
    result: (status: RequestStatus & { idempotencyKey?: string }) => void (json && io.stdout(`${JSON.stringify(status)}\n`)),
    error: (code: string, message: string) => {
      stderr(`${message}\n`);
      if (json) io.stdout(`${JSON.stringify({ error: code, message })}\n`);
    },
  };
}
