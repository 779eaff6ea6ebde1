/**
 * local/iam/stack.ts: serverless.yml and infra/cross-account-role.yaml resolved into the concrete
 * IAM policies the local world enforces. The model must be what osls packages (checked against its
 * own output), fully resolved, and fail loudly on what it does not know.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PolicyStatement } from '../local/aws/policy';
import { functionLogicalId, readStack, readTargetRole, resolveTemplate, targetRoleFor, type StackModel, type Template } from '../local/iam/stack';
import { TemplateResolver } from '../local/iam/template';
import { HANDLERS } from '../scripts/build';
import { functions as slsFunctions } from './support/cloudformation';
import { packagedTemplate, TEMPLATE_PATH } from './support/packaged';

const ACCOUNT = '111111111111';
const TARGET_ACCOUNT = '222222222222';
const local = (params?: Record<string, string>) => readStack({ stage: 'local', region: 'us-east-1', accountId: ACCOUNT, params });

const statements = (document: { Statement: PolicyStatement | PolicyStatement[] }) => [document.Statement].flat();
const statement = (stack: StackModel, key: string, sid: string) =>
  Object.values(stack.functions[key]!.inline)
    .flatMap(statements)
    .find((s) => s.Sid === sid);

/** Every key and string of a value: where a `${…}`, an `Fn::…` or a `Ref` left unresolved would show. */
function everyText(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(everyText);
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([key, item]) => [key, ...everyText(item)]);
  return [];
}
const unresolved = (value: unknown) => everyText(value).filter((text) => text.includes('${') || text.includes('Fn::') || text === 'Ref');

const scratch: string[] = [];
const scratchDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};
afterAll(() => scratch.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** serverless.yml with one piece of text replaced, in a directory of its own. */
function slsVariant(from: string, to: string): string {
  const text = readFileSync('serverless.yml', 'utf8');
  if (!text.includes(from)) throw new Error(`serverless.yml has no ${from}`);
  const path = join(scratchDir('sls-variant-'), 'serverless.yml');
  writeFileSync(path, text.replace(from, to));
  return path;
}

/**
 * osls's own template for another stage, region and params. Packaged in a scratch directory: osls
 * deletes the project's .serverless/ whenever it packages, even with --package elsewhere, and other
 * test files read it. Empty handler files stand in for the bundles (only the template is read).
 */
function oslsTemplate(args: string[]): Template {
  const dir = scratchDir('osls-');
  writeFileSync(join(dir, 'serverless.yml'), readFileSync('serverless.yml'));
  // Every bundle a function packages (dist/<name>/**), built yet or not.
  const bundles = Object.values<{ package?: { patterns?: string[] } }>(slsFunctions).flatMap((fn) =>
    (fn.package?.patterns ?? []).flatMap((pattern) => /^dist\/([^/*]+)\/\*\*$/.exec(pattern)?.[1] ?? []),
  );
  for (const handler of new Set([...HANDLERS, ...bundles])) {
    mkdirSync(join(dir, 'dist', handler), { recursive: true });
    writeFileSync(join(dir, 'dist', handler, 'index.mjs'), '');
  }
  execFileSync(resolve('node_modules/.bin/osls'), ['package', ...args, '--package', 'out'], { cwd: dir, stdio: 'pipe', timeout: 60_000 });
  return JSON.parse(readFileSync(join(dir, 'out', 'cloudformation-template-update-stack.json'), 'utf8'));
}

/** The stack as resolved from osls's template, in readStack's shape. */
function fromOsls(template: Template, stack: StackModel) {
  const resolved = resolveTemplate(template, { region: stack.region, accountId: stack.accountId, source: TEMPLATE_PATH });
  expect(Object.keys(resolved.functions).sort()).toEqual(Object.keys(stack.functions).map(functionLogicalId).sort());
  const resolver = new TemplateResolver(template, { region: stack.region, accountId: stack.accountId, source: TEMPLATE_PATH });
  const functions = Object.fromEntries(
    Object.keys(stack.functions).map((key) => {
      const logicalId = functionLogicalId(key);
      return [key, { key, ...resolved.functions[logicalId], ...eventsFromOsls(template, resolver, stack, logicalId) }];
    }),
  );
  return { functions, resources: resolved.resources };
}

/** A function's EventBridge rules and Lambda permissions, and its EventInvokeConfig, as osls generated them. */
function eventsFromOsls(template: Template, resolver: TemplateResolver, stack: StackModel, logicalId: string) {
  const resources = Object.entries(template.Resources) as Array<[string, { Type: string; Properties: Record<string, any> }]>;
  const resolve = (value: unknown, path: string) => String(resolver.resolve(value, path));
  const permissions = resources
    .filter(
      ([, r]) =>
        r.Type === 'AWS::Lambda::Permission' &&
        r.Properties.Principal === 'events.amazonaws.com' &&
        r.Properties.FunctionName?.['Fn::GetAtt']?.[0] === logicalId,
    )
    .map(([id, r]) => resolve(r.Properties.SourceArn, `Resources.${id}.Properties.SourceArn`));
  const eventBridge = resources
    .filter(([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties.Targets?.[0]?.Arn?.['Fn::GetAtt']?.[0] === logicalId)
    .map(([id, { Properties: rule }]) => {
      const busName = rule.EventBusName === undefined ? 'default' : resolve(rule.EventBusName, `Resources.${id}.Properties.EventBusName`);
      const ruleArn = `arn:aws:events:${stack.region}:${stack.accountId}:rule/${busName === 'default' ? '' : `${busName}/`}${rule.Name}`;
      const [target] = rule.Targets;
      return {
        ruleName: rule.Name,
        ruleArn,
        busName,
        pattern: rule.EventPattern,
        ...(target.RetryPolicy
          ? {
              retryPolicy: {
                maximumEventAgeSeconds: target.RetryPolicy.MaximumEventAgeInSeconds,
                maximumRetryAttempts: target.RetryPolicy.MaximumRetryAttempts,
              },
            }
          : {}),
        ...(target.DeadLetterConfig ? { deadLetterQueueArn: resolve(target.DeadLetterConfig.Arn, `Resources.${id}.Properties.Targets[0]`) } : {}),
        // The permission osls adds names the rule by the ARN it builds: EventBridge may invoke only if it is the rule's.
        permissionSourceArn: permissions.find((arn) => arn === ruleArn) ?? permissions.join(' | '),
      };
    });
  const config = resources.find(([, r]) => r.Type === 'AWS::Lambda::EventInvokeConfig' && r.Properties.FunctionName?.Ref === logicalId)?.[1].Properties;
  const onFailure = config?.DestinationConfig?.OnFailure?.Destination;
  const asyncInvoke = {
    ...(config?.MaximumRetryAttempts === undefined ? {} : { maximumRetryAttempts: config.MaximumRetryAttempts }),
    ...(config?.MaximumEventAgeInSeconds === undefined ? {} : { maximumEventAgeSeconds: config.MaximumEventAgeInSeconds }),
    ...(onFailure === undefined ? {} : { onFailureArn: resolve(onFailure, `${logicalId}EvConf.DestinationConfig`) }),
  };
  // Its HTTP API routes: the routes whose integration invokes this function, with their authorization.
  const integrations = resources
    .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Integration' && r.Properties.IntegrationUri?.['Fn::GetAtt']?.[0] === logicalId)
    .map(([id]) => id);
  const httpApi = resources
    .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route' && integrations.includes(r.Properties.Target?.['Fn::Join']?.[1]?.[1]?.Ref))
    .map(([, { Properties: route }]) => {
      const [method, path] = String(route.RouteKey).split(' ');
      return { method, path, iam: route.AuthorizationType === 'AWS_IAM' };
    });
  return { eventBridge, httpApi, asyncInvoke };
}

describe('the stack as serverless.yml writes it (stage local)', () => {
  const stack = local();

  it('has the eight functions, each with the role it names', () => {
    expect(Object.keys(stack.functions)).toEqual([
      'ingress',
      'api',
      'webhook',
      'scheduled',
      'worker',
      'workerFailures',
      'runWorkflow',
      'deployWorkflow',
      'notifier',
    ]);
    for (const [key, fn] of Object.entries(stack.functions)) {
      expect(fn.roleLogicalId).toBe(slsFunctions[key].role);
      expect(fn.functionArn).toBe(`arn:aws:lambda:us-east-1:${ACCOUNT}:function:${fn.functionName}`);
      expect(fn.roleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/${fn.roleName}`);
      expect(statements(fn.trustPolicy)).toEqual([{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
    }
    expect(stack.functions.worker).toMatchObject({
      functionName: 'ecs-chatops-local-worker',
      roleLogicalId: 'WorkerRole',
      roleName: 'ecs-chatops-local-us-east-1-worker',
    });
  });

  it('leaves no variable or intrinsic unresolved', () => {
    expect(unresolved(stack)).toEqual([]);
  });

  it('resolves names, ARNs and the environment', () => {
    expect(statement(stack, 'worker', 'Audit')?.Resource).toBe(`arn:aws:dynamodb:us-east-1:${ACCOUNT}:table/ecs-chatops-local-audit`);
    expect(statement(stack, 'ingress', 'HandOffToWorker')?.Resource).toBe(stack.functions.worker!.functionArn);
    expect(statement(stack, 'worker', 'SlackSecretsDecrypt')?.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': 'ssm.us-east-1.amazonaws.com',
        'kms:EncryptionContext:PARAMETER_ARN': [
          `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/ecs-chatops/local/slack/signing-secret`,
          `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/ecs-chatops/local/slack/bot-token`,
        ],
      },
    });
    expect(stack.functions.ingress!.environment).toMatchObject({
      AUDIT_TABLE: 'ecs-chatops-local-audit',
      WORKER_FUNCTION_NAME: 'ecs-chatops-local-worker',
      LOG_LEVEL: 'info',
      SLACK_BOT_TOKEN_PARAM: '/ecs-chatops/local/slack/bot-token',
    });
    expect(stack.functions.worker!.environment.RUN_WORKFLOW_FUNCTION_NAME).toBe('ecs-chatops-local-run-workflow:durable');
    expect(stack.resources.WorkerFailureQueue).toEqual({
      type: 'AWS::SQS::Queue',
      name: 'ecs-chatops-local-worker-failures',
      arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:ecs-chatops-local-worker-failures`,
      url: `https://sqs.us-east-1.amazonaws.com/${ACCOUNT}/ecs-chatops-local-worker-failures`,
    });
    expect(stack.params).toMatchObject({ slackSigningSecretParam: '/ecs-chatops/local/slack/signing-secret', verifyPutLogs: 'false' });
  });

  it('takes params from the options over params.<stage> over params.default', () => {
    expect(statement(stack, 'worker', 'VerifyPutLogs')).toBeUndefined();
    const putLogs = local({ verifyPutLogs: 'true', deployPassRolePattern: 'ecs/*' });
    expect(statement(putLogs, 'worker', 'VerifyPutLogs')?.Resource).toBe(`arn:aws:logs:*:${ACCOUNT}:log-group:*:log-stream:ecs-chatops-verify/*`);
    expect(statement(putLogs, 'deployWorkflow', 'DeployPassTaskRoles')?.Resource).toBe(`arn:aws:iam::${ACCOUNT}:role/ecs/*`);

    const withStageParams = slsVariant('params:\n', 'params:\n  local:\n    logLevel: debug\n');
    const options = { stage: 'local', region: 'us-east-1', accountId: ACCOUNT };
    expect(readStack(options, withStageParams).functions.worker!.environment.LOG_LEVEL).toBe('debug');
    expect(readStack({ ...options, params: { logLevel: 'warn' } }, withStageParams).functions.worker!.environment.LOG_LEVEL).toBe('warn');
    expect(readStack({ ...options, stage: 'prod' }, withStageParams).functions.worker!.environment.LOG_LEVEL).toBe('info');
  });
});

describe('fidelity to osls', () => {
  it('stage dev: serverless.yml resolves to what osls packages', async () => {
    const stack = readStack({ stage: 'dev', region: 'us-east-1', accountId: ACCOUNT });
    const packaged = fromOsls((await packagedTemplate()) as Template, stack);
    expect(packaged.functions).toEqual(stack.functions);
    expect(packaged.resources).toEqual(stack.resources);
  }, 120_000);

  it('another stage, region and params: the same as osls', () => {
    const params = { verifyPutLogs: 'true', deployPassRolePattern: 'ecs/*' };
    const stack = readStack({ stage: 'local', region: 'eu-west-1', accountId: ACCOUNT, params });
    const args = ['--stage', 'local', '--region', 'eu-west-1', ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`)];
    const packaged = fromOsls(oslsTemplate(args), stack);
    expect(packaged.functions).toEqual(stack.functions);
    expect(packaged.resources).toEqual(stack.resources);
    expect(statement(stack, 'worker', 'VerifyPutLogs')).toBeDefined();
  }, 60_000);
});

describe('the target-account role', () => {
  const stack = local();
  const target = targetRoleFor(stack, TARGET_ACCOUNT);

  it("trusts the stack's worker, run-workflow, deploy-workflow and notifier roles", () => {
    const botRoles = ['worker', 'runWorkflow', 'deployWorkflow', 'notifier'].map((key) => stack.functions[key]!.roleArn);
    expect(target).toMatchObject({
      roleName: 'ecs-chatops-target',
      roleArn: `arn:aws:iam::${TARGET_ACCOUNT}:role/ecs-chatops-target`,
      maxSessionDuration: 3600,
    });
    for (const trust of statements(target.trustPolicy)) expect(trust.Principal).toEqual({ AWS: botRoles });
    expect(statements(target.trustPolicy).map((s) => s.Action)).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
  });

  it('resolves its inline policy in the target account', () => {
    expect(Object.keys(target.inline)).toEqual(['ecs-chatops-status']);
    expect(unresolved(target)).toEqual([]);
    const pass = statements(target.inline['ecs-chatops-status']!).find((s) => s.Sid === 'DeployPassTaskRoles');
    expect(pass?.Resource).toBe(`arn:aws:iam::${TARGET_ACCOUNT}:role/*`);
  });

  it('takes the optional parameters', () => {
    const named = readTargetRole({
      accountId: TARGET_ACCOUNT,
      region: 'eu-west-1',
      botAccountId: ACCOUNT,
      workerRoleName: 'w',
      runWorkflowRoleName: 'r',
      deployWorkflowRoleName: 'd',
      notifierRoleName: 'n',
      passRolePattern: 'ecs/*',
      roleName: 'ecs-chatops-target-prod',
    });
    expect(named.roleArn).toBe(`arn:aws:iam::${TARGET_ACCOUNT}:role/ecs-chatops-target-prod`);
    expect(statements(named.trustPolicy)[0]!.Principal).toEqual({ AWS: ['w', 'r', 'd', 'n'].map((name) => `arn:aws:iam::${ACCOUNT}:role/${name}`) });
    expect(statements(named.inline['ecs-chatops-status']!).find((s) => s.Sid === 'DeployPassTaskRoles')?.Resource).toBe(
      `arn:aws:iam::${TARGET_ACCOUNT}:role/ecs/*`,
    );
  });
});

describe('what the resolver does not know, it refuses', () => {
  const options = { stage: 'local', region: 'us-east-1', accountId: ACCOUNT };
  const targetOptions = {
    accountId: TARGET_ACCOUNT,
    region: 'us-east-1',
    botAccountId: ACCOUNT,
    workerRoleName: 'w',
    runWorkflowRoleName: 'r',
    deployWorkflowRoleName: 'd',
    notifierRoleName: 'n',
  };

  it('an unknown variable source, with its text and where it stands', () => {
    const path = slsVariant('LOG_LEVEL: ${param:logLevel}', "LOG_LEVEL: ${env:LOG_LEVEL, 'info'}");
    expect(() => readStack(options, path)).toThrow("serverless.yml provider.environment.LOG_LEVEL: unknown variable ${env:LOG_LEVEL, 'info'}");
  });

  it('a variable that resolves to nothing', () => {
    expect(() => readStack(options, slsVariant('${self:custom.names.worker}', '${self:custom.names.wroker}'))).toThrow(
      'functions.worker.name: cannot resolve ${self:custom.names.wroker}',
    );
    expect(() => readStack(options, slsVariant('${param:logLevel}', '${param:logLevl}'))).toThrow('cannot resolve ${param:logLevl}');
  });

  it('a cycle of variables', () => {
    expect(() => readStack(options, slsVariant('ingress: ${self:service}-${sls:stage}-ingress', 'ingress: ${self:custom.names.ingress}'))).toThrow(
      /nest deeper than 20/,
    );
  });

  it('an unsupported intrinsic, with its path', () => {
    const path = slsVariant('Resource: !GetAtt AllowlistTable.Arn', 'Resource: !FindInMap [Tables, Allowlist, Arn]');
    expect(() => readStack(options, path)).toThrow(
      'unsupported intrinsic Fn::FindInMap at Resources.IngressRole.Properties.Policies[0].PolicyDocument.Statement[1].Resource.Fn::FindInMap',
    );
  });

  it('a Ref or Fn::GetAtt it cannot resolve', () => {
    expect(() => readStack(options, slsVariant('!GetAtt AllowlistTable.Arn', '!GetAtt AllowlistTabel.Arn'))).toThrow(
      'unknown resource or parameter AllowlistTabel at Resources.IngressRole',
    );
    expect(() => readStack(options, slsVariant('!GetAtt AllowlistTable.Arn', '!GetAtt AllowlistTable.StreamArn'))).toThrow(
      'unsupported attribute Fn::GetAtt AllowlistTable.StreamArn',
    );
    expect(() => readStack(options, slsVariant('!GetAtt AllowlistTable.Arn', '!Ref WorkerFailuresAlarm'))).toThrow(
      'resources of type AWS::CloudWatch::Alarm are not modelled',
    );
    expect(() => readStack(options, slsVariant('!GetAtt AllowlistTable.Arn', '!Ref AWS::StackName'))).toThrow('unsupported pseudo parameter AWS::StackName');
    expect(() => readStack(options, slsVariant('- !If\n                  - VerifyPutLogs', '- !If\n                  - VerifyPutLog'))).toThrow(
      'unknown condition VerifyPutLog at Resources.WorkerRole',
    );
  });

  it('a role it cannot read from the file', () => {
    expect(() => readStack(options, slsVariant('role: WorkerRole', 'role: arn:aws:iam::111111111111:role/x'))).toThrow(
      'functions.worker.role must name a role of resources.Resources',
    );
    const managed = slsVariant(
      'RoleName: ${self:service}-${sls:stage}-${self:provider.region}-ingress',
      'RoleName: x\n        ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]',
    );
    expect(() => readStack(options, managed)).toThrow('ManagedPolicyArns is not modelled at Resources.IngressRole.Properties.ManagedPolicyArns');
  });

  it("the target template's parameters as CloudFormation checks them", () => {
    expect(() => readTargetRole({ ...targetOptions, botAccountId: '1234' })).toThrow('parameter BotAccountId=1234 does not match');
    expect(() => readTargetRole({ ...targetOptions, roleName: 'admin' })).toThrow('parameter RoleName=admin does not match');
    expect(() => readTargetRole({ ...targetOptions, workerRoleName: undefined as unknown as string })).toThrow(
      'parameter WorkerRoleName has no value and no Default',
    );
  });
});
