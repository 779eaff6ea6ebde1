/**
 * serverless.yml and infra/ checked against the code: table shapes, environment, IAM, async
 * invocation settings, packaging, the Slack manifest. Reads the YAML only (no osls, no AWS).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HANDLERS, loadConfigFile } from '../scripts/build';
import { AUDIT_FAILURE_METRIC, METRICS_NAMESPACE } from '../src/audit/failures';
import { auditIndexKeys } from '../src/audit/audit';
import { HISTORY_INDEXES, type HistoryRow } from '../src/audit/history';
import { TABLES, type TableDefinition } from '../src/platform/tables';
import { CODEDEPLOY_ACTIONS } from './support/codedeploy-actions';
import {
  actions,
  everyStatement,
  functions,
  readYaml,
  resourceList,
  resources,
  rolePolicyStatements,
  sls,
  targetTemplate,
  type Statement,
} from './support/cloudformation';

const manifest = readYaml('infra/slack-app-manifest.yaml');

/**
 * What the deploy workflow does to ECS (and the target role allows): read, register, roll out,
 * watch. Not ecs:ListTaskDefinitions: the workflow never lists revisions (the worker does, when it
 * plans a rollback), as test/iam-data.test.ts found comparing the grants with the bundle's calls.
 */
const DEPLOY_ECS_ACTIONS = [
  'ecs:DescribeServices',
  'ecs:DescribeTaskDefinition',
  'ecs:DescribeTasks',
  'ecs:ListTasks',
  'ecs:RegisterTaskDefinition',
  'ecs:TagResource',
  'ecs:UpdateService',
  // ECS-native strategies: the service deployment, its gates, its rollback (src/workflows/deploy-staged.ts).
  'ecs:ListServiceDeployments',
  'ecs:DescribeServiceDeployments',
  'ecs:StopServiceDeployment',
  'ecs:ContinueServiceDeployment',
];

const roleOf = (fn: string) => {
  const role = functions[fn].role;
  expect(typeof role, `functions.${fn}.role must name a role declared in resources`).toBe('string');
  expect(resources[role]?.Type).toBe('AWS::IAM::Role');
  return resources[role];
};
const allActions = (fn: string) => rolePolicyStatements(roleOf(fn)).flatMap(actions);
const envOf = (fn: string): Record<string, unknown> => ({ ...sls.provider.environment, ...functions[fn].environment });
const resolveParam = (value: unknown) => {
  const match = typeof value === 'string' && /^\$\{param:(\w+)\}$/.exec(value);
  return match ? sls.params.default[match[1]!] : value;
};

describe('serverless.yml: provider and packaging', () => {
  it('targets osls without a frameworkVersion and runs Node.js 22 on arm64', () => {
    expect(sls).not.toHaveProperty('frameworkVersion');
    expect(sls.service).toBe('ecs-chatops');
    expect(sls.provider.name).toBe('aws');
    expect(sls.provider.runtime).toBe('nodejs22.x');
    expect(sls.provider.architecture).toBe('arm64');
    expect(sls.provider.stage).toBe("${opt:stage, 'dev'}");
    expect(sls.provider.region).toBe("${opt:region, 'us-east-1'}");
    expect(sls.provider.logRetentionInDays).toBeGreaterThan(0);
    expect(sls.provider.environment.NODE_OPTIONS).toBe('--enable-source-maps');
    for (const fn of Object.values(functions)) expect(fn.runtime ?? sls.provider.runtime).toBe('nodejs22.x');
  });

  it('declares exactly the handlers scripts/build.ts bundles, each zip holding only its own dist folder', () => {
    // Function keys are the handler names in camelCase (`run-workflow` → `runWorkflow`).
    const key = (name: string) => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    expect(Object.keys(functions).sort()).toEqual(HANDLERS.map(key).sort());
    expect(sls.package.individually).toBe(true);
    for (const name of HANDLERS) {
      expect(functions[key(name)].handler).toBe(`dist/${name}/index.handler`);
      expect(functions[key(name)].package.patterns).toEqual(['!./**', `dist/${name}/**`]);
    }
  });

  it('routes Slack to the ingress over an HTTP API and sizes both functions', () => {
    expect(functions.ingress.events).toEqual([{ httpApi: { method: 'POST', path: '/slack/events' } }]);
    expect(functions.ingress.timeout).toBeLessThanOrEqual(30);
    expect(functions.worker.events ?? []).toEqual([]);
    expect(functions.worker.timeout).toBe(900);
  });

  it('routes the signed API to its own function, every route authorised by IAM', () => {
    const auth = { authorizer: { type: 'aws_iam' } };
    expect(functions.api.events).toEqual([
      { httpApi: { method: 'POST', path: '/api/runs', ...auth } },
      { httpApi: { method: 'POST', path: '/api/deploys', ...auth } },
      { httpApi: { method: 'GET', path: '/api/runs/{id}', ...auth } },
    ]);
    expect(functions.api.timeout).toBeLessThanOrEqual(30);
    expect(functions.api.role).toBe('ApiRole');
    expect(envOf('api').WORKER_FUNCTION_NAME).toEqual({ Ref: 'WorkerLambdaFunction' });
    // Refusals by the IAM authorizer never reach the function: the access log records them, with the caller.
    const accessLog = JSON.parse(sls.provider.logs.httpApi.format) as Record<string, string>;
    expect(accessLog).toMatchObject({ status: '$context.status', caller: '$context.identity.userArn', error: '$context.error.message' });
  });

  it('keeps the signed API to its stores and the hand-off: no Slack secret, no ECS, no other account', () => {
    const granted = allActions('api');
    expect(granted.filter((a) => /^(ssm|kms|ecs|sts|iam):/.test(a))).toEqual([]);
    const invoke = rolePolicyStatements(roleOf('api')).filter((s) => actions(s).includes('lambda:InvokeFunction'));
    expect(invoke.flatMap(resourceList)).toEqual([{ 'Fn::GetAtt': ['WorkerLambdaFunction', 'Arn'] }]);
    expect(granted.filter((a) => a.startsWith('lambda:'))).toEqual(['lambda:InvokeFunction']);
  });

  it('routes ticket webhooks to their own function, without an authorizer (the function checks their HMAC)', () => {
    expect(functions.webhook.events).toEqual([{ httpApi: { method: 'POST', path: '/api/webhooks/{source}' } }]);
    expect(functions.webhook.timeout).toBeLessThanOrEqual(30);
    expect(functions.webhook.role).toBe('WebhookRole');
    expect(envOf('webhook').WORKER_FUNCTION_NAME).toEqual({ Ref: 'WorkerLambdaFunction' });
    expect(resolveParam(envOf('webhook').WEBHOOK_SECRETS_PARAM)).toBe(sls.params.default.webhookSecretsPath);
  });

  it('lets the webhook function read only the secrets under its path, decrypted only through SSM for those parameters; no Slack secret, no ECS', () => {
    const statements = rolePolicyStatements(roleOf('webhook'));
    const granted = allActions('webhook');
    expect(granted.filter((a) => /^(ecs|sts|iam):/.test(a))).toEqual([]);
    expect(granted.filter((a) => /^(ssm|kms):/.test(a)).sort()).toEqual(['kms:Decrypt', 'ssm:GetParameters']);
    // `/*` covers a source's `<param>/previous` (a secret being rotated out) as well as its `<param>`.
    const under = 'arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${param:webhookSecretsPath}/*';
    const ssm = statements.filter((s) => actions(s).includes('ssm:GetParameters'));
    expect(ssm.flatMap(resourceList)).toEqual([{ 'Fn::Sub': under }]);
    const kms = statements.filter((s) => actions(s).includes('kms:Decrypt'));
    expect(kms).toHaveLength(1);
    expect(kms[0]!.Condition).toEqual({
      StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' } },
      StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': { 'Fn::Sub': under } },
    });
    const invoke = statements.filter((s) => actions(s).includes('lambda:InvokeFunction'));
    expect(invoke.flatMap(resourceList)).toEqual([{ 'Fn::GetAtt': ['WorkerLambdaFunction', 'Arn'] }]);
    expect(granted.filter((a) => a.startsWith('lambda:'))).toEqual(['lambda:InvokeFunction']);
  });

  it('never retries the worker automatically, and keeps failed invocations', () => {
    expect(functions.worker.maximumRetryAttempts).toBe(0);
    expect(functions.worker.maximumEventAge).toBeGreaterThanOrEqual(60);
    const onFailure = functions.worker.destinations?.onFailure;
    expect(onFailure?.type).toBe('sqs');
    const queueId = onFailure.arn['Fn::GetAtt'][0];
    expect(resources[queueId].Type).toBe('AWS::SQS::Queue');
    const send = rolePolicyStatements(roleOf('worker')).find((s) => actions(s).includes('sqs:SendMessage'));
    expect(send?.Resource).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  });

  it('reads the failure queue with the crash report, which may only read and complete audit records and post in Slack', () => {
    const queueId = functions.worker.destinations.onFailure.arn['Fn::GetAtt'][0];
    expect(functions.workerFailures.events).toEqual([
      { sqs: { arn: { 'Fn::GetAtt': [queueId, 'Arn'] }, batchSize: 1, functionResponseType: 'ReportBatchItemFailures' } },
    ]);
    // AWS's advice for a Lambda event source: visibility at least six times the function's timeout.
    expect(resources[queueId].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * functions.workerFailures.timeout);
    expect(allActions('workerFailures').sort()).toEqual([
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
      'kms:Decrypt',
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
      'ssm:GetParameters',
    ]);
    const audit = rolePolicyStatements(roleOf('workerFailures')).find((st) => actions(st).includes('dynamodb:GetItem'));
    expect(audit?.Resource).toEqual({ 'Fn::GetAtt': ['AuditTable', 'Arn'] });
    // Someone looks at every crash: an alarm on what reaches the queue.
    expect(resources.WorkerFailuresAlarm.Properties).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'NumberOfMessagesSent',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
      Threshold: 1,
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
  });
});

describe('serverless.yml: alarms', () => {
  it('alarms on the audit failure metric exactly as src/audit/failures.ts emits it, to the alarm topic', () => {
    const alarm = resources.AuditWriteFailuresAlarm;
    expect(alarm.Type).toBe('AWS::CloudWatch::Alarm');
    expect(alarm.Properties).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: AUDIT_FAILURE_METRIC,
      // Powertools' default dimension: the service name given to Metrics.
      Dimensions: [{ Name: 'service', Value: 'ecs-chatops' }],
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    expect(resources.AlarmTopic.Type).toBe('AWS::SNS::Topic');
  });
});

describe('serverless.yml: tables match src/platform/tables.ts', () => {
  const tableResources = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::DynamoDB::Table');

  it('declares one table per TABLES entry and no other', () => {
    expect(tableResources.map(([, r]) => r.Properties.TableName).sort()).toEqual(
      Object.keys(TABLES)
        .map((key) => `\${self:service}-\${sls:stage}-${key}`)
        .sort(),
    );
  });

  for (const [key, def] of Object.entries(TABLES) as Array<[string, TableDefinition]>) {
    it(`${key}: keys, TTL, billing, encryption and environment variable`, () => {
      const [logicalId, table] = tableResources.find(([, r]) => r.Properties.TableName === `\${self:service}-\${sls:stage}-${key}`)!;
      const p = table.Properties;
      const keySchema = [{ AttributeName: def.partitionKey, KeyType: 'HASH' }, ...(def.sortKey ? [{ AttributeName: def.sortKey, KeyType: 'RANGE' }] : [])];
      expect(p.KeySchema).toEqual(keySchema);
      // The table's keys, then its indexes' partition keys (their sort key is the table's).
      const indexKeys = (p.GlobalSecondaryIndexes ?? []).map((g: any) => g.KeySchema[0].AttributeName);
      expect(p.AttributeDefinitions).toEqual(
        [...keySchema.map((k) => k.AttributeName), ...indexKeys].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      );
      if (def.ttlAttribute) expect(p.TimeToLiveSpecification).toEqual({ AttributeName: def.ttlAttribute, Enabled: true });
      else expect(p.TimeToLiveSpecification).toBeUndefined();
      expect(p.BillingMode).toBe('PAY_PER_REQUEST');
      expect(p.SSESpecification).toEqual({ SSEEnabled: true });
      // Both functions find the table through the variable tableName() reads.
      for (const fn of Object.keys(functions)) expect(envOf(fn)[def.env]).toEqual({ Ref: logicalId });
    });
  }

  it('indexes the audit for `/ecs history` by service, person and script, sorted by time, with what history shows', () => {
    const [, table] = tableResources.find(([, r]) => r.Properties.TableName.endsWith('-audit'))!;
    const indexes = table.Properties.GlobalSecondaryIndexes as any[];
    expect(indexes.map((g) => [g.IndexName, g.KeySchema])).toEqual(
      [
        [HISTORY_INDEXES.target, 'targetKey'],
        [HISTORY_INDEXES.user, 'userKey'],
        [HISTORY_INDEXES.script, 'scriptKey'],
      ].map(([name, key]) => [
        name,
        [
          { AttributeName: key, KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      ]),
    );
    // The keys the audit writer sets are the indexes' keys.
    expect(Object.keys(auditIndexKeys({ teamId: 'T', userId: 'U', target: 'web', script: 'backup.sh' })).sort()).toEqual(['scriptKey', 'targetKey', 'userKey']);
    const shown: Array<keyof HistoryRow> = [
      'userId',
      'verb',
      'target',
      'script',
      'commandText',
      'decision',
      'reason',
      'outcome',
      'at',
      'durationMs',
      'channelId',
      'threadTs',
    ];
    for (const g of indexes) expect(g.Projection).toEqual({ ProjectionType: 'INCLUDE', NonKeyAttributes: shown });
  });

  it('keeps and backs up the allowlist and the audit', () => {
    for (const key of ['allowlist', 'audit']) {
      const [, table] = tableResources.find(([, r]) => r.Properties.TableName.endsWith(`-${key}`))!;
      expect(table.DeletionPolicy).toBe('Retain');
      expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    }
  });
});

describe('serverless.yml: environment', () => {
  const needed: Record<string, string[]> = {
    ingress: ['ALLOWLIST_TABLE', 'AUDIT_TABLE', 'STATE_TABLE', 'WORKER_FUNCTION_NAME', 'SLACK_SIGNING_SECRET_PARAM', 'SLACK_BOT_TOKEN_PARAM', 'LOG_LEVEL'],
    worker: [
      'ALLOWLIST_TABLE',
      'AUDIT_TABLE',
      'STATE_TABLE',
      'SLACK_SIGNING_SECRET_PARAM',
      'SLACK_BOT_TOKEN_PARAM',
      'LOG_LEVEL',
      'RUN_WORKFLOW_FUNCTION_NAME',
      'DEPLOY_WORKFLOW_FUNCTION_NAME',
    ],
    runWorkflow: ['AUDIT_TABLE', 'STATE_TABLE', 'SLACK_SIGNING_SECRET_PARAM', 'SLACK_BOT_TOKEN_PARAM', 'LOG_LEVEL'],
    deployWorkflow: ['AUDIT_TABLE', 'STATE_TABLE', 'SLACK_SIGNING_SECRET_PARAM', 'SLACK_BOT_TOKEN_PARAM', 'LOG_LEVEL'],
  };

  it('gives each function the variables the code reads', () => {
    for (const [fn, names] of Object.entries(needed)) expect(Object.keys(envOf(fn))).toEqual(expect.arrayContaining(names));
    expect(envOf('ingress').WORKER_FUNCTION_NAME).toEqual({ Ref: 'WorkerLambdaFunction' });
    // Through the `durable` alias osls creates for a durable function: an execution keeps its version.
    expect(envOf('worker').DEPLOY_WORKFLOW_FUNCTION_NAME).toBe('${self:custom.names.deployWorkflow}:durable');
  });

  it('holds SSM parameter names, never secret values', () => {
    for (const fn of Object.keys(functions)) {
      for (const [name, raw] of Object.entries(envOf(fn))) {
        if (/SECRET|TOKEN|PASSWORD|KEY/i.test(name)) expect(name, `${fn}: ${name} must be a *_PARAM name`).toMatch(/_PARAM$/);
        const value = resolveParam(raw);
        if (typeof value !== 'string') continue;
        expect(value, `${fn}: ${name}`).not.toMatch(/xox[abpre]-|xapp-|\b[0-9a-f]{32}\b|AKIA[0-9A-Z]{16}/);
        if (name.endsWith('_PARAM')) expect(value, `${fn}: ${name} must be an absolute parameter name`).toMatch(/^\/[\w./${}:-]+$/);
      }
    }
  });
});

describe('serverless.yml and infra/: IAM', () => {
  it('uses no wildcard action anywhere', () => {
    for (const { where, statement } of everyStatement()) {
      for (const action of actions(statement)) expect(action, `${where} ${statement.Sid ?? ''}`).not.toMatch(/\*/);
      expect(statement, `${where}: NotAction widens a grant`).not.toHaveProperty('NotAction');
    }
  });

  it('gives each function its own role, writing only to its own log group', () => {
    expect(new Set(Object.values(functions).map((fn) => fn.role)).size).toBe(Object.keys(functions).length);
    expect(sls.provider.iam?.role?.statements ?? []).toEqual([]);
    for (const fn of Object.keys(functions)) {
      // Writing logs: only its own log group, except verify's optional proof line (below).
      const writes = rolePolicyStatements(roleOf(fn)).filter(
        (s) => s.Sid !== 'VerifyPutLogs' && actions(s).some((a) => a === 'logs:PutLogEvents' || a === 'logs:CreateLogStream'),
      );
      const arns = writes.flatMap(resourceList).map((r: any) => r['Fn::Sub'] ?? r);
      expect(arns.length).toBeGreaterThan(0);
      for (const arn of arns) expect(arn).toContain(`log-group:/aws/lambda/\${self:custom.names.${fn}}:`);
      expect(functions[fn].name).toBe(`\${self:custom.names.${fn}}`);
    }
  });

  it("grants verify's log writes only when put-logs is on, and only to its own streams", () => {
    const raw = sls.resources.Resources.WorkerRole.Properties.Policies.flatMap((p: any) => p.PolicyDocument.Statement);
    const conditional = raw.find((s: any) => s['Fn::If']?.[1]?.Sid === 'VerifyPutLogs');
    expect(conditional['Fn::If'][0]).toBe('VerifyPutLogs');
    expect(conditional['Fn::If'][2]).toEqual({ Ref: 'AWS::NoValue' });
    expect(sls.resources.Conditions.VerifyPutLogs).toEqual({ 'Fn::Equals': ['${param:verifyPutLogs}', 'true'] });
    expect(sls.params.default.verifyPutLogs).toBe('false');
    expect(conditional['Fn::If'][1].Resource['Fn::Sub']).toMatch(/log-stream:ecs-chatops-verify\/\*$/);
    expect(allActions('ingress').filter((a) => a.startsWith('iam:') || a.startsWith('ecr:'))).toEqual([]);
  });

  it('keeps the ingress away from ECS and other accounts: the ack path never touches them', () => {
    const granted = allActions('ingress');
    expect(granted.filter((a) => a.startsWith('ecs:') || a.startsWith('sts:'))).toEqual([]);
    const invoke = rolePolicyStatements(roleOf('ingress')).filter((s) => actions(s).includes('lambda:InvokeFunction'));
    expect(invoke.flatMap(resourceList)).toEqual([{ 'Fn::GetAtt': ['WorkerLambdaFunction', 'Arn'] }]);
  });

  it('grants the exact DynamoDB actions each function uses, per table', () => {
    const dynamo = (fn: string) => {
      const byTable: Record<string, string[]> = {};
      for (const s of rolePolicyStatements(roleOf(fn))) {
        const ddb = actions(s).filter((a) => a.startsWith('dynamodb:'));
        if (ddb.length === 0) continue;
        for (const r of resourceList(s) as any[]) {
          // A table by its Arn, or one of its indexes (`${AuditTable.Arn}/index/byTarget`), named `AuditTable/index/byTarget`.
          const id =
            r['Fn::GetAtt']?.[0] ??
            /^\$\{(\w+)\.Arn\}(\/index\/\w+)$/
              .exec(r['Fn::Sub'] ?? '')
              ?.slice(1)
              .join('');
          expect(id, `${fn}: DynamoDB grants must name a table resource`).toBeTruthy();
          (byTable[id] ??= []).push(...ddb);
        }
      }
      return Object.fromEntries(Object.entries(byTable).map(([k, v]) => [k, [...new Set(v)].sort()]));
    };
    // The signed API: principal patterns by Query, the attempt's record and its reading, idempotency keys and buckets.
    // The catalog: one GetItem of a service a deploy names that is not declared (fleet: configured).
    expect(dynamo('api')).toEqual({
      AllowlistTable: ['dynamodb:Query'],
      AuditTable: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      CatalogTable: ['dynamodb:GetItem'],
      StateTable: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    });
    // Ticket webhooks: the source's own entry by its key, refusals and attempts, replay claims and the API's state items.
    expect(dynamo('webhook')).toEqual({
      AllowlistTable: ['dynamodb:GetItem'],
      AuditTable: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      StateTable: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    });
    // The catalog: one GetItem of an alias the command names that is not declared (fleet: configured).
    expect(dynamo('ingress')).toEqual({
      AllowlistTable: ['dynamodb:GetItem', 'dynamodb:Query'],
      AuditTable: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
      CatalogTable: ['dynamodb:GetItem'],
      StateTable: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
    });
    // `/ecs history` queries the audit's indexes (and the team's partition), never scans.
    expect(dynamo('worker')).toEqual({
      AllowlistTable: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'],
      AuditTable: ['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
      'AuditTable/index/byTarget': ['dynamodb:Query'],
      'AuditTable/index/byUser': ['dynamodb:Query'],
      'AuditTable/index/byScript': ['dynamodb:Query'],
      StateTable: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      // `/ecs services --refresh`: the catalog scanned whole for the diff (the worker alone), rewritten in batches (src/fleet/catalog.ts).
      CatalogTable: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Scan'],
    });
    // The request's conditional updates, the deploy lock, post claims; no allowlist (approvals
    // are judged by the worker's reaction handler).
    expect(dynamo('deployWorkflow')).toEqual({
      AuditTable: ['dynamodb:UpdateItem'],
      StateTable: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    });
  });

  it('reads exactly the two Slack parameters, decrypting only through SSM; the notifier only the bot token', () => {
    // The signed API never talks to Slack: no parameter, no decryption (checked below); the webhook function reads only its sources' secrets (below).
    // Nor does the scheduled function (it hands a schedule's run to the worker, as the API does).
    for (const fn of Object.keys(functions).filter((f) => f !== 'api' && f !== 'webhook' && f !== 'scheduled')) {
      // The notifier posts but never verifies a request: it may not read the signing secret.
      const params =
        fn === 'notifier' ? [sls.params.default.slackBotTokenParam] : [sls.params.default.slackSigningSecretParam, sls.params.default.slackBotTokenParam];
      const statements = rolePolicyStatements(roleOf(fn));
      // Actions that return parameter values; ssm:DescribeParameters (verify) returns metadata only.
      const ssm = statements.filter((s) => actions(s).some((a) => /^ssm:GetParameter/.test(a)));
      expect(ssm.flatMap(actions)).toEqual(['ssm:GetParameters']);
      expect(statements.flatMap(actions).filter((a) => a.startsWith('ssm:') && !['ssm:GetParameters', 'ssm:DescribeParameters'].includes(a))).toEqual([]);
      const arns = ssm.flatMap(resourceList).map((r: any) => resolveParam(r['Fn::Sub'].split(':parameter')[1]));
      expect(arns).toEqual(params);
      const kms = statements.filter((s) => actions(s).includes('kms:Decrypt'));
      expect(kms.flatMap(actions)).toEqual(['kms:Decrypt']);
      // kms:GenerateDataKey: the data key of an encrypted ECS Exec session (run workflow).
      expect(
        statements
          .flatMap(actions)
          .filter((a) => a.startsWith('kms:') && !['kms:Decrypt', 'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:GenerateDataKey'].includes(a)),
      ).toEqual([]);
      for (const s of kms) expect(s.Condition?.StringEquals?.['kms:ViaService']).toEqual({ 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' });
    }
  });

  it('gives the run workflow its durable-execution grants on itself only, and its DurableConfig', () => {
    const durable = rolePolicyStatements(roleOf('runWorkflow')).filter((s) => actions(s).some((a) => a.includes('DurableExecution')));
    // Its own approval callback too (scripts declared requiresApproval).
    expect(durable.flatMap(actions).sort()).toEqual([
      'lambda:CheckpointDurableExecution',
      'lambda:GetDurableExecutionState',
      'lambda:SendDurableExecutionCallbackSuccess',
    ]);
    for (const r of durable.flatMap(resourceList) as any[]) expect(r['Fn::Sub']).toContain('function:${self:custom.names.runWorkflow}');
    expect(functions.runWorkflow.durableConfig).toEqual({ executionTimeout: expect.any(Number), retentionPeriodInDays: expect.any(Number) });
    // Long enough for the longest script's time limit, after the longest approval the schema allows.
    const config = loadConfigFile();
    const longest = Math.max(...Object.values(config.scripts).map((s) => s.timeoutSeconds));
    expect(functions.runWorkflow.durableConfig.executionTimeout).toBeGreaterThanOrEqual(7 * 86_400 + 6 * 3600 + 600);
    for (const [kind, runs] of [
      ['scripts', config.scripts],
      ['jobs', config.jobs],
    ] as const) {
      for (const [name, run] of Object.entries(runs)) {
        const approval = run.requiresApproval ? config.targets[run.target]!.deploy.expirySeconds : 0;
        expect(approval + run.timeoutSeconds + 600, `${kind}.${name}`).toBeLessThanOrEqual(functions.runWorkflow.durableConfig.executionTimeout);
      }
    }
    expect(longest).toBeGreaterThan(0);
    expect(envOf('worker').RUN_WORKFLOW_FUNCTION_NAME).toBe('${self:custom.names.runWorkflow}:durable');
    expect(allActions('runWorkflow')).toContain('ecs:ExecuteCommand');
    // Jobs handed over by the worker: its ECS writes are one-off tasks only, as the worker's.
    expect(
      allActions('runWorkflow')
        .filter((a) => /^ecs:(?!Describe|List|ExecuteCommand)/.test(a))
        .sort(),
    ).toEqual(['ecs:RunTask', 'ecs:StopTask', 'ecs:TagResource']);
  });

  it('gives the deploy workflow its DurableConfig, long enough for the longest request', () => {
    // osls's own durableConfig (it also publishes a version on every deploy and moves the `durable` alias).
    const durable = functions.deployWorkflow.durableConfig;
    expect(durable).toEqual({ executionTimeout: expect.any(Number), retentionPeriodInDays: functions.runWorkflow.durableConfig.retentionPeriodInDays });
    const timeout: number = durable.executionTimeout;
    // The maxima src/config/schema.ts accepts: approval expiry 7 days, rollout timeout 6 hours
    // (the rollback is watched as long again), plus an hour of polls and reporting.
    expect(timeout).toBeGreaterThanOrEqual(7 * 86_400 + 2 * 6 * 3600 + 3600);
    expect(timeout).toBeLessThanOrEqual(31_622_400); // Lambda's maximum
    for (const [alias, target] of Object.entries(loadConfigFile().targets)) {
      expect(target.deploy.expirySeconds + 2 * target.deploy.timeoutSeconds + 3600, `targets.${alias}.deploy`).toBeLessThanOrEqual(timeout);
    }
    expect(functions.deployWorkflow.timeout).toBe(900);
    expect(functions.deployWorkflow.events ?? []).toEqual([]);
  });

  it('gives the deploy workflow exactly the deploy actions, on itself and ECS tasks', () => {
    const statements = rolePolicyStatements(roleOf('deployWorkflow'));
    expect([...new Set(allActions('deployWorkflow'))].sort()).toEqual(
      [
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'logs:GetLogEvents',
        'lambda:CheckpointDurableExecution',
        'lambda:GetDurableExecutionState',
        'lambda:SendDurableExecutionCallbackSuccess',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'ssm:GetParameters',
        'kms:Decrypt',
        ...DEPLOY_ECS_ACTIONS,
        // `/ecs scale --adjust-autoscaling`: the service's range read and widened.
        'application-autoscaling:DescribeScalableTargets',
        'application-autoscaling:RegisterScalableTarget',
        // CODE_DEPLOY services: the group read again, the deployment found or created, followed, stopped.
        ...CODEDEPLOY_ACTIONS.workflow,
        'iam:PassRole',
        'sts:AssumeRole',
        'sts:TagSession',
        'sts:SetSourceIdentity',
      ].sort(),
    );
    // Durable execution and its own approval callback: on its own executions only (their ARNs are
    // function:<name>:<version>/durable-execution/…, which is what these actions are authorized against).
    for (const s of statements.filter((s) => actions(s).some((a) => a.startsWith('lambda:')))) {
      for (const r of resourceList(s) as any[])
        expect(r['Fn::Sub'], s.Sid).toMatch(/:function:\$\{self:custom\.names\.deployWorkflow\}:\*\/durable-execution\/\*$/);
    }
    // ECS: this account only; "*" only for the actions without resource-level permissions
    // (RegisterTaskDefinition is scoped to task-definition/*, as the IAM data allows).
    const unscopable = ['ecs:DescribeTaskDefinition', 'ecs:ListTasks'];
    for (const s of statements.filter((s) => actions(s).some((a) => a.startsWith('ecs:')))) {
      for (const r of resourceList(s) as any[]) {
        if (r === '*') expect(unscopable, s.Sid).toEqual(expect.arrayContaining(actions(s)));
        else
          expect(r['Fn::Sub'], s.Sid).toMatch(/^arn:\$\{AWS::Partition\}:ecs:\*:\$\{AWS::AccountId\}:(service|service-deployment|task|task-definition)\/\*$/);
      }
    }
    // Autoscaling: reads on "*" (no resource-level permission), the range widened on this account's
    // scalable targets of ECS desired counts only.
    const widen = statements.find((s) => actions(s).includes('application-autoscaling:RegisterScalableTarget'))!;
    expect(resourceList(widen)).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:application-autoscaling:*:${AWS::AccountId}:scalable-target/*' }]);
    expect(widen.Condition).toEqual({
      StringEquals: { 'application-autoscaling:service-namespace': 'ecs', 'application-autoscaling:scalable-dimension': 'ecs:service:DesiredCount' },
    });
    // CodeDeploy: this account's deployment groups; "*" only for the actions AWS's IAM data gives no resource type.
    for (const s of statements.filter((s) => actions(s).some((a) => a.startsWith('codedeploy:')))) {
      for (const r of resourceList(s) as any[]) {
        if (r === '*')
          expect(['codedeploy:ListDeploymentTargets', 'codedeploy:GetDeploymentTarget', 'codedeploy:StopDeployment'], s.Sid).toEqual(
            expect.arrayContaining(actions(s)),
          );
        else expect(r['Fn::Sub'], s.Sid).toBe('arn:${AWS::Partition}:codedeploy:*:${AWS::AccountId}:deploymentgroup:*');
      }
    }
    // Tags only on the task definitions it registers.
    const tag = statements.find((s) => actions(s).includes('ecs:TagResource'))!;
    expect(actions(tag)).toEqual(['ecs:TagResource']);
    expect(tag.Condition).toEqual({ StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } });
    // Roles of this account only, narrowed by a parameter.
    const pass = statements.find((s) => actions(s).includes('iam:PassRole'))!;
    expect(pass.Resource).toEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${param:deployPassRolePattern}' });
    expect(sls.params.default.deployPassRolePattern).toBeTruthy();
  });

  it('passes roles only to ECS tasks, never to "*"', () => {
    // The worker's other PassRole is the Scheduler role, to Scheduler only (UpdateSchedule sends it back): checked with the schedules.
    const passing = everyStatement().filter(
      ({ statement }) =>
        actions(statement).includes('iam:PassRole') && statement.Condition?.StringEquals?.['iam:PassedToService'] !== 'scheduler.amazonaws.com',
    );
    // The deploy workflow registers task definitions; the worker and the run workflow start one-off job tasks (RunTask).
    expect(passing.map(({ where }) => where).sort()).toEqual([
      'infra/cross-account-role.yaml TargetRole',
      'serverless.yml DeployWorkflowRole',
      'serverless.yml RunWorkflowRole',
      'serverless.yml WorkerRole',
    ]);
    for (const { where, statement } of passing) {
      expect(actions(statement), where).toEqual(['iam:PassRole']);
      expect(statement.Condition, where).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
      expect(statement.Resource, where).not.toBe('*');
      expect((statement.Resource as any)['Fn::Sub'], where).toMatch(/^arn:\$\{AWS::Partition\}:iam::\$\{AWS::AccountId\}:role\/\$\{/);
    }
  });

  it('lets only the deploy workflow change services and task definitions; the worker plans, starts the workflows, answers their approval callbacks and runs one-off job tasks (as the run workflow does for long ones)', () => {
    const writes = ['ecs:RegisterTaskDefinition', 'ecs:UpdateService', 'ecs:TagResource', 'iam:PassRole', 'ecs:RunTask', 'ecs:StopTask'];
    for (const fn of Object.keys(functions).filter((f) => f !== 'deployWorkflow')) {
      expect([...new Set(allActions(fn).filter((a) => writes.includes(a)))].sort(), fn).toEqual(
        fn === 'worker' || fn === 'runWorkflow' ? ['ecs:RunTask', 'ecs:StopTask', 'ecs:TagResource', 'iam:PassRole'] : [],
      );
    }
    for (const fn of ['worker', 'runWorkflow']) {
      // They tag only the tasks they create (`/ecs job`), never anything else.
      const tagging = rolePolicyStatements(roleOf(fn)).filter((s) => actions(s).includes('ecs:TagResource'));
      expect(
        tagging.map((s) => s.Condition),
        fn,
      ).toEqual([{ StringEquals: { 'ecs:CreateAction': 'RunTask' } }]);
    }
    const worker = rolePolicyStatements(roleOf('worker'));
    expect(allActions('worker')).toEqual(
      expect.arrayContaining(['ecs:DescribeServices', 'ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions', 'ecr:DescribeImages']),
    );
    const fn = (name: string) => [
      // Only through the `durable` alias the worker invokes (IAM matches a qualified ARN exactly).
      { 'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:\${self:custom.names.${name}}:durable` },
    ];
    const invoke = worker.filter((s) => actions(s).includes('lambda:InvokeFunction'));
    expect(invoke.flatMap(actions)).toEqual(invoke.map(() => 'lambda:InvokeFunction'));
    expect(invoke.flatMap(resourceList)).toEqual([...fn('runWorkflow'), ...fn('deployWorkflow')]);
    const callbacks = worker.filter((s) => actions(s).some((a) => a.startsWith('lambda:SendDurableExecutionCallback')));
    expect(callbacks.flatMap(actions).sort()).toEqual(['lambda:SendDurableExecutionCallbackSuccess']);
    // Callbacks are authorized against the execution's ARN, not the function's (test/iam-data.test.ts).
    const executions = (name: string) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:\${self:custom.names.${name}}:*/durable-execution/*`,
    });
    expect(callbacks.flatMap(resourceList)).toEqual([executions('deployWorkflow'), executions('runWorkflow')]);
    // Nothing else of Lambda: no checkpoints of someone else's execution.
    expect(
      allActions('worker')
        .filter((a) => a.startsWith('lambda:'))
        .sort(),
    ).toEqual(['lambda:InvokeFunction', 'lambda:InvokeFunction', 'lambda:SendDurableExecutionCallbackSuccess']);
  });

  it('lets the worker and the workflows assume only ecs-chatops-target roles, tagged and with a source identity', () => {
    for (const fn of ['worker', 'runWorkflow', 'deployWorkflow']) {
      const sts = rolePolicyStatements(roleOf(fn)).filter((s) => actions(s).some((a) => a.startsWith('sts:')));
      expect(sts.flatMap(actions).sort(), fn).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
      expect(sts.flatMap(resourceList), fn).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::*:role/ecs-chatops-target*' }]);
    }
    expect(allActions('ingress').filter((a) => a.startsWith('sts:'))).toEqual([]);
  });

  it('gives a target-account role the ECS actions of every function that assumes it, behind a tagged trust', () => {
    const ecsActions = (statements: Statement[]) => [...new Set(statements.flatMap(actions).filter((a) => a.startsWith('ecs:')))].sort();
    const role = targetTemplate.Resources.TargetRole;
    const targetStatements = rolePolicyStatements(role);
    // The union over the functions that may assume target roles (worker, run and deploy workflows, notifier).
    const assuming = Object.keys(functions).filter((fn) => allActions(fn).includes('sts:AssumeRole'));
    expect(assuming.sort()).toEqual(['deployWorkflow', 'notifier', 'runWorkflow', 'worker']);
    expect(ecsActions(targetStatements)).toEqual(ecsActions(assuming.flatMap((fn) => rolePolicyStatements(roleOf(fn)))));
    expect(ecsActions(targetStatements)).toEqual(
      expect.arrayContaining(['ecs:DescribeServices', 'ecs:DescribeTaskDefinition', 'ecs:ListTasks', 'ecs:DescribeTasks', ...DEPLOY_ECS_ACTIONS]),
    );
    // The deploy's grants are the same in both places: tag on creation only, roles to ECS tasks only.
    const bySid = (statements: Statement[], sid: string) => statements.find((s) => s.Sid === sid)!;
    const deployStatements = rolePolicyStatements(roleOf('deployWorkflow'));
    expect(bySid(targetStatements, 'DeployTagOnCreate').Condition).toEqual(bySid(deployStatements, 'DeployTagOnCreate').Condition);
    expect(bySid(targetStatements, 'DeployTagOnCreate').Resource).toEqual(bySid(deployStatements, 'DeployTagOnCreate').Resource);
    expect(bySid(targetStatements, 'DeployPassTaskRoles').Resource).toEqual({
      'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${PassRolePattern}',
    });
    expect(targetTemplate.Parameters.PassRolePattern.Default).toBe('*');
    expect(targetTemplate.Parameters.RoleName.Default).toBe('ecs-chatops-target');
    const trust: Statement[] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(trust.flatMap(actions).sort()).toEqual(['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession']);
    const tag = trust.find((s) => actions(s).includes('sts:TagSession'))!;
    expect(tag.Condition?.Null?.['aws:RequestTag/slack-user']).toBe('false');
    // The worker, the run workflow (long `/ecs run` scripts), the deploy workflow and the notifier
    // (its diagnosis) act in target accounts; nothing else.
    for (const s of trust) {
      expect((s as any).Principal.AWS).toEqual([
        { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${BotAccountId}:role/${WorkerRoleName}' },
        { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${BotAccountId}:role/${RunWorkflowRoleName}' },
        { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${BotAccountId}:role/${DeployWorkflowRoleName}' },
        { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${BotAccountId}:role/${NotifierRoleName}' },
      ]);
    }
    // The parameters name the roles serverless.yml creates.
    for (const [param, logicalId] of [
      ['WorkerRoleName', 'WorkerRole'],
      ['RunWorkflowRoleName', 'RunWorkflowRole'],
      ['DeployWorkflowRoleName', 'DeployWorkflowRole'],
      ['NotifierRoleName', 'NotifierRole'],
    ]) {
      const suffix = resources[logicalId!].Properties.RoleName.split('${self:provider.region}-')[1];
      expect(targetTemplate.Parameters[param!].Description.replace(/\s+/g, ' '), param).toContain(`ecs-chatops-<stage>-<region>-${suffix}`);
    }
  });
});

describe('infra/slack-app-manifest.yaml', () => {
  const config = parse(readFileSync('ecs-chatops.config.yaml', 'utf8'));

  it('declares the slash command with escaped mentions', () => {
    expect(manifest._metadata.major_version).toBe(1);
    expect(manifest.features.bot_user.display_name).toBe('ecs-chatops');
    const [command, ...others] = manifest.features.slash_commands;
    expect(others).toEqual([]);
    expect(command.command).toBe(config.slack.command);
    expect(command.should_escape).toBe(true);
    expect(command.usage_hint).toBeTruthy();
    expect(command.url).toMatch(/\/slack\/events$/);
  });

  it('subscribes to reactions, enables interactivity, uses HTTP (no Socket Mode)', () => {
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(expect.arrayContaining(['reaction_added', 'reaction_removed']));
    expect(manifest.settings.event_subscriptions.request_url).toMatch(/\/slack\/events$/);
    expect(manifest.settings.interactivity).toEqual({ is_enabled: true, request_url: expect.stringMatching(/\/slack\/events$/) });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.settings.token_rotation_enabled).toBe(false);
  });

  it('asks for the bot scopes it needs and not chat:write.public', () => {
    const scopes: string[] = manifest.oauth_config.scopes.bot;
    expect(scopes).toEqual(expect.arrayContaining(['commands', 'chat:write', 'reactions:read', 'reactions:write', 'files:write', 'users:read']));
    expect(scopes).not.toContain('chat:write.public');
  });
});

// ---- schedules (EventBridge Scheduler) ---------------------------------------------------------
describe('serverless.yml: schedules', () => {
  it('holds exactly the configuration’s schedules, as `npm run schedules` writes them', async () => {
    const { schedulesProblem, scheduleLogicalId } = await import('../scripts/schedules');
    const config = loadConfigFile();
    expect(schedulesProblem(readFileSync('serverless.yml', 'utf8'), config)).toBeUndefined();
    const declared = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Scheduler::Schedule');
    expect(declared.map(([id]) => id).sort()).toEqual(Object.keys(config.schedules).map(scheduleLogicalId).sort());
    for (const [id, r] of declared) {
      const name = r.Properties.Name as string;
      const s = config.schedules[name]!;
      expect(id).toBe(scheduleLogicalId(name));
      expect(r.Properties).toMatchObject({
        GroupName: { Ref: 'ScheduleGroup' },
        ScheduleExpression: s.expression,
        ScheduleExpressionTimezone: s.timezone,
        State: s.enabled ? 'ENABLED' : 'DISABLED',
        Target: { Arn: { 'Fn::GetAtt': ['ScheduledLambdaFunction', 'Arn'] }, RoleArn: { 'Fn::GetAtt': ['SchedulerRole', 'Arn'] } },
      });
      // The scheduled time Scheduler fills in makes, with the name, the idempotency key of a delivery.
      expect(JSON.parse(r.Properties.Target.Input)).toEqual({ schedule: name, scheduledTime: '<aws.scheduler.scheduled-time>' });
    }
    expect(resources.ScheduleGroup).toEqual({ Type: 'AWS::Scheduler::ScheduleGroup', Properties: { Name: '${self:custom.names.scheduleGroup}' } });
  });

  it('a stale block is refused: a schedule removed from the configuration, or changed', async () => {
    const { schedulesProblem } = await import('../scripts/schedules');
    const config = loadConfigFile();
    const text = readFileSync('serverless.yml', 'utf8');
    expect(schedulesProblem(text, { ...config, schedules: {} })).toMatch(/npm run schedules/);
    const [name, first] = Object.entries(config.schedules)[0]!;
    expect(schedulesProblem(text, { ...config, schedules: { ...config.schedules, [name]: { ...first, expression: 'rate(5 minutes)' } } })).toMatch(
      /differ from the configuration/,
    );
  });

  it('lets only this account’s Scheduler assume its role, which may invoke only the scheduled function', () => {
    const role = resources.SchedulerRole;
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    expect(rolePolicyStatements(role)).toEqual([
      { Sid: 'InvokeScheduled', Effect: 'Allow', Action: ['lambda:InvokeFunction'], Resource: { 'Fn::GetAtt': ['ScheduledLambdaFunction', 'Arn'] } },
    ]);
  });

  it('keeps the scheduled function to the API’s stores and the hand-off: no allowlist, no Slack, no ECS', () => {
    expect(functions.scheduled.events ?? []).toEqual([]);
    expect(allActions('scheduled').sort()).toEqual(
      [
        'dynamodb:DeleteItem',
        'dynamodb:GetItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'lambda:InvokeFunction',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
      ].sort(),
    );
    const invoke = rolePolicyStatements(roleOf('scheduled')).find((s) => actions(s).includes('lambda:InvokeFunction'))!;
    expect(invoke.Resource).toEqual({ 'Fn::GetAtt': ['WorkerLambdaFunction', 'Arn'] });
  });

  it('lets the worker read and pause only the bot’s own schedules, passing the Scheduler role only to Scheduler', () => {
    const worker = rolePolicyStatements(roleOf('worker'));
    const scheduler = worker.filter((s) => actions(s).some((a) => a.startsWith('scheduler:')));
    expect(scheduler.flatMap(actions).sort()).toEqual(['scheduler:GetSchedule', 'scheduler:UpdateSchedule']);
    expect(scheduler.map((s) => s.Resource)).toEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${self:custom.names.scheduleGroup}/*' },
    ]);
    const pass = worker.filter((s) => actions(s).includes('iam:PassRole') && s.Condition?.StringEquals?.['iam:PassedToService'] === 'scheduler.amazonaws.com');
    expect(pass.map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': ['SchedulerRole', 'Arn'] }]);
    expect(envOf('worker').SCHEDULE_GROUP_NAME).toBe('${self:custom.names.scheduleGroup}');
  });
});
