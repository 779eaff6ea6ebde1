/**
 * A CodeDeploy blue/green deployment whose replacement task set (label Green) crashes in a loop,
 * noticed early: CodeDeploy itself gives up only after its 60-minute wait for a healthy
 * replacement, ECS's circuit breaker does not apply to CODE_DEPLOY services, and a task set keeps
 * no failedTasks count of its own (ECS keeps one per deployment only). So the set's stopped tasks
 * are read as the rolling watch reads a deployment's (readStoppedTasks: ListTasks STOPPED of the
 * service, DescribeTasks of the ones not seen before; a task is the set's when it runs the deployed
 * task definition and was started by the set), and counted against ECS's circuit-breaker threshold
 * (tasksFailing), as the rolling and service-deployment watches count theirs.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import { readStoppedTasks, startProgress, tasksFailing, type WatchProgress } from './watch';

/** The replacement task set as GetDeploymentTarget shows it, with the task definition the deployment's AppSpec names. */
export interface ReplacementSet {
  /** The task set's id (ECSTaskSet.identifer): its tasks' startedBy. */
  id: string;
  taskDefinition: string;
  desiredCount: number;
}

export interface ReplacementWatch {
  /** The set's stopped tasks seen so far, kept as the rolling watch keeps a deployment's (deploymentId: the set's id; failedTasks: how many stopped). */
  progress: WatchProgress;
  /** New lines for the record, one per newly stopped task ("🛑 task `…` stopped: reason", AWS text escaped). */
  lines: string[];
  /**
   * Why the replacement is failing, once as many of its tasks stopped as ECS's circuit breaker would
   * count ("3 tasks of the replacement task set failed to start or stay running"); the stop reasons
   * as AWS wrote them are in `progress.stopReasons`.
   */
  failing?: string;
}

/**
 * One look at the replacement's stopped tasks (at most ListTasks and one DescribeTasks; errors
 * propagate to the caller's step). `before` is the previous look's progress; a different set (a
 * retried deployment's) starts the count again.
 */
export async function watchReplacement(
  ecs: ECSClient,
  where: { cluster: string; service: string },
  set: ReplacementSet,
  before: WatchProgress | undefined,
): Promise<ReplacementWatch> {
  const start = before?.deploymentId === set.id ? before : startProgress(set.id, set.taskDefinition, 0);
  const read = await readStoppedTasks(ecs, where.cluster, where.service, start);
  // readStoppedTasks says one line per stopped task of the set, each task once.
  const progress: WatchProgress = { ...read.progress, failedTasks: start.failedTasks + read.lines.length };
  const failing = tasksFailing(progress.failedTasks, set.desiredCount, 'the replacement task set');
  return { progress, lines: read.lines, ...(failing ? { failing } : {}) };
}
