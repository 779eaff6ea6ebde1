import { describe, expect, it } from 'vitest';
import { channelView, teamAudit, useWorld } from './support/channel';

/** A deploy from the signed API: the same approval request in the channel, approved by a person, the same rollout. */
const world = useWorld({ durableSkipTime: true });
const { parents, threadText, finished } = channelView(world, 'C0OPS');
const json = (res: { body: string }) => JSON.parse(res.body) as Record<string, any>;

describe('the signed API: POST /api/deploys', () => {
  it('asks for approval in the channel naming the principal and ticket; a person approves; the rollout ends and GET says so', async () => {
    const cd = world().apiCaller('cd-pipeline', { session: 'release-9' });
    const { dynamoAllowlist } = await import('../src/auth/allowlist');
    await dynamoAllowlist.put({
      teamId: world().teamId,
      userId: `iamp:${cd.roleArn}`,
      grants: [{ role: 'deployer', services: ['web'] }],
      addedBy: 'U0ALICE',
      updatedAt: new Date().toISOString(),
    });
    const before = parents().length;
    const res = await cd.call('POST', '/api/deploys', { service: 'web', tag: 'v1.5.0', channel: 'C0OPS', idempotencyKey: 'release-9', ticket: 'CHG-9' });
    expect(res.statusCode).toBe(202);
    const request = await world().slack.waitFor(
      () =>
        parents()
          .slice(before)
          .find((m) => /React :white_check_mark: to approve/.test(m.text)),
      20_000,
    );
    expect(request.text).toContain(`IAM principal \`${cd.roleArn}\` (session \`release-9\`) for ticket \`CHG-9\` asks to deploy to *web*`);
    expect(request.text).toContain(`not \`${cd.roleArn}\``);

    await world().react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
    expect(await finished(request.ts)).toMatch(/^✅ .*approved by <@U0BOB>/);
    expect(threadText(request.ts)).toContain('👍 Approved by <@U0BOB>');
    await world().idle();
    expect(json(await cd.call('GET', `/api/runs/${json(res).id}`))).toMatchObject({ state: 'success', thread: { channel: 'C0OPS', ts: request.ts } });
    const record = (await teamAudit(world())).find((r) => r.id === json(res).id);
    expect(record).toMatchObject({ principal: cd.sessionArn, ticket: 'CHG-9', via: 'api', verb: 'deploy', outcome: 'success' });
  });
});
