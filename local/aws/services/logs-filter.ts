/**
 * CloudWatch Logs FilterLogEvents, as the API reference and the SDK model define it: events of one
 * log group, from the streams named (`logStreamNames`, 1 to 100) or those whose name starts with
 * `logStreamNamePrefix` (not both), between `startTime` and `endTime` (both inclusive, epoch ms),
 * matching `filterPattern`, sorted by time, at most `limit` (1 to 10,000, default 10,000) events
 * and 1 MB a page, the rest behind `nextToken`. `searchedLogStreams` is deprecated and not
 * returned. Each event carries a stable `eventId`, so a caller re-reading a window can tell the
 * events it already has.
 *
 * Filter patterns, for unstructured log events (the only kind our callers send): terms separated
 * by spaces, all of which must appear (case-sensitive, anywhere in the message); a term with
 * anything but letters and digits quoted (`"connection refused"`); `?term` terms of which at least
 * one must appear; `-term` terms that must not appear; `%regex%` a regular expression. JSON
 * (`{ $.level = … }`) and space-delimited (`[ip, …]`) patterns are not modelled: the emulator says
 * so with InvalidParameterException rather than answering wrongly.
 */
import { AwsError, asList, type CallContext, type Params } from '../protocols';
import type { LogEvent, LogGroup } from './logs';

const MAX_EVENTS = 10_000;
const MAX_BYTES = 1_048_576;
const MAX_PATTERN = 1024;
const invalid = (message: string) => new AwsError('InvalidParameterException', message);

interface Term {
  kind: 'all' | 'any' | 'none';
  test: (message: string) => boolean;
}

/** Parses an unstructured-event filter pattern into its terms; throws InvalidParameterException when malformed. */
export function parseFilterPattern(pattern: string): Term[] {
  if (pattern.length > MAX_PATTERN) {
    throw invalid(
      `1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to ${MAX_PATTERN}`,
    );
  }
  const text = pattern.trim();
  if (text.startsWith('{') || text.startsWith('[')) {
    throw invalid('JSON and space-delimited filter patterns are not modelled by the local emulator: use terms, "quoted phrases", ?term, -term or %regex%.');
  }
  const terms: Term[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    let kind: Term['kind'] = 'all';
    if (text[i] === '?' || text[i] === '-') {
      kind = text[i] === '?' ? 'any' : 'none';
      i++;
    }
    if (text[i] === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw invalid('Invalid filter pattern: a quoted term is not closed.');
      const phrase = text.slice(i + 1, end);
      terms.push({ kind, test: (m) => m.includes(phrase) });
      i = end + 1;
    } else if (text[i] === '%') {
      const end = text.indexOf('%', i + 1);
      if (end < 0) throw invalid('Invalid filter pattern: a regular expression is not closed with %.');
      let re: RegExp;
      try {
        re = new RegExp(text.slice(i + 1, end));
      } catch {
        throw invalid('Invalid filter pattern: the regular expression is not valid.');
      }
      terms.push({ kind, test: (m) => re.test(m) });
      i = end + 1;
    } else {
      let end = i;
      while (end < text.length && !/\s/.test(text[end]!)) end++;
      const word = text.slice(i, end);
      if (!word) throw invalid('Invalid filter pattern: an operator without a term.');
      if (/["%{}[\]]/.test(word)) throw invalid(`Invalid character(s) in term '${word}': quote terms that hold anything but letters and numbers.`);
      terms.push({ kind, test: (m) => m.includes(word) });
      i = end;
    }
  }
  return terms;
}

export function matches(terms: Term[], message: string): boolean {
  const any = terms.filter((t) => t.kind === 'any');
  return (
    terms.every((t) => t.kind !== 'all' || t.test(message)) &&
    terms.every((t) => t.kind !== 'none' || !t.test(message)) &&
    (any.length === 0 || any.some((t) => t.test(message)))
  );
}

/** A stable event id: 56 digits, from its time, its stream (by creation order) and its place in the stream. */
const eventId = (event: LogEvent, streamIndex: number, position: number) =>
  `${String(event.timestamp).padStart(20, '0')}${String(streamIndex).padStart(12, '0')}${String(position).padStart(24, '0')}`;

/** The token is where the last page ended: the next page starts after this (timestamp, eventId). */
const encodeToken = (timestamp: number, id: string) => Buffer.from(JSON.stringify([timestamp, id])).toString('base64');
function decodeToken(token: unknown): [number, string] {
  try {
    const value = JSON.parse(Buffer.from(String(token), 'base64').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string') return value as [number, string];
  } catch {}
  throw invalid('The specified nextToken is invalid.');
}

export function filterLogEvents(p: Params, _ctx: CallContext, group: LogGroup) {
  const names = p.logStreamNames === undefined ? undefined : asList<string>(p.logStreamNames);
  if (names && p.logStreamNamePrefix !== undefined) throw invalid('logStreamNames and logStreamNamePrefix are mutually exclusive');
  if (names && (names.length < 1 || names.length > 100)) {
    throw invalid(
      `1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length ${names.length < 1 ? 'greater than or equal to 1' : 'less than or equal to 100'}`,
    );
  }
  const limit = p.limit ?? MAX_EVENTS;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EVENTS) {
    throw invalid(
      `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value ${limit < 1 ? 'greater than or equal to 1' : `less than or equal to ${MAX_EVENTS}`}`,
    );
  }
  for (const field of ['startTime', 'endTime'] as const) {
    if (p[field] !== undefined && (!Number.isInteger(p[field]) || p[field] < 0)) {
      throw invalid(
        `1 validation error detected: Value '${p[field]}' at '${field}' failed to satisfy constraint: Member must have value greater than or equal to 0`,
      );
    }
  }
  if (p.startTime !== undefined && p.endTime !== undefined && p.startTime > p.endTime) throw invalid('startTime must be less than or equal to endTime');
  const terms = parseFilterPattern(String(p.filterPattern ?? ''));
  const after = p.nextToken !== undefined ? decodeToken(p.nextToken) : undefined;

  const streams = [...group.streams.values()];
  const wanted = names ? new Set(names) : undefined;
  const picked: Array<{ logStreamName: string; timestamp: number; message: string; ingestionTime: number; eventId: string }> = [];
  streams.forEach((stream, streamIndex) => {
    if (wanted ? !wanted.has(stream.logStreamName) : p.logStreamNamePrefix !== undefined && !stream.logStreamName.startsWith(p.logStreamNamePrefix)) return;
    stream.events.forEach((e, position) => {
      if ((p.startTime !== undefined && e.timestamp < p.startTime) || (p.endTime !== undefined && e.timestamp > p.endTime)) return;
      const id = eventId(e, streamIndex, position);
      if (after && (e.timestamp < after[0] || (e.timestamp === after[0] && id <= after[1]))) return;
      if (!matches(terms, e.message)) return;
      picked.push({ logStreamName: stream.logStreamName, timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime, eventId: id });
    });
  });
  picked.sort((a, b) => a.timestamp - b.timestamp || (a.eventId < b.eventId ? -1 : 1));

  const events: typeof picked = [];
  let bytes = 0;
  for (const e of picked) {
    const size = Buffer.byteLength(e.message) + 26;
    if (events.length >= limit || bytes + size > MAX_BYTES) break;
    bytes += size;
    events.push(e);
  }
  const last = events.at(-1);
  return { events, ...(last && events.length < picked.length ? { nextToken: encodeToken(last.timestamp, last.eventId) } : {}) };
}
