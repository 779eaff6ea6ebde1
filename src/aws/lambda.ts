/**
 * The one Lambda client of a process, for handing work on: asynchronous invokes (a job to the
 * worker, a run or a deploy to its durable workflow) and completing a workflow's callback. The SDK
 * is loaded on first use and the client created then: nothing here runs at import, and the
 * ingress's cold start does not parse it (help, whoami and untracked events never need it).
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';

/**
 * `ack`: on the way to Slack's 3-second answer, so short timeouts (a hand-off that cannot connect
 * in a second fails, and the user is told). `default`: the SDK's timeouts.
 */
export type LambdaProfile = 'ack' | 'default';

const clients: { [profile in LambdaProfile]?: LambdaClient } = {};

/** This profile's client, created on first use. */
const clientFor = (sdk: typeof import('@aws-sdk/client-lambda'), profile: LambdaProfile): LambdaClient =>
  (clients[profile] ??= new sdk.LambdaClient(
    profile === 'ack' ? { maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 } } : { maxAttempts: 3 },
  ));

/**
 * InvocationType Event: queued by Lambda (202), never waited for. `what` names the function in
 * the error (`worker`, `run workflow`).
 */
export async function invokeAsync(
  functionName: string,
  payload: unknown,
  what: string,
  profile: LambdaProfile = 'default',
  durable?: { Qualifier?: string; DurableExecutionName: string },
): Promise<void> {
  const sdk = await import('@aws-sdk/client-lambda');
  const out = await clientFor(sdk, profile).send(
    new sdk.InvokeCommand({ FunctionName: functionName, ...durable, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) }),
  );
  if (out.StatusCode !== 202) throw new Error(`${what} invocation returned status ${out.StatusCode}`);
}

/**
 * Starts a durable function's execution: invoked through a qualified name (`$LATEST` unless the
 * name already carries one), and idempotent by `executionName` (a retried invoke returns the same execution).
 */
export async function startDurableExecution(functionName: string, payload: unknown, what: string, executionName: string): Promise<void> {
  await invokeAsync(functionName, payload, what, 'default', {
    ...(functionName.includes(':') ? {} : { Qualifier: '$LATEST' }),
    DurableExecutionName: executionName,
  });
}

/** SendDurableExecutionCallbackSuccess: wakes a durable workflow waiting on that callback with `result`. */
export async function completeCallback(callbackId: string, result: unknown, profile: LambdaProfile = 'default'): Promise<void> {
  const sdk = await import('@aws-sdk/client-lambda');
  await clientFor(sdk, profile).send(
    new sdk.SendDurableExecutionCallbackSuccessCommand({ CallbackId: callbackId, Result: Buffer.from(JSON.stringify(result)) }),
  );
}
