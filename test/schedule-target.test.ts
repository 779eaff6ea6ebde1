import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ApiCommand } from '../src/api/requests';
import { parseConfig } from '../src/config/schema';
import type { Requester } from '../src/api/requester';
import { createScheduledTarget, ScheduledHandOffError } from '../src/schedules/target';
import { describeInstant, scheduleLine } from '../src/commands/schedules';
import { takesRunLock } from '../src/commands/run-lock';
import { mention } from '../src/slack/invocation';

const config = parseConfig(parse(readFileSync('ecs-chatops.config.yaml', 'utf8')));

function target(answer: { statusCode: number; body: Record<string, unknown> } = { statusCode: 202, body: { id: 'r1' } }) {
  const submitted: Array<[Requester, ApiCommand]> = [];
  const handle = createScheduledTarget({
    config: () => config,
    submit: async (principal, command) => {
      submitted.push([principal, command]);
      return answer;
    },
  });
  return { handle, submitted };
}

describe('the scheduled target', () => {
  it('submits the declared command as the schedule, keyed by the schedule and its scheduled time', async () => {
    const { handle, submitted } = target();
    expect(await handle({ schedule: 'nightly-backup', scheduledTime: '2026-12-07T01:00:00Z' })).toEqual({ statusCode: 202, body: { id: 'r1' } });
    expect(submitted).toEqual([
      [
        {
          userId: 'schedule:nightly-backup',
          name: 'schedule:nightly-backup',
          origin: {
            via: 'schedule',
            schedule: 'nightly-backup',
            expression: 'cron(0 2 * * ? *)',
            timezone: 'Europe/Paris',
            scheduledTime: '2026-12-07T01:00:00Z',
          },
          audit: { via: 'schedule', principal: 'schedule:nightly-backup' },
          notAllowed: 'schedule nightly-backup is no longer declared in the configuration',
        },
        expect.objectContaining({
          text: 'run backup.sh nightly',
          channelId: 'C0OPS',
          idempotencyKey: 'nightly-backup@2026-12-07T01:00:00Z',
        }),
      ],
    ]);
  });

  it('runs nothing for a schedule no longer declared, or an input without a time, and does not ask for a retry', async () => {
    const { handle, submitted } = target();
    expect((await handle({ schedule: 'removed', scheduledTime: '2026-12-07T01:00:00Z' })).statusCode).toBe(400);
    expect((await handle({ schedule: 'nightly-backup', scheduledTime: 'yesterday' })).statusCode).toBe(400);
    expect((await handle({ schedule: 'constructor', scheduledTime: '2026-12-07T01:00:00Z' })).statusCode).toBe(400);
    expect(submitted).toEqual([]);
  });

  it('throws when the hand-off failed, so Lambda retries it', async () => {
    const { handle } = target({ statusCode: 503, body: { error: 'unavailable', message: 'nothing ran' } });
    await expect(handle({ schedule: 'nightly-backup', scheduledTime: '2026-12-07T01:00:00Z' })).rejects.toThrow(ScheduledHandOffError);
  });
});

describe('how /ecs schedules shows a schedule', () => {
  const nightly = config.schedules['nightly-backup']!;
  const now = Date.parse('2026-12-06T20:00:00Z');
  it('the next run in its zone and in UTC; paused, none; not deployed or not described, said so', () => {
    expect(describeInstant(Date.parse('2026-12-07T01:00:00Z'), 'Europe/Paris')).toBe('2026-12-07 02:00 Europe/Paris (2026-12-07 01:00 UTC)');
    expect(scheduleLine('nightly-backup', nightly, config, { state: 'ENABLED' }, undefined, now)).toContain(
      '🟢 ENABLED · next 2026-12-07 02:00 Europe/Paris (2026-12-07 01:00 UTC) · no run yet',
    );
    expect(scheduleLine('nightly-backup', nightly, config, { state: 'DISABLED' }, undefined, now)).toContain('⏸️ DISABLED · no next run');
    expect(scheduleLine('nightly-backup', nightly, config, undefined, undefined, now)).toContain('⚠️ not deployed');
    expect(scheduleLine('nightly-backup', nightly, config, { error: 'AccessDeniedException' }, undefined, now)).toContain(
      '⚠️ state unknown: EventBridge Scheduler answered `AccessDeniedException`',
    );
  });
});

describe('a schedule never overlaps itself', () => {
  it('takes the run lock even for a script or job that allows overlapping runs by people', () => {
    expect(takesRunLock(true, { origin: { via: 'schedule', schedule: 'nightly-backup' } })).toBe(true);
    expect(takesRunLock(true, {})).toBe(false);
    expect(takesRunLock(false, {})).toBe(true);
  });
  it('is named, never mentioned, where a run’s starter is told', () => {
    expect(mention('schedule:nightly-backup')).toBe('schedule `nightly-backup`');
  });
});
