/**
 * The one living message a run keeps in its thread (inline, src/commands/run.ts, or detached,
 * src/workflows/run.ts): what runs where, for how long and how much it printed, and the latest
 * lines of its output, edited in place instead of followed by new replies. The full output goes
 * in the file of the end reply whenever this view could not show all of it.
 */
import { breakFences, code, escapeText, formatBytes, formatDuration } from '../slack/format';
import { cancelBlocks } from './run-report';

/**
 * Characters of escaped output shown: a section block takes 3000 characters of text, and the
 * header and the fences need the rest.
 */
export const TAIL_CHARS = 2400;

/** The latest lines of a run's output that fit in the living message, and whether any were left out. */
export class OutputTail {
  private shown: string[] = [];
  private chars = 0;
  private dropped = false;

  constructor(
    lines: readonly string[] = [],
    dropped = false,
    private readonly budget = TAIL_CHARS,
  ) {
    this.add(lines);
    this.dropped ||= dropped;
  }

  /** True once a line had to leave the view: the full output then goes in a file. */
  get leftOut(): boolean {
    return this.dropped;
  }

  /** The lines shown, as plain text (kept in a durable step's result between polls). */
  get lines(): readonly string[] {
    return this.shown;
  }

  add(lines: readonly string[]): void {
    for (const line of lines) {
      // A line longer than the whole view shows its end.
      const kept = line.length > this.budget ? line.slice(-this.budget) : line;
      if (kept !== line) this.dropped = true;
      this.shown.push(kept);
      this.chars += shownLength(kept);
    }
    while (this.chars > this.budget && this.shown.length > 1) {
      this.chars -= shownLength(this.shown.shift()!);
      this.dropped = true;
    }
  }

  /**
   * The code block: the lines shown and, last, a line still being drawn (a `\r` progress bar), in
   * at most `room` characters (the latest lines first; a section block takes 3000).
   */
  block(partial = '', room = this.budget + 300): string {
    const lines = partial ? [...this.shown, partial.slice(-200)] : this.shown;
    const kept: string[] = [];
    let used = 8; // the fences
    for (let i = lines.length - 1; i >= 0; i--) {
      const line = breakFences(escapeText(lines[i]!));
      used += line.length + 1;
      if (used > room) break;
      kept.unshift(line);
    }
    return kept.length ? `\`\`\`\n${kept.join('\n')}\n\`\`\`` : '_no output yet_';
  }
}

const shownLength = (line: string) => escapeText(line).length + 1;

/** A section block's text limit: the running view is one (with the Cancel button below it). */
const SECTION_TEXT = 3000;

/** Where a run happens, as its living message names it. */
export interface RunPlace {
  container: string;
  taskId: string;
}

export interface RunViewState {
  label: string;
  runId: string;
  place: RunPlace;
  elapsedMs: number;
  bytes: number;
  tail: OutputTail;
  /** A line still being drawn, shown below the tail while the script runs. */
  partial?: string;
  /** How the run is followed (detached: "new output every 30 s"). */
  note?: string;
}

const where = (s: RunViewState) => `${code(s.label)} (run \`${s.runId}\`) in ${code(s.place.container)} of task ${code(s.place.taskId.slice(0, 12))}`;
const progress = (s: RunViewState) => `${formatDuration(s.elapsedMs)} · ${formatBytes(s.bytes)} of output`;

/** The living message while the script runs: header, latest output, Cancel button. */
export function runningView(s: RunViewState): { text: string; blocks: unknown[] } {
  const header = `▶️ Running ${where(s)} · ${progress(s)}${s.note ? `\n_${s.note}_` : ''}`;
  const text = `${header}\n${s.tail.block(s.partial, SECTION_TEXT - header.length - 1)}`;
  return { text, blocks: cancelBlocks(text, s.runId) };
}

/** The living message once the run is over: the same view, no button; the end reply says how it ended. */
export function endedView(s: RunViewState, ended: string): string {
  const header = `⏹️ ${where(s)} · ${ended} after ${progress(s)}`;
  const more = s.tail.leftOut ? '\n_Latest lines above; the full output is attached below._' : '';
  return `${header}\n${s.tail.block('', SECTION_TEXT - header.length - more.length - 1)}${more}`;
}
