/**
 * EventBridge in the emulator: per account and region a default bus and custom buses, rules
 * (bus, pattern, targets), and delivery as the EventBridge user guide describes it (EB-UG
 * eb-events.md, eb-rule-dlq.md, eb-cross-account.md, eb-bus-to-bus.md):
 *  - AWS services emit to the default bus of their account and region (`state.events.emit`);
 *    the bus adds `version: "0"` and a fresh UUIDv4 `id` and matches the event against the rules
 *    of that bus (event-pattern.ts);
 *  - a Lambda target is invoked asynchronously (Lambda then retries a failed invocation and hands
 *    it to the function's on-failure destination), and only if the function's resource policy has
 *    a permission for the rule (osls adds one per eventBridge event); delivery is at least once:
 *    `duplicateEvery` makes every n-th delivery arrive twice, with the same id;
 *  - a bus target (another account's bus) is put with the target's role, which EventBridge must be
 *    trusted to assume; the role's identity policy and the receiving bus's resource policy must
 *    both allow `events:PutEvents` (a cross-account call); the event keeps its id, account,
 *    region, time and detail (the id staying is UNVERIFIED) and meets the receiving bus's rules;
 *  - a target EventBridge cannot deliver to (no permission, no such function or bus) is not
 *    retried: the event goes to the target's dead-letter queue, if its queue policy lets
 *    events.amazonaws.com send for that rule, else it is dropped. Either way it is counted in
 *    `failedInvocations` (the rule's FailedInvocations metric).
 *
 * Not modelled: throttling and its retries (RetryPolicy), input transformation, archives,
 * schedules, the one-hop limit of cross-account forwarding.
 */
import { randomUUID } from 'node:crypto';
import type { Authority } from './authorization';
import type { AwsEvent, EmittedEvent, EventSink } from './events-contract';
import { matchesEventPattern, parseEventPattern, type EventPattern } from './event-pattern';
import { evaluate, glob, policyText, type PolicyDocument } from './policy';
import { roleDocuments } from './services/iam';
import type { LambdaRuntime } from './services/lambda';
import type { EmulatorState, Identity } from './state';

export const EVENTS_PRINCIPAL = 'events.amazonaws.com';

export interface LambdaTarget {
  id: string;
  kind: 'lambda';
  functionArn: string;
  deadLetterQueueArn?: string;
}
export interface BusTarget {
  id: string;
  kind: 'bus';
  busArn: string;
  /** The role EventBridge assumes to put events on the bus. */
  roleArn: string;
  deadLetterQueueArn?: string;
}
export type EventTarget = LambdaTarget | BusTarget;

export interface EventRule {
  name: string;
  arn: string;
  account: string;
  region: string;
  /** `default` or a custom bus's name. */
  busName: string;
  pattern: EventPattern;
  targets: EventTarget[];
}

/** A message on a queue EventBridge or Lambda sent to, as a consumer would receive it. */
export interface SqsMessage {
  messageId: string;
  body: string;
  /** Dead-letter messages: RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE, … (EB-UG eb-rule-dlq.md). */
  messageAttributes?: Record<string, string>;
}

export interface FailedInvocation {
  ruleArn: string;
  targetId: string;
  targetArn: string;
  errorCode: 'NO_PERMISSIONS' | 'NO_RESOURCE';
  errorMessage: string;
  event: AwsEvent;
  /** Whether the dead-letter queue took it. */
  deadLettered: boolean;
}

type Refusal = Pick<FailedInvocation, 'errorCode' | 'errorMessage'>;

interface Bus {
  name: string;
  account: string;
  region: string;
  policy?: PolicyDocument;
}

export const eventBusArn = (account: string, region: string, name: string) => `arn:aws:events:${region}:${account}:event-bus/${name}`;
const ruleArn = (account: string, region: string, busName: string, name: string) =>
  `arn:aws:events:${region}:${account}:rule/${busName === 'default' ? '' : `${busName}/`}${name}`;
const functionNameOf = (arn: string) => arn.slice(arn.indexOf(':function:') + ':function:'.length).split(':')[0]!;

export class EventBridge implements EventSink {
  private readonly buses = new Map<string, Bus>();
  private readonly rules: EventRule[] = [];
  /** Function ARN → the SourceArns of its `events.amazonaws.com` invoke permissions. */
  private readonly lambdaPermissions = new Map<string, string[]>();
  private readonly queuePolicies = new Map<string, PolicyDocument>();
  private readonly queues = new Map<string, SqsMessage[]>();
  /** Function name → every event EventBridge delivered to it, in order (duplicates included). */
  private readonly deliveries = new Map<string, AwsEvent[]>();
  /** Role ARN → the session EventBridge acts with when it assumes it. */
  private readonly sessions = new Map<string, Identity>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private deliveryCount = 0;
  /** Deliveries EventBridge could not make (no permission, no target), in order. */
  readonly failedInvocations: FailedInvocation[] = [];
  /** At least once: every n-th delivery to a Lambda target arrives twice (0: never). */
  duplicateEvery = 0;

  constructor(private readonly deps: { state: EmulatorState; lambda: LambdaRuntime; authority: Authority }) {}

  /** A custom bus (the default bus of every account and region exists without this). */
  createEventBus(account: string, region: string, name: string, policy?: PolicyDocument): string {
    const arn = eventBusArn(account, region, name);
    this.buses.set(arn, { name, account, region, ...(policy ? { policy } : {}) });
    return arn;
  }

  private bus(arn: string): Bus | undefined {
    const known = this.buses.get(arn);
    if (known) return known;
    const match = /^arn:aws:events:([^:]+):(\d{12}):event-bus\/default$/.exec(arn);
    return match ? { name: 'default', account: match[2]!, region: match[1]! } : undefined;
  }

  /** PutRule + PutTargets: the pattern is checked as PutRule checks it (InvalidEventPatternError). */
  putRule(rule: Omit<EventRule, 'arn' | 'pattern'> & { pattern: string | Record<string, unknown> }): EventRule {
    const arn = ruleArn(rule.account, rule.region, rule.busName, rule.name);
    const busArn = eventBusArn(rule.account, rule.region, rule.busName);
    if (!this.bus(busArn)) throw new Error(`ResourceNotFoundException: Event bus ${rule.busName} does not exist.`);
    const created = { ...rule, arn, pattern: parseEventPattern(rule.pattern) };
    const existing = this.rules.findIndex((r) => r.arn === arn);
    if (existing >= 0) this.rules.splice(existing, 1, created);
    else this.rules.push(created);
    return created;
  }

  /** Lambda AddPermission for `events.amazonaws.com`, with the rule ARN as SourceArn. */
  addLambdaPermission(functionArn: string, sourceArn: string): void {
    this.lambdaPermissions.set(functionArn, [...(this.lambdaPermissions.get(functionArn) ?? []), sourceArn]);
  }

  /** An SQS queue (with its policy) that targets may use as their dead-letter queue. Returns its messages. */
  createQueue(arn: string, policy?: PolicyDocument): SqsMessage[] {
    if (policy) this.queuePolicies.set(arn, policy);
    return this.queue(arn);
  }

  /** The messages of a queue, oldest first (a live list). */
  queue(arn: string): SqsMessage[] {
    let messages = this.queues.get(arn);
    if (!messages) this.queues.set(arn, (messages = []));
    return messages;
  }

  /** What EventBridge delivered to a function, in order (a live list). */
  deliveredTo(functionName: string): AwsEvent[] {
    let events = this.deliveries.get(functionName);
    if (!events) this.deliveries.set(functionName, (events = []));
    return events;
  }

  /** An AWS service's event: onto the default bus of its account and region. */
  emit(emitted: EmittedEvent): void {
    const event: AwsEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': emitted['detail-type'],
      source: emitted.source,
      account: emitted.account,
      time: emitted.time,
      region: emitted.region,
      resources: [...emitted.resources],
      detail: structuredClone(emitted.detail),
    };
    this.putOnBus(eventBusArn(event.account, event.region, 'default'), event);
  }

  /** Resolves when every delivery started (and each Lambda invocation it made, retries included) has ended. */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    await this.deps.lambda.idle();
    if (this.inFlight.size) await this.idle();
  }

  private putOnBus(busArn: string, event: AwsEvent): void {
    const bus = this.bus(busArn)!;
    for (const rule of this.rules) {
      if (rule.account !== bus.account || rule.region !== bus.region || rule.busName !== bus.name) continue;
      if (!matchesEventPattern(rule.pattern, event)) continue;
      for (const target of rule.targets) {
        const delivery = (target.kind === 'lambda' ? this.toFunction(rule, target, event) : this.toBus(rule, target, event)).catch((err: unknown) =>
          console.error(`[local eventbridge] delivery of ${event.id} by ${rule.arn} to ${target.id} failed:`, err),
        );
        this.inFlight.add(delivery);
        void delivery.finally(() => this.inFlight.delete(delivery));
      }
    }
  }

  private async toFunction(rule: EventRule, target: LambdaTarget, event: AwsEvent): Promise<void> {
    await Promise.resolve(); // delivered after the emitter's call returns, as EventBridge does
    const name = functionNameOf(target.functionArn);
    const refusal = this.functionRefusal(rule, target, name);
    if (refusal) return this.fail(rule, target, target.functionArn, event, refusal);
    const copies = this.duplicateEvery > 0 && ++this.deliveryCount % this.duplicateEvery === 0 ? 2 : 1;
    for (let copy = 0; copy < copies; copy++) {
      this.deliveredTo(name).push(event);
      await this.deps.lambda.invokeAsync(name, event, rule.arn);
    }
  }

  /** Why EventBridge cannot invoke the function for this rule: it does not exist, or its resource policy does not permit the rule. */
  private functionRefusal(rule: EventRule, target: LambdaTarget, name: string): Refusal | undefined {
    if (!this.deps.lambda.functions.has(name)) return { errorCode: 'NO_RESOURCE', errorMessage: `Function not found: ${target.functionArn}` };
    const permitted = (this.lambdaPermissions.get(target.functionArn) ?? []).some((source) => glob(source).test(rule.arn));
    if (permitted) return undefined;
    return {
      errorCode: 'NO_PERMISSIONS',
      errorMessage: `${EVENTS_PRINCIPAL} is not authorized to perform: lambda:InvokeFunction on resource: ${target.functionArn}`,
    };
  }

  private async toBus(rule: EventRule, target: BusTarget, event: AwsEvent): Promise<void> {
    await Promise.resolve();
    const refusal = this.busRefusal(rule, target, event);
    if (refusal) return this.fail(rule, target, target.busArn, event, refusal);
    this.putOnBus(target.busArn, event);
  }

  /**
   * Why the event may not go on the target bus: no such bus, a role EventBridge may not assume, or
   * (cross-account) the role's policies and the bus's resource policy not both allowing PutEvents.
   */
  private busRefusal(rule: EventRule, target: BusTarget, event: AwsEvent): Refusal | undefined {
    const bus = this.bus(target.busArn);
    if (!bus) return { errorCode: 'NO_RESOURCE', errorMessage: `Event bus ${target.busArn} does not exist.` };
    const session = this.assume(rule, target.roleArn);
    if (!session)
      return { errorCode: 'NO_PERMISSIONS', errorMessage: `${EVENTS_PRINCIPAL} is not authorized to perform: sts:AssumeRole on resource: ${target.roleArn}` };
    const request = {
      identity: session,
      action: 'events:PutEvents',
      resource: target.busArn,
      context: { 'events:source': [event.source], 'events:detail-type': [event['detail-type']] },
      ...(bus.policy ? { resourcePolicy: { id: 'ResourcePolicy', type: 'resource' as const, text: policyText(bus.policy) } } : {}),
      resourceOwner: bus.account,
    };
    // Decided by the authority, so the role's PutEvents is recorded like any call of the bot's roles.
    this.deps.authority.enforce(target.roleArn);
    if (this.deps.authority.decide(request) === 'allowed') return undefined;
    return { errorCode: 'NO_PERMISSIONS', errorMessage: `User: ${session.arn} is not authorized to perform: events:PutEvents on resource: ${target.busArn}` };
  }

  /** EventBridge assumes the target's role: its trust policy must allow events.amazonaws.com for this rule. */
  private assume(rule: EventRule, roleArn: string): Identity | undefined {
    const role = this.deps.state.findRole(roleArn);
    const documents = roleDocuments(this.deps.state, roleArn);
    if (!role || !documents) return undefined;
    const trusted = evaluate(
      [],
      {
        action: 'sts:AssumeRole',
        resource: roleArn,
        principalArn: EVENTS_PRINCIPAL,
        principalService: EVENTS_PRINCIPAL,
        principalAccount: rule.account,
        context: { 'aws:SourceArn': [rule.arn], 'aws:SourceAccount': [rule.account] },
      },
      { resourcePolicy: documents.trust },
    );
    if (trusted.decision !== 'allowed') return undefined;
    let session = this.sessions.get(roleArn);
    if (!session) this.sessions.set(roleArn, (session = this.deps.state.issueCredentials(role, 'eventbridge').identity));
    return session;
  }

  private fail(rule: EventRule, target: EventTarget, targetArn: string, event: AwsEvent, { errorCode, errorMessage }: Refusal): void {
    const deadLettered = target.deadLetterQueueArn ? this.deadLetter(rule, target.deadLetterQueueArn, targetArn, event, errorCode, errorMessage) : false;
    this.failedInvocations.push({ ruleArn: rule.arn, targetId: target.id, targetArn, errorCode, errorMessage, event, deadLettered });
    console.error(
      `[local eventbridge] ${rule.arn} could not deliver ${event.id} to ${targetArn} (${errorCode}: ${errorMessage})${deadLettered ? '; sent to its dead-letter queue' : ''}`,
    );
  }

  /** EventBridge sends as events.amazonaws.com: the queue's policy must allow it for this rule. */
  private deadLetter(rule: EventRule, queueArn: string, targetArn: string, event: AwsEvent, errorCode: string, errorMessage: string): boolean {
    const policy = this.queuePolicies.get(queueArn);
    const allowed =
      this.queues.has(queueArn) &&
      policy !== undefined &&
      evaluate(
        [],
        {
          action: 'sqs:SendMessage',
          resource: queueArn,
          principalArn: EVENTS_PRINCIPAL,
          principalService: EVENTS_PRINCIPAL,
          principalAccount: rule.account,
          context: { 'aws:SourceArn': [rule.arn], 'aws:SourceAccount': [rule.account] },
        },
        { resourcePolicy: { id: 'QueuePolicy', type: 'resource', text: policyText(policy) } },
      ).decision === 'allowed';
    if (!allowed) return false;
    this.queue(queueArn).push({
      messageId: randomUUID(),
      body: JSON.stringify(event),
      messageAttributes: { RULE_ARN: rule.arn, TARGET_ARN: targetArn, ERROR_CODE: errorCode, ERROR_MESSAGE: errorMessage },
    });
    return true;
  }
}
