/**
 * What the sample account's ECS services depend on, for `/ecs verify`: IAM roles and policies, ECR
 * images, log groups, secrets and their KMS keys, target groups and the network. seedSampleAccount
 * (seed.ts) calls it once its SSM parameters exist; names match the ECS seed:
 *
 *  - `web`, `manager` (cluster main) and `legacy` (cluster blue-green) pass every check;
 *  - `broken` fails in many ways at once, each listed in VERIFY_SEED.problems with how it shows
 *    through the API, so tests and docs can refer to them by id.
 *
 * VERIFY_SEED repeats the few ECS-seed names it needs (sample.ts), and
 * test/aws-verify-services.test.ts checks that they agree.
 */
import { putRole, putManagedPolicy, trustPolicy } from './services/iam';
import { ecrState, putImage, putRepository } from './services/ecr';
import { putLogGroup } from './services/logs';
import { putSecret, putSecretVersion } from './services/secretsmanager';
import { awsManagedKey, putKey } from './services/kms';
import { putTargetGroup } from './services/elbv2';
import { ec2State } from './services/ec2';
import { policyText, type PolicyDocument, type PolicyStatement } from './policy';
import type { IpPermission, Route, RouteTableAssociation, VpcEndpoint } from '@aws-sdk/client-ec2';
import { SAMPLE } from './sample';
import { hexId, uuid, type EmulatorState } from './state';

const ACCOUNT = '111111111111';
const OTHER_ACCOUNT = '222222222222';
const REGION = 'us-east-1';
const ECR_HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const keyArn = (id: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;

/** The digest the ECS seed reports for a task's container image (same derivation). */
export const imageDigest = (imageUri: string) => `sha256:${hexId(`digest/${imageUri}`, 64)}`;

const KEYS = {
  webSecrets: uuid('kms/web-secrets'),
  brokenSecrets: uuid('kms/broken-secrets'),
};

const NET = {
  vpc: 'vpc-0a1b2c3d4e5f67890',
  /** The ECS seed's awsvpc subnets, with a NAT route (web, manager, broken:6's task, seed-bench's bench). */
  privateSubnets: ['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788'],
  publicSubnet: 'subnet-0d4c3b2a1f0e98765',
  taskSecurityGroup: 'sg-0123456789abcdef0',
  albSecurityGroup: 'sg-0fedcba9876543210',
  internetGateway: 'igw-0123456789abcdef0',
  natGateway: 'nat-0123456789abcdef0',
  routeTables: { public: 'rtb-0aa11bb22cc33dd44', privateA: 'rtb-0bb22cc33dd44ee55', main: 'rtb-0cc33dd44ee55ff66' },
  s3Endpoint: 'vpce-0a1a2a3a4a5a6a7a8',
  /** A second VPC with no way out but some interface endpoints: where broken:7 moved `broken`. */
  isolated: {
    vpc: 'vpc-0e1f2a3b4c5d6e7f8',
    subnet: 'subnet-0b1c2d3e4f5a6b7c8',
    securityGroup: 'sg-0a9b8c7d6e5f4a3b2',
    endpointSecurityGroup: 'sg-0c1d2e3f4a5b6c7d8',
    mainRouteTable: 'rtb-0dd44ee55ff660011',
    s3Endpoint: 'vpce-0b1b2b3b4b5b6b7b8',
    interfaceEndpoints: ['ecr.api', 'logs', 'secretsmanager', 'ssm', 'kms'],
  },
} as const;

/** Ids, names and ARNs of everything seeded here, and the deliberate problems of `broken`. */
export const VERIFY_SEED = {
  accountId: ACCOUNT,
  region: REGION,
  roles: {
    webTask: roleArn('web-task-role'),
    webExecution: roleArn('web-execution-role'),
    managerTask: roleArn('manager-task-role'),
    brokenTask: roleArn('broken-task-role'),
    brokenExecution: roleArn('broken-execution-role'),
    keyAdmin: roleArn('platform-admin'),
  },
  policies: {
    execSsmMessages: `arn:aws:iam::${ACCOUNT}:policy/ecs-exec-ssmmessages`,
    taskExecution: 'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy',
  },
  /** The four actions ECS Exec's agent needs on the task role. */
  execActions: ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'],
  ecr: {
    webRepository: `${ECR_HOST}/web`,
    webRepositoryArn: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/web`,
    /** Another account's registry in another region, readable by this account through its repository policy. */
    shared: { registryId: OTHER_ACCOUNT, region: 'us-west-2', repository: 'shared/base', tag: 'node20' },
    /** Same registry, no repository policy: AccessDeniedException from this account. */
    sharedPrivate: { registryId: OTHER_ACCOUNT, region: 'us-west-2', repository: 'shared/private' },
  },
  logGroups: ['/ecs/broken-v1', '/ecs/legacy', '/ecs/manager', '/ecs/web'],
  kms: {
    webSecretsKeyArn: keyArn(KEYS.webSecrets),
    brokenSecretsKeyArn: keyArn(KEYS.brokenSecrets),
    aliases: ['alias/aws/secretsmanager', 'alias/aws/ssm', 'alias/broken-secrets', 'alias/web-secrets'],
  },
  secrets: {
    webApiKey: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:web/api-key-Xb3kQ9`,
    /** What `broken/api-key` is now: recreated, so its ARN suffix differs from the task definition's. */
    brokenApiKeyRecreated: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:broken/api-key-T4nW7e`,
  },
  targetGroups: {
    web: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web/6d0ecf831eec9f09`,
    /** Not seeded: `broken`'s loadBalancers name it (deleted after the service was pointed at it). */
    missing: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/broken/0b5e7c9a1d3f2e4c`,
  },
  loadBalancer: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/main/50dc6c495c0c9188`,
  legacyLoadBalancer: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:loadbalancer/app/legacy/7a3e9c1b5d2f4e60`,
  network: NET,
  /**
   * The deliberate problems of `broken`. `observe` says how each shows through the API; `ecsSeed`
   * says what the ECS seed (seed.ts) does to make it bite, where that is more than broken:7 itself.
   */
  problems: [
    {
      id: 'image-tag-missing',
      check: 'image',
      resource: `${ECR_HOST}/web:does-not-exist`,
      observe: "ECR DescribeImages(repositoryName 'web', imageTag 'does-not-exist') → ImageNotFoundException",
    },
    {
      id: 'log-group-missing',
      check: 'logs',
      resource: '/ecs/broken',
      observe: "DescribeLogGroups(prefix '/ecs/broken') lists only '/ecs/broken-v1'; CreateLogStream → ResourceNotFoundException",
    },
    {
      id: 'secret-missing',
      check: 'secrets',
      resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:broken/api-key-Q8mZ2c`,
      observe: "DescribeSecret(task definition's ARN) → ResourceNotFoundException (the secret was recreated as broken/api-key-T4nW7e)",
    },
    {
      id: 'secret-not-permitted',
      check: 'secrets',
      resource: roleArn('broken-execution-role'),
      observe: 'SimulatePrincipalPolicy(broken-execution-role, secretsmanager:GetSecretValue) → implicitDeny (matches the stopped tasks’ reason)',
    },
    {
      id: 'kms-key-policy-denies',
      check: 'secrets',
      resource: keyArn(KEYS.brokenSecrets),
      observe:
        "/broken/DATABASE_URL is encrypted with alias/broken-secrets, whose key policy neither enables IAM policies nor names the role: kms:Decrypt is 'allowed' by the role's policy alone, 'implicitDeny' with the key policy as ResourcePolicy",
    },
    {
      id: 'execution-role-trust',
      check: 'roles',
      resource: roleArn('broken-execution-role'),
      observe: 'GetRole: AssumeRolePolicyDocument trusts ec2.amazonaws.com, not ecs-tasks.amazonaws.com',
    },
    {
      id: 'exec-denied',
      check: 'exec',
      resource: roleArn('broken-task-role'),
      observe: 'SimulatePrincipalPolicy(broken-task-role, ssmmessages:*) → explicitDeny (inline policy exec-lockdown)',
    },
    {
      id: 'exec-not-on-tasks',
      check: 'exec',
      resource: 'arn:aws:ecs:us-east-1:111111111111:service/main/broken',
      observe: 'DescribeServices enableExecuteCommand true, DescribeTasks (RUNNING) enableExecuteCommand false and no ExecuteCommandAgent in managedAgents',
      ecsSeed: "SAMPLE.tasks.brokenRunning: broken:6's task of the ACTIVE deployment, started before exec was enabled",
    },
    {
      id: 'network-no-egress',
      check: 'network',
      resource: NET.isolated.subnet,
      observe: `the subnet's (main) route table has no 0.0.0.0/0 route and ${NET.isolated.vpc} has no com.amazonaws.${REGION}.ecr.dkr (nor ssmmessages) endpoint`,
      ecsSeed: `broken's awsvpcConfiguration: subnets [${NET.isolated.subnet}], securityGroups [${NET.isolated.securityGroup}], assignPublicIp DISABLED`,
    },
    {
      id: 'target-group-missing',
      check: 'loadBalancer',
      resource: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/broken/0b5e7c9a1d3f2e4c`,
      observe: 'DescribeTargetGroups → TargetGroupNotFoundException',
      ecsSeed: "broken's loadBalancers: [{ targetGroupArn: VERIFY_SEED.targetGroups.missing, containerName: 'app', containerPort: 8080 }]",
    },
  ],
} as const;

const MIN = 60_000;
const DAY = 24 * 60 * MIN;

const doc = (...Statement: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });
/** ecs-tasks trust with the confused-deputy guard AWS recommends (the check must still see ecs-tasks). */
/** ECS tasks of one account and region may assume the role (the confused-deputy conditions AWS recommends). */
export const ecsTasksTrustFor = (accountId: string, region: string) =>
  trustPolicy(
    { Service: 'ecs-tasks.amazonaws.com' },
    { ArnLike: { 'aws:SourceArn': `arn:aws:ecs:${region}:${accountId}:*` }, StringEquals: { 'aws:SourceAccount': accountId } },
  );
export const ecsTasksTrust = ecsTasksTrustFor(ACCOUNT, REGION);

export function seedVerifyAccount(state: EmulatorState): void {
  const now = state.clock.now();
  const ago = (ms: number) => new Date(now - ms);
  const r = state.region(ACCOUNT, REGION);

  // KMS ---------------------------------------------------------------------------------------
  awsManagedKey(r, 'ssm', ago(400 * DAY));
  awsManagedKey(r, 'secretsmanager', ago(400 * DAY));
  const keyAdmin: PolicyStatement = {
    Sid: 'Allow access for Key Administrators',
    Effect: 'Allow',
    Principal: { AWS: VERIFY_SEED.roles.keyAdmin },
    Action: [
      'kms:Create*',
      'kms:Describe*',
      'kms:Enable*',
      'kms:List*',
      'kms:Put*',
      'kms:Update*',
      'kms:Revoke*',
      'kms:Disable*',
      'kms:Get*',
      'kms:Delete*',
      'kms:ScheduleKeyDeletion',
      'kms:CancelKeyDeletion',
    ],
    Resource: '*',
  };
  putKey(r, {
    id: KEYS.webSecrets,
    alias: 'alias/web-secrets',
    description: 'web application secrets',
    createdAt: ago(300 * DAY),
    policy: policyText(
      doc(
        { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        keyAdmin,
      ),
    ),
  });
  // No "Enable IAM User Permissions" statement and no user statement: nobody may decrypt. The
  // bot's roles may read the key and its policy (KMS weighs only the key policy here), as a
  // team that wants verify to check such keys grants it.
  const botReadsKey: PolicyStatement = {
    Sid: 'Allow ecs-chatops to read the key and its policy',
    Effect: 'Allow',
    Principal: { AWS: '*' },
    Action: ['kms:DescribeKey', 'kms:GetKeyPolicy'],
    Resource: '*',
    Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/ecs-chatops-*` } }, // its worker, its target roles
  };
  putKey(r, {
    id: KEYS.brokenSecrets,
    alias: 'alias/broken-secrets',
    description: 'broken application secrets',
    createdAt: ago(30 * DAY),
    policy: policyText(doc(keyAdmin, botReadsKey)),
  });

  // IAM ---------------------------------------------------------------------------------------
  const execSsm = putManagedPolicy(
    state,
    ACCOUNT,
    'ecs-exec-ssmmessages',
    doc({ Sid: 'EcsExec', Effect: 'Allow', Action: [...VERIFY_SEED.execActions], Resource: '*' }),
  );
  putRole(state, ACCOUNT, 'ecs-chatops-lambda', {
    trust: trustPolicy({ Service: 'lambda.amazonaws.com' }),
    description: 'ecs-chatops bot (Lambda execution role)',
  });
  putRole(state, ACCOUNT, 'ecs-chatops-target', { trust: trustPolicy({ AWS: roleArn('ecs-chatops-lambda') }) });
  putRole(state, OTHER_ACCOUNT, 'ecs-chatops-target', { trust: trustPolicy({ AWS: roleArn('ecs-chatops-lambda') }) });
  putRole(state, ACCOUNT, 'platform-admin', {
    trust: trustPolicy({ AWS: `arn:aws:iam::${ACCOUNT}:root` }),
    attached: ['arn:aws:iam::aws:policy/AdministratorAccess'],
  });

  putRole(state, ACCOUNT, 'web-task-role', {
    trust: ecsTasksTrust,
    attached: [execSsm],
    inline: { 'web-assets': doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::web-assets/*' }) },
  });
  putRole(state, ACCOUNT, 'manager-task-role', { trust: ecsTasksTrust, attached: [execSsm] });
  // legacy (blue-green cluster) uses the AWS managed execution policy as is.
  putRole(state, ACCOUNT, 'legacy-task-role', { trust: ecsTasksTrust, attached: [execSsm] });
  putRole(state, ACCOUNT, 'legacy-execution-role', { trust: ecsTasksTrust, attached: [VERIFY_SEED.policies.taskExecution] });
  putRole(state, ACCOUNT, 'web-execution-role', {
    trust: ecsTasksTrust,
    description: 'Pulls images, writes logs and reads secrets for web and manager tasks',
    inline: {
      'web-execution': doc(
        { Sid: 'EcrAuth', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        {
          Sid: 'EcrPull',
          Effect: 'Allow',
          Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          Resource: VERIFY_SEED.ecr.webRepositoryArn,
        },
        {
          Sid: 'Logs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: [`arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/ecs/web:*`, `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/ecs/manager:*`],
        },
        { Sid: 'Parameters', Effect: 'Allow', Action: 'ssm:GetParameters', Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/web/*` },
        { Sid: 'Secrets', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:web/*` },
        {
          Sid: 'DecryptSecrets',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: VERIFY_SEED.kms.webSecretsKeyArn,
          Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } },
        },
      ),
    },
  });

  putRole(state, ACCOUNT, 'broken-task-role', {
    trust: ecsTasksTrust,
    inline: { 'exec-lockdown': doc({ Sid: 'NoSessions', Effect: 'Deny', Action: 'ssmmessages:*', Resource: '*' }) },
  });
  putRole(state, ACCOUNT, 'broken-execution-role', {
    trust: trustPolicy({ Service: 'ec2.amazonaws.com' }), // the classic copy-paste mistake
    attached: [VERIFY_SEED.policies.taskExecution],
    inline: {
      'broken-execution': doc(
        { Sid: 'Parameters', Effect: 'Allow', Action: 'ssm:GetParameters', Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/broken/*` },
        // IAM allows it, but the key policy has the last word (see alias/broken-secrets).
        { Sid: 'Decrypt', Effect: 'Allow', Action: 'kms:Decrypt', Resource: VERIFY_SEED.kms.brokenSecretsKeyArn },
      ),
    },
  });

  // ECR: every image of SAMPLE.ecrImages (so not `web:does-not-exist`), plus an old untagged one.
  const web = putRepository(r, 'web', ago(400 * DAY));
  putImage(web, { digest: `sha256:${hexId('digest/web/untagged', 64)}`, tags: [], pushedAt: ago(40 * DAY), sizeInBytes: 61_204_113 });
  // Pushed before the task definitions that use them were registered.
  const pushedAgo: Record<string, number> = { 'web:v1.4.1': 12 * DAY + 60 * MIN, 'web:v1.4.2': 55 * MIN, 'legacy:v3.2.0': 30 * DAY + 60 * MIN };
  SAMPLE.ecrImages.forEach((uri, i) => {
    const [name, tag] = uri.slice(ECR_HOST.length + 1).split(':') as [string, string];
    const repo = ecrState(r).get(name) ?? putRepository(r, name, ago(400 * DAY));
    putImage(repo, {
      digest: imageDigest(uri),
      tags: [tag],
      pushedAt: ago(pushedAgo[`${name}:${tag}`] ?? 20 * MIN - i * MIN),
      sizeInBytes: 62_318_477 + i * 4_096,
    });
  });
  const shared = VERIFY_SEED.ecr.shared;
  const sharedRegion = state.region(shared.registryId, shared.region);
  const sharedRepo = putRepository(
    sharedRegion,
    shared.repository,
    ago(500 * DAY),
    policyText(
      doc({
        Sid: 'AllowPullFromWorkloadAccounts',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:DescribeImages', 'ecr:DescribeRepositories'],
      }),
    ),
  );
  putImage(sharedRepo, {
    digest: imageDigest(`${sharedRepo.repository.repositoryUri}:${shared.tag}`),
    tags: [shared.tag],
    pushedAt: ago(9 * DAY),
    sizeInBytes: 48_112_903,
  });
  putRepository(sharedRegion, VERIFY_SEED.ecr.sharedPrivate.repository, ago(500 * DAY));

  // CloudWatch Logs: /ecs/broken is missing; a look-alike from an older naming scheme is not it.
  putLogGroup(r, '/ecs/web', ago(200 * DAY).getTime(), { retentionInDays: 30 });
  putLogGroup(r, '/ecs/manager', ago(90 * DAY).getTime(), { retentionInDays: 30 });
  putLogGroup(r, '/ecs/legacy', ago(400 * DAY).getTime(), { retentionInDays: 90 });
  putLogGroup(r, '/ecs/broken-v1', ago(120 * DAY).getTime(), { retentionInDays: 7 });

  // Secrets -----------------------------------------------------------------------------------
  const apiKey = putSecret(r, {
    name: 'web/api-key',
    suffix: 'Xb3kQ9',
    value: 'web-api-key-v1',
    createdDate: ago(200 * DAY),
    kmsKeyId: VERIFY_SEED.kms.webSecretsKeyArn,
  });
  putSecretVersion(apiKey, 'web-api-key-v2', ago(20 * DAY), uuid('secret/web/api-key/2'));
  putSecret(r, {
    name: 'broken/api-key',
    suffix: 'T4nW7e',
    value: 'broken-api-key',
    createdDate: ago(2 * DAY),
    description: 'recreated after an accidental delete',
  });
  // seed.ts stores /broken/DATABASE_URL under the default key; it is really encrypted with the CMK.
  r.ssm.parameters.get('/broken/DATABASE_URL')!.versions.at(-1)!.keyId = 'alias/broken-secrets';

  // ELBv2 -------------------------------------------------------------------------------------
  // web's target group, and legacy's blue/green pair (CodeDeploy shifts between them).
  const targetGroups: Array<[string, string]> = [
    [VERIFY_SEED.targetGroups.web, VERIFY_SEED.loadBalancer],
    ...SAMPLE.legacyTargetGroupArns.map((arn): [string, string] => [arn, VERIFY_SEED.legacyLoadBalancer]),
    // web-bg's, web-canary's and web-linear's production and alternate target groups (ECS-native blue/green, canary and linear).
    ...Object.values(SAMPLE.nativeTargetGroupArns)
      .flat()
      .map((arn): [string, string] => [arn, VERIFY_SEED.loadBalancer]),
  ];
  for (const [arn, loadBalancer] of targetGroups) {
    putTargetGroup(r, {
      TargetGroupArn: arn,
      TargetGroupName: arn.split('/')[1],
      Protocol: 'HTTP',
      Port: 8080,
      VpcId: NET.vpc,
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: 'traffic-port',
      HealthCheckEnabled: true,
      HealthCheckIntervalSeconds: 30,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 5,
      UnhealthyThresholdCount: 2,
      HealthCheckPath: '/healthz',
      Matcher: { HttpCode: '200' },
      LoadBalancerArns: [loadBalancer],
      TargetType: 'ip',
      ProtocolVersion: 'HTTP1',
      IpAddressType: 'ipv4',
    });
  }

  seedNetwork(state);
}

function seedNetwork(state: EmulatorState): void {
  const ec2 = ec2State(state.region(ACCOUNT, REGION));
  const name = (Value: string) => [{ Key: 'Name', Value }];
  const subnet = (SubnetId: string, VpcId: string, az: string, CidrBlock: string, label: string, isPublic = false) => ({
    SubnetId,
    SubnetArn: `arn:aws:ec2:${REGION}:${ACCOUNT}:subnet/${SubnetId}`,
    VpcId,
    AvailabilityZone: az,
    AvailabilityZoneId: az.endsWith('a') ? 'use1-az1' : 'use1-az2',
    CidrBlock,
    AvailableIpAddressCount: 240,
    DefaultForAz: false,
    MapPublicIpOnLaunch: isPublic,
    State: 'available' as const,
    OwnerId: ACCOUNT,
    Tags: name(label),
  });
  ec2.subnets.push(
    subnet(NET.privateSubnets[0], NET.vpc, `${REGION}a`, '10.0.1.0/24', 'main-private-a'),
    subnet(NET.privateSubnets[1], NET.vpc, `${REGION}b`, '10.0.2.0/24', 'main-private-b'),
    subnet(NET.publicSubnet, NET.vpc, `${REGION}a`, '10.0.101.0/24', 'main-public-a', true),
    subnet(NET.isolated.subnet, NET.isolated.vpc, `${REGION}a`, '10.1.1.0/24', 'isolated-a'),
  );

  const allEgress: IpPermission[] = [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [] }];
  const tcp = (port: number, from: { cidr?: string; group?: string }, Description?: string): IpPermission => ({
    IpProtocol: 'tcp',
    FromPort: port,
    ToPort: port,
    IpRanges: from.cidr ? [{ CidrIp: from.cidr, ...(Description ? { Description } : {}) }] : [],
    Ipv6Ranges: [],
    PrefixListIds: [],
    UserIdGroupPairs: from.group ? [{ GroupId: from.group, UserId: ACCOUNT, ...(Description ? { Description } : {}) }] : [],
  });
  const group = (GroupId: string, GroupName: string, VpcId: string, Description: string, ingress: IpPermission[], egress: IpPermission[]) => ({
    GroupId,
    GroupName,
    Description,
    VpcId,
    OwnerId: ACCOUNT,
    SecurityGroupArn: `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${GroupId}`,
    IpPermissions: ingress,
    IpPermissionsEgress: egress,
    Tags: name(GroupName),
  });
  ec2.securityGroups.push(
    group(
      NET.taskSecurityGroup,
      'web-tasks',
      NET.vpc,
      'ECS tasks behind the main ALB',
      [tcp(8080, { group: NET.albSecurityGroup }, 'from main-alb')],
      allEgress,
    ),
    group(NET.albSecurityGroup, 'main-alb', NET.vpc, 'main ALB', [tcp(443, { cidr: '0.0.0.0/0' }), tcp(80, { cidr: '0.0.0.0/0' })], allEgress),
    group(
      NET.isolated.securityGroup,
      'broken-tasks',
      NET.isolated.vpc,
      'tasks in the isolated VPC',
      [],
      [tcp(443, { cidr: '10.1.0.0/16' }, 'to VPC endpoints')],
    ),
    group(NET.isolated.endpointSecurityGroup, 'isolated-endpoints', NET.isolated.vpc, 'interface endpoints', [tcp(443, { cidr: '10.1.0.0/16' })], allEgress),
  );

  const S3_PREFIX_LIST = 'pl-63a5400a'; // com.amazonaws.us-east-1.s3
  const local = (cidr: string) => ({ DestinationCidrBlock: cidr, GatewayId: 'local', Origin: 'CreateRouteTable' as const, State: 'active' as const });
  const s3Route = (endpoint: string) => ({
    DestinationPrefixListId: S3_PREFIX_LIST,
    GatewayId: endpoint,
    Origin: 'CreateRoute' as const,
    State: 'active' as const,
  });
  const association = (table: string, subnet?: string) => ({
    RouteTableAssociationId: `rtbassoc-${hexId(`assoc/${table}/${subnet ?? 'main'}`, 17)}`,
    RouteTableId: table,
    ...(subnet ? { SubnetId: subnet, Main: false } : { Main: true }),
    AssociationState: { State: 'associated' as const },
  });
  const table = (RouteTableId: string, VpcId: string, label: string, Routes: Route[], Associations: RouteTableAssociation[]) => ({
    RouteTableId,
    VpcId,
    OwnerId: ACCOUNT,
    Routes,
    Associations,
    PropagatingVgws: [],
    Tags: name(label),
  });
  const viaNat = { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: NET.natGateway, Origin: 'CreateRoute' as const, State: 'active' as const };
  const { routeTables: rt } = NET;
  ec2.routeTables.push(
    table(
      rt.public,
      NET.vpc,
      'main-public',
      [local('10.0.0.0/16'), { DestinationCidrBlock: '0.0.0.0/0', GatewayId: NET.internetGateway, Origin: 'CreateRoute', State: 'active' }],
      [association(rt.public, NET.publicSubnet)],
    ),
    table(rt.privateA, NET.vpc, 'main-private-a', [local('10.0.0.0/16'), viaNat, s3Route(NET.s3Endpoint)], [association(rt.privateA, NET.privateSubnets[0])]),
    // private-b has no explicit association: it uses the VPC's main route table.
    table(rt.main, NET.vpc, 'main-default', [local('10.0.0.0/16'), viaNat, s3Route(NET.s3Endpoint)], [association(rt.main)]),
    table(
      NET.isolated.mainRouteTable,
      NET.isolated.vpc,
      'isolated-default',
      [local('10.1.0.0/16'), s3Route(NET.isolated.s3Endpoint)],
      [association(NET.isolated.mainRouteTable)],
    ),
  );

  const created = new Date(state.clock.now() - 300 * DAY);
  // EC2 sends endpoint states in lower case ("available") although the SDK's enum spells "Available".
  const available = 'available' as VpcEndpoint['State'];
  const gateway = (VpcEndpointId: string, VpcId: string, RouteTableIds: string[]) => ({
    VpcEndpointId,
    VpcEndpointType: 'Gateway' as const,
    VpcId,
    ServiceName: `com.amazonaws.${REGION}.s3`,
    State: available,
    RouteTableIds,
    SubnetIds: [],
    Groups: [],
    NetworkInterfaceIds: [],
    DnsEntries: [],
    PrivateDnsEnabled: false,
    RequesterManaged: false,
    CreationTimestamp: created,
    OwnerId: ACCOUNT,
    Tags: [],
  });
  ec2.vpcEndpoints.push(
    gateway(NET.s3Endpoint, NET.vpc, [rt.privateA, rt.main]),
    gateway(NET.isolated.s3Endpoint, NET.isolated.vpc, [NET.isolated.mainRouteTable]),
    ...NET.isolated.interfaceEndpoints.map((service) => {
      const id = `vpce-0${hexId(`vpce/isolated/${service}`, 16)}`;
      return {
        VpcEndpointId: id,
        VpcEndpointType: 'Interface' as const,
        VpcId: NET.isolated.vpc,
        ServiceName: `com.amazonaws.${REGION}.${service}`,
        State: available,
        RouteTableIds: [],
        SubnetIds: [NET.isolated.subnet],
        Groups: [{ GroupId: NET.isolated.endpointSecurityGroup, GroupName: 'isolated-endpoints' }],
        NetworkInterfaceIds: [`eni-0${hexId(`eni/${id}`, 16)}`],
        DnsEntries: [{ DnsName: `${id}-${hexId(`dns/${id}`, 8)}.${service}.${REGION}.vpce.amazonaws.com`, HostedZoneId: 'Z7HUB22UULQXV' }],
        PrivateDnsEnabled: true,
        RequesterManaged: false,
        IpAddressType: 'ipv4' as const,
        DnsOptions: { DnsRecordIpType: 'ipv4' as const },
        CreationTimestamp: created,
        OwnerId: ACCOUNT,
        Tags: [],
      };
    }),
  );
}
