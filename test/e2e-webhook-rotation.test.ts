import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { LOCAL_WEBHOOK_SECRET, LOCAL_WEBHOOK_SECRET_PARAM } from '../local/aws/seed';
import { WEBHOOK_FUNCTION } from '../local/world';
import { previousSecretParam, SECRET_CACHE_MS } from '../src/webhooks/secrets';
import { channelView, teamAudit, useWorld } from './support/channel';
import { sendWebhook, signedWebhook } from './support/webhook';

/**
 * A webhook secret rotated as README's "Rotating a webhook secret" says, through the local world:
 * the operator's SSM calls, then the ticket system signing with the old and the new secret while
 * the webhook function (its own role, its five-minute cache) judges them. The function's clock is
 * the process's, so only `Date` is faked, to let a cache expire without waiting five minutes.
 */
vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
afterAll(() => void vi.useRealTimers());

const world = useWorld({});
const { parents, newParent, finished } = channelView(world, 'C0OPS');
const maintenance = (id: string) => ({ ticket: { id }, fields: { type: 'maintenance', status: 'approved', label: 'nightly' } });
const NEW_SECRET = 'rotated-webhook-secret';
/** Past the webhook function's cache: every warm instance has read SSM again. */
const cacheExpires = () => vi.setSystemTime(Date.now() + SECRET_CACHE_MS + 1_000);

/** Sent, answered 202, and its thread finished: the audit record of that request (by the id it answered). */
async function runs(id: string, secret: string) {
  const before = parents().length;
  const res = await sendWebhook(world(), 'tickets', signedWebhook(maintenance(id), { secret }));
  expect(res.statusCode).toBe(202);
  expect(await finished((await newParent(before, new RegExp(id))).ts)).toMatch(/^✅/);
  await world().idle();
  return (await teamAudit(world())).find((r) => r.id === JSON.parse(res.body).id);
}

describe('rotating a webhook secret', { timeout: 90_000 }, () => {
  it('accepts the old secret beside the new one until the previous parameter is deleted, auditing which one signed; then refuses it', async () => {
    const ssm = new SSMClient({});
    await world().slash('U0ALICE', 'allow webhook:tickets operator manager --scripts backup.sh');
    expect(await finished((await newParent(0, /allow webhook:tickets/)).ts)).toMatch(/^✅/);
    // Before: one secret, cached by the function.
    expect(await runs('CHG-R1', LOCAL_WEBHOOK_SECRET)).toMatchObject({ via: 'webhook', signedWith: 'current', outcome: 'success' });

    // Steps 1–2: the current value copied to `/previous`, then the new one written over the current.
    const old = await ssm.send(new GetParameterCommand({ Name: LOCAL_WEBHOOK_SECRET_PARAM, WithDecryption: true }));
    await ssm.send(new PutParameterCommand({ Name: previousSecretParam(LOCAL_WEBHOOK_SECRET_PARAM), Type: 'SecureString', Value: old.Parameter!.Value! }));
    await ssm.send(new PutParameterCommand({ Name: LOCAL_WEBHOOK_SECRET_PARAM, Type: 'SecureString', Value: NEW_SECRET, Overwrite: true }));
    // Step 3: wait out the cache, with the ticket system still on the old secret: never refused.
    expect(await runs('CHG-R2', LOCAL_WEBHOOK_SECRET)).toMatchObject({ signedWith: 'current' });
    cacheExpires();
    expect(await runs('CHG-R3', LOCAL_WEBHOOK_SECRET)).toMatchObject({ signedWith: 'previous', outcome: 'success' });
    // Step 4: the ticket system switches; both are accepted, each audited as what it is.
    expect(await runs('CHG-R4', NEW_SECRET)).toMatchObject({ signedWith: 'current', outcome: 'success' });
    expect(await runs('CHG-R5', LOCAL_WEBHOOK_SECRET)).toMatchObject({ signedWith: 'previous' });

    // Step 5: the previous parameter deleted; once the cache expires the old secret is refused, the new one runs.
    await ssm.send(new DeleteParameterCommand({ Name: previousSecretParam(LOCAL_WEBHOOK_SECRET_PARAM) }));
    cacheExpires();
    const audited = new Set((await teamAudit(world())).map((r) => r.id));
    const refused = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-R6'), { secret: LOCAL_WEBHOOK_SECRET }));
    expect(refused.statusCode).toBe(401);
    const refusal = (await teamAudit(world())).filter((r) => !audited.has(r.id));
    expect(refusal).toEqual([expect.objectContaining({ userId: 'webhook:tickets', outcome: 'refused', reason: 'signature mismatch' })]);
    expect(refusal[0]).not.toHaveProperty('signedWith');
    expect(await runs('CHG-R7', NEW_SECRET)).toMatchObject({ signedWith: 'current' });
    expect(parents().some((m) => m.text.includes('CHG-R6'))).toBe(false);

    // Neither secret is in any audit record; the function read both parameters in one call, as its own role.
    const records = JSON.stringify(await teamAudit(world()));
    expect(records).not.toContain(NEW_SECRET);
    expect(records).not.toContain(LOCAL_WEBHOOK_SECRET);
    const reads = world()
      .aws.authority.decisions.filter((d) => d.functionName === WEBHOOK_FUNCTION && d.action.startsWith('ssm:'))
      .map((d) => `${d.action} ${d.decision} ${d.resource.replace(/^.*:parameter/, '')}`);
    expect(new Set(reads)).toEqual(
      new Set([`ssm:GetParameters allowed ${LOCAL_WEBHOOK_SECRET_PARAM}`, `ssm:GetParameters allowed ${LOCAL_WEBHOOK_SECRET_PARAM}/previous`]),
    );
  });
});
