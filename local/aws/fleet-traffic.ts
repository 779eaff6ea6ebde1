/**
 * What a fleet of accounts feels like from the bot's side, applied to every emulator request in
 * one place (emulator.ts, once the caller's account is known):
 *
 *  - latency: real milliseconds each call takes (a round trip to AWS from Lambda is ~20–80 ms);
 *  - throttling per account: a token bucket per account, as AWS's per-account, per-region API
 *    rate limits; an empty bucket answers the service's own throttling error (ECS's
 *    ThrottlingException, Organizations' TooManyRequestsException), which the SDK retries;
 *  - a meter: how many calls each account has in flight, and the most it ever had, for benchmarks
 *    checking that fan-out stays within its per-account bound.
 */
import { AwsError } from './protocols';

export interface ThrottleSpec {
  /** Calls an account may make at once before the bucket is empty (AWS's burst). */
  burst: number;
  /** Tokens back per second (AWS's sustained rate). */
  perSecond: number;
}

interface Bucket extends ThrottleSpec {
  tokens: number;
  at: number;
}

export class FleetTraffic {
  /** Real milliseconds added to every call (0: none). */
  latencyMs = 0;
  private readonly buckets = new Map<string, Bucket>();
  private everyAccount: ThrottleSpec | undefined;
  private readonly inFlight = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  /** Throttling errors answered, per account. */
  readonly throttled = new Map<string, number>();

  /** Throttle `accountId` (or every account, with `*`) beyond `spec`; undefined lifts it. */
  throttle(accountId: string, spec: ThrottleSpec | undefined): void {
    if (accountId === '*') {
      this.everyAccount = spec;
      this.buckets.clear();
      return;
    }
    if (spec) this.buckets.set(accountId, { ...spec, tokens: spec.burst, at: Date.now() });
    else this.buckets.delete(accountId);
  }

  /** The most calls `accountId` had in flight at once (0 if it made none). */
  maxInFlight(accountId: string): number {
    return this.peaks.get(accountId) ?? 0;
  }

  /** The highest in-flight count of any account, and which. */
  maxInFlightPerAccount(options: { except?: readonly string[] } = {}): { accountId?: string; max: number } {
    let best: { accountId?: string; max: number } = { max: 0 };
    for (const [accountId, max] of this.peaks) if (!options.except?.includes(accountId) && max > best.max) best = { accountId, max };
    return best;
  }

  /** Forgets peaks and throttle counts (not the settings), to meter one run. */
  resetMeter(): void {
    this.peaks.clear();
    this.throttled.clear();
  }

  /** Runs one call of `accountId` through latency, throttling and the meter. */
  async pass<T>(accountId: string, call: () => Promise<T>): Promise<T> {
    const now = (this.inFlight.get(accountId) ?? 0) + 1;
    this.inFlight.set(accountId, now);
    if (now > (this.peaks.get(accountId) ?? 0)) this.peaks.set(accountId, now);
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      if (!this.take(accountId)) {
        this.throttled.set(accountId, (this.throttled.get(accountId) ?? 0) + 1);
        throw AwsError.common('Throttling', 'Rate exceeded');
      }
      return await call();
    } finally {
      this.inFlight.set(accountId, (this.inFlight.get(accountId) ?? 1) - 1);
    }
  }

  private take(accountId: string): boolean {
    let bucket = this.buckets.get(accountId);
    if (!bucket && this.everyAccount) {
      bucket = { ...this.everyAccount, tokens: this.everyAccount.burst, at: Date.now() };
      this.buckets.set(accountId, bucket);
    }
    if (!bucket) return true;
    const now = Date.now();
    bucket.tokens = Math.min(bucket.burst, bucket.tokens + ((now - bucket.at) / 1000) * bucket.perSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
