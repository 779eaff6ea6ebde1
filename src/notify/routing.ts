/**
 * Which target an event is about, and whether (and where) it is told: the configuration's
 * `notifications` defaults, overridden per target by `targets.<alias>.notify`. Deny by default:
 * an event of a service no target declares, or with no channel configured, is dropped and counted.
 */
import type { Config, NoticeKind, QuietHours, Severity, Target } from '../config/schema';
import { SEVERITIES } from '../config/notify-levels';
import { kindOf, severityOf, type Notice, type ServiceRef } from './events';

export interface Route {
  target: string;
  channel: string;
  minSeverity: Severity;
  kinds: readonly NoticeKind[];
  quietHours?: QuietHours;
  incidentWindowMinutes: number;
}

export type Verdict =
  | { tell: true; route: Route; severity: Severity }
  | {
      tell: false;
      /** Counted under this name (the notifier's metrics and log). */
      why: 'unknown-service' | 'not-configured' | 'kind-off' | 'below-severity' | 'quiet-hours' | 'no-news';
      target?: string;
    };

const ALL_KINDS = ['deployments', 'tasks', 'service', 'alarms'] as const;

/** The account a target's services live in: its role's account, or the bot's own. */
const accountOf = (target: Target, botAccount: string | undefined): string | undefined =>
  /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(target.roleArn ?? '')?.[1] ?? botAccount;

const sameService = (target: Target, where: ServiceRef, botAccount: string | undefined): boolean => {
  const account = accountOf(target, botAccount);
  return target.region === where.region && target.cluster === where.cluster && target.service === where.service && (!account || account === where.account);
};

/** The target (alias) an event is about; undefined for a service or alarm the configuration does not declare. */
export function targetOf(config: Config, notice: Notice, botAccount: string | undefined): string | undefined {
  const entries = Object.entries(config.targets);
  if (notice.kind === 'alarm') {
    return entries.find(
      ([, t]) =>
        (t.notify?.alarms ?? []).includes(notice.alarmName) &&
        t.region === notice.region &&
        (!accountOf(t, botAccount) || accountOf(t, botAccount) === notice.account),
    )?.[0];
  }
  const where = notice.kind === 'unknown' ? notice.where : notice.where;
  if (!where) return undefined;
  // Two aliases of one service (a target and its manager view): the first declared speaks for it.
  return entries.find(([, t]) => sameService(t, where, botAccount))?.[0];
}

/** A target's notification settings: its own over the defaults; undefined when it has no channel. */
export function routeOf(config: Config, alias: string): Route | undefined {
  const defaults = config.notifications;
  const own = config.targets[alias]?.notify;
  const channel = own?.channel ?? defaults?.channel;
  if (!channel) return undefined;
  const quiet = own?.quietHours === false ? undefined : (own?.quietHours ?? (defaults?.quietHours || undefined));
  return {
    target: alias,
    channel,
    minSeverity: own?.minSeverity ?? defaults?.minSeverity ?? 'warning',
    kinds: own?.kinds ?? defaults?.kinds ?? ALL_KINDS,
    ...(quiet ? { quietHours: quiet } : {}),
    incidentWindowMinutes: defaults?.incidentWindowMinutes ?? 15,
  };
}

const rank = (severity: Severity): number => SEVERITIES.indexOf(severity);

/** Minutes since midnight at `now` in `timeZone`. */
function minutesIn(timeZone: string, now: number): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(new Date(now));
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return part('hour') * 60 + part('minute');
}

const toMinutes = (time: string): number => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

/** Inside `start`–`end` (end excluded); a range across midnight (22:00–07:00) wraps. */
export function inQuietHours(quiet: QuietHours, now: number): boolean {
  const at = minutesIn(quiet.timeZone, now);
  const start = toMinutes(quiet.start);
  const end = toMinutes(quiet.end);
  return start <= end ? at >= start && at < end : at >= start || at < end;
}

/**
 * Whether a notice is told, and where. `ongoing`: it belongs to an incident already posted (a
 * later stop, the recovery): those are always told, so a thread never stops halfway.
 */
export function decide(config: Config, notice: Notice, options: { botAccount: string | undefined; now: number; ongoing?: boolean }): Verdict {
  const target = targetOf(config, notice, options.botAccount);
  if (!target) return { tell: false, why: 'unknown-service' };
  const route = routeOf(config, target);
  if (!route) return { tell: false, why: 'not-configured', target };
  const kind = kindOf(notice);
  const severity = severityOf(notice);
  if (!severity) return { tell: false, why: 'no-news', target };
  if (options.ongoing) return { tell: true, route, severity };
  if (kind && !route.kinds.includes(kind)) return { tell: false, why: 'kind-off', target };
  if (rank(severity) < rank(route.minSeverity)) return { tell: false, why: 'below-severity', target };
  if (route.quietHours && inQuietHours(route.quietHours, options.now) && rank(severity) < rank(route.quietHours.minSeverity)) {
    return { tell: false, why: 'quiet-hours', target };
  }
  return { tell: true, route, severity };
}
