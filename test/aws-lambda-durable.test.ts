import {
  InvokeCommand,
  LambdaClient,
  SendDurableExecutionCallbackFailureCommand,
  SendDurableExecutionCallbackHeartbeatCommand,
  SendDurableExecutionCallbackSuccessCommand,
} from '@aws-sdk/client-lambda';
import { withDurableExecution } from '@aws/durable-execution-sdk-js';
import type { TestResult } from '@aws/durable-execution-sdk-js-testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { localDurableCallbacks, registerDurableFunction, setupDurableEnvironment, teardownDurableEnvironment } from '../local/world';

/**
 * The durable-execution callback API of the emulator's Lambda, driven with the real SDK commands:
 * a durable function registered as the local world registers its workflows waits for a callback,
 * and SendDurableExecutionCallbackSuccess/Failure/Heartbeat reach it through the testing package.
 */
const FUNCTION = 'approval-workflow';
type Outcome = { outcome: 'approved'; decision: unknown } | { outcome: 'failed'; name: string; message: string };

let emu: AwsEmulator;
let lambda: LambdaClient;
const executions: Array<TestResult<unknown>> = [];
/** Resolves each execution's callback id (by the execution's `key`) once its submitter ran. */
const submitted = new Map<string, (callbackId: string) => void>();

const approvalWorkflow = withDurableExecution(async (event: { key: string; timeoutSeconds?: number }, context): Promise<Outcome> => {
  try {
    const raw = await context.waitForCallback('approval', async (callbackId) => submitted.get(event.key)?.(callbackId), {
      timeout: { seconds: event.timeoutSeconds ?? 30 },
    });
    return { outcome: 'approved', decision: JSON.parse(raw) };
  } catch (err) {
    const e = err as Error;
    return { outcome: 'failed', name: e.name, message: e.message };
  }
});

beforeAll(async () => {
  emu = await startAwsEmulator();
  registerDurableFunction(emu.lambda, FUNCTION, approvalWorkflow, executions);
  emu.lambda.durableCallbacks = localDurableCallbacks();
  await setupDurableEnvironment({ skipTime: true });
  const env = emu.endpointEnv();
  lambda = new LambdaClient({
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
    maxAttempts: 1,
  });
});
afterAll(async () => {
  lambda?.destroy();
  await emu?.lambda.idle();
  await emu?.close();
  await teardownDurableEnvironment();
});
afterEach(() => emu.faults.clear());

let counter = 0;
/** Starts an execution as the worker does (an `Event` Invoke) and waits for its callback id. */
async function start(timeoutSeconds?: number): Promise<string> {
  const key = `e${++counter}`;
  const callbackId = new Promise<string>((resolve) => submitted.set(key, resolve));
  const out = await lambda.send(new InvokeCommand({ FunctionName: FUNCTION, InvocationType: 'Event', Payload: JSON.stringify({ key, timeoutSeconds }) }));
  expect(out.StatusCode).toBe(202);
  return callbackId;
}

/** The execution's outcome, once every invocation has finished. */
async function outcome(): Promise<Outcome> {
  await emu.lambda.idle();
  const result = executions.at(-1)!;
  expect(result.getStatus()).toBe('SUCCEEDED');
  return result.getResult() as Outcome;
}

const success = (callbackId: string, value: unknown) =>
  lambda.send(new SendDurableExecutionCallbackSuccessCommand({ CallbackId: callbackId, Result: Buffer.from(JSON.stringify(value)) }));
const failure = (callbackId: string, message: string) =>
  lambda.send(
    new SendDurableExecutionCallbackFailureCommand({
      CallbackId: callbackId,
      Error: { ErrorMessage: message, ErrorType: 'Rejected', ErrorData: '{"by":"U0BOB"}' },
    }),
  );
const heartbeat = (callbackId: string) => lambda.send(new SendDurableExecutionCallbackHeartbeatCommand({ CallbackId: callbackId }));

const closed = { name: 'CallbackTimeoutException', $metadata: expect.objectContaining({ httpStatusCode: 400 }) };

describe('SendDurableExecutionCallback*', () => {
  it('Success completes waitForCallback with the payload; the callback is then closed (CallbackTimeoutException)', async () => {
    const callbackId = await start();
    expect((await heartbeat(callbackId)).$metadata.httpStatusCode).toBe(200);
    const out = await success(callbackId, { status: 'approved', by: 'U0BOB' });
    expect(out.$metadata.httpStatusCode).toBe(200);
    expect(await outcome()).toEqual({ outcome: 'approved', decision: { status: 'approved', by: 'U0BOB' } });
    expect(emu.lambda.invocations.at(-1)).toMatchObject({ functionName: FUNCTION, result: { outcome: 'approved' } });

    await expect(success(callbackId, { status: 'rejected' })).rejects.toMatchObject(closed);
    await expect(failure(callbackId, 'too late')).rejects.toMatchObject(closed);
    await expect(heartbeat(callbackId)).rejects.toMatchObject(closed);
    expect(emu.calls.filter((c) => c.params.CallbackId === callbackId).map((c) => [c.action, c.status, c.error?.code])).toEqual([
      ['SendDurableExecutionCallbackHeartbeat', 200, undefined],
      ['SendDurableExecutionCallbackSuccess', 200, undefined],
      ['SendDurableExecutionCallbackSuccess', 400, 'CallbackTimeoutException'],
      ['SendDurableExecutionCallbackFailure', 400, 'CallbackTimeoutException'],
      ['SendDurableExecutionCallbackHeartbeat', 400, 'CallbackTimeoutException'],
    ]);
  });

  it('Failure makes waitForCallback throw with the error message', async () => {
    const callbackId = await start();
    expect((await failure(callbackId, 'rejected by bob')).$metadata.httpStatusCode).toBe(200);
    expect(await outcome()).toMatchObject({ outcome: 'failed', message: 'rejected by bob' });
    const call = emu.calls.find((c) => c.action === 'SendDurableExecutionCallbackFailure' && c.params.CallbackId === callbackId)!;
    expect(call.params.Error).toEqual({ ErrorMessage: 'rejected by bob', ErrorType: 'Rejected', ErrorData: '{"by":"U0BOB"}' });
    await expect(success(callbackId, {})).rejects.toMatchObject(closed);
  });

  it('a callback of an execution that ended (here: it timed out) is closed', async () => {
    const callbackId = await start(1);
    // The testing package times callbacks out on real timers (in its checkpoint worker thread).
    expect(await outcome()).toMatchObject({ outcome: 'failed', name: 'CallbackTimeoutError' });
    await expect(success(callbackId, { status: 'approved' })).rejects.toMatchObject(closed);
  });

  it('unknown and malformed callback ids, IAM denies, and no backend', async () => {
    const unknown = Buffer.from(JSON.stringify({ executionId: 'nope', operationId: 'nope', token: 'x' })).toString('base64');
    await expect(success(unknown, {})).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
    await expect(success('not a callback id!', {})).rejects.toMatchObject({ name: 'ValidationException' });

    emu.faults.deny('lambda:SendDurableExecutionCallbackSuccess');
    await expect(success(unknown, {})).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('lambda:SendDurableExecutionCallbackSuccess on resource: *'),
    });
    emu.faults.clear();

    const backend = emu.lambda.durableCallbacks;
    emu.lambda.durableCallbacks = undefined;
    try {
      await expect(heartbeat(unknown)).rejects.toMatchObject({
        name: 'ServiceException',
        message: expect.stringContaining('durableCallbacks'),
      });
    } finally {
      emu.lambda.durableCallbacks = backend;
    }
  });
});
