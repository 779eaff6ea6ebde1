import { describe, expect, it } from 'vitest';
import type { AllowlistEntry } from '../src/auth/roles';
import { everything, parseRequest } from '../src/commands/registry';
import { services, SERVICES_PAGE_SIZE } from '../src/commands/services';
import type { AckContext } from '../src/commands/types';
import { parseConfig } from '../src/config/schema';
import { servicePin } from '../src/fleet/pin';
import { matchesService, summariseLabels } from '../src/fleet/selector';
import type { CatalogReader, FleetService } from '../src/fleet/types';

/** `/ecs services <selector>` over a catalog holding discovered services (their tags are outside text). */
const config = parseConfig({ slack: { teams: ['T1'] }, targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } } });

const fleet: FleetService[] = Array.from({ length: SERVICES_PAGE_SIZE + 5 }, (_, i) => ({
  alias: `svc-${String(i).padStart(2, '0')}`,
  accountId: `1000000000${String(i % 10).padStart(2, '0')}`,
  region: 'eu-west-1',
  cluster: 'fleet',
  service: `svc-${i}`,
  serviceArn: `arn:aws:ecs:eu-west-1:100000000000:service/fleet/svc-${i}`,
  labels: { env: i === 0 ? '<!here>' : 'prod', team: i % 2 ? 'payments' : 'search' },
  source: 'discovered',
}));
const catalog: CatalogReader = {
  get: async (alias) => fleet.find((s) => s.alias === alias),
  getMany: async (aliases) => fleet.filter((s) => aliases.includes(s.alias)),
  select: async (selector) => fleet.filter((s) => matchesService(selector, s)),
  labels: async () => summariseLabels(fleet),
};
const pinsOf = (aliases: string[]) => {
  const bound = aliases.flatMap((a) => {
    const s = fleet.find((f) => f.alias === a);
    return s ? [[a, servicePin(s)] as const] : [];
  });
  return bound.length ? { pins: Object.fromEntries(bound) } : {};
};
const entry = (services: string[], selectors?: string[]): AllowlistEntry => ({
  teamId: 'T1',
  userId: 'U1',
  // Aliases of discovered services bound to them, as `/ecs allow` binds them (unbound, they would cover none).
  grants: [{ role: 'viewer', services, ...(selectors ? { selectors } : {}), ...pinsOf(services) }],
  addedBy: 'U0',
  updatedAt: '',
});
const ask = async (text: string, who: AllowlistEntry) => {
  const { args } = parseRequest(text, config, everything(config));
  const ctx = { config, entry: who, catalog, invocation: { teamId: 'T1', userId: 'U1', channelId: 'C1', command: '/ecs', text } } as unknown as AckContext;
  return (await services(args as never, ctx)).text;
};

describe('/ecs services <selector>', () => {
  it('pages a long selection, saying how to get the next page', async () => {
    const first = (await ask('services *', entry(['*']))).split('\n');
    expect(first[0]).toBe(`*${fleet.length} of your services here match \`*\`*`);
    expect(first).toHaveLength(SERVICES_PAGE_SIZE + 2);
    expect(first.at(-1)).toBe('Page 1 of 2: `/ecs services * --page 2` for the next.');
    const second = (await ask('services * --page 2', entry(['*']))).split('\n');
    expect(second.slice(1)).toHaveLength(5);
    expect(second[1]).toMatch(/^• `svc-40` — account 100000000000, eu-west-1, fleet\/svc-40 · env=prod, team=search$/);
    expect(await ask('services * --page 3', entry(['*']))).toBe(`\`*\` matches ${fleet.length} of your services here: 2 pages, no page 3.`);
  });
  it('escapes labels, which come from tags', async () => {
    const text = await ask('services team=search', entry(['*']));
    expect(text).toContain('• `svc-00` — account 100000000000, eu-west-1, fleet/svc-0 · env=&lt;!here&gt;, team=search');
    expect(text).not.toContain('<!here>');
  });
  it('lists only the services the person holds a role on, by alias or selector', async () => {
    const lines = (await ask('services env=prod', entry(['svc-01'], ['team=search,account=100000000002']))).split('\n');
    expect(lines[0]).toBe('*6 of your services here match `env=prod`*');
    expect(lines[1]).toBe('• `svc-01` — account 100000000001, eu-west-1, fleet/svc-1 · env=prod, team=payments');
    expect(lines.slice(1).map((l) => /`(svc-\d+)`/.exec(l)![1])).toEqual(['svc-01', 'svc-02', 'svc-12', 'svc-22', 'svc-32', 'svc-42']);
    expect(await ask('services team=payments', entry(['svc-02']))).toContain('No service of yours here matches `team=payments`');
  });
  it('refuses a page that is not a number, or a second selector', () => {
    expect(() => parseRequest('services env=prod --page 0', config, everything(config))).toThrow('`--page` is a page number');
    expect(() => parseRequest('services env=prod team=a', config, everything(config))).toThrow('Unexpected `team=a`');
  });
});

describe('/ecs services without a selector', () => {
  it('lists every service of theirs from the catalog, discovered ones included, a page at a time', async () => {
    const first = (await ask('services', entry(['*']))).split('\n');
    expect(first[0]).toBe('*Your services here*');
    expect(first).toHaveLength(SERVICES_PAGE_SIZE + 2);
    expect(first[1]).toBe('• `svc-00` — account 100000000000, eu-west-1, fleet/svc-0 · env=&lt;!here&gt;, team=search');
    expect(first.at(-1)).toBe('Page 1 of 2: `/ecs services --page 2` for the next.');
    expect((await ask('services --page 2', entry(['*']))).split('\n').slice(1)).toHaveLength(5);
    expect(await ask('services --page 3', entry(['*']))).toBe(`You hold a role on ${fleet.length} of your services here: 2 pages, no page 3.`);
  });
  it('only those the person may see; none: says so', async () => {
    expect((await ask('services', entry(['svc-03'], ['team=payments,account=100000000005']))).split('\n')).toEqual([
      '*Your services here*',
      '• `svc-03` — account 100000000003, eu-west-1, fleet/svc-3 · env=prod, team=payments',
      '• `svc-05` — account 100000000005, eu-west-1, fleet/svc-5 · env=prod, team=payments',
      '• `svc-15` — account 100000000005, eu-west-1, fleet/svc-15 · env=prod, team=payments',
      '• `svc-25` — account 100000000005, eu-west-1, fleet/svc-25 · env=prod, team=payments',
      '• `svc-35` — account 100000000005, eu-west-1, fleet/svc-35 · env=prod, team=payments',
    ]);
    expect(await ask('services', entry(['nothing-here']))).toBe('You hold no role on any service in this channel.');
  });
});
