/**
 * A fleet run's answer: one living summary message (counts by verdict, the worst services first,
 * each linking its service in the console), and the whole result as CSV and JSON files. Results
 * hold plain text (AWS's own words among them); it is escaped here, once, for Slack, and written
 * as it is to the files.
 */
import { csvCell } from '../audit/history';
import { serviceUrl, slackLink } from '../aws/console';
import { escapeText, quantity } from '../slack/format';
import type { FleetResult } from './types';

export type Verdict = FleetResult['verdict'];

/** Worst first: a failing check, then a service that could not be checked, then warnings. */
export const VERDICT_ORDER: readonly Verdict[] = ['fail', 'error', 'warn', 'ok'];
const MARK: Record<Verdict, string> = { fail: '❌', error: '⛔', warn: '⚠️', ok: '✅' };
const WORD: Record<Verdict, string> = { fail: 'failing', error: 'not reachable', warn: 'with warnings', ok: 'ok' };

/** Lines of services the summary shows; the rest are in the files. */
export const MAX_SUMMARY_LINES = 25;

export type VerdictCounts = Record<Verdict, number>;

export function countVerdicts(results: readonly FleetResult[]): VerdictCounts {
  const counts: VerdictCounts = { fail: 0, error: 0, warn: 0, ok: 0 };
  for (const r of results) counts[r.verdict]++;
  return counts;
}

/** The results worst first, then by alias (stable whatever order they finished in). */
export function worstFirst(results: readonly FleetResult[]): FleetResult[] {
  const rank = (v: Verdict) => VERDICT_ORDER.indexOf(v);
  return [...results].sort((a, b) => rank(a.verdict) - rank(b.verdict) || a.alias.localeCompare(b.alias));
}

/** The run's overall verdict, as the parent message is marked. */
export function overall(counts: VerdictCounts): 'failure' | 'warning' | 'success' {
  return counts.fail || counts.error ? 'failure' : counts.warn ? 'warning' : 'success';
}

export interface SummaryHeading {
  /** `Verify` or `Status`. */
  kind: string;
  /** The selector as typed (plain text). */
  selector: string;
  /** Services in the run. */
  total: number;
  /** Still running: shown as "n of total done". */
  running?: boolean;
}

/**
 * The summary message: the counts by verdict, then one line per service that is not ok, worst
 * first (ok ones too while there is room), each linking its service; `serviceArns` gives the links.
 */
export function renderSummary(heading: SummaryHeading, results: readonly FleetResult[], serviceArns: ReadonlyMap<string, string> = new Map()): string {
  const counts = countVerdicts(results);
  const done = heading.running ? ` (${results.length} of ${heading.total} done)` : '';
  const countText = VERDICT_ORDER.filter((v) => counts[v] > 0)
    .map((v) => `${MARK[v]} ${counts[v]} ${WORD[v]}`)
    .join(' · ');
  const head = `*${escapeText(heading.kind)} of \`${escapeText(heading.selector)}\`*: ${quantity(heading.total, 'service')}${done}${countText ? `\n${countText}` : ''}`;
  const entries = summaryEntries(worstFirst(results));
  const shown = entries.slice(0, MAX_SUMMARY_LINES);
  const lines = shown.map(({ first: r, services }) => {
    if (services > 1) return `${MARK[r.verdict]} account ${escapeText(r.accountId)} (${quantity(services, 'service')}) ${escapeText(oneLine(r.summary))}`;
    const where = `${escapeText(r.accountId || 'this account')} ${escapeText(r.region)}`;
    return `${MARK[r.verdict]} ${slackLink(serviceUrlOf(r, serviceArns), r.alias)} (${where}): ${escapeText(oneLine(r.summary))}`;
  });
  const more = entries.slice(shown.length).reduce((n, e) => n + e.services, 0);
  if (more > 0) lines.push(`… and ${quantity(more, 'more service')} in the attached files.`);
  return [head, ...lines].join('\n');
}

/**
 * The summary's lines: one per service, except an account the bot cannot reach, which is one line
 * for all its services (they share the cause and the fix; the files list each).
 */
function summaryEntries(sorted: readonly FleetResult[]): Array<{ first: FleetResult; services: number }> {
  const entries: Array<{ first: FleetResult; services: number }> = [];
  const unreachable = new Map<string, { first: FleetResult; services: number }>();
  for (const r of sorted) {
    if (r.verdict === 'error' && r.detail?.fix !== undefined && r.accountId) {
      const entry = unreachable.get(r.accountId);
      if (entry) {
        entry.services++;
        continue;
      }
      unreachable.set(r.accountId, { first: r, services: 1 });
      entries.push(unreachable.get(r.accountId)!);
      continue;
    }
    entries.push({ first: r, services: 1 });
  }
  return entries;
}

const serviceUrlOf = (r: FleetResult, arns: ReadonlyMap<string, string>) => {
  const arn = arns.get(r.alias);
  return arn ? serviceUrl(arn) : undefined;
};

/** One line of at most 200 characters: a result's summary must not break the summary's layout. */
const oneLine = (text: string) => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
};

const CSV_COLUMNS = ['alias', 'account', 'region', 'verdict', 'summary', 'detail'] as const;

/** The whole result as CSV (RFC 4180, CRLF), worst first; cells that a spreadsheet would read as formulas are made inert. */
export function resultsCsv(results: readonly FleetResult[]): string {
  const rows = worstFirst(results).map((r) =>
    [r.alias, r.accountId, r.region, r.verdict, r.summary, r.detail ? JSON.stringify(r.detail) : ''].map(csvCell).join(','),
  );
  return `${[CSV_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}

/** The whole result as JSON: what was asked, the counts, every service worst first. */
export function resultsJson(run: { kind: string; selector: string }, results: readonly FleetResult[]): string {
  return `${JSON.stringify({ kind: run.kind, selector: run.selector, counts: countVerdicts(results), results: worstFirst(results) }, null, 2)}\n`;
}

/**
 * Edits of the living summary, at most one per `intervalMs` and at most `maxEdits` in all, so a
 * run of any size costs a handful of Slack writes; the last state always reaches the message
 * when the run ends (`flush`).
 */
export class SummaryThrottle {
  private lastEdit = Number.NEGATIVE_INFINITY;
  private edits = 0;
  private pending?: ReturnType<typeof setTimeout>;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    private readonly edit: () => Promise<void>,
    private readonly options: { intervalMs: number; maxEdits: number; now?: () => number },
  ) {}

  /** Something changed: an edit now, later, or not at all if the budget is spent. */
  changed(): void {
    if (this.pending || this.edits >= this.options.maxEdits) return;
    const now = (this.options.now ?? Date.now)();
    const wait = Math.max(0, this.lastEdit + this.options.intervalMs - now);
    this.pending = setTimeout(() => {
      this.pending = undefined;
      if (this.edits >= this.options.maxEdits) return;
      this.edits++;
      this.lastEdit = (this.options.now ?? Date.now)();
      this.inFlight = this.inFlight.then(this.edit).catch(() => undefined);
    }, wait);
  }

  /** No more edits: any pending one is dropped (the caller writes the final state itself). */
  async stop(): Promise<void> {
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    this.edits = this.options.maxEdits;
    await this.inFlight;
  }
}
