import { describe, expect, it } from 'vitest';
import { parseConfig, ConfigError } from '../src/config/schema';
import { readEvent } from '../src/notify/events';
import { decide, inQuietHours, routeOf } from '../src/notify/routing';

const BOT_ACCOUNT = '111111111111';
const config = (extra: Record<string, unknown> = {}, webNotify?: Record<string, unknown>) =>
  parseConfig({
    slack: { teams: ['T0LOCAL'] },
    targets: {
      web: { region: 'us-east-1', cluster: 'main', service: 'web', ...(webNotify ? { notify: webNotify } : {}) },
      api: { region: 'us-east-1', cluster: 'main', service: 'api', roleArn: 'arn:aws:iam::222222222222:role/ecs-chatops-target' },
    },
    ...extra,
  });

const stop = (account: string, service: string, overrides: Record<string, unknown> = {}) =>
  readEvent({
    id: `e-${service}`,
    source: 'aws.ecs',
    'detail-type': 'ECS Task State Change',
    account,
    region: 'us-east-1',
    time: '2026-12-05T03:00:00Z',
    resources: [],
    detail: {
      clusterArn: `arn:aws:ecs:us-east-1:${account}:cluster/main`,
      taskArn: `arn:aws:ecs:us-east-1:${account}:task/main/0123456789abcdef0123456789abcdef`,
      group: `service:${service}`,
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      containers: [{ name: 'app', exitCode: 1 }],
      ...overrides,
    },
  });
const alarm = (name: string, state = 'ALARM') =>
  readEvent({
    id: 'a1',
    source: 'aws.cloudwatch',
    'detail-type': 'CloudWatch Alarm State Change',
    account: BOT_ACCOUNT,
    region: 'us-east-1',
    resources: [],
    detail: { alarmName: name, state: { value: state } },
  });

const NOW = Date.parse('2026-12-05T03:00:00Z');

describe('which target an event is about', () => {
  const notifications = { notifications: { channel: 'C0OPS' } };

  it('a crash of web in the bot’s own account goes to the default channel', () => {
    expect(decide(config(notifications), stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: NOW })).toMatchObject({
      tell: true,
      route: { target: 'web', channel: 'C0OPS' },
      severity: 'warning',
    });
  });

  it('a target with a role is matched in its role’s account only', () => {
    expect(decide(config(notifications), stop('222222222222', 'api'), { botAccount: BOT_ACCOUNT, now: NOW })).toMatchObject({
      tell: true,
      route: { target: 'api' },
    });
    expect(decide(config(notifications), stop(BOT_ACCOUNT, 'api'), { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({ tell: false, why: 'unknown-service' });
    // Same names in another account: not ours.
    expect(decide(config(notifications), stop('333333333333', 'web'), { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({ tell: false, why: 'unknown-service' });
  });

  it('a service no target declares is dropped, never posted', () => {
    expect(decide(config(notifications), stop(BOT_ACCOUNT, 'payments'), { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({
      tell: false,
      why: 'unknown-service',
    });
  });

  it('without a notifications section nothing is told', () => {
    expect(decide(config(), stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({ tell: false, why: 'not-configured', target: 'web' });
  });

  it('an alarm belongs to the target that names it', () => {
    const c = config(notifications, { alarms: ['web-5xx'] });
    expect(decide(c, alarm('web-5xx'), { botAccount: BOT_ACCOUNT, now: NOW })).toMatchObject({ tell: true, route: { target: 'web' }, severity: 'critical' });
    expect(decide(c, alarm('someone-elses'), { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({ tell: false, why: 'unknown-service' });
  });
});

describe('what is told', () => {
  it('a target’s own channel, kinds and severity override the defaults', () => {
    const c = config({ notifications: { channel: 'C0OPS', minSeverity: 'critical' } }, { channel: 'C0WEB', minSeverity: 'warning', kinds: ['tasks'] });
    expect(routeOf(c, 'web')).toMatchObject({ channel: 'C0WEB', minSeverity: 'warning', kinds: ['tasks'] });
    expect(decide(c, stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: NOW })).toMatchObject({ tell: true, route: { channel: 'C0WEB' } });
    expect(decide(c, alarm('x'), { botAccount: BOT_ACCOUNT, now: NOW })).toMatchObject({ tell: false });
    // api keeps the defaults: a crash (warning) is below critical.
    expect(decide(c, stop('222222222222', 'api'), { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({ tell: false, why: 'below-severity', target: 'api' });
  });

  it('a kind turned off is not told; what belongs to an open incident always is', () => {
    const c = config({ notifications: { channel: 'C0OPS', kinds: ['alarms'] } });
    expect(decide(c, stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({ tell: false, why: 'kind-off', target: 'web' });
    expect(decide(c, stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: NOW, ongoing: true })).toMatchObject({ tell: true });
  });

  it('quiet hours hold back what is below their severity, across midnight, in their time zone', () => {
    const quiet = { start: '22:00', end: '07:00', timeZone: 'Asia/Tokyo', minSeverity: 'critical' };
    const c = config({ notifications: { channel: 'C0OPS', quietHours: quiet } });
    // 03:00 UTC is 12:00 in Tokyo: not quiet.
    expect(decide(c, stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: NOW })).toMatchObject({ tell: true });
    // 15:00 UTC is 00:00 in Tokyo: quiet; a crash (warning) waits, a failed deployment (critical) does not.
    const night = Date.parse('2026-12-05T15:00:00Z');
    expect(decide(c, stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: night })).toEqual({ tell: false, why: 'quiet-hours', target: 'web' });
    const failed = readEvent({
      id: 'd',
      source: 'aws.ecs',
      'detail-type': 'ECS Deployment State Change',
      account: BOT_ACCOUNT,
      region: 'us-east-1',
      resources: [`arn:aws:ecs:us-east-1:${BOT_ACCOUNT}:service/main/web`],
      detail: { eventType: 'ERROR', eventName: 'SERVICE_DEPLOYMENT_FAILED', deploymentId: 'ecs-svc/1' },
    });
    expect(decide(c, failed, { botAccount: BOT_ACCOUNT, now: night })).toMatchObject({ tell: true, severity: 'critical' });
    // A target may turn its quiet hours off.
    const loud = config({ notifications: { channel: 'C0OPS', quietHours: quiet } }, { quietHours: false });
    expect(decide(loud, stop(BOT_ACCOUNT, 'web'), { botAccount: BOT_ACCOUNT, now: night })).toMatchObject({ tell: true });
  });

  it('inQuietHours: a same-day range excludes its end', () => {
    const q = { start: '09:00', end: '17:00', timeZone: 'UTC', minSeverity: 'critical' as const };
    expect(inQuietHours(q, Date.parse('2026-12-05T09:00:00Z'))).toBe(true);
    expect(inQuietHours(q, Date.parse('2026-12-05T17:00:00Z'))).toBe(false);
  });

  it('a scale-in stop is no news', () => {
    const c = config({ notifications: { channel: 'C0OPS' } });
    const scaleIn = stop(BOT_ACCOUNT, 'web', {
      stopCode: 'ServiceSchedulerInitiated',
      stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/1)',
      containers: [{ name: 'app', exitCode: 143 }],
    });
    expect(decide(c, scaleIn, { botAccount: BOT_ACCOUNT, now: NOW })).toEqual({ tell: false, why: 'no-news', target: 'web' });
  });
});

describe('the configuration says what is wrong', () => {
  it('a bad channel, time or time zone is named by its path', () => {
    expect(() => config({ notifications: { channel: '#ops' } })).toThrow(/notifications\.channel: must be a Slack channel id/);
    expect(() => config({ notifications: { channel: 'C0OPS', quietHours: { start: '25:00', end: '07:00' } } })).toThrow(
      /quietHours\.start: must be a time of day/,
    );
    expect(() => config({ notifications: { channel: 'C0OPS', quietHours: { start: '22:00', end: '07:00', timeZone: 'Mars/Olympus' } } })).toThrow(
      /must be an IANA time zone/,
    );
  });

  it('a target that asks for notifications needs a channel somewhere', () => {
    expect(() => config({}, { alarms: ['web-5xx'] })).toThrow(ConfigError);
    expect(() => config({}, { alarms: ['web-5xx'] })).toThrow(/targets\.web\.notify\.channel: no channel to tell/);
    expect(() => config({}, { channel: 'C0WEB' })).not.toThrow();
  });
});
