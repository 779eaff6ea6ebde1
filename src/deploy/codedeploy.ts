/**
 * CodeDeploy blue/green services (deploymentController CODE_DEPLOY), as ecspresso deploys them
 * (DeployByCodeDeploy; ../../shared/reference/ecs-deployments.md §4): the application and deployment
 * group are the target's `codeDeploy` setting, or discovered — the ECS applications
 * (ListApplications → BatchGetApplications), their groups (ListDeploymentGroups →
 * BatchGetDeploymentGroups), the one group whose `ecsServices` names the service and its cluster.
 * A deploy is a CreateDeployment with an AppSpec naming the new task definition and the service's
 * load balancer container (its `loadBalancers[0]`, as ecspresso writes it).
 */
import {
  BatchGetApplicationsCommand,
  BatchGetDeploymentGroupsCommand,
  CodeDeployClient,
  ListApplicationsCommand,
  ListDeploymentGroupsCommand,
  ListDeploymentsCommand,
  type DeploymentGroupInfo,
} from '@aws-sdk/client-codedeploy';
import type { Service } from '@aws-sdk/client-ecs';
import { explainAwsError } from '../aws/errors';
import type { AwsSession } from '../aws/session';
import type { Target } from '../config/schema';
import { UserFacingError } from '../platform/errors';
import { code, escapeText } from '../slack/format';

/** The deployment group a CODE_DEPLOY service deploys through, as planned (JSON: it lives in the request). */
export interface CodeDeployPlan {
  application: string;
  deploymentGroup: string;
  /** e.g. CodeDeployDefault.ECSAllAtOnce. */
  deploymentConfig: string;
  /**
   * CodeDeploy rolls back on its own when the deployment fails or is stopped: the group's setting
   * (DEPLOYMENT_FAILURE), else the target's `deploy.rollback` (sent with CreateDeployment, as
   * ecspresso's `--rollback-events`).
   */
  autoRollback: boolean;
  autoRollbackBy?: 'deployment group' | 'target';
  /** The AppSpec's LoadBalancerInfo: the service's load-balanced container. */
  containerName: string;
  containerPort: number;
  /** Minutes the original task set is kept after the traffic moved. */
  terminationWaitMinutes?: number;
}

const nameOf = (ref: string) => ref.slice(ref.lastIndexOf('/') + 1);
const chunks = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/** All pages of a listing. */
async function paged(list: (nextToken: string | undefined) => Promise<{ items?: string[]; nextToken?: string }>): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await list(token);
    out.push(...(page.items ?? []));
    token = page.nextToken;
  } while (token);
  return out;
}

const servesService = (group: DeploymentGroupInfo, cluster: string, service: string) =>
  (group.ecsServices ?? []).some((s) => s.serviceName === service && nameOf(s.clusterName ?? '') === nameOf(cluster));

async function groupsOf(cd: CodeDeployClient, application: string, names: string[]): Promise<DeploymentGroupInfo[]> {
  const out: DeploymentGroupInfo[] = [];
  for (const chunk of chunks(names, 100)) {
    const got = await cd.send(new BatchGetDeploymentGroupsCommand({ applicationName: application, deploymentGroupNames: chunk }));
    out.push(...(got.deploymentGroupsInfo ?? []));
  }
  return out;
}

/** The deployment groups (of ECS applications) whose ecsServices name the service, discovered as ecspresso does. */
async function discover(cd: CodeDeployClient, cluster: string, service: string): Promise<DeploymentGroupInfo[]> {
  const names = await paged(async (nextToken) => {
    const out = await cd.send(new ListApplicationsCommand({ ...(nextToken ? { nextToken } : {}) }));
    return { items: out.applications ?? [], ...(out.nextToken ? { nextToken: out.nextToken } : {}) };
  });
  const ecsApps: string[] = [];
  for (const chunk of chunks(names, 100)) {
    const got = await cd.send(new BatchGetApplicationsCommand({ applicationNames: chunk }));
    for (const app of got.applicationsInfo ?? []) if (app.computePlatform === 'ECS' && app.applicationName) ecsApps.push(app.applicationName);
  }
  const found: DeploymentGroupInfo[] = [];
  for (const application of ecsApps) {
    const groups = await paged(async (nextToken) => {
      const out = await cd.send(new ListDeploymentGroupsCommand({ applicationName: application, ...(nextToken ? { nextToken } : {}) }));
      return { items: out.deploymentGroups ?? [], ...(out.nextToken ? { nextToken: out.nextToken } : {}) };
    });
    for (const group of await groupsOf(cd, application, groups)) if (servesService(group, cluster, service)) found.push(group);
  }
  return found;
}

/** The service's CodeDeploy deployment group, with what the plan shows of it; a UserFacingError when there is not exactly one. */
export async function findDeploymentGroup(aws: AwsSession, target: { alias: string } & Target, service: Service): Promise<CodeDeployPlan> {
  const cd = aws.client(CodeDeployClient);
  const where = `${code(target.service)} in cluster ${code(target.cluster)}`;
  const configured = target.codeDeploy;
  const groups = await (configured ? groupsOf(cd, configured.application, [configured.deploymentGroup]) : discover(cd, target.cluster, target.service)).catch(
    (error: unknown) => {
      if ((error as { name?: string }).name === 'ApplicationDoesNotExistException' && configured)
        throw new UserFacingError(
          `CodeDeploy has no application ${code(configured.application)} (\`targets.${target.alias}.codeDeploy.application\`). Nothing was changed.`,
        );
      throw explainAwsError(error, `finding the CodeDeploy deployment group of ${where}`);
    },
  );
  if (configured && groups.length === 1 && !servesService(groups[0]!, target.cluster, target.service)) {
    throw new UserFacingError(
      `The CodeDeploy deployment group ${code(`${configured.application}/${configured.deploymentGroup}`)} (\`targets.${target.alias}.codeDeploy\`) does not deploy ${where}. Nothing was changed.`,
    );
  }
  if (groups.length === 0) {
    throw new UserFacingError(
      configured
        ? `CodeDeploy has no deployment group ${code(`${configured.application}/${configured.deploymentGroup}`)} (\`targets.${target.alias}.codeDeploy\`). Nothing was changed.`
        : `\`${target.alias}\` is deployed by CodeDeploy, but no deployment group of an ECS application names ${where}. Create one, or name it in \`targets.${target.alias}.codeDeploy: { application, deploymentGroup }\`. Nothing was changed.`,
    );
  }
  if (groups.length > 1) {
    const names = groups.map((g) => code(`${g.applicationName}/${g.deploymentGroupName}`)).join(', ');
    throw new UserFacingError(
      `${groups.length} CodeDeploy deployment groups name ${where} (${names}): I will not guess which one deploys it. Name it in \`targets.${target.alias}.codeDeploy: { application, deploymentGroup }\`. Nothing was changed.`,
    );
  }
  const group = groups[0]!;
  const lb = service.loadBalancers?.[0];
  if (!lb?.containerName || lb.containerPort === undefined) {
    throw new UserFacingError(
      `\`${target.alias}\` is deployed by CodeDeploy but has no load-balanced container: the AppSpec of a CodeDeploy deployment names one (LoadBalancerInfo). Nothing was changed.`,
    );
  }
  const rollback = group.autoRollbackConfiguration;
  const byGroup = !!rollback?.enabled && !!rollback.events?.includes('DEPLOYMENT_FAILURE');
  const wait = group.blueGreenDeploymentConfiguration?.terminateBlueInstancesOnDeploymentSuccess?.terminationWaitTimeInMinutes;
  return {
    application: group.applicationName!,
    deploymentGroup: group.deploymentGroupName!,
    deploymentConfig: group.deploymentConfigName ?? 'CodeDeployDefault.ECSAllAtOnce',
    autoRollback: byGroup || target.deploy.rollback,
    ...(byGroup ? { autoRollbackBy: 'deployment group' as const } : target.deploy.rollback ? { autoRollbackBy: 'target' as const } : {}),
    containerName: lb.containerName,
    containerPort: lb.containerPort,
    ...(wait !== undefined ? { terminationWaitMinutes: wait } : {}),
  };
}

/** CodeDeploy runs one deployment per group at a time: the one under way now, if any (its id). */
export async function deploymentUnderWay(aws: AwsSession, p: CodeDeployPlan): Promise<string | undefined> {
  const listed = await aws.client(CodeDeployClient).send(
    new ListDeploymentsCommand({
      applicationName: p.application,
      deploymentGroupName: p.deploymentGroup,
      includeOnlyStatuses: ['Created', 'Queued', 'InProgress', 'Baking', 'Ready'],
    }),
  );
  return listed.deployments?.[0];
}

/** What the plan's approvals are bound to on CodeDeploy's side: the group and how it shifts traffic. */
export const codeDeployStrategy = (p: Pick<CodeDeployPlan, 'application' | 'deploymentGroup' | 'deploymentConfig'>) =>
  `CODE_DEPLOY ${p.application}/${p.deploymentGroup} ${p.deploymentConfig}`;

/** The group as it is now, for the recheck after the approval: its strategy words, or why there is none. */
export async function codeDeployStrategyNow(aws: AwsSession, p: CodeDeployPlan): Promise<string> {
  const groups = await groupsOf(aws.client(CodeDeployClient), p.application, [p.deploymentGroup]).catch((error: unknown) => {
    if ((error as { name?: string }).name === 'ApplicationDoesNotExistException') return [];
    throw error;
  });
  const group = groups[0];
  if (!group) return `no CodeDeploy deployment group ${p.application}/${p.deploymentGroup}`;
  return codeDeployStrategy({ application: p.application, deploymentGroup: p.deploymentGroup, deploymentConfig: group.deploymentConfigName ?? '' });
}

/** How a deployment config shifts traffic, in words (CodeDeploy's predefined ECS configs; another: its name). */
export function trafficWords(config: string): string {
  const name = config.replace(/^CodeDeployDefault\./, '');
  if (name === 'ECSAllAtOnce') return 'all traffic at once';
  const linear = /^ECSLinear(\d+)PercentEvery(\d+)Minutes?$/.exec(name);
  if (linear) return `linear: ${linear[1]}% more every ${linear[2]} min`;
  const canary = /^ECSCanary(\d+)Percent(\d+)Minutes?$/.exec(name);
  if (canary) return `canary ${canary[1]}% for ${canary[2]} min, then 100%`;
  return 'a custom deployment configuration';
}

/** The plan's strategy line (plain text). */
export function describeCodeDeploy(p: CodeDeployPlan): string {
  const wait = p.terminationWaitMinutes !== undefined ? `; the original task set is kept ${p.terminationWaitMinutes} min after the shift` : '';
  return `CodeDeploy blue/green through deployment group ${p.application}/${p.deploymentGroup}: ${p.deploymentConfig} (${trafficWords(p.deploymentConfig)}); CodeDeploy's auto-rollback on failure ${p.autoRollback ? `on (${p.autoRollbackBy === 'target' ? 'the target’s deploy.rollback' : 'the deployment group’s setting'})` : 'off'}${wait}`;
}

/** The AppSpec of a deployment of `taskDefinition` (YAML, as ecspresso writes it: appspec/spec.go). */
export function appSpec(taskDefinition: string, p: Pick<CodeDeployPlan, 'containerName' | 'containerPort'>): string {
  const quote = (s: string) => JSON.stringify(s);
  return [
    'version: "0.0"',
    'Resources:',
    '  - TargetService:',
    '      Type: AWS::ECS::Service',
    '      Properties:',
    `        TaskDefinition: ${quote(taskDefinition)}`,
    '        LoadBalancerInfo:',
    `          ContainerName: ${quote(p.containerName)}`,
    `          ContainerPort: ${p.containerPort}`,
    '',
  ].join('\n');
}

/** The description a deployment of this deploy carries: how a retried step finds the one it created. */
export const deploymentDescription = (deployId: string, target: string) => `ecs-chatops deploy ${deployId} of ${target}`;

/** Plain text from CodeDeploy (messages, names), safe in Slack. */
export const said = (text: string | undefined) => escapeText(text ?? '');
