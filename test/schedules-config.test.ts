import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, parseConfig } from '../src/config/schema';
import { scheduleCommandText, scheduleEntry, withSchedules } from '../src/schedules/principal';
import { isAllowed } from '../src/auth/roles';
import type { AllowlistStore } from '../src/auth/allowlist';

const shipped = () => parse(readFileSync('ecs-chatops.config.yaml', 'utf8')) as Record<string, any>;
const withSchedule = (schedule: Record<string, unknown>, change: (raw: Record<string, any>) => void = () => {}) => {
  const raw = shipped();
  raw.schedules = { drill: { expression: 'cron(0 2 * * ? *)', script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', ...schedule } };
  // The shipped ticket webhook names backup.sh too: these tests are about schedules alone.
  delete raw.webhooks;
  change(raw);
  return raw;
};
const problems = (raw: unknown): string[] => {
  try {
    parseConfig(raw);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
};

describe('schedules in the configuration', () => {
  it('accepts the shipped schedule, UTC by default', () => {
    const config = parseConfig(withSchedule({}));
    expect(config.schedules.drill).toMatchObject({ timezone: 'UTC', enabled: true, args: ['nightly'] });
    expect(scheduleCommandText(config, config.schedules.drill!)).toBe('run backup.sh nightly');
    expect(parseConfig(shipped()).schedules['nightly-backup']).toMatchObject({ timezone: 'Europe/Paris', script: 'backup.sh' });
  });

  it('refuses a schedule whose script or job was removed', () => {
    expect(problems(withSchedule({}, (raw) => delete raw.scripts['backup.sh']))).toEqual([
      expect.stringMatching(/^schedules\.drill\.script: no script `backup\.sh` is declared \(scripts: restore\.sh, /),
    ]);
    expect(problems(withSchedule({ script: undefined, job: 'gone' }))).toEqual([expect.stringMatching(/^schedules\.drill\.job: no job `gone` is declared/)]);
    // `constructor` is no script, however JavaScript objects are built.
    expect(problems(withSchedule({ script: 'constructor' }))).toEqual([expect.stringMatching(/no script `constructor`/)]);
  });

  it('refuses a bad expression, a bad time zone, arguments the script does not accept, and both or neither of script and job', () => {
    expect(problems(withSchedule({ expression: 'cron(0 2 * * * *)' }))).toEqual([
      expect.stringMatching(/^schedules\.drill\.expression: .*exactly one of them must be `\?`/),
    ]);
    expect(problems(withSchedule({ expression: 'rate(1 weeks)' }))).toEqual([
      expect.stringMatching(/^schedules\.drill\.expression: .*minute\(s\), hour\(s\) or day\(s\)/),
    ]);
    expect(problems(withSchedule({ timezone: 'Europe/Atlantis' }))).toEqual([
      'schedules.drill.timezone: `Europe/Atlantis` is not an IANA time zone (such as Europe/Paris or UTC)',
    ]);
    expect(problems(withSchedule({ args: ['Not Valid!'] }))).toEqual([expect.stringMatching(/^schedules\.drill\.args: /)]);
    expect(problems(withSchedule({ args: [] }))).toEqual([expect.stringMatching(/^schedules\.drill\.args: Expected 1 argument/)]);
    expect(problems(withSchedule({ job: 'migrate' }))).toEqual(['schedules.drill: name exactly one of script and job']);
    expect(problems(withSchedule({ channel: 'ops' }))).toEqual([expect.stringMatching(/^schedules\.drill\.channel: must be a Slack channel id/)]);
    expect(problems(withSchedule({}, (raw) => (raw.schedules = { 'Bad Name': raw.schedules.drill })))).toEqual([
      expect.stringMatching(/^schedules\.Bad Name \(the name\)/),
    ]);
  });
});

describe('the schedule principal', () => {
  const config = parseConfig(shipped());

  it('is granted exactly its own script, on its target, in its channel', () => {
    const entry = scheduleEntry(config, 'T0LOCAL', 'nightly-backup')!;
    expect(entry.grants).toEqual([{ role: 'operator', services: ['manager'], scripts: ['backup.sh'], channels: ['C0OPS'] }]);
    expect(isAllowed(entry, 'run', { channelId: 'C0OPS', service: 'manager', script: 'backup.sh' }).allowed).toBe(true);
    expect(isAllowed(entry, 'run', { channelId: 'C0OPS', service: 'manager', script: 'restore.sh' }).allowed).toBe(false);
    expect(isAllowed(entry, 'run', { channelId: 'C0RANDOM', service: 'manager', script: 'backup.sh' }).allowed).toBe(false);
    expect(isAllowed(entry, 'deploy', { channelId: 'C0OPS', service: 'manager' }).allowed).toBe(false);
  });

  it('has no grant once its schedule is no longer declared, and never reads a stored entry', async () => {
    const stored: string[] = [];
    const store = { get: async (_t: string, userId: string) => (stored.push(userId), undefined) } as unknown as AllowlistStore;
    const allowlist = withSchedules(store, () => ({ ...config, schedules: {} }));
    expect(await allowlist.get('T0LOCAL', 'schedule:nightly-backup')).toBeUndefined();
    expect(await withSchedules(store, () => config).get('T0LOCAL', 'schedule:nightly-backup')).toMatchObject({ userId: 'schedule:nightly-backup' });
    expect(stored).toEqual([]);
    await allowlist.get('T0LOCAL', 'U0ALICE');
    expect(stored).toEqual(['U0ALICE']);
  });
});
