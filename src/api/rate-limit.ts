import { ddb, epochSeconds, isConditionalCheckFailed } from '../platform/dynamo';
import { apiRateKey } from '../platform/state-keys';
import { tableName } from '../platform/tables';

/** Per caller: a burst, refilled steadily. */
export interface RateLimit {
  burst: number;
  perMinute: number;
}

export const API_RATE_LIMIT: RateLimit = { burst: 10, perMinute: 10 };

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  take(caller: string): Promise<RateDecision>;
}

/** The bucket after `elapsedMs`: tokens refilled (never beyond the burst), then one taken if there is one. */
export function bucketAfter(limit: RateLimit, tokens: number, elapsedMs: number): { tokens: number; decision: RateDecision } {
  const perMs = limit.perMinute / 60_000;
  const now = Math.min(limit.burst, tokens + Math.max(0, elapsedMs) * perMs);
  if (now >= 1) return { tokens: now - 1, decision: { allowed: true } };
  return { tokens: now, decision: { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - now) / perMs / 1000)) } };
}

/**
 * A token bucket per caller in the state table: read, refill, take, written back on the condition
 * that nobody moved it meanwhile (two requests at once: one retries with the other's bucket).
 */
export function dynamoRateLimiter(limit: RateLimit = API_RATE_LIMIT, now: () => number = Date.now): RateLimiter {
  return {
    async take(caller) {
      const key = apiRateKey(caller);
      for (let attempt = 0; attempt < 5; attempt++) {
        const out = await ddb.get({ TableName: tableName('state'), Key: { pk: key }, ConsistentRead: true });
        const item = out.Item as { tokens?: number; at?: number } | undefined;
        const t = now();
        const previous = typeof item?.at === 'number' && typeof item.tokens === 'number' ? { tokens: item.tokens, at: item.at } : undefined;
        const next = bucketAfter(limit, previous?.tokens ?? limit.burst, previous ? t - previous.at : 0);
        if (!next.decision.allowed) return next.decision;
        try {
          await ddb.put({
            TableName: tableName('state'),
            // Gone once a full bucket would be back anyway.
            Item: { pk: key, tokens: next.tokens, at: t, expiresAt: epochSeconds(t) + Math.ceil((limit.burst * 60) / limit.perMinute) + 60 },
            ...(previous
              ? { ConditionExpression: '#at = :at', ExpressionAttributeNames: { '#at': 'at' }, ExpressionAttributeValues: { ':at': previous.at } }
              : { ConditionExpression: 'attribute_not_exists(pk)' }),
          });
          return next.decision;
        } catch (error) {
          if (!isConditionalCheckFailed(error)) throw error;
        }
      }
      // Contended beyond reason: this caller is sending too much at once.
      return { allowed: false, retryAfterSeconds: 1 };
    },
  };
}
