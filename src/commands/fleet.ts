/**
 * `/ecs status <selector>` and `/ecs verify <selector>`: the matching services the person may read
 * (each checked on its own, deny by default), grouped by account, handed to the durable fleet
 * workflow (src/workflows/fleet.ts) with the summary message it keeps up to date. The worker's
 * part ends here; the workflow marks the parent.
 */
import { isAllowed } from '../auth/roles';
import { declaredCatalog, readSelector } from '../fleet/interim';
import { byAccount } from '../fleet/fanout';
import { renderSummary } from '../fleet/summary';
import { UserFacingError } from '../platform/errors';
import { shortId } from '../platform/short-id';
import { escapeText, quantity } from '../slack/format';
import type { CommandResult, WorkerContext } from '../worker/context';
import type { FleetArgs } from './verbs/args';
import { commandOrigin } from './detach';

const TITLE = { status: 'Status', verify: 'Verify' } as const;

export async function fleetCommand(kind: 'status' | 'verify', { selector }: FleetArgs, ctx: WorkerContext): Promise<CommandResult> {
  const { invocation } = ctx.job;
  const catalog = ctx.catalog ?? declaredCatalog(ctx.config);
  const matched = await catalog.select(readSelector(selector));
  // Each service on its own, with a fresh entry: the selector is not a grant.
  const entry = await ctx.allowlist.get(invocation.teamId, invocation.userId);
  const mine = matched.filter((s) => isAllowed(entry, 'read', { channelId: invocation.channelId, service: s.alias }).allowed);
  if (mine.length === 0) {
    const labels = Object.keys(await catalog.labels()).sort();
    throw new UserFacingError(
      `No service you may read here matches \`${escapeText(selector)}\`.${labels.length ? ` Labels to select on: ${labels.map((l) => `\`${escapeText(l)}\``).join(', ')}.` : ''}`,
    );
  }
  if (!ctx.startFleetWorkflow)
    throw new UserFacingError('Fleet commands fan out on the durable workflow, which this deployment does not declare. Nothing was started.');
  const batches = byAccount(mine).map((group) => group.map((s) => s.alias));
  const runId = shortId();
  const intro = `${TITLE[kind]} of ${quantity(mine.length, 'service')} in ${quantity(batches.length, 'account')}, fanned out (run \`${runId}\`):`;
  const summary = await ctx.out.living(`${intro}\n${renderSummary({ kind: TITLE[kind], selector, total: mine.length, running: true }, [])}`);
  await ctx.startFleetWorkflow({
    fleet: { kind, selector, batches, ...(summary?.ts ? { summaryTs: summary.ts } : {}) },
    runId,
    ...commandOrigin(ctx, ctx.now()),
  });
  return { outcome: 'success', summary: `${escapeText(selector)}: ${quantity(mine.length, 'service')} fanned out (run ${runId})`, continues: true };
}
