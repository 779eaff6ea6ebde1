/**
 * A fleet: many accounts in the emulator's organization, each with the bot's target role, an ECS
 * cluster per region and tagged services (`ecs-chatops:alias`, `env`, `team`) running their tasks,
 * for fleet discovery, the catalog, fleet commands, benchmarks and the playground (issue 19).
 *
 * Deterministic: account ids, names, tags and the broken ones follow from the options alone.
 *
 *  - accounts `300000000001…` (`fleet-001`…), each in OU `prod` or `staging` (alternating) with
 *    account tags `env` and `team`;
 *  - per account `servicesPerAccount` services spread over `regions` (round-robin), in cluster
 *    `fleet` of each region, each with a task definition (one container, an image in the account's
 *    ECR, awslogs to `/ecs/<service>`), its task and execution roles, and `desiredCount` running tasks;
 *    its `ecs-chatops:alias` tag is `<service>-fleet-NNN`, a name a team chose (the tag wins over
 *    the naming rule; untagged, the default rule would name it `<service>-<account id>`);
 *  - `broken` of them broken, alternating: the account has no target role (AssumeRole is refused:
 *    discovery reports the account), or a service's image tag is missing from ECR (verify fails).
 */
import type { Service, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import { ecsTasksTrustFor, imageDigest } from './seed-verify';
import { createOrganization, putOrganizationAccount, putOrganizationalUnit } from './services/organizations';
import { putImage, putRepository } from './services/ecr';
import { putRole } from './services/iam';
import { putLogGroup } from './services/logs';
import type { PolicyDocument } from './policy';
import type { ThrottleSpec, FleetTraffic } from './fleet-traffic';
import { arns, DEFAULT_ACCOUNT, hexId, type EmulatorState } from './state';
import { readTargetRole } from '../iam/stack';

/** The target role an account deploys (infra/cross-account-role.yaml, resolved for that account by the caller). */
export interface FleetTargetRole {
  roleName: string;
  trustPolicy: PolicyDocument;
  inline: Record<string, PolicyDocument>;
}

export interface FleetSeedOptions {
  accounts: number;
  regions: readonly string[];
  /** Services per account, spread over the regions (default 5). */
  servicesPerAccount?: number;
  /** How many accounts have something broken (default 0): odd ones lack the target role, even ones have a failing service. */
  broken?: number;
  /** Running tasks per service (default 2). */
  desiredCount?: number;
  /** The organization's management account, where the bot runs (default the emulator's account). */
  managementAccountId?: string;
  /**
   * The target role each account deploys. Default: infra/cross-account-role.yaml's, resolved for
   * a bot in the management account whose four roles are the emulator's stand-in for the bot's
   * Lambda role (the default credentials' role): its trust names those roles and requires the
   * `ecs-chatops@…` source identity, as on AWS. The local world passes its stack's (targetRoleFor).
   */
  targetRole?: (accountId: string) => FleetTargetRole;
  /** Real latency per AWS call and per-account throttling, applied to every call (needs the emulator's traffic). */
  latencyMs?: number;
  throttle?: ThrottleSpec;
  traffic?: FleetTraffic;
}

/** A seeded service (local/ side: not src/fleet/types.ts's FleetService, which the catalog holds). */
export interface SeededService {
  accountId: string;
  region: string;
  cluster: string;
  service: string;
  serviceArn: string;
  alias: string;
  tags: Record<string, string>;
}

export interface SeededFleet {
  organizationId: string;
  managementAccountId: string;
  accounts: Array<{ id: string; name: string; ou: string; env: string; team: string }>;
  /** OU name → id. */
  units: Record<string, string>;
  services: SeededService[];
  /** Accounts without the target role (AssumeRole refused). */
  missingRole: string[];
  /** Services whose image is missing from ECR (verify fails). */
  failingServices: string[];
  roleName: string;
}

export const FLEET_CLUSTER = 'fleet';
const TEAMS = ['payments', 'search', 'identity', 'growth'] as const;
const KINDS = ['api', 'worker', 'web', 'cron', 'gateway', 'billing', 'ledger', 'notifier'] as const;
const DAY = 86_400_000;

export const fleetAccountId = (i: number) => String(300_000_000_000 + i + 1);

export function seedFleet(state: EmulatorState, options: FleetSeedOptions): SeededFleet {
  const { accounts: count, regions } = options;
  if (!Number.isInteger(count) || count < 1) throw new Error('seedFleet: accounts must be a positive integer');
  if (regions.length === 0) throw new Error('seedFleet: name at least one region');
  const perAccount = options.servicesPerAccount ?? 5;
  const broken = Math.min(options.broken ?? 0, count);
  const desired = options.desiredCount ?? 2;
  const management = options.managementAccountId ?? DEFAULT_ACCOUNT;
  const org = createOrganization(state, management);
  const units = { prod: putOrganizationalUnit(state, 'prod').id, staging: putOrganizationalUnit(state, 'staging').id };

  const fleet: SeededFleet = {
    organizationId: org.id,
    managementAccountId: management,
    accounts: [],
    units,
    services: [],
    missingRole: [],
    failingServices: [],
    roleName: 'ecs-chatops-target',
  };

  // Broken accounts are spread over the fleet (every count/broken-th), so a page of ListAccounts has some.
  const brokenIndexes = new Set(Array.from({ length: broken }, (_, k) => Math.floor(((k + 0.5) * count) / broken)));
  let brokenSeen = 0;

  for (let i = 0; i < count; i++) {
    const accountId = fleetAccountId(i);
    const env = i % 2 === 0 ? 'prod' : 'staging';
    const team = TEAMS[i % TEAMS.length]!;
    const name = `fleet-${String(i + 1).padStart(3, '0')}`;
    putOrganizationAccount(state, { id: accountId, name, parentId: units[env], tags: { env, team } });
    fleet.accounts.push({ id: accountId, name, ou: env, env, team });

    const breakage = brokenIndexes.has(i) ? (brokenSeen++ % 2 === 0 ? 'role' : 'service') : undefined;
    if (breakage === 'role') fleet.missingRole.push(accountId);
    else {
      const role = (options.targetRole ?? templateTargetRole(state, management, regions[0]!))(accountId);
      fleet.roleName = role.roleName;
      putRole(state, accountId, role.roleName, { trust: role.trustPolicy, inline: role.inline });
    }

    for (let s = 0; s < perAccount; s++) {
      const region = regions[s % regions.length]!;
      const serviceName = `${KINDS[s % KINDS.length]}${s >= KINDS.length ? `-${Math.floor(s / KINDS.length) + 1}` : ''}`;
      const alias = `${serviceName}-${name}`;
      const failing = breakage === 'service' && s === 0;
      const seeded = seedFleetService(state, { accountId, region, serviceName, alias, env, team, desired, failing });
      fleet.services.push(seeded);
      if (failing) fleet.failingServices.push(seeded.serviceArn);
    }
  }

  if (options.traffic) {
    if (options.latencyMs !== undefined) options.traffic.latencyMs = options.latencyMs;
    if (options.throttle) options.traffic.throttle('*', options.throttle);
  }
  return fleet;
}

/** The template's target role for a bot in `management` whose roles are all the emulator's default credentials' role. */
function templateTargetRole(state: EmulatorState, management: string, region: string): (accountId: string) => FleetTargetRole {
  const botRole = state.defaultCredentials.identity.roleArn?.split('/').pop();
  if (!botRole) throw new Error("seedFleet: the emulator's default credentials are not a role session");
  return (accountId) => {
    const { roleName, trustPolicy, inline } = readTargetRole({
      accountId,
      region,
      botAccountId: management,
      workerRoleName: botRole,
      runWorkflowRoleName: botRole,
      deployWorkflowRoleName: botRole,
      notifierRoleName: botRole,
    });
    return { roleName, trustPolicy, inline };
  };
}

/** One fleet service (cluster `fleet` created if need be) in any account: what seedFleet puts in each of its accounts. */
export function seedFleetService(
  state: EmulatorState,
  spec: { accountId: string; region: string; serviceName: string; alias: string; env: string; team: string; desired?: number; failing?: boolean },
): SeededService {
  const { accountId, region, serviceName, alias, env, team } = spec;
  const desired = spec.desired ?? 2;
  const now = state.clock.now();
  const ago = (ms: number) => new Date(now - ms);
  const r = state.region(accountId, region);
  let cluster = r.ecs.clusters.get(FLEET_CLUSTER);
  if (!cluster) {
    cluster = {
      cluster: {
        clusterArn: arns.cluster(r, FLEET_CLUSTER),
        clusterName: FLEET_CLUSTER,
        status: 'ACTIVE',
        registeredContainerInstancesCount: 0,
        capacityProviders: ['FARGATE'],
        defaultCapacityProviderStrategy: [],
        settings: [{ name: 'containerInsights', value: 'disabled' }],
        tags: [],
      },
      services: new Map(),
      tasks: new Map(),
    };
    r.ecs.clusters.set(FLEET_CLUSTER, cluster);
  }

  // The image: pushed to the account's ECR, except for a failing service (its tag was never pushed).
  const repository = `${serviceName}`;
  const image = `${accountId}.dkr.ecr.${region}.amazonaws.com/${repository}:v1.4.2`;
  const repo = putRepository(r, repository, ago(120 * DAY));
  if (!spec.failing) putImage(repo, { digest: imageDigest(image), tags: ['v1.4.2'], pushedAt: ago(3 * DAY), sizeInBytes: 41_943_040 });
  const logGroup = `/ecs/${serviceName}`;
  putLogGroup(r, logGroup, ago(120 * DAY).getTime(), { retentionInDays: 30 });

  const taskRole = `${serviceName}-task-role`;
  const executionRole = `${serviceName}-execution-role`;
  if (!state.account(accountId).iam.roles.has(executionRole)) {
    // The roles are the account's, shared by its regions: ECS tasks of this account, any region.
    const ecsTasksTrust = ecsTasksTrustFor(accountId, '*');
    // The task role of a service with ECS Exec: the SSM channels the exec agent opens.
    putRole(state, accountId, taskRole, {
      trust: ecsTasksTrust,
      inline: {
        exec: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel'],
              Resource: '*',
            },
          ],
        },
      },
    });
    putRole(state, accountId, executionRole, {
      trust: ecsTasksTrust,
      inline: {
        execution: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: 'ecr:GetAuthorizationToken', Resource: '*' },
            {
              Effect: 'Allow',
              Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
              Resource: `arn:aws:ecr:*:${accountId}:repository/*`,
            },
            { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: `arn:aws:logs:*:${accountId}:log-group:/ecs/*` },
          ],
        },
      },
    });
  }

  const family = serviceName;
  const taskDefinitionArn = arns.taskDefinition(r, `${family}:1`);
  const taskDefinition: TaskDefinition = {
    taskDefinitionArn,
    family,
    revision: 1,
    containerDefinitions: [
      {
        name: 'app',
        image,
        cpu: 0,
        essential: true,
        portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
        environment: [{ name: 'PORT', value: '8080' }],
        logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroup, 'awslogs-region': region, 'awslogs-stream-prefix': family } },
        mountPoints: [],
        volumesFrom: [],
        systemControls: [],
      },
    ],
    taskRoleArn: arns.role(accountId, taskRole),
    executionRoleArn: arns.role(accountId, executionRole),
    networkMode: 'bridge',
    volumes: [],
    status: 'ACTIVE',
    placementConstraints: [],
    compatibilities: ['EC2'],
    requiresCompatibilities: ['EC2'],
    cpu: '256',
    memory: '512',
    registeredAt: ago(3 * DAY),
    registeredBy: `arn:aws:sts::${accountId}:assumed-role/deploy/ci`,
  };
  r.ecs.taskDefinitions.set(`${family}:1`, { taskDefinition, tags: [] });

  const serviceArn = arns.service(r, FLEET_CLUSTER, serviceName);
  const deploymentId = `ecs-svc/${BigInt(`0x${hexId(`deployment/${serviceArn}`, 15)}`)
    .toString()
    .slice(0, 19)}`;
  const tags = { 'ecs-chatops:alias': alias, env, team };
  const service: Service = {
    serviceArn,
    serviceName,
    clusterArn: cluster.cluster.clusterArn!,
    loadBalancers: [],
    serviceRegistries: [],
    status: 'ACTIVE',
    desiredCount: desired,
    runningCount: desired,
    pendingCount: 0,
    launchType: 'EC2',
    taskDefinition: taskDefinitionArn,
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: true, rollback: false },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
      strategy: 'ROLLING',
    },
    deployments: [
      {
        id: deploymentId,
        status: 'PRIMARY',
        taskDefinition: taskDefinitionArn,
        desiredCount: desired,
        pendingCount: 0,
        runningCount: desired,
        failedTasks: 0,
        createdAt: ago(3 * DAY),
        updatedAt: ago(3 * DAY - 5 * 60_000),
        launchType: 'EC2',
        rolloutState: 'COMPLETED',
        rolloutStateReason: `ECS deployment ${deploymentId} completed.`,
      },
    ],
    roleArn: `arn:aws:iam::${accountId}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`,
    events: [{ id: hexId(`event/${serviceArn}`, 32), createdAt: ago(3 * DAY - 6 * 60_000), message: `(service ${serviceName}) has reached a steady state.` }],
    createdAt: ago(120 * DAY),
    placementConstraints: [],
    placementStrategy: [],
    schedulingStrategy: 'REPLICA',
    deploymentController: { type: 'ECS' },
    createdBy: `arn:aws:iam::${accountId}:role/deploy`,
    enableECSManagedTags: true,
    propagateTags: 'SERVICE',
    enableExecuteCommand: false,
    tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
  };
  cluster.services.set(serviceName, service);

  for (let t = 0; t < desired; t++) {
    const id = hexId(`task/${serviceArn}/${t}`);
    const taskArn = arns.task(r, FLEET_CLUSTER, id);
    const startedAt = ago(3 * DAY - 60_000);
    const task: Task = {
      taskArn,
      clusterArn: cluster.cluster.clusterArn!,
      taskDefinitionArn,
      group: `service:${serviceName}`,
      startedBy: deploymentId,
      launchType: 'EC2',
      availabilityZone: `${region}a`,
      cpu: '256',
      memory: '512',
      desiredStatus: 'RUNNING',
      lastStatus: 'RUNNING',
      healthStatus: 'UNKNOWN',
      connectivity: 'CONNECTED',
      connectivityAt: ago(3 * DAY - 30_000),
      createdAt: ago(3 * DAY),
      pullStartedAt: ago(3 * DAY - 20_000),
      pullStoppedAt: ago(3 * DAY - 10_000),
      startedAt,
      enableExecuteCommand: false,
      version: 3,
      attachments: [],
      tags: [],
      containers: [
        {
          containerArn: arns.container(r, FLEET_CLUSTER, id, hexId(`container/${id}`, 32)),
          taskArn,
          name: 'app',
          image,
          imageDigest: imageDigest(image),
          lastStatus: 'RUNNING',
          networkBindings: [],
          networkInterfaces: [],
          healthStatus: 'UNKNOWN',
          cpu: '0',
          managedAgents: [],
        },
      ],
    };
    cluster.tasks.set(id, task);
  }

  return { accountId, region, cluster: FLEET_CLUSTER, service: serviceName, serviceArn, alias, tags };
}
