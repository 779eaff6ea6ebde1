import { describe, expect, it } from 'vitest';
import { useLocalDynamo } from './support/local-dynamo';
import { main } from '../scripts/allowlist';
import { dynamoAllowlist } from '../src/auth/allowlist';

useLocalDynamo();

describe('allowlist CLI against DynamoDB', () => {
  it('bootstraps an admin, adds grants, lists and removes', async () => {
    expect(await main(['add', '--team', 'T1', '--user', 'U0ADMIN', '--role', 'admin'])).toBe('U0ADMIN: *admin* on all services');
    await main(['add', '--team', 'T1', '--user', 'U0OPS', '--role', 'operator', '--services', 'web', '--scripts', 'backup.sh']);
    await main(['add', '--team', 'T1', '--user', 'U0OPS', '--role', 'operator', '--services', 'manager', '--scripts', 'backup.sh']);
    // Grants are stored as given, never merged; the same grant again changes nothing.
    expect(await dynamoAllowlist.get('T1', 'U0OPS')).toMatchObject({
      grants: [
        { role: 'operator', services: ['web'], scripts: ['backup.sh'] },
        { role: 'operator', services: ['manager'], scripts: ['backup.sh'] },
      ],
      addedBy: 'cli',
    });
    expect(await main(['add', '--team', 'T1', '--user', 'U0OPS', '--role', 'operator', '--services', 'manager', '--scripts', 'backup.sh'])).toContain(
      '(already had that grant)',
    );
    expect(await main(['list', '--team', 'T1'])).toBe(
      'U0ADMIN: *admin* on all services\nU0OPS: *operator* on `web`, scripts `backup.sh`; *operator* on `manager`, scripts `backup.sh`',
    );
    expect(await main(['remove', '--team', 'T1', '--user', 'U0OPS'])).toBe('removed U0OPS');
    expect(await main(['remove', '--team', 'T1', '--user', 'U0OPS'])).toBe('U0OPS was not on the allowlist');
    expect(await main(['list', '--team', 'T2'])).toBe('(empty)');
  });
  it('grants by alias only the targets the configuration declares: a discovered service is granted from Slack, bound to it', async () => {
    await expect(main(['add', '--team', 'T4', '--user', 'U0OPS', '--role', 'viewer', '--services', 'web,pay-api-123456789012'])).rejects.toThrow(
      '`pay-api-123456789012` is not a target declared in the configuration (ecs-chatops.config.yaml). A service discovered into the fleet is granted from Slack with `/ecs allow`',
    );
    expect(await dynamoAllowlist.get('T4', 'U0OPS')).toBeUndefined();
    expect(await main(['add', '--team', 'T4', '--user', 'U0OPS', '--role', 'viewer', '--services', 'web'])).toBe('U0OPS: *viewer* on `web`');
  });
  it('grants selectors, in one spelling, and refuses a bad one', async () => {
    expect(
      await main([
        'add',
        '--team',
        'T3',
        '--user',
        'U0DANA',
        '--role',
        'viewer',
        '--selector',
        'team=payments,env=staging|prod',
        '--selector',
        'region=eu-west-1',
      ]),
    ).toBe('U0DANA: *viewer* on services matching `env=prod|staging,team=payments`, services matching `region=eu-west-1`');
    expect((await dynamoAllowlist.get('T3', 'U0DANA'))?.grants).toEqual([
      { role: 'viewer', services: [], selectors: ['env=prod|staging,team=payments', 'region=eu-west-1'] },
    ]);
    await expect(main(['add', '--team', 'T3', '--user', 'U0DANA', '--role', 'viewer', '--selector', 'env='])).rejects.toThrow(
      'the key `env` has an empty value',
    );
  });
  it('refuses bad input with the usage', async () => {
    await expect(main(['add', '--team', 'T1', '--user', 'U1', '--role', 'root'])).rejects.toThrow(/--role must be one of viewer, operator/);
    await expect(main(['add', '--team', 'nope', '--user', 'U1'])).rejects.toThrow(/--team must be a Slack team id/);
    await expect(main(['frobnicate', '--team', 'T1', '--user', 'U1'])).rejects.toThrow(/usage:/);
  });
});
