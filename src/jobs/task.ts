/**
 * One-off jobs (`/ecs job`, config `jobs:`), the parts that need no AWS: the job's argv from its
 * declaration and the arguments given, the RunTask request built from its target's service, and
 * how a stopped task is judged. A task that never started, a missing exit code or a non-zero one
 * is a failure, never a success (ecspresso's users were bitten by "never started = exit 0").
 */
import type { Failure, RunTaskCommandInput, Service, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import type { Job } from '../config/schema';
import { JOB_PLACEHOLDER } from './placeholder';
import { validateArgs } from '../commands/script-args';

/** `/ecs job migrate [version]`: usage with each argument. */
export function jobUsage(name: string, job: Job): string {
  const args = job.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`));
  return `/ecs job ${name}${args.length ? ` ${args.join(' ')}` : ''}`;
}

/** Checks the words after the job name exactly as script arguments are checked (src/exec/command.ts). */
export const validateJobArgs = (name: string, job: Job, values: string[]): string[] => validateArgs(job, values, jobUsage(name, job));

/**
 * The container's command: each `{arg}` item replaced by that argument's value as one literal
 * argv item (an optional argument not given drops its item). There is no shell.
 */
export function jobCommand(job: Job, values: readonly string[]): string[] {
  const byName = new Map(job.args.map((a, i) => [a.name, values[i]]));
  return job.command.flatMap((item) => {
    const placeholder = JOB_PLACEHOLDER.exec(item)?.[1];
    if (placeholder === undefined) return [item];
    const value = byName.get(placeholder);
    return value === undefined ? [] : [value];
  });
}

/** RunTask's clientToken for a run: a retried step never starts a second task. */
export const clientTokenOf = (runId: string): string => `ecs-chatops-job-${runId}`;

/** Tag values ECS accepts: letters, digits, spaces and `+ - = . _ : / @`, at most 256. */
const tagValue = (value: string): string => value.replace(/[^\p{L}\p{N} +\-=._:/@]/gu, '_').slice(0, 256);

export interface JobRequest {
  name: string;
  job: Job;
  args: readonly string[];
  runId: string;
  cluster: string;
  userId: string;
  userName?: string | undefined;
}

/**
 * The RunTask request: the service's task definition (or the job's own), cluster, network
 * configuration and launch type or capacity provider strategy; the job's container gets its command
 * and environment; startedBy is the run id, clientToken derives from it, tags name the Slack user.
 */
export function runTaskInput(r: JobRequest, service: Service): RunTaskCommandInput {
  const { job } = r;
  const environment = Object.entries(job.environment).map(([name, value]) => ({ name, value }));
  const strategy = service.capacityProviderStrategy?.length ? service.capacityProviderStrategy : undefined;
  return {
    cluster: r.cluster,
    taskDefinition: job.taskDefinition ?? service.taskDefinition,
    ...(strategy ? { capacityProviderStrategy: strategy } : service.launchType ? { launchType: service.launchType } : {}),
    ...(service.platformVersion && service.launchType === 'FARGATE' ? { platformVersion: service.platformVersion } : {}),
    ...(service.networkConfiguration ? { networkConfiguration: service.networkConfiguration } : {}),
    overrides: {
      containerOverrides: [{ name: job.container, command: jobCommand(job, r.args), ...(environment.length ? { environment } : {}) }],
      ...(job.cpu !== undefined ? { cpu: String(job.cpu) } : {}),
      ...(job.memory !== undefined ? { memory: String(job.memory) } : {}),
    },
    count: 1,
    startedBy: r.runId,
    clientToken: clientTokenOf(r.runId),
    tags: [
      { key: 'ecs-chatops:job', value: r.name },
      { key: 'ecs-chatops:run-id', value: r.runId },
      { key: 'ecs-chatops:slack-user-id', value: r.userId },
      ...(r.userName ? [{ key: 'ecs-chatops:slack-user', value: tagValue(r.userName) }] : []),
    ],
  };
}

/** How a job ended, as its thread tells it (Slack-free: the caller escapes and formats). */
export type JobVerdict =
  | { outcome: 'success'; exitCodes: ContainerExit[]; stopCode?: string; reason?: string }
  | { outcome: 'failure' | 'cancelled'; why: string; exitCodes: ContainerExit[]; stopCode?: string; reason?: string };

export interface ContainerExit {
  name: string;
  essential: boolean;
  /** Undefined: ECS reports none (the container never ran, or its code was lost). */
  exitCode?: number;
  reason?: string;
}

/** StopTask's reason (ECS keeps up to 255 characters, shown as the task's stoppedReason): who or what stopped it. */
export function stopTaskReason(runId: string, stop: { why: 'cancelled' | 'timeout'; by?: string | undefined }, limitSeconds: number): string {
  return stop.why === 'cancelled'
    ? `Cancelled in Slack by ${stop.by ?? 'someone'} (ecs-chatops run ${runId})`
    : `Stopped by ecs-chatops: run ${runId} reached its time limit of ${Math.round(limitSeconds)} s`;
}

/** The names of a task definition's essential containers (`essential` defaults to true). */
export const essentialContainers = (definition: TaskDefinition): string[] =>
  (definition.containerDefinitions ?? []).filter((c) => c.essential !== false && c.name).map((c) => c.name!);

/** Just enough of a task definition for judgeTask, from the essential names a plan kept. */
export const essentialDefinition = (essential: readonly string[]): TaskDefinition => ({ containerDefinitions: essential.map((name) => ({ name })) });

/** RunTask answered no task: the failures[] as one reason. */
export function placementFailure(failures: readonly Failure[] | undefined): string {
  const reasons = [...new Set((failures ?? []).map((f) => [f.reason, f.detail].filter(Boolean).join(': ')))];
  return reasons.length ? reasons.join('; ') : 'RunTask started no task and gave no reason';
}

/**
 * A STOPPED task's verdict. Success only when every essential container reported exit code 0 and
 * the task did not fail to start; `container` is the job's own container (its code is named first).
 */
export function judgeTask(task: Task, definition: TaskDefinition | undefined, container: string, cancelled: boolean): JobVerdict {
  const essential = new Set((definition?.containerDefinitions ?? []).filter((c) => c.essential !== false).map((c) => c.name));
  const exits: ContainerExit[] = (task.containers ?? [])
    .map((c) => ({
      name: c.name ?? '?',
      essential: essential.size ? essential.has(c.name) : true,
      ...(c.exitCode !== undefined && c.exitCode !== null ? { exitCode: c.exitCode } : {}),
      ...(c.reason ? { reason: c.reason } : {}),
    }))
    .sort((a, b) => +(b.name === container) - +(a.name === container));
  const about = { exitCodes: exits, ...(task.stopCode ? { stopCode: task.stopCode } : {}), ...(task.stoppedReason ? { reason: task.stoppedReason } : {}) };
  const own = exits.find((e) => e.name === container);
  if (cancelled) return { outcome: 'cancelled', why: 'the task was stopped on request', ...about };
  // Stopped by someone else (or at its time limit): whatever its containers said, not a success.
  if (task.stopCode === 'UserInitiated') return { outcome: 'failure', why: `the task was stopped (${task.stoppedReason ?? 'no reason given'})`, ...about };
  const pull = exits.find((e) => e.reason?.startsWith('CannotPullContainerError'));
  if (task.stopCode === 'TaskFailedToStart' || pull) {
    return { outcome: 'failure', why: `the task never started: ${pull?.reason ?? task.stoppedReason ?? 'no reason given'}`, ...about };
  }
  const missing = exits.filter((e) => e.essential && e.exitCode === undefined);
  if (missing.length) {
    return { outcome: 'failure', why: `no exit code was reported for ${missing.map((m) => m.name).join(', ')}, so it cannot count as a success`, ...about };
  }
  const failed = exits.filter((e) => e.essential && e.exitCode !== 0);
  if (failed.length) {
    const first = failed[0]!;
    return { outcome: 'failure', why: `${first.name} exited with code ${first.exitCode}${first.reason ? ` (${first.reason})` : ''}`, ...about };
  }
  if (!own) return { outcome: 'failure', why: `the task has no container ${container}`, ...about };
  return { outcome: 'success', ...about };
}
