import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/audit';
import { channelView, ephemeral, teamAudit, useConfigurableWorld } from './support/channel';
import { sendWebhook, signedWebhook } from './support/webhook';

/**
 * Ticket webhooks end to end: a request signed with the source's secret (SSM, read by the webhook
 * function under its own role) → the local HTTP API's route without authorizer → the webhook
 * function → the signed API's submit → the worker → the thread in the channel, linking the ticket.
 */
const configurable = useConfigurableWorld({});
const world = () => configurable().world;
const { parents, threadText, finished, newParent } = channelView(world, 'C0OPS');
const json = (res: { body: string }) => JSON.parse(res.body) as Record<string, any>;

const ticket = (id: string, fields: Record<string, string>, url = `https://tickets.example.com/browse/${id}`) => ({ ticket: { id, url }, fields });
const maintenance = (id: string, label = 'nightly') => ticket(id, { type: 'maintenance', status: 'approved', label });

/** The audit records added since `before` (newest first). */
const auditSince = async (before: AuditRecord[]): Promise<AuditRecord[]> => {
  const seen = new Set(before.map((r) => r.id));
  return (await teamAudit(world())).filter((r) => !seen.has(r.id));
};

/** Admitted the way an admin does it: `/ecs allow webhook:tickets …` in Slack (once for the file). */
let admitted = false;
async function allowTickets(): Promise<void> {
  if (admitted) return;
  admitted = true;
  const before = parents().length;
  await world().slash('U0ALICE', 'allow webhook:tickets operator manager --scripts backup.sh');
  const parent = await newParent(before, /allow webhook:tickets/);
  expect(await finished(parent.ts)).toMatch(/^✅/);
  expect(threadText(parent.ts)).toContain('ticket source `tickets` now has');
}

describe('ticket webhooks', () => {
  it('refuses a source nobody admitted (deny by default), then runs the ticket’s action once admitted: the thread links the ticket', async () => {
    const audited = await teamAudit(world());
    const refused = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-100')));
    expect(refused.statusCode).toBe(403);
    expect(json(refused)).toMatchObject({ error: 'forbidden', action: 'backup', ticket: 'CHG-100' });
    expect(json(refused).message).toContain('/ecs allow webhook:tickets');
    expect((await auditSince(audited))[0]).toMatchObject({ userId: 'webhook:tickets', decision: 'denied', via: 'webhook', ticket: 'CHG-100' });

    await allowTickets();
    const before = parents().length;
    const res = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-101')));
    expect(res.statusCode).toBe(202);
    expect(json(res)).toMatchObject({ state: 'accepted', action: 'backup', ticket: 'CHG-101' });
    const parent = await newParent(before);
    expect(parent.text).toContain('ticket source `tickets` for ticket <https://tickets.example.com/browse/CHG-101|CHG-101> ran `/ecs run backup.sh nightly`');
    expect(await finished(parent.ts)).toMatch(/^✅ .* exit 0/);
    await world().idle();
    const record = (await teamAudit(world())).find((r) => r.id === json(res).id);
    expect(record).toMatchObject({
      userId: 'webhook:tickets',
      via: 'webhook',
      ticket: 'CHG-101',
      ticketUrl: 'https://tickets.example.com/browse/CHG-101',
      script: 'backup.sh',
      outcome: 'success',
      threadTs: parent.ts,
    });

    // The ticket system retries (a new timestamp, so a new signature): the same request, never a second run.
    const retry = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-101')));
    expect(retry.statusCode).toBe(200);
    expect(json(retry)).toMatchObject({ id: json(res).id, replayed: true, state: 'success' });
    // The same ticket with other values for the same action: a conflict, nothing runs.
    const changed = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-101', 'weekly')));
    expect(changed.statusCode).toBe(409);
    await world().idle();
    expect(parents().filter((m) => m.text.includes('CHG-101'))).toHaveLength(1);
  });

  it('refuses a wrong signature, a replay, a stale timestamp and an unknown source alike (401); nothing runs, each audited with its reason', async () => {
    await allowTickets();
    const before = parents().length;
    const audited = await teamAudit(world());

    const forged = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-200'), { secret: 'not-the-secret' }));
    const unsigned = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-201'), { signature: false }));
    const stale = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-202'), { timestamp: Math.floor(Date.now() / 1000) - 10 * 60 }));
    const unknown = await sendWebhook(world(), 'no-such-source', signedWebhook(maintenance('CHG-203')));
    // A signed request changed on the way: the signature no longer covers it.
    const good = signedWebhook(maintenance('CHG-204'));
    const tampered = await sendWebhook(world(), 'tickets', { ...good, body: good.body.replace('nightly', 'evil') });
    for (const res of [forged, unsigned, stale, unknown, tampered]) {
      expect(res.statusCode).toBe(401);
      // One answer for all: a caller without the secret learns neither which check failed nor which sources exist.
      expect(res.body).toBe(forged.body);
    }

    // The very same signed request twice: the first runs, the second is a replay.
    const once = signedWebhook(maintenance('CHG-205'));
    expect((await sendWebhook(world(), 'tickets', once)).statusCode).toBe(202);
    const replayed = await sendWebhook(world(), 'tickets', once);
    expect(replayed.statusCode).toBe(401);
    await world().idle();

    const started = parents().slice(before);
    expect(started).toHaveLength(1);
    expect(started[0]!.text).toContain('CHG-205');
    const refusals = (await auditSince(audited)).filter((r) => r.outcome === 'refused');
    expect(refusals.map((r) => r.reason).sort()).toEqual(
      [
        'missing signature or timestamp',
        'replayed request (its signature was seen already)',
        'signature mismatch',
        'signature mismatch',
        'stale timestamp',
        'unknown webhook source',
      ].sort(),
    );
    for (const r of refusals) {
      expect(r).toMatchObject({ decision: 'denied', via: 'webhook' });
      // Never the signature (nor the secret) in the audit.
      expect(JSON.stringify(r)).not.toMatch(/[0-9a-f]{64}|local-webhook-secret|not-the-secret/);
    }
    expect(refusals.find((r) => r.reason === 'unknown webhook source')).toMatchObject({ userId: 'webhook:no-such-source' });
  });

  it('answers a ticket that matches no action with 200 ignored, and a field failing the script’s pattern with 400 and the reason', async () => {
    await allowTickets();
    const before = parents().length;
    const audited = await teamAudit(world());

    const ignored = await sendWebhook(world(), 'tickets', signedWebhook(ticket('CHG-300', { type: 'maintenance', status: 'in progress', label: 'x' })));
    expect(ignored.statusCode).toBe(200);
    expect(json(ignored)).toMatchObject({ state: 'ignored', ticket: 'CHG-300' });

    const bad = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-301', 'Not A Label!')));
    expect(bad.statusCode).toBe(400);
    expect(json(bad)).toMatchObject({ error: 'bad_request', action: 'backup' });
    expect(json(bad).message).toContain('[a-z0-9][a-z0-9-]{0,31}');

    const notJson = await sendWebhook(world(), 'tickets', signedWebhook('{"ticket":'));
    expect(notJson.statusCode).toBe(400);
    expect(json(notJson).message).toBe('the body is not JSON');

    const notHttps = await sendWebhook(
      world(),
      'tickets',
      signedWebhook(ticket('CHG-302', { type: 'maintenance', status: 'approved', label: 'x' }, 'javascript:alert(1)')),
    );
    expect(notHttps.statusCode).toBe(400);
    expect(json(notHttps).message).toBe('ticket.url must be an https URL');

    await world().idle();
    expect(parents().slice(before)).toHaveLength(0);
    const records = await auditSince(audited);
    expect(records.some((r) => r.ticket === 'CHG-300')).toBe(false);
    expect(records.find((r) => r.ticket === 'CHG-301')).toMatchObject({ decision: 'invalid', outcome: 'refused', userId: 'webhook:tickets' });
  });

  it('frees the claims when the worker cannot be handed the ticket: the very same signed request, retried, runs once', async () => {
    await allowTickets();
    const before = parents().length;
    const call = signedWebhook(maintenance('CHG-400'));
    const lift = world().aws.faults.fail('lambda:InvokeFunction', { code: 'ResourceNotFoundException', message: 'Function not found', status: 404 }, 1);
    const lost = await sendWebhook(world(), 'tickets', call);
    lift();
    expect(lost.statusCode).toBe(503);
    expect((await teamAudit(world())).find((r) => r.ticket === 'CHG-400' && r.outcome === 'error')?.reason).toBe(
      'the worker could not be invoked: ResourceNotFoundException',
    );
    const retried = await sendWebhook(world(), 'tickets', call);
    expect(retried.statusCode).toBe(202);
    await world().idle();
    expect(
      parents()
        .slice(before)
        .filter((m) => m.text.includes('CHG-400')),
    ).toHaveLength(1);
  });

  it('is administered like an IAM principal: only declared sources, never approver or admin; /ecs deny takes it away', async () => {
    await allowTickets();
    expect(ephemeral(await world().slash('U0ALICE', 'allow webhook:nope viewer'))).toContain('`webhook:nope` is not a declared ticket webhook source');
    expect(ephemeral(await world().slash('U0ALICE', 'allow webhook:tickets approver'))).toContain(
      'IAM principals and ticket webhooks can be `viewer`, `operator`, `deployer`',
    );
    const before = parents().length;
    await world().slash('U0ALICE', 'deny webhook:tickets');
    const denied = await newParent(before, /deny webhook:tickets/);
    expect(await finished(denied.ts)).toMatch(/^✅/);
    expect(threadText(denied.ts)).toContain('ticket source `tickets` is no longer on the allowlist');
    const refused = await sendWebhook(world(), 'tickets', signedWebhook(maintenance('CHG-500')));
    expect(refused.statusCode).toBe(403);
  });

  it('answers 503 when the source’s secret parameter does not exist: nothing is read from the unverified body, nothing runs', async () => {
    const { setConfig, baseConfig } = configurable();
    setConfig({ ...baseConfig, webhooks: { tickets: { ...baseConfig.webhooks.tickets!, secretParam: '/ecs-chatops/webhooks/missing' } } });
    try {
      const res = await sendWebhook(world(), 'tickets', signedWebhook(ticket('CHG-600', { type: 'nothing' })));
      expect(res.statusCode).toBe(503);
      expect(JSON.parse(res.body)).toEqual({ error: 'unavailable', message: 'nothing ran, try again' });
      expect(
        (await teamAudit(world())).find((r) => r.commandText === 'POST /api/webhooks/tickets' && r.reason === 'the source’s secret could not be read'),
      ).toBeDefined();
    } finally {
      setConfig(undefined);
    }
  });
});
