/**
 * `/ecs status <selector>` and `/ecs verify <selector>`: the matching services the person may read
 * here (src/fleet/selection.ts: deny by default, `selectors.maxSelection` unless an admin of all of
 * them adds `--all`), grouped by account and handed to the durable fleet workflow
 * (src/workflows/fleet.ts) with the summary message it keeps up to date. The worker's part ends
 * here; the workflow marks the parent.
 */
import { isAllowed } from '../auth/roles';
import { byAccount } from '../fleet/fanout';
import { fleetCatalog } from '../fleet/fleet-catalog';
import { selectServices } from '../fleet/selection';
import { labelsOf, parseSelector } from '../fleet/selector';
import { renderSummary } from '../fleet/summary';
import { UserFacingError } from '../platform/errors';
import { shortId } from '../platform/short-id';
import { escapeText, quantity } from '../slack/format';
import type { CommandResult, WorkerContext } from '../worker/context';
import { commandOrigin } from './detach';
import type { FleetArgs } from './verbs/args';

const TITLE = { status: 'Status', verify: 'Verify' } as const;

export async function fleetCommand(kind: 'status' | 'verify', { selector, all }: FleetArgs, ctx: WorkerContext): Promise<CommandResult> {
  const { invocation } = ctx.job;
  const channelId = invocation.channelId;
  // A fresh entry: the selector is not a grant, each service is checked on its own.
  const entry = await ctx.allowlist.get(invocation.teamId, invocation.userId);
  const selected = await selectServices(ctx.catalog ?? (await fleetCatalog(ctx.config)), parseSelector(selector), {
    entry,
    channelId,
    max: ctx.config.selectors.maxSelection,
    all: all === true,
  });
  const mine = selected.filter((s) => isAllowed(entry, 'read', { channelId, service: s.alias, labels: labelsOf(s) }).allowed);
  if (mine.length === 0) throw new UserFacingError(`You may not read any of the services \`${escapeText(selector)}\` matches here.`);
  if (!ctx.startFleetWorkflow)
    throw new UserFacingError('Fleet commands fan out on the durable workflow, which this deployment does not declare. Nothing was started.');
  const batches = byAccount(mine).map((group) => group.map((s) => s.alias));
  const runId = shortId();
  const summary = await ctx.out.living(
    `${TITLE[kind]} of ${quantity(mine.length, 'service')} in ${quantity(batches.length, 'account')}, fanned out (run \`${runId}\`)…\n` +
      renderSummary({ kind: TITLE[kind], selector, total: mine.length, running: true }, []),
  );
  await ctx.startFleetWorkflow({
    fleet: { kind, selector, batches, ...(summary?.ts ? { summaryTs: summary.ts } : {}) },
    runId,
    ...commandOrigin(ctx, ctx.now()),
  });
  return { outcome: 'success', summary: `${escapeText(selector)}: ${quantity(mine.length, 'service')} fanned out (run ${runId})`, continues: true };
}
