import { describe, expect, it } from 'vitest';
import { channelView, teamAudit, useWorld } from './support/channel';
import { sendWebhook, signedWebhook } from './support/webhook';

/** A deploy a ticket asks for: the same approval request in the channel, approved by a person (a webhook source never can). */
const world = useWorld({ durableSkipTime: true });
const { parents, threadText, finished, newParent } = channelView(world, 'C0OPS');
const json = (res: { body: string }) => JSON.parse(res.body) as Record<string, any>;

describe('ticket webhooks: a deploy', () => {
  it('asks for approval naming the source and linking the ticket; a person approves; the rollout ends', async () => {
    const allowed = parents().length;
    await world().slash('U0ALICE', 'allow webhook:tickets deployer web');
    const grant = await world().slack.waitFor(
      () =>
        parents()
          .slice(allowed)
          .find((m) => m.text.includes('allow webhook:tickets')),
      20_000,
    );
    expect(await finished(grant.ts)).toMatch(/^✅/);

    const before = parents().length;
    const body = {
      ticket: { id: 'REL-7', url: 'https://tickets.example.com/browse/REL-7?a=1&b=2' },
      fields: { type: 'release', status: 'done', version: 'v1.5.0' },
    };
    const res = await sendWebhook(world(), 'tickets', signedWebhook(body));
    expect(res.statusCode).toBe(202);
    expect(json(res)).toMatchObject({ action: 'release', ticket: 'REL-7' });
    const request = await newParent(before, /React :white_check_mark: to approve/);
    // The link's `&` escaped as Slack wants it inside a link.
    expect(request.text).toContain('ticket source `tickets` for ticket <https://tickets.example.com/browse/REL-7?a=1&amp;b=2|REL-7> asks to deploy to *web*');

    await world().react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
    expect(await finished(request.ts)).toMatch(/^✅ .*approved by <@U0BOB>/);
    expect(threadText(request.ts)).toContain('👍 Approved by <@U0BOB>');
    await world().idle();
    const record = (await teamAudit(world())).find((r) => r.id === json(res).id);
    expect(record).toMatchObject({ userId: 'webhook:tickets', via: 'webhook', ticket: 'REL-7', verb: 'deploy', outcome: 'success' });
  }, 60_000);
});
