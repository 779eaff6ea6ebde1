import { code } from './format';

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
  origin?: { via: 'api'; principal: string; session?: string; ticket?: string };
}

export const commandText = (inv: Pick<Invocation, 'command' | 'text'>): string => `${inv.command} ${inv.text}`.trim();

/**
 * Who asked, in Slack text: a person's mention, or an IAM principal (the signed API) as code: never
 * a mention, since it is nobody in the workspace. Ticket references are the caller's text: escaped.
 */
export function requesterText(inv: Pick<Invocation, 'userId' | 'origin'>): string {
  if (!inv.userId.startsWith('iam:')) return mention(inv.userId);
  const who = `IAM principal ${mention(inv.userId)}${inv.origin?.session ? ` (session ${code(inv.origin.session)})` : ''}`;
  return inv.origin?.ticket ? `${who} for ticket ${code(inv.origin.ticket)}` : who;
}

/**
 * Someone by id alone: a person's mention, an IAM principal (`iam:<ARN>`, the signed API) as its ARN
 * in code, an allowlist entry for IAM principals (`iamp:<ARN pattern>`) as its pattern.
 */
export const mention = (userId: string): string =>
  userId.startsWith('iam:')
    ? code(userId.slice('iam:'.length))
    : userId.startsWith('iamp:')
      ? `IAM principals ${code(userId.slice('iamp:'.length))}`
      : `<@${userId}>`;
