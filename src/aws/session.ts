import { ECSClient } from '@aws-sdk/client-ecs';
import type { Target } from '../config/schema';
import { assumeRoleCredentials, type Actor } from './credentials';

interface ClientWithMiddleware {
  middlewareStack: { add: (mw: never, options: { step: 'initialize'; name: string }) => void };
}

/**
 * AWS access for one job against one target: clients built on first use, with the target's
 * region and (for another account) the assumed role, and every request id collected for the audit.
 */
/** A counting semaphore: at most `limit` holders at once, the rest wait in order. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Request ids an audit record keeps: the first and the last this many. A job followed for 14
 * minutes polls about 2,500 times; its record keeps what started it and what ended it (and says
 * how many were left out), not 60 KB of ids.
 */
export const KEPT_REQUEST_IDS = 50;

export class AwsSession {
  private readonly firstIds: string[] = [];
  private readonly lastIds: string[] = [];
  private leftOutIds = 0;
  /** AWS requests in flight at once for this job, across all clients: keeps a burst of checks from tripping throttling. */
  private readonly limiter: Limiter;
  private ecsClient: ECSClient | undefined;
  private readonly clients = new Map<string, { destroy(): void }>();

  constructor(
    readonly target: Pick<Target, 'region' | 'roleArn'>,
    readonly actor: Actor,
    // As many as the verify engine runs checks at once (src/verify/engine.ts): its widest wave (14
    // calls on a service with 3 containers, 4 secrets and 2 target groups) goes out together, not
    // in two rounds. Each API's own token bucket bursts well above this; throttling is retried.
    maxConcurrentRequests = 16,
  ) {
    this.limiter = new Limiter(maxConcurrentRequests);
  }

  ecs(): ECSClient {
    this.ecsClient ??= this.track(new ECSClient(this.clientConfig()));
    return this.ecsClient;
  }

  /** Any other SDK client (IAM, ECR, Logs, …), one per class and region, with the target's role and request-id tracking. */
  client<C extends { destroy(): void }>(Client: new (config: ReturnType<AwsSession['clientConfig']>) => C, region = this.target.region): C {
    const key = `${Client.name}|${region}`;
    let client = this.clients.get(key) as C | undefined;
    if (!client) {
      client = this.track(new Client(this.clientConfig(region)));
      this.clients.set(key, client);
    }
    return client;
  }

  clientConfig(region = this.target.region) {
    return {
      region,
      maxAttempts: 5, // throttling is retried with backoff by the SDK's standard retry strategy
      ...(this.target.roleArn ? { credentials: assumeRoleCredentials(this.target.roleArn, this.target.region, this.actor) } : {}),
    };
  }

  /** The request ids of this job's AWS calls, in order: the first and the last KEPT_REQUEST_IDS. */
  get requestIds(): string[] {
    return [...this.firstIds, ...this.lastIds];
  }

  /** How many request ids between the first and the last ones kept were not. */
  get omittedRequestIds(): number {
    return this.leftOutIds;
  }

  private remember(id: string): void {
    if (this.firstIds.length < KEPT_REQUEST_IDS) this.firstIds.push(id);
    else if (this.lastIds.push(id) > KEPT_REQUEST_IDS) {
      this.lastIds.shift();
      this.leftOutIds++;
    }
  }

  track<C extends object>(client: C): C {
    const remember = (id: string) => this.remember(id);
    const limiter = this.limiter;
    (client as unknown as ClientWithMiddleware).middlewareStack.add(
      ((next: (args: unknown) => Promise<{ output: { $metadata?: { requestId?: string } } }>) => async (args: unknown) => {
        try {
          const result = await limiter.run(() => next(args));
          if (result.output.$metadata?.requestId) remember(result.output.$metadata.requestId);
          return result;
        } catch (error) {
          const id = (error as { $metadata?: { requestId?: string } }).$metadata?.requestId;
          if (id) remember(id);
          throw error;
        }
      }) as never,
      { step: 'initialize', name: 'ecsChatopsRequestIds' },
    );
    return client;
  }

  destroy(): void {
    this.ecsClient?.destroy();
    for (const client of this.clients.values()) client.destroy();
    this.clients.clear();
  }
}
