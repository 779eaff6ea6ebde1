/**
 * The sample account the local world and tests start from: account 111111111111, us-east-1,
 * cluster `main` with six services that exercise the bot's reporting and deploying:
 *
 *  - `web`     healthy: 2/2 running, deployment COMPLETED, exec enabled, behind a target group,
 *              circuit breaker on without rollback (the bot rolls back itself);
 *  - `broken`  1/2 running: its PRIMARY deployment (`broken:7`, moved into an isolated VPC, exec
 *              turned on, a target group that no longer exists) is IN_PROGRESS and its tasks are
 *              stopped by a missing image / denied secret, retried (and failing) every few minutes;
 *              the one task still running is from the ACTIVE `broken:6` deployment, started before
 *              exec was enabled (see VERIFY_SEED.problems in seed-verify.ts);
 *  - `manager` 1/1 running, the long-lived container maintenance scripts run in;
 *  - `web-bg`, `web-canary` and `web-linear` 2/2 running web:42, deployed by ECS itself with the
 *              BLUE_GREEN strategy (bake 15 min, a PAUSE hook at POST_TEST_TRAFFIC_SHIFT: a pause
 *              before production traffic), the CANARY strategy (10% for 5 min, bake 15 min) and the
 *              LINEAR strategy (25% every 2 min, bake 10 min), each between two target groups of
 *              the `main` load balancer;
 *
 * and cluster `blue-green` with `legacy`, deployed by CodeDeploy (deploymentController CODE_DEPLOY,
 * application and deployment group `legacy` between target groups legacy-blue and legacy-green, see
 * codedeploy.ts), which a rolling `/ecs deploy` must refuse. It has its own cluster so `main`'s counts stay as above.
 * Images listed in `state.failingImages` make tasks fail: any `:does-not-exist` tag cannot be pulled,
 * `web:v2-crash` and `legacy:v3-crash` exit with code 1 and `web:v2-oom` is killed for memory, both soon after starting.
 *
 * Ids are derived from fixed labels, so ARNs are identical on every run (see SAMPLE); timestamps
 * are relative to the emulator clock at seeding time. ecsSeeder() holds the builders used here, so
 * other seeds (seed-bench.ts) add services the same way.
 */
import { ECS_DESIRED_COUNT, registerScalableTarget } from './services/application-autoscaling';
import { ecsAppSpec, LIFECYCLE_EVENTS, putCodeDeployApplication, putCompletedDeployment } from './codedeploy';
import type { Container, ContainerDefinition, Deployment, NetworkConfiguration, Service, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import { unplaceableFamilies } from './one-off-tasks';
import { EcsScheduler } from './rollout';
import { putMetricAlarm, transitionAlarm } from './services/cloudwatch';
import { putParameter } from './services/ssm';
import { seedVerifyAccount, VERIFY_SEED } from './seed-verify';
import { ACCOUNT, ECR, ecsArn, REGION, role, SAMPLE, SUBNET_LAYOUT, SUBNETS, taskIds } from './sample';
import { arns, hexId, uuid, type EmulatorState, type RegionState } from './state';

/** The local ticket webhook source's secret and where it is kept (README, "Starting work from a ticket system"). */
export const LOCAL_WEBHOOK_SECRET_PARAM = '/ecs-chatops/webhooks/tickets';
export const LOCAL_WEBHOOK_SECRET = 'local-webhook-secret';

export { SAMPLE };

export interface SeedOptions {
  /** Value of the SecureString `/ecs-chatops/slack/signing-secret`. */
  slackSigningSecret?: string;
  /** Value of the SecureString `/ecs-chatops/slack/bot-token`. */
  slackBotToken?: string;
}

const NETWORK: NetworkConfiguration = {
  awsvpcConfiguration: { subnets: SUBNETS, securityGroups: ['sg-0123456789abcdef0'], assignPublicIp: 'DISABLED' },
};
/**
 * Where broken:7 moved `broken`: the isolated VPC (no NAT, no ecr.dkr or ssmmessages endpoint), see
 * VERIFY_SEED.network.isolated (repeated here: seed-verify.ts may not be read at load time).
 */
const ISOLATED_NETWORK: NetworkConfiguration = {
  awsvpcConfiguration: { subnets: ['subnet-0b1c2d3e4f5a6b7c8'], securityGroups: ['sg-0a9b8c7d6e5f4a3b2'], assignPublicIp: 'DISABLED' },
};
/** VERIFY_SEED.targetGroups.missing: named by broken's loadBalancers, never created. */
const MISSING_TARGET_GROUP = `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/broken/0b5e7c9a1d3f2e4c`;
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export interface SeedTaskSpec {
  createdAt: Date;
  startedAt?: Date;
  stoppedAt?: Date;
  stoppedReason?: string;
  stopCode?: Task['stopCode'];
  /** Overrides for the `app` container. */
  container?: Partial<Container>;
  /** Default `main`. */
  clusterName?: string;
  /** The subnets the task's ENI is spread over (default: the private subnets of `main`'s VPC). */
  subnets?: string[];
  /** Was ECS Exec on when the task started? (default true: agents run in every container). */
  exec?: boolean;
}

/**
 * Builders for seeding ECS in account 111111111111/us-east-1 with the SDK's own shapes, shared by
 * the sample seed and seed-bench.ts. Each seeder numbers task IPs on its own from `ipStart`.
 */
export function ecsSeeder(state: EmulatorState, options: { ipStart?: number } = {}) {
  const now = state.clock.now();
  const ago = (ms: number) => new Date(now - ms);
  const r: RegionState = state.region(ACCOUNT, REGION);
  let ipSuffix = options.ipStart ?? 10;

  const appContainer = (family: string, image: string, secrets: Record<string, string>, logGroup = `/ecs/${family}`): ContainerDefinition => ({
    name: 'app',
    image,
    cpu: 0,
    essential: true,
    portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' as const, name: 'http', appProtocol: 'http' as const }],
    environment: [
      { name: 'NODE_ENV', value: 'production' },
      { name: 'PORT', value: '8080' },
    ],
    secrets: Object.entries(secrets).map(([name, valueFrom]) => ({ name, valueFrom })),
    logConfiguration: {
      logDriver: 'awslogs' as const,
      options: { 'awslogs-group': logGroup, 'awslogs-region': REGION, 'awslogs-stream-prefix': family },
    },
    mountPoints: [],
    volumesFrom: [],
    systemControls: [],
  });
  const logRouter = (family: string): ContainerDefinition => ({
    name: 'log-router',
    image: SAMPLE.images.logRouter,
    cpu: 0,
    memoryReservation: 50,
    essential: true,
    user: '0',
    firelensConfiguration: { type: 'fluentbit' as const, options: { 'enable-ecs-log-metadata': 'true' } },
    logConfiguration: {
      logDriver: 'awslogs' as const,
      options: { 'awslogs-group': `/ecs/${family}`, 'awslogs-region': REGION, 'awslogs-stream-prefix': 'firelens' },
    },
    environment: [],
    mountPoints: [],
    portMappings: [],
    volumesFrom: [],
    systemControls: [],
  });
  const taskDefinition = (
    family: string,
    revision: number,
    registeredAt: Date,
    containerDefinitions: TaskDefinition['containerDefinitions'],
    roles: { task: string; execution: string },
    size: { cpu: string; memory: string } = { cpu: '512', memory: '1024' },
  ): TaskDefinition => ({
    taskDefinitionArn: ecsArn(`task-definition/${family}:${revision}`),
    family,
    revision,
    containerDefinitions,
    taskRoleArn: role(roles.task),
    executionRoleArn: role(roles.execution),
    networkMode: 'awsvpc',
    volumes: [],
    status: 'ACTIVE',
    requiresAttributes: [
      'com.amazonaws.ecs.capability.logging-driver.awslogs',
      'ecs.capability.execution-role-awslogs',
      'com.amazonaws.ecs.capability.ecr-auth',
      'com.amazonaws.ecs.capability.task-iam-role',
      'ecs.capability.execution-role-ecr-pull',
      'ecs.capability.secrets.ssm.environment-variables',
      'ecs.capability.secrets.asm.environment-variables',
      'ecs.capability.task-eni',
    ].map((name) => ({ name })),
    placementConstraints: [],
    compatibilities: ['EC2', 'FARGATE'],
    requiresCompatibilities: ['FARGATE'],
    cpu: size.cpu,
    memory: size.memory,
    runtimePlatform: { cpuArchitecture: 'X86_64', operatingSystemFamily: 'LINUX' },
    registeredAt,
    registeredBy: `arn:aws:sts::${ACCOUNT}:assumed-role/github-actions-deploy/GitHubActions`,
  });
  /** Stores a task definition (tagged with its family, as the sample account's pipeline does). */
  const register = (def: TaskDefinition) =>
    r.ecs.taskDefinitions.set(`${def.family}:${def.revision}`, { taskDefinition: def, tags: [{ key: 'service', value: def.family! }] });
  const def = (familyRevision: string) => r.ecs.taskDefinitions.get(familyRevision)!.taskDefinition;

  const events = (service: string, list: Array<[Date, string]>) =>
    list.map(([createdAt, message], i) => ({ id: uuid(`event/${service}/${i}`), createdAt, message: `(service ${service}) ${message}` }));
  /** A service of cluster `main` (pass serviceArn and clusterArn for another cluster). */
  const service = (name: string, spec: Partial<Service> & { taskDefinition: string; createdAt: Date }): Service => ({
    serviceArn: arns.service(r, 'main', name),
    serviceName: name,
    clusterArn: SAMPLE.clusterArn,
    loadBalancers: [],
    serviceRegistries: [],
    status: 'ACTIVE',
    pendingCount: 0,
    launchType: 'FARGATE',
    platformVersion: '1.4.0',
    platformFamily: 'Linux',
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: false, rollback: false },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
      strategy: 'ROLLING',
    },
    roleArn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`,
    placementConstraints: [],
    placementStrategy: [],
    networkConfiguration: NETWORK,
    schedulingStrategy: 'REPLICA',
    deploymentController: { type: 'ECS' },
    createdBy: role('github-actions-deploy'),
    enableECSManagedTags: true,
    propagateTags: 'SERVICE',
    enableExecuteCommand: true,
    availabilityZoneRebalancing: 'ENABLED',
    tags: [{ key: 'service', value: name }],
    ...spec,
  });
  const deployment = (id: string, taskDefinition: string, spec: Partial<Deployment>): Deployment => ({
    id,
    status: 'PRIMARY',
    taskDefinition,
    launchType: 'FARGATE' as const,
    platformVersion: '1.4.0',
    platformFamily: 'Linux',
    networkConfiguration: NETWORK,
    pendingCount: 0,
    failedTasks: 0,
    ...spec,
  });

  /** A task as Fargate reports it: RUNNING unless stoppedAt is given; started (image pulled) if startedAt is. */
  const addTask = (id: string, service: string, taskDefinitionArn: string, startedBy: string, spec: SeedTaskSpec): Task => {
    const clusterName = spec.clusterName ?? 'main';
    const taskDef = def(taskDefinitionArn.slice(taskDefinitionArn.lastIndexOf('/') + 1));
    const stopped = !!spec.stoppedAt;
    const exec = spec.exec ?? true;
    const subnets = spec.subnets ?? SUBNETS;
    const subnet = subnets[ipSuffix % subnets.length]!;
    const layout = SUBNET_LAYOUT[subnet] ?? { az: `${REGION}a`, prefix: '10.0.1' };
    const ip = `${layout.prefix}.${ipSuffix++}`;
    const eni = `eni-0${hexId(`eni/${id}`, 16)}`;
    const attachmentId = uuid(`attachment/${id}`);
    const taskArn = arns.task(r, clusterName, id);
    const at = (ms: number) => new Date(spec.createdAt.getTime() + ms);
    const task: Task = {
      taskArn,
      clusterArn: arns.cluster(r, clusterName),
      taskDefinitionArn,
      group: `service:${service}`,
      startedBy,
      launchType: 'FARGATE',
      capacityProviderName: 'FARGATE',
      platformVersion: '1.4.0',
      platformFamily: 'Linux',
      availabilityZone: layout.az,
      cpu: taskDef.cpu!,
      memory: taskDef.memory!,
      desiredStatus: stopped ? 'STOPPED' : 'RUNNING',
      lastStatus: stopped ? 'STOPPED' : 'RUNNING',
      healthStatus: 'UNKNOWN',
      connectivity: 'CONNECTED',
      connectivityAt: at(5_000),
      createdAt: spec.createdAt,
      pullStartedAt: at(15_000),
      ...(spec.startedAt || !stopped ? { pullStoppedAt: at(25_000) } : {}),
      ...(spec.startedAt ? { startedAt: spec.startedAt } : {}),
      ...(stopped
        ? {
            stoppingAt: new Date(spec.stoppedAt!.getTime() - 30_000),
            executionStoppedAt: new Date(spec.stoppedAt!.getTime() - 20_000),
            stoppedAt: spec.stoppedAt!,
            stoppedReason: spec.stoppedReason!,
            stopCode: spec.stopCode!,
          }
        : {}),
      enableExecuteCommand: exec,
      version: stopped ? 5 : 3,
      ephemeralStorage: { sizeInGiB: 20 },
      fargateEphemeralStorage: { sizeInGiB: 20 },
      attachments: [
        {
          id: attachmentId,
          type: 'ElasticNetworkInterface',
          status: stopped ? 'DELETED' : 'ATTACHED',
          details: [
            { name: 'subnetId', value: subnet },
            { name: 'networkInterfaceId', value: eni },
            { name: 'macAddress', value: `0e:${hexId(`mac/${id}`, 10).match(/../g)!.join(':')}` },
            { name: 'privateDnsName', value: `ip-${ip.replaceAll('.', '-')}.ec2.internal` },
            { name: 'privateIPv4Address', value: ip },
          ],
        },
      ],
      tags: [{ key: 'service', value: service }],
      containers: taskDef.containerDefinitions!.map((c, i): Container => {
        const main = c.name === 'app';
        return {
          containerArn: arns.container(r, clusterName, id, uuid(`container/${id}/${c.name}`)),
          taskArn,
          name: c.name!,
          image: c.image!,
          ...(spec.startedAt ? { imageDigest: `sha256:${hexId(`digest/${c.image}`, 64)}`, runtimeId: `${id}-${1524858232 + i}` } : {}),
          lastStatus: stopped ? 'STOPPED' : 'RUNNING',
          ...(stopped && spec.startedAt ? { exitCode: 0 } : {}),
          networkBindings: [],
          networkInterfaces: [{ attachmentId, privateIpv4Address: ip }],
          healthStatus: 'UNKNOWN',
          cpu: String(c.cpu ?? 0),
          ...(c.memoryReservation ? { memoryReservation: String(c.memoryReservation) } : {}),
          // ECS Exec's agent runs in every container of an exec-enabled task.
          managedAgents:
            spec.startedAt && exec
              ? [{ name: 'ExecuteCommandAgent', lastStatus: stopped ? 'STOPPED' : 'RUNNING', lastStartedAt: new Date(spec.startedAt.getTime() - 2_000) }]
              : [],
          ...(main ? spec.container : {}),
        };
      }),
    };
    r.ecs.clusters.get(clusterName)!.tasks.set(id, task);
    return task;
  };

  return { now, ago, region: r, appContainer, logRouter, taskDefinition, register, def, events, service, deployment, addTask };
}

export function seedSampleAccount(state: EmulatorState, options: SeedOptions = {}): void {
  const seed = ecsSeeder(state);
  const { now, ago, region: r, appContainer, logRouter, taskDefinition, events, service, deployment, addTask } = seed;

  for (const name of [
    'ecs-chatops-target',
    'web-task-role',
    'web-execution-role',
    'broken-task-role',
    'broken-execution-role',
    'manager-task-role',
    'legacy-task-role',
    'legacy-execution-role',
  ]) {
    state.addRole(ACCOUNT, name);
  }
  state.addRole('222222222222', 'ecs-chatops-target');

  // Parameter Store: the bot's Slack secrets plus the services' own configuration.
  const ssm = { regional: r, clock: state.clock };
  putParameter(ssm, { Name: '/ecs-chatops/slack/signing-secret', Type: 'SecureString', Value: options.slackSigningSecret ?? 'local-signing-secret' });
  putParameter(ssm, { Name: '/ecs-chatops/slack/bot-token', Type: 'SecureString', Value: options.slackBotToken ?? 'xoxb-local-bot-token' });
  // The ticket webhook source `tickets` of the example configuration (webhooks.tickets.secretParam).
  putParameter(ssm, { Name: LOCAL_WEBHOOK_SECRET_PARAM, Type: 'SecureString', Value: LOCAL_WEBHOOK_SECRET });
  putParameter(ssm, { Name: '/web/DATABASE_URL', Type: 'SecureString', Value: 'postgres://web:local@db.internal:5432/web' });
  putParameter(ssm, { Name: '/broken/DATABASE_URL', Type: 'SecureString', Value: 'postgres://broken:local@db.internal:5432/broken' });
  // What `/ecs verify` checks: roles' policies, images, log groups, secrets, keys, target group, network.
  seedVerifyAccount(state);

  // Images whose tasks fail (rollout.ts decides a task's fate from them when it launches).
  state.failingImages.push(
    { image: /:does-not-exist$/, mode: 'pull' },
    { image: SAMPLE.images.webCrash, mode: 'crash', exitCode: 1 },
    { image: SAMPLE.images.legacyCrash, mode: 'crash', exitCode: 1 },
    {
      image: SAMPLE.images.webOom,
      mode: 'crash',
      exitCode: 137,
      stoppedReason: 'OutOfMemoryError: Container killed due to memory usage',
      containerReason: 'OutOfMemoryError: Container killed due to memory usage',
    },
  );
  seedWebAlarms(state, r, now);

  r.ecs.clusters.set('main', {
    cluster: {
      clusterArn: SAMPLE.clusterArn,
      clusterName: 'main',
      status: 'ACTIVE',
      configuration: { executeCommandConfiguration: { logging: 'DEFAULT' } },
      settings: [{ name: 'containerInsights', value: 'enabled' }],
      capacityProviders: ['FARGATE', 'FARGATE_SPOT'],
      defaultCapacityProviderStrategy: [],
      tags: [{ key: 'environment', value: 'local' }],
    },
    services: new Map(),
    tasks: new Map(),
  });
  r.ecs.clusters.set(SAMPLE.legacyCluster, {
    cluster: {
      clusterArn: SAMPLE.legacyClusterArn,
      clusterName: SAMPLE.legacyCluster,
      status: 'ACTIVE',
      capacityProviders: ['FARGATE'],
      defaultCapacityProviderStrategy: [],
    },
    services: new Map(),
    tasks: new Map(),
  });

  // Task definitions --------------------------------------------------------------------------
  const webRoles = { task: 'web-task-role', execution: 'web-execution-role' };
  const webSecrets = { DATABASE_URL: SAMPLE.secrets.webDatabaseUrl, API_KEY: SAMPLE.secrets.webApiKey };
  const brokenRoles = { task: 'broken-task-role', execution: 'broken-execution-role' };
  const brokenSecrets = { DATABASE_URL: SAMPLE.secrets.brokenDatabaseUrl, API_KEY: SAMPLE.secrets.brokenApiKey };
  const defs = [
    taskDefinition('web', 41, ago(12 * DAY), [appContainer('web', SAMPLE.images.webPrevious, webSecrets), logRouter('web')], webRoles),
    taskDefinition('web', 42, ago(50 * MIN), [appContainer('web', SAMPLE.images.web, webSecrets), logRouter('web')], webRoles),
    // broken:6 is what ran before: a good image, and the log group of an older naming scheme.
    taskDefinition('broken', 6, ago(3 * DAY + 10 * MIN), [appContainer('broken', SAMPLE.images.webPrevious, brokenSecrets, '/ecs/broken-v1')], brokenRoles),
    taskDefinition('broken', 7, ago(26 * MIN), [appContainer('broken', SAMPLE.images.broken, brokenSecrets)], brokenRoles),
    taskDefinition('legacy', 12, ago(30 * DAY), [appContainer('legacy', SAMPLE.images.legacy, {})], {
      task: 'legacy-task-role',
      execution: 'legacy-execution-role',
    }),
    taskDefinition(
      'manager',
      3,
      ago(6 * DAY),
      [{ ...appContainer('manager', SAMPLE.images.web, { DATABASE_URL: SAMPLE.secrets.webDatabaseUrl }), command: ['sleep', 'infinity'], portMappings: [] }],
      { task: 'manager-task-role', execution: 'web-execution-role' },
    ),
    // Task definitions of one-off jobs only (never a service's): reindex's image was never pushed,
    // and bulk-import's tasks cannot be placed (the capacity fault below).
    taskDefinition('reindex', 1, ago(2 * DAY), [{ ...appContainer('reindex', SAMPLE.images.broken, webSecrets), portMappings: [] }], webRoles),
    taskDefinition('bulk-import', 1, ago(2 * DAY), [{ ...appContainer('bulk-import', SAMPLE.images.web, webSecrets), portMappings: [] }], webRoles),
  ];
  for (const d of defs) seed.register(d);
  unplaceableFamilies(state).add('bulk-import');

  // Services ----------------------------------------------------------------------------------
  const [web1, web2] = SAMPLE.tasks.webRunning;
  const [b1, b2, b3, b4] = SAMPLE.tasks.brokenStopped;
  const [brokenOld] = SAMPLE.tasks.brokenRunning;
  const [mgr] = SAMPLE.tasks.managerRunning;
  const cluster = r.ecs.clusters.get('main')!;
  const tg = SAMPLE.targetGroupArn;
  const D = SAMPLE.deployments;

  cluster.services.set(
    'web',
    service('web', {
      taskDefinition: SAMPLE.taskDefinitions.web,
      createdAt: ago(200 * DAY),
      desiredCount: 2,
      runningCount: 2,
      loadBalancers: [{ targetGroupArn: tg, containerName: 'app', containerPort: 8080 }],
      healthCheckGracePeriodSeconds: 60,
      // The breaker stops a failing rollout; rolling back is left to the bot, which reports it.
      deploymentConfiguration: {
        deploymentCircuitBreaker: { enable: true, rollback: false },
        maximumPercent: 200,
        minimumHealthyPercent: 100,
        strategy: 'ROLLING',
      },
      deployments: [
        deployment(D.web, SAMPLE.taskDefinitions.web, {
          desiredCount: 2,
          runningCount: 2,
          createdAt: ago(45 * MIN),
          updatedAt: ago(38 * MIN),
          rolloutState: 'COMPLETED',
          rolloutStateReason: `ECS deployment ${D.web} completed.`,
        }),
      ],
      events: events('web', [
        [ago(37 * MIN), 'has reached a steady state.'],
        [ago(38 * MIN), `(deployment ${D.web}) deployment completed.`],
        [ago(40 * MIN), `has stopped 1 running tasks: (task ${SAMPLE.tasks.webStopped}).`],
        [ago(41 * MIN), `deregistered 1 targets in (target-group ${tg})`],
        [ago(42 * MIN), `registered 2 targets in (target-group ${tg})`],
        [ago(44 * MIN), `has started 2 tasks: (task ${web1}) (task ${web2}).`],
        [ago(6 * HOUR), 'has reached a steady state.'],
      ]),
    }),
  );

  const unableToPlace =
    'was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.';
  // One UpdateService 25 minutes ago deployed broken:7, turned exec on, scaled 1 → 2, moved the service
  // into the isolated VPC and put it behind a target group that has since been deleted. broken:6's
  // task keeps running (minimumHealthyPercent 100 keeps it until a broken:7 task is healthy), without
  // exec, since ECS only applies enableExecuteCommand to tasks started after the change.
  cluster.services.set(
    'broken',
    service('broken', {
      taskDefinition: SAMPLE.taskDefinitions.broken,
      createdAt: ago(120 * DAY),
      desiredCount: 2,
      runningCount: 1,
      loadBalancers: [{ targetGroupArn: MISSING_TARGET_GROUP, containerName: 'app', containerPort: 8080 }],
      healthCheckGracePeriodSeconds: 60,
      networkConfiguration: ISOLATED_NETWORK,
      enableExecuteCommand: true,
      deployments: [
        deployment(D.broken, SAMPLE.taskDefinitions.broken, {
          desiredCount: 2,
          runningCount: 0,
          failedTasks: 4,
          createdAt: ago(25 * MIN),
          updatedAt: ago(2 * MIN),
          networkConfiguration: ISOLATED_NETWORK,
          rolloutState: 'IN_PROGRESS',
          rolloutStateReason: `ECS deployment ${D.broken} in progress.`,
        }),
        deployment(D.brokenPrevious, SAMPLE.taskDefinitions.brokenPrevious, {
          status: 'ACTIVE',
          desiredCount: 1,
          runningCount: 1,
          createdAt: ago(3 * DAY),
          updatedAt: ago(25 * MIN),
          rolloutState: 'COMPLETED',
          rolloutStateReason: `ECS deployment ${D.brokenPrevious} completed.`,
        }),
      ],
      events: events('broken', [
        [ago(3 * MIN), `has started 1 tasks: (task ${b4}).`],
        [ago(8 * MIN), unableToPlace],
        [ago(12 * MIN), `has started 1 tasks: (task ${b3}).`],
        [ago(24 * MIN), `has started 2 tasks: (task ${b1}) (task ${b2}).`],
        [ago(6 * HOUR), 'has reached a steady state.'],
        [ago(3 * DAY - 4 * MIN), `(deployment ${D.brokenPrevious}) deployment completed.`],
        [ago(3 * DAY - 5 * MIN), `has started 1 tasks: (task ${brokenOld}).`],
      ]),
    }),
  );
  // After four failed starts ECS backs off: broken's next attempt (which fails again) is minutes away,
  // so it keeps failing in the playground while tests that do not move the clock see the seed as is.
  Object.assign(new EcsScheduler(state, r, cluster).service(cluster.services.get('broken')!), {
    consecutiveFailures: 4,
    launchNotBefore: now + 4 * MIN,
  });

  cluster.services.set(
    'manager',
    service('manager', {
      taskDefinition: SAMPLE.taskDefinitions.manager,
      createdAt: ago(90 * DAY),
      desiredCount: 1,
      runningCount: 1,
      deployments: [
        deployment(D.manager, SAMPLE.taskDefinitions.manager, {
          desiredCount: 1,
          runningCount: 1,
          createdAt: ago(6 * DAY),
          updatedAt: ago(6 * DAY - 4 * MIN),
          rolloutState: 'COMPLETED',
          rolloutStateReason: `ECS deployment ${D.manager} completed.`,
        }),
      ],
      events: events('manager', [
        [ago(3 * HOUR), 'has reached a steady state.'],
        [ago(6 * DAY - 4 * MIN), `(deployment ${D.manager}) deployment completed.`],
        [ago(6 * DAY - 5 * MIN), `has started 1 tasks: (task ${mgr}).`],
      ]),
    }),
  );
  // ECS-native blue/green, canary and linear: the next deployment runs the strategy's stages (rollout.ts).
  const native = (
    name: 'web-bg' | 'web-canary' | 'web-linear',
    key: 'webBg' | 'webCanary' | 'webLinear',
    strategy: Partial<Service['deploymentConfiguration']>,
    rules: { production: string; test?: string },
  ) => {
    const [blueGroup, greenGroup] = SAMPLE.nativeTargetGroupArns[key];
    const id = D[key];
    cluster.services.set(
      name,
      service(name, {
        taskDefinition: SAMPLE.taskDefinitions.web,
        createdAt: ago(20 * DAY),
        desiredCount: 2,
        runningCount: 2,
        loadBalancers: [
          {
            targetGroupArn: blueGroup,
            containerName: 'app',
            containerPort: 8080,
            advancedConfiguration: {
              alternateTargetGroupArn: greenGroup,
              productionListenerRule: rules.production,
              ...(rules.test ? { testListenerRule: rules.test } : {}),
              roleArn: SAMPLE.loadBalancerInfrastructureRole,
            },
          },
        ],
        healthCheckGracePeriodSeconds: 60,
        deploymentConfiguration: {
          deploymentCircuitBreaker: { enable: true, rollback: true },
          maximumPercent: 200,
          minimumHealthyPercent: 100,
          ...strategy,
        },
        deployments: [
          deployment(id, SAMPLE.taskDefinitions.web, {
            desiredCount: 2,
            runningCount: 2,
            createdAt: ago(2 * DAY),
            updatedAt: ago(2 * DAY - 30 * MIN),
            rolloutState: 'COMPLETED',
            rolloutStateReason: `ECS deployment ${id} completed.`,
          }),
        ],
        events: events(name, [
          [ago(2 * HOUR), 'has reached a steady state.'],
          [ago(2 * DAY - 30 * MIN), `(deployment ${id}) deployment completed.`],
        ]),
      }),
    );
  };
  native(
    'web-bg',
    'webBg',
    {
      strategy: 'BLUE_GREEN',
      bakeTimeInMinutes: 15,
      lifecycleHooks: [
        { targetType: 'PAUSE', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'], timeoutConfiguration: { timeoutInMinutes: 60, action: 'ROLLBACK' } },
      ],
    },
    { production: SAMPLE.listenerRules.webBgProduction, test: SAMPLE.listenerRules.webBgTest },
  );
  native(
    'web-canary',
    'webCanary',
    { strategy: 'CANARY', bakeTimeInMinutes: 15, canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 5 } },
    { production: SAMPLE.listenerRules.webCanaryProduction },
  );
  native(
    'web-linear',
    'webLinear',
    { strategy: 'LINEAR', bakeTimeInMinutes: 10, linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 2 } },
    { production: SAMPLE.listenerRules.webLinearProduction },
  );

  // Blue/green through CodeDeploy: a task set instead of deployments, and no rolling updates.
  const [legacy1, legacy2] = SAMPLE.tasks.legacyRunning;
  const legacyTaskSet = SAMPLE.deployments.legacyTaskSet;
  const [blue] = SAMPLE.legacyTargetGroupArns;
  const legacyLb = [{ targetGroupArn: blue, containerName: 'app', containerPort: 8080 }];
  r.ecs.clusters.get(SAMPLE.legacyCluster)!.services.set(
    'legacy',
    service('legacy', {
      serviceArn: SAMPLE.services.legacy,
      clusterArn: SAMPLE.legacyClusterArn,
      taskDefinition: SAMPLE.taskDefinitions.legacy,
      createdAt: ago(400 * DAY),
      desiredCount: 2,
      runningCount: 2,
      loadBalancers: legacyLb,
      deploymentController: { type: 'CODE_DEPLOY' },
      deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100 },
      deployments: [],
      taskSets: [
        {
          id: legacyTaskSet,
          taskSetArn: arns.taskSet(r, SAMPLE.legacyCluster, 'legacy', legacyTaskSet),
          serviceArn: SAMPLE.services.legacy,
          clusterArn: SAMPLE.legacyClusterArn,
          startedBy: 'CodeDeploy',
          externalId: 'd-7XK2M4Q9B',
          status: 'PRIMARY',
          taskDefinition: SAMPLE.taskDefinitions.legacy,
          computedDesiredCount: 2,
          pendingCount: 0,
          runningCount: 2,
          createdAt: ago(30 * DAY),
          updatedAt: ago(30 * DAY - 6 * MIN),
          launchType: 'FARGATE',
          platformVersion: '1.4.0',
          platformFamily: 'Linux',
          networkConfiguration: NETWORK,
          loadBalancers: legacyLb,
          serviceRegistries: [],
          scale: { value: 100, unit: 'PERCENT' },
          stabilityStatus: 'STEADY_STATE',
          stabilityStatusAt: ago(30 * DAY - 6 * MIN),
        },
      ],
      events: [
        [ago(2 * HOUR), 'has reached a steady state.'],
        [ago(30 * DAY - 6 * MIN), `(service legacy, taskSet ${legacyTaskSet}) registered 2 targets in (target-group ${blue})`],
        [ago(30 * DAY - 7 * MIN), `(service legacy, taskSet ${legacyTaskSet}) has started 2 tasks: (task ${legacy1}) (task ${legacy2}).`],
      ].map(([createdAt, message], i) => ({
        id: uuid(`event/legacy/${i}`),
        createdAt: createdAt as Date,
        message: String(message).startsWith('(service') ? String(message) : `(service legacy) ${message}`,
      })),
    }),
  );

  seedLegacyCodeDeploy(r, ago, legacyTaskSet);

  // Tasks -------------------------------------------------------------------------------------
  const pullFailure = (image: string) =>
    `CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref ${image}: ${image}: not found`;
  const secretFailure = (taskId: string) =>
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: ' +
    'unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret ' +
    `${SAMPLE.secrets.brokenApiKey} from secrets manager: operation error Secrets Manager: GetSecretValue, ` +
    `https response error StatusCode: 400, RequestID: ${uuid(`request/${taskId}`)}, api error AccessDeniedException: ` +
    `User: arn:aws:sts::${ACCOUNT}:assumed-role/broken-execution-role/${taskId} is not authorized to perform: ` +
    `secretsmanager:GetSecretValue on resource: ${SAMPLE.secrets.brokenApiKey} because no identity-based policy ` +
    'allows the secretsmanager:GetSecretValue action';

  addTask(SAMPLE.tasks.webStopped, 'web', SAMPLE.taskDefinitions.webPrevious, D.webPrevious, {
    createdAt: ago(12 * DAY),
    startedAt: ago(12 * DAY - MIN),
    stoppedAt: ago(40 * MIN),
    stoppedReason: `Scaling activity initiated by (deployment ${D.web})`,
    stopCode: 'ServiceSchedulerInitiated',
  });
  addTask(web1!, 'web', SAMPLE.taskDefinitions.web, D.web, { createdAt: ago(44 * MIN), startedAt: ago(43 * MIN) });
  addTask(web2!, 'web', SAMPLE.taskDefinitions.web, D.web, { createdAt: ago(44 * MIN), startedAt: ago(43 * MIN) });
  const isolated = ISOLATED_NETWORK.awsvpcConfiguration!.subnets!;
  const failedToStart = (createdAt: Date, reason: string, container?: Partial<Container>) => ({
    createdAt,
    stoppedAt: new Date(createdAt.getTime() + 70_000),
    stoppedReason: reason,
    stopCode: 'TaskFailedToStart' as const,
    subnets: isolated,
    ...(container ? { container } : {}),
  });
  const pull = pullFailure(SAMPLE.images.broken);
  addTask(b1!, 'broken', SAMPLE.taskDefinitions.broken, D.broken, failedToStart(ago(24 * MIN), pull, { reason: pull }));
  addTask(b2!, 'broken', SAMPLE.taskDefinitions.broken, D.broken, failedToStart(ago(24 * MIN), secretFailure(b2!)));
  addTask(b3!, 'broken', SAMPLE.taskDefinitions.broken, D.broken, failedToStart(ago(12 * MIN), pull, { reason: pull }));
  addTask(b4!, 'broken', SAMPLE.taskDefinitions.broken, D.broken, failedToStart(ago(3 * MIN), secretFailure(b4!)));
  // Started in the private subnets, three days before exec was turned on.
  addTask(brokenOld!, 'broken', SAMPLE.taskDefinitions.brokenPrevious, D.brokenPrevious, {
    createdAt: ago(3 * DAY - 5 * MIN),
    startedAt: ago(3 * DAY - 4 * MIN),
    exec: false,
  });
  addTask(mgr!, 'manager', SAMPLE.taskDefinitions.manager, D.manager, { createdAt: ago(6 * DAY - 5 * MIN), startedAt: ago(6 * DAY - 4 * MIN) });
  for (const id of [legacy1!, legacy2!]) {
    addTask(id, 'legacy', SAMPLE.taskDefinitions.legacy, legacyTaskSet, {
      createdAt: ago(30 * DAY - 7 * MIN),
      startedAt: ago(30 * DAY - 6 * MIN),
      clusterName: SAMPLE.legacyCluster,
    });
  }
  for (const [name, key] of [
    ['web-bg', 'webBg'],
    ['web-canary', 'webCanary'],
    ['web-linear', 'webLinear'],
  ] as const) {
    for (const id of SAMPLE.tasks[`${key}Running`]) {
      addTask(id, name, SAMPLE.taskDefinitions.web, D[key], { createdAt: ago(2 * DAY - 35 * MIN), startedAt: ago(2 * DAY - 34 * MIN) });
    }
  }
  // `web` scales between 2 and 6 tasks (Application Auto Scaling); the other services have no scalable target.
  registerScalableTarget(
    r,
    { ServiceNamespace: 'ecs', ResourceId: 'service/main/web', ScalableDimension: ECS_DESIRED_COUNT, MinCapacity: 2, MaxCapacity: 6 },
    ago(30 * DAY),
  );
}

/**
 * CloudWatch alarms on `web`, as a team would set them: target 5XXs behind its load balancer, and
 * the service's CPU. Both have been evaluated (OK); tests and the playground flip them with SetAlarmState.
 */
function seedWebAlarms(state: EmulatorState, r: RegionState, now: number): void {
  const dimension = (arn: string, kind: string) => arn.slice(arn.indexOf(`:${kind}/`) + 1).replace(/^loadbalancer\//, '');
  const alarms = [
    {
      AlarmName: 'web-5xx',
      AlarmDescription: 'web returns 5XX errors to its callers',
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Dimensions: [
        { Name: 'LoadBalancer', Value: dimension(VERIFY_SEED.loadBalancer, 'loadbalancer') },
        { Name: 'TargetGroup', Value: dimension(SAMPLE.targetGroupArn, 'targetgroup') },
      ],
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 10,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    },
    {
      AlarmName: 'web-cpu-high',
      AlarmDescription: "web's tasks use most of their CPU",
      Namespace: 'AWS/ECS',
      MetricName: 'CPUUtilization',
      Dimensions: [
        { Name: 'ClusterName', Value: 'main' },
        { Name: 'ServiceName', Value: 'web' },
      ],
      Statistic: 'Average',
      Period: 300,
      EvaluationPeriods: 3,
      Threshold: 80,
      ComparisonOperator: 'GreaterThanThreshold',
    },
  ];
  // Created a month ago, OK ever since (set before any event sink exists, so nothing is emitted).
  for (const input of alarms) {
    const alarm = putMetricAlarm(r, input, now - 30 * DAY);
    const reasonData = {
      version: '1.0',
      queryDate: new Date(now - 30 * DAY + 60_000).toISOString().replace('Z', '+0000'),
      statistic: input.Statistic,
      period: input.Period,
      recentDatapoints: [0.0],
      threshold: input.Threshold,
    };
    const reason = `Threshold Crossed: 1 datapoint [0.0 (${new Date(now - 30 * DAY).toISOString().slice(0, 16)})] was not greater than the threshold (${input.Threshold.toFixed(1)}).`;
    transitionAlarm(state, r, alarm, { value: 'OK', reason, reasonData: JSON.stringify(reasonData) }, now - 30 * DAY + 60_000);
  }
}

/**
 * CodeDeploy's application and deployment group for `legacy` (the service in cluster blue-green), and
 * the deployment that created its running task set 30 days ago (SAMPLE.codeDeploy).
 */
function seedLegacyCodeDeploy(r: RegionState, ago: (ms: number) => Date, taskSet: string): void {
  const { application, deploymentGroup, serviceRole, productionListener, lastDeployment } = SAMPLE.codeDeploy;
  const [blue, green] = SAMPLE.legacyTargetGroupArns.map((arn) => ({ name: arn.split('/')[1]! }));
  putCodeDeployApplication(
    r,
    { applicationId: uuid('codedeploy/legacy'), applicationName: application, createTime: ago(400 * DAY), linkedToGitHub: false, computePlatform: 'ECS' },
    [
      {
        applicationName: application,
        deploymentGroupId: uuid('codedeploy/legacy/legacy'),
        deploymentGroupName: deploymentGroup,
        deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
        serviceRoleArn: serviceRole,
        ecsServices: [{ serviceName: 'legacy', clusterName: SAMPLE.legacyCluster }],
        deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
        blueGreenDeploymentConfiguration: {
          terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE', terminationWaitTimeInMinutes: 5 },
          deploymentReadyOption: { actionOnTimeout: 'CONTINUE_DEPLOYMENT', waitTimeInMinutes: 0 },
        },
        loadBalancerInfo: { targetGroupPairInfoList: [{ targetGroups: [blue!, green!], prodTrafficRoute: { listenerArns: [productionListener] } }] },
        autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
        computePlatform: 'ECS',
      },
    ],
  );
  const appSpec = ecsAppSpec(SAMPLE.taskDefinitions.legacy, 'app', 8080);
  const start = ago(30 * DAY + 8 * MIN);
  putCompletedDeployment(r, {
    deploymentId: lastDeployment,
    applicationName: application,
    groupName: deploymentGroup,
    deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
    routing: { type: 'AllAtOnce' },
    status: 'Succeeded',
    creator: 'user',
    appSpec,
    target: { taskDefinition: SAMPLE.taskDefinitions.legacy, containerName: 'app', containerPort: 8080 },
    autoRollback: { enabled: true, events: ['DEPLOYMENT_FAILURE'] },
    createTime: start,
    startTime: start,
    completeTime: ago(30 * DAY - 10 * MIN),
    events: LIFECYCLE_EVENTS.map((lifecycleEventName) => ({ lifecycleEventName, status: 'Succeeded', startTime: start, endTime: ago(30 * DAY - 5 * MIN) })),
    cluster: SAMPLE.legacyCluster,
    service: 'legacy',
    phase: LIFECYCLE_EVENTS.length,
    step: 0,
    weight: 100,
    testWeight: 0,
    // The task set it replaced was deleted 30 days ago; the one it created still serves.
    originalTaskSet: 'ecs-svc/1187345998812045521',
    replacementTaskSet: taskSet,
    blueGroup: SAMPLE.legacyTargetGroupArns[1]!,
    greenGroup: SAMPLE.legacyTargetGroupArns[0]!,
    lastUpdated: ago(30 * DAY - 10 * MIN),
  });
}
