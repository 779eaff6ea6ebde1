import { describe, expect, it } from 'vitest';
import { instantsOf, isTimeZone, nextRun, parseScheduleExpression, runsBetween, ScheduleExpressionError } from '../src/schedules/expression';

const at = (iso: string) => Date.parse(iso);
const next = (expr: string, zone: string, after: string, anchor?: string) => {
  const t = nextRun(parseScheduleExpression(expr), zone, at(after), anchor ? at(anchor) : undefined);
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe('EventBridge Scheduler cron, the user guide examples', () => {
  it('cron(0 10 * * ? *): 10:15 AM... every day at 10:00 UTC', () => {
    expect(next('cron(0 10 * * ? *)', 'UTC', '2026-03-01T09:00:00Z')).toBe('2026-03-01T10:00:00.000Z');
    expect(next('cron(0 10 * * ? *)', 'UTC', '2026-03-01T10:00:00Z')).toBe('2026-03-02T10:00:00.000Z');
  });
  it('cron(15 12 * * ? *): 12:15 PM every day', () => {
    expect(next('cron(15 12 * * ? *)', 'UTC', '2026-03-01T12:16:00Z')).toBe('2026-03-02T12:15:00.000Z');
  });
  it('cron(0 18 ? * MON-FRI *): 6 PM Monday to Friday', () => {
    // 2026-03-06 is a Friday: the next run after it is Monday the 9th.
    expect(next('cron(0 18 ? * MON-FRI *)', 'UTC', '2026-03-06T19:00:00Z')).toBe('2026-03-09T18:00:00.000Z');
  });
  it('cron(0 8 1 * ? *): 8 AM on the first day of every month', () => {
    expect(next('cron(0 8 1 * ? *)', 'UTC', '2026-03-01T08:00:00Z')).toBe('2026-04-01T08:00:00.000Z');
  });
  it('cron(0/10 * ? * MON-FRI *): every 10 minutes on weekdays', () => {
    expect(next('cron(0/10 * ? * MON-FRI *)', 'UTC', '2026-03-06T23:55:00Z')).toBe('2026-03-09T00:00:00.000Z');
    expect(next('cron(0/10 * ? * MON-FRI *)', 'UTC', '2026-03-05T10:01:00Z')).toBe('2026-03-05T10:10:00.000Z');
  });
  it('cron(0/5 8-17 ? * MON-FRI *): every 5 minutes between 8:00 and 17:55 on weekdays', () => {
    expect(next('cron(0/5 8-17 ? * MON-FRI *)', 'UTC', '2026-03-05T17:55:00Z')).toBe('2026-03-06T08:00:00.000Z');
  });
  it('cron(0 9 ? * 2#1 *): 9 AM on the first Monday of each month', () => {
    expect(next('cron(0 9 ? * 2#1 *)', 'UTC', '2026-03-02T09:00:00Z')).toBe('2026-04-06T09:00:00.000Z');
  });
  it('L, nL, L-n, nW and LW', () => {
    expect(next('cron(0 0 L * ? *)', 'UTC', '2028-02-01T00:00:00Z')).toBe('2028-02-29T00:00:00.000Z'); // leap year
    expect(next('cron(0 0 ? * 6L *)', 'UTC', '2026-03-01T00:00:00Z')).toBe('2026-03-27T00:00:00.000Z'); // last Friday
    expect(next('cron(0 0 L-2 * ? *)', 'UTC', '2026-04-01T00:00:00Z')).toBe('2026-04-28T00:00:00.000Z');
    expect(next('cron(0 0 15W * ? *)', 'UTC', '2026-03-01T00:00:00Z')).toBe('2026-03-16T00:00:00.000Z'); // the 15th is a Sunday
    expect(next('cron(0 0 1W * ? *)', 'UTC', '2026-07-30T00:00:00Z')).toBe('2026-08-03T00:00:00.000Z'); // Aug 1 is a Saturday: Monday the 3rd
    expect(next('cron(0 0 LW * ? *)', 'UTC', '2026-05-01T00:00:00Z')).toBe('2026-05-29T00:00:00.000Z'); // May 31 is a Sunday
  });
  it('a year field: nothing after the last year', () => {
    expect(next('cron(0 0 1 1 ? 2027)', 'UTC', '2026-06-01T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('cron(0 0 1 1 ? 2027)', 'UTC', '2027-06-01T00:00:00Z')).toBeUndefined();
  });
});

describe('time zones and daylight saving time', () => {
  it('runs at the local time: 02:30 in Paris is 01:30 UTC in winter, 00:30 UTC in summer', () => {
    expect(next('cron(30 2 * * ? *)', 'Europe/Paris', '2026-01-10T12:00:00Z')).toBe('2026-01-11T01:30:00.000Z');
    expect(next('cron(30 2 * * ? *)', 'Europe/Paris', '2026-07-10T12:00:00Z')).toBe('2026-07-11T00:30:00.000Z');
  });
  it('a local time that does not exist (clocks forward) is skipped', () => {
    // 2026-03-29 02:30 does not exist in Paris (02:00 → 03:00): the run after the 28th is on the 30th.
    expect(next('cron(30 2 * * ? *)', 'Europe/Paris', '2026-03-28T02:00:00Z')).toBe('2026-03-30T00:30:00.000Z');
    expect(instantsOf({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Paris')).toEqual([]);
  });
  it('a local time that happens twice (clocks back) runs once', () => {
    // 2026-11-01 01:30 happens twice in New York (EDT, then EST).
    expect(instantsOf({ year: 2026, month: 11, day: 1, hour: 1, minute: 30 }, 'America/New_York')).toEqual([
      at('2026-11-01T05:30:00Z'),
      at('2026-11-01T06:30:00Z'),
    ]);
    const runs = runsBetween(parseScheduleExpression('cron(30 1 * * ? *)'), 'America/New_York', at('2026-10-31T12:00:00Z'), at('2026-11-02T12:00:00Z'));
    expect(runs.map((t) => new Date(t).toISOString())).toEqual(['2026-11-01T05:30:00.000Z', '2026-11-02T06:30:00.000Z']);
  });
  it('knows IANA zones and refuses others', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('Europe/Paris; rm')).toBe(false);
  });
});

describe('rate', () => {
  it('runs every period from its start', () => {
    expect(next('rate(5 minutes)', 'UTC', '2026-03-01T10:07:00Z', '2026-03-01T10:00:00Z')).toBe('2026-03-01T10:10:00.000Z');
    expect(next('rate(1 day)', 'UTC', '2026-03-01T09:00:00Z', '2026-03-01T10:00:00Z')).toBe('2026-03-02T10:00:00.000Z');
    expect(next('rate(2 hours)', 'UTC', '2026-03-01T12:00:00Z', '2026-03-01T10:00:00Z')).toBe('2026-03-01T14:00:00.000Z');
  });
});

describe('refusals, with the reason', () => {
  it.each([
    ['cron(0 10 * * * *)', 'exactly one of them must be `?`'],
    ['cron(0 10 ? * ? *)', 'exactly one of them must be `?`'],
    ['cron(0 10 * * ?)', 'six fields'],
    ['cron(60 10 * * ? *)', 'minutes: 60 is outside 0-59'],
    ['cron(0 24 * * ? *)', 'hours: 24 is outside 0-23'],
    ['cron(0 0 ? * MON-FOO *)', '`FOO` is not a value'],
    ['cron(0 0 ? * 2#6 *)', 'k in 1-5'],
    ['cron(0 0 5-1 * ? *)', 'runs backwards'],
    ['cron(0 0 1 * ? 2200)', '2200 is outside 1970-2199'],
    ['rate(1 minutes)', 'singular'],
    ['rate(5 minute)', 'plural'],
    ['rate(0 minutes)', 'positive'],
    ['rate(5 weeks)', 'minute(s), hour(s) or day(s)'],
    ['at(2026-01-01T00:00:00)', 'one-time'],
    ['0 10 * * ?', 'must be cron('],
  ])('%s', (expr, why) => {
    expect(() => parseScheduleExpression(expr)).toThrow(ScheduleExpressionError);
    expect(() => parseScheduleExpression(expr)).toThrow(why);
  });
});
