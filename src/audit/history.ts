/**
 * `/ecs history`: the audit table read by service, script or job, person and time, newest first,
 * through the indexes made for it (serverless.yml: byTarget, byUser, byScript, each sorted by `sk`,
 * `<ISO time>#<id>`), or the team's own partition when the question names neither. Query only,
 * never Scan: a page costs what it returns (plus what a filter on the other dimension drops).
 */
import { isAllowed, type AllowlistEntry } from '../auth/roles';
import { withLabels } from '../fleet/memory-catalog';
import type { LabelsOf } from '../fleet/types';
import { formatDuration, typedCode, typedPlain, escapeText } from '../slack/format';
import { mention } from '../slack/invocation';
import type { AuditRecord } from './audit';

/** Actions shown in the thread; `--export` attaches up to HISTORY_EXPORT_MAX. */
export const HISTORY_SHOWN = 20;
export const HISTORY_EXPORT_MAX = 10_000;

export const HISTORY_INDEXES = { target: 'byTarget', user: 'byUser', script: 'byScript' } as const;

/** What history shows of a record: what the indexes project (serverless.yml). */
export type HistoryRow = Pick<
  AuditRecord,
  'userId' | 'verb' | 'target' | 'script' | 'commandText' | 'decision' | 'reason' | 'outcome' | 'at' | 'durationMs' | 'channelId' | 'threadTs'
> & { sk: string };

export interface HistoryQuery {
  teamId: string;
  /** A service alias (byTarget), unless `script` is set. */
  target?: string;
  /** A script or job name (byScript). */
  script?: string;
  /** A Slack user id: byUser on its own, a filter beside a service or script. */
  userId?: string;
  /** ISO time: records at or after it. */
  since?: string;
}

/** The parameters of one Query (DynamoDB document client input), without paging. */
export interface HistoryQueryInput {
  TableName: string;
  IndexName?: string;
  KeyConditionExpression: string;
  FilterExpression?: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues: Record<string, unknown>;
  ScanIndexForward: false;
}

/**
 * One index for the question, its partition and the time range as the key condition; a person
 * asked beside a service or script is a filter on that index (the rarer dimension decides nothing
 * here: a service's history is what people ask most).
 */
export function historyQueryInput(q: HistoryQuery, tableName: string): HistoryQueryInput {
  const [index, keyName, keyValue] = q.script
    ? [HISTORY_INDEXES.script, 'scriptKey', `script#${q.teamId}#${q.script}`]
    : q.target
      ? [HISTORY_INDEXES.target, 'targetKey', `target#${q.teamId}#${q.target}`]
      : q.userId
        ? [HISTORY_INDEXES.user, 'userKey', `user#${q.teamId}#${q.userId}`]
        : [undefined, 'pk', `team#${q.teamId}`];
  const names: Record<string, string> = { '#pk': keyName };
  const values: Record<string, unknown> = { ':pk': keyValue };
  let condition = '#pk = :pk';
  if (q.since) {
    names['#sk'] = 'sk';
    values[':since'] = q.since;
    condition += ' AND #sk >= :since';
  }
  const filterByUser = q.userId !== undefined && index !== HISTORY_INDEXES.user;
  if (filterByUser) {
    names['#user'] = 'userId';
    values[':user'] = q.userId;
  }
  return {
    TableName: tableName,
    ...(index ? { IndexName: index } : {}),
    KeyConditionExpression: condition,
    ...(filterByUser ? { FilterExpression: '#user = :user' } : {}),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ScanIndexForward: false,
  };
}

export type QueryFn = (
  input: HistoryQueryInput & { Limit: number; ExclusiveStartKey?: Record<string, unknown> },
) => Promise<{ Items?: Array<Record<string, unknown>>; LastEvaluatedKey?: Record<string, unknown> }>;

export interface HistoryRead {
  rows: HistoryRow[];
  /** More records matched than were read (the cap, or out of time). */
  more: boolean;
}

/**
 * Pages newest first until `max` rows the caller may see, the end of the range, or `deadline`
 * (epoch ms) passes. Rows `visible` refuses are dropped, never counted.
 */
export async function readHistory(
  query: QueryFn,
  input: HistoryQueryInput,
  options: { max: number; visible: (row: HistoryRow) => boolean; deadline?: number; now?: () => number },
): Promise<HistoryRead> {
  const rows: HistoryRow[] = [];
  const now = options.now ?? Date.now;
  let start: Record<string, unknown> | undefined;
  // A page twice what is still missing; each further page four times bigger (a filter or hidden
  // rows drop most of a page when the person is rare on the service), up to 1,000 items.
  let pages = 0;
  do {
    const page = await query({
      ...input,
      Limit: Math.min(1000, Math.max(50, (options.max - rows.length) * 2) * 4 ** pages++),
      ...(start ? { ExclusiveStartKey: start } : {}),
    });
    for (const item of page.Items ?? []) {
      const row = item as unknown as HistoryRow;
      if (!options.visible(row)) continue;
      if (rows.length === options.max) return { rows, more: true };
      rows.push(row);
    }
    start = page.LastEvaluatedKey;
  } while (start && (options.deadline === undefined || now() < options.deadline));
  return { rows, more: start !== undefined };
}

/**
 * What a person may see of the audit: a record about a service, with `read` on it both in this
 * channel and in the channel it happened in (a grant limited to #ops shows nothing typed in #dev);
 * a record about no service (help, whoami, refusals before parsing), as an admin of every service.
 */
export function historyVisibility(entry: AllowlistEntry | undefined, channelId: string, labelsOf?: LabelsOf): (row: HistoryRow) => boolean {
  const seen = new Map<string, boolean>();
  const may = (service: string, channel: string) => {
    const key = `${service}\n${channel}`;
    let allowed = seen.get(key);
    if (allowed === undefined) {
      allowed = isAllowed(entry, service === '*' ? 'admin' : 'read', withLabels({ channelId: channel, service }, labelsOf)).allowed;
      seen.set(key, allowed);
    }
    return allowed;
  };
  return (row) => may(row.target ?? '*', channelId) && may(row.target ?? '*', row.channelId);
}

const OUTCOME_MARK: Record<string, string> = {
  success: '✅',
  answered: '✅',
  warning: '⚠️',
  failure: '❌',
  error: '💥',
  cancelled: '✋',
  refused: '🚫',
  accepted: '⏳',
  unconfirmed: '❔',
};

/** Slack shows the time in the reader's own time zone; the fallback is UTC. */
export function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeText(iso);
  const fallback = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${fallback}>`;
}

export const threadKey = (row: Pick<HistoryRow, 'channelId' | 'threadTs'>): string | undefined =>
  row.threadTs && row.channelId ? `${row.channelId}/${row.threadTs}` : undefined;

const MAX_REASON = 120;
const clipped = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** One line per action: when, who, what (as typed, inert), how it ended and in how long, its thread. */
export function renderHistoryLine(row: HistoryRow, links: ReadonlyMap<string, string>): string {
  const mark = OUTCOME_MARK[row.outcome] ?? '•';
  const outcome = row.outcome === 'refused' ? `refused (${row.decision})` : row.outcome;
  const parts = [`${mark} ${escapeText(outcome)}`];
  if (typeof row.durationMs === 'number') parts.push(formatDuration(row.durationMs));
  const link = links.get(threadKey(row) ?? '');
  if (link) parts.push(`<${link}|thread>`);
  const reason = row.outcome === 'refused' && row.reason ? `: ${escapeText(clipped(typedPlain(row.reason), MAX_REASON))}` : '';
  return `• ${slackDate(row.at)} ${mention(row.userId)} ${typedCode(clipped(row.commandText ?? '', 200))} — ${parts.join(' · ')}${reason}`;
}

export interface HistoryHeading {
  /** `web`, `backup.sh`, or undefined for every service. */
  subject?: string;
  userId?: string;
  /** `the last 7 days`. */
  window?: string;
}

/** The heading and the lines, newest first; says when there were more than shown. */
export function renderHistory(heading: HistoryHeading, read: HistoryRead, links: ReadonlyMap<string, string>): string {
  const about = [heading.subject ? `\`${escapeText(heading.subject)}\`` : 'everything you may see', heading.userId ? `by <@${heading.userId}>` : undefined]
    .filter(Boolean)
    .join(' ');
  const window = heading.window ? `, ${heading.window}` : '';
  if (read.rows.length === 0) return `*History of ${about}*${window}: nothing recorded.`;
  const count = read.more
    ? `the latest ${read.rows.length} actions (there are more: narrow it with \`--since\` or \`--user\`, or \`--export\`)`
    : `${read.rows.length} action${read.rows.length === 1 ? '' : 's'}`;
  return [`*History of ${about}*${window}: ${count}, newest first`, ...read.rows.map((row) => renderHistoryLine(row, links))].join('\n');
}

/**
 * A spreadsheet reads a cell starting with = + - @ (or a tab or carriage return) as a formula:
 * such cells are prefixed with an apostrophe (OWASP's CSV injection advice), then quoted.
 */
export function csvCell(value: unknown): string {
  const text = value === undefined || value === null ? '' : String(value);
  const inert = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${inert.replace(/"/g, '""')}"`;
}

const CSV_COLUMNS = [
  'at',
  'user_id',
  'verb',
  'target',
  'script',
  'command',
  'decision',
  'outcome',
  'duration_ms',
  'reason',
  'channel_id',
  'thread_ts',
  'thread_link',
];

/** The window as CSV (RFC 4180, CRLF), newest first, with the thread links found. */
export function historyCsv(rows: readonly HistoryRow[], links: ReadonlyMap<string, string>): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [
        r.at,
        r.userId,
        r.verb,
        r.target,
        r.script,
        typedPlain(r.commandText ?? ''),
        r.decision,
        r.outcome,
        r.durationMs,
        r.reason,
        r.channelId,
        r.threadTs,
        links.get(threadKey(r) ?? ''),
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\r\n')}\r\n`;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
/** How far back `--since` reaches. */
export const MAX_HISTORY_SINCE_MS = 90 * UNIT_MS.d;

/** `30m`, `12h`, `7d`, `2w` in ms; undefined for anything else. */
export function parseHistorySince(text: string): number | undefined {
  const match = /^(\d{1,4})([mhdw])$/.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms > 0 ? ms : undefined;
}

/** `the last 7 days` for 7d, `the last 30 minutes`, `the last 2 weeks`. */
export function describeSince(ms: number): string {
  for (const [unit, size] of [
    ['week', UNIT_MS.w],
    ['day', UNIT_MS.d],
    ['hour', UNIT_MS.h],
    ['minute', UNIT_MS.m],
  ] as const) {
    if (ms % size === 0) return `the last ${ms / size === 1 ? unit : `${ms / size} ${unit}s`}`;
  }
  return `the last ${Math.round(ms / UNIT_MS.m)} minutes`;
}
