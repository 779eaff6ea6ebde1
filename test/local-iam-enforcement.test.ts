/**
 * IAM enforced per function in the local world: the calling function travels with each request,
 * DynamoDB and the emulator refuse what the function's role does not grant, and the coverage
 * comparison finds grants nobody used and calls that were refused.
 */
import { DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coverageFindings } from '../local/iam/coverage';
import { currentFunction, FUNCTION_HEADER, runAsFunction, tagRequestsWithFunction } from '../local/aws/function-context';
import { startLocalDynamo, type LocalDynamo } from '../local/dynamo';
import type { DecisionRecord } from '../local/aws/authorization';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { putRole } from '../local/aws/services/iam';
import { putKey } from '../local/aws/services/kms';
import { putParameter } from '../local/aws/services/ssm';

describe('the calling function travels with its requests', () => {
  it('adds the header inside runAsFunction only, across awaits and timers', async () => {
    tagRequestsWithFunction();
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers[FUNCTION_HEADER] as string | undefined);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const { request } = await import('node:module').then((m) => m.createRequire(import.meta.url)('node:http') as typeof import('node:http'));
    const get = () =>
      new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET' }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    try {
      await get();
      await runAsFunction('ecs-chatops-local-worker', async () => {
        expect(currentFunction()).toBe('ecs-chatops-local-worker');
        await new Promise((resolve) => setTimeout(resolve, 5));
        await get();
      });
      await get();
    } finally {
      server.close();
    }
    expect(seen).toEqual([undefined, 'ecs-chatops-local-worker', undefined]);
  });
});

describe('the local DynamoDB refuses what IAM refuses', () => {
  let dynamo: LocalDynamo;
  const asked: Array<{ functionName?: string; action: string; resource: string }> = [];
  const client = () =>
    new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIALOCAL00000000000', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  beforeAll(async () => {
    tagRequestsWithFunction();
    dynamo = await startLocalDynamo();
    dynamo.authorizeWith((request) => {
      asked.push({ ...(request.functionName ? { functionName: request.functionName } : {}), action: request.action, resource: request.resource });
      return request.functionName === 'ecs-chatops-local-worker' && request.action === 'dynamodb:PutItem'
        ? `User: worker is not authorized to perform: ${request.action} on resource: ${request.resource}`
        : undefined;
    });
  });
  afterAll(() => dynamo.close());

  it('answers a refused call with AccessDeniedException and leaves the table unchanged', async () => {
    const table = dynamo.env.AUDIT_TABLE!;
    const item = { pk: { S: 'team#T1' }, sk: { S: 'x' } };
    const db = client();
    const error = await runAsFunction('ecs-chatops-local-worker', () => db.send(new PutItemCommand({ TableName: table, Item: item }))).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:111111111111:table/${table}`),
    });
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
    // The same call by another function, and by the test itself, goes through.
    await runAsFunction('ecs-chatops-local-ingress', () => db.send(new PutItemCommand({ TableName: table, Item: item })));
    const read = await db.send(new GetItemCommand({ TableName: table, Key: item }));
    expect(read.Item).toEqual(item);
    expect(asked).toContainEqual({
      functionName: 'ecs-chatops-local-worker',
      action: 'dynamodb:PutItem',
      resource: `arn:aws:dynamodb:us-east-1:111111111111:table/${table}`,
    });
    expect(asked).toContainEqual({ action: 'dynamodb:GetItem', resource: `arn:aws:dynamodb:us-east-1:111111111111:table/${table}` });
    db.destroy();
  });

  it('authorises a Query of an index on the index’s ARN, and has the indexes serverless.yml declares', async () => {
    const table = dynamo.env.AUDIT_TABLE!;
    const db = client();
    const out = await db.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'byTarget',
        KeyConditionExpression: 'targetKey = :k',
        ExpressionAttributeValues: { ':k': { S: 'target#T1#web' } },
      }),
    );
    expect(out.Items).toEqual([]);
    expect(asked.at(-1)).toEqual({ action: 'dynamodb:Query', resource: `arn:aws:dynamodb:us-east-1:111111111111:table/${table}/index/byTarget` });
    const described = await db.send(new DescribeTableCommand({ TableName: table }));
    expect(described.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual(['byScript', 'byTarget', 'byUser']);
    db.destroy();
  });
});

describe('coverage: grants = calls', () => {
  const roleArn = 'arn:aws:iam::111111111111:role/worker';
  const roles = [
    {
      label: 'worker',
      roleArns: [roleArn],
      policies: {
        worker: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'Audit',
              Effect: 'Allow' as const,
              Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
              Resource: 'arn:aws:dynamodb:us-east-1:111111111111:table/audit',
            },
            {
              Sid: 'Invoke',
              Effect: 'Allow' as const,
              Action: 'lambda:InvokeFunction',
              Resource: ['arn:aws:lambda:us-east-1:111111111111:function:run', 'arn:aws:lambda:us-east-1:111111111111:function:run:*'],
            },
          ],
        },
      },
    },
  ];
  const decision = (action: string, resource: string, outcome: DecisionRecord['decision'] = 'allowed'): DecisionRecord => ({
    roleArn,
    action,
    resource,
    decision: outcome,
  });

  it('finds an action granted and never sent, a resource never used and a refused call', () => {
    const findings = coverageFindings(roles, [
      decision('dynamodb:PutItem', 'arn:aws:dynamodb:us-east-1:111111111111:table/audit'),
      decision('lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:111111111111:function:run:durable'),
      decision('dynamodb:GetItem', 'arn:aws:dynamodb:us-east-1:111111111111:table/audit', 'implicitDeny'),
    ]);
    expect(findings.map((f) => f.id)).toEqual([
      'worker Audit dynamodb:UpdateItem',
      'worker Invoke arn:aws:lambda:us-east-1:111111111111:function:run',
      'worker refused dynamodb:GetItem arn:aws:dynamodb:us-east-1:111111111111:table/audit',
    ]);
  });

  it('has nothing to say when every grant was used and nothing refused', () => {
    expect(
      coverageFindings(roles, [
        decision('dynamodb:PutItem', 'arn:aws:dynamodb:us-east-1:111111111111:table/audit'),
        decision('dynamodb:updateitem', 'arn:aws:dynamodb:us-east-1:111111111111:table/audit'),
        decision('lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:111111111111:function:run'),
        decision('lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:111111111111:function:run:3'),
      ]),
    ).toEqual([]);
  });
});

describe('a service using a key on the caller’s behalf is judged as KMS judges it', () => {
  let aws: AwsEmulator;
  const ACCOUNT = '111111111111';
  const role = (name: string, decrypt?: Record<string, unknown>) => {
    const created = putRole(aws.state, ACCOUNT, name, {
      trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
      inline: {
        read: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: '*' },
            ...(decrypt ? [{ Effect: 'Allow', Action: 'kms:Decrypt', ...decrypt }] : []),
          ] as never,
        },
      },
    });
    aws.authority.enforce(created.arn);
    const { accessKeyId, secretAccessKey } = aws.state.issueCredentials(created, name);
    return new SSMClient({ endpoint: aws.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  };
  const read = (client: SSMClient, name: string) =>
    client.send(new GetParameterCommand({ Name: name, WithDecryption: true })).then(
      (o) => o.Parameter?.Value,
      (e: Error) => e,
    );
  const keyPolicy = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
  let iamEnabledKey: string;

  beforeAll(async () => {
    aws = await startAwsEmulator({ clockRate: 0 });
    const regional = aws.state.region(ACCOUNT, 'us-east-1');
    const createdAt = new Date();
    const ctx = { regional, clock: aws.state.clock };
    iamEnabledKey = putKey(regional, {
      alias: 'alias/iam-enabled',
      createdAt,
      policy: keyPolicy([{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }]),
    }).metadata.Arn!;
    putKey(regional, {
      alias: 'alias/closed',
      createdAt,
      policy: keyPolicy([{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/admin` }, Action: 'kms:*', Resource: '*' }]),
    });
    putParameter(ctx, { Name: '/managed', Type: 'SecureString', Value: 'managed-value' });
    putParameter(ctx, { Name: '/iam-enabled', Type: 'SecureString', Value: 'cmk-value', KeyId: 'alias/iam-enabled' });
    putParameter(ctx, { Name: '/closed', Type: 'SecureString', Value: 'closed-value', KeyId: 'alias/closed' });
  });
  afterAll(() => aws?.close());

  it('the AWS managed key needs no grant: its key policy allows the account through SSM', async () => {
    expect(await read(role('no-kms-grant'), '/managed')).toBe('managed-value');
  });

  it('a customer managed key needs the role’s grant, matched on the key ARN, the service and the encryption context', async () => {
    expect(await read(role('no-grant'), '/iam-enabled')).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`kms:Decrypt on resource: ${iamEnabledKey}`),
    });
    const scoped = role('scoped', {
      Resource: 'arn:aws:kms:us-east-1:111111111111:key/*',
      Condition: {
        StringEquals: {
          'kms:ViaService': 'ssm.us-east-1.amazonaws.com',
          'kms:EncryptionContext:PARAMETER_ARN': 'arn:aws:ssm:us-east-1:111111111111:parameter/iam-enabled',
        },
      },
    });
    expect(await read(scoped, '/iam-enabled')).toBe('cmk-value');
    const otherParameter = role('other-parameter', {
      Resource: '*',
      Condition: { StringEquals: { 'kms:EncryptionContext:PARAMETER_ARN': 'arn:aws:ssm:us-east-1:111111111111:parameter/managed' } },
    });
    expect(await read(otherParameter, '/iam-enabled')).toBeInstanceOf(Error);
    const viaSecretsManager = role('via-secrets-manager', {
      Resource: '*',
      Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } },
    });
    expect(await read(viaSecretsManager, '/iam-enabled')).toBeInstanceOf(Error);
  });

  it('a key policy that neither enables IAM policies nor names the role refuses even a role granted kms:*', async () => {
    const granted = role('granted-everything', { Resource: '*' });
    expect(await read(granted, '/closed')).toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('because no resource-based policy allows the kms:Decrypt action'),
    });
  });
});

describe('AssumeRole is judged against the role’s trust policy too', () => {
  let aws: AwsEmulator;
  beforeAll(async () => {
    aws = await startAwsEmulator({ clockRate: 0 });
  });
  afterAll(() => aws?.close());

  const caller = (name: string) => {
    const role = putRole(aws.state, '111111111111', name, {
      trust: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] },
      inline: {
        assume: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['sts:AssumeRole', 'sts:TagSession', 'sts:SetSourceIdentity'], Resource: '*' }],
        },
      },
    });
    aws.authority.enforce(role.arn);
    const { accessKeyId, secretAccessKey } = aws.state.issueCredentials(role, name);
    return new STSClient({ endpoint: aws.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  };
  const target = (trust: Record<string, unknown>[]) =>
    putRole(aws.state, '111111111111', `target-${Math.random().toString(36).slice(2, 8)}`, { trust: { Version: '2012-10-17', Statement: trust as never } }).arn;
  const assume = (client: STSClient, RoleArn: string, extra: Record<string, unknown> = {}) =>
    client.send(new AssumeRoleCommand({ RoleArn, RoleSessionName: 'session', ...extra })).then(
      () => 'allowed',
      (e: Error) => e.message,
    );

  it('a role its trust policy does not name cannot be assumed, whatever the caller’s own policy allows', async () => {
    const stranger = caller('stranger');
    const roleArn = target([{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:role/someone-else' }, Action: 'sts:AssumeRole' }]);
    expect(await assume(stranger, roleArn)).toMatch(/is not authorized to perform: sts:AssumeRole on resource: .*because no resource-based policy allows/);
  });

  it('tags and a source identity need sts:TagSession and sts:SetSourceIdentity in the trust policy, with its conditions', async () => {
    const bot = caller('bot');
    const principal = { AWS: 'arn:aws:iam::111111111111:role/bot' };
    const assumeOnly = target([{ Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole' }]);
    expect(await assume(bot, assumeOnly)).toBe('allowed');
    expect(await assume(bot, assumeOnly, { Tags: [{ Key: 'slack-user', Value: 'U1' }] })).toMatch(/sts:TagSession/);
    expect(await assume(bot, assumeOnly, { SourceIdentity: 'ecs-chatops@U1' })).toMatch(/sts:SetSourceIdentity/);
    const full = target([
      { Effect: 'Allow', Principal: principal, Action: 'sts:AssumeRole', Condition: { StringLike: { 'sts:SourceIdentity': 'ecs-chatops@*' } } },
      { Effect: 'Allow', Principal: principal, Action: 'sts:SetSourceIdentity', Condition: { StringLike: { 'sts:SourceIdentity': 'ecs-chatops@*' } } },
      { Effect: 'Allow', Principal: principal, Action: 'sts:TagSession', Condition: { Null: { 'aws:RequestTag/slack-user': 'false' } } },
    ]);
    expect(await assume(bot, full, { SourceIdentity: 'ecs-chatops@U1', Tags: [{ Key: 'slack-user', Value: 'U1' }] })).toBe('allowed');
    expect(await assume(bot, full, { SourceIdentity: 'someone@U1', Tags: [{ Key: 'slack-user', Value: 'U1' }] })).toMatch(/sts:/);
    expect(await assume(bot, full, { SourceIdentity: 'ecs-chatops@U1', Tags: [{ Key: 'other', Value: 'x' }] })).toMatch(/sts:TagSession/);
  });
});
