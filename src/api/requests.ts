import { escapeText } from '../slack/format';

/**
 * The bodies of the signed API's requests, checked before anything else looks at them. What they
 * ask for becomes the same command text a person would type (`run backup.sh nightly`), parsed by
 * the same grammar and validators as Slack's: the API adds no second way to name things.
 */

export class BadRequestError extends Error {}

export interface ApiCommand {
  /** The words after `/ecs`, as Slack would send them (escaped, quoted where needed). */
  text: string;
  channelId: string;
  idempotencyKey: string;
  ticket?: string;
  /** The Slack workspace, when the bot serves more than one. */
  teamId?: string;
  /** A schedule's run: the time Scheduler scheduled it for (ISO 8601), told in the thread. */
  scheduledTime?: string;
  /** The body in one spelling, for the idempotency check (same key, other body → 409). */
  canonical: string;
}

const CHANNEL = /^[CG][A-Z0-9]{2,20}$/;
const TEAM = /^T[A-Z0-9]{2,20}$/;
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;
const TICKET = /^[\w.:#/-]{1,100}$/;
const NAME = /^[\w.@-]{1,64}$/;
const MAX_ARGS = 20;
const MAX_ARG_LENGTH = 500;
// Control characters (a newline would make a second line of the parent message).
// biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

type Body = Record<string, unknown>;

function object(raw: string): Body {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new BadRequestError('the body is not JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('the body must be a JSON object');
  return body as Body;
}

function only(body: Body, fields: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !fields.includes(k));
  if (unknown.length) throw new BadRequestError(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}`);
}

function str(body: Body, field: string, pattern: RegExp, required: true): string;
function str(body: Body, field: string, pattern: RegExp, required: false): string | undefined;
function str(body: Body, field: string, pattern: RegExp, required: boolean): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) {
    if (required) throw new BadRequestError(`${field} is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw new BadRequestError(`${field} must be a string`);
  if (!pattern.test(value)) throw new BadRequestError(`${field} is not valid (${String(pattern)})`);
  return value;
}

/** One argument as a word of the command: quoted when it has spaces, escaped as Slack escapes text. */
export function word(arg: string): string {
  if (arg.includes('"') && arg.includes("'")) throw new BadRequestError('an argument may not hold both kinds of quote');
  // Slack's “smart” quotes are read as quotes by the grammar: refuse them rather than misread them.
  if (/[\u2018\u2019\u201c\u201d]/.test(arg)) throw new BadRequestError('an argument may not hold typographic quotes');
  const escaped = escapeText(arg);
  if (arg !== '' && !/[\s"']/.test(arg)) return escaped;
  return arg.includes('"') ? `'${escaped}'` : `"${escaped}"`;
}

function args(body: Body): string[] {
  const value = body.args ?? [];
  if (!Array.isArray(value)) throw new BadRequestError('args must be an array of strings');
  if (value.length > MAX_ARGS) throw new BadRequestError(`at most ${MAX_ARGS} args`);
  return value.map((a, i) => {
    if (typeof a !== 'string') throw new BadRequestError(`args[${i}] must be a string`);
    if (a.length > MAX_ARG_LENGTH) throw new BadRequestError(`args[${i}] is longer than ${MAX_ARG_LENGTH} characters`);
    if (CONTROL.test(a)) throw new BadRequestError(`args[${i}] holds a control character`);
    return a;
  });
}

function common(body: Body): Omit<ApiCommand, 'text' | 'canonical'> {
  const ticket = str(body, 'ticket', TICKET, false);
  const teamId = str(body, 'team', TEAM, false);
  return {
    channelId: str(body, 'channel', CHANNEL, true),
    idempotencyKey: str(body, 'idempotencyKey', IDEMPOTENCY_KEY, true),
    ...(ticket ? { ticket } : {}),
    ...(teamId ? { teamId } : {}),
  };
}

const canonical = (fields: Record<string, unknown>): string =>
  JSON.stringify(Object.fromEntries(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b))));

/** `POST /api/runs` {script | job, args[], channel, idempotencyKey, ticket?, team?} */
export function runRequest(raw: string): ApiCommand {
  const body = object(raw);
  only(body, ['script', 'job', 'args', 'channel', 'idempotencyKey', 'ticket', 'team']);
  const script = str(body, 'script', NAME, false);
  const job = str(body, 'job', NAME, false);
  if ((script === undefined) === (job === undefined)) throw new BadRequestError('give either script or job');
  const list = args(body);
  const rest = common(body);
  const text = [script ? 'run' : 'job', script ?? job!, ...list].map((w, i) => (i < 2 ? w : word(w))).join(' ');
  return { ...rest, text, canonical: canonical({ kind: 'run', script, job, args: list, ...rest, idempotencyKey: undefined }) };
}

/** `POST /api/deploys` {service, image | tag, channel, idempotencyKey, ticket?, team?} */
export function deployRequest(raw: string): ApiCommand {
  const body = object(raw);
  only(body, ['service', 'image', 'tag', 'channel', 'idempotencyKey', 'ticket', 'team']);
  const service = str(body, 'service', NAME, true);
  const image = str(body, 'image', /^[^\s"']{1,300}$/, false);
  const tag = str(body, 'tag', /^[\w][\w.-]{0,127}$/, false);
  if ((image === undefined) === (tag === undefined)) throw new BadRequestError('give either image or tag');
  const rest = common(body);
  return {
    ...rest,
    text: `deploy ${service} ${word(image ?? tag!)}`,
    canonical: canonical({ kind: 'deploy', service, image, tag, ...rest, idempotencyKey: undefined }),
  };
}
