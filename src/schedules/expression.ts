/**
 * EventBridge Scheduler's schedule expressions, as its user guide defines them
 * (schedule-types.html): `rate(value unit)` and `cron(minutes hours day-of-month month day-of-week year)`,
 * evaluated in an IANA time zone. What the bot needs: refuse a bad expression at check-config time
 * with the reason, and tell `/ecs schedules` when a schedule runs next.
 *
 * Cron fields and their wildcards:
 *   minutes 0-59 `, - * /` · hours 0-23 `, - * /` · day-of-month 1-31 `, - * ? / L W` ·
 *   month 1-12 or JAN-DEC `, - * /` · day-of-week 1-7 or SUN-SAT (1 = Sunday) `, - * ? L #` ·
 *   year 1970-2199 `, - * /`.
 * One of day-of-month and day-of-week must be `?` (a value or `*` in one needs `?` in the other).
 *
 * Daylight saving time, as the guide says Scheduler handles it: a local time that does not exist
 * (clocks move forward) is skipped; a local time that happens twice (clocks move back) runs once,
 * at its first occurrence.
 */
import { UserFacingError } from '../platform/errors';

export class ScheduleExpressionError extends UserFacingError {}

export type RateUnit = 'minute' | 'hour' | 'day';
export interface RateExpression {
  kind: 'rate';
  value: number;
  unit: RateUnit;
  periodMs: number;
}

interface DayOfMonthSpec {
  any: boolean;
  values: Set<number>;
  last: boolean;
  /** `L-n`: n days before the last day. */
  lastOffset?: number;
  /** `nW`: the weekday nearest day n; `LW`: the last weekday of the month. */
  nearestWeekday?: number | 'L';
}
interface DayOfWeekSpec {
  any: boolean;
  /** 1 = Sunday … 7 = Saturday. */
  values: Set<number>;
  /** `nL`: the last day n of the month. */
  lastOf?: number;
  /** `n#k`: the k-th day n of the month. */
  nth?: { day: number; k: number };
}
export interface CronExpression {
  kind: 'cron';
  minutes: Set<number>;
  hours: Set<number>;
  dayOfMonth: DayOfMonthSpec;
  months: Set<number>;
  dayOfWeek: DayOfWeekSpec;
  years: Set<number>;
}
export type ScheduleExpression = RateExpression | CronExpression;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const UNIT_MS: Record<RateUnit, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;

/** Parses `rate(…)` or `cron(…)`; throws ScheduleExpressionError naming what is wrong. */
export function parseScheduleExpression(text: string): ScheduleExpression {
  const rate = /^rate\((.*)\)$/.exec(text);
  if (rate) return parseRate(rate[1]!, text);
  const cron = /^cron\((.*)\)$/.exec(text);
  if (cron) return parseCron(cron[1]!, text);
  if (text.startsWith('at(')) throw new ScheduleExpressionError(`\`${text}\`: one-time at() schedules are not supported; use cron() or rate()`);
  throw new ScheduleExpressionError(`\`${text}\`: must be cron(minutes hours day-of-month month day-of-week year) or rate(value unit)`);
}

function parseRate(body: string, text: string): RateExpression {
  const match = /^(\d+) (minute|minutes|hour|hours|day|days)$/.exec(body);
  if (!match) throw new ScheduleExpressionError(`\`${text}\`: a rate is rate(value unit), unit minute(s), hour(s) or day(s)`);
  const value = Number(match[1]);
  const word = match[2]!;
  if (value < 1) throw new ScheduleExpressionError(`\`${text}\`: the value must be a positive number`);
  const unit = word.replace(/s$/, '') as RateUnit;
  if (value === 1 && word.endsWith('s')) throw new ScheduleExpressionError(`\`${text}\`: a value of 1 takes the singular unit (rate(1 ${unit}))`);
  if (value > 1 && !word.endsWith('s')) throw new ScheduleExpressionError(`\`${text}\`: a value above 1 takes the plural unit (rate(${value} ${unit}s))`);
  return { kind: 'rate', value, unit, periodMs: value * UNIT_MS[unit] };
}

function parseCron(body: string, text: string): CronExpression {
  const fields = body.split(' ');
  if (fields.length !== 6 || fields.some((f) => f === '')) {
    throw new ScheduleExpressionError(
      `\`${text}\`: a cron expression has six fields separated by one space: minutes hours day-of-month month day-of-week year`,
    );
  }
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  const bad = (field: string, why: string) => new ScheduleExpressionError(`\`${text}\`: ${field}: ${why}`);
  if ((dom === '?') === (dow === '?')) {
    throw bad('day-of-month and day-of-week', 'exactly one of them must be `?` (a value or `*` in one needs `?` in the other)');
  }
  return {
    kind: 'cron',
    minutes: listField(min, 0, 59, 'minutes', bad),
    hours: listField(hour, 0, 23, 'hours', bad),
    dayOfMonth: dayOfMonthField(dom, bad),
    months: listField(month, 1, 12, 'month', bad, MONTHS),
    dayOfWeek: dayOfWeekField(dow, bad),
    years: listField(year, MIN_YEAR, MAX_YEAR, 'year', bad),
  };
}

type Bad = (field: string, why: string) => ScheduleExpressionError;

/** `*`, `a`, `a-b`, `a/n`, `*\/n`, `a-b/n`, comma-separated; `names` are accepted for values (JAN, SUN). */
function listField(text: string, lo: number, hi: number, field: string, bad: Bad, names?: string[], offset = 1): Set<number> {
  const values = new Set<number>();
  const value = (word: string): number => {
    const named = names?.indexOf(word.toUpperCase()) ?? -1;
    if (named >= 0) return named + offset;
    if (!/^\d+$/.test(word)) throw bad(field, `\`${word}\` is not a value (${lo}-${hi}${names ? ` or ${names[0]}-${names[names.length - 1]}` : ''})`);
    const n = Number(word);
    if (n < lo || n > hi) throw bad(field, `${n} is outside ${lo}-${hi}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    if (part.split('/').length > 2) throw bad(field, `\`${part}\` has more than one /`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (stepText !== undefined && (!/^\d+$/.test(stepText) || step < 1)) throw bad(field, `\`${part}\`: the increment must be a positive number`);
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [lo, hi];
    else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      [from, to] = [value(a), value(b)];
      if (from > to) throw bad(field, `\`${range}\`: the range runs backwards`);
    } else {
      from = value(range);
      // `5/15`: from 5 every 15 to the end of the field's range.
      to = stepText === undefined ? from : hi;
    }
    for (let n = from; n <= to; n += step) values.add(n);
  }
  return values;
}

function dayOfMonthField(text: string, bad: Bad): DayOfMonthSpec {
  if (text === '?') return { any: true, values: new Set(), last: false };
  if (text === 'L') return { any: false, values: new Set(), last: true };
  if (text === 'LW') return { any: false, values: new Set(), last: false, nearestWeekday: 'L' };
  const lastOffset = /^L-(\d+)$/.exec(text);
  if (lastOffset) {
    const n = Number(lastOffset[1]);
    if (n < 1 || n > 30) throw bad('day-of-month', `\`${text}\`: L-n needs n in 1-30`);
    return { any: false, values: new Set(), last: false, lastOffset: n };
  }
  const weekday = /^(\d+)W$/.exec(text);
  if (weekday) {
    const n = Number(weekday[1]);
    if (n < 1 || n > 31) throw bad('day-of-month', `\`${text}\`: nW needs n in 1-31`);
    return { any: false, values: new Set(), last: false, nearestWeekday: n };
  }
  if (/[LW#]/i.test(text)) throw bad('day-of-month', `\`${text}\`: L and W are used as L, L-n, nW or LW, alone in the field`);
  return { any: false, values: listField(text, 1, 31, 'day-of-month', bad), last: false };
}

function dayOfWeekField(text: string, bad: Bad): DayOfWeekSpec {
  if (text === '?') return { any: true, values: new Set() };
  const day = (word: string): number => [...listField(word, 1, 7, 'day-of-week', bad, DAYS)][0]!;
  // `L` alone: the last day of the week, Saturday.
  if (text === 'L') return { any: false, values: new Set([7]) };
  const last = /^(\w+)L$/.exec(text);
  if (last) return { any: false, values: new Set(), lastOf: day(last[1]!) };
  const nth = /^(\w+)#(\d+)$/.exec(text);
  if (nth) {
    const k = Number(nth[2]);
    if (k < 1 || k > 5) throw bad('day-of-week', `\`${text}\`: n#k needs k in 1-5`);
    return { any: false, values: new Set(), nth: { day: day(nth[1]!), k } };
  }
  if (/[L#]/i.test(text)) {
    throw bad('day-of-week', `\`${text}\`: L and # are used as L, nL or n#k, alone in the field`);
  }
  return { any: false, values: listField(text, 1, 7, 'day-of-week', bad, DAYS) };
}

/** Is `zone` an IANA time zone this runtime knows (as Scheduler's ScheduleExpressionTimezone)? */
export function isTimeZone(zone: string): boolean {
  if (!/^[A-Za-z][\w+-]*(\/[\w+-]+)*$/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function wallClock(t: number, zone: string): Wall {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(t)).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), hour: Number(parts.hour), minute: Number(parts.minute) };
}

/** The instants at which `zone`'s clocks show this wall time: none (skipped forward), one, or two (set back), earliest first. */
export function instantsOf(wall: Wall, zone: string): number[] {
  const naive = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  const offsets = new Set([-36, -12, 0, 12, 36].map((h) => offsetAt(naive + h * 3_600_000, zone)));
  return [...offsets]
    .map((offset) => naive - offset)
    .filter((t) => {
      const w = wallClock(t, zone);
      return w.year === wall.year && w.month === wall.month && w.day === wall.day && w.hour === wall.hour && w.minute === wall.minute;
    })
    .sort((a, b) => a - b);
}

/** Milliseconds `zone` is ahead of UTC at instant `t` (minute precision). */
function offsetAt(t: number, zone: string): number {
  const w = wallClock(t, zone);
  const minute = Math.floor(t / 60_000) * 60_000;
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute) - minute;
}

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
/** 1 = Sunday … 7 = Saturday, as cron counts. */
const weekday = (year: number, month: number, day: number) => new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;

function dayMatches(cron: CronExpression, year: number, month: number, day: number): boolean {
  const dom = cron.dayOfMonth;
  const dow = cron.dayOfWeek;
  const last = daysIn(year, month);
  if (!dom.any) {
    if (dom.last) return day === last;
    if (dom.lastOffset !== undefined) return day === last - dom.lastOffset;
    if (dom.nearestWeekday !== undefined) return day === nearestWeekday(year, month, dom.nearestWeekday === 'L' ? last : dom.nearestWeekday);
    return dom.values.has(day);
  }
  const wd = weekday(year, month, day);
  if (dow.lastOf !== undefined) return wd === dow.lastOf && day + 7 > last;
  if (dow.nth) return wd === dow.nth.day && Math.ceil(day / 7) === dow.nth.k;
  return dow.values.has(wd);
}

/** The weekday (Mon-Fri) nearest day `n` of the month, never crossing into another month; a day past the month's end matches nothing. */
function nearestWeekday(year: number, month: number, n: number): number {
  const last = daysIn(year, month);
  if (n > last) return -1;
  const wd = weekday(year, month, n);
  if (wd === 7) return n === 1 ? 3 : n - 1; // Saturday: Friday before, or Monday after the 1st
  if (wd === 1) return n === last ? n - 2 : n + 1; // Sunday: Monday after, or Friday before the last
  return n;
}

/**
 * The first run strictly after `after` (ms since the epoch), or undefined when there is none
 * (a cron whose years have passed). A rate schedule runs every period from `anchor`, the moment
 * Scheduler started it (its creation, or its start date): at anchor + k·period, k ≥ 1.
 */
export function nextRun(expression: ScheduleExpression, zone: string, after: number, anchor?: number): number | undefined {
  if (expression.kind === 'rate') {
    const from = anchor ?? after;
    return from + Math.max(1, Math.floor((after - from) / expression.periodMs) + 1) * expression.periodMs;
  }
  const start = wallClock(after, zone);
  const hours = [...expression.hours].sort((a, b) => a - b);
  const minutes = [...expression.minutes].sort((a, b) => a - b);
  for (const year of [...expression.years].sort((a, b) => a - b)) {
    if (year < start.year) continue;
    for (let month = 1; month <= 12; month++) {
      if (!expression.months.has(month) || (year === start.year && month < start.month)) continue;
      const firstDay = year === start.year && month === start.month ? start.day : 1;
      for (let day = firstDay; day <= daysIn(year, month); day++) {
        if (!dayMatches(expression, year, month, day)) continue;
        for (const hour of hours) {
          for (const minute of minutes) {
            // The first occurrence of a repeated local time; none for a skipped one.
            const instant = instantsOf({ year, month, day, hour, minute }, zone)[0];
            if (instant !== undefined && instant > after) return instant;
          }
        }
      }
    }
  }
  return undefined;
}

/** Every run in (from, to], in order: what the local world's Scheduler fires when its clock moves. */
export function runsBetween(expression: ScheduleExpression, zone: string, from: number, to: number, anchor?: number): number[] {
  const runs: number[] = [];
  for (let t = nextRun(expression, zone, from, anchor); t !== undefined && t <= to; t = nextRun(expression, zone, t, anchor)) runs.push(t);
  return runs;
}
