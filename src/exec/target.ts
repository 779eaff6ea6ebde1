import { DescribeTasksCommand, ListTasksCommand, type Task } from '@aws-sdk/client-ecs';
import type { AwsSession } from '../aws/session';
import type { Target } from '../config/schema';
import { UserFacingError } from '../platform/errors';
import { escapeText } from '../slack/format';

export interface ExecTarget {
  cluster: string;
  service: string;
  container: string;
  task: Task;
  taskId: string;
}

/**
 * A RUNNING task of the manager service whose ECS Exec agent runs in the manager container.
 * Tasks started before exec was enabled, or whose agent is not up, cannot take a session.
 */
export async function pickExecTask(aws: AwsSession, alias: string, target: Target): Promise<ExecTarget> {
  const manager = target.manager;
  if (!manager) throw new UserFacingError(`Target \`${alias}\` declares no manager container (\`targets.${alias}.manager\`), so scripts cannot run there.`);
  const service = manager.service ?? target.service;
  const ecs = aws.ecs();
  const listed = await ecs.send(new ListTasksCommand({ cluster: target.cluster, serviceName: service, desiredStatus: 'RUNNING' }));
  if (!listed.taskArns?.length) {
    throw new UserFacingError(
      `No task of \`${service}\` is running in cluster \`${target.cluster}\`, so there is nowhere to run the script. \`/ecs status ${alias}\` shows why.`,
    );
  }
  const described = await ecs.send(new DescribeTasksCommand({ cluster: target.cluster, tasks: listed.taskArns.slice(0, 100) }));
  const running = (described.tasks ?? []).filter((t) => t.lastStatus === 'RUNNING');
  const agentRunning = (t: Task) =>
    t.containers?.find((c) => c.name === manager.container)?.managedAgents?.some((a) => a.name === 'ExecuteCommandAgent' && a.lastStatus === 'RUNNING');
  const ready = running.filter((t) => t.enableExecuteCommand && agentRunning(t));
  if (ready.length === 0) {
    const withoutExec = running.filter((t) => !t.enableExecuteCommand).length;
    const noContainer = running.filter((t) => !t.containers?.some((c) => c.name === manager.container)).length;
    const why =
      noContainer === running.length
        ? `none of its running tasks has a container named \`${manager.container}\` (check \`targets.${alias}.manager.container\`)`
        : withoutExec
          ? `${withoutExec} of ${running.length} running tasks were started without ECS Exec (a new deployment is needed: \`/ecs deploy ${alias} --redeploy\`)`
          : `the ECS Exec agent is not running in \`${manager.container}\` of any task`;
    throw new UserFacingError(`ECS Exec is not ready on \`${service}\`: ${why}. \`/ecs verify ${alias}\` checks everything ECS Exec needs.`);
  }
  // The longest-running ready task: the least likely to be replaced mid-run by a deployment.
  const task = ready.sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0))[0]!;
  return { cluster: target.cluster, service, container: manager.container, task, taskId: task.taskArn!.split('/').pop()! };
}

/** ExecuteCommand's failures in plain words, with the fix. */
export function explainExecError(error: unknown, alias: string): UserFacingError | undefined {
  const e = error as { name?: string; message?: string };
  if (e?.name === 'InvalidParameterException' && /execute command/i.test(e.message ?? '')) {
    return new UserFacingError(
      `ECS refused the session: ${escapeText(e.message ?? '')} This happens when the task was started before ECS Exec was enabled, or its agent is not up yet. \`/ecs verify ${alias}\` checks it; \`/ecs deploy ${alias} --redeploy\` starts tasks with exec on.`,
    );
  }
  if (e?.name === 'TargetNotConnectedException') {
    return new UserFacingError(
      `ECS could not connect to the container's exec agent (TargetNotConnectedException). The usual causes: the task role lacks the \`ssmmessages:*\` permissions, the task cannot reach \`ssmmessages\` (no NAT route or VPC endpoint), or the root filesystem is read-only. \`/ecs verify ${alias}\` checks each of these.`,
    );
  }
  return undefined;
}
