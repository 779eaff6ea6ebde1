import { describe, expect, it } from 'vitest';
import { useLocalDynamo } from './support/local-dynamo';
import { stateMuteStore } from '../src/notify/mute';
import { ddb, epochSeconds } from '../src/platform/dynamo';
import { dynamoState } from '../src/platform/state';
import { muteKey } from '../src/platform/state-keys';
import { tableName } from '../src/platform/tables';

useLocalDynamo();

const HOUR = 3_600_000;
const inAnHour = () => new Date(Date.now() + HOUR).toISOString();

describe('state store: put and take', () => {
  it('put replaces whatever was there, with a fresh expiry', async () => {
    expect(await dynamoState.claim('thing#1', 60, { owner: 'U1' })).toBe(true);
    await dynamoState.put('thing#1', 600, { owner: 'U2' });
    const item = await dynamoState.get<{ owner: string; expiresAt: number; claimToken?: string }>('thing#1');
    expect(item).toMatchObject({ owner: 'U2' });
    expect(item!.claimToken).toBeUndefined();
    expect(item!.expiresAt).toBeGreaterThanOrEqual(epochSeconds(Date.now()) + 599);
  });

  it('take deletes and returns what was there, once', async () => {
    await dynamoState.put('thing#2', 600, { owner: 'U3' });
    const both = await Promise.all([dynamoState.take('thing#2'), dynamoState.take('thing#2')]);
    expect(both.filter(Boolean)).toEqual([expect.objectContaining({ owner: 'U3' })]);
    expect(await dynamoState.get('thing#2')).toBeUndefined();
  });

  it('take of an expired item (not yet swept by DynamoDB) returns nothing, and removes it', async () => {
    await dynamoState.put('thing#3', -5, { owner: 'U4' });
    expect(await dynamoState.take('thing#3')).toBeUndefined();
    expect((await ddb.get({ TableName: tableName('state'), Key: { pk: 'thing#3' } })).Item).toBeUndefined();
  });
});

describe('mute store', () => {
  const mutes = stateMuteStore(dynamoState);

  it('mutes a target until a time, with who and why, expiring by TTL at that time', async () => {
    const until = inAnHour();
    await mutes.mute({ target: 'web', until, by: 'U0ALICE', reason: 'planned maintenance' });
    expect(await mutes.mutedUntil('web')).toEqual({ target: 'web', until, by: 'U0ALICE', reason: 'planned maintenance' });
    const item = await dynamoState.get<{ expiresAt: number }>(muteKey('web'));
    expect(item!.expiresAt).toBe(epochSeconds(Date.parse(until)));
    expect(muteKey('web')).toBe('mute#web');
    expect(await mutes.mutedUntil('api')).toBeUndefined(); // per target
  });

  it('a new mute replaces the previous one', async () => {
    await mutes.mute({ target: 'worker', until: inAnHour(), by: 'U0ALICE', reason: 'first' });
    const later = new Date(Date.now() + 3 * HOUR).toISOString();
    await mutes.mute({ target: 'worker', until: later, by: 'U0BOB' });
    expect(await mutes.mutedUntil('worker')).toEqual({ target: 'worker', until: later, by: 'U0BOB' });
  });

  it('is not muted past `until`, whatever DynamoDB has not swept yet', async () => {
    const until = inAnHour();
    await mutes.mute({ target: 'batch', until, by: 'U0ALICE' });
    expect(await mutes.mutedUntil('batch', Date.parse(until) - 1)).toMatchObject({ by: 'U0ALICE' });
    expect(await mutes.mutedUntil('batch', Date.parse(until))).toBeUndefined();
    expect(await mutes.mutedUntil('batch', Date.parse(until) + HOUR)).toBeUndefined();
  });

  it('unmute returns the mute it removed, then nothing', async () => {
    const until = inAnHour();
    await mutes.mute({ target: 'cron', until, by: 'U0ALICE' });
    expect(await mutes.unmute('cron')).toEqual({ target: 'cron', until, by: 'U0ALICE' });
    expect(await mutes.mutedUntil('cron')).toBeUndefined();
    expect(await mutes.unmute('cron')).toBeUndefined();
  });

  it('unmute of a mute already over says there was none', async () => {
    let now = Date.now();
    const clocked = stateMuteStore(dynamoState, () => now);
    await clocked.mute({ target: 'queue', until: new Date(now + HOUR).toISOString(), by: 'U0ALICE' });
    now += 2 * HOUR;
    expect(await clocked.unmute('queue')).toBeUndefined();
  });

  it('refuses an end time that is not a time', async () => {
    await expect(mutes.mute({ target: 'web', until: 'tomorrow', by: 'U0ALICE' })).rejects.toThrow('a mute needs an ISO time');
  });
});
