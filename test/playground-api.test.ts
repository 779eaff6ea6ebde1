import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signHttpApiRequest } from '../local/aws/http-api';
import { LOCAL_WEBHOOK_SECRET } from '../local/aws/seed';
import { startPlayground, type Playground } from '../local/playground/server';
import { startWorld, type World } from '../local/world';
import { signatureOf } from '../src/webhooks/signature';

/** The playground serves the bot's signed API beside its page: a request signed with its keys reaches the bot. */
let world: World;
let playground: Playground;
beforeAll(async () => {
  world = await startWorld();
  playground = await startPlayground(world, { port: 0 });
});
afterAll(async () => {
  await playground?.close();
  await world?.close();
});

async function signedFetch(method: string, path: string, body?: unknown, secret?: string): Promise<Response> {
  const host = new URL(playground.url).host;
  const { accessKeyId, secretAccessKey, region } = playground.apiCaller;
  const text = body === undefined ? undefined : JSON.stringify(body);
  const signed = await signHttpApiRequest(
    { method, path, headers: { host, ...(text ? { 'content-type': 'application/json' } : {}) }, ...(text ? { body: text } : {}), host },
    { accessKeyId, secretAccessKey: secret ?? secretAccessKey },
    region,
  );
  const { host: _, ...headers } = signed.headers;
  return fetch(new URL(path, playground.url), { method, headers, ...(text ? { body: text } : {}) });
}

describe('playground: the signed API', () => {
  it('accepts a run signed with the playground caller’s keys, refuses one signed with another secret', async () => {
    const res = await signedFetch('POST', '/api/runs', { script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', idempotencyKey: 'pg-1', ticket: 'CHG-1' });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await world.idle();
    const status = (await (await signedFetch('GET', `/api/runs/${id}`)).json()) as Record<string, unknown>;
    expect(status).toMatchObject({ id, state: 'success', exitCode: 0 });
    const parent = (world.slack.workspace.messages.C0OPS ?? []).find((m) => m.ts === (status.thread as { ts: string }).ts)!;
    expect(parent.text).toContain('IAM principal `arn:aws:iam::111111111111:role/playground-ci` (session `playground`) for ticket `CHG-1` ran');

    const forged = await signedFetch('POST', '/api/runs', { script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', idempotencyKey: 'pg-2' }, 'wrong');
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { message: string }).message).toMatch(/^The request signature we calculated does not match/);
  });

  it('forwards ticket webhooks: the example source, admitted by the playground, signed with its local secret', async () => {
    const body = JSON.stringify({
      ticket: { id: 'CHG-3', url: 'https://tickets.example.com/browse/CHG-3' },
      fields: { type: 'maintenance', status: 'approved', label: 'nightly' },
    });
    const send = (secret: string) => {
      const ts = String(Math.floor(Date.now() / 1000));
      return fetch(new URL('/api/webhooks/tickets', playground.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ecs-chatops-timestamp': ts, 'x-ecs-chatops-signature': signatureOf(secret, ts, body) },
        body,
      });
    };
    expect((await send('wrong')).status).toBe(401);
    const res = await send(LOCAL_WEBHOOK_SECRET);
    expect(res.status).toBe(202);
    await world.idle();
    const parent = (world.slack.workspace.messages.C0OPS ?? []).find((m) => m.text.includes('|CHG-3>'));
    expect(parent?.text).toMatch(
      /^✅ ticket source `tickets` for ticket <https:\/\/tickets\.example\.com\/browse\/CHG-3\|CHG-3> ran `\/ecs run backup\.sh nightly`/,
    );
  });
});
