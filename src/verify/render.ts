import { escapeText } from '../slack/format';
import type { CheckResult, Status, VerifySummary } from './types';
import { summarize } from './types';
import { quantity } from './text';

export type Style = 'slack' | 'ansi' | 'plain';

const MARK: Record<Status, string> = { OK: '✅', WARN: '⚠️', FAIL: '❌', SKIP: '⏭️' };
const ANSI: Record<Status, string> = { OK: '\x1b[32m', WARN: '\x1b[33m', FAIL: '\x1b[31m', SKIP: '\x1b[90m' };
const RESET = '\x1b[0m';

/** Slack's `code` marks are dropped outside Slack. */
const plainText = (text: string) => text.replace(/`([^`]+)`/g, '$1');

/**
 * Check texts are plain text with `code` marks, full of what AWS returned (names, ARNs, policy
 * text, ECS messages) and of placeholders such as `<nat-id>`: escaped here, once, for Slack.
 */
const shown = (text: string, style: Style) => (style === 'slack' ? escapeText(text) : plainText(text));

function label(r: CheckResult, style: Style): string {
  const status = r.unverified ? `${r.status}?` : r.status;
  if (style === 'slack') return MARK[r.status];
  if (style === 'ansi') return `${ANSI[r.status]}[${status}]${RESET}`;
  return `[${status}]`;
}

/** One result as a line: `✅ Cluster: cluster main is ACTIVE`. */
export function resultLine(r: CheckResult, style: Style): string {
  return `${label(r, style)} ${shown(r.title, style)}: ${shown(r.message, style)}`;
}

function fixLine(r: CheckResult, style: Style, indent: string): string | undefined {
  if (!r.fix || r.status === 'OK') return undefined;
  return `${indent}  ↳ Fix: ${shown(r.fix, style)}`;
}

/** The results grouped like ecspresso's tree, in plan order. */
export function renderTree(results: CheckResult[], style: Style): string {
  const lines: string[] = [];
  let previous: string[] = [];
  // Checks planned later (children) keep their place under the group where it first appeared,
  // so a heading is drawn once even when its checks were planned at different times.
  const firstSeen = new Map<string, number>();
  const rank = (r: CheckResult) =>
    r.group.map((_, depth) => {
      const key = r.group.slice(0, depth + 1).join('\u0000');
      if (!firstSeen.has(key)) firstSeen.set(key, firstSeen.size);
      return firstSeen.get(key)!;
    });
  const ordered = [...results].sort((a, b) => a.order - b.order);
  const ranks = new Map(ordered.map((r) => [r, rank(r)]));
  ordered.sort((a, b) => {
    const ra = ranks.get(a)!;
    const rb = ranks.get(b)!;
    for (let i = 0; i < Math.min(ra.length, rb.length); i++) if (ra[i] !== rb[i]) return ra[i]! - rb[i]!;
    return ra.length - rb.length || a.order - b.order;
  });
  for (const r of ordered) {
    let common = 0;
    while (common < previous.length && common < r.group.length && previous[common] === r.group[common]) common++;
    for (let depth = common; depth < r.group.length; depth++) {
      const heading = r.group[depth]!;
      lines.push(`${'  '.repeat(depth)}${style === 'slack' ? `*${escapeText(heading)}*` : style === 'ansi' ? `\x1b[1m${heading}${RESET}` : heading}`);
    }
    previous = r.group;
    const indent = '  '.repeat(r.group.length);
    lines.push(`${indent}${resultLine(r, style)}`);
    const fix = fixLine(r, style, indent);
    if (fix) lines.push(fix);
  }
  return lines.join('\n');
}

export function summaryLine(s: VerifySummary): string {
  const parts = [`${s.ok} OK`, `${s.warn} WARN`, `${s.fail} FAIL`];
  if (s.skip) parts.push(`${s.skip} SKIP`);
  return `${parts.join(', ')}${s.unverified ? ` (${s.unverified} could not be checked)` : ''}`;
}

/** Every failure, then every warning, each with where it sits in the tree and its fix (a line each). */
function problemEntries(results: CheckResult[], style: Style): string[] {
  const problems = [...results.filter((r) => r.status === 'FAIL'), ...results.filter((r) => r.status === 'WARN')];
  return problems.map((r) => {
    const where = r.group.length ? `${r.group.join(' › ')} › ` : '';
    const line = `${label(r, style)} ${shown(`${where}${r.title}: ${r.message}`, style)}`;
    const fix = fixLine(r, style, '');
    return fix ? `${line}\n${fix}` : line;
  });
}

/** Every failure, then every warning, each with where it sits in the tree and its fix. */
export function renderProblems(results: CheckResult[], style: Style): string {
  return problemEntries(results, style).join('\n');
}

/**
 * Room for one Slack reply's text, under Slack's 4000 characters with a margin: the problems are
 * packed into replies this size so that a fix never lands in another reply than its finding.
 */
const REPLY_CHARS = 3800;

/** The problems for Slack as replies, each holding whole findings (a longer one alone is split by ThreadOutput). */
export function problemReplies(results: CheckResult[]): string[] {
  const replies: string[] = [];
  for (const entry of problemEntries(results, 'slack')) {
    const last = replies.at(-1);
    if (last !== undefined && last.length + 1 + entry.length <= REPLY_CHARS) replies[replies.length - 1] = `${last}\n${entry}`;
    else replies.push(entry);
  }
  return replies;
}

const outcomeMark = (s: VerifySummary) => (s.fail ? '❌' : s.warn ? '⚠️' : '✅');

/** The summary: the counts, then every failure and warning with its fix, failures first. */
export function renderSummary(results: CheckResult[], style: Style): string {
  const s = summarize(results);
  const head = `${style === 'slack' ? `${outcomeMark(s)} ` : ''}${summaryLine(s)}`;
  const problems = renderProblems(results, style);
  return [style === 'slack' ? `*${head}*` : head, ...(problems ? [problems] : [])].join('\n');
}

/** How many of the latest results the progress message shows: enough to see the checks move. */
export const LATEST_SHOWN = 5;

/**
 * Slack's progress message while checks run: how far along, the failures so far, and the latest
 * results as Slack text (their `code` marks render, unlike in a code block).
 */
export function renderProgress(intro: string, results: CheckResult[], planned: number): string {
  const s = summarize(results);
  const found = [s.fail ? `${s.fail} failed` : '', s.warn ? quantity(s.warn, 'warning') : ''].filter(Boolean);
  const latest = results.slice(-LATEST_SHOWN).map((r) => resultLine(r, 'slack'));
  return [
    intro,
    `⏳ ${results.length} of ${quantity(Math.max(planned, results.length), 'check')} done${found.length ? `, ${found.join(' and ')} so far` : ''}`,
    ...latest,
  ].join('\n');
}

/** The progress message once every check has finished: the counts, and where the details follow. */
export function renderOutcome(intro: string, results: CheckResult[]): string {
  const s = summarize(results);
  const problems = [s.fail ? 'failures' : '', s.warn ? 'warnings' : ''].filter(Boolean).join(' and ');
  const next = problems ? `The ${problems} with their fixes follow, then the other checks.` : 'The checks follow.';
  return `${intro}\n*${outcomeMark(s)} ${summaryLine(s)}*\n${next}`;
}

/** The tree of the checks that need nothing done (passed or skipped), for after the problems. */
export function renderRest(results: CheckResult[]): string {
  return renderTree(
    results.filter((r) => r.status === 'OK' || r.status === 'SKIP'),
    'slack',
  );
}

export interface VerifyReport {
  target: string;
  cluster: string;
  service: string;
  region: string;
  image?: string;
  summary: VerifySummary;
  results: Array<Omit<CheckResult, 'order'>>;
}

export function toJson(meta: Omit<VerifyReport, 'summary' | 'results'>, results: CheckResult[]): VerifyReport {
  return {
    ...meta,
    summary: summarize(results),
    results: results.map(({ order: _order, ...r }) => ({
      ...r,
      title: plainText(r.title),
      message: plainText(r.message),
      ...(r.fix ? { fix: plainText(r.fix) } : {}),
    })),
  };
}
