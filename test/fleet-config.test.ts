import { describe, expect, it } from 'vitest';
import { scheduleResources } from '../scripts/schedules';
import { ConfigError, parseConfig } from '../src/config/schema';
import { aliasTemplateFor } from '../src/fleet/names';
import { scheduleEntry } from '../src/schedules/principal';

/** `fleet:` of the configuration: defaults, each mistake named by its path, and the catalog's schedule it declares. */
const base = { slack: { teams: ['T0LOCAL'] }, targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } } };
const problems = (fleet: unknown, extra: Record<string, unknown> = {}) => {
  try {
    parseConfig({ ...base, ...extra, fleet });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
};

describe('fleet configuration', () => {
  it('fills in the defaults: the target role, the alias tag and rule, 200 at most per selection, every 6 hours', () => {
    const config = parseConfig({ ...base, fleet: { organizations: true, regions: ['eu-west-1'] } });
    expect(config.fleet).toMatchObject({
      roleName: 'ecs-chatops-target',
      aliasTag: 'ecs-chatops:alias',
      refreshSchedule: 'rate(6 hours)',
      organizationalUnits: [],
    });
    expect(parseConfig(base).fleet).toBeUndefined();
  });

  it('makes the default naming rule unique for the regions configured, and refuses a rule without {region} over several regions', () => {
    const one = parseConfig({ ...base, fleet: { organizations: true, regions: ['eu-west-1'] } }).fleet!;
    const two = parseConfig({ ...base, fleet: { organizations: true, regions: ['eu-west-1', 'us-east-1'] } }).fleet!;
    expect([one.aliasTemplate, two.aliasTemplate]).toEqual([undefined, undefined]);
    // The account id, not its name: names repeat and change (test/fleet-discovery.test.ts shows both).
    expect([aliasTemplateFor(one), aliasTemplateFor(two)]).toEqual(['{service}-{accountId}', '{service}-{accountId}-{region}']);
    expect(aliasTemplateFor({ ...two, aliasTemplate: '{region}-{service}' })).toBe('{region}-{service}');
    expect(problems({ organizations: true, regions: ['eu-west-1', 'us-east-1'], aliasTemplate: '{service}-{account}' })).toEqual([
      'fleet.aliasTemplate: must contain {region} when several regions are configured (a service of the same name in two regions would get one alias)',
    ]);
    expect(problems({ organizations: true, regions: ['eu-west-1'], aliasTemplate: '{service}-{account}' })).toEqual([]);
  });

  it('names each mistake by its path', () => {
    expect(problems({ regions: ['eu-west-1'] })).toEqual(['fleet.accounts: set organizations: true, or list the accounts to look in']);
    expect(problems({ organizations: true, regions: [] })).toEqual(['fleet.regions: name at least one region']);
    expect(problems({ organizations: true, regions: ['eu-west-1'], aliasTemplate: '{team}-{service}' })[0]).toMatch(
      /^fleet.aliasTemplate: use only the placeholders/,
    );
    expect(problems({ organizations: true, regions: ['eu-west-1'], aliasTemplate: '{account}' })).toEqual(['fleet.aliasTemplate: must contain {service}']);
    expect(problems({ organizations: true, regions: ['eu-west-1'], roleName: 'admin' })[0]).toMatch(/^fleet.roleName: must start with ecs-chatops-target/);
    expect(problems({ organizations: true, regions: ['eu-west-1'], organizationalUnits: ['r-abcd'] })[0]).toMatch(
      /^fleet.organizationalUnits.0: must be an organizational unit id/,
    );
    expect(problems({ organizations: true, regions: ['eu-west-1'], refreshChannel: 'C0OPS', refreshSchedule: 'rate(0 hours)' })[0]).toMatch(
      /^fleet.refreshSchedule: /,
    );
    expect(
      problems(
        { organizations: true, regions: ['eu-west-1'], refreshChannel: 'C0OPS' },
        { scripts: {}, schedules: { 'catalog-refresh': { expression: 'rate(1 hour)', job: 'x', channel: 'C0OPS' } } },
      )[0],
    ).toMatch(/^schedules.catalog-refresh: the name is the catalog's scheduled refresh/);
  });

  it("declares the catalog's schedule only with a refresh channel, and gives it admin of every service in that channel only", () => {
    const without = parseConfig({ ...base, fleet: { organizations: true, regions: ['eu-west-1'] } });
    expect(scheduleResources(without).join('\n')).not.toContain('catalog-refresh');
    expect(scheduleEntry(without, 'T0LOCAL', 'catalog-refresh')).toBeUndefined();
    const withChannel = parseConfig({
      ...base,
      fleet: { organizations: true, regions: ['eu-west-1'], refreshChannel: 'C0OPS', refreshSchedule: 'cron(0 */4 * * ? *)' },
    });
    const lines = scheduleResources(withChannel).join('\n');
    expect(lines).toContain('ScheduleCatalogRefresh:');
    expect(lines).toContain("ScheduleExpression: 'cron(0 */4 * * ? *)'");
    expect(lines).toContain(`Input: '{"schedule":"catalog-refresh","scheduledTime":"<aws.scheduler.scheduled-time>"}'`);
    expect(scheduleEntry(withChannel, 'T0LOCAL', 'catalog-refresh')?.grants).toEqual([{ role: 'admin', services: ['*'], channels: ['C0OPS'] }]);
  });
});
