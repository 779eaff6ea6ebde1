import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WebClient } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSlackServer, type SlackServer } from '../local/slack/server';
import { UserFacingError } from '../src/platform/errors';
import { createSlackClient } from '../src/slack/client';
import { SlackChannelError } from '../src/slack/channel-error';
import { ThreadOutput, splitMessage, type ThreadOutputOptions } from '../src/slack/thread-output';

const PARENT = '<@U0ALICE> ran `/ecs status web`';

/**
 * A fake clock shared by ThreadOutput and the server. In auto mode sleeping advances it at once;
 * otherwise a sleep ends only when the test advances the clock past it.
 */
class Clock {
  t = 1_732_435_200_000;
  auto = true;
  sleeps: number[] = [];
  private waiters: Array<{ at: number; wake: () => void }> = [];
  now = () => this.t;
  sleep = (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    if (!this.auto) return new Promise((wake) => this.waiters.push({ at: this.t + ms, wake }));
    this.t += ms;
    return new Promise((resolve) => setImmediate(resolve));
  };
  advance(ms: number): void {
    this.t += ms;
    const due = this.waiters.filter((w) => w.at <= this.t);
    this.waiters = this.waiters.filter((w) => w.at > this.t);
    for (const w of due) w.wake();
  }
}

let server: SlackServer;
let client: WebClient;
let clock: Clock;

beforeEach(async () => {
  clock = new Clock();
  server = await startSlackServer({ now: clock.now });
  process.env.SLACK_API_URL = server.url;
  client = createSlackClient('xoxb-test');
});
afterEach(async () => {
  delete process.env.SLACK_API_URL;
  await server.close();
});

function options(extra: Partial<ThreadOutputOptions> = {}): ThreadOutputOptions {
  return { client, channel: 'C0OPS', remainingMs: () => 600_000, now: clock.now, sleep: clock.sleep, ...extra };
}
const start = (extra: Partial<ThreadOutputOptions> = {}) => ThreadOutput.start({ ...options(extra), parentText: PARENT });
const replies = (out: ThreadOutput) => server.replies('C0OPS', out.parentTs);
const realTick = () => new Promise((resolve) => setTimeout(resolve, 2));

describe('ThreadOutput', () => {
  it('posts the parent, answers in its thread and marks the parent with the outcome', async () => {
    const out = await start();
    expect(server.message('C0OPS', out.parentTs)).toMatchObject({ text: PARENT, threadTs: undefined });

    const ts = await out.post('*web*: 2/2 running');
    out.write('checking deployments…\n');
    await out.finish({ outcome: 'success', summary: 'web: 2/2 running, steady' });

    expect(replies(out).map((m) => m.text)).toEqual(['*web*: 2/2 running', '```\nchecking deployments…\n```']);
    expect(replies(out)[0]!.ts).toBe(ts);
    const parent = server.message('C0OPS', out.parentTs)!;
    expect(parent.text).toBe(`✅ ${PARENT} — web: 2/2 running, steady`);
    expect(parent.history.map((h) => h.text)).toEqual([PARENT]);
    expect(server.workspace.files).toEqual([]); // everything fitted: no file
    expect(out.deliveryProblems).toEqual([]);
  });

  it('marks each outcome, also from a later Lambda and on a parent with blocks', async () => {
    const out = await start();
    await ThreadOutput.resume({ ...options(), parentTs: out.parentTs, parentText: PARENT }).finish({ outcome: 'failure', summary: 'task stopped' });
    expect(server.message('C0OPS', out.parentTs)!.text).toBe(`❌ ${PARENT} — task stopped`);
    await ThreadOutput.resume({ ...options(), parentTs: out.parentTs }).finish({ outcome: 'cancelled', summary: 'cancelled by <@U0BOB>' });
    expect(server.message('C0OPS', out.parentTs)!.text).toBe('🚫 cancelled by <@U0BOB>');

    const section = { type: 'section', text: { type: 'mrkdwn', text: PARENT } };
    const withBlocks = await ThreadOutput.start({ ...options(), parentText: PARENT, parentBlocks: [section] });
    await withBlocks.finish({ outcome: 'warning', summary: '1 of 2 tasks unhealthy' });
    expect(server.message('C0OPS', withBlocks.parentTs)).toMatchObject({
      text: `⚠️ ${PARENT} — 1 of 2 tasks unhealthy`,
      blocks: [section, { type: 'context', elements: [{ type: 'mrkdwn', text: '⚠️ 1 of 2 tasks unhealthy' }] }],
    });
  });

  it('coalesces writes into at most one update per second per live reply', async () => {
    const out = await start();
    clock.auto = false;
    for (let i = 0; i < 60; i++) {
      out.write(`step ${i}\n`); // one line every 100 ms for 6 s
      clock.advance(100);
      await realTick();
    }
    clock.auto = true;
    clock.advance(1000);
    await out.flush();

    const [live] = replies(out);
    const updates = server.calls.filter((c) => c.method === 'chat.update' && c.args.ts === live!.ts);
    expect(updates.length).toBeGreaterThanOrEqual(3);
    expect(updates.length).toBeLessThan(60 / 4);
    for (let i = 1; i < updates.length; i++) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(1000);
    const posted = server.calls.find((c) => c.method === 'chat.postMessage' && c.args.thread_ts === out.parentTs)!;
    expect(updates[0]!.at - posted.at).toBeGreaterThanOrEqual(1000);
    expect(live!.text).toBe(`\`\`\`\n${Array.from({ length: 60 }, (_, i) => `step ${i}`).join('\n')}\n\`\`\``);
  });

  it('throttles with the real clock and timers too', async () => {
    const updates: number[] = [];
    server.events.on('call', (c) => c.method === 'chat.update' && updates.push(Date.now()));
    const out = await ThreadOutput.start({ client, channel: 'C0OPS', remainingMs: () => 60_000, minUpdateIntervalMs: 100, parentText: PARENT });
    for (let i = 0; i < 20; i++) {
      out.write(`tick ${i}\n`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await out.flush();
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.length).toBeLessThan(10);
    for (let i = 1; i < updates.length; i++) expect(updates[i]! - updates[i - 1]!).toBeGreaterThanOrEqual(95);
    expect(replies(out)[0]!.text).toContain('tick 19\n```');
  });

  it('keeps a living message: posted once, edited in place with only the latest state, at most once per second', async () => {
    const out = await start();
    const cancel = [{ type: 'actions', elements: [{ type: 'button', action_id: 'ecs:cancel', text: { type: 'plain_text', text: 'Cancel' }, value: 'r1' }] }];
    const living = (await out.living('🔄 starting', cancel))!;
    expect(living.ts).toBe(replies(out)[0]!.ts);
    clock.auto = false;
    for (let i = 1; i <= 30; i++) {
      living.update(`🔄 step ${i} of 30`, cancel); // ten states a second for 3 s
      clock.advance(100);
      await realTick();
    }
    clock.auto = true;
    clock.advance(1000);
    await out.flush();
    const updates = server.calls.filter((c) => c.method === 'chat.update' && c.args.ts === living.ts);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < updates.length; i++) expect(updates[i]!.at - updates[i - 1]!.at).toBeGreaterThanOrEqual(1000);
    expect(replies(out)).toHaveLength(1);
    expect(replies(out)[0]).toMatchObject({ text: '🔄 step 30 of 30', blocks: cancel });

    // Its end takes the button away with it, and later log output goes below it.
    await living.close('✅ done');
    out.write('after\n');
    await out.finish({ outcome: 'success', summary: 'ok' });
    expect(replies(out).map((m) => m.text)).toEqual(['✅ done', '```\nafter\n```']);
    expect(replies(out)[0]!.blocks).toBeUndefined();
  });

  it('goes on editing the living message a previous Lambda posted, without posting another', async () => {
    const first = await start();
    const ts = (await first.living('🔄 poll 1'))!.ts!;
    const later = ThreadOutput.resume({ ...options(), parentTs: first.parentTs, parentText: PARENT });
    const living = (await later.living('🔄 poll 1', undefined, ts))!;
    living.update('🔄 poll 2');
    await later.flush();
    expect(replies(first)).toHaveLength(1);
    expect(replies(first)[0]!.text).toBe('🔄 poll 2');
  });

  it('posts a run’s end and its full output as one message: the file share with the end as its comment', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'thread-output-'));
    try {
      const path = join(dir, 'out.txt');
      await writeFile(path, 'line 1\nline 2\n');
      const out = await start();
      await out.postWithFile('✅ `backup.sh` exited with code 0', { path, filename: 'output-abc123.txt', title: 'Full output (2 lines)' });
      expect(replies(out)).toHaveLength(1);
      expect(replies(out)[0]!.text).toBe('✅ `backup.sh` exited with code 0');
      expect(replies(out)[0]!.files).toHaveLength(1);
      expect(server.workspace.files.map((f) => [f.title, f.content.toString()])).toEqual([['Full output (2 lines)', 'line 1\nline 2\n']]);

      // The file cannot go: the end is still said, and the thread learns the file is missing.
      server.faults.fail('files.getUploadURLExternal', 'internal_error', 1);
      await out.postWithFile('❌ `fail.sh` exited with code 3', { path, filename: 'output-def456.txt', title: 'Full output of fail.sh' });
      expect(replies(out).at(-1)!.text).toBe('❌ `fail.sh` exited with code 3');
      await out.finish({ outcome: 'failure', summary: 'fail.sh: exit 3' });
      expect(replies(out).at(-1)!.text).toContain('Full output of fail.sh could not be attached');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('waits out a 429 on a living message’s edit and sends the latest state then', async () => {
    const out = await start();
    const living = (await out.living('a'))!;
    server.faults.rateLimit('chat.update', 1, 2);
    living.update('b');
    living.update('c');
    await out.flush();
    const updates = server.calls.filter((c) => c.method === 'chat.update');
    expect(updates.map((c) => c.status)).toEqual([429, 200]);
    expect(clock.sleeps).toContain(2000);
    expect(replies(out)[0]!.text).toBe('c');
  });

  it('buffers synchronous writes into one message', async () => {
    const out = await start();
    for (let i = 0; i < 100; i++) out.write(`${i} `);
    await out.flush();
    expect(server.calls.filter((c) => c.method !== 'chat.postMessage' || c.args.thread_ts)).toHaveLength(1);
    expect(replies(out)[0]!.text).toContain('0 1 2');
    expect(replies(out)[0]!.text).toContain(' 99 ');
  });

  it('splits a long post at line boundaries into several replies without losing a character', async () => {
    const out = await start();
    const lines = Array.from({ length: 400 }, (_, i) => `${i}: ${'x'.repeat(i % 90)}`);
    const text = `${lines.join('\n')}\n${'y'.repeat(9000)}\nend`;
    expect(text.length).toBeGreaterThan(20_000);

    const ts = await out.post(text);
    const texts = replies(out).map((m) => m.text);
    expect(texts.length).toBeGreaterThanOrEqual(6);
    expect(texts.join('')).toBe(text);
    for (const t of texts) expect(t.length).toBeLessThanOrEqual(4000);
    // Only the 9000-character line is split inside a line.
    for (const t of texts.slice(0, -1)) expect(t.endsWith('\n') || /^y+$/.test(t)).toBe(true);
    expect(ts).toBe(replies(out)[0]!.ts);
  });

  it('closes and reopens a code block cut by a split', () => {
    const text = `Output:\n\`\`\`\n${Array.from({ length: 500 }, (_, i) => `line ${i}`).join('\n')}\n\`\`\`\ndone`;
    const parts = splitMessage(text, 1000);
    expect(parts.length).toBeGreaterThan(3);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(1000);
      expect(p.split('```').length % 2).toBe(1); // an even number of fences
    }
    const content = (s: string) => s.split('\n').filter((l) => l !== '```' && l !== '');
    expect(parts.flatMap(content)).toEqual(content(text)); // only fence lines were added
  });

  it('keeps log output before a post above it, and later log output below it', async () => {
    const out = await start();
    out.write('registering task definition\n');
    await out.post('*Approval required*');
    out.write('deploying\n');
    await out.finish({ outcome: 'success', summary: 'deployed' });
    expect(replies(out).map((m) => m.text)).toEqual(['```\nregistering task definition\n```', '*Approval required*', '```\ndeploying\n```']);
  });

  it('escapes log output for Slack and keeps it inside one code block', async () => {
    const out = await start();
    out.write('<@U0BOB> & ```rm -rf```\n');
    await out.flush();
    const text = replies(out)[0]!.text;
    expect(text).toBe('```\n&lt;@U0BOB&gt; &amp; ``\u200b`rm -rf``\u200b`\n```');
  });

  it('shows the latest lines when the live replies are full and uploads the full log', async () => {
    const out = await start({ maxLiveChars: 600, maxLiveMessages: 2 });
    const lines = Array.from({ length: 300 }, (_, i) => `line ${String(i).padStart(3, '0')} <ok> & done\n`);
    for (const line of lines) out.write(line);
    await out.finish({ outcome: 'success', summary: 'done' });

    const [first, last, fileMessage, ...rest] = replies(out);
    expect(rest).toEqual([]);
    expect(first!.text.startsWith('```\nline 000 &lt;ok&gt; &amp; done\nline 001')).toBe(true);
    expect(last!.text).toContain('latest lines');
    expect(last!.text).toContain('line 299 &lt;ok&gt; &amp; done\n```');
    expect(last!.text).not.toContain('line 100 ');
    expect(last!.text).toMatch(/… full output \(300 lines, 6\.\d KiB\) attached below$/);
    for (const m of [first!, last!]) expect(m.text.length).toBeLessThanOrEqual(600);

    const [file] = server.workspace.files;
    expect(file!.content.toString()).toBe(lines.join(''));
    expect(file).toMatchObject({ channel: 'C0OPS', threadTs: out.parentTs, messageTs: fileMessage!.ts });
    expect(server.message('C0OPS', out.parentTs)!.text).toBe(`✅ ${PARENT} — done`);
  });

  it('says so in the thread when the full log cannot be attached', async () => {
    const out = await start({ maxLiveChars: 400, maxLiveMessages: 1 });
    for (let i = 0; i < 100; i++) out.write(`line ${i}\n`);
    server.faults.fail('files.completeUploadExternal', 'internal_error');
    await out.finish({ outcome: 'failure', summary: 'exit 2' });

    const last = replies(out).at(-1)!;
    expect(last.text).toBe('⚠️ Not all output reached Slack:\n• the full output (100 lines, 790 B) could not be attached: internal_error');
    expect(server.message('C0OPS', out.parentTs)!.text).toBe(`❌ ${PARENT} — exit 2 _(some output did not reach Slack, see the thread)_`);
  });

  it('caps the log kept in memory and says so', async () => {
    const out = await start({ maxLiveChars: 400, maxLiveMessages: 1, maxLogChars: 2000 });
    const lines = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(4, '0')} ${'z'.repeat(44)}\n`);
    for (const line of lines) out.write(line);
    await out.finish({ outcome: 'failure', summary: 'exit 1' });

    const content = server.workspace.files[0]!.content.toString();
    expect(content.startsWith(lines[0]!)).toBe(true);
    expect(content.endsWith(lines[199]!)).toBe(true);
    expect(content).toMatch(/\[… 8000 characters omitted here: the log was larger than the 2\.0 KiB kept in memory …\]/);
    expect(replies(out)[0]!.text).toContain('full output (200 lines, 9.8 KiB, trimmed to 2.0 KiB) attached below');
  });

  it('keeps only a small in-memory log once the caller says the full log is on disk', async () => {
    const out = await start();
    out.useLogFile();
    out.write(`${'x'.repeat(99)}\n`.repeat(2000)); // 200 KB
    await out.finish({ outcome: 'failure', summary: 'no file after all' });
    // Without a log file at finish, only the small in-memory copy is left to upload, and it says so.
    expect(server.workspace.files[0]!.content.length).toBeLessThan(80 * 1024);
    expect(
      replies(out)
        .map((r) => r.text)
        .join('\n'),
    ).toContain('trimmed to 64.0 KiB');
  });

  it('uploads a log file given to finish instead of the in-memory log', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'thread-output-'));
    try {
      const path = join(dir, 'exec.log');
      const full = Array.from({ length: 5000 }, (_, i) => `exec line ${i}`).join('\n');
      await writeFile(path, full);
      const out = await start();
      out.write('exec line 0\nexec line 1\n'); // only the start was streamed live
      await out.finish({ outcome: 'success', summary: 'exit 0', logFile: path });

      expect(server.workspace.files[0]!.content.toString()).toBe(full);
      expect(replies(out)[0]!.text).toMatch(/full output \(5000 lines, \d+\.\d KiB\) attached below/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('waits out a 429 when Retry-After fits in the time left', async () => {
    const out = await start();
    out.write('a\n');
    await out.flush();
    server.faults.rateLimit('chat.update', 1, 2);
    out.write('b\n');
    await out.flush();

    const updates = server.calls.filter((c) => c.method === 'chat.update');
    expect(updates.map((c) => c.status)).toEqual([429, 200]);
    expect(updates[1]!.at - updates[0]!.at).toBeGreaterThanOrEqual(2000);
    expect(clock.sleeps).toContain(2000);
    expect(replies(out)[0]!.text).toBe('```\na\nb\n```');
    await out.finish({ outcome: 'success', summary: 'ok' });
    expect(out.deliveryProblems).toEqual([]);
  });

  it('never sleeps past the deadline on a long Retry-After, and says what did not reach Slack', async () => {
    const deadline = clock.t + 5000;
    const out = await start({ remainingMs: () => deadline - clock.t });
    out.write('first\n');
    await out.flush();
    server.faults.rateLimit('chat.update', 100, 30);
    out.write('second\n');
    await out.flush();
    out.write('third\n');
    await out.finish({ outcome: 'success', summary: 'ok' });

    expect(Math.max(...clock.sleeps)).toBeLessThan(30_000);
    expect(clock.t).toBeLessThanOrEqual(deadline);
    // One 429, then no more calls to the blocked method.
    expect(server.calls.filter((c) => c.method === 'chat.update').map((c) => c.status)).toEqual([429]);
    expect(server.workspace.files[0]!.content.toString()).toBe('first\nsecond\nthird\n');
    const last = replies(out).at(-1)!;
    expect(last.text).toContain('✅ ok');
    expect(last.text).toContain('Not all output reached Slack');
    expect(last.text).toContain('rate-limited chat.update for 30 s, longer than the time left');
    expect(last.text).toContain('the full output is attached above');
    expect(server.message('C0OPS', out.parentTs)!.text).toBe(PARENT);
  });

  it('keeps a reply that could not be posted and attaches it', async () => {
    const deadline = clock.t + 5000;
    const out = await start({ remainingMs: () => deadline - clock.t });
    server.faults.rateLimit('chat.postMessage', 100, 60);
    expect(await out.post('*web*: 2/2 running')).toBeUndefined();
    await out.finish({ outcome: 'success', summary: 'ok' });

    expect(server.workspace.files.map((f) => [f.title, f.content.toString()])).toEqual([['Replies that could not be posted', '*web*: 2/2 running']]);
    expect(server.message('C0OPS', out.parentTs)!.text).toBe(`✅ ${PARENT} — ok _(some output did not reach Slack, see the thread)_`);
    expect(out.deliveryProblems.join('\n')).toContain('1 message(s) could not be posted');
  });

  it('attaches a reply Slack refuses as invalid_blocks as a file in the thread, saying why, and goes on', async () => {
    const out = await start();
    const long = Array.from({ length: 120 }, (_, i) => `• event ${i}: service web &lt;ok&gt; has reached a steady state`).join('\n'); // over 3,000: a real refusal
    const blocks = [
      { type: 'header', text: { type: 'plain_text', text: 'web' } },
      { type: 'section', text: { type: 'mrkdwn', text: long } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'as of now' }] },
    ];
    expect(await out.post('fallback text', blocks)).toBeUndefined();
    await out.post('after it'); // later replies still go out, below the file
    await out.finish({ outcome: 'success', summary: 'web: steady' });

    const refused = server.calls.find((c) => c.method === 'chat.postMessage' && c.error);
    expect(refused?.error).toBe('invalid_blocks');
    const [note, after, ...rest] = replies(out);
    expect(rest).toEqual([]);
    expect(note!.text).toBe(
      '⚠️ Slack refused the message (invalid_blocks), so the result is attached as a file.\nSlack said: `[ERROR] must be less than 3001 characters [json-pointer:/blocks/1/text/text]`',
    );
    expect(after!.text).toBe('after it');
    const [file] = server.workspace.files;
    expect(file).toMatchObject({
      name: `result-${out.parentTs}.txt`,
      title: 'The result (Slack refused it as a message)',
      channel: 'C0OPS',
      threadTs: out.parentTs,
      messageTs: note!.ts,
    });
    // What the blocks said, as plain text (Slack's &lt; &gt; &amp; back to < > &).
    expect(file!.content.toString()).toBe(`web\n\n${long.replaceAll('&lt;', '<').replaceAll('&gt;', '>')}\n\nas of now`);
    expect(out.refusals).toEqual(['Slack refused the message (invalid_blocks); the result is attached as a file']);
    expect(out.deliveryProblems).toEqual([]); // nothing was lost
    expect(server.message('C0OPS', out.parentTs)!.text).toBe(`✅ ${PARENT} — web: steady`);
  });

  it('attaches a text reply refused as msg_too_long, and keeps it for finish when the file cannot go either', async () => {
    const out = await start();
    server.faults.fail('chat.postMessage', 'msg_too_long', 1, (args) => args.thread_ts !== undefined);
    await out.post('the whole report');
    expect(server.workspace.files.map((f) => f.content.toString())).toEqual(['the whole report']);
    expect(replies(out)[0]!.text).toBe('⚠️ Slack refused the message (msg_too_long), so the result is attached as a file.');

    server.faults.fail('chat.postMessage', 'msg_too_long', 1, (args) => args.thread_ts !== undefined);
    server.faults.fail('files.getUploadURLExternal', 'internal_error', 1);
    await out.post('second report');
    expect(out.refusals).toEqual([
      'Slack refused the message (msg_too_long); the result is attached as a file',
      'Slack refused the message (msg_too_long); it could not be attached as a file either',
    ]);
    await out.finish({ outcome: 'success', summary: 'ok' });
    // finish attaches it with the replies that could not be posted, and says what happened.
    expect(server.workspace.files.map((f) => [f.title, f.content.toString()])).toContainEqual(['Replies that could not be posted', 'second report']);
    expect(replies(out).at(-1)!.text).toContain('a reply was refused by Slack (msg_too_long) and could not be attached right away: internal_error');
    expect(replies(out).at(-1)!.text).toContain('the replies that could not be posted are in the attached file');
  });

  it('turns not_in_channel and channel_not_found into a user-facing fix', async () => {
    const err = await ThreadOutput.start({ ...options({ channel: 'C0RANDOM' }), parentText: PARENT }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlackChannelError);
    expect(err).toBeInstanceOf(UserFacingError);
    expect((err as SlackChannelError).userMessage).toBe("I'm not in <#C0RANDOM>. Invite me with `/invite @ecs-chatops` and try again.");
    expect((err as SlackChannelError).slackError).toBe('not_in_channel');

    const gone = (await ThreadOutput.start({ ...options({ channel: 'C0GONE' }), parentText: PARENT }).catch((e: unknown) => e)) as SlackChannelError;
    expect(gone.userMessage).toContain('/invite @ecs-chatops');
    expect(gone.slackError).toBe('channel_not_found');

    // Removed from the channel mid-command.
    const out = await start();
    const ops = server.workspace.channels.find((c) => c.id === 'C0OPS')!;
    ops.members = ops.members.filter((m) => m !== 'U0BOT');
    await expect(out.post('report')).rejects.toBeInstanceOf(SlackChannelError);
  });
});
