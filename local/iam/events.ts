/**
 * The bot's EventBridge side as the files deploy it: each function's `eventBridge` events compiled
 * the way osls compiles them (rule name, bus, pattern, target retry policy and dead-letter queue,
 * the Lambda permission's SourceArn), the buses and their resource policies, the queues' policies,
 * and the forwarding rule and role of infra/ecs-events-forwarder.yaml in a target account.
 */
import { createHash } from 'node:crypto';
import type { PolicyDocument, PolicyStatement } from '../aws/policy';
import { TemplateResolver, type RoleModel, type Template } from './template';
import { readYaml } from './yaml';

export interface EventRuleModel {
  /** osls's name: `<function name>-rule-<n>`, n the event's position among the function's events. */
  ruleName: string;
  ruleArn: string;
  /** `default`, or the custom bus's name. */
  busName: string;
  pattern: Record<string, unknown>;
  retryPolicy?: { maximumEventAgeSeconds: number; maximumRetryAttempts: number };
  deadLetterQueueArn?: string;
  /** The SourceArn of the AWS::Lambda::Permission osls adds for the rule: what lets EventBridge invoke the function. */
  permissionSourceArn: string;
}

/** Lambda's asynchronous-invocation settings of a function (retries of a failed invocation, its on-failure destination). */
export interface AsyncInvokeModel {
  maximumRetryAttempts?: number;
  maximumEventAgeSeconds?: number;
  onFailureArn?: string;
}

export interface EventBusModel {
  name: string;
  arn: string;
  /** The statements of every AWS::Events::EventBusPolicy of the bus whose Condition holds; undefined: none. */
  policy?: PolicyDocument;
}

interface Where {
  region: string;
  accountId: string;
  source: string;
}

const ruleArn = (where: Pick<Where, 'region' | 'accountId'>, busName: string, ruleName: string) =>
  `arn:aws:events:${where.region}:${where.accountId}:rule/${busName === 'default' ? '' : `${busName}/`}${ruleName}`;

/** osls (event-bridge/utils.js): names over 64 characters are shortened with an md5 of the whole. */
function oslsRuleName(functionName: string, index: number): string {
  const suffix = `rule-${index}`;
  const name = `${functionName}-${suffix}`;
  if (name.length <= 64) return name;
  return `${name.slice(0, 31 - suffix.length)}${createHash('md5').update(name).digest('hex')}-${suffix}`;
}

/** The bus an `eventBridge.eventBus` names, as osls reads it: an ARN (its name after `/`), a name, or Fn::GetAtt of a bus's Name. */
function busNameOf(eventBus: unknown, resolver: TemplateResolver, path: string, where: Where): string {
  if (eventBus === undefined) return 'default';
  if (typeof eventBus === 'string') return eventBus.startsWith('arn') ? eventBus.slice(eventBus.indexOf('/') + 1) : eventBus;
  const getAtt = (eventBus as Record<string, unknown>)['Fn::GetAtt'];
  // osls's schema: `must be equal to one of the allowed values [Name]` for any other attribute.
  if (!Array.isArray(getAtt) || getAtt[1] !== 'Name')
    throw new Error(`${where.source}: ${path} must be a bus name, an ARN or Fn::GetAtt [<bus>, Name] (what osls accepts)`);
  return String(resolver.resolve(eventBus, path));
}

/** A function's eventBridge events, as the rules and permissions osls generates for them. */
export function functionEventRules(fn: Record<string, any>, key: string, functionName: string, resolver: TemplateResolver, where: Where): EventRuleModel[] {
  const rules: EventRuleModel[] = [];
  (fn.events ?? []).forEach((event: Record<string, any>, index: number) => {
    const spec = event.eventBridge;
    if (!spec) return;
    const path = `functions.${key}.events[${index}].eventBridge`;
    if (spec.schedule || spec.input || spec.inputPath || spec.inputTransformer)
      throw new Error(`${where.source}: ${path}: only pattern rules without input transformation are modelled`);
    const ruleName = spec.name ?? oslsRuleName(functionName, index + 1);
    const busName = busNameOf(spec.eventBus, resolver, `${path}.eventBus`, where);
    const arn = ruleArn(where, busName, ruleName);
    rules.push({
      ruleName,
      ruleArn: arn,
      busName,
      pattern: resolver.resolve(spec.pattern, `${path}.pattern`) as Record<string, unknown>,
      ...(spec.retryPolicy
        ? {
            retryPolicy: {
              maximumEventAgeSeconds: Number(spec.retryPolicy.maximumEventAge),
              maximumRetryAttempts: Number(spec.retryPolicy.maximumRetryAttempts),
            },
          }
        : {}),
      ...(spec.deadLetterQueueArn ? { deadLetterQueueArn: String(resolver.resolve(spec.deadLetterQueueArn, `${path}.deadLetterQueueArn`)) } : {}),
      permissionSourceArn: arn,
    });
  });
  return rules;
}

/** The function's asynchronous-invocation configuration (osls: maximumRetryAttempts, maximumEventAge, destinations.onFailure). */
export function asyncInvokeConfig(fn: Record<string, any>, key: string, resolver: TemplateResolver): AsyncInvokeModel {
  const onFailure = fn.destinations?.onFailure;
  const target = typeof onFailure === 'object' && onFailure !== null && 'arn' in onFailure ? onFailure.arn : onFailure;
  return {
    ...(fn.maximumRetryAttempts === undefined ? {} : { maximumRetryAttempts: Number(fn.maximumRetryAttempts) }),
    ...(fn.maximumEventAge === undefined ? {} : { maximumEventAgeSeconds: Number(fn.maximumEventAge) }),
    ...(target === undefined ? {} : { onFailureArn: String(resolver.resolve(target, `functions.${key}.destinations.onFailure`)) }),
  };
}

const resourcesOfType = (template: Template, type: string) =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type) as Array<
    [string, { Type: string; Condition?: string; Properties?: Record<string, any> }]
  >;

/** Each bus of the template with the statements its EventBusPolicy resources add (those whose Condition holds). */
export function eventBuses(template: Template, resolver: TemplateResolver): Record<string, EventBusModel> {
  const buses: Record<string, EventBusModel> = {};
  for (const [logicalId] of resourcesOfType(template, 'AWS::Events::EventBus')) {
    const { name, arn } = resolver.describe(logicalId, `Resources.${logicalId}`);
    buses[logicalId] = { name, arn };
  }
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::Events::EventBusPolicy')) {
    const path = `Resources.${logicalId}`;
    if (resource.Condition && !resolver.condition(resource.Condition, `${path}.Condition`)) continue;
    const properties = resource.Properties ?? {};
    const busName = String(resolver.resolve(properties.EventBusName ?? 'default', `${path}.Properties.EventBusName`));
    const bus = Object.values(buses).find((b) => b.name === busName);
    if (!bus) throw new Error(`${path}: the policy is for bus ${busName}, which the template does not create`);
    const statement = resolver.resolve(properties.Statement, `${path}.Properties.Statement`) as PolicyStatement;
    const withSid = { Sid: String(resolver.resolve(properties.StatementId, `${path}.Properties.StatementId`)), ...statement };
    bus.policy = { Version: '2012-10-17', Statement: [...((bus.policy?.Statement as PolicyStatement[]) ?? []), withSid] };
  }
  return buses;
}

/** Queue ARN → the document of the AWS::SQS::QueuePolicy naming it (its URL, by Ref). */
export function queuePolicies(template: Template, resolver: TemplateResolver): Record<string, PolicyDocument> {
  const policies: Record<string, PolicyDocument> = {};
  for (const [logicalId, resource] of resourcesOfType(template, 'AWS::SQS::QueuePolicy')) {
    const path = `Resources.${logicalId}.Properties`;
    const document = resolver.resolve(resource.Properties?.PolicyDocument, `${path}.PolicyDocument`) as PolicyDocument;
    for (const queue of (resource.Properties?.Queues ?? []) as unknown[]) {
      const ref = (queue as { Ref?: string }).Ref;
      if (typeof ref !== 'string') throw new Error(`${path}.Queues: each queue must be a Ref to a queue of the template`);
      policies[resolver.describe(ref, `${path}.Queues`).arn] = document;
    }
  }
  return policies;
}

export interface ForwarderOptions {
  /** The target account the template is deployed in, and its region. */
  accountId: string;
  region: string;
  botAccountId: string;
  botRegion: string;
  eventBusName: string;
}

export interface ForwarderModel {
  ruleName: string;
  ruleArn: string;
  pattern: Record<string, unknown>;
  /** The bot's bus, the rule's target. */
  targetBusArn: string;
  /** The role EventBridge assumes to put the events on that bus. */
  role: RoleModel;
}

export const FORWARDER_TEMPLATE = 'infra/ecs-events-forwarder.yaml';

/** infra/ecs-events-forwarder.yaml deployed in a target account with these parameters. */
export function readForwarder(options: ForwarderOptions, path = FORWARDER_TEMPLATE): ForwarderModel {
  const template = readYaml(path) as Template;
  const resolver = new TemplateResolver(template, {
    region: options.region,
    accountId: options.accountId,
    parameters: { BotAccountId: options.botAccountId, BotRegion: options.botRegion, EventBusName: options.eventBusName },
    source: path,
  });
  const rules = resourcesOfType(template, 'AWS::Events::Rule');
  if (rules.length !== 1) throw new Error(`${path}: expected one AWS::Events::Rule, found ${rules.length}`);
  const [ruleId, { Properties: ruleProperties = {} }] = rules[0]!;
  const rulePath = `Resources.${ruleId}.Properties`;
  const targets = resolver.resolve(ruleProperties.Targets, `${rulePath}.Targets`) as Array<{ Arn: string; RoleArn?: string }>;
  if (targets.length !== 1 || !targets[0]!.RoleArn) throw new Error(`${path}: ${rulePath}.Targets must be the bot's bus, with a role`);
  const [roleId] = resourcesOfType(template, 'AWS::IAM::Role').find(([id]) => resolver.describe(id, `Resources.${id}`).arn === targets[0]!.RoleArn) ?? [];
  if (!roleId) throw new Error(`${path}: the target's RoleArn is not a role of the template`);
  const { name, arn } = resolver.describe(ruleId, `Resources.${ruleId}`);
  return {
    ruleName: name,
    ruleArn: arn,
    pattern: resolver.resolve(ruleProperties.EventPattern, `${rulePath}.EventPattern`) as Record<string, unknown>,
    targetBusArn: targets[0]!.Arn,
    role: resolver.role(roleId),
  };
}

/** The bus target accounts forward to: the stack's one custom bus (undefined when it has none). */
export function forwardingBus(buses: Record<string, EventBusModel>): EventBusModel | undefined {
  const all = Object.values(buses);
  if (all.length > 1) throw new Error(`the stack has ${all.length} event buses; which one target accounts forward to is not modelled`);
  return all[0];
}
