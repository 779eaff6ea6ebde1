/**
 * The emulator's services behind `/ecs verify` (IAM, ECR, CloudWatch Logs, Secrets Manager, KMS,
 * ELBv2, EC2, SSM DescribeParameters), exercised only through the real SDK v3 clients: each
 * operation's happy path and its AWS-shaped error, the IAM policy simulator, and every deliberate
 * problem of the seeded `broken` service (VERIFY_SEED.problems) observed through the API.
 */
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcEndpointsCommand,
  EC2Client,
  type RouteTable,
} from '@aws-sdk/client-ec2';
import { DescribeImagesCommand, DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  type ContainerDefinition,
} from '@aws-sdk/client-ecs';
import { DescribeTargetGroupsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  SimulatePrincipalPolicyCommand,
  type ContextEntry,
  type SimulatePrincipalPolicyCommandInput,
} from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient, ListAliasesCommand } from '@aws-sdk/client-kms';
import { DescribeSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH, SAMPLE, seedVerifyBench, startAwsEmulator, type AwsEmulator } from '../local/aws';
import { imageDigest, VERIFY_SEED } from '../local/aws/seed-verify';

const region = 'us-east-1';
const V = VERIFY_SEED;
const ACCOUNT = V.accountId;
const ECR_HOST = `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com`;
const logStreamArn = (group: string, stream = 'ecs-chatops-verify') => `arn:aws:logs:${region}:${ACCOUNT}:log-group:${group}:log-stream:${stream}`;
const via = (service: string): ContextEntry => ({
  ContextKeyName: 'kms:ViaService',
  ContextKeyValues: [`${service}.${region}.amazonaws.com`],
  ContextKeyType: 'string',
});
const callerAccount: ContextEntry = { ContextKeyName: 'kms:CallerAccount', ContextKeyValues: [ACCOUNT], ContextKeyType: 'string' };

let emu: AwsEmulator;
const savedEnv = { ...process.env };
let clients: ReturnType<typeof makeClients>;

function makeClients(config: { region?: string; endpoint?: string } = {}) {
  const c = { region, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' }, ...config };
  return {
    iam: new IAMClient(c),
    ecr: new ECRClient(c),
    logs: new CloudWatchLogsClient(c),
    secrets: new SecretsManagerClient(c),
    kms: new KMSClient(c),
    elb: new ElasticLoadBalancingV2Client(c),
    ec2: new EC2Client(c),
    ssm: new SSMClient(c),
    ecs: new ECSClient(c),
  };
}

beforeAll(async () => {
  // Frozen clock: log event ages and target health do not drift while the tests run.
  emu = await startAwsEmulator({ clockRate: 0 });
  clients = makeClients({ endpoint: emu.url });
});
afterAll(async () => {
  process.env = savedEnv;
  await emu?.close();
});

const fail = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('expected an error'),
    (e: any) => e,
  );
const decode = (text: string | undefined) => JSON.parse(decodeURIComponent(text!));

async function simulate(input: Omit<SimulatePrincipalPolicyCommandInput, 'PolicySourceArn'> & { role: string }) {
  const { role, ...rest } = input;
  const out = await clients.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: role, ...rest }));
  return out.EvaluationResults!;
}
const decision = async (role: string, action: string, resource?: string, extra: Partial<SimulatePrincipalPolicyCommandInput> = {}) =>
  (await simulate({ role, ActionNames: [action], ...(resource ? { ResourceArns: [resource] } : {}), ...extra }))[0]!;

describe('seed consistency with the ECS seed', () => {
  it('names the same roles, secrets, target group and network as the services use', async () => {
    expect(V.secrets.webApiKey).toBe(SAMPLE.secrets.webApiKey);
    expect(V.targetGroups.web).toBe(SAMPLE.targetGroupArn);
    const { services } = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['web', 'manager'] }));
    for (const s of services!) {
      expect(s.networkConfiguration!.awsvpcConfiguration!.subnets).toEqual(V.network.privateSubnets);
      expect(s.networkConfiguration!.awsvpcConfiguration!.securityGroups).toEqual([V.network.taskSecurityGroup]);
    }
    const { services: [broken] = [] } = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['broken'] }));
    expect(broken!.networkConfiguration!.awsvpcConfiguration).toEqual({
      subnets: [V.network.isolated.subnet],
      securityGroups: [V.network.isolated.securityGroup],
      assignPublicIp: 'DISABLED',
    });
    expect(broken!.loadBalancers!.map((lb) => lb.targetGroupArn)).toEqual([V.targetGroups.missing]);
    const { taskDefinition } = await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'broken' }));
    expect(taskDefinition!.executionRoleArn).toBe(V.roles.brokenExecution);
    expect(taskDefinition!.taskRoleArn).toBe(V.roles.brokenTask);
    const problem = (id: string) => V.problems.find((p) => p.id === id)!;
    expect(problem('secret-missing').resource).toBe(SAMPLE.secrets.brokenApiKey);
    expect(problem('image-tag-missing').resource).toBe(SAMPLE.images.broken);
  });
});

describe('IAM', () => {
  it('GetRole returns the trust policy URL-encoded, as AWS does', async () => {
    const { Role } = await clients.iam.send(new GetRoleCommand({ RoleName: 'web-execution-role' }));
    expect(Role).toMatchObject({ RoleName: 'web-execution-role', Arn: V.roles.webExecution, Path: '/', MaxSessionDuration: 3600 });
    expect(Role!.RoleId).toMatch(/^AROA[A-Z0-9]{17}$/);
    expect(Role!.CreateDate).toBeInstanceOf(Date);
    expect(Role!.AssumeRolePolicyDocument).toMatch(/^%7B/);
    expect(decode(Role!.AssumeRolePolicyDocument).Statement[0]).toMatchObject({
      Effect: 'Allow',
      Principal: { Service: 'ecs-tasks.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
    });
  });

  it('GetRole on an unknown role is NoSuchEntity (404)', async () => {
    const err = await fail(clients.iam.send(new GetRoleCommand({ RoleName: 'ghost-role' })));
    expect(err.name).toBe('NoSuchEntityException');
    expect(err.message).toBe('The role with name ghost-role cannot be found.');
    expect(err.$metadata.httpStatusCode).toBe(404);
  });

  it('lists attached and inline policies and returns inline documents', async () => {
    const attached = await clients.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'broken-execution-role' }));
    expect(attached.AttachedPolicies).toEqual([{ PolicyName: 'AmazonECSTaskExecutionRolePolicy', PolicyArn: V.policies.taskExecution }]);
    expect(attached.IsTruncated).toBe(false);
    const inline = await clients.iam.send(new ListRolePoliciesCommand({ RoleName: 'web-execution-role' }));
    expect(inline.PolicyNames).toEqual(['web-execution']);
    const policy = await clients.iam.send(new GetRolePolicyCommand({ RoleName: 'web-execution-role', PolicyName: 'web-execution' }));
    expect(policy.RoleName).toBe('web-execution-role');
    expect(decode(policy.PolicyDocument).Statement.map((s: { Sid: string }) => s.Sid)).toEqual([
      'EcrAuth',
      'EcrPull',
      'Logs',
      'Parameters',
      'Secrets',
      'DecryptSecrets',
    ]);
    const err = await fail(clients.iam.send(new GetRolePolicyCommand({ RoleName: 'web-execution-role', PolicyName: 'nope' })));
    expect(err).toMatchObject({ name: 'NoSuchEntityException', message: 'The role policy with name nope cannot be found.' });
  });

  it('SimulatePrincipalPolicy: allowed by a wildcard resource, with the deciding statement and its position', async () => {
    const r = await decision(V.roles.webExecution, 'logs:CreateLogStream', logStreamArn('/ecs/web'));
    expect(r).toMatchObject({ EvalActionName: 'logs:CreateLogStream', EvalResourceName: logStreamArn('/ecs/web'), EvalDecision: 'allowed' });
    expect(r.MatchedStatements).toMatchObject([{ SourcePolicyId: 'web-execution', SourcePolicyType: 'role' }]);
    // The positions delimit the statement in the document GetRolePolicy returns.
    const { PolicyDocument } = await clients.iam.send(new GetRolePolicyCommand({ RoleName: 'web-execution-role', PolicyName: 'web-execution' }));
    const lines = decodeURIComponent(PolicyDocument!).split('\n');
    const { StartPosition: start, EndPosition: end } = r.MatchedStatements![0]!;
    const text = [
      lines[start!.Line! - 1]!.slice(start!.Column! - 1),
      ...lines.slice(start!.Line!, end!.Line! - 1),
      lines[end!.Line! - 1]!.slice(0, end!.Column! - 1),
    ].join('\n');
    expect(JSON.parse(text)).toMatchObject({ Sid: 'Logs', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'] });
    // Actions match case-insensitively, resources case-sensitively.
    expect((await decision(V.roles.webExecution, 'LOGS:createlogstream', logStreamArn('/ecs/web'))).EvalDecision).toBe('allowed');
    expect((await decision(V.roles.webExecution, 'logs:CreateLogStream', logStreamArn('/ECS/web'))).EvalDecision).toBe('implicitDeny');
  });

  it('SimulatePrincipalPolicy: one result per action, most restrictive first, with per-resource results', async () => {
    const [r] = await simulate({
      role: V.roles.webExecution,
      ActionNames: ['logs:PutLogEvents'],
      ResourceArns: [logStreamArn('/ecs/web'), logStreamArn('/ecs/broken')],
    });
    expect(r).toMatchObject({ EvalResourceName: '*', EvalDecision: 'implicitDeny', MatchedStatements: [] });
    expect(r!.ResourceSpecificResults!.map((x) => [x.EvalResourceName, x.EvalResourceDecision])).toEqual([
      [logStreamArn('/ecs/web'), 'allowed'],
      [logStreamArn('/ecs/broken'), 'implicitDeny'],
    ]);
    const exec = await simulate({ role: V.roles.webTask, ActionNames: [...V.execActions] });
    expect(exec.map((e) => [e.EvalActionName, e.EvalResourceName, e.EvalDecision])).toEqual(V.execActions.map((a) => [a, '*', 'allowed']));
    expect(exec[0]!.MatchedStatements![0]).toMatchObject({ SourcePolicyId: 'ecs-exec-ssmmessages', SourcePolicyType: 'user-managed' });
    expect(exec[0]!.ResourceSpecificResults).toBeUndefined();
  });

  it('SimulatePrincipalPolicy: AWS managed policies count, explicit Deny wins, unknown roles are NoSuchEntity', async () => {
    const pull = await decision(V.roles.brokenExecution, 'ecr:BatchGetImage', V.ecr.webRepositoryArn);
    expect(pull.EvalDecision).toBe('allowed');
    expect(pull.MatchedStatements![0]).toMatchObject({ SourcePolicyId: 'AmazonECSTaskExecutionRolePolicy', SourcePolicyType: 'aws-managed' });

    const denied = await decision(V.roles.brokenTask, 'ssmmessages:OpenDataChannel');
    expect(denied.EvalDecision).toBe('explicitDeny');
    expect(denied.MatchedStatements).toMatchObject([{ SourcePolicyId: 'exec-lockdown', SourcePolicyType: 'role' }]);
    // An explicit Deny beats an Allow passed in alongside.
    const allowAll = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] });
    expect((await decision(V.roles.brokenTask, 'ssmmessages:OpenDataChannel', undefined, { PolicyInputList: [allowAll] })).EvalDecision).toBe('explicitDeny');
    expect((await decision(V.roles.brokenTask, 's3:GetObject', undefined, { PolicyInputList: [allowAll] })).MatchedStatements).toMatchObject([
      { SourcePolicyId: 'PolicyInputList.1', SourcePolicyType: 'none' },
    ]);

    const err = await fail(
      clients.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/ghost`, ActionNames: ['s3:GetObject'] })),
    );
    expect(err.name).toBe('NoSuchEntityException');
  });

  it('SimulatePrincipalPolicy: a kms:ViaService condition needs the context key, and the right value', async () => {
    const key = V.kms.webSecretsKeyArn;
    const ok = await decision(V.roles.webExecution, 'kms:Decrypt', key, { ContextEntries: [via('secretsmanager')] });
    expect(ok.EvalDecision).toBe('allowed');
    expect(ok.MissingContextValues).toEqual([]);
    const missing = await decision(V.roles.webExecution, 'kms:Decrypt', key);
    expect(missing).toMatchObject({ EvalDecision: 'implicitDeny', MissingContextValues: ['kms:ViaService'] });
    expect((await decision(V.roles.webExecution, 'kms:Decrypt', key, { ContextEntries: [via('ssm')] })).EvalDecision).toBe('implicitDeny');
  });

  it('SimulatePrincipalPolicy with the key policy as ResourcePolicy: KMS key policies have the last word', async () => {
    const policy = async (keyId: string) => (await clients.kms.send(new GetKeyPolicyCommand({ KeyId: keyId }))).Policy!;
    // The CMK's policy enables IAM policies (account root): the role's own statement decides.
    const web = await decision(V.roles.webExecution, 'kms:Decrypt', V.kms.webSecretsKeyArn, {
      ResourcePolicy: await policy(V.kms.webSecretsKeyArn),
      ContextEntries: [via('secretsmanager')],
    });
    expect(web.EvalDecision).toBe('allowed');
    expect(web.MatchedStatements!.map((s) => s.SourcePolicyType).sort()).toEqual(['resource', 'role']);
    // AWS managed keys grant any principal of the account using the service: no IAM statement needed.
    const ssmKey = (await clients.kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ssm' }))).KeyMetadata!.Arn!;
    const viaSsm = { ResourcePolicy: await policy(ssmKey), ContextEntries: [via('ssm'), callerAccount] };
    expect((await decision(V.roles.webExecution, 'kms:Decrypt', ssmKey, viaSsm)).EvalDecision).toBe('allowed');
    expect(await decision(V.roles.webExecution, 'kms:Decrypt', ssmKey, { ...viaSsm, ContextEntries: [via('ssm')] })).toMatchObject({
      EvalDecision: 'implicitDeny',
      MissingContextValues: ['kms:CallerAccount'],
    });
  });
});

describe('ECR', () => {
  it('describes images by tag or digest; the digest is the one ECS reports for running tasks', async () => {
    const webTags = SAMPLE.ecrImages.filter((uri) => uri.startsWith(`${ECR_HOST}/web:`)).map((uri) => uri.split(':').pop()!);
    expect(webTags).toEqual(expect.arrayContaining(['v1.4.1', 'v1.4.2', 'v1.5.0', 'v2-crash']));
    const { imageDetails } = await clients.ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: webTags.map((imageTag) => ({ imageTag })) }));
    expect(imageDetails!.map((i) => i.imageTags)).toEqual(webTags.map((t) => [t]));
    expect(imageDetails![0]).toMatchObject({
      registryId: ACCOUNT,
      repositoryName: 'web',
      imageManifestMediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    });
    expect(imageDetails![0]!.imagePushedAt).toBeInstanceOf(Date);

    const tasks = await clients.ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web' }));
    const { tasks: [task] = [] } = await clients.ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: tasks.taskArns!.slice(0, 1) }));
    const app = task!.containers!.find((c) => c.name === 'app')!;
    expect(app.imageDigest).toBe(imageDigest(SAMPLE.images.web));
    const byDigest = await clients.ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageDigest: app.imageDigest }] }));
    expect(byDigest.imageDetails![0]!.imageTags).toEqual(['v1.4.2']);
    const untagged = await clients.ecr.send(new DescribeImagesCommand({ repositoryName: 'web', filter: { tagStatus: 'UNTAGGED' } }));
    expect(untagged.imageDetails).toHaveLength(1);
  });

  it("missing tags and repositories fail with ECR's own errors", async () => {
    const image = await fail(clients.ecr.send(new DescribeImagesCommand({ repositoryName: 'web', imageIds: [{ imageTag: 'does-not-exist' }] })));
    expect(image.name).toBe('ImageNotFoundException');
    expect(image.message).toBe(
      "The image with imageId {imageDigest:'null', imageTag:'does-not-exist'} does not exist within the repository with name 'web' in the registry with id '111111111111'",
    );
    const repo = await fail(clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['nope'] })));
    expect(repo.name).toBe('RepositoryNotFoundException');
    expect(repo.message).toBe("The repository with name 'nope' does not exist in the registry with id '111111111111'");
    const { repositories } = await clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['web'] }));
    expect(repositories![0]).toMatchObject({ repositoryUri: V.ecr.webRepository, repositoryArn: V.ecr.webRepositoryArn });
  });

  it("reads another account's registry in another region when its repository policy allows", async () => {
    const { shared, sharedPrivate } = V.ecr;
    const west = makeClients({ endpoint: emu.url, region: shared.region }).ecr;
    const { imageDetails } = await west.send(
      new DescribeImagesCommand({ registryId: shared.registryId, repositoryName: shared.repository, imageIds: [{ imageTag: shared.tag }] }),
    );
    expect(imageDetails![0]).toMatchObject({ registryId: shared.registryId, imageTags: [shared.tag] });
    // Same registry id, wrong region: not there.
    await expect(clients.ecr.send(new DescribeImagesCommand({ registryId: shared.registryId, repositoryName: shared.repository }))).rejects.toMatchObject({
      name: 'RepositoryNotFoundException',
    });
    const denied = await fail(west.send(new DescribeImagesCommand({ registryId: sharedPrivate.registryId, repositoryName: sharedPrivate.repository })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toMatch(
      /is not authorized to perform: ecr:DescribeImages on resource: arn:aws:ecr:us-west-2:222222222222:repository\/shared\/private because no resource-based policy/,
    );
  });
});

describe('CloudWatch Logs', () => {
  it('finds log groups by prefix or identifier', async () => {
    const { logGroups } = await clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/' }));
    expect(logGroups!.map((g) => g.logGroupName)).toEqual(V.logGroups);
    const web = logGroups!.find((g) => g.logGroupName === '/ecs/web');
    expect(web).toMatchObject({
      logGroupName: '/ecs/web',
      retentionInDays: 30,
      arn: `arn:aws:logs:${region}:${ACCOUNT}:log-group:/ecs/web:*`,
      logGroupArn: `arn:aws:logs:${region}:${ACCOUNT}:log-group:/ecs/web`,
    });
    expect(typeof web!.creationTime).toBe('number'); // epoch ms, not a Date
    const byId = await clients.logs.send(
      new DescribeLogGroupsCommand({ logGroupIdentifiers: ['/ecs/manager', `arn:aws:logs:${region}:${ACCOUNT}:log-group:/ecs/web`] }),
    );
    expect(byId.logGroups!.map((g) => g.logGroupName)).toEqual(['/ecs/manager', '/ecs/web']);
  });

  it('creates a stream and puts an event, as the awslogs check does', async () => {
    const now = emu.clock.now();
    await clients.logs.send(new CreateLogStreamCommand({ logGroupName: '/ecs/web', logStreamName: 'verify/app/1' }));
    const put = await clients.logs.send(
      new PutLogEventsCommand({
        logGroupName: '/ecs/web',
        logStreamName: 'verify/app/1',
        logEvents: [{ timestamp: now, message: 'This is a verify message by ecs-chatops' }],
      }),
    );
    expect(put.nextSequenceToken).toMatch(/^\d+$/);
    expect(put.rejectedLogEventsInfo).toBeUndefined();
    const { logStreams } = await clients.logs.send(new DescribeLogStreamsCommand({ logGroupName: '/ecs/web', logStreamNamePrefix: 'verify/' }));
    expect(logStreams).toMatchObject([{ logStreamName: 'verify/app/1', firstEventTimestamp: now, lastEventTimestamp: now }]);

    const old = await clients.logs.send(
      new PutLogEventsCommand({
        logGroupName: '/ecs/web',
        logStreamName: 'verify/app/1',
        logEvents: [
          { timestamp: now - 15 * 86_400_000, message: 'old' },
          { timestamp: now, message: 'new' },
        ],
      }),
    );
    expect(old.rejectedLogEventsInfo).toEqual({ tooOldLogEventEndIndex: 0 });
  });

  it("answers missing groups and streams, and duplicate streams, with Logs' errors", async () => {
    const group = await fail(clients.logs.send(new CreateLogStreamCommand({ logGroupName: '/ecs/broken', logStreamName: 'x' })));
    expect(group).toMatchObject({ name: 'ResourceNotFoundException', message: 'The specified log group does not exist.' });
    const stream = await fail(
      clients.logs.send(
        new PutLogEventsCommand({ logGroupName: '/ecs/web', logStreamName: 'nope', logEvents: [{ timestamp: emu.clock.now(), message: 'x' }] }),
      ),
    );
    expect(stream).toMatchObject({ name: 'ResourceNotFoundException', message: 'The specified log stream does not exist.' });
    await clients.logs.send(new CreateLogStreamCommand({ logGroupName: '/ecs/manager', logStreamName: 'dup' }));
    await expect(clients.logs.send(new CreateLogStreamCommand({ logGroupName: '/ecs/manager', logStreamName: 'dup' }))).rejects.toMatchObject({
      name: 'ResourceAlreadyExistsException',
    });
    await expect(clients.logs.send(new DescribeLogStreamsCommand({ logGroupName: '/ecs/broken' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe('Secrets Manager', () => {
  it('describes a secret by ARN, name or partial ARN, with its CMK and version stages', async () => {
    const byArn = await clients.secrets.send(new DescribeSecretCommand({ SecretId: V.secrets.webApiKey }));
    expect(byArn).toMatchObject({ ARN: V.secrets.webApiKey, Name: 'web/api-key', KmsKeyId: V.kms.webSecretsKeyArn, RotationEnabled: false });
    expect(Object.values(byArn.VersionIdsToStages!).sort()).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expect(byArn.CreatedDate).toBeInstanceOf(Date);
    expect((await clients.secrets.send(new DescribeSecretCommand({ SecretId: 'web/api-key' }))).ARN).toBe(V.secrets.webApiKey);
    expect((await clients.secrets.send(new DescribeSecretCommand({ SecretId: V.secrets.webApiKey.slice(0, -7) }))).ARN).toBe(V.secrets.webApiKey);
  });

  it('GetSecretValue by stage or version id; unknown ones are ResourceNotFoundException', async () => {
    const current = await clients.secrets.send(new GetSecretValueCommand({ SecretId: 'web/api-key' }));
    expect(current).toMatchObject({ SecretString: 'web-api-key-v2', VersionStages: ['AWSCURRENT'] });
    const previous = await clients.secrets.send(new GetSecretValueCommand({ SecretId: 'web/api-key', VersionStage: 'AWSPREVIOUS' }));
    expect(previous.SecretString).toBe('web-api-key-v1');
    expect((await clients.secrets.send(new GetSecretValueCommand({ SecretId: 'web/api-key', VersionId: previous.VersionId }))).SecretString).toBe(
      'web-api-key-v1',
    );
    const stage = await fail(clients.secrets.send(new GetSecretValueCommand({ SecretId: 'web/api-key', VersionStage: 'AWSPENDING' })));
    expect(stage).toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret value for staging label: AWSPENDING",
    });
    const missing = await fail(clients.secrets.send(new GetSecretValueCommand({ SecretId: 'nope' })));
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
  });
});

describe('SSM DescribeParameters', () => {
  it('reports the KMS key of SecureString parameters', async () => {
    const { Parameters } = await clients.ssm.send(
      new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['/web/DATABASE_URL', '/broken/DATABASE_URL'] }] }),
    );
    expect(Parameters!.map((p) => [p.Name, p.Type, p.KeyId])).toEqual([
      ['/broken/DATABASE_URL', 'SecureString', 'alias/broken-secrets'],
      ['/web/DATABASE_URL', 'SecureString', 'alias/aws/ssm'],
    ]);
    const byPath = await clients.ssm.send(
      new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: ['/ecs-chatops'] }] }),
    );
    expect(byPath.Parameters!.map((p) => p.Name)).toEqual([
      '/ecs-chatops/slack/bot-token',
      '/ecs-chatops/slack/signing-secret',
      '/ecs-chatops/webhooks/tickets',
    ]);
    await expect(clients.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Color', Values: ['x'] }] }))).rejects.toMatchObject({
      name: 'InvalidFilterKey',
    });
  });
});

describe('KMS', () => {
  it('describes keys by alias (AWS managed ones too), id or ARN', async () => {
    for (const alias of ['alias/aws/ssm', 'alias/aws/secretsmanager']) {
      const { KeyMetadata } = await clients.kms.send(new DescribeKeyCommand({ KeyId: alias }));
      expect(KeyMetadata).toMatchObject({ KeyManager: 'AWS', KeyState: 'Enabled', Enabled: true, KeyUsage: 'ENCRYPT_DECRYPT', AWSAccountId: ACCOUNT });
    }
    const cmk = await clients.kms.send(new DescribeKeyCommand({ KeyId: 'alias/web-secrets' }));
    expect(cmk.KeyMetadata).toMatchObject({ Arn: V.kms.webSecretsKeyArn, KeyManager: 'CUSTOMER', KeySpec: 'SYMMETRIC_DEFAULT' });
    expect(cmk.KeyMetadata!.CreationDate).toBeInstanceOf(Date);
    expect((await clients.kms.send(new DescribeKeyCommand({ KeyId: cmk.KeyMetadata!.KeyId }))).KeyMetadata!.Arn).toBe(V.kms.webSecretsKeyArn);

    const alias = await fail(clients.kms.send(new DescribeKeyCommand({ KeyId: 'alias/nope' })));
    expect(alias).toMatchObject({ name: 'NotFoundException', message: `Alias arn:aws:kms:${region}:${ACCOUNT}:alias/nope is not found.` });
    const key = await fail(clients.kms.send(new DescribeKeyCommand({ KeyId: '00000000-0000-0000-0000-000000000000' })));
    expect(key.message).toBe(`Key 'arn:aws:kms:${region}:${ACCOUNT}:key/00000000-0000-0000-0000-000000000000' does not exist`);
  });

  it('returns key policies and lists aliases', async () => {
    const { Policy, PolicyName } = await clients.kms.send(new GetKeyPolicyCommand({ KeyId: V.kms.webSecretsKeyArn }));
    expect(PolicyName).toBe('default');
    expect(JSON.parse(Policy!).Statement[0]).toMatchObject({ Sid: 'Enable IAM User Permissions', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` } });
    const { Aliases } = await clients.kms.send(new ListAliasesCommand({}));
    expect(Aliases!.map((a) => a.AliasName)).toEqual(expect.arrayContaining([...V.kms.aliases]));
    const one = await clients.kms.send(new ListAliasesCommand({ KeyId: V.kms.brokenSecretsKeyArn }));
    expect(one.Aliases).toMatchObject([{ AliasName: 'alias/broken-secrets', AliasArn: `arn:aws:kms:${region}:${ACCOUNT}:alias/broken-secrets` }]);
  });
});

describe('ELBv2', () => {
  it('describes the web target group: HTTP on the container port, IP targets', async () => {
    const { TargetGroups } = await clients.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [V.targetGroups.web] }));
    expect(TargetGroups).toMatchObject([
      {
        TargetGroupName: 'web',
        Protocol: 'HTTP',
        Port: 8080,
        TargetType: 'ip',
        VpcId: V.network.vpc,
        LoadBalancerArns: [V.loadBalancer],
        HealthCheckEnabled: true,
      },
    ]);
    const err = await fail(clients.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [V.targetGroups.web, V.targetGroups.missing] })));
    expect(err).toMatchObject({ name: 'TargetGroupNotFoundException', message: 'One or more target groups not found' });
    expect(err.$metadata.httpStatusCode).toBe(400);
  });

  it('reports the running web tasks as healthy targets', async () => {
    const { TargetHealthDescriptions } = await clients.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: V.targetGroups.web }));
    const { taskArns } = await clients.ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'web' }));
    const { tasks } = await clients.ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: taskArns }));
    const ips = tasks!.map((t) => t.attachments![0]!.details!.find((d) => d.name === 'privateIPv4Address')!.value).sort();
    expect(TargetHealthDescriptions!.map((d) => d.Target!.Id).sort()).toEqual(ips);
    expect(TargetHealthDescriptions!.every((d) => d.TargetHealth!.State === 'healthy' && d.Target!.Port === 8080)).toBe(true);
    // CodeDeploy's pair: legacy's tasks are registered in blue only.
    const [blue, green] = await Promise.all(
      SAMPLE.legacyTargetGroupArns.map((arn) => clients.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: arn }))),
    );
    expect(blue!.TargetHealthDescriptions!.map((d) => d.TargetHealth!.State)).toEqual(['healthy', 'healthy']);
    expect(green!.TargetHealthDescriptions).toEqual([]);
    await expect(clients.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: V.targetGroups.missing }))).rejects.toMatchObject({
      name: 'TargetGroupNotFoundException',
    });
  });
});

describe('EC2', () => {
  /** A subnet's route table: its explicit association, else the VPC's main table. */
  async function routeTableOf(subnetId: string): Promise<RouteTable> {
    const explicit = await clients.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
    if (explicit.RouteTables!.length) return explicit.RouteTables![0]!;
    const { Subnets } = await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }));
    const main = await clients.ec2.send(
      new DescribeRouteTablesCommand({
        Filters: [
          { Name: 'vpc-id', Values: [Subnets![0]!.VpcId!] },
          { Name: 'association.main', Values: ['true'] },
        ],
      }),
    );
    return main.RouteTables![0]!;
  }
  const defaultRoute = (t: RouteTable) => t.Routes!.find((r) => r.DestinationCidrBlock === '0.0.0.0/0');

  it('describes subnets by id and filter; unknown ids are InvalidSubnetID.NotFound', async () => {
    const { Subnets } = await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [...V.network.privateSubnets] }));
    expect(Subnets).toMatchObject([
      {
        SubnetId: V.network.privateSubnets[0],
        VpcId: V.network.vpc,
        AvailabilityZone: 'us-east-1a',
        CidrBlock: '10.0.1.0/24',
        MapPublicIpOnLaunch: false,
        State: 'available',
        AvailableIpAddressCount: 240,
      },
      { SubnetId: V.network.privateSubnets[1], AvailabilityZone: 'us-east-1b', Tags: [{ Key: 'Name', Value: 'main-private-b' }] },
    ]);
    const tagged = await clients.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'tag:Name', Values: ['main-public-*'] }] }));
    expect(tagged.Subnets!.map((s) => [s.SubnetId, s.MapPublicIpOnLaunch])).toEqual([[V.network.publicSubnet, true]]);
    const err = await fail(clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-00000000000000000'] })));
    expect(err).toMatchObject({ name: 'InvalidSubnetID.NotFound', message: "The subnet ID 'subnet-00000000000000000' does not exist" });
    await expect(clients.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] }))).rejects.toMatchObject({
      name: 'InvalidParameterValue',
    });
  });

  it('route tables: explicit and main associations, NAT and IGW default routes', async () => {
    const a = await routeTableOf(V.network.privateSubnets[0]);
    expect(a.RouteTableId).toBe(V.network.routeTables.privateA);
    expect(defaultRoute(a)).toMatchObject({ NatGatewayId: V.network.natGateway, State: 'active' });
    const b = await routeTableOf(V.network.privateSubnets[1]);
    expect(b).toMatchObject({ RouteTableId: V.network.routeTables.main, Associations: [{ Main: true }] });
    expect(defaultRoute(b)!.NatGatewayId).toBe(V.network.natGateway);
    expect(defaultRoute(await routeTableOf(V.network.publicSubnet))!.GatewayId).toBe(V.network.internetGateway);
    const err = await fail(clients.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-00000000'] })));
    expect(err).toMatchObject({ name: 'InvalidRouteTableID.NotFound', message: "The routeTable ID 'rtb-00000000' does not exist" });
  });

  it('security groups with their rules; unknown ids are InvalidGroup.NotFound', async () => {
    const { SecurityGroups } = await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [V.network.taskSecurityGroup] }));
    expect(SecurityGroups).toMatchObject([
      {
        GroupId: V.network.taskSecurityGroup,
        GroupName: 'web-tasks',
        Description: 'ECS tasks behind the main ALB',
        VpcId: V.network.vpc,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: V.network.albSecurityGroup, Description: 'from main-alb' }] },
        ],
        IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      },
    ]);
    const err = await fail(clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-00000000'] })));
    expect(err).toMatchObject({ name: 'InvalidGroup.NotFound', message: "The security group 'sg-00000000' does not exist" });
  });

  it('VPC endpoints: gateway vs interface, by VPC and service name', async () => {
    const main = await clients.ec2.send(new DescribeVpcEndpointsCommand({ Filters: [{ Name: 'vpc-id', Values: [V.network.vpc] }] }));
    expect(main.VpcEndpoints).toMatchObject([
      {
        VpcEndpointId: V.network.s3Endpoint,
        VpcEndpointType: 'Gateway',
        ServiceName: 'com.amazonaws.us-east-1.s3',
        State: 'available',
        RouteTableIds: [V.network.routeTables.privateA, V.network.routeTables.main],
      },
    ]);
    const isolated = await clients.ec2.send(
      new DescribeVpcEndpointsCommand({
        Filters: [
          { Name: 'vpc-id', Values: [V.network.isolated.vpc] },
          { Name: 'vpc-endpoint-type', Values: ['Interface'] },
        ],
      }),
    );
    expect(isolated.VpcEndpoints!.map((e) => e.ServiceName)).toEqual(V.network.isolated.interfaceEndpoints.map((s) => `com.amazonaws.us-east-1.${s}`));
    expect(isolated.VpcEndpoints![0]).toMatchObject({
      PrivateDnsEnabled: true,
      SubnetIds: [V.network.isolated.subnet],
      Groups: [{ GroupId: V.network.isolated.endpointSecurityGroup }],
    });
    expect(isolated.VpcEndpoints![0]!.CreationTimestamp).toBeInstanceOf(Date);
    const err = await fail(clients.ec2.send(new DescribeVpcEndpointsCommand({ VpcEndpointIds: ['vpce-00000000'] })));
    expect(err).toMatchObject({ name: 'InvalidVpcEndpointId.NotFound' });
  });
});

describe('web, manager and legacy pass every check', () => {
  it.each([
    ['main', 'web'],
    ['main', 'manager'],
    [SAMPLE.legacyCluster, 'legacy'],
  ])('%s/%s', async (cluster, name) => {
    const { services } = await clients.ecs.send(new DescribeServicesCommand({ cluster, services: [name] }));
    const service = services![0]!;
    const { taskDefinition: td } = await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }));
    for (const roleArn of [td!.taskRoleArn!, td!.executionRoleArn!]) {
      const { Role } = await clients.iam.send(new GetRoleCommand({ RoleName: roleArn.split('/').pop() }));
      expect(decode(Role!.AssumeRolePolicyDocument).Statement[0].Principal.Service).toBe('ecs-tasks.amazonaws.com');
    }
    const exec = await simulate({ role: td!.taskRoleArn!, ActionNames: [...V.execActions] });
    expect(exec.map((e) => e.EvalDecision)).toEqual(['allowed', 'allowed', 'allowed', 'allowed']);

    for (const c of td!.containerDefinitions!.filter((c) => c.image!.startsWith(ECR_HOST))) {
      const [repositoryName, imageTag] = c.image!.slice(ECR_HOST.length + 1).split(':');
      await clients.ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag }] }));
      const group = c.logConfiguration!.options!['awslogs-group']!;
      const { logGroups } = await clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group }));
      expect(logGroups!.map((g) => g.logGroupName)).toContain(group);
      expect((await decision(td!.executionRoleArn!, 'logs:CreateLogStream', logStreamArn(group))).EvalDecision).toBe('allowed');
      for (const secret of c.secrets ?? []) {
        const isSsm = secret.valueFrom!.includes(':ssm:');
        if (isSsm) {
          const { Parameters } = await clients.ssm.send(
            new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [secret.valueFrom!.split(':parameter')[1]!] }] }),
          );
          expect(Parameters).toHaveLength(1);
        } else {
          await clients.secrets.send(new DescribeSecretCommand({ SecretId: secret.valueFrom }));
        }
        const action = isSsm ? 'ssm:GetParameters' : 'secretsmanager:GetSecretValue';
        expect((await decision(td!.executionRoleArn!, action, secret.valueFrom)).EvalDecision).toBe('allowed');
      }
    }
    for (const lb of service.loadBalancers ?? []) {
      const { TargetGroups } = await clients.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [lb.targetGroupArn!] }));
      expect(TargetGroups![0]!.Port).toBe(lb.containerPort);
    }
    const { Subnets } = await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: service.networkConfiguration!.awsvpcConfiguration!.subnets }));
    expect(Subnets).toHaveLength(2);
    expect(service.enableExecuteCommand).toBe(true);
  });
});

describe('the bench service (seed-bench.ts) passes every check verify would make', () => {
  let bench: AwsEmulator;
  let c: ReturnType<typeof makeClients>;
  beforeAll(async () => {
    bench = await startAwsEmulator({ clockRate: 0 });
    seedVerifyBench(bench.state);
    c = makeClients({ endpoint: bench.url });
  });
  afterAll(async () => {
    await bench?.close();
  });
  const allowed = async (role: string, action: string, resource: string, extra: Partial<SimulatePrincipalPolicyCommandInput> = {}) => {
    const out = await c.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: role, ActionNames: [action], ResourceArns: [resource], ...extra }));
    return out.EvaluationResults![0]!.EvalDecision;
  };
  const definition = async () => (await c.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: BENCH.taskDefinition }))).taskDefinition!;
  const service = async () => (await c.ecs.send(new DescribeServicesCommand({ cluster: BENCH.cluster, services: [BENCH.service] }))).services![0]!;

  it('refuses to seed twice, or without the sample account', async () => {
    expect(() => seedVerifyBench(bench.state)).toThrow(/already/);
    const empty = await startAwsEmulator({ seed: false });
    try {
      expect(() => seedVerifyBench(empty.state)).toThrow(/sample account/);
    } finally {
      await empty.close();
    }
  });

  it('is a steady FARGATE 1.4.0 service with exec on, in the private subnets, behind two target groups', async () => {
    expect(await service()).toMatchObject({
      serviceArn: BENCH.serviceArn,
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 2,
      pendingCount: 0,
      launchType: 'FARGATE',
      platformVersion: '1.4.0',
      taskDefinition: BENCH.taskDefinition,
      enableExecuteCommand: true,
      loadBalancers: BENCH.loadBalancers,
      networkConfiguration: {
        awsvpcConfiguration: { subnets: V.network.privateSubnets, securityGroups: [V.network.taskSecurityGroup], assignPublicIp: 'DISABLED' },
      },
      deployments: [{ id: BENCH.deployment, status: 'PRIMARY', rolloutState: 'COMPLETED', runningCount: 2 }],
    });
    expect((await service()).events![0]!.message).toBe('(service bench) has reached a steady state.');
    const { clusters } = await c.ecs.send(new DescribeClustersCommand({ clusters: ['main'] }));
    expect(clusters![0]!.activeServicesCount).toBe(7); // the seed's six and bench
  });

  it('has 3 containers with ECR images that exist, logging to a log group that exists', async () => {
    const td = await definition();
    expect(td).toMatchObject({
      status: 'ACTIVE',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '1024',
      memory: '2048',
      taskRoleArn: BENCH.roles.task,
      executionRoleArn: BENCH.roles.execution,
    });
    expect(td.containerDefinitions!.map((x) => [x.name, x.image])).toEqual([
      ['app', BENCH.images.app],
      ['worker', BENCH.images.worker],
      ['proxy', BENCH.images.proxy],
    ]);
    for (const container of td.containerDefinitions!) {
      const [repositoryName, imageTag] = container.image!.slice(ECR_HOST.length + 1).split(':');
      const { imageDetails } = await c.ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag }] }));
      expect(imageDetails![0]!.imageDigest).toBe(imageDigest(container.image!));
      const repositoryArn = `arn:aws:ecr:${region}:${ACCOUNT}:repository/${repositoryName}`;
      for (const action of ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability']) {
        expect(await allowed(BENCH.roles.execution, action, repositoryArn)).toBe('allowed');
      }
      expect(container.logConfiguration).toMatchObject({ logDriver: 'awslogs', options: { 'awslogs-group': BENCH.logGroup, 'awslogs-region': region } });
    }
    expect(await allowed(BENCH.roles.execution, 'ecr:GetAuthorizationToken', '*')).toBe('allowed');
    const { logGroups } = await c.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: BENCH.logGroup }));
    expect(logGroups!.map((g) => g.logGroupName)).toEqual([BENCH.logGroup]);
    for (const action of ['logs:CreateLogStream', 'logs:PutLogEvents'])
      expect(await allowed(BENCH.roles.execution, action, logStreamArn(BENCH.logGroup))).toBe('allowed');
    await c.logs.send(new CreateLogStreamCommand({ logGroupName: BENCH.logGroup, logStreamName: 'ecs-chatops-verify' }));
  });

  it('has 4 secrets across containers that exist, readable and decryptable by the execution role', async () => {
    const td = await definition();
    const secrets = td.containerDefinitions!.flatMap((x: ContainerDefinition) => (x.secrets ?? []).map((s) => [x.name, s.name, s.valueFrom!] as const));
    expect(secrets).toEqual([
      ['app', 'DATABASE_URL', BENCH.secrets.app.DATABASE_URL],
      ['app', 'API_TOKEN', BENCH.secrets.app.API_TOKEN],
      ['worker', 'REDIS_URL', BENCH.secrets.worker.REDIS_URL],
      ['worker', 'DB_PASSWORD', BENCH.secrets.worker.DB_PASSWORD],
    ]);
    const keyPolicy = async (keyId: string) => {
      const { KeyMetadata } = await c.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
      return { arn: KeyMetadata!.Arn!, policy: (await c.kms.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata!.Arn! }))).Policy! };
    };
    const keys = new Set<string>();
    for (const [, , valueFrom] of secrets) {
      let keyId: string;
      let service: string;
      if (valueFrom.includes(':ssm:')) {
        const { Parameters } = await c.ssm.send(
          new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [valueFrom.split(':parameter')[1]!] }] }),
        );
        expect(Parameters![0]!.Type).toBe('SecureString');
        keyId = Parameters![0]!.KeyId!;
        service = 'ssm';
        expect(await allowed(BENCH.roles.execution, 'ssm:GetParameters', valueFrom)).toBe('allowed');
      } else {
        // `arn…:secret:name-AbCdEf:json-key:version-stage:version-id`: the secret is the first 7 fields.
        const secretArn = valueFrom.split(':').slice(0, 7).join(':');
        const described = await c.secrets.send(new DescribeSecretCommand({ SecretId: secretArn }));
        expect(described.ARN).toBe(secretArn);
        keyId = described.KmsKeyId ?? 'alias/aws/secretsmanager';
        service = 'secretsmanager';
        expect(await allowed(BENCH.roles.execution, 'secretsmanager:GetSecretValue', secretArn)).toBe('allowed');
        if (valueFrom !== secretArn) {
          const { SecretString } = await c.secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
          expect(JSON.parse(SecretString!)).toHaveProperty(valueFrom.split(':')[7]!);
        }
      }
      const key = await keyPolicy(keyId);
      keys.add(key.arn);
      const context = { ContextEntries: [via(service), callerAccount] };
      expect(await allowed(BENCH.roles.execution, 'kms:Decrypt', key.arn, context)).toBe('allowed');
      expect(await allowed(BENCH.roles.execution, 'kms:Decrypt', key.arn, { ...context, ResourcePolicy: key.policy })).toBe('allowed');
    }
    // Both kinds of key: the AWS managed ones and the customer managed bench key.
    expect(keys).toEqual(new Set([BENCH.kms.keyArn, (await keyPolicy('alias/aws/ssm')).arn, (await keyPolicy('alias/aws/secretsmanager')).arn]));
  });

  it('trusts ecs-tasks and allows ECS Exec, which runs in every container of both running tasks', async () => {
    for (const role of [BENCH.roles.task, BENCH.roles.execution]) {
      const { Role } = await c.iam.send(new GetRoleCommand({ RoleName: role.split('/').pop() }));
      expect(decode(Role!.AssumeRolePolicyDocument).Statement[0].Principal).toEqual({ Service: 'ecs-tasks.amazonaws.com' });
    }
    const exec = await c.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: BENCH.roles.task, ActionNames: [...V.execActions] }));
    expect(exec.EvaluationResults!.map((r) => r.EvalDecision)).toEqual(['allowed', 'allowed', 'allowed', 'allowed']);
    const { taskArns } = await c.ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: BENCH.service }));
    const { tasks } = await c.ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: taskArns }));
    expect(tasks!.map((t) => t.taskArn!.split('/').pop()).sort()).toEqual([...BENCH.tasks].sort());
    for (const task of tasks!) {
      expect(task).toMatchObject({ lastStatus: 'RUNNING', enableExecuteCommand: true, platformVersion: '1.4.0', taskDefinitionArn: BENCH.taskDefinition });
      expect(task.containers!.map((x) => [x.name, x.lastStatus, x.managedAgents!.map((a) => `${a.name}:${a.lastStatus}`), x.imageDigest])).toEqual(
        (['app', 'worker', 'proxy'] as const).map((name) => [name, 'RUNNING', ['ExecuteCommandAgent:RUNNING'], imageDigest(BENCH.images[name])]),
      );
    }
  });

  it('has target groups that exist, with matching ports, type ip, in the tasks’ VPC, all targets healthy', async () => {
    const { TargetGroups } = await c.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: BENCH.loadBalancers.map((lb) => lb.targetGroupArn) }));
    expect(TargetGroups!.map((g) => [g.Port, g.TargetType, g.VpcId, g.LoadBalancerArns])).toEqual(
      BENCH.loadBalancers.map((lb) => [lb.containerPort, 'ip', V.network.vpc, [V.loadBalancer]]),
    );
    const td = await definition();
    for (const lb of BENCH.loadBalancers) {
      const container = td.containerDefinitions!.find((x) => x.name === lb.containerName)!;
      expect(container.portMappings!.map((m) => m.containerPort)).toContain(lb.containerPort);
      const { TargetHealthDescriptions } = await c.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: lb.targetGroupArn }));
      expect(TargetHealthDescriptions!.map((t) => [t.Target!.Port, t.TargetHealth!.State])).toEqual([
        [lb.containerPort, 'healthy'],
        [lb.containerPort, 'healthy'],
      ]);
    }
  });

  it('runs in subnets with a NAT route and a security group that lets it out', async () => {
    const { Subnets } = await c.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [...BENCH.network.subnets] }));
    expect(new Set(Subnets!.map((x) => x.VpcId))).toEqual(new Set([V.network.vpc]));
    for (const subnet of BENCH.network.subnets) {
      let { RouteTables } = await c.ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnet] }] }));
      if (!RouteTables!.length)
        ({ RouteTables } = await c.ec2.send(
          new DescribeRouteTablesCommand({
            Filters: [
              { Name: 'vpc-id', Values: [V.network.vpc] },
              { Name: 'association.main', Values: ['true'] },
            ],
          }),
        ));
      expect(RouteTables![0]!.Routes).toContainEqual(
        expect.objectContaining({ DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: V.network.natGateway, State: 'active' }),
      );
    }
    const { SecurityGroups } = await c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [...BENCH.network.securityGroups] }));
    expect(SecurityGroups![0]!.IpPermissionsEgress).toContainEqual(expect.objectContaining({ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }));
  });
});

describe('every deliberate problem of broken is observable', () => {
  const checks: Record<(typeof V.problems)[number]['id'], () => Promise<void>> = {
    'image-tag-missing': async () => {
      const [repositoryName, imageTag] = SAMPLE.images.broken.slice(ECR_HOST.length + 1).split(':');
      await expect(clients.ecr.send(new DescribeImagesCommand({ repositoryName, imageIds: [{ imageTag }] }))).rejects.toMatchObject({
        name: 'ImageNotFoundException',
      });
    },
    'log-group-missing': async () => {
      const { logGroups } = await clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: '/ecs/broken' }));
      expect(logGroups!.map((g) => g.logGroupName)).toEqual(['/ecs/broken-v1']);
      await expect(clients.logs.send(new CreateLogStreamCommand({ logGroupName: '/ecs/broken', logStreamName: 'verify' }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
      });
    },
    'secret-missing': async () => {
      await expect(clients.secrets.send(new DescribeSecretCommand({ SecretId: SAMPLE.secrets.brokenApiKey }))).rejects.toMatchObject({
        name: 'ResourceNotFoundException',
        message: "Secrets Manager can't find the specified secret.",
      });
      expect((await clients.secrets.send(new DescribeSecretCommand({ SecretId: 'broken/api-key' }))).ARN).toBe(V.secrets.brokenApiKeyRecreated);
    },
    'secret-not-permitted': async () => {
      expect((await decision(V.roles.brokenExecution, 'secretsmanager:GetSecretValue', SAMPLE.secrets.brokenApiKey)).EvalDecision).toBe('implicitDeny');
    },
    'kms-key-policy-denies': async () => {
      const { Parameters } = await clients.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['/broken/DATABASE_URL'] }] }));
      const { KeyMetadata } = await clients.kms.send(new DescribeKeyCommand({ KeyId: Parameters![0]!.KeyId }));
      expect(KeyMetadata!.Arn).toBe(V.kms.brokenSecretsKeyArn);
      const { Policy } = await clients.kms.send(new GetKeyPolicyCommand({ KeyId: KeyMetadata!.Arn }));
      const context = { ContextEntries: [via('ssm'), callerAccount] };
      expect((await decision(V.roles.brokenExecution, 'kms:Decrypt', KeyMetadata!.Arn, context)).EvalDecision).toBe('allowed');
      expect((await decision(V.roles.brokenExecution, 'kms:Decrypt', KeyMetadata!.Arn, { ...context, ResourcePolicy: Policy })).EvalDecision).toBe(
        'implicitDeny',
      );
    },
    'execution-role-trust': async () => {
      const { Role } = await clients.iam.send(new GetRoleCommand({ RoleName: 'broken-execution-role' }));
      expect(decode(Role!.AssumeRolePolicyDocument).Statement[0].Principal).toEqual({ Service: 'ec2.amazonaws.com' });
    },
    'exec-denied': async () => {
      const results = await simulate({ role: V.roles.brokenTask, ActionNames: [...V.execActions] });
      expect(results.map((r) => r.EvalDecision)).toEqual(['explicitDeny', 'explicitDeny', 'explicitDeny', 'explicitDeny']);
    },
    'exec-not-on-tasks': async () => {
      const { services } = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['broken'] }));
      expect(services![0]!.enableExecuteCommand).toBe(true);
      const { taskArns } = await clients.ecs.send(new ListTasksCommand({ cluster: 'main', serviceName: 'broken' }));
      const { tasks = [] } = await clients.ecs.send(new DescribeTasksCommand({ cluster: 'main', tasks: taskArns }));
      const running = tasks.filter((t) => t.lastStatus === 'RUNNING');
      expect(running.map((t) => [t.taskArn!.split('/').pop(), t.taskDefinitionArn, t.enableExecuteCommand])).toEqual([
        [SAMPLE.tasks.brokenRunning[0], SAMPLE.taskDefinitions.brokenPrevious, false],
      ]);
      expect(running[0]!.containers!.flatMap((c) => c.managedAgents ?? []).filter((a) => a.name === 'ExecuteCommandAgent')).toEqual([]);
    },
    'network-no-egress': async () => {
      const { services } = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['broken'] }));
      const awsvpc = services![0]!.networkConfiguration!.awsvpcConfiguration!;
      expect(awsvpc).toMatchObject({ subnets: [V.network.isolated.subnet], securityGroups: [V.network.isolated.securityGroup], assignPublicIp: 'DISABLED' });
      const { Subnets } = await clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: awsvpc.subnets }));
      expect(Subnets![0]!.VpcId).toBe(V.network.isolated.vpc);
      const { RouteTables } = await clients.ec2.send(
        new DescribeRouteTablesCommand({
          Filters: [
            { Name: 'vpc-id', Values: [V.network.isolated.vpc] },
            { Name: 'association.main', Values: ['true'] },
          ],
        }),
      );
      expect(RouteTables![0]!.Routes!.some((r) => r.DestinationCidrBlock === '0.0.0.0/0')).toBe(false);
      const dkr = await clients.ec2.send(
        new DescribeVpcEndpointsCommand({
          Filters: [
            { Name: 'vpc-id', Values: [V.network.isolated.vpc] },
            { Name: 'service-name', Values: ['com.amazonaws.us-east-1.ecr.dkr', 'com.amazonaws.us-east-1.ssmmessages'] },
          ],
        }),
      );
      expect(dkr.VpcEndpoints).toEqual([]);
    },
    'target-group-missing': async () => {
      const { services } = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'main', services: ['broken'] }));
      expect(services![0]!.loadBalancers).toEqual([{ targetGroupArn: V.targetGroups.missing, containerName: 'app', containerPort: 8080 }]);
      await expect(clients.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [V.targetGroups.missing] }))).rejects.toMatchObject({
        name: 'TargetGroupNotFoundException',
      });
    },
  };
  it.each(V.problems.map((p) => [p.id, p] as const))('%s', async (id) => {
    await checks[id]();
  });
});

describe('endpoint configuration', () => {
  it('each client reaches the emulator through its own AWS_ENDPOINT_URL_<SERVICE> variable', async () => {
    const names = ['IAM', 'ECR', 'CLOUDWATCH_LOGS', 'SECRETS_MANAGER', 'KMS', 'ELASTIC_LOAD_BALANCING_V2', 'EC2'];
    process.env = { ...savedEnv, ...Object.fromEntries(names.map((n) => [`AWS_ENDPOINT_URL_${n}`, emu.url])) };
    delete process.env.AWS_ENDPOINT_URL;
    const c = makeClients();
    await c.iam.send(new GetRoleCommand({ RoleName: 'web-task-role' }));
    await c.ecr.send(new DescribeRepositoriesCommand({}));
    await c.logs.send(new DescribeLogGroupsCommand({}));
    await c.secrets.send(new DescribeSecretCommand({ SecretId: 'web/api-key' }));
    await c.kms.send(new ListAliasesCommand({}));
    await c.elb.send(new DescribeTargetGroupsCommand({}));
    await c.ec2.send(new DescribeSubnetsCommand({}));
    const seen = emu.calls.slice(-7).map((call) => `${call.service}:${call.action}`);
    expect(seen).toEqual([
      'iam:GetRole',
      'ecr:DescribeRepositories',
      'logs:DescribeLogGroups',
      'secretsmanager:DescribeSecret',
      'kms:ListAliases',
      'elasticloadbalancing:DescribeTargetGroups',
      'ec2:DescribeSubnets',
    ]);
    process.env = savedEnv;
  });
});
