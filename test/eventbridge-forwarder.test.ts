/**
 * Cross-account forwarding: infra/ecs-events-forwarder.yaml in each target account sends the
 * notifier's events from that account's default bus to the bot's bus, which accepts them only
 * from the accounts serverless.yml's eventForwardingAccounts param names (its bus policy). The
 * template is checked against CloudFormation's schemas, its pattern against serverless.yml's, and
 * the local world plays it: forwarded with the param, refused (and counted) without it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsEvent } from '../local/aws/events-contract';
import { DEFAULT_ACCOUNT, DEFAULT_REGION } from '../local/aws/state';
import { FORWARDER_TEMPLATE } from '../local/iam/events';
import { forwarderFor, localStack, LOCAL_STACK_OPTIONS } from '../local/iam/enforce';
import { readStack, type StackModel } from '../local/iam/stack';
import { startWorld, type World } from '../local/world';
import { readYaml } from './support/cloudformation';
import { specDatabase, validateTemplate } from './support/cfn-spec';
import { taskStopped } from './support/aws-events';

const TARGET = '222222222222';
const botBusArn = () => localStack().eventBuses.NotifyEventBus!.arn;

describe(FORWARDER_TEMPLATE, () => {
  it('is valid against the resource schemas', () => {
    expect(validateTemplate(readYaml(FORWARDER_TEMPLATE), specDatabase())).toEqual([]);
  });

  it("forwards exactly what the notifier's rules match: its pattern is serverless.yml's custom.notifierEventPattern", () => {
    const serverlessPattern = readYaml('serverless.yml').custom.notifierEventPattern;
    expect(readYaml(FORWARDER_TEMPLATE).Resources.ForwarderRule.Properties.EventPattern).toEqual(serverlessPattern);
    // …which is what the stack's two rules (default bus, bot bus) use once resolved.
    for (const rule of localStack().functions.notifier!.eventBridge) expect(rule.pattern).toEqual(serverlessPattern);
  });

  it("gives EventBridge, for that rule only, a role that may only PutEvents on the bot's bus", () => {
    const forwarder = forwarderFor(localStack(), TARGET)!;
    expect(forwarder.targetBusArn).toBe(botBusArn());
    expect(forwarder.role.trustPolicy.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': TARGET, 'aws:SourceArn': forwarder.ruleArn } },
      },
    ]);
    const statements = Object.values(forwarder.role.inline).flatMap((doc) => [doc.Statement].flat());
    expect(statements).toEqual([{ Sid: 'BotEventBus', Effect: 'Allow', Action: 'events:PutEvents', Resource: botBusArn() }]);
  });
});

/** A world (of this stack) whose notifier records what it receives. */
async function worldWithRecordingNotifier(stack?: StackModel): Promise<{ world: World; received: AwsEvent[] }> {
  const world = await startWorld(stack ? { stack } : {});
  const received: AwsEvent[] = [];
  world.registerNotifier(async (event) => {
    received.push(event as AwsEvent);
  });
  return { world, received };
}

describe('a target account named by eventForwardingAccounts (the local stage names 222222222222)', () => {
  let world: World;
  let received: AwsEvent[];
  beforeAll(async () => {
    ({ world, received } = await worldWithRecordingNotifier());
  }, 60_000);
  afterAll(() => world?.close());

  it("has its events forwarded to the bot's bus, whose rule hands them to the notifier with their origin intact", async () => {
    const emitted = taskStopped(TARGET);
    world.events.emit(emitted);
    await world.events.idle();
    expect(received).toEqual([{ version: '0', id: expect.any(String), ...emitted }]);
    expect(received[0]).toMatchObject({ account: TARGET, region: DEFAULT_REGION, time: emitted.time, detail: emitted.detail });
    // Matched on the bot's bus by its own rule, not on the target account's default bus.
    const invocation = world.aws.lambda.invocations.at(-1)!;
    expect(invocation.caller).toBe(localStack().functions.notifier!.eventBridge.find((rule) => rule.busName !== 'default')!.ruleArn);
    // The forwarder role's PutEvents was judged by IAM (and counts for the suite's coverage).
    const roleArn = forwarderFor(localStack(), TARGET)!.role.roleArn;
    expect(world.aws.authority.decisions).toContainEqual({ roleArn, action: 'events:PutEvents', resource: botBusArn(), decision: 'allowed' });
  });

  it("forwards nothing the notifier's pattern does not match", async () => {
    world.events.emit(taskStopped(TARGET, 'PROVISIONING'));
    await world.events.idle();
    expect(received).toHaveLength(1);
  });
});

describe('a target account the param does not name', () => {
  let world: World;
  let received: AwsEvent[];
  beforeAll(async () => {
    const stack = readStack({ ...LOCAL_STACK_OPTIONS, params: { ...LOCAL_STACK_OPTIONS.params, eventForwardingAccounts: '' } });
    ({ world, received } = await worldWithRecordingNotifier(stack));
  }, 60_000);
  afterAll(() => world?.close());

  it("is refused by the bot's bus policy: nothing reaches the notifier, and the refusal is counted", async () => {
    world.events.emit(taskStopped(TARGET));
    await world.events.idle();
    expect(received).toEqual([]);
    const roleArn = forwarderFor(localStack(), TARGET)!.role.roleArn;
    expect(world.aws.authority.decisions).toContainEqual({ roleArn, action: 'events:PutEvents', resource: botBusArn(), decision: 'implicitDeny' });
    expect(world.aws.eventBridge.failedInvocations).toEqual([
      expect.objectContaining({
        ruleArn: forwarderFor(localStack(), TARGET)!.ruleArn,
        targetArn: botBusArn(),
        errorCode: 'NO_PERMISSIONS',
        deadLettered: false,
      }),
    ]);
  });

  it("still lets the bot's own account's events through (they never leave its default bus)", async () => {
    world.events.emit(taskStopped(DEFAULT_ACCOUNT));
    await world.events.idle();
    expect(received).toEqual([expect.objectContaining({ account: DEFAULT_ACCOUNT })]);
  });
});
