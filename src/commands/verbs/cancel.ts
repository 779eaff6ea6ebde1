import { cancel } from '../cancel';
import { defineVerb, expectCount, usageError } from '../verb';
import type { CancelArgs } from './args';

export const cancelVerb = defineVerb<CancelArgs>({
  name: 'cancel',
  summary: 'Stop a running script or job, or a log follow',
  usage: '/ecs cancel <run-id>',
  // Any role here: the answer itself requires \`run\` in this channel, except of the person stopping
  // their own run (a viewer's \`/ecs logs --follow\`), and checks the run's own scope (src/commands/cancel.ts).
  permission: 'read',
  checks: 'itself',
  runsIn: 'ack',
  parse(words) {
    expectCount(this, words, 1, 1);
    const runId = words.positional[0]!;
    if (!/^[a-z0-9]{6,12}$/.test(runId)) throw usageError(this, 'A run id looks like `k3x9q2`: it is shown when the run starts.');
    return { runId };
  },
  answer: cancel,
});
