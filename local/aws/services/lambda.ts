/**
 * AWS Lambda Invoke (REST-JSON) over in-process handlers. The bot acknowledges Slack within 3 s and
 * hands slow work to itself with `InvocationType: Event`; this runtime reproduces what matters for
 * that: 202 before the handler runs, a context whose remaining time counts down, function errors
 * reported in-band (`X-Amz-Function-Error`), and a record of every invocation for tests to await.
 */
import { AwsError, header, type CallContext, type Params, type RestResult, type ServiceDefinition } from '../protocols';
import { arns, uuid, type Clock } from '../state';

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
}
export type FunctionRegistry =
  | Map<string, LambdaHandlerLike | FunctionConfig>
  | Record<string, LambdaHandlerLike | FunctionConfig>;

export interface InvocationRecord {
  functionName: string;
  requestId: string;
  invocationType: 'RequestResponse' | 'Event';
  /** The event as the handler received it. */
  payload: unknown;
  /** 1 for the first try, 2… for async retries (same requestId, as in AWS). */
  attempt: number;
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

interface Outcome {
  payload: string;
  failed: boolean;
}

export class LambdaRuntime {
  readonly functions = new Map<string, Required<FunctionConfig>>();
  readonly invocations: InvocationRecord[] = [];
  private readonly inFlight = new Set<Promise<void>>();

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
    });
  }

  /** Resolves once no `Event` invocation (including retries it triggers) is running. */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private async run(name: string, arn: string, eventJson: string, requestId: string, record: InvocationRecord): Promise<Outcome> {
    const fn = this.functions.get(name)!;
    const deadline = this.clock.now() + fn.timeoutMs;
    const context: LambdaContextLike = {
      functionName: name,
      functionVersion: '$LATEST',
      invokedFunctionArn: arn,
      memoryLimitInMB: String(fn.memoryMb),
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: `${this.clock.date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${uuid().replaceAll('-', '')}`,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - this.clock.now()),
    };
    this.invocations.push(record);
    const timedOut = () =>
      Object.assign(new Error(`${this.clock.date().toISOString()} ${requestId} Task timed out after ${(fn.timeoutMs / 1000).toFixed(2)} seconds`), {
        timedOut: true,
      });
    let timer: NodeJS.Timeout | undefined;
    try {
      // The handler cannot be killed in-process; past its deadline it is simply reported as timed out.
      const result = await Promise.race([
        // A fresh parse per attempt: like AWS, the handler cannot alter what a retry or the record sees.
        Promise.resolve().then(() => fn.handler(JSON.parse(eventJson), context)),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(timedOut()), fn.timeoutMs))),
      ]);
      if (this.clock.now() > deadline) throw timedOut();
      record.result = result;
      return { payload: JSON.stringify(result ?? null), failed: false };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      const timeout = 'timedOut' in e;
      record.error = { errorType: timeout ? 'Sandbox.Timedout' : e.name, errorMessage: e.message };
      if (timeout) record.timedOut = true;
      const payload = timeout
        ? { errorMessage: e.message }
        : { errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') };
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
    const type = p.InvocationType ?? 'RequestResponse';
    if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) {
      throw new AwsError('ValidationException', `1 validation error detected: Value '${type}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]`);
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
      };
      return [record, this.run(name, arn, p.Payload || '{}', requestId, record)];
    };

    if (type === 'Event') {
      const maxRetries = this.functions.get(name)!.maxRetries;
      const job = (async () => {
        await new Promise((resolve) => setImmediate(resolve)); // let the 202 go out first
        for (let attempt = 1; attempt <= 1 + maxRetries; attempt++) {
          if (!(await start(attempt)[1]).failed) return;
        }
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
        'X-Amz-Executed-Version': '$LATEST',
        ...(failed ? { 'X-Amz-Function-Error': 'Unhandled' } : {}),
        ...(p.LogType === 'Tail'
          ? { 'X-Amz-Log-Result': Buffer.from(`START RequestId: ${requestId} Version: $LATEST\nEND RequestId: ${requestId}\n`).toString('base64') }
          : {}),
      },
      body: payload,
    };
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
    ],
    actions: {
      Invoke: {
        iamAction: 'lambda:InvokeFunction',
        resources: (p, ctx) => [arns.lambda(ctx.accountId, ctx.region, functionName(p.FunctionName))],
        handler: (p, ctx) => this.invoke(p, ctx),
      },
    },
  };
}
