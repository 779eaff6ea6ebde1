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
}

export const commandText = (inv: Pick<Invocation, 'command' | 'text'>): string => `${inv.command} ${inv.text}`.trim();
