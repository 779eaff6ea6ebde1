/**
 * `/ecs services --refresh` (admins of every service): discovers the fleet now, writes the catalog,
 * and answers in its thread with what changed since the last refresh and the accounts that could
 * not be read, each with its fix. The scheduled refresh is the same command submitted by the
 * catalog's schedule. Everything AWS or tags said is escaped before it reaches Slack.
 */
import { requiredEnv } from '../config/env';
import type { AccountFailure, InactiveAccount } from '../fleet/discovery';
import type { RefreshReport } from '../fleet/refresh';
import type { FleetService } from '../fleet/types';
import { code, escapeText } from '../slack/format';
import { catalogRefreshLockKey } from '../platform/state-keys';
import type { CommandResult, WorkerContext } from '../worker/context';
import type { NoArgs, WorkerHandler } from './verb';

/** The refresh's lock outlives the worker's 15 minutes only if the worker dies holding it. */
const LOCK_SECONDS = 15 * 60;

/** Lines of one kind of change shown in the thread; the rest are counted. */
const SHOWN = 25;

const where = (s: FleetService) => `${s.accountId} ${s.region} ${s.cluster}/${s.service}`;

function section<T>(title: string, items: readonly T[], line: (item: T) => string): string[] {
  if (items.length === 0) return [];
  const shown = items.slice(0, SHOWN).map(line);
  return [`*${title} (${items.length})*`, ...shown, ...(items.length > SHOWN ? [`… and ${items.length - SHOWN} more`] : [])];
}

function failureLine(f: AccountFailure): string {
  const account = `${f.accountId}${f.accountName ? ` (${f.accountName})` : ''}${f.region ? ` ${f.region}` : ''}`;
  return `• ${code(account)}: ${escapeText(f.message)}\n   ➜ ${escapeText(f.fix)}`;
}

function inactiveLine(a: InactiveAccount): string {
  return `• ${code(`${a.accountId}${a.accountName ? ` (${a.accountName})` : ''}`)}: ${escapeText(a.state)} in AWS Organizations`;
}

/** The thread's text for a refresh's report. */
export function renderRefresh(report: RefreshReport, discovering: boolean): string {
  const head = discovering
    ? `*Catalog refreshed*: ${report.total} services from ${report.accounts} accounts.`
    : `*Catalog refreshed*: ${report.total} declared services (no \`fleet:\` in the configuration, nothing discovered).`;
  const unfinished = report.unfinished
    ? [
        `⚠️ The previous refresh (started ${escapeText(report.unfinished.at.slice(0, 16).replace('T', ' '))} UTC by ${code(report.unfinished.by)}) did not finish: this one compared the catalog with what was stored and rewrote whatever it had left half-written.`,
      ]
    : [];
  const nothing = report.added.length + report.removed.length + report.changed.length === 0 ? ['No change since the last refresh.'] : [];
  return [
    head,
    ...unfinished,
    ...nothing,
    ...section('Added', report.added, (s) => `• ${code(s.alias)} — ${escapeText(where(s))}`),
    ...section('Removed', report.removed, (s) => {
      const inactive = report.inactive.find((a) => a.accountId === s.accountId);
      return `• ${code(s.alias)} — ${escapeText(where(s))}${inactive ? ` (its account is ${escapeText(inactive.state)})` : ''}`;
    }),
    ...section('Changed', report.changed, (c) => `• ${code(c.after.alias)}: ${escapeText(c.what.join(', '))}`),
    ...section('Accounts not read', report.failures, failureLine),
    ...(report.kept ? [`(${report.kept} services of those accounts are kept from the last refresh.)`] : []),
    ...section('Accounts not active, not looked in (their services leave the catalog)', report.inactive, inactiveLine),
    ...section('Services left out', report.skipped, (s) => `• ${code(s.serviceArn)}: ${escapeText(s.reason)}`),
  ].join('\n');
}

export function refreshSummary(report: RefreshReport): string {
  const failed = new Set(report.failures.map((f) => f.accountId)).size;
  return `catalog: ${report.total} services (+${report.added.length} −${report.removed.length} ~${report.changed.length})${failed ? `, ${failed} account${failed === 1 ? '' : 's'} not read` : ''}`;
}

export const servicesRefresh: WorkerHandler<NoArgs> = async (_args, ctx: WorkerContext) => {
  const { invocation } = ctx.job;
  const lock = catalogRefreshLockKey();
  const owner = { jobId: ctx.job.id };
  if (!(await ctx.state.claim(lock, LOCK_SECONDS, { ...owner, userId: invocation.userId, since: new Date(ctx.now()).toISOString() }))) {
    const holder = await ctx.state.get<{ userId?: string; since?: string }>(lock);
    await ctx.out.post(
      `A catalog refresh is already running${holder?.userId ? ` (started by ${code(holder.userId)}${holder.since ? ` at ${holder.since.slice(0, 16).replace('T', ' ')} UTC` : ''})` : ''}: its thread will say what changed. Nothing else ran.`,
    );
    return { outcome: 'warning', summary: 'a refresh is already running' };
  }
  try {
    return await refreshNow(ctx);
  } finally {
    await ctx.state.release(lock, owner);
  }
};

async function refreshNow(ctx: WorkerContext): Promise<CommandResult> {
  const [{ DynamoCatalog }, { discoverFleet }, { sdkFleetAws }, { refreshCatalog }] = await Promise.all([
    import('../fleet/catalog'),
    import('../fleet/discovery'),
    import('../fleet/aws'),
    import('../fleet/refresh'),
  ]);
  const { invocation } = ctx.job;
  const fleet = ctx.config.fleet;
  const botAccountId = requiredEnv('BOT_ACCOUNT_ID');
  const aws =
    fleet &&
    sdkFleetAws({ teamId: invocation.teamId, userId: invocation.userId, ...(invocation.userName ? { userName: invocation.userName } : {}) }, fleet.regions[0]!);
  try {
    const report = await refreshCatalog({
      config: ctx.config,
      catalog: new DynamoCatalog(),
      discover: async () =>
        fleet && aws ? discoverFleet(fleet, aws, { botAccountId }) : { services: [], failures: [], skipped: [], accounts: 0, inactive: [] },
      botAccountId,
      by: invocation.userId,
      now: () => new Date(ctx.now()),
    });
    await ctx.out.post(renderRefresh(report, fleet !== undefined));
    return { outcome: report.failures.length ? 'warning' : 'success', summary: refreshSummary(report) };
  } finally {
    aws?.destroy();
  }
}
