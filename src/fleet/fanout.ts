/**
 * Running one task per service over a fleet (issue 19): AWS throttles per account and region, so
 * the bound that matters is the number of AWS calls in flight per account, across every service of
 * that account (a verify of one service alone issues dozens). Each account gets one gate that
 * every AwsSession of the run for that account shares (AwsSession's `gate`), so the bound holds
 * at the level of single requests, whatever the task does. A throttled call pauses its whole
 * account with a growing, jittered backoff and is tried again: throttling slows a run, never fails
 * it. A task that fails (role missing, access denied) becomes that service's result.
 */
import type { RequestGate } from '../aws/session';
import type { FleetResult, FleetService } from './types';

/** AWS calls in flight per account: AWS throttles per account and region, and a burst from many services trips it. */
export const MAX_INFLIGHT_PER_ACCOUNT = 5;
/** Services worked on at once across the whole run (their verify contexts and results in memory): the map's 100 accounts × 5. */
export const MAX_SERVICES_IN_FLIGHT = 500;

export interface BackoffPolicy {
  /** First pause of an account after a throttled call. */
  baseMs: number;
  /** Longest pause. */
  maxMs: number;
  /** Tries of one call (the first included) before its throttling error is let through. */
  attempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 10_000, attempts: 10 };

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ProvisionedThroughputExceededException',
]);

/** AWS said "slow down": by the error's name (as the SDK's own retry strategy reads it) or HTTP 429. */
export function isThrottling(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return (e?.name !== undefined && THROTTLING.has(e.name)) || e?.$metadata?.httpStatusCode === 429;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A counting semaphore: at most `limit` holders at once, the rest wait in order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async acquire(): Promise<void> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
  }
  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter: `active` stays, so no newcomer can slip in between.
    if (next) next();
    else this.active--;
  }
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }
}

/** One account's gate: its slots, its pause after throttling, and what it saw (for the benchmark and the tests). */
class AccountGate implements RequestGate {
  private readonly slots: Semaphore;
  private pausedUntil = 0;
  private consecutiveThrottles = 0;
  inFlight = 0;
  maxInFlight = 0;
  throttled = 0;

  constructor(
    limit: number,
    private readonly backoff: BackoffPolicy,
    private readonly clock: { now: () => number; sleep: (ms: number) => Promise<void>; random: () => number },
  ) {
    this.slots = new Semaphore(limit);
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      await this.slots.acquire();
      try {
        // Paused after a throttle: wait it out holding the slot, so the account stays quiet.
        for (let wait = this.pausedUntil - this.clock.now(); wait > 0; wait = this.pausedUntil - this.clock.now()) await this.clock.sleep(wait);
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        try {
          const result = await work();
          this.consecutiveThrottles = 0;
          return result;
        } finally {
          this.inFlight--;
        }
      } catch (error) {
        if (!isThrottling(error) || attempt >= this.backoff.attempts) throw error;
        this.throttled++;
        this.consecutiveThrottles++;
        // Full jitter over an exponential ceiling, shared by the account: every caller waits for it.
        const ceiling = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.min(this.consecutiveThrottles - 1, 16));
        this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ceiling / 2 + this.clock.random() * (ceiling / 2));
      } finally {
        this.slots.release();
      }
    }
  }
}

export interface FanOutOptions {
  perAccount?: number;
  maxServicesInFlight?: number;
  backoff?: BackoffPolicy;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** A service's task: its result, working through AWS only via `gate` (the account's). */
export type ServiceTask = (service: FleetService, gate: RequestGate) => Promise<FleetResult>;

/**
 * One fleet run's bounds, shared by every batch of the run in this invocation: one gate per
 * account, one bound on services in flight.
 */
export class FleetRunner {
  private readonly gates = new Map<string, AccountGate>();
  private readonly services: Semaphore;
  private readonly options: Required<Omit<FanOutOptions, 'maxServicesInFlight'>>;

  constructor(options: FanOutOptions = {}) {
    this.services = new Semaphore(options.maxServicesInFlight ?? MAX_SERVICES_IN_FLIGHT);
    this.options = {
      perAccount: options.perAccount ?? MAX_INFLIGHT_PER_ACCOUNT,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      now: options.now ?? Date.now,
      sleep: options.sleep ?? sleepFor,
      random: options.random ?? Math.random,
    };
  }

  /** The gate every AwsSession of this account shares. */
  gate(accountId: string): RequestGate {
    let gate = this.gates.get(accountId);
    if (!gate) {
      gate = new AccountGate(this.options.perAccount, this.options.backoff, this.options);
      this.gates.set(accountId, gate);
    }
    return gate;
  }

  /** The most AWS calls seen in flight at once in any one account. */
  get maxInFlightPerAccount(): number {
    return Math.max(0, ...[...this.gates.values()].map((g) => g.maxInFlight));
  }

  /** Throttled calls retried, across all accounts. */
  get throttledCalls(): number {
    return [...this.gates.values()].reduce((n, g) => n + g.throttled, 0);
  }

  /**
   * Runs `task` for every service, as many at once as the bounds allow; a task that throws is
   * that service's result (`failureResult`). Results in the order of `services`.
   */
  run(services: readonly FleetService[], task: ServiceTask, onResult?: (result: FleetResult) => void): Promise<FleetResult[]> {
    return Promise.all(
      services.map((service) =>
        this.services.run(async () => {
          const result = await task(service, this.gate(service.accountId)).catch((error: unknown) => failureResult(service, error));
          onResult?.(result);
          return result;
        }),
      ),
    );
  }
}

/** The fix for an account the bot cannot reach. */
export const deployRoleFix = (accountId: string) => `deploy the target role (infra/cross-account-role.yaml) in ${accountId}`;

/**
 * The fix when AWS refused the bot's own credentials: a session that expired during a long run,
 * or a token AWS does not recognise there (revoked sessions, or a region not enabled in that
 * account, where STS's tokens are refused). Not the target account's role: deploying it again
 * would change nothing.
 */
export const credentialsFix = (where: { accountId: string; region?: string }) =>
  `the bot's own AWS session was refused (expired or not valid there), not the target role: run it again; if it persists, check ${where.region ? `that ${where.region} is enabled in ${where.accountId} and ` : ''}the bot's deployment (its Lambda role)`;

const errorName = (error: unknown): string => {
  const e = error as { name?: string; Code?: string } | undefined;
  return e?.name ?? e?.Code ?? '';
};

/** AWS refused the bot's own credentials (expired, or a token it does not recognise): see credentialsFix. */
export function isCredentialsProblem(error: unknown): boolean {
  return /^(ExpiredToken|ExpiredTokenException|InvalidClientTokenId|UnrecognizedClientException)$/.test(errorName(error));
}

/** AWS refused the bot (or its role could not be assumed): the account needs the target role. */
export function isAccessProblem(error: unknown): boolean {
  if (isCredentialsProblem(error)) return false;
  return (
    /AccessDenied|NotAuthorized|UnauthorizedOperation/i.test(errorName(error)) ||
    /not authorized to perform/i.test((error as { message?: string })?.message ?? '')
  );
}

/** A task's failure as the service's result: plain text (escaped where it is shown), with the fix when the bot's session or the account's role is the cause. */
export function failureResult(service: FleetService, error: unknown): FleetResult {
  const e = error as { name?: string; message?: string } | undefined;
  const what = `${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(error)}`.slice(0, 300);
  const fix = isCredentialsProblem(error) ? credentialsFix(service) : isAccessProblem(error) ? deployRoleFix(service.accountId) : undefined;
  return {
    alias: service.alias,
    accountId: service.accountId,
    region: service.region,
    verdict: 'error',
    // The fix first: the summary line is cut to fit, AWS's long message is not.
    summary: fix ? `cannot be reached: ${fix} (${what})` : what,
    detail: { error: e?.name ?? 'Error', ...(fix ? { fix } : {}) },
  };
}

/** The services grouped by account (the unit AWS throttles, and the durable map's items), each group in order. */
export function byAccount(services: readonly FleetService[]): FleetService[][] {
  const groups = new Map<string, FleetService[]>();
  for (const s of services) {
    const group = groups.get(s.accountId);
    if (group) group.push(s);
    else groups.set(s.accountId, [s]);
  }
  return [...groups.values()];
}
