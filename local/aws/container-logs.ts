/**
 * What a task's containers print, written where their awslogs log driver sends it: the log group
 * and region of the container's `logConfiguration`, stream `<awslogs-stream-prefix>/<container>/<task id>`
 * (as ECS names awslogs streams). The scheduler calls it as tasks start, crash and stop, with the
 * emulator time of each line, so a diagnosis that reads the logs of a crashed task finds the lines
 * that led to the crash. Nothing is written to a log group that does not exist (unless the task
 * definition asks awslogs to create it), as the awslogs driver could not either.
 */
import type { ContainerDefinition, Task } from '@aws-sdk/client-ecs';
import { logsState, putLogGroup } from './services/logs';
import { nameFromRef, type EmulatorState, type RegionState } from './state';

export type ContainerMoment =
  | { kind: 'start' }
  /** The container died: it had been running since `startedAt`. */
  | { kind: 'crash'; startedAt: number; exitCode: number; reason?: string }
  /** ECS asked it to stop (SIGTERM). */
  | { kind: 'stop' };

/** Lines with their offset in ms from the moment's time (negative: before it). */
type Lines = Array<[offsetMs: number, message: string]>;

function appLines(container: ContainerDefinition, task: Task, moment: ContainerMoment, t: number): Lines {
  const port = container.portMappings?.[0]?.containerPort ?? 8080;
  switch (moment.kind) {
    case 'start':
      return [
        [0, `> ${container.name}@1.0.0 start`],
        [0, '> node dist/server.js'],
        [40, `{"level":"info","msg":"starting","taskDefinition":"${nameFromRef(task.taskDefinitionArn ?? '')}","pid":1}`],
        [180, '{"level":"info","msg":"connected to database","host":"db.internal:5432"}'],
        [230, `{"level":"info","msg":"listening","port":${port}}`],
      ];
    case 'stop':
      return [
        [0, '{"level":"info","msg":"SIGTERM received, draining connections"}'],
        [120, '{"level":"info","msg":"server closed, exiting","code":0}'],
      ];
    case 'crash': {
      const ran = Math.max(1, t - moment.startedAt);
      if (moment.exitCode === 137 || /OutOfMemory/i.test(moment.reason ?? '')) {
        // The heap grows until the kernel kills the process: it never gets to say so itself.
        const heap = [312, 398, 455, 489, 507];
        return heap.map((mb, i): [number, string] => [
          -ran + Math.round((ran * (i + 1)) / (heap.length + 1)),
          `{"level":"warn","msg":"memory usage high","heapUsedMB":${mb},"rssMB":${mb + 38},"limitMB":512}`,
        ]);
      }
      return [
        [-Math.round(ran / 3), '{"level":"error","msg":"unhandled error, exiting"}'],
        [-Math.round(ran / 3) + 1, "TypeError: Cannot read properties of undefined (reading 'split')"],
        [-Math.round(ran / 3) + 1, '    at parseConfig (/app/dist/config.js:42:31)'],
        [-Math.round(ran / 3) + 1, '    at Server.start (/app/dist/server.js:18:17)'],
        [-Math.round(ran / 3) + 2, `{"level":"fatal","msg":"process exiting","code":${moment.exitCode}}`],
      ];
    }
  }
}

/** Fluent Bit's own output, for FireLens log routers. */
function routerLines(moment: ContainerMoment): Lines {
  if (moment.kind === 'start') {
    return [
      [0, 'Fluent Bit v1.9.10'],
      [15, '[ info] [fluent bit] version=1.9.10, commit=, pid=1'],
      [30, '[ info] [input:forward:forward.0] listening on unix:///var/run/fluent.sock'],
      [45, '[ info] [sp] stream processor started'],
    ];
  }
  return [[0, '[engine] caught signal (SIGTERM)']];
}

/** Writes what `task`'s containers print at `moment`, at emulator time `t`. */
export function writeContainerLogs(
  state: EmulatorState,
  region: RegionState,
  task: Task,
  definition: { containerDefinitions?: ContainerDefinition[] } | undefined,
  moment: ContainerMoment,
  t: number,
  only?: string,
): void {
  for (const container of definition?.containerDefinitions ?? []) {
    if (only !== undefined && container.name !== only) continue;
    const lines = container.firelensConfiguration ? routerLines(moment) : appLines(container, task, moment, t);
    appendContainerLogs(
      state,
      region,
      task,
      container,
      lines.map(([offset, message]) => ({ timestamp: t + offset, message })),
    );
  }
}

/** Appends `events` to the awslogs stream of `container` of `task` (nothing without awslogs or its group). */
export function appendContainerLogs(
  state: EmulatorState,
  region: RegionState,
  task: Task,
  container: ContainerDefinition,
  events: Array<{ timestamp: number; message: string }>,
): void {
  const log = container.logConfiguration;
  if (log?.logDriver !== 'awslogs' || !events.length) return;
  const options = log.options ?? {};
  const groupName = options['awslogs-group'];
  const prefix = options['awslogs-stream-prefix'];
  if (!groupName || !prefix) return;
  const logRegion = state.region(region.accountId, options['awslogs-region'] ?? region.region);
  const groups = logsState(logRegion);
  const first = events[0]!.timestamp;
  const group = groups.get(groupName) ?? (options['awslogs-create-group'] === 'true' ? putLogGroup(logRegion, groupName, first) : undefined);
  if (!group) return;
  const streamName = `${prefix}/${container.name}/${nameFromRef(task.taskArn!)}`;
  let stream = group.streams.get(streamName);
  if (!stream) {
    stream = { logStreamName: streamName, creationTime: first, events: [] };
    group.streams.set(streamName, stream);
  }
  const ingestedAt = Math.max(...events.map((e) => e.timestamp));
  stream.events.push(...events.map((e) => ({ ...e, ingestionTime: ingestedAt })));
}
