import { BadRequestError, canonical, checkArgument, IMAGE_TAG, word, type ApiCommand } from '../api/requests';
import type { ArgumentSource, WebhookAction, WebhookSource } from '../config/webhooks-schema';

/**
 * A ticket as a webhook sends it, and the one declared action it selects. The body is ours, not
 * the ticket system's: its automation rule fills it from the ticket (Jira's "Send web request"
 * with a custom body, ServiceNow's REST message), so it is small and strict:
 *
 *   {"ticket": {"id": "CHG-1234", "url": "https://jira.example.com/browse/CHG-1234"},
 *    "fields": {"type": "maintenance", "status": "approved", "label": "nightly"}}
 *
 * The fields choose among the source's declared actions and fill their declared argument slots;
 * nothing in a ticket is ever a command, a script name or a service.
 */

export interface Ticket {
  id: string;
  /** https only; without `<`, `>`, `|` or spaces, so it is a link and nothing else in Slack. */
  url?: string;
  fields: Record<string, string>;
}

const TICKET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_FIELDS = 100;
const MAX_URL = 500;

export function parseTicket(raw: string): Ticket {
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw new BadRequestError('the body is not JSON');
  }
  if (!isObject(body)) throw new BadRequestError('the body must be a JSON object');
  const unknown = Object.keys(body).filter((k) => k !== 'ticket' && k !== 'fields');
  if (unknown.length) throw new BadRequestError(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')} (expected ticket and fields)`);
  const ticket = body.ticket;
  if (!isObject(ticket)) throw new BadRequestError('ticket must be an object with id and url');
  if (typeof ticket.id !== 'string' || !TICKET_ID.test(ticket.id)) throw new BadRequestError(`ticket.id is not valid (${String(TICKET_ID)})`);
  const url = ticket.url === undefined || ticket.url === null ? undefined : ticketUrl(ticket.url);
  const fields = body.fields ?? {};
  if (!isObject(fields)) throw new BadRequestError('fields must be an object of strings');
  const entries = Object.entries(fields);
  if (entries.length > MAX_FIELDS) throw new BadRequestError(`at most ${MAX_FIELDS} fields`);
  const values: Record<string, string> = Object.create(null);
  for (const [name, value] of entries) {
    if (value === null) continue;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      throw new BadRequestError(`fields.${name} must be a string, a number or a boolean`);
    values[name] = checkArgument(String(value), `fields.${name}`);
  }
  return { id: ticket.id, ...(url ? { url } : {}), fields: values };
}

/** A link back to the ticket: https, parsed, and free of what Slack would read as markup. */
function ticketUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_URL) throw new BadRequestError(`ticket.url must be an https URL of at most ${MAX_URL} characters`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new BadRequestError('ticket.url is not a URL');
  }
  if (url.protocol !== 'https:') throw new BadRequestError('ticket.url must be an https URL');
  if (url.username || url.password) throw new BadRequestError('ticket.url may not carry credentials');
  // The parser percent-encodes spaces and quotes; what it leaves that Slack reads as markup, we encode.
  return url.href.replace(/\|/g, '%7C').replace(/</g, '%3C').replace(/>/g, '%3E');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first declared action whose every condition the ticket's fields meet. */
export function matchAction(source: WebhookSource, ticket: Ticket): WebhookAction | undefined {
  return source.actions.find((action) =>
    Object.entries(action.when).every(([field, expected]) => {
      const value = Object.hasOwn(ticket.fields, field) ? ticket.fields[field] : undefined;
      return value !== undefined && (Array.isArray(expected) ? expected.includes(value) : expected === value);
    }),
  );
}

/** A slot's value: a fixed one, or the ticket's field (undefined when the ticket lacks it or leaves it empty). */
function slot(source: ArgumentSource, ticket: Ticket): string | undefined {
  if ('value' in source) return source.value;
  const value = Object.hasOwn(ticket.fields, source.field) ? ticket.fields[source.field] : undefined;
  return value === '' ? undefined : value;
}

/**
 * The command the action stands for, as the words a person would type (then parsed, validated and
 * authorised as a person's are, by `submit`), keyed by the ticket and the action: a ticket
 * system's retry, or the same transition again, never runs it twice.
 */
export function ticketCommand(source: WebhookSource, action: WebhookAction, ticket: Ticket): ApiCommand {
  let words: string[];
  if (action.deploy !== undefined) {
    const tag = slot(action.tag!, ticket);
    const from = 'field' in action.tag! ? `fields.${action.tag.field}` : 'the tag';
    if (tag === undefined) throw new BadRequestError(`${from} is missing: action ${action.name} deploys the tag it holds`);
    if (!IMAGE_TAG.test(tag)) throw new BadRequestError(`${from} is not an image tag (${String(IMAGE_TAG)})`);
    words = ['deploy', action.deploy, word(tag)];
  } else {
    const values = action.args.map((a) => slot(a, ticket));
    // A missing field ends the arguments (a script's trailing optional ones); one given after it is a mistake.
    const given = values.findIndex((v) => v === undefined);
    const args = (given === -1 ? values : values.slice(0, given)) as string[];
    const later = given === -1 ? -1 : values.findIndex((v, i) => i > given && v !== undefined);
    if (later !== -1) {
      const gap = action.args[given]!;
      throw new BadRequestError(`${'field' in gap ? `fields.${gap.field}` : 'an argument'} is missing, but a later argument of action ${action.name} is given`);
    }
    words = [action.run !== undefined ? 'run' : 'job', (action.run ?? action.job)!, ...args.map((a, i) => word(checkArgument(a, `argument ${i + 1}`)))];
  }
  const text = words.join(' ');
  return {
    text,
    channelId: source.channel,
    idempotencyKey: `${ticket.id}:${action.name}`,
    ticket: ticket.id,
    ...(source.team ? { teamId: source.team } : {}),
    canonical: canonical({ action: action.name, text, channel: source.channel }),
  };
}
