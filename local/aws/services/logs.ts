/**
 * Amazon CloudWatch Logs (JSON 1.1, target Logs_20140328): log groups, streams and events, enough
 * for an awslogs check that actually writes (create a stream, put one event) as ecspresso does,
 * and FilterLogEvents (logs-filter.ts) for `/ecs logs` over a window.
 * Creation and event times are epoch milliseconds (plain longs on the wire, not timestamps).
 */
import { AwsError, asList, type CallContext, type Params, type ServiceDefinition } from '../protocols';
import type { RegionState } from '../state';
import { filterLogEvents } from './logs-filter';

export interface LogEvent {
  timestamp: number;
  message: string;
  ingestionTime: number;
}
export interface LogStream {
  logStreamName: string;
  creationTime: number;
  events: LogEvent[];
}
export interface LogGroup {
  logGroupName: string;
  creationTime: number;
  retentionInDays?: number;
  kmsKeyId?: string;
  streams: Map<string, LogStream>;
}

const stores = new WeakMap<RegionState, Map<string, LogGroup>>();
export const logsState = (r: RegionState): Map<string, LogGroup> => stores.get(r) ?? stores.set(r, new Map()).get(r)!;

export function putLogGroup(r: RegionState, name: string, creationTime: number, options: { retentionInDays?: number; kmsKeyId?: string } = {}): LogGroup {
  const group: LogGroup = { logGroupName: name, creationTime, ...options, streams: new Map() };
  logsState(r).set(name, group);
  return group;
}

const groupArn = (ctx: CallContext, name: string) => `arn:aws:logs:${ctx.region}:${ctx.accountId}:log-group:${name}`;
const DAY = 86_400_000;
/** Sequence tokens are ignored by PutLogEvents today but still returned; a long decimal string like AWS's. */
const sequenceToken = (n: number) => `4959${String(n).padStart(52, '0')}`;

const invalid = (message: string) => new AwsError('InvalidParameterException', message);
const groupMissing = () => new AwsError('ResourceNotFoundException', 'The specified log group does not exist.');

/** `logGroupIdentifier` may be a name or an ARN (with or without the trailing `:*`). */
const nameOf = (identifier: string) =>
  identifier.startsWith('arn:') ? identifier.replace(/^arn:[^:]*:logs:[^:]*:\d*:log-group:/, '').replace(/:\*$/, '') : identifier;

function findGroup(ctx: CallContext, ref: string | undefined): LogGroup {
  const group = ref ? logsState(ctx.regional).get(nameOf(ref)) : undefined;
  if (!group) throw groupMissing();
  return group;
}

/** Opaque offset tokens, like the ECS emulator's. */
function page<T>(items: T[], p: Params, max = 50): { page: T[]; nextToken?: string } {
  const limit = p.limit ?? max;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw invalid(`1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
  }
  const offset = p.nextToken ? Number(Buffer.from(String(p.nextToken), 'base64').toString('utf8')) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw invalid('The specified nextToken is invalid.');
  const next = offset + limit < items.length ? Buffer.from(String(offset + limit)).toString('base64') : undefined;
  return { page: items.slice(offset, offset + limit), ...(next ? { nextToken: next } : {}) };
}

/** GetLogEvents' page: at most 10,000 events and 1 MB (each event counts its UTF-8 bytes plus 26). */
const MAX_EVENTS = 10_000;
const MAX_BYTES = 1_048_576;
/** Forward (`f/`) and backward (`b/`) tokens: a position in the stream, 56 digits like AWS's. */
const token = (direction: 'f' | 'b', position: number) => `${direction}/${String(position).padStart(56, '0')}`;

/**
 * GetLogEvents as the API reference defines it: without a token, the newest events (or the oldest
 * with startFromHead); a forward token reads on from where the last page ended, a backward token
 * reads the page before it. Both tokens are always returned; at either end of the stream the token
 * that was passed comes back unchanged. startTime is inclusive, endTime exclusive.
 */
function getLogEvents(p: Params, ctx: CallContext) {
  if (p.logGroupName && p.logGroupIdentifier) throw invalid('LogGroupName and LogGroupIdentifier are mutually exclusive');
  if (!p.logStreamName) {
    throw invalid("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null");
  }
  const limit = p.limit ?? MAX_EVENTS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS) {
    throw invalid(
      `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value ${limit < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_EVENTS}`}`,
    );
  }
  const group = findGroup(ctx, p.logGroupName ?? p.logGroupIdentifier);
  const stream = group.streams.get(String(p.logStreamName));
  if (!stream) throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
  const all = [...stream.events].sort((a, b) => a.timestamp - b.timestamp);
  const inRange = (e: LogEvent) => (p.startTime === undefined || e.timestamp >= p.startTime) && (p.endTime === undefined || e.timestamp < p.endTime);

  let forward = p.startFromHead === true;
  let position = forward ? 0 : all.length;
  if (p.nextToken !== undefined) {
    const match = /^([fb])\/(\d{1,56})$/.exec(String(p.nextToken));
    if (!match || Number(match[2]) > all.length) throw invalid('The specified nextToken is invalid.');
    forward = match[1] === 'f';
    position = Number(match[2]);
  }
  // Indexes into `all` of the page, oldest first.
  const picked: number[] = [];
  let bytes = 0;
  const take = (i: number) => {
    const size = Buffer.byteLength(all[i]!.message) + 26;
    if (picked.length >= limit || bytes + size > MAX_BYTES) return false;
    bytes += size;
    if (forward) picked.push(i);
    else picked.unshift(i);
    return true;
  };
  if (forward) {
    for (let i = position; i < all.length; i++) if (inRange(all[i]!) && !take(i)) break;
  } else {
    for (let i = position - 1; i >= 0; i--) if (inRange(all[i]!) && !take(i)) break;
  }
  const first = picked[0];
  const last = picked.at(-1);
  return {
    events: picked.map((i) => ({ timestamp: all[i]!.timestamp, message: all[i]!.message, ingestionTime: all[i]!.ingestionTime })),
    nextForwardToken: token('f', last === undefined ? position : last + 1),
    nextBackwardToken: token('b', first === undefined ? position : first),
  };
}

const streamArns = (p: Params, ctx: CallContext) => [
  `${groupArn(ctx, nameOf(String(p.logGroupName ?? p.logGroupIdentifier ?? '')))}:log-stream:${p.logStreamName ?? ''}`,
];

export const logsService: ServiceDefinition = {
  name: 'logs',
  protocol: 'json',
  target: 'Logs_20140328',
  actions: {
    DescribeLogGroups: (p, ctx) => {
      const identifiers = asList<string>(p.logGroupIdentifiers);
      if (identifiers.length && (p.logGroupNamePrefix || p.logGroupNamePattern)) {
        throw invalid('LogGroupIdentifiers and LogGroupNamePrefix/LogGroupNamePattern are mutually exclusive');
      }
      const wanted = new Set(identifiers.map(nameOf));
      const groups = [...logsState(ctx.regional).values()]
        .filter(
          (g) =>
            (!identifiers.length || wanted.has(g.logGroupName)) &&
            (!p.logGroupNamePrefix || g.logGroupName.startsWith(p.logGroupNamePrefix)) &&
            (!p.logGroupNamePattern || g.logGroupName.toLowerCase().includes(String(p.logGroupNamePattern).toLowerCase())),
        )
        .sort((a, b) => a.logGroupName.localeCompare(b.logGroupName));
      const { page: logGroups, nextToken } = page(groups, p);
      return {
        logGroups: logGroups.map((g) => ({
          logGroupName: g.logGroupName,
          creationTime: g.creationTime,
          ...(g.retentionInDays ? { retentionInDays: g.retentionInDays } : {}),
          metricFilterCount: 0,
          arn: `${groupArn(ctx, g.logGroupName)}:*`,
          storedBytes: [...g.streams.values()].reduce((n, s) => n + s.events.reduce((m, e) => m + e.message.length, 0), 0),
          ...(g.kmsKeyId ? { kmsKeyId: g.kmsKeyId } : {}),
          logGroupClass: 'STANDARD',
          logGroupArn: groupArn(ctx, g.logGroupName),
        })),
        nextToken,
      };
    },

    DescribeLogStreams: {
      resources: (p, ctx) => [`${groupArn(ctx, nameOf(String(p.logGroupName ?? p.logGroupIdentifier ?? '')))}:log-stream:*`],
      handler: (p, ctx) => {
        const group = findGroup(ctx, p.logGroupName ?? p.logGroupIdentifier);
        if (p.orderBy === 'LastEventTime' && p.logStreamNamePrefix) throw invalid('Cannot order by LastEventTime with a logStreamNamePrefix.');
        const last = (s: LogStream) => s.events.at(-1)?.timestamp ?? 0;
        const streams = [...group.streams.values()]
          .filter((s) => !p.logStreamNamePrefix || s.logStreamName.startsWith(p.logStreamNamePrefix))
          .sort((a, b) => (p.orderBy === 'LastEventTime' ? last(a) - last(b) : a.logStreamName.localeCompare(b.logStreamName)));
        if (p.descending) streams.reverse();
        const { page: logStreams, nextToken } = page(streams, p);
        return {
          logStreams: logStreams.map((s) => ({
            logStreamName: s.logStreamName,
            creationTime: s.creationTime,
            ...(s.events.length
              ? {
                  firstEventTimestamp: Math.min(...s.events.map((e) => e.timestamp)),
                  lastEventTimestamp: Math.max(...s.events.map((e) => e.timestamp)),
                  lastIngestionTime: s.events.at(-1)!.ingestionTime,
                }
              : {}),
            uploadSequenceToken: sequenceToken(s.events.length),
            arn: `${groupArn(ctx, group.logGroupName)}:log-stream:${s.logStreamName}`,
            storedBytes: 0,
          })),
          nextToken,
        };
      },
    },

    CreateLogStream: {
      resources: streamArns,
      handler: (p, ctx) => {
        const group = findGroup(ctx, p.logGroupName);
        const name = String(p.logStreamName ?? '');
        if (!/^[^:*]{1,512}$/.test(name)) {
          throw invalid(
            `1 validation error detected: Value '${name}' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*`,
          );
        }
        if (group.streams.has(name)) throw new AwsError('ResourceAlreadyExistsException', 'The specified log stream already exists');
        group.streams.set(name, { logStreamName: name, creationTime: ctx.clock.now(), events: [] });
        return {};
      },
    },

    GetLogEvents: { resources: streamArns, handler: getLogEvents },

    FilterLogEvents: {
      resources: (p, ctx) => [groupArn(ctx, nameOf(String(p.logGroupName ?? p.logGroupIdentifier ?? '')))],
      handler: (p, ctx) => {
        if (p.logGroupName && p.logGroupIdentifier) throw invalid('LogGroupName and LogGroupIdentifier are mutually exclusive');
        return filterLogEvents(p, ctx, findGroup(ctx, p.logGroupName ?? p.logGroupIdentifier));
      },
    },

    PutLogEvents: {
      resources: streamArns,
      handler: (p, ctx) => {
        const group = findGroup(ctx, p.logGroupName);
        const stream = group.streams.get(String(p.logStreamName ?? ''));
        if (!stream) throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
        const events = asList<{ timestamp: number; message: string }>(p.logEvents);
        if (!events.length) {
          throw invalid(
            "1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1",
          );
        }
        if (events.some((e, i) => i > 0 && e.timestamp < events[i - 1]!.timestamp)) {
          throw invalid('Log events in a single PutLogEvents request must be in chronological order.');
        }
        // Events older than 14 days (or the retention) or more than 2 hours ahead are rejected, not stored.
        const now = ctx.clock.now();
        const tooOld = events.findLastIndex((e) => e.timestamp < now - 14 * DAY);
        const expired = group.retentionInDays ? events.findLastIndex((e) => e.timestamp < now - group.retentionInDays! * DAY) : -1;
        const tooNew = events.findIndex((e) => e.timestamp > now + 2 * 3_600_000);
        const accepted = events.filter((_, i) => i > Math.max(tooOld, expired) && (tooNew < 0 || i < tooNew));
        stream.events.push(...accepted.map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: now })));
        const rejected = {
          ...(tooOld >= 0 ? { tooOldLogEventEndIndex: tooOld } : {}),
          ...(expired >= 0 ? { expiredLogEventEndIndex: expired } : {}),
          ...(tooNew >= 0 ? { tooNewLogEventStartIndex: tooNew } : {}),
        };
        return {
          nextSequenceToken: sequenceToken(stream.events.length),
          ...(Object.keys(rejected).length ? { rejectedLogEventsInfo: rejected } : {}),
        };
      },
    },
  },
};
