import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEmulator, type AwsEmulator } from '../local/aws';
import { logsState } from '../local/aws/services/logs';
import { AwsSession } from '../src/aws/session';
import { readNewLines, type StreamCursor } from '../src/jobs/follow';

let aws: AwsEmulator;
const savedEnv = { ...process.env };
beforeAll(async () => {
  aws = await startAwsEmulator();
  Object.assign(process.env, aws.endpointEnv());
});
afterAll(async () => {
  process.env = savedEnv;
  await aws.close();
});

const where = { kind: 'awslogs' as const, region: 'us-east-1', group: '/ecs/web', stream: 'web/app/follow-test', container: 'app' };
function write(messages: string[]): void {
  const group = logsState(aws.state.region('111111111111', 'us-east-1')).get('/ecs/web')!;
  const stream =
    group.streams.get(where.stream) ??
    group.streams.set(where.stream, { logStreamName: where.stream, creationTime: aws.clock.now(), events: [] }).get(where.stream)!;
  const t = aws.clock.now();
  stream.events.push(...messages.map((message) => ({ timestamp: t, message, ingestionTime: t })));
}

describe('reading a job’s log stream forward', () => {
  it('no stream yet is no line; then each line once, in order, across reads; throttling loses and repeats nothing', async () => {
    const session = new AwsSession({ region: 'us-east-1' }, { teamId: 'T0LOCAL', userId: 'U0ALICE' });
    try {
      const cursor: StreamCursor = {};
      expect(await readNewLines(session, where, cursor)).toEqual([]);
      write(['one', 'two']);
      expect(await readNewLines(session, where, cursor)).toEqual(['one', 'two']);
      write(['three', 'four\nfive']);
      // Throttled past the SDK's retries: no line now, the cursor where it was.
      aws.faults.throttle('logs:GetLogEvents', 10);
      const before = { ...cursor };
      expect(await readNewLines(session, where, cursor)).toEqual([]);
      expect(cursor).toEqual(before);
      aws.faults.clear();
      expect(await readNewLines(session, where, cursor)).toEqual(['three', 'four', 'five']);
      expect(await readNewLines(session, where, cursor)).toEqual([]);
      // On from a nextForwardToken, startFromHead is true, as GetLogEvents asks.
      const reads = aws.calls.filter((c) => c.action === 'GetLogEvents' && c.params.logStreamName === where.stream);
      expect(reads.filter((c) => c.params.nextToken).length).toBeGreaterThan(0);
      expect(reads.every((c) => c.params.startFromHead === true)).toBe(true);
    } finally {
      session.destroy();
    }
  }, 60_000);
});
