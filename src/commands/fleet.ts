/**
 * `/ecs status <selector>` and `/ecs verify <selector>`: the matching services the person may read
 * here (src/fleet/selection.ts: deny by default, `selectors.maxSelection` unless an admin of all of
 * them adds `--all`), grouped by account and handed to the durable fleet workflow
 * (src/workflows/fleet.ts) with the summary message it keeps up to date. The worker's part ends
 * here; the workflow marks the parent.
 */
import { isAllowed, type AllowlistEntry } from '../auth/roles';
import { byAccount } from '../fleet/fanout';
import { servicePin } from '../fleet/pin';
import { fleetCatalog } from '../fleet/fleet-catalog';
import { selectServices } from '../fleet/selection';
import { labelsOf, parseSelector } from '../fleet/selector';
import { renderSummary } from '../fleet/summary';
import type { FleetService } from '../fleet/types';
import { UsageError, UserFacingError } from '../platform/errors';
import { shortId } from '../platform/short-id';
import { escapeText, quantity } from '../slack/format';
import type { CommandResult, WorkerContext } from '../worker/context';
import { commandOrigin } from './detach';
import type { PrivateRefusal } from './verb';
import type { FleetArgs, StatusArgs, VerifyArgs } from './verbs/args';

const TITLE = { status: 'Status', verify: 'Verify' } as const;

/** The selection of a fleet command fits nothing this person may read here (audited as invalid input). */
export class NothingReadableError extends UsageError {
  constructor(selector: string) {
    super(`You may not read any of the services \`${escapeText(selector)}\` matches here.`);
  }
}

/** What a fleet command acts on and where it may look: the worker's private check and the handler share it. */
type SelectionContext = Pick<WorkerContext, 'config' | 'catalog' | 'job'> & { entry: AllowlistEntry | undefined };

/**
 * The matching services the person may read here, sorted by alias. Bad input throws a UsageError
 * with today's words: nothing matches (with the closest labels), too many without an admin's
 * `--all`, or nothing readable among them.
 */
export async function readableSelection({ selector, all }: FleetArgs, ctx: SelectionContext): Promise<FleetService[]> {
  const { channelId } = ctx.job.invocation;
  const { entry } = ctx;
  const selected = await selectServices(ctx.catalog ?? (await fleetCatalog(ctx.config)), parseSelector(selector), {
    entry,
    channelId,
    max: ctx.config.selectors.maxSelection,
    all: all === true,
  });
  const mine = selected.filter(
    (s) => isAllowed(entry, 'read', { channelId, service: s.alias, labels: labelsOf(s), pin: servicePin(s), discovered: s.source === 'discovered' }).allowed,
  );
  if (mine.length === 0) throw new NothingReadableError(selector);
  return mine;
}

type StatusOrVerifyArgs = StatusArgs | VerifyArgs | FleetArgs;

/**
 * A selection that cannot run concerns only its requester: said privately, before anything is
 * posted in the channel, and audited as invalid input. A selection that can is handed to the
 * handler, so the catalog is read once.
 */
export const fleetRefusal: PrivateRefusal<StatusOrVerifyArgs, FleetService[]> = async (args, ctx) => {
  if (!('selector' in args)) return undefined;
  try {
    return { ready: await readableSelection(args, ctx) };
  } catch (error) {
    if (error instanceof UsageError) return { refusal: error.userMessage, refused: 'invalid' };
    // The catalog throttled, or the like: said privately too (nothing is under way), with its advice.
    if (error instanceof UserFacingError) return { refusal: error.userMessage };
    throw error;
  }
};

/**
 * `selected`: the readable selection the worker's private check made (fleetRefusal); absent (a
 * request with no response_url to answer privately: the signed API, a webhook, a schedule), it is
 * made here and a refusal is said in the thread.
 */
export async function fleetCommand(kind: 'status' | 'verify', args: FleetArgs, ctx: WorkerContext, selected?: FleetService[]): Promise<CommandResult> {
  const { selector } = args;
  // A fresh entry: the selector is not a grant, each service is checked on its own.
  const mine = selected ?? (await readableSelection(args, { ...ctx, entry: await ctx.allowlist.get(ctx.job.invocation.teamId, ctx.job.invocation.userId) }));
  if (!ctx.startFleetWorkflow)
    throw new UserFacingError('Fleet commands fan out on the durable workflow, which this deployment does not declare. Nothing was started.');
  const batches = byAccount(mine).map((group) => group.map((s) => s.alias));
  const pins = Object.fromEntries(mine.map((s) => [s.alias, servicePin(s)]));
  const runId = shortId();
  const summary = await ctx.out.living(
    `${TITLE[kind]} of ${quantity(mine.length, 'service')} in ${quantity(batches.length, 'account')}, fanned out (run \`${runId}\`)…\n` +
      renderSummary({ kind: TITLE[kind], selector, total: mine.length, running: true }, []),
  );
  try {
    await ctx.startFleetWorkflow({
      fleet: { kind, selector, batches, pins, ...(summary?.ts ? { summaryTs: summary.ts } : {}) },
      runId,
      ...commandOrigin(ctx, ctx.now()),
    });
  } catch (error) {
    // Nothing will ever edit the summary again: it must not say "running" forever.
    await summary?.close(`⏹️ ${TITLE[kind]} of \`${escapeText(selector)}\` (run \`${runId}\`) did not start.`).catch(() => undefined);
    throw error;
  }
  return { outcome: 'success', summary: `${escapeText(selector)}: ${quantity(mine.length, 'service')} fanned out (run ${runId})`, continues: true };
}
