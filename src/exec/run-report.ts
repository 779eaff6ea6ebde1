/** How a script's run reads in its thread, inline (src/commands/run.ts) or detached (src/workflows/run.ts). */
import { CANCEL_ACTION } from '../slack/actions';
import { code, escapeText, formatBytes } from '../slack/format';
import type { Outcome } from '../slack/thread-output';
import type { OutputSpool } from './spool';

/** "3.2 KiB of output", with what went wrong with the spool file, as Slack text. */
export function outputSize(spool: OutputSpool): string {
  return `${formatBytes(spool.bytes)} of output${spool.problem ? ` (${escapeText(spool.problem)})` : ''}`;
}

/**
 * The last line of a run that ended on its own (inline or detached): the exit code, or why it is
 * unknown. `label` is what was run as typed (plain text); `size` and `why` are Slack text. `why`
 * explains an unknown code; the default suits a detached run.
 */
export function endReport(
  label: string,
  exit: number | undefined,
  took: string,
  size: string,
  why = 'the script ended without reporting its exit status',
): RunEnd {
  if (exit === undefined) {
    return {
      ended: 'ended, exit code unknown',
      text: `❓ Exit code unknown: ${why}. This is reported as a failure; check the container before running it again.`,
      outcome: 'failure',
      summary: `${escapeText(label)}: exit code unknown after ${took}`,
    };
  }
  return {
    ended: `exited with code ${exit}`,
    text: `${exit === 0 ? '✅' : '❌'} ${code(label)} exited with code ${exit} after ${took}${size ? `, ${size}` : ''}.`,
    outcome: exit === 0 ? 'success' : 'failure',
    summary: `${escapeText(label)}: exit ${exit} in ${took}`,
  };
}

/** How a run ended: its end reply, the word for its living message, the parent's outcome and summary. */
export interface RunEnd {
  text: string;
  /** "exited with code 0", "cancelled": the living message's last state says it. */
  ended: string;
  outcome: Outcome;
  summary: string;
}

/** How a stopped script went: it stopped on Ctrl-C, or its session (or process group) had to be ended. */
const stoppedHow = (interrupted: boolean, exit?: number) =>
  interrupted ? `the script was interrupted${exit !== undefined ? ` (exit code ${exit})` : ''}` : 'the script did not stop on Ctrl-C, so it was ended';

/** The end of a run someone cancelled (`by` a Slack user id, when known). */
export function cancelledReport(label: string, r: { by?: string | undefined; took: string; exit?: number | undefined; interrupted: boolean }): RunEnd {
  return {
    text: `🚫 Cancelled${r.by ? ` by <@${r.by}>` : ''} after ${r.took}; ${stoppedHow(r.interrupted, r.exit)}.`,
    ended: 'cancelled',
    outcome: 'cancelled',
    summary: `${escapeText(label)}: cancelled after ${r.took}`,
  };
}

/** The end of a run stopped at its time limit. */
export function timedOutReport(label: string, r: { took: string; limit: string; interrupted: boolean; exit?: number | undefined }): RunEnd {
  return {
    text: `⏱️ Stopped after ${r.took}: the run reached its time limit (${r.limit}); ${stoppedHow(r.interrupted, r.exit)}.`,
    ended: 'stopped at its time limit',
    outcome: 'failure',
    summary: `${escapeText(label)}: stopped at the time limit after ${r.took}`,
  };
}

/** The "▶️ Running" message with its Cancel button (also the detached run's first message). */
export function cancelBlocks(text: string, runId: string): unknown[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text } },
    { type: 'actions', elements: [{ type: 'button', action_id: CANCEL_ACTION, style: 'danger', text: { type: 'plain_text', text: 'Cancel' }, value: runId }] },
  ];
}
