/**
 * What a web service's running tasks log while they serve: request lines, now and then a warning
 * or an ERROR, written to each running task's awslogs stream (`<prefix>/<container>/<task id>` in
 * the container's `awslogs-group`), as the awslogs driver would. The playground runs it so
 * `/ecs logs web --since 15m`, `--grep ERROR` and `--follow` have something to show: a backfill of
 * the last minutes, then a line every few seconds while it runs.
 */
import type { ContainerDefinition, Task } from '@aws-sdk/client-ecs';
import { logsState } from './services/logs';
import type { Clock, EmulatorState } from './state';
import { nameFromRef } from './state';

export interface TrafficOptions {
  accountId?: string;
  region?: string;
  cluster?: string;
  service?: string;
  /** Emulator ms between two lines of a task. Default 4000. */
  everyMs?: number;
  /** Lines written at once for the time before now. Default 10 minutes. */
  backfillMs?: number;
}

const PATHS = ['/api/orders', '/api/orders/1842', '/api/cart', '/api/checkout', '/health', '/api/users/me'];

/** The n-th line a task writes: mostly requests, every 9th a warning, every 13th an ERROR. */
export function trafficLine(n: number): string {
  if (n % 13 === 7) {
    const errors = [
      'ERROR payment provider timeout after 5000ms (order 1842)',
      'ERROR connection refused: redis.internal:6379',
      'ERROR unhandled rejection in /api/checkout: Error: card_declined',
    ];
    return `{"level":"error","msg":"${errors[n % errors.length]}"}`;
  }
  if (n % 9 === 4) return `{"level":"warn","msg":"slow query: SELECT * FROM orders WHERE user_id = $1 took ${800 + (n % 7) * 110}ms"}`;
  const path = PATHS[n % PATHS.length]!;
  const method = path === '/api/checkout' ? 'POST' : 'GET';
  return `{"level":"info","msg":"${method} ${path} ${method === 'POST' ? 201 : 200}","ms":${5 + ((n * 37) % 140)}}`;
}

/** Writes backfill now and a line per task every `everyMs`; returns the function that stops it. */
export function startServiceTraffic(state: EmulatorState, clock: Clock, options: TrafficOptions = {}): () => void {
  const { accountId = '111111111111', region = 'us-east-1', cluster = 'main', service = 'web', everyMs = 4000, backfillMs = 600_000 } = options;
  const counters = new Map<string, number>();
  const regional = state.region(accountId, region);
  const running = (): Task[] =>
    [...(regional.ecs.clusters.get(cluster)?.tasks.values() ?? [])].filter((t) => t.group === `service:${service}` && t.lastStatus === 'RUNNING');
  const write = (task: Task, timestamps: number[]) => {
    const definition = regional.ecs.taskDefinitions.get(nameFromRef(task.taskDefinitionArn ?? ''))?.taskDefinition;
    const app = definition?.containerDefinitions?.find((c: ContainerDefinition) => c.logConfiguration?.logDriver === 'awslogs' && !c.firelensConfiguration);
    const options = app?.logConfiguration?.options ?? {};
    const group = options['awslogs-group'] && logsState(state.region(accountId, options['awslogs-region'] ?? region)).get(options['awslogs-group']);
    if (!app || !group || !options['awslogs-stream-prefix']) return;
    const name = `${options['awslogs-stream-prefix']}/${app.name}/${nameFromRef(task.taskArn ?? '')}`;
    let stream = group.streams.get(name);
    if (!stream) {
      stream = { logStreamName: name, creationTime: timestamps[0] ?? clock.now(), events: [] };
      group.streams.set(name, stream);
    }
    let n = counters.get(name) ?? 0;
    for (const timestamp of timestamps) stream.events.push({ timestamp, message: trafficLine(n++), ingestionTime: timestamp + 40 });
    counters.set(name, n);
  };
  const now = clock.now();
  for (const [k, task] of running().entries()) {
    const timestamps: number[] = [];
    for (let t = now - backfillMs + k * 700; t < now; t += everyMs) timestamps.push(t);
    write(task, timestamps);
  }
  const timer = setInterval(() => {
    for (const task of running()) write(task, [clock.now()]);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
