/**
 * `bench`: a healthy service in cluster `main` with everything `/ecs verify` looks at, and all of it
 * right, for benchmarks and for tests that need a service passing every check:
 *
 *  - task definition `bench:3`, FARGATE 1.4.0 (1 vCPU, 2 GB), awsvpc in `main`'s private subnets
 *    (NAT route, S3 gateway endpoint), three containers, each an image in this account's ECR, each
 *    logging (awslogs) to `/ecs/bench`;
 *  - four secrets across them: two SSM SecureString parameters (one under the AWS managed key, one
 *    under the `alias/bench-secrets` CMK) and two Secrets Manager secrets (one read whole, one by
 *    its JSON key `password`, `…:password::`);
 *  - two load balancers: `app:8080` and `proxy:9443`, target groups (type ip) of the main ALB;
 *  - ECS Exec on the service and in both running tasks (agents RUNNING), the task role allowed
 *    the four ssmmessages actions;
 *  - roles trusting ecs-tasks, the execution role allowed ECR pull, logs, ssm:GetParameters,
 *    secretsmanager:GetSecretValue and kms:Decrypt via SSM / Secrets Manager on the keys used.
 *
 * seedSampleAccount() does not call it: tests and the verify benchmark do, on an emulator seeded
 * with the sample account (whose VPC, ALB, exec policy and key administrator it reuses).
 */
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { ecsSeeder } from './seed';
import { ecsTasksTrust, imageDigest, VERIFY_SEED } from './seed-verify';
import { ecrState, putImage, putRepository } from './services/ecr';
import { putTargetGroup } from './services/elbv2';
import { putRole } from './services/iam';
import { awsManagedKey, putKey } from './services/kms';
import { putLogGroup } from './services/logs';
import { putSecret } from './services/secretsmanager';
import { putParameter } from './services/ssm';
import { policyText, type PolicyDocument, type PolicyStatement } from './policy';
import { hexId, uuid, type EmulatorState } from './state';

const ACCOUNT = VERIFY_SEED.accountId;
const REGION = VERIFY_SEED.region;
const ECR = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const ecsArn = (resource: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:${resource}`;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const tgArn = (name: string, id: string) => `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/${name}/${id}`;
const KEY_ID = uuid('kms/bench-secrets');

/** Names, ids and ARNs of what seedVerifyBench() creates. */
export const BENCH = {
  cluster: 'main',
  clusterArn: ecsArn('cluster/main'),
  service: 'bench',
  serviceArn: ecsArn('service/main/bench'),
  taskDefinition: ecsArn('task-definition/bench:3'),
  deployment: 'ecs-svc/7302945187736510442',
  /** Task ids (the ARN is `arn:aws:ecs:us-east-1:111111111111:task/main/<id>`). */
  tasks: [hexId('task/bench/0'), hexId('task/bench/1')],
  images: {
    app: `${ECR}/bench/app:v2.3.0`,
    worker: `${ECR}/bench/worker:v2.3.0`,
    proxy: `${ECR}/bench/proxy:v1.31.2`,
  },
  logGroup: '/ecs/bench',
  roles: {
    task: roleArn('bench-task-role'),
    execution: roleArn('bench-execution-role'),
  },
  kms: {
    keyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/${KEY_ID}`,
    alias: 'alias/bench-secrets',
  },
  /** The task definition's `valueFrom`s, by container and variable name. */
  secrets: {
    app: {
      DATABASE_URL: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/bench/DATABASE_URL`,
      API_TOKEN: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:bench/api-token-Hq7Lm2`,
    },
    worker: {
      REDIS_URL: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/bench/REDIS_URL`,
      DB_PASSWORD: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:bench/db-credentials-P3xV9k:password::`,
    },
  },
  /** The secrets themselves (DB_PASSWORD's valueFrom without its JSON key). */
  secretArns: {
    apiToken: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:bench/api-token-Hq7Lm2`,
    dbCredentials: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:bench/db-credentials-P3xV9k`,
  },
  targetGroups: {
    app: tgArn('bench-app', '2f6a9c1e8b3d4a57'),
    proxy: tgArn('bench-proxy', '9d4e2b7a1c6f3e08'),
  },
  loadBalancers: [
    { targetGroupArn: tgArn('bench-app', '2f6a9c1e8b3d4a57'), containerName: 'app', containerPort: 8080 },
    { targetGroupArn: tgArn('bench-proxy', '9d4e2b7a1c6f3e08'), containerName: 'proxy', containerPort: 9443 },
  ],
  network: {
    subnets: [...VERIFY_SEED.network.privateSubnets],
    securityGroups: [VERIFY_SEED.network.taskSecurityGroup],
  },
} as const;

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const doc = (...Statement: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });

/** Adds `bench` (see above) to an emulator seeded with the sample account. */
export function seedVerifyBench(state: EmulatorState): void {
  const seed = ecsSeeder(state, { ipStart: 100 });
  const { ago, region: r } = seed;
  const cluster = r.ecs.clusters.get(BENCH.cluster);
  if (!cluster) throw new Error('seedVerifyBench needs the sample account: start the emulator with its default seed');
  if (cluster.services.has(BENCH.service)) throw new Error('bench is seeded already');

  // KMS: a CMK whose policy enables IAM policies, so the execution role's own statement decides.
  const ssmKey = awsManagedKey(r, 'ssm', ago(400 * DAY)).metadata.Arn!;
  const secretsKey = awsManagedKey(r, 'secretsmanager', ago(400 * DAY)).metadata.Arn!;
  putKey(r, {
    id: KEY_ID,
    alias: BENCH.kms.alias,
    description: 'bench application secrets',
    createdAt: ago(60 * DAY),
    policy: policyText(
      doc(
        { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
        {
          Sid: 'Allow access for Key Administrators',
          Effect: 'Allow',
          Principal: { AWS: VERIFY_SEED.roles.keyAdmin },
          Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:Put*', 'kms:Update*'],
          Resource: '*',
        },
      ),
    ),
  });

  // Secrets: SSM parameters under either key, Secrets Manager secrets under either key.
  const ssm = { regional: r, clock: state.clock };
  putParameter(ssm, { Name: '/bench/DATABASE_URL', Type: 'SecureString', Value: 'postgres://bench:local@db.internal:5432/bench', KeyId: BENCH.kms.alias });
  putParameter(ssm, { Name: '/bench/REDIS_URL', Type: 'SecureString', Value: 'rediss://bench:local@cache.internal:6379/0' });
  putSecret(r, { name: 'bench/api-token', suffix: 'Hq7Lm2', value: 'bench-api-token', createdDate: ago(60 * DAY) });
  putSecret(r, {
    name: 'bench/db-credentials',
    suffix: 'P3xV9k',
    value: JSON.stringify({ username: 'bench', password: 'local-bench-password', host: 'db.internal', port: 5432 }),
    createdDate: ago(60 * DAY),
    kmsKeyId: BENCH.kms.keyArn,
  });

  // IAM: trust ecs-tasks; exec on the task role; the execution role may do all a task launch needs.
  putRole(state, ACCOUNT, 'bench-task-role', { trust: ecsTasksTrust, attached: [VERIFY_SEED.policies.execSsmMessages], description: 'bench tasks' });
  const repositories = Object.values(BENCH.images).map((uri) => `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${uri.slice(ECR.length + 1).split(':')[0]}`);
  putRole(state, ACCOUNT, 'bench-execution-role', {
    trust: ecsTasksTrust,
    description: 'Pulls images, writes logs and reads secrets for bench tasks',
    inline: {
      'bench-execution': doc(
        { Sid: 'EcrAuth', Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
        {
          Sid: 'EcrPull',
          Effect: 'Allow',
          Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          Resource: repositories,
        },
        {
          Sid: 'Logs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${BENCH.logGroup}:*`,
        },
        { Sid: 'Parameters', Effect: 'Allow', Action: 'ssm:GetParameters', Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/bench/*` },
        { Sid: 'Secrets', Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:bench/*` },
        {
          Sid: 'DecryptSecrets',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: [BENCH.kms.keyArn, ssmKey, secretsKey],
          Condition: { StringEquals: { 'kms:ViaService': [`ssm.${REGION}.amazonaws.com`, `secretsmanager.${REGION}.amazonaws.com`] } },
        },
      ),
    },
  });

  // ECR: each image pushed before the task definition was registered, with the digest tasks report.
  Object.values(BENCH.images).forEach((uri, i) => {
    const [name, tag] = uri.slice(ECR.length + 1).split(':') as [string, string];
    const repo = ecrState(r).get(name) ?? putRepository(r, name, ago(180 * DAY));
    putImage(repo, { digest: imageDigest(uri), tags: [tag], pushedAt: ago(2 * DAY + 30 * MIN - i * MIN), sizeInBytes: 48_203_776 + i * 8_192 });
  });

  putLogGroup(r, BENCH.logGroup, ago(180 * DAY).getTime(), { retentionInDays: 30 });

  // ELBv2: two target groups of the main ALB, ports matching the containers'.
  const targetGroup = (arn: string, port: number, protocol: 'HTTP' | 'HTTPS', path: string) =>
    putTargetGroup(r, {
      TargetGroupArn: arn,
      TargetGroupName: arn.split('/')[1],
      Protocol: protocol,
      Port: port,
      VpcId: VERIFY_SEED.network.vpc,
      HealthCheckProtocol: protocol,
      HealthCheckPort: 'traffic-port',
      HealthCheckEnabled: true,
      HealthCheckIntervalSeconds: 15,
      HealthCheckTimeoutSeconds: 5,
      HealthyThresholdCount: 2,
      UnhealthyThresholdCount: 2,
      HealthCheckPath: path,
      Matcher: { HttpCode: '200' },
      LoadBalancerArns: [VERIFY_SEED.loadBalancer],
      TargetType: 'ip',
      ProtocolVersion: 'HTTP1',
      IpAddressType: 'ipv4',
    });
  targetGroup(BENCH.targetGroups.app, 8080, 'HTTP', '/healthz');
  targetGroup(BENCH.targetGroups.proxy, 9443, 'HTTPS', '/ready');

  // ECS -------------------------------------------------------------------------------------
  const logs = (prefix: string) => ({
    logDriver: 'awslogs' as const,
    options: { 'awslogs-group': BENCH.logGroup, 'awslogs-region': REGION, 'awslogs-stream-prefix': prefix },
  });
  const secrets = (map: Record<string, string>) => Object.entries(map).map(([name, valueFrom]) => ({ name, valueFrom }));
  const app: ContainerDefinition = {
    ...seed.appContainer('bench', BENCH.images.app, BENCH.secrets.app),
    memoryReservation: 1024,
    logConfiguration: logs('app'),
  };
  const worker: ContainerDefinition = {
    name: 'worker',
    image: BENCH.images.worker,
    cpu: 256,
    memoryReservation: 512,
    essential: true,
    command: ['node', 'dist/worker.js'],
    environment: [{ name: 'QUEUE', value: 'bench-jobs' }],
    secrets: secrets(BENCH.secrets.worker),
    logConfiguration: logs('worker'),
    portMappings: [],
    mountPoints: [],
    volumesFrom: [],
    systemControls: [],
  };
  const proxy: ContainerDefinition = {
    name: 'proxy',
    image: BENCH.images.proxy,
    cpu: 128,
    memoryReservation: 128,
    essential: true,
    portMappings: [{ containerPort: 9443, hostPort: 9443, protocol: 'tcp', name: 'https', appProtocol: 'http' }],
    environment: [{ name: 'UPSTREAM', value: 'http://localhost:8080' }],
    dependsOn: [{ containerName: 'app', condition: 'START' }],
    logConfiguration: logs('proxy'),
    mountPoints: [],
    volumesFrom: [],
    systemControls: [],
  };
  const definition = seed.taskDefinition(
    'bench',
    3,
    ago(2 * DAY),
    [app, worker, proxy],
    { task: 'bench-task-role', execution: 'bench-execution-role' },
    { cpu: '1024', memory: '2048' },
  );
  seed.register(definition);

  const [t1, t2] = BENCH.tasks;
  const D = BENCH.deployment;
  const network = {
    awsvpcConfiguration: { subnets: [...BENCH.network.subnets], securityGroups: [...BENCH.network.securityGroups], assignPublicIp: 'DISABLED' as const },
  };
  cluster.services.set(
    BENCH.service,
    seed.service(BENCH.service, {
      taskDefinition: BENCH.taskDefinition,
      createdAt: ago(180 * DAY),
      desiredCount: 2,
      runningCount: 2,
      loadBalancers: BENCH.loadBalancers.map((lb) => ({ ...lb })),
      healthCheckGracePeriodSeconds: 60,
      networkConfiguration: network,
      enableExecuteCommand: true,
      deploymentConfiguration: {
        deploymentCircuitBreaker: { enable: true, rollback: true },
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        strategy: 'ROLLING',
      },
      deployments: [
        seed.deployment(D, BENCH.taskDefinition, {
          desiredCount: 2,
          runningCount: 2,
          createdAt: ago(2 * DAY - 5 * MIN),
          updatedAt: ago(2 * DAY - 12 * MIN),
          networkConfiguration: network,
          rolloutState: 'COMPLETED',
          rolloutStateReason: `ECS deployment ${D} completed.`,
        }),
      ],
      events: seed.events(BENCH.service, [
        [ago(2 * HOUR), 'has reached a steady state.'],
        [ago(2 * DAY - 12 * MIN), `(deployment ${D}) deployment completed.`],
        ...BENCH.loadBalancers.map((lb): [Date, string] => [ago(2 * DAY - 7 * MIN), `registered 2 targets in (target-group ${lb.targetGroupArn})`]),
        [ago(2 * DAY - 5 * MIN), `has started 2 tasks: (task ${t1}) (task ${t2}).`],
      ]),
    }),
  );
  for (const id of BENCH.tasks) {
    seed.addTask(id, BENCH.service, BENCH.taskDefinition, D, {
      createdAt: ago(2 * DAY - 5 * MIN),
      startedAt: ago(2 * DAY - 4 * MIN),
      subnets: [...BENCH.network.subnets],
    });
  }
}
