import { describe, expect, it } from 'vitest';
import { addGrant, isAllowed, type AllowlistEntry, type Grant } from '../src/auth/roles';

const entry = (grants: Grant[]): AllowlistEntry => ({ teamId: 'T1', userId: 'U1', grants, addedBy: 'U0', updatedAt: '' });

describe('isAllowed', () => {
  it('denies by default: no entry, or an empty one', () => {
    expect(isAllowed(undefined, 'read', { channelId: 'C1', service: 'web' })).toEqual({ allowed: false, reason: 'you are not on the allowlist' });
    expect(isAllowed(entry([]), 'read', { channelId: 'C1' }).allowed).toBe(false);
  });
  it('grants what the role includes, on the services it names', () => {
    const e = entry([{ role: 'operator', services: ['web'] }]);
    expect(isAllowed(e, 'read', { channelId: 'C1', service: 'web' }).allowed).toBe(true);
    expect(isAllowed(e, 'run', { channelId: 'C1', service: 'web', script: 'backup.sh' }).allowed).toBe(true);
    expect(isAllowed(e, 'read', { channelId: 'C1', service: 'api' })).toEqual({ allowed: false, reason: 'your `viewer` role does not cover service `api`' });
    expect(isAllowed(e, 'deploy', { channelId: 'C1', service: 'web' })).toEqual({ allowed: false, reason: 'you need the `deployer` role for service `web`' });
  });
  it('scopes scripts and channels', () => {
    const e = entry([{ role: 'operator', services: ['*'], scripts: ['backup.sh'], channels: ['C1'] }]);
    expect(isAllowed(e, 'run', { channelId: 'C1', service: 'web', script: 'backup.sh' }).allowed).toBe(true);
    expect(isAllowed(e, 'run', { channelId: 'C1', service: 'web', script: 'restore.sh' }).allowed).toBe(false);
    expect(isAllowed(e, 'run', { channelId: 'C2', service: 'web', script: 'backup.sh' })).toEqual({
      allowed: false,
      reason: 'your `operator` role for service `web`, script `backup.sh` is not valid in this channel',
    });
  });
  it('admin may do everything', () => {
    const e = entry([{ role: 'admin', services: ['*'] }]);
    for (const p of ['read', 'run', 'deploy', 'approve', 'admin'] as const) expect(isAllowed(e, p, { channelId: 'C9', service: 'x', script: 'y' }).allowed).toBe(true);
  });
});

describe('addGrant', () => {
  it('merges services of the same role and keeps other roles apart', () => {
    let grants = addGrant([], { role: 'viewer', services: ['web'] });
    grants = addGrant(grants, { role: 'viewer', services: ['api'] });
    grants = addGrant(grants, { role: 'deployer', services: ['web'] });
    expect(grants).toEqual([{ role: 'viewer', services: ['api', 'web'] }, { role: 'deployer', services: ['web'] }]);
    expect(addGrant(grants, { role: 'viewer', services: ['*'] })[0]).toEqual({ role: 'viewer', services: ['*'] });
  });
});
