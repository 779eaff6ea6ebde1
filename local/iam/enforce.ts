/**
 * The bot's IAM, as deployed, enforced in the local world: each function runs as the role
 * serverless.yml gives it, and the target role of infra/cross-account-role.yaml stands in every
 * target account. Policies are read from those files (stack.ts), never copied, so a grant missing
 * there is a call refused here, exactly as AWS would refuse it.
 *
 * The local world is the bot deployed as stage `local` in the emulator's account and region, with
 * the seed's Slack parameter names and verify's log writes allowed (`--param` overrides, as a
 * deployer may pass them).
 */
import type { AwsEmulator } from '../aws';
import { accessDeniedMessage } from '../aws/authorization';
import { putRole } from '../aws/services/iam';
import { DEFAULT_ACCOUNT, DEFAULT_REGION } from '../aws/state';
import type { DynamoAuthorizer } from '../dynamo';
import { forwardingBus, readForwarder, type ForwarderModel } from './events';
import { readStack, targetRoleFor, type StackModel } from './stack';

export const LOCAL_STACK_OPTIONS = {
  stage: 'local',
  region: DEFAULT_REGION,
  accountId: DEFAULT_ACCOUNT,
  params: {
    slackSigningSecretParam: '/ecs-chatops/slack/signing-secret',
    slackBotTokenParam: '/ecs-chatops/slack/bot-token',
    // Ticket webhooks' secrets (the seed puts the `tickets` source's there).
    webhookSecretsPath: '/ecs-chatops/webhooks',
    // The playground shows `verify --put-logs`, so it is deployed as a team that opts in would.
    verifyPutLogs: 'true',
    // The second target account forwards its ECS and alarm events to the bot's bus.
    eventForwardingAccounts: '222222222222',
  },
} as const;

/** Accounts the local world's targets live in (the sample account and a second one for cross-account targets). */
export const TARGET_ACCOUNTS = [DEFAULT_ACCOUNT, '222222222222'] as const;

/** Target accounts other than the bot's own: each has infra/ecs-events-forwarder.yaml deployed. */
export const forwardingAccounts = (model: StackModel): string[] => TARGET_ACCOUNTS.filter((account) => account !== model.accountId);

/** infra/ecs-events-forwarder.yaml as a target account deploys it for this stack (undefined: the stack has no bus to forward to). */
export function forwarderFor(model: StackModel, accountId: string): ForwarderModel | undefined {
  const bus = forwardingBus(model.eventBuses);
  return bus && readForwarder({ accountId, region: model.region, botAccountId: model.accountId, botRegion: model.region, eventBusName: bus.name });
}

let stack: StackModel | undefined;
/** serverless.yml as the local world deploys it (read once per process). */
export const localStack = (): StackModel => (stack ??= readStack({ ...LOCAL_STACK_OPTIONS, params: { ...LOCAL_STACK_OPTIONS.params } }));

/**
 * Creates the functions' roles and the target roles in the emulator with their policies, makes
 * each function act as its role, and enforces them all.
 */
export function enforceStackRoles(aws: AwsEmulator, model: StackModel = localStack()): void {
  for (const fn of Object.values(model.functions)) {
    putRole(aws.state, model.accountId, fn.roleName, { trust: fn.trustPolicy, inline: fn.inline });
    aws.authority.assignRole(fn.functionName, fn.roleArn);
  }
  for (const account of TARGET_ACCOUNTS) {
    const target = targetRoleFor(model, account);
    putRole(aws.state, account, target.roleName, { trust: target.trustPolicy, inline: target.inline });
    aws.authority.enforce(target.roleArn);
  }
}

/** DynamoDB's IAM: the same authority judges the calls the local DynamoDB front receives. */
export function dynamoAuthorizer(aws: AwsEmulator): DynamoAuthorizer {
  return ({ functionName, accessKeyId, region, action, resource }) => {
    const signedAs = aws.state.credentials.get(accessKeyId)?.identity ?? { ...aws.state.defaultCredentials.identity, accessKeyId };
    const identity = aws.authority.identityFor(functionName, signedAs);
    const request = { identity, ...(functionName ? { functionName } : {}), action, resource, context: { 'aws:RequestedRegion': [region] } };
    const decision = aws.authority.decide(request);
    return decision && decision !== 'allowed' ? accessDeniedMessage(request, decision) : undefined;
  };
}

/**
 * The stack's EventBridge side in the emulator: its buses with their policies, its queues with
 * theirs, a rule per function `eventBridge` event with the Lambda permission osls adds, and in
 * each forwarding account the forwarder's role (enforced, so its PutEvents is judged and counted)
 * and its rule on that account's default bus.
 */
export function deployStackEvents(aws: AwsEmulator, model: StackModel = localStack()): void {
  const { eventBridge } = aws;
  for (const bus of Object.values(model.eventBuses)) eventBridge.createEventBus(model.accountId, model.region, bus.name, bus.policy);
  for (const queue of Object.values(model.resources)) if (queue.type === 'AWS::SQS::Queue') eventBridge.createQueue(queue.arn, model.queuePolicies[queue.arn]);
  for (const fn of Object.values(model.functions)) {
    for (const rule of fn.eventBridge) {
      eventBridge.putRule({
        name: rule.ruleName,
        account: model.accountId,
        region: model.region,
        busName: rule.busName,
        pattern: rule.pattern,
        targets: [
          {
            id: `${rule.ruleName}-target`,
            kind: 'lambda',
            functionArn: fn.functionArn,
            ...(rule.deadLetterQueueArn ? { deadLetterQueueArn: rule.deadLetterQueueArn } : {}),
          },
        ],
      });
      eventBridge.addLambdaPermission(fn.functionArn, rule.permissionSourceArn);
    }
  }
  for (const account of forwardingAccounts(model)) {
    const forwarder = forwarderFor(model, account);
    if (!forwarder) continue;
    putRole(aws.state, account, forwarder.role.roleName, { trust: forwarder.role.trustPolicy, inline: forwarder.role.inline });
    aws.authority.enforce(forwarder.role.roleArn);
    eventBridge.putRule({
      name: forwarder.ruleName,
      account,
      region: model.region,
      busName: 'default',
      pattern: forwarder.pattern,
      targets: [{ id: 'ecs-chatops-bot-bus', kind: 'bus', busArn: forwarder.targetBusArn, roleArn: forwarder.role.roleArn }],
    });
  }
}

/**
 * The stack's EventBridge Scheduler schedules, as CloudFormation creates them: the execution role
 * each one names (created and enforced), then the schedule, which runs on the emulator's clock.
 */
export function deployStackSchedules(aws: AwsEmulator, model: StackModel = localStack()): void {
  for (const schedule of model.schedules) {
    putRole(aws.state, model.accountId, schedule.role.roleName, { trust: schedule.role.trustPolicy, inline: schedule.role.inline });
    aws.authority.enforce(schedule.role.roleArn);
    aws.scheduler.create(model.accountId, model.region, {
      Name: schedule.name,
      GroupName: schedule.groupName,
      ...(schedule.description ? { Description: schedule.description } : {}),
      ScheduleExpression: schedule.expression,
      ...(schedule.timezone ? { ScheduleExpressionTimezone: schedule.timezone } : {}),
      State: schedule.state,
      FlexibleTimeWindow: schedule.flexibleTimeWindow,
      Target: schedule.target,
    });
  }
}
