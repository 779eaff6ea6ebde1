/**
 * The local AWS emulator, exercised only through the real SDK v3 clients (and, for wire-format
 * details the SDK hides, raw HTTP): if these pass, production code pointed at the emulator by
 * AWS_ENDPOINT_URL* cannot tell it from AWS for the operations it uses.
 */
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  paginateListTasks,
} from '@aws-sdk/client-ecs';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DeleteParameterCommand, GetParameterCommand, GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE, startAwsEmulator, type AwsEmulator, type FunctionConfig, type LambdaContextLike, type LambdaHandlerLike } from '../local/aws';

const region = 'us-east-1';
const SIGNING_SECRET = 'test-signing-secret-8f2c';
const BOT_TOKEN = 'xoxb-test-bot-token';

let emu: AwsEmulator;
let ecs: ECSClient;
const savedEnv = { ...process.env };
const handlers = new Map<string, LambdaHandlerLike>();

beforeAll(async () => {
  emu = await startAwsEmulator({
    seed: { slackSigningSecret: SIGNING_SECRET, slackBotToken: BOT_TOKEN },
    // Registered lazily so each test can install the handler it needs.
    functions: new Map<string, LambdaHandlerLike | FunctionConfig>([
      ['worker', (event: unknown, context: LambdaContextLike) => handlers.get('worker')!(event, context)],
      [
        'flaky',
        {
          handler: async () => {
            throw new Error('flaky failed');
          },
          maxRetries: 1,
        },
      ],
      ['slow', { handler: () => new Promise((resolve) => setTimeout(resolve, 300)), timeoutMs: 50 }],
    ]),
  });
  ecs = new ECSClient({ region, endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
});
afterAll(async () => {
  process.env = savedEnv;
  await emu?.close();
});
afterEach(() => emu.faults.clear());

/** Env-configured clients, as production code builds them (no endpoint in code). */
function withEnv(extra: Record<string, string | undefined> = {}) {
  process.env = { ...savedEnv, ...emu.endpointEnv(), ...extra };
  for (const [k, v] of Object.entries(extra)) if (v === undefined) delete process.env[k];
}

/** A SigV4-looking request without the SDK, to see the bytes AWS clients actually receive. */
function raw(body: string, headers: Record<string, string>, service = 'ecs') {
  return fetch(emu.url, {
    method: 'POST',
    body,
    headers: {
      authorization: `AWS4-HMAC-SHA256 Credential=AKIALOCAL00000000000/20250101/${region}/${service}/aws4_request, SignedHeaders=host, Signature=0`,
      ...headers,
    },
  });
}

describe('ECS', () => {
  it('describes the seeded cluster, counting its tasks', async () => {
    const out = await ecs.send(new DescribeClustersCommand({ clusters: ['main', 'nope'], include: ['CONFIGURATIONS', 'SETTINGS'] }));
    expect(out.clusters).toHaveLength(1);
    expect(out.clusters![0]).toMatchObject({
      clusterArn: SAMPLE.clusterArn,
      status: 'ACTIVE',
      runningTasksCount: 10, // web 2, web-bg 2, web-canary 2, web-linear 2, manager 1, and broken's one task left from broken:6
      activeServicesCount: 6,
      configuration: { executeCommandConfiguration: { logging: 'DEFAULT' } },
      settings: [{ name: 'containerInsights', value: 'enabled' }],
    });
    expect(out.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:111111111111:cluster/nope', reason: 'MISSING' }]);
  });

  it('describes services, reporting unknown ones as MISSING failures', async () => {
    const out = await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web', SAMPLE.services.broken, 'ghost'] }));
    const [web, broken] = out.services!;
    expect(web).toMatchObject({
      serviceArn: 'arn:aws:ecs:us-east-1:111111111111:service/main/web',
      desiredCount: 2,
      runningCount: 2,
      pendingCount: 0,
      taskDefinition: SAMPLE.taskDefinitions.web,
      enableExecuteCommand: true,
      launchType: 'FARGATE',
      platformVersion: '1.4.0',
      loadBalancers: [{ targetGroupArn: SAMPLE.targetGroupArn, containerName: 'app', containerPort: 8080 }],
      networkConfiguration: { awsvpcConfiguration: { assignPublicIp: 'DISABLED' } },
      deployments: [{ id: SAMPLE.deployments.web, status: 'PRIMARY', rolloutState: 'COMPLETED' }],
    });
    expect(web!.createdAt).toBeInstanceOf(Date);
    expect(web!.events![0]!.message).toBe('(service web) has reached a steady state.');
    expect(web!.tags).toBeUndefined(); // only with include: ['TAGS']
    // broken:7 (PRIMARY) cannot start a task; broken:6 (ACTIVE) keeps its one task until one does.
    expect(broken).toMatchObject({
      desiredCount: 2,
      runningCount: 1,
      pendingCount: 0,
      taskDefinition: SAMPLE.taskDefinitions.broken,
      enableExecuteCommand: true,
      loadBalancers: [
        {
          targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/broken/0b5e7c9a1d3f2e4c',
          containerName: 'app',
          containerPort: 8080,
        },
      ],
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-0b1c2d3e4f5a6b7c8'], securityGroups: ['sg-0a9b8c7d6e5f4a3b2'], assignPublicIp: 'DISABLED' },
      },
    });
    expect(broken!.deployments).toEqual([
      expect.objectContaining({
        id: SAMPLE.deployments.broken,
        status: 'PRIMARY',
        taskDefinition: SAMPLE.taskDefinitions.broken,
        rolloutState: 'IN_PROGRESS',
        failedTasks: 4,
        desiredCount: 2,
        runningCount: 0,
      }),
      expect.objectContaining({
        id: SAMPLE.deployments.brokenPrevious,
        status: 'ACTIVE',
        taskDefinition: SAMPLE.taskDefinitions.brokenPrevious,
        rolloutState: 'COMPLETED',
        desiredCount: 1,
        runningCount: 1,
      }),
    ]);
    expect(broken!.events!.map((e) => e.message).join('\n')).toMatch(/\(service broken\) was unable to place a task/);
    expect(out.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:111111111111:service/ghost', reason: 'MISSING' }]);
  });

  it('throws ClusterNotFoundException for an unknown cluster', async () => {
    const err = await ecs.send(new DescribeServicesCommand({ cluster: 'nope', services: ['web'] })).catch((e) => e);
    expect(err.name).toBe('ClusterNotFoundException');
    expect(err.message).toBe('Cluster not found.');
    expect(err.$metadata.httpStatusCode).toBe(400);
    await expect(ecs.send(new ListTasksCommand({ cluster: 'nope' }))).rejects.toMatchObject({ name: 'ClusterNotFoundException' });
    await expect(ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'ghost' }))).rejects.toMatchObject({
      name: 'ServiceNotFoundException',
    });
  });

  it('describes task definitions by ARN, family:revision or family (latest)', async () => {
    const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }));
    expect(latest.taskDefinition!.taskDefinitionArn).toBe(SAMPLE.taskDefinitions.web);
    const [app, router] = latest.taskDefinition!.containerDefinitions!;
    expect(app).toMatchObject({
      name: 'app',
      image: SAMPLE.images.web,
      portMappings: [{ containerPort: 8080 }],
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web' } },
    });
    expect(app!.secrets!.map((s) => s.valueFrom)).toEqual([SAMPLE.secrets.webDatabaseUrl, SAMPLE.secrets.webApiKey]);
    expect(router!.image).toBe('public.ecr.aws/aws-observability/aws-for-fluent-bit:stable');
    expect(latest.taskDefinition).toMatchObject({ taskRoleArn: expect.stringContaining(':role/web-task-role'), networkMode: 'awsvpc' });

    const previous = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: SAMPLE.taskDefinitions.webPrevious }));
    expect(previous.taskDefinition!.containerDefinitions![0]!.image).toBe(SAMPLE.images.webPrevious);
    const broken = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'broken:7', include: ['TAGS'] }));
    expect(broken.taskDefinition!.containerDefinitions![0]!.logConfiguration!.options!['awslogs-group']).toBe('/ecs/broken');
    expect(broken.tags).toEqual([{ key: 'service', value: 'broken' }]);
    await expect(ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:99' }))).rejects.toMatchObject({
      name: 'ClientException',
      message: 'Unable to describe task definition.',
    });
  });

  it('lists tasks by service and desired status, paginating with nextToken', async () => {
    const running = await ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web' }));
    expect(running.taskArns!.sort()).toEqual(SAMPLE.tasks.webRunning.map((id) => `arn:aws:ecs:us-east-1:111111111111:task/main/${id}`).sort());
    const runningBroken = await ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'broken' }));
    expect(runningBroken.taskArns).toEqual([`arn:aws:ecs:us-east-1:111111111111:task/main/${SAMPLE.tasks.brokenRunning[0]}`]);
    const stoppedWeb = await ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web', desiredStatus: 'STOPPED' }));
    expect(stoppedWeb.taskArns).toEqual([expect.stringContaining(SAMPLE.tasks.webStopped)]);

    const first = await ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'broken', desiredStatus: 'STOPPED', maxResults: 3 }));
    expect(first.taskArns).toHaveLength(3);
    expect(first.nextToken).toBeTruthy();
    const second = await ecs.send(
      new ListTasksCommand({ cluster: 'main', serviceName: 'broken', desiredStatus: 'STOPPED', maxResults: 3, nextToken: first.nextToken }),
    );
    expect(second.taskArns).toHaveLength(1);
    expect(second.nextToken).toBeUndefined();

    const all: string[] = [];
    for await (const page of paginateListTasks({ client: ecs, pageSize: 1 }, { cluster: 'main', desiredStatus: 'STOPPED' })) {
      all.push(...page.taskArns!);
    }
    expect(all).toHaveLength(5);
    expect(new Set(all).size).toBe(5);
  });

  it('describes running and stopped tasks the way Fargate reports them', async () => {
    const [w1] = SAMPLE.tasks.webRunning;
    const [b1, b2] = SAMPLE.tasks.brokenStopped;
    const out = await ecs.send(
      new DescribeTasksCommand({ cluster: 'main', tasks: [w1!, `arn:aws:ecs:us-east-1:111111111111:task/main/${b1}`, b2!, 'f'.repeat(32)] }),
    );
    const [web, pull, secret] = out.tasks!;
    expect(web).toMatchObject({
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      launchType: 'FARGATE',
      platformVersion: '1.4.0',
      enableExecuteCommand: true,
      group: 'service:web',
      startedBy: SAMPLE.deployments.web,
      taskDefinitionArn: SAMPLE.taskDefinitions.web,
    });
    expect(web!.taskArn).toMatch(/^arn:aws:ecs:us-east-1:111111111111:task\/main\/[0-9a-f]{32}$/);
    expect(web!.startedAt).toBeInstanceOf(Date);
    expect(web!.containers!.map((c) => [c.name, c.image, c.lastStatus])).toEqual([
      ['app', SAMPLE.images.web, 'RUNNING'],
      ['log-router', SAMPLE.images.logRouter, 'RUNNING'],
    ]);
    expect(web!.containers![0]!.managedAgents).toEqual([{ name: 'ExecuteCommandAgent', lastStatus: 'RUNNING', lastStartedAt: expect.any(Date) }]);

    expect(pull).toMatchObject({ lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart', stoppedAt: expect.any(Date) });
    expect(pull!.stoppedReason).toMatch(/^CannotPullContainerError: .*web:does-not-exist: not found$/);
    expect(pull!.containers![0]!.reason).toMatch(/^CannotPullContainerError/);
    expect(pull!.startedAt).toBeUndefined();
    expect(secret!.stoppedReason).toMatch(/^ResourceInitializationError: unable to pull secrets or registry auth: .*AccessDeniedException/);

    const old = await ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: [SAMPLE.tasks.webStopped] }));
    expect(old.tasks![0]).toMatchObject({
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: `Scaling activity initiated by (deployment ${SAMPLE.deployments.web})`,
    });
    expect(old.tasks![0]!.containers![0]).toMatchObject({ exitCode: 0, image: SAMPLE.images.webPrevious });

    expect(out.failures).toEqual([{ arn: `arn:aws:ecs:us-east-1:111111111111:task/${'f'.repeat(32)}`, reason: 'MISSING' }]);
    // broken:7's tasks tried the isolated subnet.
    expect(pull!.attachments![0]!.details).toContainEqual({ name: 'subnetId', value: 'subnet-0b1c2d3e4f5a6b7c8' });
  });

  it("shows broken's remaining task as started before ECS Exec was enabled", async () => {
    const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: SAMPLE.tasks.brokenRunning }));
    const [task] = tasks!;
    expect(task).toMatchObject({
      lastStatus: 'RUNNING',
      desiredStatus: 'RUNNING',
      group: 'service:broken',
      startedBy: SAMPLE.deployments.brokenPrevious,
      taskDefinitionArn: SAMPLE.taskDefinitions.brokenPrevious,
      enableExecuteCommand: false,
      startedAt: expect.any(Date),
    });
    expect(task!.containers!.map((c) => [c.name, c.image, c.lastStatus, c.managedAgents])).toEqual([['app', SAMPLE.images.webPrevious, 'RUNNING', []]]);
    // It still runs where broken:6 put it: the private subnets.
    const subnet = task!.attachments![0]!.details!.find((d) => d.name === 'subnetId')!.value;
    expect(['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788']).toContain(subnet);
    const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'broken:6' }));
    expect(taskDefinition).toMatchObject({ status: 'ACTIVE', taskRoleArn: expect.stringContaining(':role/broken-task-role') });
    expect(taskDefinition!.containerDefinitions![0]!.logConfiguration!.options!['awslogs-group']).toBe('/ecs/broken-v1');
  });

  it('speaks JSON 1.1 on the wire: epoch-second timestamps and {__type, message} errors', async () => {
    const target = (action: string) => ({ 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AmazonEC2ContainerServiceV20141113.${action}` });
    const ok = await raw(JSON.stringify({ cluster: 'main', services: ['web'] }), target('DescribeServices'));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/x-amz-json-1.1');
    const body = (await ok.json()) as { services: Array<{ createdAt: unknown }> };
    const createdAt = body.services[0]!.createdAt;
    expect(typeof createdAt).toBe('number');
    expect(createdAt).toBeCloseTo(emu.clock.now() / 1000 - 200 * 86400, -2);

    const bad = await raw(JSON.stringify({ cluster: 'nope', services: ['web'] }), target('DescribeServices'));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ __type: 'ClusterNotFoundException', message: 'Cluster not found.' });
  });

  it('is reached through AWS_ENDPOINT_URL_ECS with no endpoint in code', async () => {
    withEnv({ AWS_ENDPOINT_URL: undefined, AWS_ENDPOINT_URL_ECS: emu.url });
    const client = new ECSClient({});
    const before = emu.calls.length;
    const out = await client.send(new DescribeServicesCommand({ cluster: 'main', services: ['manager'] }));
    expect(out.services![0]).toMatchObject({ serviceName: 'manager', desiredCount: 1, runningCount: 1, enableExecuteCommand: true });
    expect(emu.calls.slice(before)).toEqual([
      expect.objectContaining({ service: 'ecs', action: 'DescribeServices', params: { cluster: 'main', services: ['manager'] } }),
    ]);
    const [task] = (await client.send(new DescribeTasksCommand({ cluster: 'main', tasks: SAMPLE.tasks.managerRunning }))).tasks!;
    expect(task!.containers![0]).toMatchObject({ name: 'app', managedAgents: [{ name: 'ExecuteCommandAgent', lastStatus: 'RUNNING' }] });
  });
});

describe('SSM', () => {
  it('serves the seeded SecureStrings, encrypted unless WithDecryption', async () => {
    withEnv();
    const ssm = new SSMClient({});
    const plain = await ssm.send(new GetParameterCommand({ Name: '/ecs-chatops/slack/signing-secret', WithDecryption: true }));
    expect(plain.Parameter).toMatchObject({
      Name: '/ecs-chatops/slack/signing-secret',
      Type: 'SecureString',
      Value: SIGNING_SECRET,
      Version: 1,
      ARN: 'arn:aws:ssm:us-east-1:111111111111:parameter/ecs-chatops/slack/signing-secret',
    });
    expect(plain.Parameter!.LastModifiedDate).toBeInstanceOf(Date);
    const cipher = await ssm.send(new GetParameterCommand({ Name: '/ecs-chatops/slack/signing-secret' }));
    expect(cipher.Parameter!.Value).not.toContain(SIGNING_SECRET);
    expect(cipher.Parameter!.Value).toMatch(/^AQICAH/);
  });

  it('GetParameters returns found values and lists the rest as InvalidParameters', async () => {
    withEnv();
    const ssm = new SSMClient({});
    const out = await ssm.send(
      new GetParametersCommand({ Names: ['/ecs-chatops/slack/bot-token', '/nope', '/ecs-chatops/slack/signing-secret'], WithDecryption: true }),
    );
    expect(Object.fromEntries(out.Parameters!.map((p) => [p.Name, p.Value]))).toEqual({
      '/ecs-chatops/slack/bot-token': BOT_TOKEN,
      '/ecs-chatops/slack/signing-secret': SIGNING_SECRET,
    });
    expect(out.InvalidParameters).toEqual(['/nope']);
    await expect(ssm.send(new GetParametersCommand({ Names: [] }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('Member must have length greater than or equal to 1'),
    });
    await expect(ssm.send(new GetParametersCommand({ Names: Array.from({ length: 11 }, (_, i) => `/p${i}`) }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('Member must have length less than or equal to 10'),
    });
  });

  it('DeleteParameter removes a parameter and all its versions; a missing one is ParameterNotFound', async () => {
    withEnv();
    const ssm = new SSMClient({});
    await ssm.send(new PutParameterCommand({ Name: '/test/gone', Type: 'SecureString', Value: 'old' }));
    await ssm.send(new PutParameterCommand({ Name: '/test/gone', Value: 'older', Overwrite: true }));
    expect(await ssm.send(new DeleteParameterCommand({ Name: '/test/gone' }))).toMatchObject({ $metadata: { httpStatusCode: 200 } });
    await expect(ssm.send(new GetParameterCommand({ Name: '/test/gone' }))).rejects.toMatchObject({ name: 'ParameterNotFound' });
    await expect(ssm.send(new GetParameterCommand({ Name: '/test/gone:1' }))).rejects.toMatchObject({ name: 'ParameterNotFound' });
    await expect(ssm.send(new DeleteParameterCommand({ Name: '/test/gone' }))).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });

  it('PutParameter creates and versions parameters; missing ones are ParameterNotFound', async () => {
    withEnv();
    const ssm = new SSMClient({});
    expect(await ssm.send(new PutParameterCommand({ Name: '/test/flag', Type: 'String', Value: 'on' }))).toMatchObject({ Version: 1 });
    await expect(ssm.send(new PutParameterCommand({ Name: '/test/flag', Type: 'String', Value: 'off' }))).rejects.toMatchObject({
      name: 'ParameterAlreadyExists',
    });
    emu.clock.advance(60_000);
    expect(await ssm.send(new PutParameterCommand({ Name: '/test/flag', Value: 'off', Overwrite: true }))).toMatchObject({ Version: 2 });
    const current = await ssm.send(new GetParameterCommand({ Name: '/test/flag' }));
    expect(current.Parameter).toMatchObject({ Value: 'off', Version: 2, Type: 'String' });
    expect(Math.abs(current.Parameter!.LastModifiedDate!.getTime() - emu.clock.now())).toBeLessThan(5_000);
    expect((await ssm.send(new GetParameterCommand({ Name: '/test/flag:1' }))).Parameter).toMatchObject({ Value: 'on', Selector: ':1' });
    await expect(ssm.send(new GetParameterCommand({ Name: '/test/none' }))).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });
});

describe('STS', () => {
  it('GetCallerIdentity reports the bot role session for the default credentials', async () => {
    withEnv();
    const out = await new STSClient({}).send(new GetCallerIdentityCommand({}));
    expect(out).toMatchObject({ Account: '111111111111', Arn: 'arn:aws:sts::111111111111:assumed-role/ecs-chatops-lambda/ecs-chatops' });
    expect(out.UserId).toMatch(/^AROA[A-Z0-9]{17}:ecs-chatops$/);
  });

  it('AssumeRole issues credentials that act as the role session, with its tags and source identity', async () => {
    withEnv();
    const out = await new STSClient({}).send(
      new AssumeRoleCommand({
        RoleArn: SAMPLE.roles.target,
        RoleSessionName: 'slack-U0123ABCD',
        DurationSeconds: 900,
        Tags: [
          { Key: 'slack-user', Value: 'U0123ABCD' },
          { Key: 'slack-team', Value: 'T0LOCAL01' },
        ],
        TransitiveTagKeys: ['slack-user'],
        SourceIdentity: 'alice@example.com',
      }),
    );
    const c = out.Credentials!;
    expect(c.AccessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
    expect(c.SessionToken).toBeTruthy();
    expect(out.AssumedRoleUser!.Arn).toBe('arn:aws:sts::111111111111:assumed-role/ecs-chatops-target/slack-U0123ABCD');
    expect(out.SourceIdentity).toBe('alice@example.com');
    // Expiration follows DurationSeconds on the emulator clock.
    const [session] = emu.state.sessions(SAMPLE.roles.target);
    expect(c.Expiration!.getTime() - session!.issuedAt!.getTime()).toBe(900_000);
    expect(Math.abs(c.Expiration!.getTime() - (emu.clock.now() + 900_000))).toBeLessThan(5_000);

    const credentials = { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken! };
    const asRole = new ECSClient({ credentials });
    expect((await new STSClient({ credentials }).send(new GetCallerIdentityCommand({}))).Arn).toBe(out.AssumedRoleUser!.Arn);
    await asRole.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }));
    const call = emu.calls.at(-1)!;
    expect(call).toMatchObject({ service: 'ecs', action: 'DescribeServices' });
    expect(call.identity).toMatchObject({
      type: 'AssumedRole',
      arn: 'arn:aws:sts::111111111111:assumed-role/ecs-chatops-target/slack-U0123ABCD',
      sessionName: 'slack-U0123ABCD',
      roleArn: SAMPLE.roles.target,
      sessionTags: { 'slack-user': 'U0123ABCD', 'slack-team': 'T0LOCAL01' },
      transitiveTagKeys: ['slack-user'],
      sourceIdentity: 'alice@example.com',
      assumedBy: 'arn:aws:sts::111111111111:assumed-role/ecs-chatops-lambda/ecs-chatops',
    });

    // Chaining into another account keeps the transitive tag and the source identity.
    const chained = await new STSClient({ credentials }).send(new AssumeRoleCommand({ RoleArn: SAMPLE.roles.crossAccountTarget, RoleSessionName: 'chained' }));
    const cc = chained.Credentials!;
    const who = await new STSClient({
      credentials: { accessKeyId: cc.AccessKeyId!, secretAccessKey: cc.SecretAccessKey!, sessionToken: cc.SessionToken! },
    }).send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({ Account: '222222222222', Arn: 'arn:aws:sts::222222222222:assumed-role/ecs-chatops-target/chained' });
    expect(emu.calls.at(-1)!.identity).toMatchObject({ sessionTags: { 'slack-user': 'U0123ABCD' }, sourceIdentity: 'alice@example.com' });

    // Once the emulator clock passes Expiration, the credentials stop working.
    emu.clock.advance(901_000);
    const expired = await asRole.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] })).catch((e) => e);
    expect(expired.name).toBe('ExpiredTokenException');
  });

  it('validates AssumeRole input like AWS and refuses unknown roles', async () => {
    withEnv();
    const sts = new STSClient({});
    const bad = await sts.send(new AssumeRoleCommand({ RoleArn: SAMPLE.roles.target, RoleSessionName: 'has space' })).catch((e) => e);
    expect(bad.name).toBe('ValidationError');
    expect(bad.message).toContain("Value 'has space' at 'roleSessionName' failed to satisfy constraint");
    await expect(sts.send(new AssumeRoleCommand({ RoleArn: SAMPLE.roles.target, RoleSessionName: 'x' }))).rejects.toMatchObject({
      name: 'ValidationError',
    });
    await expect(sts.send(new AssumeRoleCommand({ RoleArn: SAMPLE.roles.target, RoleSessionName: 'long', DurationSeconds: 7200 }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: expect.stringContaining('role chaining'),
    });
    const missing = await sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111111111111:role/nope', RoleSessionName: 'ok' })).catch((e) => e);
    expect(missing.name).toBe('AccessDenied');
    expect(missing.message).toContain('is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111111111111:role/nope');
    expect(missing.$metadata.httpStatusCode).toBe(403);
  });

  it('speaks the query protocol: XML results and <ErrorResponse> errors', async () => {
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const ok = await raw('Action=GetCallerIdentity&Version=2011-06-15', form, 'sts');
    const xml = await ok.text();
    expect(xml).toMatch(/<GetCallerIdentityResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><GetCallerIdentityResult><UserId>/);
    expect(xml).toContain('<ResponseMetadata><RequestId>');
    const bad = await raw('Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fnope&RoleSessionName=s1', form, 'sts');
    expect(bad.status).toBe(403);
    expect(await bad.text()).toMatch(/<ErrorResponse[^>]*><Error><Type>Sender<\/Type><Code>AccessDenied<\/Code><Message>User: /);
  });
});

describe('faults', () => {
  it('deny() makes an action fail with AccessDeniedException naming principal, action and resource', async () => {
    emu.faults.deny('ecs:DescribeServices');
    const err = await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] })).catch((e) => e);
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toBe(
      'User: arn:aws:sts::111111111111:assumed-role/ecs-chatops-lambda/ecs-chatops is not authorized to perform: ecs:DescribeServices ' +
        'on resource: arn:aws:ecs:us-east-1:111111111111:service/main/web because no identity-based policy allows the ecs:DescribeServices action',
    );
    expect(err.$metadata.attempts).toBe(1);
    expect(emu.calls.at(-1)).toMatchObject({ action: 'DescribeServices', error: { code: 'AccessDeniedException' } });
    // Other actions are unaffected.
    await ecs.send(new ListTasksCommand({ cluster: 'main' }));
  });

  it('deny() can target one resource, and secondary permissions such as kms:Decrypt', async () => {
    emu.faults.deny('ecs:DescribeServices', { resource: '*:service/main/web' });
    await expect(ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['manager'] }));

    withEnv();
    const ssm = new SSMClient({});
    emu.faults.deny('kms:Decrypt');
    await ssm.send(new GetParameterCommand({ Name: '/web/DATABASE_URL' })); // no decryption, no KMS
    const err = await ssm.send(new GetParameterCommand({ Name: '/web/DATABASE_URL', WithDecryption: true })).catch((e) => e);
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toContain('kms:Decrypt');
  });

  it('throttle(action, 1) is absorbed by the SDK standard retry', async () => {
    emu.faults.throttle('ecs:DescribeServices', 1);
    const before = emu.calls.length;
    const out = await ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web'] }));
    expect(out.services).toHaveLength(1);
    expect(out.$metadata.attempts).toBe(2);
    expect(emu.calls.slice(before).map((c) => c.error?.code)).toEqual(['ThrottlingException', undefined]);

    withEnv();
    emu.faults.throttle('sts:*', 1);
    const who = await new STSClient({}).send(new GetCallerIdentityCommand({}));
    expect(who.$metadata.attempts).toBe(2);
    expect(emu.calls.at(-2)!.error).toEqual({ code: 'Throttling', message: 'Rate exceeded' });
  });

  it('throttle(action, n) beyond the retry budget surfaces ThrottlingException', async () => {
    emu.faults.throttle('ecs:ListTasks', 5);
    const client = new ECSClient({ region, endpoint: emu.url, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 2 });
    const err = await client.send(new ListTasksCommand({ cluster: 'main' })).catch((e) => e);
    expect(err.name).toBe('ThrottlingException');
    expect(err.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 2 });
  });

  it('latency(ms) delays every call', async () => {
    emu.faults.latency(50);
    const start = performance.now();
    await ecs.send(new DescribeClustersCommand({ clusters: ['main'] }));
    expect(performance.now() - start).toBeGreaterThanOrEqual(45);
  });
});

describe('Lambda', () => {
  it('RequestResponse returns the handler result, or an Unhandled function error', async () => {
    withEnv();
    const lambda = new LambdaClient({});
    handlers.set('worker', async (event) => ({ echo: event }));
    const ok = await lambda.send(new InvokeCommand({ FunctionName: 'worker', Payload: JSON.stringify({ text: 'status web' }) }));
    expect(ok.StatusCode).toBe(200);
    expect(ok.FunctionError).toBeUndefined();
    expect(JSON.parse(Buffer.from(ok.Payload!).toString())).toEqual({ echo: { text: 'status web' } });

    handlers.set('worker', async () => {
      throw new TypeError('bad input');
    });
    const failed = await lambda.send(new InvokeCommand({ FunctionName: 'arn:aws:lambda:us-east-1:111111111111:function:worker', Payload: '{}' }));
    expect(failed.StatusCode).toBe(200);
    expect(failed.FunctionError).toBe('Unhandled');
    expect(JSON.parse(Buffer.from(failed.Payload!).toString())).toMatchObject({ errorType: 'TypeError', errorMessage: 'bad input' });
    expect(emu.lambda.invocations.at(-1)).toMatchObject({ functionName: 'worker', error: { errorType: 'TypeError', errorMessage: 'bad input' } });
  });

  it('Event returns 202 at once and runs the handler in the background; idle() waits for it', async () => {
    withEnv();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const remaining: number[] = [];
    handlers.set('worker', async (_event, context) => {
      remaining.push(context.getRemainingTimeInMillis());
      await gate;
      remaining.push(context.getRemainingTimeInMillis());
      return 'done';
    });
    const out = await new LambdaClient({}).send(new InvokeCommand({ FunctionName: 'worker', InvocationType: 'Event', Payload: JSON.stringify({ job: 1 }) }));
    expect(out.StatusCode).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const record = emu.lambda.invocations.at(-1)!;
    expect(record).toMatchObject({ functionName: 'worker', invocationType: 'Event', payload: { job: 1 }, attempt: 1 });
    expect(record.requestId).toBe(out.$metadata.requestId);
    expect(record.endedAt).toBeUndefined();

    emu.clock.advance(10_000); // simulated time counts against the function timeout
    release();
    await emu.lambda.idle();
    expect(record).toMatchObject({ result: 'done', endedAt: expect.any(Date) });
    expect(remaining[0]).toBeGreaterThan(29_000);
    expect(remaining[1]).toBeLessThanOrEqual(remaining[0]! - 10_000);
  });

  it('retries failed Event invocations only when configured, and reports timeouts', async () => {
    withEnv();
    const lambda = new LambdaClient({});
    await lambda.send(new InvokeCommand({ FunctionName: 'flaky', InvocationType: 'Event', Payload: '{}' }));
    await emu.lambda.idle();
    const attempts = emu.lambda.invocations.filter((i) => i.functionName === 'flaky');
    expect(attempts.map((i) => [i.attempt, i.error?.errorMessage])).toEqual([
      [1, 'flaky failed'],
      [2, 'flaky failed'],
    ]);
    expect(attempts[0]!.requestId).toBe(attempts[1]!.requestId);

    const slow = await lambda.send(new InvokeCommand({ FunctionName: 'slow', Payload: '{}' }));
    expect(slow.FunctionError).toBe('Unhandled');
    expect(JSON.parse(Buffer.from(slow.Payload!).toString()).errorMessage).toMatch(/Task timed out after 0\.05 seconds$/);
    await emu.lambda.idle();
  });

  it('unknown functions are ResourceNotFoundException; DryRun only checks', async () => {
    withEnv();
    const lambda = new LambdaClient({});
    const err = await lambda.send(new InvokeCommand({ FunctionName: 'nope', Payload: '{}' })).catch((e) => e);
    expect(err.name).toBe('ResourceNotFoundException');
    expect(err.message).toBe('Function not found: arn:aws:lambda:us-east-1:111111111111:function:nope');
    expect(err.$metadata.httpStatusCode).toBe(404);
    const before = emu.lambda.invocations.length;
    expect((await lambda.send(new InvokeCommand({ FunctionName: 'worker', InvocationType: 'DryRun' }))).StatusCode).toBe(204);
    expect(emu.lambda.invocations.length).toBe(before);

    emu.faults.deny('lambda:InvokeFunction', { resource: 'arn:aws:lambda:*:function:worker' });
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'worker', Payload: '{}' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('lambda:InvokeFunction on resource: arn:aws:lambda:us-east-1:111111111111:function:worker'),
      $metadata: { httpStatusCode: 403 },
    });
  });
});

describe('calls and clock', () => {
  it('records every call with service, action, params, time, caller and error', async () => {
    const at = emu.clock.now();
    await ecs.send(new DescribeServicesCommand({ cluster: 'nope', services: ['web'] })).catch(() => undefined);
    expect(emu.calls.at(-1)).toMatchObject({
      service: 'ecs',
      action: 'DescribeServices',
      params: { cluster: 'nope', services: ['web'] },
      region: 'us-east-1',
      status: 400,
      identity: { accountId: '111111111111', accessKeyId: 'AKIDTEST' },
      error: { code: 'ClusterNotFoundException', message: 'Cluster not found.' },
    });
    expect(emu.calls.at(-1)!.at.getTime()).toBeGreaterThanOrEqual(at);
  });

  it('advance() moves emulator time forward for timestamps and listeners', () => {
    const seen: number[] = [];
    const off = emu.clock.onAdvance((now) => seen.push(now));
    const before = emu.clock.now();
    emu.clock.advance(3_600_000);
    off();
    expect(emu.clock.now() - before).toBeGreaterThanOrEqual(3_600_000);
    expect(seen).toHaveLength(1);
  });
});
