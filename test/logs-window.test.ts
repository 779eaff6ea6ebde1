/**
 * readWindow: a window's pages written to the spool until they end, the line cap, or the Lambda's
 * time nearly out, with a note that says where it stopped; and the line format.
 */
import { describe, expect, it } from 'vitest';
import { readWindow, windowLineText } from '../src/commands/logs-window';
import type { LogEventLine } from '../src/ecs/log-search';

const T0 = Date.parse('2026-12-05T14:00:00Z');
const event = (i: number): LogEventLine => ({
  eventId: String(i),
  timestamp: T0 + i * 1000,
  stream: 'web/app/0123456789abcdef0123456789abcdef',
  message: `line ${i}`,
});
async function* pages(sizes: number[]) {
  let i = 0;
  for (const size of sizes) yield Array.from({ length: size }, () => event(i++));
}
const spool = () => {
  const written: string[] = [];
  return {
    written,
    write: (lines: readonly string[]) => void written.push(...lines),
    get lines() {
      return written.length;
    },
  };
};

describe('readWindow', () => {
  it('writes every page to the end: no note', async () => {
    const s = spool();
    expect(await readWindow(pages([3, 3, 2]), s, new Map(), { maxLines: 100, remainingMs: () => 600_000 })).toBeUndefined();
    expect(s.written).toHaveLength(8);
    expect(s.written[0]).toBe('2026-12-05 14:00:00Z 01234567 line 0');
  });

  it('exactly the cap is not truncated; past it, the note says up to when', async () => {
    const exact = spool();
    expect(await readWindow(pages([3, 2]), exact, new Map(), { maxLines: 5, remainingMs: () => 600_000 })).toBeUndefined();
    const over = spool();
    const note = await readWindow(pages([3, 3, 3]), over, new Map(), { maxLines: 5, remainingMs: () => 600_000 });
    expect(over.written).toHaveLength(5);
    expect(note).toBe('truncated at 5 lines (up to 2026-12-05 14:00:04Z): narrow it with a shorter `--since` or `--grep`');
    const atBoundary = spool();
    expect(await readWindow(pages([5, 1]), atBoundary, new Map(), { maxLines: 5, remainingMs: () => 600_000 })).toContain(
      'truncated at 5 lines (up to 2026-12-05 14:00:04Z)',
    );
  });

  it('stops with a note when the Lambda’s time is nearly out', async () => {
    const s = spool();
    let left = 60_000;
    const note = await readWindow(pages([2, 2, 2]), s, new Map(), { maxLines: 100, remainingMs: () => (left -= 30_000) });
    expect(s.written).toHaveLength(4);
    expect(note).toBe('truncated: out of time after 4 lines (up to 2026-12-05 14:00:03Z): narrow it with a shorter `--since` or `--grep`');
  });

  it('a line keeps its text, without its trailing line breaks', () => {
    expect(windowLineText({ ...event(1), message: 'multi\nline\n\n' })).toBe('2026-12-05 14:00:01Z 01234567 multi\nline');
  });
});
