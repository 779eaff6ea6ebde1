import {
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  type Cluster,
  type Service,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand, type ContextEntry, type Role } from '@aws-sdk/client-iam';
import { roleName } from '../aws/arn';
import type { AwsSession } from '../aws/session';
import type { Target } from '../config/schema';
import { launchKinds, type LaunchKind } from '../ecs/launch';
import { UserFacingError } from '../platform/errors';

export interface VerifyOptions {
  /** Check a prospective deploy: the image (or tag) it would put in the application container(s). */
  image?: string;
  /** Prove logging works by writing one verify line to each awslogs group. */
  putLogs: boolean;
  /** Families skipped by configuration, with the reason. */
  skip: Array<{ family: string; reason: string }>;
}

export interface SimulationDenial {
  action: string;
  resource: string;
  decision: string;
}

export interface Simulation {
  allowed: boolean;
  denials: SimulationDenial[];
}

/**
 * What the checks of one verify run share: the target, AWS access as the bot, and memoized
 * lookups, so nothing is fetched twice in a run (one DescribeTaskDefinition, one GetRole per role…).
 */
export class VerifyContext {
  private readonly memo = new Map<string, Promise<unknown>>();

  constructor(
    readonly alias: string,
    readonly target: Target,
    readonly aws: AwsSession,
    readonly options: VerifyOptions,
    /** Builds the task definition a deploy of `options.image` would register (set by the verify command). */
    private readonly prospective?: (current: TaskDefinition) => TaskDefinition,
  ) {}

  /** Runs `load` once per key for the whole run; a failure is remembered too. */
  once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let value = this.memo.get(key) as Promise<T> | undefined;
    if (!value) {
      value = load();
      this.memo.set(key, value);
    }
    return value;
  }

  get region(): string {
    return this.target.region;
  }

  /** The account of the cluster (the target's account, also with a cross-account role). */
  async accountId(): Promise<string> {
    const arn = (await this.cluster())?.clusterArn ?? (await this.service())?.serviceArn;
    const account = arn?.split(':')[4];
    if (!account) throw new UserFacingError('could not tell the target account from the cluster ARN');
    return account;
  }

  cluster(): Promise<Cluster | undefined> {
    return this.once('cluster', async () => {
      const out = await this.aws.ecs().send(new DescribeClustersCommand({ clusters: [this.target.cluster], include: ['CONFIGURATIONS'] }));
      return out.clusters?.[0];
    });
  }

  service(): Promise<Service | undefined> {
    return this.once('service', async () => {
      const out = await this.aws.ecs().send(new DescribeServicesCommand({ cluster: this.target.cluster, services: [this.target.service] }));
      return out.services?.find((s) => s.status !== 'INACTIVE');
    });
  }

  /** The task definition being verified: the service's current one, or what a deploy would register. */
  taskDefinition(): Promise<TaskDefinition> {
    return this.once('taskDefinition', async () => {
      const service = await this.service();
      if (!service?.taskDefinition) throw new UserFacingError(`service \`${this.target.service}\` has no task definition`);
      const out = await this.aws.ecs().send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }));
      if (!out.taskDefinition) throw new UserFacingError(`task definition \`${service.taskDefinition}\` was not returned`);
      return this.prospective ? this.prospective(out.taskDefinition) : out.taskDefinition;
    });
  }

  /**
   * Every kind of capacity the service's tasks run on (ecs/launch.ts). A cluster the bot may not
   * describe only loses its default strategy, which a service created from it repeats anyway.
   */
  async launchKinds(): Promise<ReadonlySet<LaunchKind>> {
    const [service, cluster, taskDefinition] = await Promise.all([this.service(), this.cluster().catch(() => undefined), this.taskDefinition()]);
    return launchKinds(service, cluster, taskDefinition);
  }

  /** RUNNING tasks of the service, described (for ECS Exec readiness). */
  runningTasks(): Promise<Task[]> {
    return this.once('runningTasks', async () => {
      const ecs = this.aws.ecs();
      const listed = await ecs.send(new ListTasksCommand({ cluster: this.target.cluster, serviceName: this.target.service, desiredStatus: 'RUNNING' }));
      const arns = listed.taskArns ?? [];
      if (arns.length === 0) return [];
      const out = await ecs.send(new DescribeTasksCommand({ cluster: this.target.cluster, tasks: arns.slice(0, 100) }));
      return (out.tasks ?? []).filter((t) => t.lastStatus === 'RUNNING');
    });
  }

  /** The role, or undefined if it does not exist. */
  role(arn: string): Promise<Role | undefined> {
    const name = roleName(arn);
    return this.once(`role:${name}`, async () => {
      try {
        return (await this.aws.client(IAMClient).send(new GetRoleCommand({ RoleName: name }))).Role;
      } catch (error) {
        if ((error as Error).name === 'NoSuchEntityException' || (error as Error).name === 'NoSuchEntity') return undefined;
        throw error;
      }
    });
  }

  /**
   * Whether `roleArn` may do `actions` on `resources`, decided by IAM's policy simulator as that
   * role (not as the bot). `resourcePolicy` adds a resource's own policy (a KMS key policy).
   */
  simulate(roleArn: string, actions: string[], resources: string[], options: { context?: ContextEntry[]; resourcePolicy?: string } = {}): Promise<Simulation> {
    const key = `sim:${roleArn}|${actions.join(',')}|${resources.join(',')}|${JSON.stringify(options)}`;
    return this.once(key, async () => {
      const out = await this.aws.client(IAMClient).send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: roleArn,
          ActionNames: actions,
          ResourceArns: resources,
          ...(options.context ? { ContextEntries: options.context } : {}),
          ...(options.resourcePolicy ? { ResourcePolicy: options.resourcePolicy } : {}),
        }),
      );
      const denials: SimulationDenial[] = [];
      for (const r of out.EvaluationResults ?? []) {
        const perResource = r.ResourceSpecificResults?.length
          ? r.ResourceSpecificResults
          : [{ EvalResourceName: r.EvalResourceName, EvalResourceDecision: r.EvalDecision }];
        for (const rr of perResource) {
          if (rr.EvalResourceDecision !== 'allowed')
            denials.push({ action: r.EvalActionName ?? '?', resource: rr.EvalResourceName ?? '*', decision: rr.EvalResourceDecision ?? 'implicitDeny' });
        }
      }
      return { allowed: denials.length === 0, denials };
    });
  }
}
