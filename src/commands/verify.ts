import { code } from '../slack/format';
import { liveLine, renderSummary, renderTree, summaryLine } from '../verify/render';
import { summarize } from '../verify/types';
import { verifyService } from '../verify/verify';
import type { WorkerHandler } from './verb';
import type { VerifyArgs } from './verbs/args';

/**
 * `/ecs verify <service> [--image <tag|image>] [--put-logs]`: every dependency of the service
 * checked, results streamed into the thread as they complete, then the tree and the summary.
 */
export const verify: WorkerHandler<VerifyArgs> = async ({ image, putLogs }, ctx) => {
  const target = ctx.target!;
  const { out } = ctx;
  // The intro is a reply of its own, so the live log's first update is the first result, not a second later.
  await out.post(
    `Verifying \`${target.alias}\` (${target.cluster}/${target.service} in ${target.region})${image !== undefined ? ` as a deploy of ${code(image)} would leave it` : ''}. ` +
      `Logs are ${putLogs ? 'proven by writing one line (put-logs on)' : 'not written to (put-logs off; `--put-logs` turns it on)'}.`,
  );
  const results = await verifyService(
    { alias: target.alias, target, aws: ctx.aws!, putLogs, ...(image !== undefined ? { image } : {}) },
    { remainingMs: ctx.remainingMs, onResult: (r) => out.write(`${liveLine(r)}\n`) },
  );
  await out.post(renderTree(results, 'slack'));
  await out.post(renderSummary(results, 'slack'));
  const s = summarize(results);
  return { outcome: s.fail ? 'failure' : s.warn ? 'warning' : 'success', summary: `${target.alias}: ${summaryLine(s)}` };
};
