import { describe, expect, it } from 'vitest';
import { WEBHOOK_FUNCTION } from '../local/world';
import { WEBHOOK_REFUSAL_AUDIT_LIMIT } from '../src/webhooks/refusals';
import { channelView, teamAudit, useWorld } from './support/channel';
import { sendWebhook, signedWebhook } from './support/webhook';

/**
 * A flood of refused webhooks end to end: the refusals' token bucket lives in the state table,
 * read and written by the webhook function under its own role; past the bucket every request is
 * still answered 401 alike, but the audit table does not grow with the flood, and a signed
 * webhook of the same source still runs; its replay is refused, and audited.
 */
const world = useWorld({});
const { parents, newParent, finished } = channelView(world, 'C0OPS');
const maintenance = (id: string) => ({ ticket: { id }, fields: { type: 'maintenance', status: 'approved', label: 'nightly' } });

describe('a flood of bad webhook signatures', () => {
  it('audits at most the bucket, answers all alike, and the source’s signed webhook still runs once', async () => {
    const before = await teamAudit(world());
    const since = world().aws.authority.decisions.length;
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await sendWebhook(world(), 'tickets', signedWebhook(maintenance(`CHG-F${i}`), { secret: 'not-the-secret' })));
    for (let i = 0; i < 20; i++) answers.push(await sendWebhook(world(), `invented-${i}`, signedWebhook(maintenance(`CHG-U${i}`))));
    for (const res of answers) {
      expect(res.statusCode).toBe(401);
      expect(res.body).toBe(answers[0]!.body);
    }
    const seen = new Set(before.map((r) => r.id));
    const refusals = (await teamAudit(world())).filter((r) => !seen.has(r.id) && r.outcome === 'refused');
    // One bucket for the source, one for every invented name.
    expect(refusals.filter((r) => r.userId === 'webhook:tickets')).toHaveLength(WEBHOOK_REFUSAL_AUDIT_LIMIT.burst);
    expect(refusals.filter((r) => r.reason === 'unknown webhook source')).toHaveLength(WEBHOOK_REFUSAL_AUDIT_LIMIT.burst);
    // The buckets are state items the webhook role may read and write; nothing it was refused.
    const decisions = world()
      .aws.authority.decisions.slice(since)
      .filter((d) => d.functionName === WEBHOOK_FUNCTION);
    expect(decisions.filter((d) => d.decision !== 'allowed')).toEqual([]);
    expect(decisions.some((d) => d.action === 'dynamodb:GetItem' && d.resource.includes('state'))).toBe(true);

    // Admitted, then signed: it runs, once.
    const allowed = parents().length;
    await world().slash('U0ALICE', 'allow webhook:tickets operator manager --scripts backup.sh');
    expect(await finished((await newParent(allowed, /allow webhook:tickets/)).ts)).toMatch(/^✅/);
    const start = parents().length;
    const signed = signedWebhook(maintenance('CHG-GOOD'));
    expect((await sendWebhook(world(), 'tickets', signed)).statusCode).toBe(202);
    expect((await sendWebhook(world(), 'tickets', signed)).statusCode).toBe(401);
    // A replay carries the secret's signature: audited even with the source's refusal bucket empty.
    expect((await teamAudit(world()))[0]).toMatchObject({ userId: 'webhook:tickets', reason: 'replayed request (its signature was seen already)' });
    const parent = await newParent(start, /CHG-GOOD/);
    expect(await finished(parent.ts)).toMatch(/^✅/);
    await world().idle();
    expect(parents().filter((m) => m.text.includes('CHG-GOOD'))).toHaveLength(1);
  });
});
