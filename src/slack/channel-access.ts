/**
 * Whether the bot can post in the channel a slash command came from, asked of Slack
 * (conversations.info) while the ack is being prepared, so that a command typed where the bot
 * cannot answer is told so at once instead of promised a thread that never comes. A plain
 * `fetch`, not the WebClient: the ack's cold start stays small.
 */
import { slackApiUrl } from '../config/env';

/** Slack's reasons the bot cannot post (chat.postMessage would fail with the same error). */
export type ChannelRefusal = 'not_in_channel' | 'channel_not_found' | 'is_archived';

export type ChannelAccess = { canPost: true } | { canPost: false; slackError: ChannelRefusal } | { canPost: 'unknown' };

export type ChannelAccessCheck = (botToken: string, channelId: string) => Promise<ChannelAccess>;

const UNKNOWN: ChannelAccess = { canPost: 'unknown' };
/** A channel the bot could post in is not asked again for this long (a warm ingress). */
const REMEMBER_MS = 5 * 60_000;

/**
 * A check that remembers channels the bot can post in. Anything Slack does not answer plainly
 * (a timeout, a rate limit, a scope the app lacks) is `unknown`: the worker then finds out and
 * says so privately, as before. Direct messages are not asked (that needs im:read); the bot
 * answers in its own DMs, and in other people's the worker explains.
 */
export function channelAccessCheck(now: () => number = Date.now): ChannelAccessCheck {
  const postable = new Map<string, number>();
  return async (botToken, channelId) => {
    if (channelId.startsWith('D')) return UNKNOWN;
    const until = postable.get(channelId);
    if (until !== undefined && until > now()) return { canPost: true };
    const access = await askSlack(botToken, channelId).catch(() => UNKNOWN);
    if (access.canPost === true) postable.set(channelId, now() + REMEMBER_MS);
    else postable.delete(channelId);
    return access;
  };
}

async function askSlack(botToken: string, channelId: string): Promise<ChannelAccess> {
  const answer = (await apiCall('conversations.info', botToken, { channel: channelId })) as {
    ok?: boolean;
    error?: string;
    channel?: { is_member?: boolean; is_archived?: boolean; is_im?: boolean };
  };
  if (answer.ok && answer.channel) {
    if (answer.channel.is_archived) return { canPost: false, slackError: 'is_archived' };
    if (answer.channel.is_im) return { canPost: true };
    return answer.channel.is_member === false ? { canPost: false, slackError: 'not_in_channel' } : { canPost: true };
  }
  // A private channel the bot is not in is invisible to it.
  if (answer.error === 'channel_not_found') return { canPost: false, slackError: 'channel_not_found' };
  return UNKNOWN;
}

/** One Web API call (form-encoded, bearer token); its JSON answer, whatever `ok` says. */
async function apiCall(method: string, botToken: string, args: Record<string, string>): Promise<unknown> {
  const base = slackApiUrl() ?? 'https://slack.com/api/';
  const res = await fetch(new URL(method, base.endsWith('/') ? base : `${base}/`), {
    method: 'POST',
    headers: { authorization: `Bearer ${botToken}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(args),
    signal: AbortSignal.timeout(1500),
  });
  if (!res.ok) throw new Error(`Slack answered HTTP ${res.status}`);
  return res.json();
}
