import type { SlackMessage } from '../slack/message';
import { slackApiUrl } from '../config/env';

/**
 * Posts an ephemeral message through a response_url (valid 30 minutes, 5 uses). With
 * `replaceOriginal`, it takes the place of the message the command or click produced.
 */
export async function respondViaUrl(responseUrl: string, message: SlackMessage, options: { replaceOriginal?: boolean } = {}): Promise<void> {
  await postToResponseUrl(responseUrl, { response_type: 'ephemeral', replace_original: options.replaceOriginal ?? false, ...message });
}

/** Deletes the ephemeral answer a slash command produced (its "⏳ Working on" note), through its response_url. */
export async function withdrawViaUrl(responseUrl: string): Promise<void> {
  await postToResponseUrl(responseUrl, { delete_original: true });
}

async function postToResponseUrl(responseUrl: string, body: Record<string, unknown>): Promise<void> {
  const url = new URL(responseUrl);
  // response_url must be Slack's (or, locally, the configured Slack stand-in): never post a message elsewhere.
  const slackStandIn = slackApiUrl();
  const allowed = [slackStandIn ? new URL(slackStandIn).host : 'hooks.slack.com'];
  if (!allowed.includes(url.host)) throw new Error(`refusing to post to unexpected response_url host ${url.host}`);
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`response_url answered ${res.status}`);
}
