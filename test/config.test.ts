import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, parseConfig } from '../src/config/schema';

describe('configuration', () => {
  it('accepts the shipped example and fills defaults', () => {
    const config = parseConfig(parse(readFileSync('ecs-chatops.config.yaml', 'utf8')));
    expect(config.targets.web?.cluster).toBe('main');
    expect(config.slack.command).toBe('/ecs');
    expect(parseConfig({ slack: { teams: ['T1'] }, targets: { a: { region: 'us-east-1', cluster: 'c', service: 's' } } }).audit.retentionDays).toBe(400);
  });
  it('names the path and the problem of every error', () => {
    try {
      parseConfig({
        slack: { teams: ['nope'] },
        targets: {
          Web: { region: 'us-east-1', cluster: 'c', service: 's' },
          ok: { region: 'moon', cluster: '', service: 's', roleArn: 'arn:aws:iam::1:role/x', extra: 1 },
        },
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toContain('slack.teams.0: must be a Slack team id such as T0123ABCD');
      expect(problems).toContain('targets.Web (the name): must be lowercase letters, digits and dashes, starting with a letter (max 40)');
      expect(problems).toContain('targets.ok.region: must be an AWS region such as us-east-1');
      expect(problems).toContain('targets.ok.cluster: must not be empty');
      expect(problems.some((p) => p.startsWith('targets.ok.roleArn: must be an IAM role ARN'))).toBe(true);
      expect(problems.some((p) => p.startsWith('targets.ok') && p.includes('extra'))).toBe(true);
    }
  });
  it('reads names people type as own entries only, also once the build has written the configuration as JSON', async () => {
    const { embeddedConfig } = await import('../src/config/load');
    const { lookup } = await import('../src/config/records');
    const validated = parseConfig({ slack: { teams: ['T1'] }, targets: { a: { region: 'us-east-1', cluster: 'c', service: 's' } } });
    const embedded = embeddedConfig(JSON.parse(JSON.stringify(validated)));
    for (const config of [validated, embedded]) {
      expect(config.targets.constructor).toBeUndefined();
      expect(config.scripts.toString).toBeUndefined();
      expect(lookup(config.targets, '__proto__')).toBeUndefined();
      expect(lookup(config.targets, 'a')?.cluster).toBe('c');
    }
    expect(embedded).toEqual(validated);
  });
  it('fills a scale block’s defaults and bounds its maximum count; a target without one has none (SCALE_DEFAULTS apply)', () => {
    const target = (scale?: unknown) => ({ region: 'us-east-1', cluster: 'c', service: 's', ...(scale === undefined ? {} : { scale }) });
    const config = parseConfig({ slack: { teams: ['T1'] }, targets: { a: target(), b: target({ requiresApproval: false }) } });
    expect(config.targets.a!.scale).toBeUndefined();
    expect(config.targets.b!.scale).toEqual({ requiresApproval: false, maxCount: 1000 });
    expect(() => parseConfig({ slack: { teams: ['T1'] }, targets: { a: target({ maxCount: 0 }) } })).toThrow(ConfigError);
    expect(() => parseConfig({ slack: { teams: ['T1'] }, targets: { a: target({ maxCount: 2.5 }) } })).toThrow(ConfigError);
  });
  it('refuses a configuration without targets', () => {
    expect(() => parseConfig({ slack: { teams: ['T1'] }, targets: {} })).toThrow(/targets: declare at least one target/);
  });
});

describe('verify settings', () => {
  it('lets a target skip exactly the check families that verify plans from the task definition', async () => {
    const { VERIFY_FAMILIES } = await import('../src/config/schema');
    const { PLANNERS } = await import('../src/verify/planners');
    expect([...VERIFY_FAMILIES].sort()).toEqual(Object.keys(PLANNERS).sort());
  });
  it('defaults verify settings and refuses unknown families and malformed actions', () => {
    const base = { slack: { teams: ['T1'] }, targets: { a: { region: 'us-east-1', cluster: 'c', service: 's' } } };
    expect(parseConfig(base).targets.a!.verify).toEqual({ skip: [], putLogs: false, requiredPermissions: [] });
    const bad = {
      ...base,
      targets: {
        a: { ...base.targets.a, verify: { skip: [{ family: 'dns', reason: 'nope' }], requiredPermissions: [{ role: 'task', actions: ['s3 get'] }] } },
      },
    };
    expect(() => parseConfig(bad)).toThrow(/targets\.a\.verify\.skip\.0\.family/);
    expect(() => parseConfig(bad)).toThrow(/targets\.a\.verify\.requiredPermissions\.0\.actions\.0: must be an IAM action/);
  });
});

describe('jobs', () => {
  const base = { slack: { teams: ['T1'] }, targets: { web: { region: 'us-east-1', cluster: 'c', service: 's' } } };
  const job = { target: 'web', container: 'app', command: ['bin/migrate', '{version}'], args: [{ name: 'version', pattern: '[0-9]{4}' }] };

  it('fills a job’s defaults: operator permission, no overlap, no approval, ten minutes', () => {
    const config = parseConfig({ ...base, jobs: { migrate: job } });
    expect(config.jobs.migrate).toMatchObject({ permission: 'operator', allowOverlap: false, requiresApproval: false, timeoutSeconds: 600, environment: {} });
    expect(Object.getPrototypeOf(config.jobs)).toBeNull();
  });

  it('refuses an unknown target, a placeholder without its argument and an argument the command never uses', () => {
    const bad = {
      ...base,
      jobs: {
        a: { ...job, target: 'api' },
        b: { ...job, command: ['bin/migrate', '{versoin}'] },
        c: { ...job, command: ['bin/migrate'] },
      },
    };
    expect(() => parseConfig(bad)).toThrow(ConfigError);
    try {
      parseConfig(bad);
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        'jobs.a.target: no target `api` (targets: web)',
        'jobs.b.command: `{versoin}` is not a declared argument (args)',
        'jobs.b.args: `version` must appear exactly once in the command as `{version}`',
        'jobs.c.args: `version` must appear exactly once in the command as `{version}`',
      ]);
    }
  });

  it('refuses a job name people could not type, and a command given as one shell string', () => {
    expect(() => parseConfig({ ...base, jobs: { 'Migrate DB': job } })).toThrow(/jobs\.Migrate DB \(the name\)/);
    expect(() => parseConfig({ ...base, jobs: { migrate: { ...job, command: 'bin/migrate 0042' } } })).toThrow(/jobs\.migrate\.command/);
  });
});
