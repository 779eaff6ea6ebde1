/**
 * How a job shows in its thread, wherever it is followed (the worker, src/commands/job.ts, or the
 * run workflow, src/workflows/run-job.ts): the living message while its task lives, the same
 * message when it ended, and the end reply with the verdict.
 */
import type { LogsLocation } from '../ecs/container-logs';
import type { OutputTail } from '../exec/run-view';
import { breakFences, code, escapeText, formatBytes, formatDuration } from '../slack/format';
import type { JobVerdict } from './task';

/** A section block's text limit. */
const SECTION_TEXT = 3000;

export interface JobView {
  label: string;
  runId: string;
  taskId: string;
  statuses: string[];
  elapsedMs: number;
  bytes: number;
  tail: OutputTail;
  where: LogsLocation;
  /** How its lines come when it is not every second (a job followed by the workflow). */
  note?: string;
}

const header = (v: JobView) =>
  `${code(v.label)} (run \`${v.runId}\`) in task ${code(v.taskId.slice(0, 12))} · ${v.statuses.join(' → ')} · ${formatDuration(v.elapsedMs)} · ${formatBytes(v.bytes)} of log${v.note ? ` · ${v.note}` : ''}`;

/** The living message while the task lives: its statuses so far, then its latest log lines. */
export function runningJobView(v: JobView): string {
  const top = `▶️ Job ${header(v)}`;
  const body = v.where.kind === 'awslogs' ? v.tail.block('', SECTION_TEXT - top.length - 1) : `_${breakFences(escapeText(v.where.explanation))}_`;
  return `${top}\n${body}`;
}

export function endedJobView(v: JobView, ended: string): string {
  const top = `⏹️ Job ${header({ ...v, note: undefined })} · ${ended}`;
  const more = v.tail.leftOut ? '\n_Latest lines above; the full log is attached below._' : '';
  return `${top}\n${v.tail.block('', SECTION_TEXT - top.length - more.length - 1)}${more}`;
}

/** Why a job was stopped by the bot: a cancel, or its time limit (`lambda`: the worker's, shorter than the job's). */
export interface JobStop {
  why: 'cancelled' | 'timeout';
  by?: string;
  limit?: string;
  lambda?: boolean;
}

/** The end reply: the verdict, each essential container's exit code, the stop code and reason (AWS text escaped). */
export function endText(label: string, runId: string, verdict: JobVerdict, took: string, stop?: JobStop) {
  const exits = verdict.exitCodes
    .filter((e) => e.essential)
    .map((e) => `${code(e.name)}: ${e.exitCode === undefined ? 'no exit code' : `exit code ${e.exitCode}`}${e.reason ? ` (${escapeText(e.reason)})` : ''}`);
  const stopLine = verdict.stopCode ? `Stop code ${code(verdict.stopCode)}${verdict.reason ? `: ${escapeText(verdict.reason)}` : ''}` : '';
  const details = [...exits.map((e) => `• ${e}`), ...(stopLine ? [`• ${stopLine}`] : [])].join('\n');
  const head =
    verdict.outcome === 'success'
      ? `✅ ${code(label)} (run \`${runId}\`) succeeded after ${took}.`
      : verdict.outcome === 'cancelled'
        ? `🚫 ${code(label)} (run \`${runId}\`) was cancelled${stop?.by ? ` by <@${stop.by}>` : ''} after ${took}.`
        : stop?.why === 'timeout'
          ? `⏱️ ${code(label)} (run \`${runId}\`) was stopped after ${took}: a failure. ${stop.lambda ? `It reached the longest this worker could follow it (${stop.limit}).` : `It reached its time limit (${stop.limit}).`}`
          : `❌ ${code(label)} (run \`${runId}\`) failed after ${took}: ${escapeText(verdict.why)}.`;
  const own = verdict.exitCodes[0]?.exitCode;
  return {
    text: `${head}\n${details}`,
    ended: verdict.outcome === 'success' ? 'exit code 0' : verdict.outcome === 'cancelled' ? 'cancelled' : own !== undefined ? `exit code ${own}` : 'failed',
    summary:
      verdict.outcome === 'success'
        ? `${escapeText(label)}: exit 0 in ${took}`
        : verdict.outcome === 'cancelled'
          ? `${escapeText(label)}: cancelled after ${took}`
          : `${escapeText(label)}: failed (${escapeText(verdict.why)})`,
  };
}

/** RunTask placed no task: the reply and the outcome's summary. */
export function notPlaced(label: string, runId: string, why: string) {
  return {
    text: `❌ ${code(label)} (run \`${runId}\`) could not start: ECS placed no task: ${escapeText(why)}.`,
    summary: `${escapeText(label)}: not placed (${escapeText(why)})`,
  };
}
