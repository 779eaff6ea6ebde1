/**
 * EventBridge in the local world, as serverless.yml deploys the notifier's rules: what an AWS
 * service emits reaches the notifier (asynchronously, at least once), Lambda retries a failed
 * invocation twice 1 and 2 minutes apart and then hands the record to the failure queue, and
 * EventBridge invokes a function only with the permission osls adds for the rule.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsEvent } from '../local/aws/events-contract';
import type { AsyncFailureRecord, LambdaHandlerLike } from '../local/aws/services/lambda';
import { DEFAULT_ACCOUNT, DEFAULT_REGION } from '../local/aws/state';
import { localStack } from '../local/iam/enforce';
import { NOTIFIER_FUNCTION, startWorld, type World } from '../local/world';
import { taskStopped, until } from './support/aws-events';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let world: World;
let received: AwsEvent[];
const recording: LambdaHandlerLike = async (event) => {
  received.push(event as AwsEvent);
};

beforeAll(async () => {
  world = await startWorld();
}, 60_000);
afterAll(() => world?.close());
beforeEach(() => {
  received = [];
  world.aws.eventBridge.duplicateEvery = 0;
  world.registerNotifier(recording);
});

describe('AWS service events on the default bus', () => {
  it('reach the notifier with version "0" and a fresh UUIDv4 id, the envelope otherwise as emitted', async () => {
    const emitted = taskStopped();
    world.events.emit(emitted);
    world.events.emit(emitted);
    await world.events.idle();
    expect(received).toHaveLength(2);
    for (const event of received) {
      expect(event).toEqual({ version: '0', id: expect.stringMatching(UUID_V4), ...emitted });
      expect(Object.keys(event)).toEqual(['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail']);
    }
    expect(received[0]!.id).not.toBe(received[1]!.id);
    expect(world.events.delivered.slice(-2)).toEqual(received);
    // Invoked asynchronously, by the rule serverless.yml declares on the default bus.
    const invocation = world.aws.lambda.invocations.filter((i) => i.functionName === NOTIFIER_FUNCTION).at(-1)!;
    expect(invocation).toMatchObject({ invocationType: 'Event', caller: localStack().functions.notifier!.eventBridge[0]!.ruleArn });
  });

  it("are matched by the pattern: a task that is still running is not the notifier's", async () => {
    world.events.emit(taskStopped(DEFAULT_ACCOUNT, 'RUNNING'));
    world.events.emit({ ...taskStopped(), source: 'aws.ec2' });
    await world.events.idle();
    expect(received).toEqual([]);
  });

  it('arrive at least once: with duplicates switched on, the same event (same id) arrives twice', async () => {
    world.aws.eventBridge.duplicateEvery = 1;
    world.events.emit(taskStopped());
    await world.events.idle();
    expect(received).toHaveLength(2);
    expect(received[1]).toEqual(received[0]);
  });
});

describe('a notifier that fails', () => {
  it('is retried twice, 1 then 2 minutes later, then its record goes to the notify failure queue', async () => {
    const attempts: number[] = [];
    world.registerNotifier(async () => {
      attempts.push(world.aws.clock.now());
      throw new Error('Slack is down');
    });
    const before = world.notifyFailureQueue.length;
    world.events.emit(taskStopped());
    await until(() => attempts.length === 1, 'the first attempt');
    world.aws.clock.advance(60_000);
    await until(() => attempts.length === 2, 'the first retry');
    expect(world.notifyFailureQueue).toHaveLength(before);
    world.aws.clock.advance(120_000);
    await world.events.idle();
    expect(attempts).toHaveLength(3);
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(60_000);
    expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(120_000);
    expect(world.notifyFailureQueue).toHaveLength(before + 1);
    const record = JSON.parse(world.notifyFailureQueue.at(-1)!.body) as AsyncFailureRecord;
    expect(record.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    expect(record.requestPayload).toMatchObject({ version: '0', ...taskStopped() });
    expect(record.responsePayload).toMatchObject({ errorMessage: 'Slack is down' });
  });
});

describe('what EventBridge may do', () => {
  const eventBridge = () => world.aws.eventBridge;
  const notifierArn = () => localStack().functions.notifier!.functionArn;
  const queueArn = () => localStack().functions.notifier!.asyncInvoke.onFailureArn!;

  it('invokes a function only for a rule the function permits (osls adds the permission per eventBridge event)', async () => {
    eventBridge().putRule({
      name: 'not-in-serverless-yml',
      account: DEFAULT_ACCOUNT,
      region: DEFAULT_REGION,
      busName: 'default',
      pattern: { source: ['test.unpermitted'] },
      targets: [{ id: 'notifier', kind: 'lambda', functionArn: notifierArn(), deadLetterQueueArn: queueArn() }],
    });
    const before = world.notifyFailureQueue.length;
    world.events.emit({ ...taskStopped(), source: 'test.unpermitted' });
    await world.events.idle();
    expect(received).toEqual([]);
    // Not retried: straight to the rule's dead-letter queue, which lets EventBridge send for this account's rules.
    expect(world.notifyFailureQueue).toHaveLength(before + 1);
    const message = world.notifyFailureQueue.at(-1)!;
    expect(message.messageAttributes).toMatchObject({
      RULE_ARN: `arn:aws:events:${DEFAULT_REGION}:${DEFAULT_ACCOUNT}:rule/not-in-serverless-yml`,
      TARGET_ARN: notifierArn(),
      ERROR_CODE: 'NO_PERMISSIONS',
    });
    expect(JSON.parse(message.body)).toMatchObject({ source: 'test.unpermitted' });
  });

  it('dead-letters only to a queue whose policy lets events.amazonaws.com send for that rule', async () => {
    const unpolicied = `arn:aws:sqs:${DEFAULT_REGION}:${DEFAULT_ACCOUNT}:no-policy`;
    const messages = eventBridge().createQueue(unpolicied);
    eventBridge().putRule({
      name: 'dlq-without-policy',
      account: DEFAULT_ACCOUNT,
      region: DEFAULT_REGION,
      busName: 'default',
      pattern: { source: ['test.no-dlq-policy'] },
      targets: [{ id: 'notifier', kind: 'lambda', functionArn: notifierArn(), deadLetterQueueArn: unpolicied }],
    });
    world.events.emit({ ...taskStopped(), source: 'test.no-dlq-policy' });
    await world.events.idle();
    expect(messages).toEqual([]);
    expect(eventBridge().failedInvocations.at(-1)).toMatchObject({ errorCode: 'NO_PERMISSIONS', deadLettered: false });
  });
});
