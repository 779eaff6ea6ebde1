/**
 * Names and ARNs of the seeded sample account (ECS services, images, roles), in a module of their
 * own: seed.ts builds the account from them and seed-verify.ts reads them, without importing each
 * other both ways.
 */
import { hexId } from './state';

export const ACCOUNT = '111111111111';
export const REGION = 'us-east-1';
export const ECR = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
export const ecsArn = (resource: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:${resource}`;
export const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
export const taskIds = (label: string, n: number) => Array.from({ length: n }, (_, i) => hexId(`task/${label}/${i}`));

/** Names and ARNs of the seeded resources, for tests and the playground. */
export const SAMPLE = {
  accountId: ACCOUNT,
  region: REGION,
  cluster: 'main',
  clusterArn: ecsArn('cluster/main'),
  services: {
    web: ecsArn('service/main/web'),
    broken: ecsArn('service/main/broken'),
    manager: ecsArn('service/main/manager'),
    legacy: ecsArn('service/blue-green/legacy'),
    /** ECS-native blue/green (bake 15 min, a pause before production traffic), canary (10% for 5 min, bake 15 min) and linear (25% every 2 min, bake 10 min). */
    webBg: ecsArn('service/main/web-bg'),
    webCanary: ecsArn('service/main/web-canary'),
    webLinear: ecsArn('service/main/web-linear'),
  },
  /** Where `legacy` (CODE_DEPLOY) runs. */
  legacyCluster: 'blue-green',
  legacyClusterArn: ecsArn('cluster/blue-green'),
  taskDefinitions: {
    web: ecsArn('task-definition/web:42'),
    webPrevious: ecsArn('task-definition/web:41'),
    broken: ecsArn('task-definition/broken:7'),
    /** What `broken` ran before broken:7: a good image; one of its tasks still runs. */
    brokenPrevious: ecsArn('task-definition/broken:6'),
    manager: ecsArn('task-definition/manager:3'),
    legacy: ecsArn('task-definition/legacy:12'),
  },
  images: {
    web: `${ECR}/web:v1.4.2`,
    webPrevious: `${ECR}/web:v1.4.1`,
    broken: `${ECR}/web:does-not-exist`,
    logRouter: 'public.ecr.aws/aws-observability/aws-for-fluent-bit:stable',
    /** Pushed, not deployed yet: a good release to roll out. */
    webNext: `${ECR}/web:v1.5.0`,
    /** Pushed, but its container exits with code 1 shortly after starting. */
    webCrash: `${ECR}/web:v2-crash`,
    /** Pushed, but its container is killed for exceeding its memory shortly after starting. */
    webOom: `${ECR}/web:v2-oom`,
    legacy: `${ECR}/legacy:v3.2.0`,
    /** Pushed, not deployed yet: the next release of `legacy` (a CodeDeploy deployment). */
    legacyNext: `${ECR}/legacy:v3.3.0`,
    /** Pushed, but its container exits with code 1 shortly after starting: its replacement task set never becomes healthy. */
    legacyCrash: `${ECR}/legacy:v3-crash`,
  },
  /** What the sample ECR holds (for ECR's DescribeImages/ListImages): every image above but the missing tag. */
  ecrImages: [
    `${ECR}/web:v1.4.1`,
    `${ECR}/web:v1.4.2`,
    `${ECR}/web:v1.5.0`,
    `${ECR}/web:v2-crash`,
    `${ECR}/web:v2-oom`,
    `${ECR}/legacy:v3.2.0`,
    `${ECR}/legacy:v3.3.0`,
    `${ECR}/legacy:v3-crash`,
  ],
  deployments: {
    web: 'ecs-svc/4719306254839071652',
    webPrevious: 'ecs-svc/3380117456920385543',
    broken: 'ecs-svc/8820341775619232017',
    /** ACTIVE next to `broken`'s PRIMARY: the broken:6 deployment, still running one task. */
    brokenPrevious: 'ecs-svc/6051987342215560981',
    manager: 'ecs-svc/1590438826671095408',
    /** CODE_DEPLOY services have task sets instead of deployments. */
    legacyTaskSet: 'ecs-svc/2264901385527710934',
    webBg: 'ecs-svc/5127739046218873310',
    webCanary: 'ecs-svc/7364012958830142276',
    webLinear: 'ecs-svc/2918475061337294850',
  },
  /** Task ids (the ARN is `arn:aws:ecs:us-east-1:111111111111:task/main/<id>`). */
  tasks: {
    webRunning: taskIds('web', 2),
    webStopped: hexId('task/web/old'),
    brokenStopped: taskIds('broken', 4),
    /** broken:6's task, started before exec was enabled: enableExecuteCommand false, no ExecuteCommandAgent. */
    brokenRunning: taskIds('broken-previous', 1),
    managerRunning: taskIds('manager', 1),
    legacyRunning: taskIds('legacy', 2),
    webBgRunning: taskIds('web-bg', 2),
    webCanaryRunning: taskIds('web-canary', 2),
    webLinearRunning: taskIds('web-linear', 2),
  },
  targetGroupArn: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web/6d0ecf831eec9f09`,
  /**
   * CodeDeploy's side of `legacy`: application and deployment group `legacy` (ECSAllAtOnce, auto
   * rollback on failure, 5-minute termination wait), the production listener of the `legacy` load
   * balancer, and the deployment that created the running task set 30 days ago.
   */
  codeDeploy: {
    application: 'legacy',
    deploymentGroup: 'legacy',
    serviceRole: role('ecsCodeDeployRole'),
    productionListener: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener/app/legacy/7a3e9c1b5d2f4e60/4c2b9e7a1d0f3856`,
    lastDeployment: 'd-7XK2M4Q9B',
  },
  /** CodeDeploy shifts `legacy` between these two. */
  legacyTargetGroupArns: [
    `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/legacy-blue/0b9c3f52d1a7e4c6`,
    `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/legacy-green/5e8d21a4c07b93f1`,
  ],
  /**
   * ECS-native traffic shifting of `web-bg`, `web-canary` and `web-linear` on the `main` load balancer: each
   * service's production target group and its alternate, and the listener rules ECS switches.
   */
  nativeTargetGroupArns: {
    webBg: [
      `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-bg-blue/3c7e91a0d5b24f68`,
      `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-bg-green/9a14d6e2b8c07f35`,
    ],
    webCanary: [
      `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-canary-blue/61f0b3c9e2a4d781`,
      `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-canary-green/c2e85a7f1d39b046`,
    ],
    webLinear: [
      `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-linear-blue/8b2d4f60a1c3e597`,
      `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:targetgroup/web-linear-green/e4a7c1905d3b2f68`,
    ],
  },
  listenerRules: {
    webBgProduction: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener-rule/app/main/50dc6c495c0c9188/f2f7dc8efc522ab2/1a2b3c4d5e6f7081`,
    webBgTest: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener-rule/app/main/50dc6c495c0c9188/7d41e0a9b3c6f258/2b3c4d5e6f708192`,
    webCanaryProduction: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener-rule/app/main/50dc6c495c0c9188/f2f7dc8efc522ab2/3c4d5e6f708192a3`,
    webLinearProduction: `arn:aws:elasticloadbalancing:${REGION}:${ACCOUNT}:listener-rule/app/main/50dc6c495c0c9188/f2f7dc8efc522ab2/4d5e6f708192a3b4`,
  },
  /** The infrastructure role ECS uses to switch the listener rules. */
  loadBalancerInfrastructureRole: role('ecsInfrastructureRoleForLoadBalancers'),
  secrets: {
    webDatabaseUrl: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/web/DATABASE_URL`,
    webApiKey: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:web/api-key-Xb3kQ9`,
    brokenDatabaseUrl: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/broken/DATABASE_URL`,
    brokenApiKey: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:broken/api-key-Q8mZ2c`,
  },
  roles: {
    bot: role('ecs-chatops-lambda'),
    target: role('ecs-chatops-target'),
    crossAccountTarget: 'arn:aws:iam::222222222222:role/ecs-chatops-target',
  },
} as const;

export const SUBNETS = ['subnet-0a1b2c3d4e5f60718', 'subnet-0f1e2d3c4b5a69788'];
/** Where a seeded task's ENI lands: availability zone and the subnet's /24 (as in seed-verify.ts's EC2 seed). */
export const SUBNET_LAYOUT: Record<string, { az: string; prefix: string }> = {
  'subnet-0a1b2c3d4e5f60718': { az: `${REGION}a`, prefix: '10.0.1' },
  'subnet-0f1e2d3c4b5a69788': { az: `${REGION}b`, prefix: '10.0.2' },
  'subnet-0b1c2d3e4f5a6b7c8': { az: `${REGION}a`, prefix: '10.1.1' },
};
