/**
 * The bot's IAM as written: each Lambda function of serverless.yml with its execution role, and
 * the target-account role of infra/cross-account-role.yaml, resolved for one stage, region and
 * account into the concrete policies AWS would hold after a deployment. The local world enforces
 * these, so a grant missing from (or added to) the files shows up in the local tests.
 *
 * serverless.yml is read the way `osls package` reads it: its variables first (variables.ts), then
 * each function compiled into the AWS::Lambda::Function resource osls generates (logical id, name,
 * merged environment, role), then CloudFormation's intrinsics (template.ts). test/local-iam-stack.test.ts
 * checks the result against what osls itself packages.
 */
import type { PolicyDocument } from '../aws/policy';
import { asyncInvokeConfig, eventBuses, functionEventRules, queuePolicies, type AsyncInvokeModel, type EventBusModel, type EventRuleModel } from './events';
import { resolveTemplate, TemplateResolver, type PhysicalResource, type Template } from './template';
import { resolveVariables } from './variables';
import { readYaml } from './yaml';

export { resolveTemplate, type FunctionRole, type PhysicalResource, type ResolvedTemplate, type Template, type TemplateOptions } from './template';

export interface StackOptions {
  stage: string;
  region: string;
  accountId: string;
  /** Overrides of serverless.yml's params (as `--param="name=value"`). */
  params?: Record<string, string>;
}

export interface FunctionModel {
  /** serverless.yml's functions key: 'ingress' | 'worker' | 'workerFailures' | 'runWorkflow' | 'deployWorkflow'. */
  key: string;
  /** The resolved `name:`, e.g. ecs-chatops-local-worker. */
  functionName: string;
  functionArn: string;
  /** e.g. WorkerRole. */
  roleLogicalId: string;
  /** The role's resolved RoleName, e.g. ecs-chatops-local-us-east-1-worker. */
  roleName: string;
  roleArn: string;
  trustPolicy: PolicyDocument;
  /** PolicyName → resolved document. */
  inline: Record<string, PolicyDocument>;
  /** provider.environment merged with the function's, resolved (a table's Ref is its name, …). */
  environment: Record<string, string>;
  /** Its `eventBridge` events: the rules osls creates, each with the function as its target. */
  eventBridge: EventRuleModel[];
  /** Its routes on the HTTP API (`httpApi` events): method, path, IAM authorization or none. */
  httpApi: Array<{ method: string; path: string; iam: boolean }>;
  /** Lambda's handling of its asynchronous invocations (retries, on-failure destination). */
  asyncInvoke: AsyncInvokeModel;
}

export interface StackModel {
  stage: string;
  region: string;
  accountId: string;
  functions: Record<string, FunctionModel>;
  /** Tables, the SQS queue (with its URL) and the SNS topic by logical id. */
  resources: Record<string, PhysicalResource>;
  /** The params in force (slackSigningSecretParam, …), resolved. */
  params: Record<string, string>;
  /** The custom event buses by logical id, with their resource policies. */
  eventBuses: Record<string, EventBusModel>;
  /** Queue ARN → its queue policy. */
  queuePolicies: Record<string, PolicyDocument>;
  /** The EventBridge Scheduler schedules (AWS::Scheduler::Schedule resources), resolved. */
  schedules: ScheduleModel[];
}

/** One AWS::Scheduler::Schedule as CloudFormation creates it (the properties the local Scheduler runs). */
export interface ScheduleModel {
  name: string;
  groupName: string;
  description?: string;
  expression: string;
  timezone?: string;
  state: 'ENABLED' | 'DISABLED';
  flexibleTimeWindow: { Mode: string; MaximumWindowInMinutes?: number };
  target: { Arn: string; RoleArn: string; Input?: string; RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number } };
  /** The execution role Scheduler assumes (Target.RoleArn's resource), with its policies. */
  role: import('./template').RoleModel;
}

function schedules(template: Template, resolver: TemplateResolver): ScheduleModel[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Scheduler::Schedule')
    .map(([logicalId, r]) => {
      const p = resolver.resolve(r.Properties ?? {}, `Resources.${logicalId}.Properties`) as Record<string, any>;
      if (typeof p.Name !== 'string') throw new Error(`Resources.${logicalId}: a schedule without Name (generated names are not modelled)`);
      const roleRef = r.Properties?.Target?.RoleArn?.['Fn::GetAtt'];
      const roleId = Array.isArray(roleRef) ? roleRef[0] : typeof roleRef === 'string' ? roleRef.split('.')[0] : undefined;
      if (typeof roleId !== 'string') throw new Error(`Resources.${logicalId}.Properties.Target.RoleArn: only !GetAtt <role>.Arn of this template is modelled`);
      return {
        name: p.Name,
        groupName: p.GroupName ?? 'default',
        ...(p.Description ? { description: p.Description } : {}),
        expression: p.ScheduleExpression,
        ...(p.ScheduleExpressionTimezone ? { timezone: p.ScheduleExpressionTimezone } : {}),
        state: p.State === 'DISABLED' ? 'DISABLED' : 'ENABLED',
        flexibleTimeWindow: p.FlexibleTimeWindow,
        target: p.Target,
        role: resolver.role(roleId),
      };
    });
}

/** osls's logical id of a function: its key with the first letter upper-cased (`-` → Dash, `_` → Underscore), then LambdaFunction. */
export const functionLogicalId = (key: string) => {
  const normalized = key.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
  return `${normalized.charAt(0).toUpperCase()}${normalized.slice(1)}LambdaFunction`;
};

export function readStack(options: StackOptions, path = 'serverless.yml'): StackModel {
  const { config, params } = resolveVariables(readYaml(path), options);
  const template = compile(config, path);
  const where = { region: options.region, accountId: options.accountId, source: path };
  const resolved = resolveTemplate(template, where);
  const resolver = new TemplateResolver(template, where);
  const functions = Object.fromEntries(
    Object.entries<Record<string, any>>(config.functions ?? {}).map(([key, fn]) => {
      const compiled = resolved.functions[functionLogicalId(key)]!;
      const eventBridge = functionEventRules(fn, key, compiled.functionName, resolver, where);
      const httpApi = (fn.events ?? [])
        .map((e: Record<string, any>) => e.httpApi)
        .filter(Boolean)
        .map((e: Record<string, any>) => ({ method: String(e.method).toUpperCase(), path: String(e.path), iam: e.authorizer?.type === 'aws_iam' }));
      return [key, { key, ...compiled, eventBridge, httpApi, asyncInvoke: asyncInvokeConfig(fn, key, resolver) }];
    }),
  );
  return {
    stage: options.stage,
    region: options.region,
    accountId: options.accountId,
    functions,
    resources: resolved.resources,
    params,
    eventBuses: eventBuses(template, resolver),
    queuePolicies: queuePolicies(template, resolver),
    schedules: schedules(template, resolver),
  };
}

/**
 * The template osls would package, as far as IAM is concerned: the file's resources and conditions,
 * plus each function as the AWS::Lambda::Function osls generates (name, environment, role).
 */
function compile(config: Record<string, any>, path: string): Template {
  const resources: Template['Resources'] = { ...config.resources?.Resources };
  for (const [key, fn] of Object.entries<Record<string, any>>(config.functions ?? {})) {
    const logicalId = functionLogicalId(key);
    // A resource of that id would be merged into what osls generates: not modelled.
    if (resources[logicalId]) throw new Error(`${path}: resources.Resources.${logicalId} overrides the function ${key}`);
    // osls names a function's own role by logical id; an ARN or the default role is not in the file to read.
    if (typeof fn.role !== 'string' || fn.role.startsWith('arn:'))
      throw new Error(`${path}: functions.${key}.role must name a role of resources.Resources to be modelled`);
    resources[logicalId] = {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: fn.name ?? `${config.service}-${config.provider.stage}-${key}`,
        Environment: { Variables: { ...config.provider.environment, ...fn.environment } },
        Role: { 'Fn::GetAtt': [fn.role, 'Arn'] },
      },
    };
  }
  return { Conditions: config.resources?.Conditions, Resources: resources };
}

export interface TargetRoleOptions {
  /** The target account, where the role lives. */
  accountId: string;
  region: string;
  /** The bot's account and its four roles that may assume the target role. */
  botAccountId: string;
  workerRoleName: string;
  runWorkflowRoleName: string;
  deployWorkflowRoleName: string;
  notifierRoleName: string;
  /** The template's PassRolePattern (default `*`). */
  passRolePattern?: string;
  /** The template's RoleName (default ecs-chatops-target). */
  roleName?: string;
}

export interface TargetRoleModel {
  roleName: string;
  roleArn: string;
  maxSessionDuration: number;
  trustPolicy: PolicyDocument;
  inline: Record<string, PolicyDocument>;
}

/** The target-account role of infra/cross-account-role.yaml, deployed with these parameters. */
export function readTargetRole(options: TargetRoleOptions, path = 'infra/cross-account-role.yaml'): TargetRoleModel {
  const parameters: Record<string, string | undefined> = {
    BotAccountId: options.botAccountId,
    WorkerRoleName: options.workerRoleName,
    RunWorkflowRoleName: options.runWorkflowRoleName,
    DeployWorkflowRoleName: options.deployWorkflowRoleName,
    NotifierRoleName: options.notifierRoleName,
    PassRolePattern: options.passRolePattern,
    RoleName: options.roleName,
  };
  const template = readYaml(path) as Template;
  const resolver = new TemplateResolver(template, {
    region: options.region,
    accountId: options.accountId,
    parameters: Object.fromEntries(Object.entries(parameters).filter((entry): entry is [string, string] => entry[1] !== undefined)),
    source: path,
  });
  const maxSessionDuration = resolver.resolve(
    template.Resources.TargetRole?.Properties?.MaxSessionDuration ?? 3600,
    'Resources.TargetRole.Properties.MaxSessionDuration',
  );
  return { ...resolver.role('TargetRole'), maxSessionDuration: Number(maxSessionDuration) };
}

/** The target role as a target account deploys it for this stack: trusting its worker and workflow roles (other parameters at their defaults). */
export function targetRoleFor(stack: StackModel, accountId: string): TargetRoleModel {
  const roleName = (key: string) => {
    const fn = stack.functions[key];
    if (!fn) throw new Error(`the stack has no function ${key}, whose role the target role trusts`);
    return fn.roleName;
  };
  return readTargetRole({
    accountId,
    region: stack.region,
    botAccountId: stack.accountId,
    workerRoleName: roleName('worker'),
    runWorkflowRoleName: roleName('runWorkflow'),
    deployWorkflowRoleName: roleName('deployWorkflow'),
    notifierRoleName: roleName('notifier'),
  });
}
