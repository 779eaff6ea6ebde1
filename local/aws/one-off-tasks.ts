/**
 * One-off tasks (RunTask), simulated over emulator time like the service scheduler's (rollout.ts):
 * nothing runs on real timers. A task's whole life is planned when it starts (and replanned by
 * StopTask) as timed steps, and `runOneOffTasks()` plays the due ones whenever the scheduler runs:
 *
 *   PROVISIONING ─provisionMs→ PENDING ─pullMs→ RUNNING ─(program)→ DEPROVISIONING ─stopMs→ STOPPED
 *                                  └─ image can't be pulled / command can't start → DEPROVISIONING (TaskFailedToStart) → STOPPED
 *   StopTask → DEACTIVATING ─→ containers exit (SIGTERM: 143) → DEPROVISIONING (UserInitiated) → STOPPED
 *
 * The container given a command runs the matching program of job-programs.ts: its lines reach the
 * container's awslogs stream (`prefix/container/taskId`) at the time it prints them, and its exit
 * code is the container's. Every change is an ECS Task State Change event, as for service tasks.
 */
import type { Container, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import { appendContainerLogs } from './container-logs';
import { taskStateChange } from './ecs-events';
import { programFor, type Program } from './job-programs';
import { nameFromRef, type EcsClusterState, type EmulatorState, type RegionState } from './state';

type Step =
  | { at: number; kind: 'PENDING' | 'RUNNING' | 'STOPPED' }
  | { at: number; kind: 'LINE'; text: string }
  /** The program (or every container, on a stop) ended: exit codes by container name. */
  | { at: number; kind: 'EXIT'; codes: Record<string, number>; stopCode: string; reason: string }
  | { at: number; kind: 'START_FAILED'; container: string; reason: string };

interface OneOff {
  task: Task;
  definition: TaskDefinition;
  /** The container running the program (the one with a command override, else the first essential). */
  container: string;
  program: Program;
  steps: Step[];
}

const byCluster = new WeakMap<EcsClusterState, Map<string, OneOff>>();
const oneOffsOf = (cluster: EcsClusterState) => byCluster.get(cluster) ?? byCluster.set(cluster, new Map()).get(cluster)!;

/** Task definition families whose tasks RunTask cannot place (the emulator's capacity fault, seeded for `bulk-import`). */
const unplaceable = new WeakMap<EmulatorState, Set<string>>();
export const unplaceableFamilies = (state: EmulatorState): Set<string> => unplaceable.get(state) ?? unplaceable.set(state, new Set()).get(state)!;

const SIGTERM_EXIT_MS = 400;
const taskId = (task: Task) => nameFromRef(task.taskArn!);

/** Starts the life of a task RunTask has just created (PROVISIONING). */
export function startOneOff(state: EmulatorState, region: RegionState, cluster: EcsClusterState, task: Task, definition: TaskDefinition, t: number): void {
  const overrides = task.overrides?.containerOverrides ?? [];
  const withCommand = overrides.find((o) => o.command?.length);
  const container =
    definition.containerDefinitions?.find((c) => c.name === withCommand?.name) ?? definition.containerDefinitions?.find((c) => c.essential !== false);
  const name = container?.name ?? '';
  const override = overrides.find((o) => o.name === name);
  const env = Object.fromEntries([...(container?.environment ?? []), ...(override?.environment ?? [])].map((e) => [e.name!, e.value ?? '']));
  const command = override?.command ?? container?.command ?? [];
  const program = programFor(command, env);
  const timings = state.ecsTimings;
  const pending = t + timings.provisionMs;
  const started = pending + timings.pullMs;
  const pull = definition.containerDefinitions?.find((c) =>
    state.failingImages.some((r) => r.mode === 'pull' && (typeof r.image === 'string' ? r.image === c.image : r.image.test(c.image ?? ''))),
  );
  const steps: Step[] = [{ at: pending, kind: 'PENDING' }];
  if (pull) {
    const reason = `CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref ${pull.image}: ${pull.image}: not found`;
    steps.push({ at: started, kind: 'START_FAILED', container: pull.name!, reason }, { at: started + timings.stopMs, kind: 'STOPPED' });
  } else if ('cannotStart' in program) {
    steps.push({ at: started, kind: 'START_FAILED', container: name, reason: program.cannotStart }, { at: started + timings.stopMs, kind: 'STOPPED' });
  } else {
    const end = started + program.endsAfterMs;
    steps.push(
      { at: started, kind: 'RUNNING' },
      ...program.lines.map(([offset, text]): Step => ({ at: started + offset, kind: 'LINE', text })),
      {
        at: end,
        kind: 'EXIT',
        // The others (a log router) are stopped by ECS once the essential container exits.
        codes: Object.fromEntries((definition.containerDefinitions ?? []).map((c) => [c.name!, c.name === name ? program.exitCode : 0])),
        stopCode: 'EssentialContainerExited',
        reason: `Essential container in task exited`,
      },
      { at: end + timings.stopMs, kind: 'STOPPED' },
    );
  }
  oneOffsOf(cluster).set(taskId(task), { task, definition, container: name, program, steps: steps.sort((a, b) => a.at - b.at) });
  state.events.emit(taskStateChange(region, task, t));
}

/** StopTask on a one-off task: false when the task is not one (a service task). */
export function stopOneOff(state: EmulatorState, region: RegionState, cluster: EcsClusterState, task: Task, reason: string, t: number): boolean {
  const run = oneOffsOf(cluster).get(taskId(task));
  if (!run) return false;
  if (task.desiredStatus === 'STOPPED') return true;
  const running = task.lastStatus === 'RUNNING';
  Object.assign(task, {
    desiredStatus: 'STOPPED',
    stopCode: 'UserInitiated',
    stoppedReason: reason,
    stoppingAt: new Date(t),
    ...(running ? { lastStatus: 'DEACTIVATING' } : {}),
    version: (task.version ?? 0) + 1,
  });
  state.events.emit(taskStateChange(region, task, t));
  const codes = running ? Object.fromEntries((task.containers ?? []).map((c) => [c.name!, c.name === run.container ? 143 : 0])) : {};
  const exit = running ? t + SIGTERM_EXIT_MS : t;
  run.steps = [
    ...run.steps.filter((s) => s.at < exit && s.kind === 'LINE'),
    { at: exit, kind: 'EXIT', codes, stopCode: 'UserInitiated', reason },
    { at: exit + state.ecsTimings.stopMs, kind: 'STOPPED' },
  ];
  return true;
}

/** Plays every one-off task's steps due up to `now`. */
export function runOneOffTasks(state: EmulatorState, region: RegionState, cluster: EcsClusterState, now: number): void {
  const runs = byCluster.get(cluster);
  if (!runs) return;
  for (const [id, run] of runs) {
    const due: Step[] = [];
    while (run.steps.length && run.steps[0]!.at <= now) due.push(run.steps.shift()!);
    let lines: Array<{ timestamp: number; message: string }> = [];
    const flush = () => {
      const container = run.definition.containerDefinitions?.find((c) => c.name === run.container);
      if (container && lines.length) appendContainerLogs(state, region, run.task, container, lines);
      lines = [];
    };
    for (const step of due) {
      if (step.kind === 'LINE') {
        lines.push({ timestamp: step.at, message: step.text });
        continue;
      }
      flush();
      apply(run.task, step);
      state.events.emit(taskStateChange(region, run.task, step.at));
    }
    flush();
    if (!run.steps.length) runs.delete(id);
  }
}

function apply(task: Task, step: Exclude<Step, { kind: 'LINE' }>): void {
  const at = new Date(step.at);
  task.version = (task.version ?? 0) + 1;
  const attachments = (status: string) => {
    for (const a of task.attachments ?? []) a.status = status;
  };
  switch (step.kind) {
    case 'PENDING':
      Object.assign(task, { lastStatus: 'PENDING', connectivity: 'CONNECTED', connectivityAt: at, pullStartedAt: at });
      attachments('ATTACHED');
      break;
    case 'RUNNING':
      Object.assign(task, { lastStatus: 'RUNNING', pullStoppedAt: at, startedAt: at });
      for (const c of task.containers ?? []) c.lastStatus = 'RUNNING';
      break;
    case 'START_FAILED':
      Object.assign(task, {
        desiredStatus: 'STOPPED',
        lastStatus: 'DEPROVISIONING',
        stopCode: 'TaskFailedToStart',
        stoppedReason: step.reason,
        stoppingAt: at,
        executionStoppedAt: at,
      });
      // The containers never ran: no exit code, the failed one says why.
      for (const c of task.containers ?? []) stopContainer(c, undefined, c.name === step.container ? step.reason : undefined);
      break;
    case 'EXIT': {
      const stopping = task.desiredStatus !== 'STOPPED';
      Object.assign(task, {
        desiredStatus: 'STOPPED',
        lastStatus: 'DEPROVISIONING',
        ...(stopping ? { stopCode: step.stopCode, stoppedReason: step.reason, stoppingAt: at } : {}),
        executionStoppedAt: at,
      });
      for (const c of task.containers ?? []) stopContainer(c, step.codes[c.name!]);
      break;
    }
    case 'STOPPED':
      Object.assign(task, { lastStatus: 'STOPPED', stoppedAt: at });
      attachments('DELETED');
      break;
  }
}

function stopContainer(c: Container, exitCode: number | undefined, reason?: string): void {
  c.lastStatus = 'STOPPED';
  if (exitCode !== undefined) c.exitCode = exitCode;
  if (reason) c.reason = reason;
}
