/**
 * The notifier's Slack: post, edit, permalink, through the bot's WebClient (imported on the first
 * event, not at cold start). A rate-limited call waits Slack's Retry-After and tries again while
 * the invocation has time left; beyond that it fails, and Lambda's retry (then the failure queue)
 * takes over, so an event is never silently lost.
 */
import type { WebClient } from '@slack/web-api';
import type { NotifySlack } from './notifier';
import type { SlackMessage } from './render';

/** Leave this much of the invocation for the rest of the event's work. */
const MARGIN_MS = 5_000;

const retryAfterMs = (error: unknown): number | undefined => {
  const e = error as { code?: string; retryAfter?: number };
  return e.code === 'slack_webapi_rate_limited_error' && typeof e.retryAfter === 'number' ? e.retryAfter * 1000 : undefined;
};

export function slackNotifier(client: WebClient, remainingMs: () => number): NotifySlack {
  async function call<T>(work: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await work();
      } catch (error) {
        const wait = retryAfterMs(error);
        if (wait === undefined || wait > remainingMs() - MARGIN_MS) throw error;
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }
  const body = (message: SlackMessage) => ({ text: message.text, ...(message.blocks ? { blocks: message.blocks as never } : {}) });
  return {
    async post(channel, message, threadTs) {
      const out = await call(() =>
        client.chat.postMessage({ channel, ...body(message), ...(threadTs ? { thread_ts: threadTs } : {}), unfurl_links: false, unfurl_media: false }),
      );
      if (!out.ts) throw new Error('chat.postMessage returned no ts');
      return out.ts;
    },
    async update(channel, ts, message) {
      await call(() => client.chat.update({ channel, ts, ...body(message) }));
    },
    async permalink(channel, ts) {
      try {
        return (await call(() => client.chat.getPermalink({ channel, message_ts: ts }))).permalink;
      } catch {
        return undefined;
      }
    },
  };
}
