import { describe, expect, it } from 'vitest';
import { endedView, OutputTail, runningView, type RunViewState } from '../src/exec/run-view';

const state = (tail: OutputTail, extra: Partial<RunViewState> = {}): RunViewState => ({
  label: 'backup.sh nightly',
  runId: 'abc123',
  place: { container: 'app', taskId: '0123456789abcdef' },
  elapsedMs: 12_000,
  bytes: 2048,
  tail,
  ...extra,
});

describe('a run’s living message', () => {
  it('shows the latest lines that fit, and remembers that earlier ones left the view', () => {
    const tail = new OutputTail([], false, 100);
    tail.add(['first line', 'second line']);
    expect(tail.leftOut).toBe(false);
    tail.add(Array.from({ length: 20 }, (_, i) => `line ${i}`));
    expect(tail.leftOut).toBe(true);
    expect(tail.lines.at(-1)).toBe('line 19');
    expect(tail.lines).not.toContain('first line');
    // Carried over a durable poll as plain lines: the next poll goes on from there.
    const next = new OutputTail(tail.lines, tail.leftOut, 100);
    expect(next.leftOut).toBe(true);
    expect(next.lines).toEqual(tail.lines);
  });

  it('shows output as text, never as Slack markup, with a line still being drawn last', () => {
    const tail = new OutputTail(['<!channel> & *bold*', '``` fence']);
    const view = runningView(state(tail, { partial: '[#####     ] 5/10' }));
    expect(view.text).toContain('&lt;!channel&gt; &amp; *bold*');
    expect(view.text).not.toContain('``` fence');
    expect(view.text).toMatch(/\[##### {5}\] 5\/10\n```$/);
    expect(view.text).toMatch(/^▶️ Running `backup.sh nightly` \(run `abc123`\) in `app` of task `0123456789ab` · 12 s · 2\.0 KiB of output\n/);
    expect(JSON.stringify(view.blocks)).toContain('"action_id":"ecs:cancel"');
  });

  it('fits a section block (3000 characters) whatever the output, and ends without a button', () => {
    const tail = new OutputTail(Array.from({ length: 200 }, () => '&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&'));
    const view = runningView(state(tail, { label: `restore.sh ${'x'.repeat(200)}`, partial: '&'.repeat(500) }));
    expect(view.text.length).toBeLessThanOrEqual(3000);
    const ended = endedView(state(tail), 'exited with code 0');
    expect(ended.length).toBeLessThanOrEqual(3000);
    expect(ended).toMatch(/^⏹️ `backup.sh nightly` \(run `abc123`\) .* · exited with code 0 after 12 s/);
    expect(ended).toContain('the full output is attached below');
  });
});
