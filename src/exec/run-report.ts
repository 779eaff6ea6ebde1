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
): { text: string; outcome: Outcome; summary: string } {
  if (exit === undefined) {
    return {
      text: `❓ Exit code unknown: ${why}. This is reported as a failure; check the container before running it again.`,
      outcome: 'failure',
      summary: `${escapeText(label)}: exit code unknown after ${took}`,
    };
  }
  return {
    text: `${exit === 0 ? '✅' : '❌'} ${code(label)} exited with code ${exit} after ${took}${size ? `, ${size}` : ''}.`,
    outcome: exit === 0 ? 'success' : 'failure',
    summary: `${escapeText(label)}: exit ${exit} in ${took}`,
  };
}

/** The "▶️ Running" message with its Cancel button (also the detached run's first message). */
export function cancelBlocks(text: string, runId: string): unknown[] {
  return [
    { type: 'section', text: { type: 'mrkdwn', text } },
    { type: 'actions', elements: [{ type: 'button', action_id: CANCEL_ACTION, style: 'danger', text: { type: 'plain_text', text: 'Cancel' }, value: runId }] },
  ];
}
