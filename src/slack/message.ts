/** A message as Slack's Web API and response_url take it: text, and blocks when there are any. */
export interface SlackMessage {
  text: string;
  blocks?: unknown[];
}
