import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ListTasksCommand,
  type ContainerDefinition,
  type ECSClient,
  type Task,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import { logStreamUrl, slackLink } from '../aws/console';
import { explainAwsError } from '../aws/errors';
import { lastLogLines, logsLocation, type LogLine } from '../ecs/container-logs';
import { shortTaskDefinition } from '../ecs/taskdef';
import { UsageError, UserFacingError } from '../platform/errors';
import { code, escapeText } from '../slack/format';
import type { WorkerHandler } from './verb';
import type { LogsArgs } from './verbs/args';
import type { WorkerContext } from '../worker/context';

export type LogsTarget = NonNullable<WorkerContext['target']>;

const taskIdOf = (arn: string | undefined): string => arn?.slice(arn.lastIndexOf('/') + 1) ?? '?';
/** A full id or ARN is described directly; a shorter id (as `/ecs status` shows it) is looked for among the service's tasks. */
const isFullTaskId = (task: string): boolean => task.startsWith('arn:') || task.length >= 32;
/** DescribeTasks takes at most 100 tasks a call. */
const DESCRIBE_BATCH = 100;
const newestFirst = (a: Task, b: Task): number => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0);

/** The service's tasks, running and recently stopped (ECS keeps stopped tasks about an hour). */
async function serviceTasks(ecs: ECSClient, target: LogsTarget): Promise<Task[]> {
  const listed = await Promise.all(
    (['RUNNING', 'STOPPED'] as const).map((desiredStatus) =>
      ecs.send(new ListTasksCommand({ cluster: target.cluster, serviceName: target.service, desiredStatus, maxResults: 100 })).then((o) => o.taskArns ?? []),
    ),
  ).catch((error) => {
    throw explainAwsError(error, `listing the tasks of ${code(target.service)}`);
  });
  const arns = listed.flat();
  const tasks: Task[] = [];
  for (let i = 0; i < arns.length; i += DESCRIBE_BATCH) tasks.push(...(await describeTasks(ecs, target, arns.slice(i, i + DESCRIBE_BATCH))));
  return tasks.sort(newestFirst);
}

async function describeTasks(ecs: ECSClient, target: LogsTarget, tasks: string[]): Promise<Task[]> {
  const out = await ecs.send(new DescribeTasksCommand({ cluster: target.cluster, tasks })).catch((error) => {
    throw explainAwsError(error, 'describing tasks');
  });
  return out.tasks ?? [];
}

/** The task whose logs are asked for: the one named (it must be this service's), else the newest. */
export async function findTask(ecs: ECSClient, target: LogsTarget, wanted: string | undefined): Promise<Task> {
  const where = `${code(target.service)} in cluster ${code(target.cluster)}`;
  const notFound = (id: string) =>
    new UserFacingError(
      `No task ${code(id)} of ${where}. Stopped tasks stay visible for about an hour; \`/ecs status ${target.alias}\` lists the recent ones.`,
    );
  if (wanted && isFullTaskId(wanted)) {
    const [task] = await describeTasks(ecs, target, [wanted]);
    // Another service's task in the same cluster is not this one's to read: the permission is on the service.
    if (!task || task.group !== `service:${target.service}`) throw notFound(wanted);
    return task;
  }
  const tasks = await serviceTasks(ecs, target);
  if (!wanted) {
    if (!tasks[0]) throw new UserFacingError(`${where} has no running or recently stopped task, so there are no logs to show.`);
    return tasks[0];
  }
  const matching = tasks.filter((t) => taskIdOf(t.taskArn).startsWith(wanted));
  if (matching.length > 1)
    throw new UsageError(
      `${code(wanted)} matches ${matching.length} tasks (${matching.map((t) => code(taskIdOf(t.taskArn))).join(', ')}): give more of the id.`,
    );
  if (!matching[0]) throw notFound(wanted);
  return matching[0];
}

/** The container asked for, else the configured application container, else the first essential one that is not a log router. */
export function pickContainer(taskDefinition: TaskDefinition, wanted: string | undefined, target: LogsTarget): ContainerDefinition {
  const containers = taskDefinition.containerDefinitions ?? [];
  const names = containers.map((c) => code(c.name ?? '?')).join(', ');
  if (wanted) {
    const found = containers.find((c) => c.name === wanted);
    if (!found)
      throw new UsageError(`Task definition ${code(shortTaskDefinition(taskDefinition.taskDefinitionArn))} has no container ${code(wanted)}: it has ${names}.`);
    return found;
  }
  const configured = containers.find((c) => target.appContainers?.includes(c.name ?? ''));
  const app = configured ?? containers.find((c) => c.essential !== false && !c.firelensConfiguration) ?? containers[0];
  if (!app) throw new UserFacingError(`Task definition ${code(shortTaskDefinition(taskDefinition.taskDefinitionArn))} has no containers.`);
  return app;
}

/** `2026-12-05 14:03:07Z message`: the line as written, with when CloudWatch received it. */
const logLineText = (line: LogLine): string => `${new Date(line.timestamp).toISOString().slice(0, 19).replace('T', ' ')}Z ${line.message.replace(/\n+$/, '')}`;

export const logs: WorkerHandler<LogsArgs> = async (args, ctx) => {
  const { aws, target } = ctx;
  if (!aws || !target) throw new Error('logs needs a target');
  const ecs = aws.ecs();
  const task = await findTask(ecs, target, args.task);
  const taskDefinition = await ecs
    .send(new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn }))
    .then((o) => o.taskDefinition ?? {})
    .catch((error) => {
      throw explainAwsError(error, `reading task definition ${code(shortTaskDefinition(task.taskDefinitionArn))}`);
    });
  const container = pickContainer(taskDefinition, args.container, target);
  const taskArn = task.taskArn ?? '';
  const about = `${code(container.name ?? '?')} in task ${code(taskIdOf(taskArn))} of *${target.alias}* (${escapeText(task.lastStatus ?? '?')}, ${code(shortTaskDefinition(task.taskDefinitionArn))})`;
  const where = logsLocation(container, taskArn, target.region);
  if (where.kind === 'elsewhere') {
    await ctx.out.post(`📄 Logs of ${about}:\n${escapeText(where.explanation)}`);
    return { outcome: 'warning', summary: `${target.alias}: ${where.container} logs with ${where.driver}, not readable here` };
  }
  const lines = await lastLogLines(aws, where, args.lines).catch((error) => {
    throw explainAwsError(error, `reading log stream ${code(where.stream)} of ${code(where.group)}`);
  });
  const link = slackLink(logStreamUrl(taskArn, where.container, container.logConfiguration), 'open in CloudWatch Logs');
  const stream = `stream ${code(where.stream)} of ${code(where.group)} (${escapeText(where.region)}) · ${link}`;
  if (lines.length === 0) {
    await ctx.out.post(`📄 No log lines yet for ${about}: ${stream} is empty or does not exist yet.`);
    return { outcome: 'success', summary: `${target.alias}: no log lines yet in task ${taskIdOf(taskArn).slice(0, 8)}` };
  }
  await ctx.out.post(`📄 Last ${lines.length} line${lines.length === 1 ? '' : 's'} of ${about}, ${stream}:`);
  // The live log: escaped, in a code block, split over replies and attached as a file when long.
  ctx.out.write(`${lines.map(logLineText).join('\n')}\n`);
  return { outcome: 'success', summary: `${target.alias}: last ${lines.length} log lines of ${where.container} in task ${taskIdOf(taskArn).slice(0, 8)}` };
};
