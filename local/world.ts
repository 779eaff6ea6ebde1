/**
 * The local world: everything the bot talks to, on loopback, with the bot's real Lambda handlers
 * wired the way API Gateway and Lambda invoke them. Tests and the offline playground share it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Grant } from '../src/auth/roles';
import { startAwsEmulator, type AwsEmulator } from './aws';
import { runAsFunction, tagRequestsWithFunction } from './aws/function-context';
import { startLocalDynamo, type LocalDynamo } from './dynamo';
import { writeDecisionLog } from './iam/coverage';
import { deployStackEvents, deployStackSchedules, dynamoAuthorizer, enforceStackRoles, localStack, LOCAL_STACK_OPTIONS } from './iam/enforce';
import { targetRoleFor } from './iam/stack';
import { seedFleet, type FleetSeedOptions, type SeededFleet } from './aws/seed-fleet';
import type { StackModel } from './iam/stack';
import { startExecAgent, type ExecAgent, type ExecAgentOptions } from './exec-agent/server';
import { startRegistry, type LocalRegistry } from './registry';
import { startSlackServer, type SlackServer } from './slack/server';
import { signedSlackEvent, slashCommandBody, triggerId } from './slack/sign';
import type { HttpEvent, HttpResult } from '../src/ingress/http';
import { localHttpApi, signHttpApiRequest, type Credentials } from './aws/http-api';
import type { PolicyDocument } from './aws/policy';
import { putRole, trustPolicy } from './aws/services/iam';
import type { DurableContext, DurableExecutionInvocationInputWithClient, DurableLambdaHandler } from '@aws/durable-execution-sdk-js';
import type { TestResult } from '@aws/durable-execution-sdk-js-testing';
import type { AsyncFailureRecord, DurableCallbackBackend, LambdaHandlerLike, LambdaRuntime } from './aws/services/lambda';
import type { AwsEvent, EmittedEvent } from './aws/events-contract';

let durableEnvironment: Promise<void> | undefined;

/**
 * The durable-execution backend of the local world (the testing package's checkpoint server), set
 * up by startWorld and torn down by close(). Real time by default (`npm start`); with
 * `durableSkipTime` fake timers advance on their own and jump over each durable wait.
 */
export function setupDurableEnvironment(options: { skipTime: boolean }): Promise<void> {
  durableEnvironment ??= withDurableLogLevel(async () => {
    const { LocalDurableTestRunner } = await import('@aws/durable-execution-sdk-js-testing');
    const realQueueMicrotask = globalThis.queueMicrotask;
    await LocalDurableTestRunner.setupTestEnvironment(options);
    // Its fake timers also fake queueMicrotask, which breaks undici (fetch sends a body shorter
    // than its content-length: the Slack client fails). Microtasks need no faking to skip time.
    globalThis.queueMicrotask = realQueueMicrotask;
  });
  return durableEnvironment;
}

/**
 * The testing package reads LOG_LEVEL (DEBUG…NONE) when it loads and in its checkpoint worker
 * thread, and throws on the bot's own levels (`silent`, lowercase): it gets one it knows meanwhile.
 */
async function withDurableLogLevel<T>(work: () => Promise<T>): Promise<T> {
  const saved = process.env.LOG_LEVEL;
  const upper = saved?.toUpperCase();
  process.env.LOG_LEVEL = upper && ['DEBUG', 'INFO', 'WARN', 'ERROR'].includes(upper) ? upper : 'NONE';
  try {
    return await work();
  } finally {
    if (saved === undefined) delete process.env.LOG_LEVEL;
    else process.env.LOG_LEVEL = saved;
  }
}

export async function teardownDurableEnvironment(): Promise<void> {
  if (!durableEnvironment) return;
  await durableEnvironment.catch(() => undefined);
  durableEnvironment = undefined;
  const { LocalDurableTestRunner } = await import('@aws/durable-execution-sdk-js-testing');
  await LocalDurableTestRunner.teardownTestEnvironment();
}

/**
 * Registers a durable function (a `withDurableExecution` handler) in the emulator's Lambda.
 *
 * The emulator's Lambda is a plain function runtime, not a durable one: it cannot checkpoint a
 * step or re-invoke the handler after a wait. So the registered function runs the whole durable
 * execution through the testing package's LocalDurableTestRunner (a local checkpoint server that
 * replays the handler after each wait, as Lambda does), with the production handler unchanged.
 * Its timeout is the execution's, not one invocation's; waits take real time unless the durable
 * environment was set up with skipped time. Each finished execution is appended to `executions`,
 * and its callbacks are closed: completing one later fails as in AWS (CallbackTimeoutException).
 */
/** The alias osls gives a durable function (`durable`), moved to each newly published version. */
export const DURABLE_ALIAS = 'durable';

/**
 * Registers a durable workflow as the local Lambda runs it, with versions: its code is published as
 * version 1 behind the `durable` alias (as osls deploys it), and `upgrade()` publishes new code as
 * the next version and moves the alias, as a redeploy of the bot does. An execution started through
 * a version or alias runs, replays included, on that version's code to its end (AWS's model for
 * qualified invocations); one started on `$LATEST` replays on whatever `$LATEST` is by then.
 */
export function registerDurableFunction(
  lambda: LambdaRuntime,
  name: string,
  handler: DurableLambdaHandler,
  executions: Array<TestResult<unknown>>,
): { upgrade(next: (current: DurableLambdaHandler) => DurableLambdaHandler): string } {
  let latest = handler;
  const byVersion = new Map<string, DurableLambdaHandler>();
  lambda.register(name, {
    timeoutMs: 24 * 3_600_000,
    handler: async (event, context) => {
      const [{ LocalDurableTestRunner }, { DurableExecutionInvocationInputWithClient }] = await Promise.all([
        import('@aws/durable-execution-sdk-js-testing'),
        import('@aws/durable-execution-sdk-js'),
      ]);
      const pinned = byVersion.get(context.functionVersion);
      const code = pinned ?? (((e: unknown, c: unknown) => latest(e as never, c as never)) as DurableLambdaHandler);
      // Each replay reads and checkpoints the execution's state with the function's role, on the
      // execution's ARN: the testing package's client is wrapped so IAM judges those calls too.
      const handlerFunction = ((input: DurableExecutionInvocationInputWithClient, c: unknown) => {
        const executionArn = lambda.recordDurableExecution(name, context.functionVersion, input.DurableExecutionArn);
        const client = input.durableExecutionClient;
        const asFunction = (action: string) => {
          const decision = lambda.authority?.decideAsFunction(name, action, executionArn);
          if (decision && decision !== 'allowed') {
            throw Object.assign(new Error(`User: ${name} is not authorized to perform: ${action} on resource: ${executionArn}`), {
              name: 'AccessDeniedException',
            });
          }
        };
        const guarded = new DurableExecutionInvocationInputWithClient(input, {
          getExecutionState: (params, logger) => (asFunction('lambda:GetDurableExecutionState'), client.getExecutionState(params, logger)),
          checkpoint: (params, logger) => (asFunction('lambda:CheckpointDurableExecution'), client.checkpoint(params, logger)),
        });
        // The runner calls each replay from its own context (its timers, its worker thread's
        // messages): the calls the replay makes are this function's, so say so again here.
        return runAsFunction(name, () => code(guarded as never, c as never));
      }) as unknown as DurableLambdaHandler;
      const result = await new LocalDurableTestRunner<unknown>({ handlerFunction }).run({ payload: event });
      executions.push(result);
      lambda.closeDurableCallbacks(
        result
          .getOperations()
          .filter((op) => op.getType() === 'CALLBACK')
          .flatMap((op) => op.getCallbackDetails()?.callbackId ?? []),
      );
      if (result.getStatus() !== 'SUCCEEDED') throw new Error(`${name} ${result.getStatus()}: ${JSON.stringify(result.getError())}`);
      return result.getResult();
    },
  });
  const publish = () => {
    const version = lambda.publishVersion(name);
    byVersion.set(version, latest);
    lambda.setAlias(name, DURABLE_ALIAS, version);
    return version;
  };
  publish();
  return {
    upgrade(next) {
      latest = next(latest);
      return publish();
    },
  };
}

/**
 * With skipped time the testing package ends each durable wait at once without moving any clock,
 * so the emulator, whose ECS rollouts run on its own clock, would see a 30-minute watch pass in a
 * second. This wraps the workflow's durable context: the first time a wait ends (not when a replay
 * passes it again), the emulator's clock moves by the wait's length, as if it had been waited.
 */
function advanceClockOnWaits<I, O>(workflow: (input: I, context: DurableContext) => Promise<O>, clock: { advance(ms: number): void }) {
  const waited = new Set<string>();
  return (input: I, context: DurableContext): Promise<O> => {
    const execution =
      (context as { executionContext?: { durableExecutionArn?: string } }).executionContext?.durableExecutionArn ?? JSON.stringify(input).slice(0, 200);
    const wait = ((name: string, duration: { seconds?: number; minutes?: number; hours?: number }) => {
      const key = `${execution}#${name}`;
      const ms = ((duration.hours ?? 0) * 3600 + (duration.minutes ?? 0) * 60 + (duration.seconds ?? 0)) * 1000;
      const first = !waited.has(key);
      return context.wait(name, duration as never).then(() => {
        if (first && !waited.has(key)) {
          waited.add(key);
          clock.advance(ms);
        }
      });
    }) as DurableContext['wait'];
    return workflow(input, new Proxy(context, { get: (target, prop, receiver) => (prop === 'wait' ? wait : Reflect.get(target, prop, receiver)) }));
  };
}

/**
 * The emulator's backend for SendDurableExecutionCallback*: the testing package's durable API,
 * which completes callbacks of the executions running in its checkpoint server (any runner).
 * `createDurableApi` is private in the package's typings (1.1.x) but is what its runners use.
 * The package is imported on first use; setupDurableEnvironment has loaded it by then (it must be
 * loaded under withDurableLogLevel).
 */
export function localDurableCallbacks(): DurableCallbackBackend {
  type DurableApi = {
    sendCallbackSuccess(request: { CallbackId: string; Result?: Uint8Array }): Promise<unknown>;
    sendCallbackFailure(request: { CallbackId: string; Error?: object }): Promise<unknown>;
    sendCallbackHeartbeat(request: { CallbackId: string }): Promise<unknown>;
  };
  let api: Promise<DurableApi> | undefined;
  const durableApi = () =>
    (api ??= import('@aws/durable-execution-sdk-js-testing').then(({ LocalDurableTestRunner }) => {
      const runner = LocalDurableTestRunner as unknown as { createDurableApi?: () => DurableApi };
      if (typeof runner.createDurableApi !== 'function') {
        throw new Error('@aws/durable-execution-sdk-js-testing no longer has LocalDurableTestRunner.createDurableApi()');
      }
      return runner.createDurableApi();
    }));
  return {
    succeed: async (request) => (await durableApi()).sendCallbackSuccess(request),
    fail: async (request) => (await durableApi()).sendCallbackFailure(request),
    heartbeat: async (request) => (await durableApi()).sendCallbackHeartbeat(request),
    // The package's callback ids are base64 JSON naming their execution (its CallbackIdData).
    executionOf: (callbackId) => {
      try {
        const data = JSON.parse(Buffer.from(callbackId, 'base64').toString('utf8')) as { executionId?: unknown };
        return typeof data.executionId === 'string' ? data.executionId : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

// The functions as serverless.yml names them for the local stage (local/iam/enforce.ts).
const STACK = localStack();
const functionNamed = (key: string): string => {
  const fn = STACK.functions[key];
  if (!fn) throw new Error(`serverless.yml has no function ${key}`);
  return fn.functionName;
};
export const INGRESS_FUNCTION = functionNamed('ingress');
export const API_FUNCTION = functionNamed('api');
export const WEBHOOK_FUNCTION = functionNamed('webhook');
/** The local HTTP API's id: its host is `<id>.execute-api.<region>.amazonaws.com`, its routes' ARNs name it. */
export const LOCAL_API_ID = 'ecschatops1';

/** A system calling the signed API: an IAM role of the bot's account, one session of it, its keys. */
export interface ApiCaller {
  roleArn: string;
  /** The session's ARN (arn:aws:sts::…:assumed-role/ROLE/SESSION), what API Gateway names the caller. */
  sessionArn: string;
  credentials: Credentials;
  /** A request signed with these credentials (or `sign: false`, or others), through the local HTTP API. */
  call(method: string, path: string, body?: unknown, options?: { sign?: false | Credentials; signingDate?: Date }): Promise<HttpResult>;
}
export const WORKER_FUNCTION = functionNamed('worker');
export const WORKER_FAILURES_FUNCTION = functionNamed('workerFailures');
const WORKER_FAILURE_QUEUE_ARN = STACK.resources.WorkerFailureQueue!.arn;

/** A message on a failure queue (an on-failure destination's record, or an event EventBridge dead-lettered). */
export interface QueuedMessage {
  messageId: string;
  body: string;
  /** Set by EventBridge on a dead-lettered event: RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE. */
  messageAttributes?: Record<string, string>;
}
export const NOTIFIER_FUNCTION = functionNamed('notifier');
/** Lambda's waits before its two retries of a failed asynchronous invocation (Lambda developer guide: 1 min, then 2). */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000];
export const RUN_WORKFLOW_FUNCTION = functionNamed('runWorkflow');
export const DEPLOY_WORKFLOW_FUNCTION = functionNamed('deployWorkflow');
/** EventBridge Scheduler's target (src/handlers/scheduled.ts). */
export const SCHEDULED_FUNCTION = functionNamed('scheduled');
export const SIGNING_SECRET_PARAM = LOCAL_STACK_OPTIONS.params.slackSigningSecretParam;
export const BOT_TOKEN_PARAM = LOCAL_STACK_OPTIONS.params.slackBotTokenParam;

/** Seeded people: alice asks, bob approves, mallory is not on the allowlist. */
export const SEED_ALLOWLIST: Array<{ userId: string; grants: Grant[] }> = [
  {
    userId: 'U0ALICE',
    grants: [
      { role: 'operator', services: ['*'] },
      { role: 'deployer', services: ['*'] },
      { role: 'admin', services: ['*'] },
    ],
  },
  {
    userId: 'U0BOB',
    grants: [
      { role: 'approver', services: ['*'] },
      { role: 'viewer', services: ['*'] },
    ],
  },
];

export interface World {
  slack: SlackServer;
  aws: AwsEmulator;
  dynamo: LocalDynamo;
  /** Container registries (Docker Hub, public.ecr.aws, ghcr.io, quay.io); the bot finds them through ECS_CHATOPS_REGISTRY_ENDPOINTS. */
  registry: LocalRegistry;
  /** The ECS Exec data channel (SSM agent behind MGS) for the sessions the emulator's ExecuteCommand grants. */
  execAgent: ExecAgent;
  teamId: string;
  signingSecret: string;
  env: Record<string, string>;
  /** The production ingress handler, called as API Gateway calls it. */
  ingress(event: HttpEvent): Promise<HttpResult>;
  /**
   * The HTTP API: every route serverless.yml declares, SigV4 and execute-api:Invoke checked for
   * its IAM routes as API Gateway does (local/aws/http-api.ts), then the route's function.
   */
  httpApi: ReturnType<typeof localHttpApi>;
  /**
   * A role of the bot's account for a system calling the signed API, allowed execute-api:Invoke on
   * `/api/*` (or given `policy`), and a session of it (expiring in an hour, emulator time).
   */
  apiCaller(roleName: string, options?: { policy?: PolicyDocument; session?: string; expires?: false }): ApiCaller;
  /** A signed `/ecs …` from a seeded user in a channel, through the ingress; its answer shows as Slack would show it. */
  slash(userId: string, text: string, channelId?: string): Promise<HttpResult>;
  /** A person adds or removes a reaction; Slack delivers `reaction_added`/`reaction_removed` to the ingress. */
  react(userId: string, channelId: string, ts: string, name: string, added?: boolean): Promise<HttpResult & { eventId: string }>;
  /** Delivers an Events API envelope again, as Slack's retries do (same event_id). */
  redeliver(eventId: string): Promise<HttpResult>;
  /** A person clicks a button (block_actions) on a message. */
  click(userId: string, channelId: string, messageTs: string, action: { action_id: string; value?: string }): Promise<HttpResult>;
  /**
   * Every durable workflow execution, run and deploy (newest last), for history and invocation
   * assertions. Emulator time (ECS rollouts) moves with `aws.clock.advance(ms)`.
   */
  workflows: Array<TestResult<unknown>>;
  /**
   * Deploys new code of a durable workflow, as a redeploy of the bot does: published as the next
   * version, the `durable` alias moved to it. Returns the new version.
   */
  upgradeWorkflow(workflow: 'run' | 'deploy', next: (current: DurableLambdaHandler) => DurableLambdaHandler): string;
  /** Messages sent to the worker's failure queue (its on-failure destination), oldest first. */
  failureQueue: QueuedMessage[];
  /**
   * The notifier's failure queue, oldest first: its failed invocations' records (Lambda's on-failure
   * destination, after two retries) and events EventBridge could not deliver (the rules' dead-letter queue).
   */
  notifyFailureQueue: QueuedMessage[];
  /**
   * AWS events: `emit` is an AWS service emitting one in its account and region (EventBridge adds
   * id and version and routes it); `delivered` is what EventBridge delivered to the notifier, in
   * order, duplicates included; `idle` resolves once every delivery and the invocations it made
   * (retries included) have ended.
   */
  events: { emit(event: EmittedEvent): void; readonly delivered: AwsEvent[]; idle(): Promise<void> };
  /**
   * (Re)registers the notifier function with this handler, deployed as serverless.yml deploys it
   * (retries, on-failure destination). The world does it itself with src/handlers/notifier.ts.
   */
  registerNotifier(handler: LambdaHandlerLike): void;
  /** Re-registers the worker with another time limit (Lambda's timeout), the same destination. */
  setWorkerTimeout(ms: number): void;
  /** Resolves when every asynchronous worker invocation has finished. */
  idle(): Promise<void>;
  /**
   * Seeds a fleet (local/aws/seed-fleet.ts) in the bot's organization: each account with the target
   * role of infra/cross-account-role.yaml for this stack, enforced as the other target accounts'.
   * Latency, throttling and the per-account in-flight meter are `aws.traffic`.
   */
  seedFleet(options: Omit<FleetSeedOptions, 'targetRole' | 'traffic' | 'managementAccountId'>): SeededFleet;
  close(): Promise<void>;
}

/** The environment serverless.yml gives the functions, merged (LOG_LEVEL and NODE_OPTIONS stay the test's). */
function deployedEnvironment(model: StackModel): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const fn of Object.values(model.functions)) {
    for (const [name, value] of Object.entries(fn.environment)) {
      if (name === 'LOG_LEVEL' || name === 'NODE_OPTIONS') continue;
      if (name in merged && merged[name] !== value)
        throw new Error(`serverless.yml gives ${name} two values (${merged[name]}, ${value}); the local world runs every function in one process`);
      merged[name] = value;
    }
  }
  return merged;
}

export async function startWorld(
  options: {
    slackPort?: number;
    awsPort?: number;
    dynamoPort?: number;
    registryPort?: number;
    exec?: Omit<ExecAgentOptions, 'aws'>;
    /** Durable waits of the run workflow are skipped (fake timers); default: real time. */
    durableSkipTime?: boolean;
    /**
     * The configuration's schedules run on their own as the clock reaches them (the playground,
     * schedule tests). Default: held — they exist and answer Scheduler's API, and a test delivers
     * a run when it wants one; otherwise the nightly backup would post into any test whose run
     * (or skipped time) happens to cross 01:00 UTC.
     */
    playSchedules?: boolean;
    /**
     * The deployed stack whose roles are enforced (default: serverless.yml for the local stage);
     * tests of enforcement pass a changed copy.
     */
    stack?: StackModel;
  } = {},
): Promise<World> {
  // Before any SDK client exists: each function's AWS calls are told apart by a header.
  tagRequestsWithFunction();
  const stack = options.stack ?? STACK;
  // The SDK warns on Node 20 about its 2027 plans; the local world is not the place for that notice.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const signingSecret = randomBytes(16).toString('hex');
  const botToken = `xoxb-local-${randomBytes(8).toString('hex')}`;
  const dynamo = await startLocalDynamo({ ...(options.dynamoPort ? { port: options.dynamoPort } : {}) });
  const slack = await startSlackServer({ ...(options.slackPort ? { port: options.slackPort } : {}), tokens: [botToken] });
  const aws = await startAwsEmulator({
    ...(options.awsPort ? { port: options.awsPort } : {}),
    seed: { slackSigningSecret: signingSecret, slackBotToken: botToken },
    lambda: { timeoutMs: 900_000 },
  });
  // IAM as deployed: each function acts as its role, every target account has the target role.
  enforceStackRoles(aws, stack);
  // Its EventBridge rules, buses and queues, and the forwarding rule in each target account.
  deployStackEvents(aws, stack);
  dynamo.authorizeWith(dynamoAuthorizer(aws));
  const registry = await startRegistry({ ...(options.registryPort ? { port: options.registryPort } : {}) });
  const execAgent = await startExecAgent({ ...options.exec, aws });

  const env: Record<string, string> = {
    ...aws.endpointEnv(),
    ...dynamo.env, // AWS_ENDPOINT_URL_DYNAMODB wins over AWS_ENDPOINT_URL for DynamoDB
    ...registry.env(),
    SLACK_API_URL: slack.url,
    // What serverless.yml sets (table names, the functions a worker hands off to, qualified by the
    // durable alias, the Slack parameter names): one process plays every function, so their
    // environments are merged (they agree on every shared name).
    ...deployedEnvironment(stack),
    // Locally a detached run is followed every 2 s of real time, so it reads like a live run.
    RUN_WORKFLOW_POLL_SECONDS: '2',
    // An incident's message is edited every 2 s rather than every minute, so it moves as you watch.
    NOTIFY_EDIT_INTERVAL_SECONDS: '2',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  Object.assign(process.env, env);

  // Imported after the environment is set; the handlers read it on first use, as in Lambda.
  const [{ handler: ingress }, { handler: worker }, { dynamoAllowlist }, { resetSlackSecrets }, { clearCredentialCache }] = await Promise.all([
    import('../src/handlers/ingress'),
    import('../src/handlers/worker'),
    import('../src/auth/allowlist'),
    import('../src/platform/secrets'),
    import('../src/aws/credentials'),
  ]);
  // One process plays every function, so their cold-start caches are shared: each function's
  // first invocation reads the Slack secrets and assumes target roles again, with its own role,
  // as its own cold start would.
  const coldStart = () => {
    resetSlackSecrets();
    clearCredentialCache();
  };
  aws.lambda.onColdStart = coldStart;
  let ingressStarted = false;
  // The worker's on-failure destination is an SQS queue read by the crash reporter (serverless.yml):
  // a failed asynchronous invocation's record is queued and handed to it as an SQS event.
  const { handler: workerFailures } = await import('../src/handlers/worker-failures');
  aws.lambda.register(WORKER_FAILURES_FUNCTION, { handler: workerFailures as never, timeoutMs: 60_000 });
  const failureQueue: QueuedMessage[] = [];
  const onWorkerFailure = (record: AsyncFailureRecord) => {
    // Lambda sends to the destination with the worker's role; without the grant the record is lost.
    if (aws.authority.decideAsFunction(WORKER_FUNCTION, 'sqs:SendMessage', WORKER_FAILURE_QUEUE_ARN) !== 'allowed') {
      console.error(`[local lambda] ${WORKER_FUNCTION} may not send to its on-failure destination ${WORKER_FAILURE_QUEUE_ARN}: the record is lost`);
      return;
    }
    const message = { messageId: randomUUID(), body: JSON.stringify(record) };
    failureQueue.push(message);
    // The event source mapping polls the queue with the consumer's role (what AWS requires of it).
    const consumerMayPoll = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'].every(
      (action) => aws.authority.decideAsFunction(WORKER_FAILURES_FUNCTION, action, WORKER_FAILURE_QUEUE_ARN) === 'allowed',
    );
    if (!consumerMayPoll) {
      console.error(`[local lambda] ${WORKER_FAILURES_FUNCTION} may not poll ${WORKER_FAILURE_QUEUE_ARN}: the message stays in the queue`);
      return;
    }
    // What the queue's alarm counts (NumberOfMessagesSent); the event source mapping hands it on.
    void aws.lambda.invokeAsync(WORKER_FAILURES_FUNCTION, {
      Records: [
        {
          ...message,
          receiptHandle: message.messageId,
          attributes: { ApproximateReceiveCount: '1' },
          messageAttributes: {},
          eventSource: 'aws:sqs',
          eventSourceARN: WORKER_FAILURE_QUEUE_ARN,
          awsRegion: 'us-east-1',
        },
      ],
    });
  };
  // The notifier: EventBridge invokes it asynchronously; Lambda retries a failure twice, 1 and 2
  // minutes later on the emulator clock, then sends the record to its destination with its role.
  const notifier = stack.functions.notifier;
  const notifyFailureQueueArn = notifier?.asyncInvoke.onFailureArn;
  const notifyFailureQueue: QueuedMessage[] = notifyFailureQueueArn ? aws.eventBridge.queue(notifyFailureQueueArn) : [];
  const registerNotifier = (handler: LambdaHandlerLike) =>
    aws.lambda.register(NOTIFIER_FUNCTION, {
      handler,
      timeoutMs: 60_000, // serverless.yml's timeout
      maxRetries: notifier?.asyncInvoke.maximumRetryAttempts ?? 2,
      retryDelaysMs: ASYNC_RETRY_DELAYS_MS,
      onFailure: (record) => {
        if (!notifyFailureQueueArn) return;
        if (aws.authority.decideAsFunction(NOTIFIER_FUNCTION, 'sqs:SendMessage', notifyFailureQueueArn) !== 'allowed') {
          console.error(`[local lambda] ${NOTIFIER_FUNCTION} may not send to its on-failure destination ${notifyFailureQueueArn}: the record is lost`);
          return;
        }
        notifyFailureQueue.push({ messageId: randomUUID(), body: JSON.stringify(record) });
      },
    });
  registerNotifier((await import('../src/handlers/notifier')).handler as LambdaHandlerLike);
  const registerWorker = (timeoutMs: number) => aws.lambda.register(WORKER_FUNCTION, { handler: worker as never, timeoutMs, onFailure: onWorkerFailure });
  registerWorker(900_000);
  // The durable workflows run through the testing package (registerDurableFunction); the worker
  // completes their callbacks with the real Lambda API, which the emulator hands to it.
  const workflows: Array<TestResult<unknown>> = [];
  const [{ handler: runWorkflow }, { handler: deployWorkflow, productionDeployWorkflowDeps }, { createDeployWorkflow }, { withDurableExecution }] =
    await Promise.all([
      import('../src/handlers/run-workflow'),
      import('../src/handlers/deploy-workflow'),
      import('../src/workflows/deploy'),
      import('@aws/durable-execution-sdk-js'),
    ]);
  const runWorkflowVersions = registerDurableFunction(aws.lambda, RUN_WORKFLOW_FUNCTION, runWorkflow, workflows);
  // With skipped time, the deploy workflow (the production function and dependencies) runs with a
  // context whose waits move the emulator's clock, so rollouts progress as the waits pass.
  const deployHandler = options.durableSkipTime
    ? withDurableExecution(advanceClockOnWaits(createDeployWorkflow(productionDeployWorkflowDeps()), aws.clock))
    : deployWorkflow;
  const deployWorkflowVersions = registerDurableFunction(aws.lambda, DEPLOY_WORKFLOW_FUNCTION, deployHandler, workflows);
  aws.lambda.durableCallbacks = localDurableCallbacks();

  // Before any traffic: the LOG_LEVEL swap it needs must not overlap the bot's own logging.
  await setupDurableEnvironment({ skipTime: options.durableSkipTime ?? false });

  const teamId = slack.workspace.team.id;
  for (const seed of SEED_ALLOWLIST) {
    await dynamoAllowlist.put({ teamId, userId: seed.userId, grants: seed.grants, addedBy: 'seed', updatedAt: new Date().toISOString() });
  }

  // API Gateway invokes the ingress synchronously; like any invocation it runs as its role and
  // Lambda writes its log with that role.
  const invokeIngress = (event: HttpEvent): Promise<HttpResult> => {
    aws.lambda.writeLog(INGRESS_FUNCTION);
    if (!ingressStarted) {
      ingressStarted = true;
      coldStart();
    }
    return runAsFunction(INGRESS_FUNCTION, () => ingress(event));
  };
  // Schedules: Scheduler invokes the scheduled function asynchronously (Lambda retries a failure
  // twice, on the emulator clock); the schedules are created from the stack and run on its clock.
  const { handler: scheduled } = await import('../src/handlers/scheduled');
  aws.lambda.register(SCHEDULED_FUNCTION, {
    handler: scheduled as never,
    timeoutMs: 30_000,
    maxRetries: stack.functions.scheduled?.asyncInvoke.maximumRetryAttempts ?? 2,
    retryDelaysMs: ASYNC_RETRY_DELAYS_MS,
  });
  aws.scheduler.playing = options.playSchedules ?? false;
  deployStackSchedules(aws, stack);
  const { handler: api } = await import('../src/handlers/api');
  const invokeApi = (event: HttpEvent): Promise<HttpResult> => {
    aws.lambda.writeLog(API_FUNCTION);
    return runAsFunction(API_FUNCTION, () => api(event as never));
  };
  const { handler: webhook } = await import('../src/handlers/webhook');
  const invokeWebhook = (event: HttpEvent): Promise<HttpResult> => {
    aws.lambda.writeLog(WEBHOOK_FUNCTION);
    return runAsFunction(WEBHOOK_FUNCTION, () => webhook(event as never));
  };
  const functionsByName: Record<string, (event: HttpEvent) => Promise<HttpResult>> = {
    [INGRESS_FUNCTION]: invokeIngress,
    [API_FUNCTION]: invokeApi,
    [WEBHOOK_FUNCTION]: invokeWebhook,
  };
  const httpApi = localHttpApi({
    state: aws.state,
    apiId: LOCAL_API_ID,
    region: stack.region,
    accountId: stack.accountId,
    routes: Object.values(stack.functions).flatMap((fn) => fn.httpApi.map((route) => ({ ...route, functionName: fn.functionName }))),
    invoke: (name, event) => {
      const fn = functionsByName[name];
      if (!fn) throw new Error(`the local HTTP API has no function ${name}`);
      return fn(event as HttpEvent);
    },
    clockNow: () => aws.clock.now(),
  });
  const apiCaller = (roleName: string, options: { policy?: PolicyDocument; session?: string; expires?: false } = {}): ApiCaller => {
    const policy: PolicyDocument = options.policy ?? {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'execute-api:Invoke', Resource: `arn:aws:execute-api:${stack.region}:${stack.accountId}:${LOCAL_API_ID}/*/*/api/*` },
      ],
    };
    const role = putRole(aws.state, stack.accountId, roleName, {
      trust: trustPolicy({ AWS: `arn:aws:iam::${stack.accountId}:root` }),
      inline: { invoke: policy },
    });
    // `expires: false`: keys without a session token, easier to paste into curl (the playground's).
    const issued = aws.state.issueCredentials(
      role,
      options.session ?? `${roleName}-session`,
      options.expires === false ? {} : { expiration: new Date(aws.clock.now() + 3_600_000) },
    );
    const credentials: Credentials = {
      accessKeyId: issued.accessKeyId,
      secretAccessKey: issued.secretAccessKey,
      ...(issued.sessionToken ? { sessionToken: issued.sessionToken } : {}),
    };
    return {
      roleArn: role.arn,
      sessionArn: issued.identity.arn,
      credentials,
      async call(method, path, body, callOptions = {}) {
        const [pathname = '', query] = path.split('?');
        const request = {
          method,
          path: pathname,
          ...(query ? { query } : {}),
          headers: { host: httpApi.host, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
          host: httpApi.host,
        };
        const signWith = callOptions.sign === undefined ? credentials : callOptions.sign;
        const sent = signWith ? await signHttpApiRequest(request, signWith, stack.region, callOptions.signingDate) : request;
        return httpApi.handle(sent);
      },
    };
  };
  const userName = (id: string) => slack.workspace.users.find((u) => u.id === id)?.name ?? id.toLowerCase();
  const sign = (body: string, contentType: 'application/json' | 'application/x-www-form-urlencoded', headers?: Record<string, string>) =>
    signedSlackEvent({ signingSecret, contentType, body, ...(headers ? { headers } : {}) });
  const delivered = new Map<string, string>();
  let eventCounter = 0;
  let responseCounter = 0;
  const responseUrl = (channel: string, user: string) => slack.responseUrl(`r${++responseCounter}`, { channel, user });

  return {
    slack,
    aws,
    dynamo,
    registry,
    execAgent,
    teamId,
    signingSecret,
    env,
    workflows,
    ingress: invokeIngress,
    httpApi,
    apiCaller,
    async slash(userId, text, channelId = 'C0OPS') {
      const key = `r${++responseCounter}`;
      const body = slashCommandBody({
        teamId,
        userId,
        userName: userName(userId),
        channelId,
        text,
        responseUrl: slack.responseUrl(key, { channel: channelId, user: userId }),
      });
      const res = await invokeIngress(sign(body, 'application/x-www-form-urlencoded'));
      if (res.statusCode === 200 && res.body) {
        const answer = JSON.parse(res.body) as { text?: string; blocks?: unknown[] };
        slack.showCommandAnswer(userId, channelId, answer, '/ecs', key);
      } else {
        slack.showCommandAnswer(userId, channelId, { text: `/ecs failed with the error "dispatch_failed" (HTTP ${res.statusCode})` });
      }
      return res;
    },
    async react(userId, channelId, ts, name, added = true) {
      if (added) slack.addReaction(userId, channelId, ts, name);
      else slack.removeReaction(userId, channelId, ts, name);
      const eventId = `Ev${String(++eventCounter).padStart(8, '0')}`;
      const body = JSON.stringify({
        type: 'event_callback',
        team_id: teamId,
        api_app_id: 'A0LOCAL',
        event_id: eventId,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [{ team_id: teamId, user_id: slack.workspace.bot.userId, is_bot: true }],
        event: {
          type: added ? 'reaction_added' : 'reaction_removed',
          user: userId,
          reaction: name,
          item_user: slack.message(channelId, ts)?.user ?? slack.workspace.bot.userId,
          item: { type: 'message', channel: channelId, ts },
          event_ts: `${Date.now() / 1000}`,
        },
      });
      delivered.set(eventId, body);
      return { ...(await invokeIngress(sign(body, 'application/json'))), eventId };
    },
    async redeliver(eventId) {
      const body = delivered.get(eventId);
      if (!body) throw new Error(`no event ${eventId} was delivered`);
      return invokeIngress(sign(body, 'application/json', { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' }));
    },
    async click(userId, channelId, messageTs, action) {
      const payload = {
        type: 'block_actions',
        team: { id: teamId },
        user: { id: userId, username: userName(userId) },
        channel: { id: channelId, name: slack.workspace.channels.find((c) => c.id === channelId)?.name },
        message: { ts: messageTs },
        container: { type: 'message', message_ts: messageTs, channel_id: channelId },
        response_url: responseUrl(channelId, userId),
        trigger_id: triggerId(),
        actions: [{ ...action, type: 'button', action_ts: `${Date.now() / 1000}` }],
      };
      return invokeIngress(sign(`payload=${encodeURIComponent(JSON.stringify(payload))}`, 'application/x-www-form-urlencoded'));
    },
    failureQueue,
    notifyFailureQueue,
    events: {
      emit: (event) => aws.state.events.emit(event),
      delivered: aws.eventBridge.deliveredTo(NOTIFIER_FUNCTION),
      idle: () => aws.eventBridge.idle(),
    },
    registerNotifier,
    setWorkerTimeout: registerWorker,
    upgradeWorkflow: (workflow, next) => (workflow === 'run' ? runWorkflowVersions : deployWorkflowVersions).upgrade(next),
    idle: () => aws.lambda.idle(),
    seedFleet: (fleetOptions) => {
      const fleet = seedFleet(aws.state, {
        ...fleetOptions,
        managementAccountId: stack.accountId,
        traffic: aws.traffic,
        targetRole: (accountId) => targetRoleFor(stack, accountId),
      });
      for (const account of fleet.accounts)
        if (!fleet.missingRole.includes(account.id)) aws.authority.enforce(`arn:aws:iam::${account.id}:role/${fleet.roleName}`);
      return fleet;
    },
    async close() {
      // A deploy still waiting for its approval would hold this for up to its expiry: give running
      // work a moment to end, then tear down regardless (the checkpoint server goes with it).
      await Promise.race([aws.lambda.idle().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 3000).unref())]);
      const { resetDynamo } = await import('../src/platform/dynamo');
      await resetDynamo();
      // The next world is a new deployment: its functions start cold and read its own secrets.
      const { resetSlackSecrets } = await import('../src/platform/secrets');
      resetSlackSecrets();
      await execAgent.close();
      await Promise.all([slack.close(), aws.close(), dynamo.close(), registry.close()]);
      // For the suite's IAM coverage (test/support/global-setup.ts): what each role was asked to
      // do. Not for a changed stack: its refusals are what its test is about.
      if (!options.stack) writeDecisionLog(aws.authority.decisions);
      await teardownDurableEnvironment();
    },
  };
}
