import { describe, expect, it } from 'vitest';
import { undeclaredAliasOf, undeclaredServiceOf } from '../src/commands/registry';
import { fleetSchema } from '../src/config/fleet-schema';
import { parseConfig } from '../src/config/schema';

/** Which word of a command the ingress reads from the fleet's catalog (one GetItem), and which service the worker reads again. */
const declared = parseConfig({ slack: { teams: ['T1'] }, targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } } });
const config = { ...declared, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) };

describe('undeclaredAliasOf', () => {
  it('the first word naming a service, unless declared, a selector or a flag', () => {
    expect(undeclaredAliasOf('status api-123', config)).toBe('api-123');
    expect(undeclaredAliasOf('status web', config)).toBeUndefined();
    expect(undeclaredAliasOf('status env=prod', config)).toBeUndefined();
    expect(undeclaredAliasOf('status api-123', declared)).toBeUndefined();
  });
  it('allow: the first undeclared service of the grant, its subject, role and flag values skipped', () => {
    expect(undeclaredAliasOf('allow <@U1> viewer pay-api-123', config)).toBe('pay-api-123');
    expect(undeclaredAliasOf('allow <@U1> viewer web env=prod pay-api-123 other-1', config)).toBe('pay-api-123');
    expect(undeclaredAliasOf('allow <@U1> operator web --scripts backup.sh', config)).toBeUndefined();
    expect(undeclaredAliasOf('allow <@U1> operator --channels C1 web', config)).toBeUndefined();
    expect(undeclaredAliasOf('allow <@U1> viewer', config)).toBeUndefined();
    expect(undeclaredAliasOf('allow <@U1> viewer *', config)).toBeUndefined();
    expect(undeclaredAliasOf('deny <@U1>', config)).toBeUndefined();
  });
});

describe('undeclaredServiceOf', () => {
  it('a target or a granted service that is not declared', () => {
    expect(undeclaredServiceOf({ target: 'api-123' }, config)).toBe('api-123');
    expect(undeclaredServiceOf({ target: 'web' }, config)).toBeUndefined();
    expect(undeclaredServiceOf({ grant: { role: 'viewer', services: ['web', 'api-123'] } }, config)).toBe('api-123');
    expect(undeclaredServiceOf({ grant: { role: 'viewer', services: ['*'] } }, config)).toBeUndefined();
    expect(undeclaredServiceOf({ grant: { role: 'viewer', services: [], selectors: ['env=prod'] } }, config)).toBeUndefined();
    expect(undeclaredServiceOf({ subject: 'U1' }, config)).toBeUndefined();
  });
});
