import { verifySlackRequest } from '@slack/bolt/dist/receivers/verify-request';
import { replayKey } from '../platform/state-keys';

/** The subset of an API Gateway HTTP API (payload 2.0) event the ingress reads. */
export interface HttpEvent {
  rawPath?: string;
  headers?: Record<string, string | undefined>;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: { http?: { method?: string } };
}

export interface HttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  body: string;
}

export const json = (statusCode: number, body: unknown): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

export const text = (statusCode: number, body: string): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body,
});

/** Header names are case-insensitive; API Gateway lower-cases them, other callers may not. */
export function header(event: HttpEvent, name: string): string | undefined {
  const headers = event.headers ?? {};
  return headers[name] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
}

/**
 * The raw body exactly as Slack signed it. Base64 bodies are decoded as UTF-8: Bolt's receiver
 * decodes them as ASCII, which corrupts emoji and accents and so fails the signature check.
 */
export function rawBody(event: HttpEvent): string {
  const body = event.body ?? '';
  return event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body;
}

class InvalidSignatureError extends Error {}

const WINDOW_SECONDS = 5 * 60;
const CANONICAL_SIGNATURE = /^v0=[0-9a-f]{64}$/;

/**
 * How long a signed request is remembered, so a replay of it runs nothing: longer than the
 * window in which its signature is accepted, on either side of now.
 */
export const REPLAY_WINDOW_SECONDS = 2 * WINDOW_SECONDS + 60;

/** The key a signed request is claimed under: its signature, unique to its timestamp and body. */
export const requestReplayKey = (event: HttpEvent): string => replayKey(header(event, 'x-slack-signature')!.slice('v0='.length));

/**
 * Slack's v0 signature over `v0:<timestamp>:<body>` (Bolt's verifier), plus the future side of
 * the 5-minute window, which Bolt leaves open: a request stamped ahead is as suspect as a stale one.
 */
export function verifySignature(event: HttpEvent, body: string, signingSecret: string, nowMs: number): void {
  const signature = header(event, 'x-slack-signature');
  const timestampText = header(event, 'x-slack-request-timestamp');
  if (!signature || !timestampText || !/^\d{1,12}$/.test(timestampText)) {
    throw new InvalidSignatureError('missing or malformed signature headers');
  }
  // Only the canonical form: Bolt's verifier splits on `=` and would accept a valid hash followed
  // by `=…`, which gives one signed request several spellings (and several replay keys).
  if (!CANONICAL_SIGNATURE.test(signature)) throw new InvalidSignatureError('malformed signature');
  const timestamp = Number(timestampText);
  if (timestamp > Math.floor(nowMs / 1000) + WINDOW_SECONDS) throw new InvalidSignatureError('timestamp is in the future');
  try {
    verifySlackRequest({
      signingSecret,
      body,
      headers: { 'x-slack-signature': signature, 'x-slack-request-timestamp': timestamp },
      nowMilliseconds: nowMs,
    });
  } catch (error) {
    throw new InvalidSignatureError((error as Error).message);
  }
}
