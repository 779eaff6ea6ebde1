/**
 * A service's log lines over a time window, from CloudWatch Logs FilterLogEvents: every page to the
 * end of the window (nextToken), throttled reads waited out with exponential backoff and full
 * jitter (the same request again, same token: nothing lost), and each event handed on once
 * (deduplicated on its eventId, also across overlapping windows of a follow).
 */
import { type CloudWatchLogsClient, FilterLogEventsCommand, type FilteredLogEvent } from '@aws-sdk/client-cloudwatch-logs';
import { UsageError } from '../platform/errors';

export interface LogQuery {
  group: string;
  /** The streams of a container across tasks: `<awslogs-stream-prefix>/<container>/`. */
  streamPrefix?: string;
  /** Or exactly these streams (one task's). */
  streamNames?: string[];
  /** Epoch ms, inclusive. */
  startTime: number;
  /** Epoch ms, inclusive. */
  endTime?: number;
  filterPattern?: string;
}

export interface SearchOptions {
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter. */
  random?: () => number;
  /** Throttled attempts of one page before giving up. Default 8. */
  maxThrottleRetries?: number;
  /** First backoff ceiling, doubled each time up to maxDelayMs. Defaults 250 and 8000. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Event ids already handed on, with their times (kept across calls by a follow, which forgets the old ones: forgetBefore). */
  seen?: Map<string, number>;
  /** Events a page (FilterLogEvents allows up to 10,000). */
  pageLimit?: number;
}

export interface LogEventLine {
  eventId: string;
  timestamp: number;
  stream: string;
  message: string;
}

const isThrottling = (error: unknown): boolean => {
  const e = error as { name?: string; $retryable?: { throttling?: boolean } };
  return e?.name === 'ThrottlingException' || e?.name === 'Throttling' || e?.$retryable?.throttling === true;
};

/**
 * The events of `query`, oldest first, page by page (each page only events not seen before).
 * ResourceNotFoundException (no such group, or the task's stream not written yet) is no events.
 */
export async function* searchLogEvents(logs: CloudWatchLogsClient, query: LogQuery, options: SearchOptions = {}): AsyncGenerator<LogEventLine[]> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const maxRetries = options.maxThrottleRetries ?? 8;
  const base = options.baseDelayMs ?? 250;
  const maxDelay = options.maxDelayMs ?? 8000;
  const seen = options.seen ?? new Map<string, number>();
  let token: string | undefined;
  do {
    let out: { events?: FilteredLogEvent[]; nextToken?: string } | undefined;
    for (let attempt = 0; !out; attempt++) {
      try {
        out = await logs.send(
          new FilterLogEventsCommand({
            logGroupName: query.group,
            ...(query.streamNames ? { logStreamNames: query.streamNames } : query.streamPrefix ? { logStreamNamePrefix: query.streamPrefix } : {}),
            startTime: query.startTime,
            ...(query.endTime !== undefined ? { endTime: query.endTime } : {}),
            ...(query.filterPattern ? { filterPattern: query.filterPattern } : {}),
            ...(options.pageLimit ? { limit: options.pageLimit } : {}),
            ...(token ? { nextToken: token } : {}),
          }),
        );
      } catch (error) {
        if ((error as Error).name === 'ResourceNotFoundException') return;
        if (!isThrottling(error) || attempt >= maxRetries) throw error;
        // Full jitter: anywhere up to the (doubling) ceiling, so many readers do not retry in step.
        await sleep(Math.floor(random() * Math.min(maxDelay, base * 2 ** attempt)));
      }
    }
    const fresh: LogEventLine[] = [];
    for (const e of out.events ?? []) {
      const id = e.eventId ?? `${e.logStreamName}/${e.timestamp}/${e.message}`;
      if (seen.has(id)) continue;
      seen.set(id, e.timestamp ?? 0);
      fresh.push({ eventId: id, timestamp: e.timestamp ?? 0, stream: e.logStreamName ?? '', message: e.message ?? '' });
    }
    if (fresh.length) yield fresh;
    token = out.nextToken;
  } while (token);
}

/**
 * Forgets the ids of events before `time`: a read that starts at `time` or later cannot return
 * them again, so a long follow of a busy service keeps only its last seconds' ids in memory.
 */
export function forgetBefore(seen: Map<string, number>, time: number): void {
  for (const [id, t] of seen) if (t < time) seen.delete(id);
}

/**
 * The filter pattern for `--grep <text>`: the text as one quoted term, matched literally and
 * case-sensitively anywhere in a line. Nothing the user types can become pattern syntax (`?`, `-`,
 * `%regex%`, `{ $.… }`, `[…]` are all literal inside the quotes); a double quote or backslash,
 * which could end the term or escape its closing quote, is refused.
 */
export function grepPattern(text: string): string {
  if (!text.trim()) throw new UsageError('`--grep` needs some text to look for.');
  if (/["\\]/.test(text)) throw new UsageError('`--grep` looks for literal text: double quotes and backslashes are not accepted in it.');
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new UsageError('`--grep` text cannot hold control characters.');
  if (text.length > 1000) throw new UsageError('`--grep` text is at most 1000 characters.');
  return `"${text}"`;
}

const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** `30s`, `15m`, `2h`, `1d`, `1h30m` → ms; undefined when not a duration. */
export function parseLogDuration(text: string): number | undefined {
  const match = /^(?:(\d{1,3})d)?(?:(\d{1,4})h)?(?:(\d{1,5})m)?(?:(\d{1,6})s)?$/i.exec(text.trim());
  if (!match || !(match[1] || match[2] || match[3] || match[4])) return undefined;
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  return Number(d) * UNITS.d! + Number(h) * UNITS.h! + Number(m) * UNITS.m! + Number(s) * UNITS.s!;
}
