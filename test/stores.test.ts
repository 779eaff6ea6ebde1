import { describe, expect, it, vi } from 'vitest';
import { useLocalDynamo } from './support/local-dynamo';
import { dynamoAudit } from '../src/audit/audit';
import { dynamoAllowlist } from '../src/auth/allowlist';
import { ddb } from '../src/platform/dynamo';
import { createLogger, redact } from '../src/platform/logger';
import { dynamoState } from '../src/platform/state';

useLocalDynamo();

describe('state store (DynamoDB conditional writes)', () => {
  it('lets exactly one of many simultaneous claims win', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => dynamoState.claim('event#Ev1', 60)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });
  it('treats an expired claim as absent, and a released one as free', async () => {
    expect(await dynamoState.claim('lock#a', -10)).toBe(true); // already expired
    expect(await dynamoState.get('lock#a')).toBeUndefined();
    expect(await dynamoState.claim('lock#a', 60, { owner: 'U1' })).toBe(true);
    expect(await dynamoState.get('lock#a')).toMatchObject({ owner: 'U1' });
    await dynamoState.release('lock#a');
    expect(await dynamoState.claim('lock#a', 60)).toBe(true);
  });
});

describe('state store: owned records', () => {
  it('releases or refreshes a lock only for its owner', async () => {
    expect(await dynamoState.claim('lock#deploy#web', 60, { deployId: 'new' })).toBe(true);
    await dynamoState.release('lock#deploy#web', { deployId: 'old' }); // a late release by a previous holder
    expect(await dynamoState.get('lock#deploy#web')).toMatchObject({ deployId: 'new' });
    expect(await dynamoState.refresh('lock#deploy#web', 3600, { deployId: 'old' })).toBe(false);
    expect(await dynamoState.refresh('lock#deploy#web', 3600, { deployId: 'new' })).toBe(true);
    expect((await dynamoState.get<{ expiresAt: number }>('lock#deploy#web'))!.expiresAt).toBeGreaterThan(Date.now() / 1000 + 3000);
    await dynamoState.release('lock#deploy#web', { deployId: 'new' });
    expect(await dynamoState.get('lock#deploy#web')).toBeUndefined();
    expect(await dynamoState.refresh('lock#deploy#web', 60)).toBe(false);
  });
});

describe('allowlist store', () => {
  it('reads, lists per team, and removes', async () => {
    await dynamoAllowlist.put({ teamId: 'T1', userId: 'U1', grants: [{ role: 'viewer', services: ['web'] }], addedBy: 'U0', updatedAt: 'now' });
    await dynamoAllowlist.put({ teamId: 'T2', userId: 'U1', grants: [{ role: 'admin', services: ['*'] }], addedBy: 'U0', updatedAt: 'now' });
    expect((await dynamoAllowlist.get('T1', 'U1'))?.grants).toEqual([{ role: 'viewer', services: ['web'] }]);
    expect((await dynamoAllowlist.list('T1')).map((e) => e.userId)).toEqual(['U1']);
    expect(await dynamoAllowlist.remove('T1', 'U1')).toBe(true);
    expect(await dynamoAllowlist.get('T1', 'U1')).toBeUndefined();
  });
});

describe('audit', () => {
  it('records an attempt with a TTL and completes it; completing an unknown record fails', async () => {
    const audit = dynamoAudit(30);
    const at = new Date().toISOString();
    const key = await audit.record({
      id: 'a1',
      teamId: 'T1',
      userId: 'U1',
      channelId: 'C1',
      commandText: '/ecs status web',
      decision: 'allowed',
      outcome: 'accepted',
      at,
    });
    await audit.complete(key, { outcome: 'success', durationMs: 12, awsRequestIds: ['r1'] });
    const item = (await ddb.get({ TableName: process.env.AUDIT_TABLE!, Key: key })).Item!;
    expect(item).toMatchObject({ outcome: 'success', durationMs: 12, awsRequestIds: ['r1'], commandText: '/ecs status web' });
    expect(item.expiresAt).toBe(Math.floor(Date.parse(at) / 1000) + 30 * 86_400);
    await expect(audit.complete({ pk: 'team#T1', sk: 'nope' }, { outcome: 'success' })).rejects.toThrow();
  });
  it('a conditional completion ("still accepted") does not overwrite an end recorded first by a workflow', async () => {
    const audit = dynamoAudit(0);
    const key = await audit.record({
      id: 'a2',
      teamId: 'T1',
      userId: 'U1',
      channelId: 'C1',
      commandText: '/ecs deploy web v2',
      decision: 'allowed',
      outcome: 'accepted',
      at: new Date().toISOString(),
    });
    await audit.complete(key, { outcome: 'success', reason: 'deployed' }); // the workflow, first
    await audit.complete(key, { outcome: 'accepted', reason: 'waiting for approval', threadTs: '1.2' }, { outcome: 'accepted' }); // the worker, late
    expect((await ddb.get({ TableName: process.env.AUDIT_TABLE!, Key: key })).Item).toMatchObject({ outcome: 'success', reason: 'deployed' });
    const fresh = await audit.record({
      id: 'a3',
      teamId: 'T1',
      userId: 'U1',
      channelId: 'C1',
      commandText: '/ecs deploy web v2',
      decision: 'allowed',
      outcome: 'accepted',
      at: new Date().toISOString(),
    });
    await audit.complete(fresh, { outcome: 'accepted', reason: 'waiting for approval', threadTs: '1.2' }, { outcome: 'accepted' });
    expect((await ddb.get({ TableName: process.env.AUDIT_TABLE!, Key: fresh })).Item).toMatchObject({
      outcome: 'accepted',
      reason: 'waiting for approval',
      threadTs: '1.2',
    });
  });
});

describe('logger', () => {
  it('masks secret-looking fields and Slack tokens', () => {
    expect(redact({ botToken: 'xoxb-1', nested: { signingSecret: 's', note: 'used xoxb-123-abc here' }, ok: 1 })).toEqual({
      botToken: '[redacted]',
      nested: { signingSecret: '[redacted]', note: 'used xox*-[redacted] here' },
      ok: 1,
    });
    const lines: string[] = [];
    vi.stubEnv('LOG_LEVEL', 'info');
    createLogger({}, (l) => lines.push(l)).info('hello', { authorization: 'Bearer x', error: new Error('bad xoxp-9') });
    vi.unstubAllEnvs();
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      message: 'hello',
      authorization: '[redacted]',
      error: { name: 'Error', message: 'bad xox*-[redacted]' },
    });
  });
});
