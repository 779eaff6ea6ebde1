import type { RateLimit, RateLimiter } from '../api/rate-limit';
import { log } from '../platform/logger';

/**
 * Refused webhooks (unknown source, bad or stale signature, replay) reach the audit only within a
 * token bucket per source, taken before anything is written: anyone can send unsigned requests,
 * and a flood of them must not fill the audit table (kept for a year) one record per request.
 *
 * The refusal is answered the same either way (401, same body). Beyond the bucket it is counted,
 * not audited: every refusal is one `WebhookRefusals` metric (CloudWatch embedded metric format,
 * exact across function instances, what an alarm watches), and the next refusal given a token
 * writes one summary record ("N refusals not audited one by one between … and …") beside its own,
 * so the audit still shows that a flood happened, and roughly how large, without growing with it.
 */
export const WEBHOOK_REFUSAL_AUDIT_LIMIT: RateLimit = { burst: 10, perMinute: 1 };

/**
 * The bucket a refusal draws on: a configured source's own, or one shared by every other name, so
 * a caller cannot mint buckets by inventing source names in the path.
 */
export const refusalBucketOf = (configuredSource: string | undefined): string => `webhook-refusals:${configuredSource ?? '(unknown source)'}`;

/** Refusals of one bucket not audited one by one (counted by this function instance). */
export interface Suppressed {
  count: number;
  from: string;
  to: string;
}

export type RefusalVerdict = { audit: true; suppressed?: Suppressed } | { audit: false };

export interface RefusalGateDeps {
  limiter: RateLimiter;
  /** One metric per refusal, whether its record is written or not. */
  countRefusal: (audit: 'recorded' | 'suppressed') => void;
  now: () => number;
}

export function createRefusalGate(deps: RefusalGateDeps) {
  // Per function instance, kept between invocations: what it left out, until it may audit again.
  const pending = new Map<string, Suppressed>();
  return { admit };

  /** Whether this refusal is audited one by one, and what this instance left out of the audit since its last one. */
  async function admit(bucket: string, context: Record<string, unknown> = {}): Promise<RefusalVerdict> {
    const allowed = await deps.limiter.take(bucket).then(
      (decision) => decision.allowed,
      (error: unknown) => {
        // Under a flood the bucket's item may be throttled: the refusal stands, its record is what is left out.
        log.warn('webhook refusal bucket could not be read; the refusal is counted, not audited', { bucket, error });
        return false;
      },
    );
    const at = new Date(deps.now()).toISOString();
    if (allowed) {
      deps.countRefusal('recorded');
      const suppressed = pending.get(bucket);
      pending.delete(bucket);
      return suppressed ? { audit: true, suppressed } : { audit: true };
    }
    deps.countRefusal('suppressed');
    const suppressed = pending.get(bucket);
    if (suppressed) {
      suppressed.count++;
      suppressed.to = at;
    } else {
      // Once per bucket until it audits again: the flood is in the logs at once, its size in the metric.
      log.warn('webhook refusals over the audit limit: counted, not audited one by one', { bucket, limit: WEBHOOK_REFUSAL_AUDIT_LIMIT, ...context });
      pending.set(bucket, { count: 1, from: at, to: at });
    }
    return { audit: false };
  }
}

export type RefusalGate = ReturnType<typeof createRefusalGate>;
