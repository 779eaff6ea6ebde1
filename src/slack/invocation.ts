import { code, escapeText } from './format';

/** Kept apart from the registry: what only echoes a request (the worker's handlers, the crash report) does not load every verb. */

/** One slash-command request as Slack sent it. */
export interface Invocation {
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  channelName?: string;
  /** The slash command itself, `/ecs`. */
  command: string;
  /** What followed it: `status web`. */
  text: string;
  responseUrl?: string;
  triggerId?: string;
  /**
   * A request from another system (the signed API, src/api/): who sent it beyond the userId
   * `iam:<principal ARN>` it travels as, and the ticket it names. Absent for a person in Slack.
   */
  origin?: { via: 'api'; principal: string; session?: string; ticket?: string } | WebhookOrigin | ScheduleOrigin;
}

/** A request from a ticket system's webhook (src/webhooks/): userId `webhook:<source>`, the ticket it came from. */
export interface WebhookOrigin {
  via: 'webhook';
  source: string;
  ticket: string;
  /** Checked by src/webhooks/ticket.ts: https, no markup characters. */
  ticketUrl?: string;
}

/** The synthetic user id a webhook source's requests travel, are authorised and audited under. */
export const WEBHOOK_USER_PREFIX = 'webhook:';
export const webhookUserId = (source: string): string => `${WEBHOOK_USER_PREFIX}${source}`;

export const commandText = (inv: Pick<Invocation, 'command' | 'text'>): string => `${inv.command} ${inv.text}`.trim();

/**
 * Who asked, in Slack text: a person's mention, or an IAM principal (the signed API) as code: never
 * a mention, since it is nobody in the workspace. Ticket references are the caller's text: escaped.
 */
export function requesterText(inv: Pick<Invocation, 'userId' | 'origin'>): string {
  if (inv.origin?.via === 'webhook') return `${mention(inv.userId)} for ticket ${ticketLink(inv.origin)}`;
  if (inv.origin?.via === 'schedule') return scheduledRunText(inv.origin);
  if (!inv.userId.startsWith('iam:')) return mention(inv.userId);
  const origin = inv.origin?.via === 'api' ? inv.origin : undefined;
  const who = `IAM principal ${mention(inv.userId)}${origin?.session ? ` (session ${code(origin.session)})` : ''}`;
  return origin?.ticket ? `${who} for ticket ${code(origin.ticket)}` : who;
}

/**
 * Someone by id alone: a person's mention, an IAM principal (`iam:<ARN>`, the signed API) as its ARN
 * in code, an allowlist entry for IAM principals (`iamp:<ARN pattern>`) as its pattern.
 */
export const mention = (userId: string): string =>
  userId.startsWith(WEBHOOK_USER_PREFIX)
    ? `ticket source ${code(userId.slice(WEBHOOK_USER_PREFIX.length))}`
    : userId.startsWith('iam:')
      ? code(userId.slice('iam:'.length))
      : userId.startsWith('iamp:')
        ? `IAM principals ${code(userId.slice('iamp:'.length))}`
        : userId.startsWith('schedule:')
          ? `schedule ${code(userId.slice('schedule:'.length))}`
          : `<@${userId}>`;

/**
 * The ticket as a link back to it: the id (escaped) as the label of its URL. The URL was checked
 * when the webhook was read (https, no `<`, `>`, `|` or spaces), and is escaped here as Slack wants
 * `&` in a link; without one, the id in code.
 */
export function ticketLink(origin: Pick<WebhookOrigin, 'ticket' | 'ticketUrl'>): string {
  if (!origin.ticketUrl || /[\s<>|]/.test(origin.ticketUrl)) return code(origin.ticket);
  return `<${origin.ticketUrl.replace(/&/g, '&amp;')}|${escapeText(origin.ticket)}>`;
}

// ---- schedules (src/schedules/) --------------------------------------------------------------
/** A run EventBridge Scheduler started: the schedule (`schedule:<name>` is its user id) and the time it was scheduled for. */
export interface ScheduleOrigin {
  via: 'schedule';
  schedule: string;
  scheduledTime?: string;
  /** As declared, for the parent message (`cron(0 2 * * ? *)`, its time zone). */
  expression?: string;
  timezone?: string;
}

/** "⏰ Scheduled run of `nightly-backup` (`cron(0 2 * * ? *)` Europe/Paris, declared in the configuration)": never a mention. */
export function scheduledRunText(origin: ScheduleOrigin): string {
  const when = origin.expression ? `${code(origin.expression)}${origin.timezone ? ` ${code(origin.timezone)}` : ''}, ` : '';
  return `⏰ Scheduled run of ${code(origin.schedule)} (${when}declared in the configuration${origin.scheduledTime ? `; due ${code(origin.scheduledTime)}` : ''})`;
}
