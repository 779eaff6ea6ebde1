/**
 * The AWS API emulator: one HTTP server on 127.0.0.1 that the ordinary SDK v3 clients reach through
 * `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_ECS`, `_SSM`, `_STS`, `_LAMBDA`, `_CLOUDWATCH`, …). Each request goes
 * through the same pipeline whatever the service:
 *
 *   resolve operation (protocols) → latency → authenticate (SigV4 access key → identity)
 *   → injected faults → IAM-style authorization of the action's resources → handler → serialize,
 *
 * and lands in `calls`, so tests can assert what the bot asked AWS, as whom, and what it got.
 * To add a service: write `services/<name>.ts` exporting a ServiceDefinition and list it below.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  AwsError,
  parseSigV4,
  resolveOperation,
  serializeError,
  serializeResult,
  type CallContext,
  type HttpReply,
  type Operation,
  type Params,
  type RawRequest,
  type ServiceDefinition,
} from './protocols';
import { accessDeniedMessage, Authority } from './authorization';
import { callingFunction } from './function-context';
import { NO_EVENTS } from './events-contract';
import { runScheduler } from './rollout';
import { seedSampleAccount, type SeedOptions } from './seed';
import { applicationAutoScalingService } from './services/application-autoscaling';
import { codeDeployService } from './services/codedeploy';
import { ec2Service } from './services/ec2';
import { ecrService } from './services/ecr';
import { ecsService } from './services/ecs';
import { elbv2Service } from './services/elbv2';
import { iamService } from './services/iam';
import { kmsService } from './services/kms';
import { logsService } from './services/logs';
import { secretsManagerService } from './services/secretsmanager';
import { EventBridge } from './eventbridge';
import { FleetTraffic } from './fleet-traffic';
import { LambdaRuntime, type FunctionRegistry } from './services/lambda';
import { LocalScheduler } from './scheduler';
import { cloudWatchJsonService, cloudWatchQueryService } from './services/cloudwatch';
import { organizationsService } from './services/organizations';
import { ssmService } from './services/ssm';
import { stsService } from './services/sts';
import { Clock, DEFAULT_REGION, EmulatorState, type Identity } from './state';

export interface CallRecord {
  /** `ecs`, `ssm`, `sts`, `lambda` (`unknown` when no operation matched). */
  service: string;
  action: string;
  params: Params;
  /** Emulator-clock time the request arrived. */
  at: Date;
  /** Who made the call (CloudTrail's userIdentity). */
  identity: Identity;
  region: string;
  requestId: string;
  status: number;
  error?: { code: string; message: string };
}

interface Rule {
  action: RegExp;
  remaining: number;
}

/** Simulated failures. Actions are IAM-style (`ecs:DescribeServices`) and may use `*` wildcards. */
export class Faults {
  private denies: Array<Rule & { resource?: RegExp; principal?: RegExp }> = [];
  private failures: Array<Rule & { error: () => AwsError }> = [];
  private delays: Array<{ action: RegExp; ms: number }> = [];

  /**
   * Makes `action` fail with AccessDenied, optionally only on a resource (ARN, wildcards allowed)
   * or for a principal (identity ARN pattern). Returns a function that lifts the denial.
   */
  deny(action: string, options: { resource?: string; principal?: string } = {}): () => void {
    const rule = {
      action: glob(action, 'i'),
      remaining: Infinity,
      ...(options.resource ? { resource: glob(options.resource) } : {}),
      ...(options.principal ? { principal: glob(options.principal) } : {}),
    };
    this.denies.push(rule);
    return () => void (this.denies = this.denies.filter((r) => r !== rule));
  }

  /** The next `times` calls of `action` get the protocol's throttling error (SDK retries those). */
  throttle(action: string, times = 1): () => void {
    return this.fail(action, () => AwsError.common('Throttling', 'Rate exceeded'), times);
  }

  /** The next `times` calls of `action` fail with the given error, e.g. `{ code: 'ServerException', status: 500 }`. */
  fail(action: string, error: { code: string; message?: string; status?: number } | (() => AwsError), times = Infinity): () => void {
    const make = typeof error === 'function' ? error : () => new AwsError(error.code, error.message ?? error.code, error.status ?? 400);
    const rule = { action: glob(action, 'i'), remaining: times, error: make };
    this.failures.push(rule);
    return () => void (this.failures = this.failures.filter((r) => r !== rule));
  }

  /** Adds `ms` of real delay to every call (or to calls matching `action`); 0 removes it. */
  latency(ms: number, action = '*'): void {
    this.delays = this.delays.filter((d) => d.action.source !== glob(action, 'i').source);
    if (ms > 0) this.delays.push({ action: glob(action, 'i'), ms });
  }

  clear(): void {
    this.denies = [];
    this.failures = [];
    this.delays = [];
  }

  /** @internal */
  delayFor(action: string): number {
    return this.delays.filter((d) => d.action.test(action)).reduce((sum, d) => sum + d.ms, 0);
  }
  /** @internal */
  takeFailure(action: string): AwsError | undefined {
    const rule = this.failures.find((r) => r.remaining > 0 && r.action.test(action));
    if (!rule) return undefined;
    rule.remaining--;
    return rule.error();
  }
  /** @internal */
  isDenied(action: string, resource: string, identity: Identity): boolean {
    return this.denies.some((r) => r.action.test(action) && (!r.resource || r.resource.test(resource)) && (!r.principal || r.principal.test(identity.arn)));
  }
}

const glob = (pattern: string, flags = '') =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
    flags,
  );

/** How often, in real time, the scheduler catches up while events have somewhere to go. */
export const SCHEDULER_TICK_MS = 250;

export interface AwsEmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Seed the sample account (default true); pass options to choose the Slack secrets. */
  seed?: boolean | SeedOptions;
  /** In-process Lambda handlers by function name. */
  functions?: FunctionRegistry;
  /** Defaults for registered functions. */
  lambda?: { timeoutMs?: number; maxRetries?: number };
  /** Real delay added to every call. */
  latencyMs?: number;
  /** Initial emulator time (default: now). */
  startTime?: number | Date;
  /** Simulated ms per real ms (default 1): 10 plays ECS rollouts at 10×, 0 moves time only with clock.advance(). */
  clockRate?: number;
}

export interface AwsEmulator {
  url: string;
  port: number;
  state: EmulatorState;
  clock: Clock;
  faults: Faults;
  calls: CallRecord[];
  lambda: LambdaRuntime;
  /** IAM for the bot's own roles: which are enforced, which function runs as which, every decision. */
  authority: Authority;
  /** The event buses: what the simulated services emit (`state.events`) is routed by their rules. */
  eventBridge: EventBridge;
  /** EventBridge Scheduler: schedules run on the emulator's clock (scheduler.ts). */
  scheduler: LocalScheduler;
  /** A fleet's latency, per-account throttling and in-flight meter, applied to every call (fleet-traffic.ts). */
  traffic: FleetTraffic;
  /** Settings that point the SDK (and the bot) at the emulator; merge into process.env. */
  endpointEnv(): Record<string, string>;
  close(): Promise<void>;
}

export async function startAwsEmulator(options: AwsEmulatorOptions = {}): Promise<AwsEmulator> {
  const clock = new Clock({ start: options.startTime, rate: options.clockRate ?? 1 });
  const state = new EmulatorState(clock);
  // ECS deployments progress with emulator time: skipping time plays out what was due (rollout.ts).
  clock.onAdvance((now) => runScheduler(state, now));
  // With someone listening to AWS's events, tasks must crash and recover on their own, not only when
  // an ECS API is called: the scheduler then also runs on a short real-time tick. It still only
  // plays out what is due at the clock's now, so results stay a function of requests and emulator time.
  const schedulerTick = setInterval(() => {
    if (state.events === NO_EVENTS) return;
    try {
      runScheduler(state);
    } catch (err) {
      console.error('[aws-emulator] scheduler tick failed', err);
    }
  }, SCHEDULER_TICK_MS);
  schedulerTick.unref();
  if (options.seed !== false) seedSampleAccount(state, typeof options.seed === 'object' ? options.seed : {});
  const faults = new Faults();
  if (options.latencyMs) faults.latency(options.latencyMs);
  const lambda = new LambdaRuntime(clock, options.lambda, options.functions);
  const services: ServiceDefinition[] = [
    ecsService,
    ssmService,
    stsService,
    lambda.service,
    // What `/ecs verify` checks a service's dependencies with.
    iamService,
    ecrService,
    logsService,
    secretsManagerService,
    kmsService,
    elbv2Service,
    ec2Service,
    // The SDK's CloudWatch client speaks JSON 1.0 (query-compatible); older clients and the CLI, query.
    cloudWatchJsonService,
    cloudWatchQueryService,
    // What `/ecs scale` reads and widens: ECS services' scalable targets.
    applicationAutoScalingService,
    // Blue/green deployments of CODE_DEPLOY services (codedeploy.ts runs them over emulator time).
    codeDeployService,
    // Fleet discovery: the organization's accounts and their tags.
    organizationsService,
  ];
  const calls: CallRecord[] = [];
  const traffic = new FleetTraffic();
  const authority = new Authority(state);
  lambda.authority = authority;
  const eventBridge = new EventBridge({ state, lambda, authority });
  state.events = eventBridge;
  // Schedules fire as the clock passes their times: with clock.advance, and on a real-time tick.
  const scheduler = new LocalScheduler({ state, lambda, authority, clock });
  services.push(scheduler.service);
  clock.onAdvance((now) => scheduler.catchUp(now));
  const schedulesTick = setInterval(() => scheduler.catchUp(), 1000);
  schedulesTick.unref();

  async function handle(raw: RawRequest): Promise<HttpReply> {
    const requestId = randomUUID();
    const at = clock.date();
    let op: Operation | undefined;
    let identity = state.defaultCredentials.identity;
    let region = DEFAULT_REGION;
    let reply: HttpReply;
    try {
      op = resolveOperation(services, raw);
      const definition = op.service.actions[op.action]!;
      const {
        handler,
        resources,
        authorization,
        iamAction = `${op.service.name}:${op.action}`,
      } = typeof definition === 'function' ? { handler: definition, resources: undefined, authorization: undefined, iamAction: undefined } : definition;
      const delay = faults.delayFor(iamAction);
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));

      const sig = parseSigV4(raw);
      if (!sig) throw AwsError.common('MissingAuthentication', 'Missing Authentication Token');
      region = sig.region || DEFAULT_REGION;
      const credentials = state.credentials.get(sig.accessKeyId);
      // Keys the emulator never issued (tests' `test`/`AKID`) act as the default principal.
      const signedAs = credentials?.identity ?? { ...state.defaultCredentials.identity, accessKeyId: sig.accessKeyId };
      // In the local world every function signs with the same environment keys; the function
      // header says whose execution role the call is made with (authorization.ts).
      const functionName = callingFunction(raw.headers);
      identity = authority.identityFor(functionName, signedAs);
      if (credentials?.sessionToken && sig.sessionToken !== credentials.sessionToken) {
        throw AwsError.common('InvalidToken', 'The security token included in the request is invalid.');
      }
      if (identity.expiration && clock.now() >= identity.expiration.getTime()) {
        throw AwsError.common('ExpiredToken', 'The security token included in the request is expired');
      }

      const caller = identity;
      const ctx: CallContext = {
        requestId,
        service: op.service,
        action: op.action,
        identity: caller,
        accountId: caller.accountId,
        region,
        regional: state.region(caller.accountId, region),
        state,
        clock,
        ...(functionName ? { functionName } : {}),
        authorize(action, resource, options = {}) {
          if (faults.isDenied(action, resource, caller)) {
            throw AwsError.common('AccessDenied', accessDeniedMessage({ identity: caller, action, resource }, 'implicitDeny'));
          }
          const request = {
            identity: caller,
            ...(functionName ? { functionName } : {}),
            action,
            resource,
            ...options,
            context: { 'aws:RequestedRegion': [region], ...options.context },
          };
          const decision = authority.decide(request);
          if (decision && decision !== 'allowed') throw AwsError.common('AccessDenied', accessDeniedMessage(request, decision));
        },
      };

      // A log read sees what running tasks (one-off ones: one-off-tasks.ts) have printed by now.
      if (op.service.name === 'logs') runScheduler(state);
      const operation = op;
      // Every call of an account passes the fleet's latency, throttling and meter here, once its account is known.
      reply = await traffic.pass(caller.accountId, region, async () => {
        const injected = faults.takeFailure(iamAction);
        if (injected) throw injected;
        for (const resource of resources?.(operation.params, ctx) ?? ['*'])
          ctx.authorize(iamAction, resource, authorization?.(operation.params, ctx, resource));
        return serializeResult(operation, await handler(operation.params, ctx), requestId);
      });
    } catch (err) {
      if (!(err instanceof AwsError)) console.error('[aws-emulator] handler failed', err);
      const error = err instanceof AwsError ? err : AwsError.common('Internal', 'We encountered an internal error. Please try again.');
      reply = serializeError(op?.service, error, requestId);
      const [code] = error.resolve(op?.service, error.protocol);
      calls.push(record(op, raw, at, identity, region, requestId, reply.status, { code, message: error.message }));
      return reply;
    }
    calls.push(record(op, raw, at, identity, region, requestId, reply.status));
    return reply;
  }

  const server = createServer((req, res) => {
    readBody(req)
      .then((body) => {
        const url = new URL(req.url ?? '/', 'http://localhost');
        const raw: RawRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body };
        // A plain GET / answers who we are, for humans and readiness checks.
        if (raw.method === 'GET' && raw.path === '/' && !url.searchParams.has('Action')) {
          return {
            status: 200,
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ emulator: 'aws', services: services.map((s) => s.name) }),
          };
        }
        return handle(raw);
      })
      .then(
        (reply) => res.writeHead(reply.status, reply.headers).end(reply.body),
        (err) => {
          console.error('[aws-emulator] request failed', err);
          res.writeHead(500).end();
        },
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    port,
    state,
    clock,
    faults,
    calls,
    lambda,
    authority,
    eventBridge,
    scheduler,
    traffic,
    endpointEnv: () => ({
      AWS_ENDPOINT_URL: url,
      AWS_REGION: DEFAULT_REGION,
      AWS_ACCESS_KEY_ID: state.defaultCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: state.defaultCredentials.secretAccessKey,
    }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        clearInterval(schedulerTick);
        clearInterval(schedulesTick);
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // the SDK keeps connections alive
      }),
  };
}

function record(
  op: Operation | undefined,
  raw: RawRequest,
  at: Date,
  identity: Identity,
  region: string,
  requestId: string,
  status: number,
  error?: { code: string; message: string },
): CallRecord {
  return {
    service: op?.service.name ?? 'unknown',
    action: op?.action ?? `${raw.method} ${raw.path}`,
    params: op?.params ?? {},
    at,
    identity,
    region,
    requestId,
    status,
    ...(error ? { error } : {}),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
