/**
 * AWS Lambda Invoke (REST-JSON) over in-process handlers. The bot acknowledges Slack within 3 s and
 * hands slow work to itself with `InvocationType: Event`; this runtime reproduces what matters for
 * that: 202 before the handler runs, a context whose remaining time counts down, function errors
 * reported in-band (`X-Amz-Function-Error`), and a record of every invocation for tests to await.
 *
 * It also takes the durable-execution callback API (SendDurableExecutionCallbackSuccess/Failure/
 * Heartbeat), which a worker uses to complete a workflow's `context.waitForCallback`. The runtime
 * does not run durable executions itself; a pluggable backend (`durableCallbacks`, set by the local
 * world to the testing package's checkpoint server) completes the callbacks.
 */
import { AwsError, header, type CallContext, type Params, type RestResult, type ServiceDefinition } from '../protocols';
import type { Authority } from '../authorization';
import { runAsFunction } from '../function-context';
import { arns, DEFAULT_ACCOUNT, DEFAULT_REGION, uuid, type Clock } from '../state';

/** The subset of aws-lambda's Context the bot relies on. */
export interface LambdaContextLike {
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}
export type LambdaHandlerLike = (event: unknown, context: LambdaContextLike) => Promise<unknown>;
export interface FunctionConfig {
  handler: LambdaHandlerLike;
  /** Function timeout; `getRemainingTimeInMillis()` counts down from it on the emulator clock. */
  timeoutMs?: number;
  memoryMb?: number;
  /** Retries of a failed `Event` invocation (AWS defaults to 2; the emulator to 0 so failures stay visible). */
  maxRetries?: number;
  /**
   * How long Lambda waits before each retry of a failed `Event` invocation, on the emulator clock
   * (AWS: 1 minute, then 2; `clock.advance` skips them). Default: none, retries follow at once.
   */
  retryDelaysMs?: number[];
  /**
   * The on-failure destination of asynchronous invocations: called with AWS's invocation record
   * once an `Event` invocation has failed its last attempt (the local world forwards it to a queue).
   */
  onFailure?: (record: AsyncFailureRecord) => void;
}

/** What Lambda sends an on-failure destination (AWS Lambda developer guide, "invocation record"). */
export interface AsyncFailureRecord {
  version: '1.0';
  timestamp: string;
  requestContext: { requestId: string; functionArn: string; condition: 'RetriesExhausted' | 'EventAgeExceeded'; approximateInvokeCount: number };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion: string; functionError: 'Unhandled' | 'Handled' };
  responsePayload: unknown;
}
export type FunctionRegistry = Map<string, LambdaHandlerLike | FunctionConfig> | Record<string, LambdaHandlerLike | FunctionConfig>;

export interface InvocationRecord {
  functionName: string;
  requestId: string;
  invocationType: 'RequestResponse' | 'Event';
  /** The event as the handler received it. */
  payload: unknown;
  /** 1 for the first try, 2… for async retries (same requestId, as in AWS). */
  attempt: number;
  /** The version that ran: `$LATEST`, or the published version a version or alias resolved to. */
  executedVersion: string;
  /** ARN of whoever called Invoke. */
  caller: string;
  startedAt: Date;
  endedAt?: Date;
  result?: unknown;
  error?: { errorType: string; errorMessage: string };
  timedOut?: boolean;
}

/** `name`, `name:alias`, `111111111111:function:name` or a full ARN → `name`. */
function functionName(ref: unknown): string {
  const s = String(ref ?? '');
  return (s.includes('function:') ? s.slice(s.indexOf('function:') + 'function:'.length) : s).split(':')[0]!;
}

/** The qualifier (version or alias) a function reference carries: `name:live` → `live`. */
function qualifierOf(ref: unknown): string | undefined {
  const s = String(ref ?? '');
  return (s.includes('function:') ? s.slice(s.indexOf('function:') + 'function:'.length) : s).split(':')[1];
}

/** SendDurableExecutionCallbackFailure's payload (the SDK's ErrorObject). */
export interface DurableCallbackError {
  ErrorMessage?: string;
  ErrorType?: string;
  ErrorData?: string;
  StackTrace?: string[];
}
/**
 * Completes durable-execution callbacks; takes the SDK's request shapes, as the testing package's
 * `LocalDurableTestRunner.createDurableApi()` does. Throw an AwsError to answer with it; other
 * errors are mapped by message (see callbackError).
 */
export interface DurableCallbackBackend {
  succeed(request: { CallbackId: string; Result?: Uint8Array }): Promise<unknown>;
  fail(request: { CallbackId: string; Error?: DurableCallbackError }): Promise<unknown>;
  heartbeat(request: { CallbackId: string }): Promise<unknown>;
  /** The backend's id of the execution a callback belongs to (undefined: not one of its callbacks). */
  executionOf(callbackId: string): string | undefined;
}

/** Documented for every SendDurableExecutionCallback* CallbackId (Lambda API reference). */
const CALLBACK_ID = /^[A-Za-z0-9+/]+={0,2}$/;
const MAX_CALLBACK_RESULT = 262_144;

/** The callback is closed: AWS's documented error ("expired or … already been closed", HTTP 400). */
const callbackClosed = (id: string) =>
  // The message is the emulator's own (UNVERIFIED against AWS); code and status are from the API model.
  new AwsError('CallbackTimeoutException', `The callback ${id} has expired or has already been closed.`, 400, { Type: 'User' });

/**
 * Maps what a backend throws to what Lambda would answer. The testing package's checkpoint server
 * throws plain Errors across its worker thread (the class is lost, only the message survives):
 * "Execution not found" (malformed id or unknown execution), "Could not find operation" (unknown
 * callback in a known execution), "Failed to decode CallbackIdData…".
 */
function callbackError(err: unknown, id: string): unknown {
  if (err instanceof AwsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (/Execution not found|Could not find operation|Failed to decode CallbackIdData|Missing callback Id/i.test(message)) {
    // UNVERIFIED: AWS's answer to a well-formed but unknown callback id is not documented; the
    // operation's modelled errors include InvalidParameterValueException and ResourceNotFoundException.
    return new AwsError('InvalidParameterValueException', `Invalid callback id ${id}: ${message}`, 400, { Type: 'User' });
  }
  return err; // answered as ServiceException (500) and logged by the emulator
}

interface Outcome {
  payload: string;
  failed: boolean;
}

type FunctionEntry = Required<Omit<FunctionConfig, 'onFailure' | 'retryDelaysMs'>> & Pick<FunctionConfig, 'onFailure' | 'retryDelaysMs'>;

/** Resolves once the emulator clock has moved `ms` on, by real time at its rate or by `advance()`. */
function sleepOnClock(clock: Clock, ms: number): Promise<void> {
  const until = clock.now() + ms;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      if (clock.now() < until) return false;
      stop();
      clearTimeout(timer);
      resolve();
      return true;
    };
    const stop = clock.onAdvance(done);
    const arm = () => {
      if (done() || clock.rate === 0) return;
      // Unref'd: a retry still waiting does not keep a finished test's process alive.
      timer = setTimeout(arm, Math.max(1, (until - clock.now()) / clock.rate)).unref();
    };
    arm();
  });
}

export class LambdaRuntime {
  readonly functions = new Map<string, FunctionEntry>();
  /** Published versions per function: index 0 is version 1 (PublishVersion snapshots $LATEST). */
  private readonly versions = new Map<string, FunctionEntry[]>();
  /** Aliases per function: alias name → version. */
  private readonly aliases = new Map<string, Map<string, string>>();
  /** Invocations to end now as if the sandbox died (see kill()). */
  private readonly killers = new Map<string, Set<(error: Error) => void>>();
  readonly invocations: InvocationRecord[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /**
   * Completes durable-execution callbacks for SendDurableExecutionCallback*; the local world sets
   * it to the testing package's durable API. Without one those calls fail with ServiceException.
   */
  durableCallbacks?: DurableCallbackBackend;
  /**
   * Called on each function's first invocation: every handler here shares one process, so what a
   * cold start does per function (read its own secrets) is the embedder's to redo.
   */
  onColdStart?: (name: string) => void;
  private readonly started = new Set<string>();
  /** Evaluates what Lambda does with a function's role (its logs); set by the emulator. */
  authority?: Pick<Authority, 'decideAsFunction'>;
  /** Callbacks completed through this API or closed by closeDurableCallbacks. */
  private readonly closedCallbacks = new Set<string>();
  /** The backend's execution ids → the durable executions' ARNs (what IAM judges callbacks against). */
  private readonly durableExecutions = new Map<string, string>();

  constructor(
    private readonly clock: Clock,
    private readonly defaults: { timeoutMs?: number; maxRetries?: number } = {},
    registry?: FunctionRegistry,
  ) {
    const entries = registry instanceof Map ? registry.entries() : Object.entries(registry ?? {});
    for (const [name, fn] of entries) this.register(name, fn);
  }

  register(name: string, fn: LambdaHandlerLike | FunctionConfig): void {
    const config = typeof fn === 'function' ? { handler: fn } : fn;
    this.functions.set(name, {
      handler: config.handler,
      timeoutMs: config.timeoutMs ?? this.defaults.timeoutMs ?? 30_000,
      memoryMb: config.memoryMb ?? 1024,
      maxRetries: config.maxRetries ?? this.defaults.maxRetries ?? 0,
      ...(config.onFailure ? { onFailure: config.onFailure } : {}),
      ...(config.retryDelaysMs ? { retryDelaysMs: config.retryDelaysMs } : {}),
    });
  }

  /**
   * PublishVersion: $LATEST as it is now becomes an immutable numbered version (what a deploy does
   * with versioned functions). Returns the version number.
   */
  publishVersion(name: string): string {
    const latest = this.functions.get(name);
    if (!latest) throw new Error(`no function ${name}`);
    const list = this.versions.get(name) ?? [];
    list.push({ ...latest });
    this.versions.set(name, list);
    return String(list.length);
  }

  /** CreateAlias / UpdateAlias: `alias` now resolves to `version`. */
  setAlias(name: string, alias: string, version: string): void {
    if (!this.versions.get(name)?.[Number(version) - 1]) throw new Error(`no version ${version} of ${name}`);
    if (!this.aliases.has(name)) this.aliases.set(name, new Map());
    this.aliases.get(name)!.set(alias, version);
  }

  /** What an invocation of `name` with `qualifier` runs: $LATEST, a version, or the version an alias points to. */
  private resolve(name: string, qualifier: string | undefined, arn: string): { entry: FunctionEntry; version: string } {
    if (qualifier === undefined || qualifier === '$LATEST') return { entry: this.functions.get(name)!, version: '$LATEST' };
    const version = /^\d+$/.test(qualifier) ? qualifier : this.aliases.get(name)?.get(qualifier);
    const entry = version ? this.versions.get(name)?.[Number(version) - 1] : undefined;
    if (!entry || !version) throw new AwsError('ResourceNotFoundException', `Function not found: ${arn}:${qualifier}`, 404, { Type: 'User' });
    return { entry, version };
  }

  /**
   * Ends every running invocation of `name` as Lambda reports a sandbox that died mid-request (out
   * of memory, killed): `Runtime.ExitError`. In-process the handler cannot be stopped; it is simply
   * no longer waited for, and what it does afterwards is ignored by the invocation's outcome.
   */
  kill(name: string, reason = 'signal: killed'): number {
    const running = [...(this.killers.get(name) ?? [])];
    for (const end of running) end(Object.assign(new Error(`RequestId: Error: Runtime exited with error: ${reason}`), { name: 'Runtime.ExitError' }));
    return running.length;
  }

  /**
   * Lambda's runtime writes an invocation's log with the function's execution role: a missing
   * grant only loses the log, as in AWS, and the authority records the refusal.
   */
  writeLog(name: string, logStreamName = `${this.clock.date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${uuid().replaceAll('-', '')}`): void {
    const stream = `arn:aws:logs:${DEFAULT_REGION}:${DEFAULT_ACCOUNT}:log-group:/aws/lambda/${name}:log-stream:${logStreamName}`;
    this.authority?.decideAsFunction(name, 'logs:CreateLogStream', stream);
    this.authority?.decideAsFunction(name, 'logs:PutLogEvents', stream);
  }

  /**
   * A durable execution of `name` started on `version` under the backend's id `executionId`: its
   * ARN as Lambda forms it (`function:NAME:VERSION/durable-execution/EXECUTION_NAME/EXECUTION_ID`),
   * the resource IAM evaluates its callbacks, checkpoints and state reads against.
   */
  recordDurableExecution(name: string, version: string, executionId: string): string {
    let arn = this.durableExecutions.get(executionId);
    if (!arn) {
      arn = `${arns.lambda(DEFAULT_ACCOUNT, DEFAULT_REGION, name)}:${version}/durable-execution/${executionId}/${executionId}`;
      this.durableExecutions.set(executionId, arn);
    }
    return arn;
  }

  /** The durable execution a callback belongs to, when the backend knows it. */
  private callbackExecutionArn(p: Params): string | undefined {
    const id = typeof p.CallbackId === 'string' ? p.CallbackId : '';
    const execution = this.durableCallbacks?.executionOf(id);
    return execution ? this.durableExecutions.get(execution) : undefined;
  }

  /** An asynchronous invocation by AWS itself (a destination, an event source), as `Event`. */
  async invokeAsync(name: string, event: unknown, caller = 'arn:aws:iam::aws:root'): Promise<void> {
    await this.invoke({ FunctionName: name, InvocationType: 'Event', Payload: JSON.stringify(event) }, {
      identity: { arn: caller },
      accountId: '111111111111',
      region: 'us-east-1',
      requestId: uuid(),
    } as never);
  }

  /**
   * Marks callbacks closed (e.g. every callback of a durable execution that has ended), so that
   * completing them later fails with CallbackTimeoutException as in AWS. Callbacks completed
   * through this API are closed already. A backend that does not report closed callbacks (the
   * testing package accepts a second completion silently, even of a timed-out callback) needs
   * this for the rest.
   */
  closeDurableCallbacks(ids: Iterable<string>): void {
    for (const id of ids) this.closedCallbacks.add(id);
  }

  /** Resolves once no `Event` invocation (including retries it triggers) is running. */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private async run(name: string, arn: string, eventJson: string, requestId: string, record: InvocationRecord, fn: FunctionEntry): Promise<Outcome> {
    const deadline = this.clock.now() + fn.timeoutMs;
    const context: LambdaContextLike = {
      functionName: name,
      functionVersion: record.executedVersion,
      invokedFunctionArn: arn,
      memoryLimitInMB: String(fn.memoryMb),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: `${this.clock.date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${uuid().replaceAll('-', '')}`,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - this.clock.now()),
    };
    this.invocations.push(record);
    this.writeLog(name, context.logStreamName);
    if (!this.started.has(name)) {
      this.started.add(name);
      this.onColdStart?.(name);
    }
    const timedOut = () =>
      Object.assign(new Error(`${this.clock.date().toISOString()} ${requestId} Task timed out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds`), {
        timedOut: true,
      });
    let timer: NodeJS.Timeout | undefined;
    try {
      // The handler cannot be killed in-process; past its deadline it is simply reported as timed out.
      let killer: ((error: Error) => void) | undefined;
      const result = await Promise.race([
        // A fresh parse per attempt: like AWS, the handler cannot alter what a retry or the record sees.
        // As the function: its AWS calls carry its name and are evaluated against its role.
        runAsFunction(name, () => Promise.resolve().then(() => fn.handler(JSON.parse(eventJson), context))),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timedOut()), fn.timeoutMs))),
        new Promise<never>((_, reject) => {
          killer = reject;
          if (!this.killers.has(name)) this.killers.set(name, new Set());
          this.killers.get(name)!.add(killer);
        }),
      ]).finally(() => this.killers.get(name)?.delete(killer!));
      if (this.clock.now() > deadline) throw timedOut();
      record.result = result;
      return { payload: JSON.stringify(result ?? null), failed: false };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const timeout = 'timedOut' in e;
      record.error = { errorType: timeout ? 'Sandbox.Timedout' : e.name, errorMessage: e.message };
      if (timeout) record.timedOut = true;
      const payload = timeout ? { errorMessage: e.message } : { errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') };
      return { payload: JSON.stringify(payload), failed: true };
    } finally {
      clearTimeout(timer);
      record.endedAt = this.clock.date();
    }
  }

  private async invoke(p: Params, ctx: CallContext): Promise<RestResult> {
    const name = functionName(p.FunctionName);
    const arn = arns.lambda(ctx.accountId, ctx.region, name);
    if (!this.functions.has(name)) {
      throw new AwsError('ResourceNotFoundException', `Function not found: ${arn}`, 404, { Type: 'User' });
    }
    const qualifier = qualifierOf(p.FunctionName) ?? (p.Qualifier as string | undefined);
    const { entry, version } = this.resolve(name, qualifier, arn);
    const invokedArn = qualifier ? `${arn}:${qualifier}` : arn;
    const type = p.InvocationType ?? 'RequestResponse';
    if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value '${type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`,
      );
    }
    let event: unknown;
    try {
      event = p.Payload ? JSON.parse(p.Payload) : {};
    } catch (err) {
      throw new AwsError('InvalidRequestContentException', `Could not parse request body into json: ${(err as Error).message}`, 400, { Type: 'User' });
    }
    if (type === 'DryRun') return { status: 204 };

    // As in AWS, the Invoke request id is the function's awsRequestId.
    const requestId = ctx.requestId;
    const start = (attempt: number): [InvocationRecord, Promise<Outcome>] => {
      const record: InvocationRecord = {
        functionName: name,
        requestId,
        invocationType: type,
        payload: structuredClone(event),
        attempt,
        caller: ctx.identity.arn,
        startedAt: this.clock.date(),
        executedVersion: version,
      };
      return [record, this.run(name, invokedArn, p.Payload || '{}', requestId, record, entry)];
    };

    if (type === 'Event') {
      const maxRetries = entry.maxRetries;
      const job = (async () => {
        await new Promise((resolve) => setImmediate(resolve)); // let the 202 go out first
        let last: Outcome | undefined;
        for (let attempt = 1; attempt <= 1 + maxRetries; attempt++) {
          const delay = attempt > 1 ? (entry.retryDelaysMs?.[attempt - 2] ?? 0) : 0;
          if (delay > 0) await sleepOnClock(this.clock, delay);
          last = await start(attempt)[1];
          if (!last.failed) return;
        }
        entry.onFailure?.({
          version: '1.0',
          timestamp: this.clock.date().toISOString(),
          requestContext: { requestId, functionArn: `${arn}:${version}`, condition: 'RetriesExhausted', approximateInvokeCount: 1 + maxRetries },
          requestPayload: event,
          responseContext: { statusCode: 200, executedVersion: version, functionError: 'Unhandled' },
          responsePayload: JSON.parse(last!.payload) as unknown,
        });
      })();
      this.inFlight.add(job);
      void job.finally(() => this.inFlight.delete(job));
      return { status: 202, headers: { 'x-amzn-RequestId': requestId } };
    }

    const { payload, failed } = await start(1)[1];
    return {
      status: 200,
      headers: {
        'content-type': 'application/json',
        'x-amzn-RequestId': requestId,
        'X-Amz-Executed-Version': version,
        ...(failed ? { 'X-Amz-Function-Error': 'Unhandled' } : {}),
        ...(p.LogType === 'Tail'
          ? { 'X-Amz-Log-Result': Buffer.from(`START RequestId: ${requestId} Version: ${version}\nEND RequestId: ${requestId}\n`).toString('base64') }
          : {}),
      },
      body: payload,
    };
  }

  private async durableCallback(kind: 'succeed' | 'fail' | 'heartbeat', p: Params): Promise<RestResult> {
    const id = String(p.CallbackId ?? '');
    if (id.length < 1 || id.length > 1024 || !CALLBACK_ID.test(id)) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value '${id}' at 'callbackId' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9+/]+={0,2}`,
      );
    }
    if (kind === 'succeed' && (p.Result as Buffer).length > MAX_CALLBACK_RESULT) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value at 'result' failed to satisfy constraint: Member must have length less than or equal to ${MAX_CALLBACK_RESULT}`,
      );
    }
    if (p.UnparsedBody !== undefined) {
      throw new AwsError('InvalidRequestContentException', 'Could not parse request body into json', 400, { Type: 'User' });
    }
    const backend = this.durableCallbacks;
    if (!backend) {
      throw new AwsError(
        'ServiceException',
        'The AWS emulator runs no durable executions: set LambdaRuntime.durableCallbacks (the local world sets it) to complete callbacks.',
        500,
        { Type: 'Service' },
      );
    }
    if (this.closedCallbacks.has(id)) throw callbackClosed(id);
    if (kind === 'heartbeat') {
      try {
        await backend.heartbeat({ CallbackId: id });
      } catch (err) {
        // The testing package refuses heartbeats for callbacks without a heartbeat timeout; AWS
        // presumably just accepts them (UNVERIFIED), so the emulator does too.
        if (!/Could not find callback that requires heartbeat/.test((err as Error)?.message ?? '')) throw callbackError(err, id);
      }
      return { status: 200 };
    }
    // Closed before the backend answers: of two racing completions (a double click) one wins.
    this.closedCallbacks.add(id);
    try {
      if (kind === 'succeed') await backend.succeed({ CallbackId: id, Result: p.Result as Buffer });
      else await backend.fail({ CallbackId: id, ...(p.Error ? { Error: p.Error as DurableCallbackError } : {}) });
    } catch (err) {
      this.closedCallbacks.delete(id);
      throw callbackError(err, id);
    }
    return { status: 200 };
  }

  readonly service: ServiceDefinition = {
    name: 'lambda',
    protocol: 'rest-json',
    routes: [
      {
        method: 'POST',
        path: '/2015-03-31/functions/{FunctionName}/invocations',
        action: 'Invoke',
        input: (r) => ({
          FunctionName: r.path.FunctionName,
          InvocationType: header(r.headers, 'x-amz-invocation-type'),
          LogType: header(r.headers, 'x-amz-log-type'),
          ClientContext: header(r.headers, 'x-amz-client-context'),
          Qualifier: r.query.Qualifier,
          Payload: r.body.toString('utf8'),
        }),
      },
      // Durable functions' callback API (API version 2025-12-01). Success: the body is the raw
      // Result bytes (httpPayload blob); failure: the body is the ErrorObject as JSON (httpPayload).
      {
        method: 'POST',
        path: '/2025-12-01/durable-execution-callbacks/{CallbackId}/succeed',
        action: 'SendDurableExecutionCallbackSuccess',
        input: (r) => ({ CallbackId: r.path.CallbackId, Result: r.body }),
      },
      {
        method: 'POST',
        path: '/2025-12-01/durable-execution-callbacks/{CallbackId}/fail',
        action: 'SendDurableExecutionCallbackFailure',
        input: (r) => {
          const text = r.body.toString('utf8');
          try {
            return { CallbackId: r.path.CallbackId, ...(text ? { Error: JSON.parse(text) } : {}) };
          } catch {
            return { CallbackId: r.path.CallbackId, UnparsedBody: text }; // refused by the handler
          }
        },
      },
      {
        method: 'POST',
        path: '/2025-12-01/durable-execution-callbacks/{CallbackId}/heartbeat',
        action: 'SendDurableExecutionCallbackHeartbeat',
        input: (r) => ({ CallbackId: r.path.CallbackId }),
      },
    ],
    actions: {
      Invoke: {
        iamAction: 'lambda:InvokeFunction',
        // IAM judges the ARN as invoked: a qualified invocation (`name:alias`, or Qualifier) is
        // matched against `function:NAME:QUALIFIER`, which a grant on the bare ARN does not cover.
        resources: (p, ctx) => {
          const qualifier = qualifierOf(p.FunctionName) ?? (p.Qualifier as string | undefined);
          const arn = arns.lambda(ctx.accountId, ctx.region, functionName(p.FunctionName));
          return [qualifier ? `${arn}:${qualifier}` : arn];
        },
        handler: (p, ctx) => this.invoke(p, ctx),
      },
      // Authorised against the durable execution the callback belongs to (IAM's `durable
      // execution` resource type for these actions: arn:aws:lambda:…:function:NAME:VERSION/
      // durable-execution/NAME/ID). A callback id no execution owns is judged against `*`, and
      // then refused by the backend as unknown.
      SendDurableExecutionCallbackSuccess: {
        iamAction: 'lambda:SendDurableExecutionCallbackSuccess',
        resources: (p) => [this.callbackExecutionArn(p) ?? '*'],
        handler: (p) => this.durableCallback('succeed', p),
      },
      SendDurableExecutionCallbackFailure: {
        iamAction: 'lambda:SendDurableExecutionCallbackFailure',
        resources: (p) => [this.callbackExecutionArn(p) ?? '*'],
        handler: (p) => this.durableCallback('fail', p),
      },
      SendDurableExecutionCallbackHeartbeat: {
        iamAction: 'lambda:SendDurableExecutionCallbackHeartbeat',
        resources: (p) => [this.callbackExecutionArn(p) ?? '*'],
        handler: (p) => this.durableCallback('heartbeat', p),
      },
    },
  };
}
