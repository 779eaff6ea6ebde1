import { describe, expect, it } from 'vitest';
import { declaredOver } from '../src/fleet/fleet-catalog';
import { matchesService } from '../src/fleet/selector';
import type { CatalogReader, FleetService } from '../src/fleet/types';
import { fleetService } from './support/fleet';

const svc = (alias: string, source: FleetService['source'], labels: Record<string, string>) =>
  fleetService(alias, '111111111111', { region: 'us-east-1', source, labels });
const reader = (services: FleetService[]): CatalogReader => ({
  get: async (alias) => services.find((s) => s.alias === alias),
  getMany: async (aliases) => services.filter((s) => aliases.includes(s.alias)),
  select: async (selector) => services.filter((s) => matchesService(selector, s)),
  labels: async () => ({}),
});

describe('the declared targets over the catalog', () => {
  const discovered = reader([
    svc('api', 'discovered', { env: 'prod' }),
    svc('web', 'discovered', { env: 'prod' }),
    svc('db', 'discovered', { env: 'staging' }),
  ]);
  const declared = reader([svc('web', 'declared', { env: 'staging' }), svc('tool', 'declared', { env: 'prod' })]);
  const both = declaredOver(discovered, declared);

  it('selects the declared service for an alias both have, and only if it matches itself', async () => {
    expect((await both.select({ kind: 'labels', terms: [{ key: 'env', values: ['prod'] }] })).map((s) => `${s.alias}:${s.source}`)).toEqual([
      'api:discovered',
      'tool:declared',
    ]);
    expect((await both.select({ kind: 'labels', terms: [{ key: 'env', values: ['staging'] }] })).map((s) => `${s.alias}:${s.source}`)).toEqual([
      'db:discovered',
      'web:declared',
    ]);
  });

  it('resolves an alias to the declared one first, and counts labels once per alias', async () => {
    expect((await both.get('web'))?.source).toBe('declared');
    expect((await both.get('api'))?.source).toBe('discovered');
    expect((await both.labels()).env).toEqual({ prod: 2, staging: 2 });
  });

  it('reads many aliases at once: the declared one first, the others from the catalog, unknown ones skipped, by alias', async () => {
    const asked: string[][] = [];
    const getMany = async (aliases: readonly string[]) => {
      asked.push([...aliases]);
      return discovered.getMany(aliases);
    };
    const counted = declaredOver({ ...discovered, getMany }, declared);
    expect((await counted.getMany(['web', 'db', 'nosuch', 'api', 'tool'])).map((s) => `${s.alias}:${s.source}`)).toEqual([
      'api:discovered',
      'db:discovered',
      'tool:declared',
      'web:declared',
    ]);
    // The declared aliases are not asked of the catalog; none left, no read at all.
    expect(asked).toEqual([['db', 'nosuch', 'api']]);
    await counted.getMany(['web', 'tool']);
    expect(asked).toHaveLength(1);
  });

  it('drops a discovered service that a target declares under another alias, so its tags never select it', async () => {
    const tagged = { ...svc('api-111111111111', 'discovered', { env: 'prod' }), serviceArn: 'arn:aws-cn:ecs:cn-north-1:111111111111:service/main/api' };
    const mine = { ...svc('api', 'declared', { env: 'staging' }), serviceArn: tagged.serviceArn };
    const overlay = declaredOver(reader([tagged]), reader([mine]));
    expect((await overlay.select({ kind: 'labels', terms: [{ key: 'env', values: ['prod'] }] })).map((s) => s.alias)).toEqual([]);
    expect((await overlay.select({ kind: 'all' })).map((s) => `${s.alias}:${s.source}`)).toEqual(['api:declared']);
  });
});

describe('a declared target outside the aws partition', () => {
  it('gets the ARN AWS gives its service (China, GovCloud), so discovery recognises it', async () => {
    const { declaredService } = await import('../src/fleet/memory-catalog');
    const target = { region: 'cn-north-1', cluster: 'main', service: 'web', roleArn: 'arn:aws-cn:iam::111111111111:role/ecs-chatops-target' };
    expect(declaredService('web', target as never).serviceArn).toBe('arn:aws-cn:ecs:cn-north-1:111111111111:service/main/web');
    expect(declaredService('gov', { ...target, region: 'us-gov-west-1' } as never).serviceArn).toBe(
      'arn:aws-us-gov:ecs:us-gov-west-1:111111111111:service/main/web',
    );
  });
});
