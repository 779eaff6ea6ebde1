/**
 * searchLogEvents against the emulator's FilterLogEvents: every page to the end of the window,
 * throttled reads (ThrottlingException injected as a fault) backed off with full jitter and the same
 * page asked again, so no line is lost or repeated; event ids deduplicated across overlapping
 * windows; and `--grep` text that cannot become filter-pattern syntax.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { putLogGroup } from '../local/aws/services/logs';
import { forgetBefore, grepPattern, parseLogDuration, searchLogEvents, type LogEventLine, type LogQuery, type SearchOptions } from '../src/ecs/log-search';

let emu: AwsEmulator;
let logs: CloudWatchLogsClient;
let t0: number;
const group = '/ecs/search';

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  // The SDK's own retries off: the backoff under test is ours.
  logs = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' }, maxAttempts: 1 });
  t0 = emu.clock.now() - 3_600_000;
  const g = putLogGroup(emu.state.region('111111111111', 'us-east-1'), group, t0);
  for (const task of ['aaaa', 'bbbb']) {
    g.streams.set(`web/app/${task}`, {
      logStreamName: `web/app/${task}`,
      creationTime: t0,
      events: Array.from({ length: 1500 }, (_, i) => ({
        timestamp: t0 + i * 1000 + (task === 'bbbb' ? 500 : 0),
        message: `${i % 100 === 0 ? 'ERROR' : 'INFO'} ${task} line ${i}`,
        ingestionTime: t0,
      })),
    });
  }
});
afterEach(async () => {
  logs.destroy();
  await emu.close();
});

async function collect(query: Partial<LogQuery>, options: SearchOptions = {}): Promise<LogEventLine[]> {
  const all: LogEventLine[] = [];
  for await (const page of searchLogEvents(logs, { group, streamPrefix: 'web/app/', startTime: t0, ...query }, { pageLimit: 500, ...options }))
    all.push(...page);
  return all;
}

describe('searchLogEvents', () => {
  it('reads every page to the end of the window, oldest first, each event once', async () => {
    const all = await collect({});
    expect(all).toHaveLength(3000);
    expect(new Set(all.map((e) => e.eventId)).size).toBe(3000);
    expect(all.every((e, i) => i === 0 || e.timestamp >= all[i - 1]!.timestamp)).toBe(true);
    expect(all[0]).toMatchObject({ stream: 'web/app/aaaa', message: 'ERROR aaaa line 0' });
    expect(emu.calls.filter((c) => c.action === 'FilterLogEvents')).toHaveLength(6);
  });

  it('backs off with full jitter when throttled and asks for the same page again: nothing lost, nothing repeated', async () => {
    const sleeps: number[] = [];
    const pages = searchLogEvents(
      logs,
      { group, streamPrefix: 'web/app/', startTime: t0 },
      { pageLimit: 500, sleep: async (ms) => void sleeps.push(ms), random: () => 0.5, baseDelayMs: 100 },
    );
    const all: LogEventLine[] = [...((await pages.next()).value as LogEventLine[])];
    // The second page is throttled three times in a row.
    emu.faults.throttle('logs:FilterLogEvents', 3);
    for await (const page of pages) all.push(...page);
    expect(sleeps).toEqual([50, 100, 200]);
    expect(all).toHaveLength(3000);
    expect(new Set(all.map((e) => e.eventId)).size).toBe(3000);
    const throttled = emu.calls.filter((c) => c.action === 'FilterLogEvents' && c.status === 400);
    expect(throttled.map((c) => c.error?.code)).toEqual(['ThrottlingException', 'ThrottlingException', 'ThrottlingException']);
    // The retried requests carried the same token as the throttled ones.
    const tokens = emu.calls.filter((c) => c.action === 'FilterLogEvents').map((c) => c.params.nextToken);
    expect(tokens.slice(1, 5).every((t) => t === tokens[1])).toBe(true);
  });

  it('gives up after its retries with the ThrottlingException', async () => {
    emu.faults.throttle('logs:FilterLogEvents', 10);
    const sleeps: number[] = [];
    await expect(
      collect({}, { sleep: async (ms) => void sleeps.push(ms), random: () => 0.999, maxThrottleRetries: 3, baseDelayMs: 100 }),
    ).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    expect(sleeps).toEqual([99, 199, 399]);
  });

  it('deduplicates on eventId across overlapping windows (a follow re-reading its last seconds)', async () => {
    const seen = new Map<string, number>();
    const first = await collect({ endTime: t0 + 600_000 }, { seen });
    const second = await collect({ startTime: t0 + 590_000, endTime: t0 + 900_000 }, { seen });
    expect(first.length + second.length).toBe(1801);
    expect(new Set([...first, ...second].map((e) => e.eventId)).size).toBe(1801);
    // Forgetting the ids before a read's start keeps what that read could return again.
    forgetBefore(seen, t0 + 890_000);
    expect([...seen.values()].every((t) => t >= t0 + 890_000)).toBe(true);
    expect(seen.size).toBe(21);
    expect(await collect({ startTime: t0 + 890_000, endTime: t0 + 900_000 }, { seen })).toEqual([]);
  });

  it('a missing group or stream is no events; other errors are thrown', async () => {
    expect(await collect({ group: '/nope' })).toEqual([]);
    await expect(collect({ filterPattern: '"unclosed' })).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('--grep text is a literal, quoted term: pattern syntax in it stays literal', async () => {
    expect(await collect({ filterPattern: grepPattern('ERROR') })).toHaveLength(30);
    expect(await collect({ filterPattern: grepPattern('ERROR aaaa') })).toHaveLength(15);
    for (const sneaky of ['?ERROR ?INFO', '-INFO', '%.*%', '{ $.level = 1 }', '[a, b]'])
      expect(await collect({ filterPattern: grepPattern(sneaky) }), sneaky).toEqual([]);
    expect(() => grepPattern('say "hi" -x')).toThrow(/double quotes/);
    expect(() => grepPattern('trailing\\')).toThrow(/backslashes/);
    expect(() => grepPattern('  ')).toThrow(/needs some text/);
  });

  it('parses durations: 30s, 15m, 2h, 7d, 1h30m', () => {
    expect(parseLogDuration('30s')).toBe(30_000);
    expect(parseLogDuration('15m')).toBe(900_000);
    expect(parseLogDuration('2h')).toBe(7_200_000);
    expect(parseLogDuration('7d')).toBe(604_800_000);
    expect(parseLogDuration('1h30m')).toBe(5_400_000);
    for (const bad of ['', '15', 'm', '1w', '-5m', '15 m x']) expect(parseLogDuration(bad), bad).toBeUndefined();
  });
});
