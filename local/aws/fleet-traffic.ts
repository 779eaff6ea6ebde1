/**
 * What a fleet of accounts feels like from the bot's side, applied to every emulator request in
 * one place (emulator.ts, once the caller's account is known):
 *
 *  - latency: real milliseconds each call takes (a round trip to AWS from Lambda is ~20–80 ms);
 *  - throttling per account and region, as AWS's API rate limits are: a token bucket per account
 *    and region (a throttled account's calls in eu-west-1 do not spend its us-east-1 bucket); an
 *    empty bucket answers the service's own throttling error (ECS's ThrottlingException,
 *    Organizations' TooManyRequestsException), which the SDK retries;
 *  - a meter: how many calls each account has in flight (all its regions together), and the most
 *    it ever had, for benchmarks checking that fan-out stays within its per-account bound.
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
  /** By `<account> <region>`. */
  private readonly buckets = new Map<string, Bucket>();
  /** What each throttled account's buckets hold, one per region it calls. */
  private readonly specs = new Map<string, ThrottleSpec>();
  private everyAccount: ThrottleSpec | undefined;
  private readonly inFlight = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  /** Throttling errors answered, per account. */
  readonly throttled = new Map<string, number>();

  /** Throttle `accountId` (or every account, with `*`) beyond `spec` in each region, a bucket per region; undefined lifts it. */
  throttle(accountId: string, spec: ThrottleSpec | undefined): void {
    if (accountId === '*') this.everyAccount = spec;
    else if (spec) this.specs.set(accountId, spec);
    else this.specs.delete(accountId);
    for (const key of this.buckets.keys()) if (accountId === '*' || key.startsWith(`${accountId} `)) this.buckets.delete(key);
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

  /** Runs one call of `accountId` in `region` (the signing region: us-east-1 for global services) through latency, throttling and the meter. */
  async pass<T>(accountId: string, region: string, call: () => Promise<T>): Promise<T> {
    const now = (this.inFlight.get(accountId) ?? 0) + 1;
    this.inFlight.set(accountId, now);
    if (now > (this.peaks.get(accountId) ?? 0)) this.peaks.set(accountId, now);
    try {
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      if (!this.take(accountId, region)) {
        this.throttled.set(accountId, (this.throttled.get(accountId) ?? 0) + 1);
        throw AwsError.common('Throttling', 'Rate exceeded');
      }
      return await call();
    } finally {
      this.inFlight.set(accountId, (this.inFlight.get(accountId) ?? 1) - 1);
    }
  }

  private take(accountId: string, region: string): boolean {
    const key = `${accountId} ${region}`;
    let bucket = this.buckets.get(key);
    const spec = this.specs.get(accountId) ?? this.everyAccount;
    if (!bucket && spec) {
      bucket = { ...spec, tokens: spec.burst, at: Date.now() };
      this.buckets.set(key, bucket);
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
