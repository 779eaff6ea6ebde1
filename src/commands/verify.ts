import { code } from '../slack/format';
import { liveLine, renderSummary, renderTree, summaryLine } from '../verify/render';
import { summarize } from '../verify/types';
import { verifyService } from '../verify/verify';
import type { WorkerCommand } from './worker-types';

/**
 * `/ecs verify <service> [--image <tag|image>] [--put-logs]`: every dependency of the service
 * checked, results streamed into the thread as they complete, then the tree and the summary.
 */
export const verify: WorkerCommand = async (ctx) => {
  const target = ctx.target!;
  const image = ctx.request.words.flags.get('image');
  const putLogs = ctx.request.words.flags.has('put-logs') ? true : target.verify.putLogs;
  const { out } = ctx;
  // The intro is a reply of its own, so the live log's first update is the first result, not a second later.
  await out.post(
    `Verifying \`${target.alias}\` (${target.cluster}/${target.service} in ${target.region})${typeof image === 'string' ? ` as a deploy of ${code(image)} would leave it` : ''}. ` +
      `Logs are ${putLogs ? 'proven by writing one line (put-logs on)' : 'not written to (put-logs off; `--put-logs` turns it on)'}.`,
  );
  const results = await verifyService(
    { alias: target.alias, target, aws: ctx.aws!, putLogs, ...(typeof image === 'string' ? { image } : {}) },
    { remainingMs: ctx.remainingMs, onResult: (r) => out.write(`${liveLine(r)}\n`) },
  );
  await out.post(renderTree(results, 'slack'));
  await out.post(renderSummary(results, 'slack'));
  const s = summarize(results);
  return { outcome: s.fail ? 'failure' : s.warn ? 'warning' : 'success', summary: `${target.alias}: ${summaryLine(s)}` };
};
