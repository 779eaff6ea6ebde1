import { describe, expect, it } from 'vitest';
import { API_FUNCTION } from '../local/world';
import { EXPIRED_TOKEN, SIGNATURE_MISMATCH } from '../local/aws/http-api';
import type { Grant } from '../src/auth/roles';
import { channelView, ephemeral, teamAudit, useWorld } from './support/channel';

/**
 * The signed API end to end: a SigV4-signed request → the local HTTP API (signature, principal,
 * execute-api:Invoke as API Gateway checks them) → the api function → the worker → the thread in
 * the channel, approvals by people's reactions there.
 */
const world = useWorld({});
const { parents, threadText, finished, newParent } = channelView(world, 'C0OPS');
const json = (res: { body: string }) => JSON.parse(res.body) as Record<string, any>;

async function allowPrincipal(pattern: string, grants: Grant[]): Promise<void> {
  const { dynamoAllowlist } = await import('../src/auth/allowlist');
  await dynamoAllowlist.put({ teamId: world().teamId, userId: `iamp:${pattern}`, grants, addedBy: 'U0ALICE', updatedAt: new Date().toISOString() });
}

/** Polls until `check` gives a value (the audit table, an API answer): nothing here is timed, only bounded. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never happened: ${what}`);
}

describe('the signed API', () => {
  it('runs a script for a CI role session: the thread names the principal and the ticket; GET shows the exit code', async () => {
    const ci = world().apiCaller('ci-backup', { session: 'build-42' });
    await allowPrincipal(ci.roleArn, [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]);
    const before = parents().length;
    const res = await ci.call('POST', '/api/runs', {
      script: 'backup.sh',
      args: ['nightly'],
      channel: 'C0OPS',
      idempotencyKey: 'nightly-1',
      ticket: 'CHG-1234',
    });
    expect(res.statusCode).toBe(202);
    const { id } = json(res);
    const parent = await newParent(before);
    expect(parent.text).toContain(`IAM principal \`${ci.roleArn}\` (session \`build-42\`) for ticket \`CHG-1234\` ran \`/ecs run backup.sh nightly\``);
    expect(await finished(parent.ts)).toMatch(/^✅ .* exit 0/);
    await world().idle();
    const status = await ci.call('GET', `/api/runs/${id}`);
    expect(status.statusCode).toBe(200);
    expect(json(status)).toMatchObject({
      id,
      state: 'success',
      exitCode: 0,
      thread: { channel: 'C0OPS', ts: parent.ts, permalink: expect.stringContaining('/archives/C0OPS/p') },
    });
    const record = (await teamAudit(world())).find((r) => r.id === id);
    expect(record).toMatchObject({ userId: `iam:${ci.roleArn}`, principal: ci.sessionArn, ticket: 'CHG-1234', via: 'api', outcome: 'success' });
  });

  it('a run needing approval waits for a person’s reaction in the channel; the principal is named as the one whose approval does not count', async () => {
    const ci = world().apiCaller('ci-restore', { session: 'change-77' });
    await allowPrincipal(ci.roleArn, [{ role: 'operator', services: ['manager'] }]);
    const before = parents().length;
    const res = await ci.call('POST', '/api/runs', {
      script: 'restore.sh',
      args: ['20261124-010203-nightly'],
      channel: 'C0OPS',
      idempotencyKey: 'restore-1',
      ticket: 'CHG-77',
    });
    expect(res.statusCode).toBe(202);
    const request = await newParent(before, /asks to run/);
    expect(request.text).toMatch(/🔐 IAM principal `arn:aws:iam::\d{12}:role\/ci-restore` \(session `change-77`\) for ticket `CHG-77` asks to run/);
    expect(json(await ci.call('GET', `/api/runs/${json(res).id}`)).state).toBe('accepted');

    // The requester is the principal, which is nobody in Slack: it has no reaction to give, and the
    // request says whose approval does not count.
    expect(request.text).toContain(`not \`${ci.roleArn}\``);

    await world().react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
    expect(await finished(request.ts)).toMatch(/^✅ 🔐 IAM principal/);
    expect(threadText(request.ts)).toContain('👍 Approved by <@U0BOB>');
    const status = await eventually(async () => {
      const answer = json(await ci.call('GET', `/api/runs/${json(res).id}`));
      return answer.state === 'success' ? answer : undefined;
    }, 'the run recorded as ended');
    expect(status).toMatchObject({ state: 'success', exitCode: 0, thread: { ts: request.ts } });
  });

  it('refuses unsigned, wrongly signed, tampered and stale requests as API Gateway does; nothing runs', async () => {
    const ci = world().apiCaller('ci-signing');
    await allowPrincipal(ci.roleArn, [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]);
    const body = { script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', idempotencyKey: 'sig-1' };
    // Only what IAM principals started counts: the 2 h the clock skips below may pass the
    // configuration's nightly schedule, which rightly runs (and posts, and audits) on its own.
    const apiParents = () => parents().filter((m) => m.text?.includes('IAM principal')).length;
    const apiAudit = async () => (await teamAudit(world())).filter((r) => r.userId?.startsWith('iam:')).length;
    const before = apiParents();
    const auditBefore = await apiAudit();

    const errorType = (result: { headers?: Record<string, unknown> }) => result.headers?.['x-amzn-errortype'];
    const unsigned = await ci.call('POST', '/api/runs', body, { sign: false });
    expect(unsigned).toMatchObject({ statusCode: 403, body: JSON.stringify({ message: 'Forbidden' }) });
    expect(errorType(unsigned)).toBe('ForbiddenException');
    const wrongSecret = await ci.call('POST', '/api/runs', body, { sign: { ...ci.credentials, secretAccessKey: 'not-the-secret' } });
    expect(wrongSecret).toMatchObject({ statusCode: 403, body: JSON.stringify({ message: SIGNATURE_MISMATCH }) });
    expect(errorType(wrongSecret)).toBe('InvalidSignatureException');
    const unknownKey = await ci.call('POST', '/api/runs', body, { sign: { accessKeyId: 'ASIANOSUCHKEY0000000', secretAccessKey: 'x' } });
    expect(json(unknownKey).message).toBe('The security token included in the request is invalid.');
    expect(errorType(unknownKey)).toBe('AccessDeniedException');
    const stale = await ci.call('POST', '/api/runs', body, { signingDate: new Date(Date.now() - 10 * 60_000) });
    expect(stale.statusCode).toBe(403);
    expect(errorType(stale)).toBe('InvalidSignatureException');
    expect(json(stale).message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);

    // A signed request whose body was changed on the way.
    const { signHttpApiRequest } = await import('../local/aws/http-api');
    const host = world().httpApi.host;
    const signed = await signHttpApiRequest(
      { method: 'POST', path: '/api/runs', headers: { host, 'content-type': 'application/json' }, body: JSON.stringify(body), host },
      ci.credentials,
      'us-east-1',
    );
    const tampered = await world().httpApi.handle({ ...signed, body: JSON.stringify({ ...body, args: ['other'] }) });
    expect(json(tampered).message).toBe(SIGNATURE_MISMATCH);

    // An expired session.
    world().aws.clock.advance(2 * 3_600_000);
    expect(json(await ci.call('POST', '/api/runs', body)).message).toBe(EXPIRED_TOKEN);

    await world().idle();
    expect(apiParents()).toBe(before);
    // Refused before the function: the bot never saw them.
    expect(await apiAudit()).toBe(auditBefore);
  });

  it('refuses a caller IAM does not allow execute-api:Invoke, and an unknown principal (audited)', async () => {
    const noInvoke = world().apiCaller('no-invoke', {
      policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
    });
    const denied = await noInvoke.call('POST', '/api/runs', { script: 'backup.sh', channel: 'C0OPS', idempotencyKey: 'x' });
    expect(denied.statusCode).toBe(403);
    expect(denied.headers?.['x-amzn-errortype']).toBe('AccessDeniedException');
    expect(json(denied).message).toMatch(
      /^User: arn:aws:sts::\d{12}:assumed-role\/no-invoke\/no-invoke-session is not authorized to perform: execute-api:Invoke on resource: arn:aws:execute-api:us-east-1:\d{12}:ecschatops1\/\$default\/POST\/api\/runs because no identity-based policy allows the execute-api:Invoke action$/,
    );

    const stranger = world().apiCaller('stranger');
    const before = parents().length;
    const res = await stranger.call('POST', '/api/runs', { script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', idempotencyKey: 'x' });
    expect(res.statusCode).toBe(403);
    expect(json(res).message).toContain('is not on the allowlist');
    const record = (await teamAudit(world())).find((r) => r.userId === `iam:${stranger.roleArn}`);
    expect(record).toMatchObject({
      decision: 'denied',
      outcome: 'refused',
      principal: stranger.sessionArn,
      reason: 'unknown principal: no allowlist entry matches it',
    });
    await world().idle();
    expect(parents().length).toBe(before);
  });

  it('returns the first id for a repeated idempotency key, 409 for the key with another body, 400 with the reason for bad input', async () => {
    const ci = world().apiCaller('ci-idem');
    await allowPrincipal(ci.roleArn, [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]);
    const body = { script: 'backup.sh', args: ['weekly'], channel: 'C0OPS', idempotencyKey: 'weekly-49' };
    const before = parents().length;
    const first = await ci.call('POST', '/api/runs', body);
    const again = await ci.call('POST', '/api/runs', body);
    expect(again.statusCode).toBe(200);
    expect(json(again).id).toBe(json(first).id);
    expect((await ci.call('POST', '/api/runs', { ...body, args: ['monthly'] })).statusCode).toBe(409);
    await world().idle();
    expect(parents().length).toBe(before + 1);

    // The worker could not be handed the request: nothing ran, and the key is free for the retry.
    const lift = world().aws.faults.fail('lambda:InvokeFunction', { code: 'ResourceNotFoundException', message: 'Function not found', status: 404 }, 1);
    const lost = await ci.call('POST', '/api/runs', { ...body, idempotencyKey: 'weekly-50' });
    lift();
    expect(lost.statusCode).toBe(503);
    expect((await teamAudit(world())).find((r) => r.userId === `iam:${ci.roleArn}` && r.outcome === 'error')?.reason).toBe(
      'the worker could not be invoked: ResourceNotFoundException',
    );
    const retried = await ci.call('POST', '/api/runs', { ...body, idempotencyKey: 'weekly-50' });
    expect(retried.statusCode).toBe(202);
    expect(json(retried).id).not.toBe(json(lost).id);
    await world().idle();
    expect(parents().length).toBe(before + 2);

    const badArg = await ci.call('POST', '/api/runs', { ...body, args: ['Not Valid!'], idempotencyKey: 'bad-1' });
    expect(badArg.statusCode).toBe(400);
    expect(json(badArg).message).toMatch(/backup\.sh/);
    const deploy = await ci.call('POST', '/api/deploys', { service: 'nope', tag: 'v1', channel: 'C0OPS', idempotencyKey: 'd-1' });
    expect(deploy.statusCode).toBe(400);
    expect(json(deploy).message).toMatch(/nope/);
  });

  it('limits each caller: the 11th request in a burst gets 429 with Retry-After', async () => {
    const ci = world().apiCaller('ci-busy');
    await allowPrincipal(ci.roleArn, [{ role: 'viewer', services: ['manager'] }]);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await ci.call('GET', '/api/runs/no-such-run')).statusCode);
    expect(statuses).toEqual(Array(10).fill(404));
    const limited = await ci.call('GET', '/api/runs/no-such-run');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers?.['retry-after'])).toBeGreaterThan(0);
    // Another caller is not limited by this one.
    expect((await world().apiCaller('ci-quiet').call('GET', '/api/runs/no-such-run')).statusCode).toBe(404);
  });

  it('admins grant and remove IAM principal patterns with /ecs allow and /ecs deny, within their scope; never approve or admin', async () => {
    const ci = world().apiCaller('ci-granted-7', { session: 'b1' });
    const pattern = ci.roleArn.replace('ci-granted-7', 'ci-granted-*');
    const body = (key: string) => ({ script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', idempotencyKey: key });
    expect((await ci.call('POST', '/api/runs', body('g-1'))).statusCode).toBe(403);

    const refused = ephemeral(await world().slash('U0ALICE', `allow ${pattern} approver manager`));
    expect(refused).toContain('approving and administering are for people in Slack');
    expect(ephemeral(await world().slash('U0BOB', `allow ${pattern} operator manager`))).toContain('Not allowed');
    expect(ephemeral(await world().slash('U0ALICE', 'allow arn:aws:iam::*:role/x operator'))).toContain('is not an IAM user or role ARN pattern');

    const before = parents().length;
    await world().slash('U0ALICE', `allow ${pattern} operator manager --scripts backup.sh`);
    await world().idle();
    const granted = parents()
      .slice(before)
      .find((m) => m.text.includes('ran `/ecs allow'))!;
    expect(threadText(granted.ts)).toContain(`IAM principals \`${pattern}\` now has:`);
    expect(ephemeral(await world().slash('U0ALICE', 'allowlist'))).toContain(`IAM principals \`${pattern}\`: *operator* on \`manager\`, scripts \`backup.sh\``);
    expect((await ci.call('POST', '/api/runs', body('g-2'))).statusCode).toBe(202);
    await world().idle();

    await world().slash('U0ALICE', `deny ${pattern}`);
    await world().idle();
    expect((await ci.call('POST', '/api/runs', body('g-3'))).statusCode).toBe(403);
  });

  it('runs the api function as its own role', () => {
    expect(world().aws.authority.roleOf(API_FUNCTION)).toMatch(/role\/ecs-chatops-local-us-east-1-api$/);
  });
});
