import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SecretSlot, SourceSecrets } from './secrets';

/**
 * The signature a ticket system sends with a webhook (README, "Starting work from a ticket
 * system"): `X-Ecs-Chatops-Timestamp: <unix seconds>` and
 * `X-Ecs-Chatops-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, the scheme
 * of Slack's and Stripe's: the timestamp is signed, so an old request cannot be made fresh.
 */
export const TIMESTAMP_HEADER = 'x-ecs-chatops-timestamp';
export const SIGNATURE_HEADER = 'x-ecs-chatops-signature';

/** As for Slack: a request signed more than five minutes from now is refused. */
export const WEBHOOK_WINDOW_SECONDS = 5 * 60;
/** A signature is remembered longer than it can be accepted on either side of now. */
export const WEBHOOK_REPLAY_TTL_SECONDS = 2 * WEBHOOK_WINDOW_SECONDS + 60;

const SIGNATURE = /^v1=([0-9a-f]{64})$/;
const TIMESTAMP = /^\d{1,12}$/;

export const signatureOf = (secret: string, timestamp: string, body: string): string =>
  `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;

/** Why a webhook is refused, in the audit's words (never the secret or the signature). */
export type SignatureProblem = 'missing signature or timestamp' | 'malformed signature or timestamp' | 'stale timestamp' | 'signature mismatch';

/** The headers' form and freshness: checked before the secret is fetched. */
export function checkSignedHeaders(timestamp: string | undefined, signature: string | undefined, nowMs: number): SignatureProblem | undefined {
  if (!timestamp || !signature) return 'missing signature or timestamp';
  if (!TIMESTAMP.test(timestamp) || !SIGNATURE.test(signature)) return 'malformed signature or timestamp';
  if (Math.abs(nowMs / 1000 - Number(timestamp)) > WEBHOOK_WINDOW_SECONDS) return 'stale timestamp';
  return undefined;
}

/** The HMAC compared in constant time (both are 64 hex digits by now). */
export function signatureMatches(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signatureOf(secret, timestamp, body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Stands in for the previous secret when there is none, so every check costs two HMACs; it can never be a match. */
const NO_PREVIOUS = randomBytes(32).toString('hex');

/**
 * Which of the source's secrets signed the request, or undefined. Both candidates are always
 * computed and compared in constant time, and combined without a branch, so the time taken does
 * not tell which one matched, nor whether a rotation is under way.
 */
export function matchingSecret(secrets: SourceSecrets, timestamp: string, body: string, signature: string): SecretSlot | undefined {
  const current = signatureMatches(secrets.current, timestamp, body, signature);
  const previous = signatureMatches(secrets.previous ?? NO_PREVIOUS, timestamp, body, signature) && secrets.previous !== undefined;
  // Bitwise, not `||`: both comparisons ran above, and choosing the answer is one table lookup.
  return MATCHED[(Number(current) | (Number(previous) << 1)) as 0 | 1 | 2 | 3];
}

/** Current first: when both parameters hold the same value (the first step of a rotation), it is the current one. */
const MATCHED = [undefined, 'current', 'previous', 'current'] as const;

/** The hex digits of a well-formed signature, for the replay claim. */
export const signatureDigest = (signature: string): string => SIGNATURE.exec(signature)?.[1] ?? '';
