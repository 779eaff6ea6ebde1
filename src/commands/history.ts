/**
 * `/ecs history [service|script|job] [--user @x] [--since 7d] [--export]`: the latest actions from
 * the audit table (src/audit/history.ts), those this person may see, in the thread; the whole
 * window attached as CSV with `--export`.
 */
import type { WebClient } from '@slack/web-api';
import { declaredLabels } from '../fleet/memory-catalog';
import {
  describeSince,
  HISTORY_EXPORT_MAX,
  HISTORY_SHOWN,
  historyCsv,
  historyQueryInput,
  historyVisibility,
  readHistory,
  renderHistory,
  threadKey,
  type HistoryRow,
  type QueryFn,
} from '../audit/history';
import { ddb } from '../platform/dynamo';
import { tableName } from '../platform/tables';
import { permalink } from '../slack/client';
import { quantity } from '../slack/format';
import type { WorkerHandler } from './verb';
import type { HistoryArgs } from './verbs/args';

/** Time kept back from the Lambda's deadline for posting what was read. */
const POSTING_MARGIN_MS = 30_000;

/**
 * Links to the threads, in Slack's archive form (`<workspace>/archives/<channel>/p<ts>`): the
 * workspace's address from one chat.getPermalink (tried on the first few rows; a deleted message
 * has none), the rest built from it. Without one, there are no links.
 */
export async function threadLinks(slack: WebClient, rows: readonly HistoryRow[]): Promise<Map<string, string>> {
  const threads = rows.filter((r) => threadKey(r));
  let base: string | undefined;
  for (const row of threads.slice(0, 3)) {
    const link = await permalink(slack, row.channelId, row.threadTs!);
    const at = link?.indexOf('/archives/') ?? -1;
    if (link && at > 0) {
      base = link.slice(0, at);
      break;
    }
  }
  return base ? archiveLinks(base, threads) : new Map();
}

/** `<workspace>/archives/<channel>/p<ts without its dot>`: Slack's link to a message, for each row with a thread. */
export function archiveLinks(base: string, rows: readonly HistoryRow[]): Map<string, string> {
  const links = new Map<string, string>();
  for (const row of rows) {
    const key = threadKey(row);
    if (key) links.set(key, `${base}/archives/${row.channelId}/p${row.threadTs!.replace('.', '')}`);
  }
  return links;
}

export const documentQuery: QueryFn = async (input) => {
  const out = await ddb.query(input);
  return { ...(out.Items ? { Items: out.Items } : {}), ...(out.LastEvaluatedKey ? { LastEvaluatedKey: out.LastEvaluatedKey } : {}) };
};

export const history: WorkerHandler<HistoryArgs> = async (args, ctx) => {
  const { invocation } = ctx.job;
  const entry = await ctx.allowlist.get(invocation.teamId, invocation.userId);
  const since = args.since !== undefined ? new Date(ctx.now() - args.since).toISOString() : undefined;
  const input = historyQueryInput(
    {
      teamId: invocation.teamId,
      ...(args.script ? { script: args.script } : args.target ? { target: args.target } : {}),
      ...(args.user ? { userId: args.user } : {}),
      ...(since ? { since } : {}),
    },
    tableName('audit'),
  );
  const visible = historyVisibility(entry, invocation.channelId, declaredLabels(ctx.config));
  const deadline = ctx.now() + Math.max(ctx.remainingMs() - POSTING_MARGIN_MS, 1000);
  const read = await readHistory(documentQuery, input, { max: args.export ? HISTORY_EXPORT_MAX : HISTORY_SHOWN, visible, deadline, now: ctx.now });
  const shown = { rows: read.rows.slice(0, HISTORY_SHOWN), more: read.more || read.rows.length > HISTORY_SHOWN };
  const links = await threadLinks(ctx.slack, read.rows);
  const subject = args.script ?? args.target;
  const window = args.since !== undefined ? describeSince(args.since) : undefined;
  const text = renderHistory({ ...(subject ? { subject } : {}), ...(args.user ? { userId: args.user } : {}), ...(window ? { window } : {}) }, shown, links);
  if (args.export) {
    const cut = read.more ? ` (cut at ${quantity(HISTORY_EXPORT_MAX, 'action')}: narrow it with \`--since\` or \`--user\`)` : '';
    await ctx.out.postWithFile(`${text}\n📎 ${quantity(read.rows.length, 'action')} as CSV${cut}.`, {
      content: historyCsv(read.rows, links),
      filename: `history-${(subject ?? 'all').replace(/[^\w.-]/g, '_')}.csv`,
      title: `History of ${subject ?? 'everything'}${window ? `, ${window}` : ''}`,
    });
  } else {
    await ctx.out.post(text);
  }
  return {
    outcome: 'success',
    summary: `${subject ?? 'history'}: ${quantity(read.rows.length, 'action')}${read.more ? '+' : ''}${window ? ` in ${window}` : ''}`,
  };
};
