/**
 * CloudWatch Logs FilterLogEvents through the SDK's CloudWatchLogsClient, as the API reference
 * defines it: across streams (by prefix or by name, not both), time range (inclusive), sorted by
 * time, limit and nextToken paging to the end, the 1 MB page, stable event ids, filter patterns for
 * unstructured events, AWS's errors, and throttling injectable as a fault.
 */
import { CloudWatchLogsClient, FilterLogEventsCommand, type FilterLogEventsCommandInput, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { logsState, putLogGroup } from '../local/aws/services/logs';

let emu: AwsEmulator;
let logs: CloudWatchLogsClient;
const group = '/test/filter';
let t0: number;

beforeEach(async () => {
  emu = await startAwsEmulator({ clockRate: 0 });
  logs = new CloudWatchLogsClient({
    region: 'us-east-1',
    endpoint: emu.url,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' },
    maxAttempts: 1,
  });
  t0 = emu.clock.now() - 600_000;
  const g = putLogGroup(emu.state.region('111111111111', 'us-east-1'), group, t0);
  // Two tasks' streams interleaved in time, and another service's stream.
  const stream = (name: string, events: Array<[number, string]>) =>
    g.streams.set(name, {
      logStreamName: name,
      creationTime: t0,
      events: events.map(([dt, message]) => ({ timestamp: t0 + dt, message, ingestionTime: t0 + dt + 5 })),
    });
  stream('web/app/aaaa', [
    [0, 'INFO starting'],
    [2000, 'ERROR connection refused'],
    [4000, 'WARN slow query'],
    [6000, 'ERROR timeout, Exiting'],
  ]);
  stream('web/app/bbbb', [
    [1000, 'INFO starting'],
    [3000, 'ERROR disk full'],
    [5000, 'info lower case error'],
  ]);
  stream('api/app/cccc', [[1500, 'ERROR elsewhere']]);
});
afterEach(async () => {
  logs.destroy();
  await emu.close();
});

const filter = (input: Partial<FilterLogEventsCommandInput>) => logs.send(new FilterLogEventsCommand({ logGroupName: group, ...input }));
const lines = (r: { events?: Array<{ message?: string }> }) => r.events!.map((e) => e.message);

describe('FilterLogEvents', () => {
  it('reads the streams of a prefix, sorted by time, with their stream names and stable event ids', async () => {
    const out = await filter({ logStreamNamePrefix: 'web/app/' });
    expect(lines(out)).toEqual([
      'INFO starting',
      'INFO starting',
      'ERROR connection refused',
      'ERROR disk full',
      'WARN slow query',
      'info lower case error',
      'ERROR timeout, Exiting',
    ]);
    expect(out.events!.map((e) => e.logStreamName)).toEqual([
      'web/app/aaaa',
      'web/app/bbbb',
      'web/app/aaaa',
      'web/app/bbbb',
      'web/app/aaaa',
      'web/app/bbbb',
      'web/app/aaaa',
    ]);
    expect(out.events![0]).toEqual({
      logStreamName: 'web/app/aaaa',
      timestamp: t0,
      message: 'INFO starting',
      ingestionTime: t0 + 5,
      eventId: expect.stringMatching(/^\d{56}$/),
    });
    expect(out.nextToken).toBeUndefined();
    expect(out).not.toHaveProperty('searchedLogStreams');
    // The same event has the same id on every read.
    expect((await filter({ logStreamNamePrefix: 'web/app/' })).events!.map((e) => e.eventId)).toEqual(out.events!.map((e) => e.eventId));
    expect(lines(await filter({}))).toHaveLength(8);
  });

  it('logStreamNames picks streams by name; with logStreamNamePrefix too it is InvalidParameterException', async () => {
    expect(lines(await filter({ logStreamNames: ['web/app/bbbb'] }))).toEqual(['INFO starting', 'ERROR disk full', 'info lower case error']);
    await expect(filter({ logStreamNames: ['web/app/bbbb'], logStreamNamePrefix: 'web/' })).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(filter({ logStreamNames: [] })).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('startTime and endTime are both inclusive; startTime after endTime is refused', async () => {
    expect(lines(await filter({ logStreamNamePrefix: 'web/', startTime: t0 + 2000, endTime: t0 + 4000 }))).toEqual([
      'ERROR connection refused',
      'ERROR disk full',
      'WARN slow query',
    ]);
    await expect(filter({ startTime: t0 + 2, endTime: t0 + 1 })).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('pages with limit and nextToken to the end, without losing or repeating an event', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await filter({ logStreamNamePrefix: 'web/', limit: 3, ...(token ? { nextToken: token } : {}) });
      seen.push(...out.events!.map((e) => e.eventId!));
      token = out.nextToken;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(new Set(seen).size).toBe(7);
    await expect(filter({ limit: 0 })).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(filter({ limit: 10_001 })).rejects.toMatchObject({ name: 'InvalidParameterException' });
    await expect(filter({ nextToken: 'not-a-token' })).rejects.toMatchObject({ name: 'InvalidParameterException' });
  });

  it('ends a page at 1 MB and goes on behind the token', async () => {
    const g = logsState(emu.state.region('111111111111', 'us-east-1')).get(group)!;
    const big = 'x'.repeat(200_000);
    g.streams.set('big', {
      logStreamName: 'big',
      creationTime: t0,
      events: Array.from({ length: 8 }, (_, i) => ({ timestamp: t0 + i, message: big, ingestionTime: t0 })),
    });
    const first = await filter({ logStreamNames: ['big'] });
    expect(first.events).toHaveLength(5);
    const second = await filter({ logStreamNames: ['big'], nextToken: first.nextToken! });
    expect(second.events).toHaveLength(3);
    expect(second.nextToken).toBeUndefined();
  });

  it('filter patterns for unstructured events: terms, quoted phrases, ?any, -exclusion, %regex%, case-sensitive', async () => {
    const p = (filterPattern: string) => filter({ logStreamNamePrefix: 'web/', filterPattern }).then(lines);
    expect(await p('ERROR')).toEqual(['ERROR connection refused', 'ERROR disk full', 'ERROR timeout, Exiting']);
    expect(await p('ERROR refused')).toEqual(['ERROR connection refused']);
    expect(await p('"connection refused"')).toEqual(['ERROR connection refused']);
    expect(await p('"refused connection"')).toEqual([]);
    expect(await p('?WARN ?disk')).toEqual(['ERROR disk full', 'WARN slow query']);
    expect(await p('ERROR -Exiting')).toEqual(['ERROR connection refused', 'ERROR disk full']);
    expect(await p('%ERROR (disk|timeout)%')).toEqual(['ERROR disk full', 'ERROR timeout, Exiting']);
    expect(await p('error')).toEqual(['info lower case error']);
    expect(await p('')).toHaveLength(7);
    expect(await p('"timeout, Exiting"')).toEqual(['ERROR timeout, Exiting']);
    for (const bad of ['"unclosed', '%unclosed', '{ $.level = "error" }', '[ip, user]', 'a"b']) {
      await expect(p(bad), bad).rejects.toMatchObject({ name: 'InvalidParameterException' });
    }
  });

  it('ResourceNotFoundException for a missing group; logGroupIdentifier (name or ARN), not with logGroupName', async () => {
    const missing = await logs.send(new FilterLogEventsCommand({ logGroupName: '/nope' })).catch((e) => e);
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(missing.message).toBe('The specified log group does not exist.');
    const arn = `arn:aws:logs:us-east-1:111111111111:log-group:${group}:*`;
    expect(lines(await logs.send(new FilterLogEventsCommand({ logGroupIdentifier: arn, logStreamNames: ['api/app/cccc'] })))).toEqual(['ERROR elsewhere']);
    await expect(logs.send(new FilterLogEventsCommand({ logGroupName: group, logGroupIdentifier: group }))).rejects.toMatchObject({
      name: 'InvalidParameterException',
    });
  });

  it('throttling is injectable: ThrottlingException, as CloudWatch Logs answers it', async () => {
    emu.faults.throttle('logs:FilterLogEvents', 1);
    const error = await filter({}).catch((e) => e);
    expect(error.name).toBe('ThrottlingException');
    expect(error.$metadata.httpStatusCode).toBe(400);
    expect(lines(await filter({}))).toHaveLength(8);
  });

  it('is authorized on the log group ARN', async () => {
    await filter({});
    const call = emu.calls.filter((c) => c.action === 'FilterLogEvents').at(-1)!;
    expect(call.status).toBe(200);
    emu.faults.deny('logs:FilterLogEvents', { resource: `arn:aws:logs:us-east-1:111111111111:log-group:${group}` });
    await expect(filter({})).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });
});
