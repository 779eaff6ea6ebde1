/** AWS events for EventBridge tests, as the services emit them (shared/reference/ecs-events.md). */
import type { EmittedEvent } from '../../local/aws/events-contract';
import { DEFAULT_ACCOUNT, DEFAULT_REGION } from '../../local/aws/state';

/** A task's state change, by default its stop ("ECS Task State Change", trimmed; ecs-events.md §2). */
export function taskStopped(account = DEFAULT_ACCOUNT, lastStatus = 'STOPPED'): EmittedEvent {
  const taskArn = `arn:aws:ecs:${DEFAULT_REGION}:${account}:task/prod/0123456789abcdef0123456789abcdef`;
  return {
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account,
    time: '2026-12-05T10:00:00Z',
    region: DEFAULT_REGION,
    resources: [taskArn],
    detail: {
      taskArn,
      clusterArn: `arn:aws:ecs:${DEFAULT_REGION}:${account}:cluster/prod`,
      lastStatus,
      desiredStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      version: 3,
    },
  };
}

/** Polls (real time) until `condition` holds. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
