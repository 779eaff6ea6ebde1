/**
 * Reads a job's log stream forward as it grows: GetLogEvents from the head, then on from each
 * nextForwardToken, so no line is lost or repeated; a stream that does not exist yet (the container
 * has not started) is simply empty; throttling backs off (the SDK retries, then the next poll does).
 */
import type { AwsSession } from '../aws/session';
import { logPage, type LogsLocation } from '../ecs/container-logs';

type Awslogs = Extract<LogsLocation, { kind: 'awslogs' }>;

/** A position in a stream, plain data: a durable step can carry it between polls. */
export interface StreamCursor {
  token?: string;
}

/** GetLogEvents answers at most 10,000 events (1 MB) a page: read on while pages come full. */
const MAX_PAGES_PER_READ = 20;

export async function readNewLines(aws: AwsSession, where: Awslogs, cursor: StreamCursor): Promise<string[]> {
  const lines: string[] = [];
  for (let i = 0; i < MAX_PAGES_PER_READ; i++) {
    let out: Awaited<ReturnType<typeof logPage>>;
    try {
      out = await logPage(aws, where, { forward: true, token: cursor.token });
    } catch (error) {
      // Throttled after the SDK's own retries (with backoff): what was read is kept and the cursor
      // stays where it was, so the next poll reads on from exactly there: nothing lost or repeated.
      if ((error as Error).name === 'ThrottlingException') return lines;
      throw error;
    }
    // No stream yet: the container has not started.
    if (!out) return lines;
    const events = out.events ?? [];
    for (const e of events) lines.push(...(e.message ?? '').replace(/\r?\n$/, '').split(/\r?\n/));
    const same = out.nextForwardToken === cursor.token;
    if (out.nextForwardToken) cursor.token = out.nextForwardToken;
    if (same || events.length === 0) return lines;
  }
  return lines;
}
