import { LogLevel, WebClient } from '@slack/web-api';
import { slackApiUrl } from '../config/env';

/**
 * The bot's Slack Web API client. SLACK_API_URL points it at a local Slack in tests and the
 * local world. Rate-limited calls are rejected rather than slept on: a Lambda must not sleep
 * past its deadline, so ThreadOutput decides whether a Retry-After still fits.
 */
export function createSlackClient(token: string): WebClient {
  const apiUrl = slackApiUrl();
  return new WebClient(token, {
    ...(apiUrl ? { slackApiUrl: apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/` } : {}),
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, factor: 2, minTimeout: 100, maxTimeout: 1000 },
    logLevel: LogLevel.ERROR,
    timeout: 10_000,
  });
}

/** A link to a message (a thread's parent), or undefined when Slack will not give one. */
export async function permalink(slack: WebClient, channel: string, ts: string): Promise<string | undefined> {
  try {
    return (await slack.chat.getPermalink({ channel, message_ts: ts })).permalink;
  } catch {
    return undefined;
  }
}
