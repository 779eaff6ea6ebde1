import { code } from '../slack/format';
import { VerifyProgress } from '../verify/progress';
import { problemReplies, renderOutcome, renderRest, summaryLine } from '../verify/render';
import { summarize } from '../verify/types';
import { verifyService } from '../verify/verify';
import type { WorkerHandler } from './verb';
import type { FleetArgs, VerifyArgs } from './verbs/args';
import { fleetCommand } from './fleet';
import type { FleetService } from '../fleet/types';

/**
 * `/ecs verify <service> [--image <tag|image>] [--put-logs]`: every dependency of the service
 * checked. The thread shows one progress message while checks run (the latest results), which
 * becomes the counts at the end; then each finding once: failures and warnings with their fixes,
 * then the tree of the other checks.
 */
export const verify: WorkerHandler<VerifyArgs> = async ({ image, putLogs }, ctx) => {
  const target = ctx.target!;
  const { out } = ctx;
  const what =
    `\`${target.alias}\` (${target.cluster}/${target.service} in ${target.region})${image !== undefined ? ` as a deploy of ${code(image)} would leave it` : ''}. ` +
    `Logs are ${putLogs ? 'proven by writing one line (put-logs on)' : 'not written to (put-logs off; `--put-logs` turns it on)'}.`;
  const progress = new VerifyProgress({ running: `Verifying ${what}`, done: `Verified ${what}` }, (text) => out.living(text));
  const results = await verifyService(
    { alias: target.alias, target, aws: ctx.aws!, putLogs, ...(image !== undefined ? { image } : {}) },
    { remainingMs: ctx.remainingMs, onResult: progress.onResult, onPlanned: progress.onPlanned },
  );
  if (!(await progress.finish(results))) await out.post(renderOutcome(`Verified ${what}`, results));
  for (const problems of problemReplies(results)) await out.post(problems);
  const rest = renderRest(results);
  if (rest) await out.post(rest);
  const s = summarize(results);
  return { outcome: s.fail ? 'failure' : s.warn ? 'warning' : 'success', summary: `${target.alias}: ${summaryLine(s)}` };
};

/** `/ecs verify <service>`, or with a selector a fleet run (src/commands/fleet.ts). */
export const verifyOrFleet: WorkerHandler<VerifyArgs | FleetArgs, FleetService[]> = (args, ctx, selected) =>
  'selector' in args ? fleetCommand('verify', args, ctx, selected) : verify(args, ctx);
