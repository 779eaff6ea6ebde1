/**
 * CloudWatch Logs GetLogEvents through the SDK's CloudWatchLogsClient, as the API reference defines
 * it: newest page by default or oldest with startFromHead, `f/…` and `b/…` tokens always returned
 * (the same token back at either end), time range, limit bounds, and AWS's not-found messages. The
 * crashing containers' log lines these tests read elsewhere are written through the same store.
 */
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';

let emu: AwsEmulator;
let logs: CloudWatchLogsClient;
const group = '/ecs/web';
const stream = 'web/app/0123456789abcdef0123456789abcdef';
let t0: number;

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  logs = new CloudWatchLogsClient({ region: 'us-east-1', endpoint: emu.url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' } });
  t0 = emu.clock.now() - 60_000;
  await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: stream }));
  const logEvents = Array.from({ length: 25 }, (_, i) => ({ timestamp: t0 + i * 1000, message: `line ${i}` }));
  await logs.send(new PutLogEventsCommand({ logGroupName: group, logStreamName: stream, logEvents }));
});
afterEach(async () => {
  logs.destroy();
  await emu.close();
});

const get = (input: Partial<ConstructorParameters<typeof GetLogEventsCommand>[0]>) =>
  logs.send(new GetLogEventsCommand({ logGroupName: group, logStreamName: stream, ...input }));
const lines = (r: { events?: Array<{ message?: string }> }) => r.events!.map((e) => e.message);

describe('GetLogEvents', () => {
  it('returns the newest events by default, the oldest with startFromHead, oldest first either way', async () => {
    expect(lines(await get({ limit: 3 }))).toEqual(['line 22', 'line 23', 'line 24']);
    expect(lines(await get({ limit: 3, startFromHead: true }))).toEqual(['line 0', 'line 1', 'line 2']);
    const all = await get({});
    expect(all.events).toHaveLength(25);
    expect(all.events![0]).toEqual({ timestamp: t0, message: 'line 0', ingestionTime: expect.any(Number) });
  });

  it('pages forward and backward with f/ and b/ tokens, returning the same token at the ends', async () => {
    const first = await get({ limit: 10, startFromHead: true });
    expect(first.nextForwardToken).toMatch(/^f\/\d{56}$/);
    expect(first.nextBackwardToken).toMatch(/^b\/\d{56}$/);
    const second = await get({ limit: 10, nextToken: first.nextForwardToken });
    expect(lines(second)).toEqual(Array.from({ length: 10 }, (_, i) => `line ${i + 10}`));
    const third = await get({ limit: 10, nextToken: second.nextForwardToken });
    expect(lines(third)).toHaveLength(5);
    const end = await get({ limit: 10, nextToken: third.nextForwardToken });
    expect(end.events).toEqual([]);
    expect(end.nextForwardToken).toBe(third.nextForwardToken);

    // Backward from the third page: the ten before it.
    const back = await get({ limit: 10, nextToken: third.nextBackwardToken });
    expect(lines(back)).toEqual(lines(second));
    const head = await get({ limit: 10, nextToken: first.nextBackwardToken });
    expect(head.events).toEqual([]);
    expect(head.nextBackwardToken).toBe(first.nextBackwardToken);
  });

  it('startTime is inclusive and endTime exclusive', async () => {
    expect(lines(await get({ startTime: t0 + 5_000, endTime: t0 + 8_000, startFromHead: true }))).toEqual(['line 5', 'line 6', 'line 7']);
  });

  it('accepts logGroupIdentifier (name or ARN), not together with logGroupName', async () => {
    const arn = `arn:aws:logs:us-east-1:111111111111:log-group:${group}`;
    expect(lines(await logs.send(new GetLogEventsCommand({ logGroupIdentifier: arn, logStreamName: stream, limit: 1 })))).toEqual(['line 24']);
    const both = await get({ logGroupIdentifier: group }).catch((e) => e);
    expect(both.name).toBe('InvalidParameterException');
  });

  it('limits: 1 to 10,000', async () => {
    for (const limit of [0, 10_001]) {
      const err = await get({ limit }).catch((e) => e);
      expect(err.name).toBe('InvalidParameterException');
      expect(err.message).toMatch(/at 'limit' failed to satisfy constraint/);
    }
    expect((await get({ limit: 10_000 })).events).toHaveLength(25);
    const bad = await get({ nextToken: 'f/garbage' }).catch((e) => e);
    expect(bad.name).toBe('InvalidParameterException');
  });

  it('ResourceNotFoundException for a missing group or stream, with AWS’s messages', async () => {
    const noGroup = await get({ logGroupName: '/ecs/nope' }).catch((e) => e);
    expect(noGroup).toBeInstanceOf(ResourceNotFoundException);
    expect(noGroup.message).toBe('The specified log group does not exist.');
    const noStream = await get({ logStreamName: 'web/app/nope' }).catch((e) => e);
    expect(noStream).toBeInstanceOf(ResourceNotFoundException);
    expect(noStream.message).toBe('The specified log stream does not exist.');
  });

  it('is authorized on the log stream ARN', async () => {
    emu.faults.deny('logs:GetLogEvents', { resource: `arn:aws:logs:us-east-1:111111111111:log-group:${group}:log-stream:${stream}` });
    const denied = await get({}).catch((e) => e);
    expect(denied.name).toBe('AccessDeniedException');
    expect(emu.calls.at(-1)).toMatchObject({ service: 'logs', action: 'GetLogEvents', error: { code: 'AccessDeniedException' } });
  });
});
