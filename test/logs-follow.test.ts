/**
 * followLogs on its own, against the emulator's FilterLogEvents: it stops cleanly, with a note,
 * before the worker Lambda's deadline, keeps reading through throttling, and releases its run
 * record whatever ends it.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { putLogGroup, type LogStream } from '../local/aws/services/logs';
import { describeSpan, windowLineText } from '../src/commands/logs-window';
import { followLogs } from '../src/commands/logs-follow';
import { OutputSpool } from '../src/exec/spool';
import type { WorkerContext } from '../src/worker/context';
import { memoryState } from './support/fakes';

let emu: AwsEmulator;
let client: CloudWatchLogsClient;
let stream: LogStream;

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  client = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' }, maxAttempts: 1 });
  const group = putLogGroup(emu.state.region('111111111111', 'us-east-1'), '/ecs/web', Date.now() - 60_000);
  stream = { logStreamName: 'web/app/0123456789abcdef', creationTime: Date.now() - 60_000, events: [] };
  group.streams.set(stream.logStreamName, stream);
});
afterEach(async () => {
  client.destroy();
  await emu.close();
});

function fakeContext(remaining: () => number) {
  const state = memoryState();
  const updates: string[] = [];
  const closed: string[] = [];
  const ctx = {
    job: { invocation: { teamId: 'T1', userId: 'U0ALICE', channelId: 'C0OPS' } },
    target: { alias: 'web' },
    out: {
      parentTs: '1700000000.000100',
      living: async () => ({
        ts: '1700000000.000200',
        update: (text: string) => void updates.push(text),
        close: async (text: string) => void closed.push(text),
      }),
    },
    state,
    now: Date.now,
    remainingMs: remaining,
    logger: { warn: () => undefined },
  } as unknown as WorkerContext;
  return { ctx, state, updates, closed };
}

describe('followLogs', () => {
  it('ends before the worker Lambda’s deadline with a note, having read what came, through a throttled read; its run record goes', async () => {
    const now = Date.now();
    stream.events.push({ timestamp: now - 1000, message: 'during the follow', ingestionTime: now });
    emu.faults.throttle('logs:FilterLogEvents', 2);
    let reads = 0;
    // Plenty of time for the first read, then the deadline is near.
    const { ctx, state, updates, closed } = fakeContext(() => (reads++ === 0 ? 120_000 : 31_000));
    const spool = await OutputSpool.create();
    try {
      const end = await followLogs(ctx, {
        client,
        query: { group: '/ecs/web', streamPrefix: 'web/app/' },
        from: now - 5000,
        floor: now - 60_000,
        durationMs: 600_000,
        about: '`app` in all tasks of *web*',
        spool,
        seen: new Map(),
        tail: [],
        format: windowLineText,
        describe: describeSpan,
      });
      expect(end).toMatchObject({ why: 'deadline', lines: 1 });
      expect(updates.at(-1)).toContain('during the follow');
      expect(closed[0]).toMatch(/^⏹️ Stopped following `app` in all tasks of \*web\* after \d+ s: the worker's time \(15 min a Lambda/);
      expect(closed[0]).toContain('1 new line.');
      expect(spool.tail()).toEqual([expect.stringMatching(/Z 01234567 during the follow$/)]);
      expect(state.items.size).toBe(0);
      expect(emu.calls.filter((c) => c.action === 'FilterLogEvents' && c.status === 400)).toHaveLength(2);
    } finally {
      await spool.cleanup();
    }
  });

  it('a read that fails ends the follow: its message loses the Cancel button, its run record goes, the error is the worker’s to report', async () => {
    emu.faults.deny('logs:FilterLogEvents');
    const { ctx, state, closed } = fakeContext(() => 600_000);
    const spool = await OutputSpool.create();
    try {
      const failed = followLogs(ctx, {
        client,
        query: { group: '/ecs/web', streamPrefix: 'web/app/' },
        from: Date.now(),
        floor: Date.now() - 60_000,
        durationMs: 600_000,
        about: '`app` in all tasks of *web*',
        spool,
        seen: new Map(),
        tail: ['an earlier line'],
        format: windowLineText,
        describe: describeSpan,
      });
      await expect(failed).rejects.toMatchObject({ name: 'AccessDeniedException' });
      expect(closed[0]).toMatch(/^❌ Stopped following `app` in all tasks of \*web\*: a read failed/);
      expect(closed[0]).toContain('an earlier line');
      expect(state.items.size).toBe(0);
    } finally {
      await spool.cleanup();
    }
  });
});
