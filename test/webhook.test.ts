import { describe, expect, it, vi } from 'vitest';
import { BadRequestError } from '../src/api/requests';
import { getConfig } from '../src/config/load';
import { ConfigError, parseConfig, type Config } from '../src/config/schema';
import type { WebhookSource } from '../src/config/webhooks-schema';
import { log, redact } from '../src/platform/logger';
import { mention, requesterText, ticketLink } from '../src/slack/invocation';
import { checkSignedHeaders, signatureMatches, signatureOf } from '../src/webhooks/signature';
import { matchAction, parseTicket, ticketCommand } from '../src/webhooks/ticket';
import { createWebhooks, type WebhookDeps } from '../src/webhooks/webhooks';
import { createRefusalGate, WEBHOOK_REFUSAL_AUDIT_LIMIT } from '../src/webhooks/refusals';
import { memoryAudit, memoryRateLimiter, memoryState } from './support/fakes';

/** Ticket webhooks' parts: the signature, the ticket body, the mapping to declared actions, the configuration (e2e-webhook takes them end to end). */
const NOW = Date.parse('2026-12-06T12:00:00Z');
const TS = String(NOW / 1000);

describe('webhook signature', () => {
  it('signs "<timestamp>.<body>" with HMAC-SHA256 as v1=<hex>, and accepts only that, in constant time', () => {
    // Computed with: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac s3cret
    expect(signatureOf('s3cret', '1700000000', '{"a":1}')).toBe('v1=1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940');
    const sig = signatureOf('s3cret', TS, 'body');
    expect(sig).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(signatureMatches('s3cret', TS, 'body', sig)).toBe(true);
    expect(signatureMatches('other', TS, 'body', sig)).toBe(false);
    expect(signatureMatches('s3cret', TS, 'body!', sig)).toBe(false);
    expect(signatureMatches('s3cret', String(NOW / 1000 + 1), 'body', sig)).toBe(false);
  });

  it('refuses missing, malformed and stale headers before any secret is read; 5 minutes either way', () => {
    const sig = `v1=${'a'.repeat(64)}`;
    expect(checkSignedHeaders(undefined, sig, NOW)).toBe('missing signature or timestamp');
    expect(checkSignedHeaders(TS, undefined, NOW)).toBe('missing signature or timestamp');
    expect(checkSignedHeaders(TS, `v0=${'a'.repeat(64)}`, NOW)).toBe('malformed signature or timestamp');
    expect(checkSignedHeaders(TS, `v1=${'A'.repeat(64)}`, NOW)).toBe('malformed signature or timestamp');
    expect(checkSignedHeaders('12.5', sig, NOW)).toBe('malformed signature or timestamp');
    expect(checkSignedHeaders(String(NOW / 1000 - 301), sig, NOW)).toBe('stale timestamp');
    expect(checkSignedHeaders(String(NOW / 1000 + 301), sig, NOW)).toBe('stale timestamp');
    expect(checkSignedHeaders(String(NOW / 1000 - 300), sig, NOW)).toBeUndefined();
  });
});

describe('webhook ticket body', () => {
  it('reads a ticket id, an https URL and scalar fields; refuses anything else with the reason', () => {
    expect(parseTicket('{"ticket":{"id":"CHG-1","url":"https://t.example.com/browse/CHG-1"},"fields":{"n":3,"ok":true,"s":"x","gone":null}}')).toEqual({
      id: 'CHG-1',
      url: 'https://t.example.com/browse/CHG-1',
      fields: expect.objectContaining({ n: '3', ok: 'true', s: 'x' }),
    });
    const refused = (body: unknown) => {
      try {
        parseTicket(typeof body === 'string' ? body : JSON.stringify(body));
      } catch (e) {
        if (e instanceof BadRequestError) return e.message;
        throw e;
      }
      return 'accepted';
    };
    expect(refused('[]')).toBe('the body must be a JSON object');
    expect(refused({ ticket: { id: 'A-1' }, extra: 1 })).toBe('unknown field: extra (expected ticket and fields)');
    expect(refused({ ticket: { id: 'A 1' } })).toMatch(/^ticket\.id is not valid/);
    expect(refused({ ticket: { id: 'A-1', url: 'http://t.example.com/A-1' } })).toBe('ticket.url must be an https URL');
    expect(refused({ ticket: { id: 'A-1', url: 'https://user:pw@t.example.com/A-1' } })).toBe('ticket.url may not carry credentials');
    expect(refused({ ticket: { id: 'A-1', url: 'not a url' } })).toBe('ticket.url is not a URL');
    expect(refused({ ticket: { id: 'A-1' }, fields: { a: { b: 1 } } })).toBe('fields.a must be a string, a number or a boolean');
    expect(refused({ ticket: { id: 'A-1' }, fields: { a: 'x\ny' } })).toBe('fields.a holds a control character');
  });

  it('keeps the URL a link and nothing else in Slack: markup characters encoded, & escaped, the id escaped', () => {
    const { url } = parseTicket(JSON.stringify({ ticket: { id: 'A-1', url: 'https://t.example.com/a|b<c>d?x=1&y=2' } }));
    expect(url).toBe('https://t.example.com/a%7Cb%3Cc%3Ed?x=1&y=2');
    expect(ticketLink({ ticket: 'A-1', ticketUrl: url! })).toBe('<https://t.example.com/a%7Cb%3Cc%3Ed?x=1&amp;y=2|A-1>');
    expect(ticketLink({ ticket: 'A-1' })).toBe('`A-1`');
    expect(requesterText({ userId: 'webhook:jira', origin: { via: 'webhook', source: 'jira', ticket: 'A-1' } })).toBe('ticket source `jira` for ticket `A-1`');
    expect(mention('webhook:jira')).toBe('ticket source `jira`');
  });
});

const SOURCE: WebhookSource = {
  secretParam: '/ecs-chatops/webhooks/jira',
  channel: 'C0OPS',
  actions: [
    { name: 'backup', when: { type: 'maintenance', status: ['approved', 'done'] }, run: 'backup.sh', args: [{ field: 'label' }] },
    { name: 'fixed', when: { type: 'maintenance' }, run: 'backup.sh', args: [{ value: 'weekly' }] },
    { name: 'release', when: { type: 'release' }, deploy: 'web', args: [], tag: { field: 'version' } },
    { name: 'two', when: { type: 'two' }, run: 'slow.sh', args: [{ field: 'a' }, { field: 'b' }] },
    { name: 'migrate', when: { type: 'migration' }, job: 'migrate', args: [{ field: 'version' }] },
  ],
};
const t = (fields: Record<string, string>) => ({ id: 'CHG-9', fields });

describe('webhook mapping: a ticket picks a declared action and fills its slots', () => {
  it('takes the first action whose every condition holds (a list is any of its values)', () => {
    expect(matchAction(SOURCE, t({ type: 'maintenance', status: 'done' }))?.name).toBe('backup');
    expect(matchAction(SOURCE, t({ type: 'maintenance', status: 'open' }))?.name).toBe('fixed');
    expect(matchAction(SOURCE, t({ status: 'approved' }))).toBeUndefined();
    expect(matchAction(SOURCE, t({ type: 'constructor' }))).toBeUndefined();
  });

  it('builds the words a person would type, quoted and escaped; the ticket id and action are the idempotency key', () => {
    const [backup, fixed, release, two, migrate] = SOURCE.actions as [any, any, any, any, any];
    expect(ticketCommand(SOURCE, backup, t({ label: 'nightly' }))).toMatchObject({
      text: 'run backup.sh nightly',
      channelId: 'C0OPS',
      idempotencyKey: 'CHG-9:backup',
      ticket: 'CHG-9',
    });
    // A value with spaces or markup is one quoted, escaped word: the script's patterns judge it later.
    expect(ticketCommand(SOURCE, backup, t({ label: 'a <b> & c' })).text).toBe('run backup.sh "a &lt;b&gt; &amp; c"');
    expect(ticketCommand(SOURCE, fixed, t({})).text).toBe('run backup.sh weekly');
    expect(ticketCommand(SOURCE, migrate, t({ version: '0042' })).text).toBe('job migrate 0042');
    expect(ticketCommand(SOURCE, migrate, t({ version: '' })).text).toBe('job migrate');
    expect(ticketCommand(SOURCE, release, t({ version: 'v1.5.0' })).text).toBe('deploy web v1.5.0');
    // A missing field ends the arguments (trailing optional ones), but not before one that is given.
    expect(ticketCommand(SOURCE, two, t({ a: '1' })).text).toBe('run slow.sh 1');
    expect(() => ticketCommand(SOURCE, two, t({ b: '2' }))).toThrow('fields.a is missing, but a later argument of action two is given');
    expect(() => ticketCommand(SOURCE, release, t({}))).toThrow('fields.version is missing: action release deploys the tag it holds');
    expect(() => ticketCommand(SOURCE, release, t({ version: 'v1 ; rm' }))).toThrow(/^fields\.version is not an image tag/);
    // The same action and values give the same canonical body; other values another (a retry vs a conflict).
    expect(ticketCommand(SOURCE, backup, t({ label: 'a' })).canonical).toBe(ticketCommand(SOURCE, backup, t({ label: 'a', other: 'x' })).canonical);
    expect(ticketCommand(SOURCE, backup, t({ label: 'a' })).canonical).not.toBe(ticketCommand(SOURCE, backup, t({ label: 'b' })).canonical);
  });
});

describe('webhooks: configuration', () => {
  const base = () => structuredClone(getConfig()) as unknown as Record<string, any>;
  const problems = (webhooks: unknown): string[] => {
    try {
      parseConfig({ ...base(), webhooks });
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
  };
  const hook = (actions: unknown[]) => ({ jira: { secretParam: '/ecs-chatops/webhooks/jira', channel: 'C0OPS', actions } });

  it('accepts the example configuration’s source', () => {
    expect(Object.keys(getConfig().webhooks)).toEqual(['tickets']);
  });

  it('refuses actions naming nothing declared, two kinds, too many arguments, a repeated name, no condition', () => {
    expect(problems(hook([{ name: 'a', when: { s: 'x' }, run: 'nope.sh' }]))).toEqual(['webhooks.jira.actions.0.run: no script `nope.sh`']);
    expect(problems(hook([{ name: 'a', when: { s: 'x' }, job: 'nope' }]))).toEqual(['webhooks.jira.actions.0.job: no job `nope`']);
    expect(problems(hook([{ name: 'a', when: { s: 'x' }, deploy: 'nope', tag: { field: 'v' } }]))).toEqual([
      'webhooks.jira.actions.0.deploy: no target `nope`',
    ]);
    expect(problems(hook([{ name: 'a', when: { s: 'x' }, deploy: 'web' }]))).toEqual([
      'webhooks.jira.actions.0.tag: a deploy needs the image tag (`{ field: … }`)',
    ]);
    expect(problems(hook([{ name: 'a', when: { s: 'x' }, run: 'backup.sh', deploy: 'web' }]))).toEqual([
      'webhooks.jira.actions.0: give exactly one of run (a script), job or deploy (a target)',
    ]);
    expect(problems(hook([{ name: 'a', when: { s: 'x' }, run: 'backup.sh', args: [{ value: '1' }, { value: '2' }] }]))).toEqual([
      'webhooks.jira.actions.0.args: script `backup.sh` takes at most 1 arguments',
    ]);
    expect(
      problems(
        hook([
          { name: 'a', when: { s: 'x' }, run: 'backup.sh' },
          { name: 'a', when: { s: 'y' }, run: 'backup.sh' },
        ]),
      ),
    ).toEqual(['webhooks.jira.actions.1.name: `a` is used by another action of this source']);
    expect(problems(hook([{ name: 'a', when: {}, run: 'backup.sh' }]))[0]).toMatch(/^webhooks\.jira\.actions\.0\.when: name at least one field/);
    expect(problems({ Jira: hook([])['jira'] })[0]).toMatch(/^webhooks\.Jira \(the name\)/);
    expect(
      problems({ jira: { ...hook([{ name: 'a', when: { s: 'x' }, run: 'backup.sh' }]).jira, secretParam: '/ecs-chatops/webhooks/jira/previous' } }),
    ).toEqual(['webhooks.jira.secretParam: may not end in /previous: that name holds the secret being rotated out of another source’s parameter']);
    expect(problems({ jira: { ...hook([{ name: 'a', when: { s: 'x' }, run: 'backup.sh' }]).jira, team: 'T0OTHER' } })).toEqual([
      'webhooks.jira.team: `T0OTHER` is not one of slack.teams',
    ]);
  });
});

/** The webhook handler against in-memory stores, its clock movable; refusals draw on the production bucket sizes. */
function setup(overrides: Partial<WebhookDeps> = {}) {
  const audit = memoryAudit();
  const state = memoryState();
  const submitted: unknown[] = [];
  const metrics: string[] = [];
  let clock = NOW;
  const config: Config = { ...getConfig(), webhooks: { jira: SOURCE, other: { ...SOURCE, secretParam: '/ecs-chatops/webhooks/other' } } };
  const webhooks = createWebhooks({
    config: () => config,
    secrets: { get: async (name) => ({ [SOURCE.secretParam]: { current: 'shh' }, '/ecs-chatops/webhooks/other': { current: 'other-shh' } })[name] },
    secretsPath: () => '/ecs-chatops/webhooks',
    state,
    audit: () => audit,
    rateLimiter: { take: async () => ({ allowed: true }) },
    submit: async (requester, command) => {
      submitted.push({ requester, command });
      return { statusCode: 202, body: { id: 'r1', state: 'accepted', thread: null } };
    },
    refusals: createRefusalGate({
      limiter: memoryRateLimiter(WEBHOOK_REFUSAL_AUDIT_LIMIT, () => clock),
      countRefusal: (audit) => metrics.push(audit),
      now: () => clock,
    }),
    now: () => clock,
    ...overrides,
  });
  const send = (body: string, secret = 'shh', source = 'jira') => {
    const ts = String(Math.floor(clock / 1000));
    return webhooks.handle({
      rawPath: `/api/webhooks/${source}`,
      pathParameters: { source },
      requestContext: { http: { method: 'POST', sourceIp: '203.0.113.9' } },
      headers: { 'x-ecs-chatops-timestamp': ts, 'x-ecs-chatops-signature': signatureOf(secret, ts, body) },
      body,
    });
  };
  return { send, audit, state, submitted, metrics, advance: (ms: number) => void (clock += ms) };
}

describe('webhooks: the handler’s refusals that need no world', () => {
  const ticket = JSON.stringify({ ticket: { id: 'CHG-9' }, fields: { type: 'maintenance', status: 'approved', label: 'nightly' } });

  it('hands the matching action to submit as the source, named webhook:<source>, with the ticket', async () => {
    const { send, submitted } = setup();
    const res = await send(ticket);
    expect(res.statusCode).toBe(202);
    expect(JSON.parse(res.body)).toMatchObject({ id: 'r1', action: 'backup', ticket: 'CHG-9' });
    expect(submitted).toEqual([
      {
        requester: expect.objectContaining({ userId: 'webhook:jira', name: 'webhook:jira', origin: { via: 'webhook', source: 'jira', ticket: 'CHG-9' } }),
        command: expect.objectContaining({ text: 'run backup.sh nightly', idempotencyKey: 'CHG-9:backup' }),
      },
    ]);
  });

  it('answers 503 (nothing ran) for a secret it may not or cannot read, and frees the replay claim', async () => {
    const outside = setup({ secretsPath: () => '/somewhere/else' });
    expect((await outside.send(ticket)).statusCode).toBe(503);
    expect(outside.audit.records[0]).toMatchObject({ reason: 'the source’s secret could not be read', outcome: 'refused' });
    const failing = setup({
      secrets: {
        get: async () => {
          throw new Error('SSM down');
        },
      },
    });
    expect((await failing.send(ticket)).statusCode).toBe(503);
    expect(failing.submitted).toEqual([]);

    const down = setup({ submit: async () => ({ statusCode: 503, body: { error: 'unavailable', message: 'nothing ran' } }) });
    expect((await down.send(ticket)).statusCode).toBe(503);
    expect([...down.state.items.keys()].filter((k) => k.startsWith('webhook#replay#'))).toEqual([]);
  });

  it('answers 429 when the source is over its rate, before anything is claimed or run', async () => {
    const { send, state, submitted } = setup({ rateLimiter: { take: async () => ({ allowed: false, retryAfterSeconds: 7 }) } });
    const res = await send(ticket);
    expect(res.statusCode).toBe(429);
    expect(JSON.parse(res.body).message).toContain('7 s');
    expect(state.items.size).toBe(0);
    expect(submitted).toEqual([]);
  });
});

describe('webhooks: a secret being rotated', () => {
  const ticket = JSON.stringify({ ticket: { id: 'CHG-9' }, fields: { type: 'maintenance', status: 'approved', label: 'nightly' } });
  const rotating = (previous?: string) => ({ get: async () => ({ current: 'new-shh', ...(previous ? { previous } : {}) }) });

  it('accepts the previous secret beside the current one, and hands submit which one signed (for the audit)', async () => {
    const { send, submitted } = setup({ secrets: rotating('shh') });
    expect((await send(ticket, 'shh')).statusCode).toBe(202);
    expect((await send(ticket, 'new-shh')).statusCode).toBe(202);
    expect(submitted.map((s) => (s as { requester: { audit: unknown } }).requester.audit)).toEqual([
      { via: 'webhook', ticket: 'CHG-9', signedWith: 'previous' },
      { via: 'webhook', ticket: 'CHG-9', signedWith: 'current' },
    ]);
  });

  it('logs which secret signed, readable (the logger masks keys that look secret), never the secret', async () => {
    const info = vi.spyOn(log, 'info');
    try {
      const { send } = setup({ secrets: rotating('shh') });
      await send(ticket, 'shh');
      const fields = info.mock.calls.find(([message]) => message === 'webhook signature verified')?.[1];
      expect(redact(fields)).toEqual({ source: 'jira', ticket: 'CHG-9', action: 'backup', signedWith: 'previous' });
      expect(redact({ audit: { signedWith: 'previous' } })).toEqual({ audit: { signedWith: 'previous' } });
    } finally {
      info.mockRestore();
    }
  });

  it('refuses the old secret once the previous one is gone, as any wrong signature', async () => {
    const { send, submitted, audit } = setup({ secrets: rotating() });
    expect((await send(ticket, 'shh')).statusCode).toBe(401);
    expect(submitted).toEqual([]);
    expect(audit.records[0]).toMatchObject({ userId: 'webhook:jira', outcome: 'refused', reason: 'signature mismatch' });
    expect(JSON.stringify(audit.records)).not.toContain('shh');
  });
});

describe('webhooks: a flood of refusals does not fill the audit', () => {
  // The handler above, its refusals drawing on a bucket per source (src/webhooks/refusals.ts).
  const flood = () => {
    const w = setup();
    const send = (source: string, body: string, secret: string) => w.send(body, secret, source);
    const submitted = () =>
      (w.submitted as Array<{ requester: { userId: string }; command: { idempotencyKey: string } }>).map(
        (x) => `${x.requester.userId} ${x.command.idempotencyKey}`,
      );
    return { ...w, send, submitted };
  };
  const ticketOf = (id: string) => JSON.stringify({ ticket: { id }, fields: { type: 'maintenance', status: 'approved', label: 'nightly' } });
  const { burst } = WEBHOOK_REFUSAL_AUDIT_LIMIT;

  it('audits at most the bucket of 100 bad signatures, answers every one alike, counts them all; the source’s good webhook still runs once', async () => {
    const w = flood();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => w.send('jira', ticketOf(`CHG-${i}`), 'wrong')));
    for (const res of answers) expect(res).toEqual(answers[0]);
    expect(answers[0]!.statusCode).toBe(401);
    expect(w.audit.records).toHaveLength(burst);
    expect(w.audit.records.every((r) => r.reason === 'signature mismatch' && r.userId === 'webhook:jira')).toBe(true);
    expect(w.metrics.filter((m) => m === 'recorded')).toHaveLength(burst);
    expect(w.metrics.filter((m) => m === 'suppressed')).toHaveLength(100 - burst);

    // The flood spent nothing a signed request needs: it runs, and its replay is refused (and not run again).
    const good = ticketOf('CHG-GOOD');
    expect((await w.send('jira', good, 'shh')).statusCode).toBe(202);
    expect((await w.send('jira', good, 'shh')).statusCode).toBe(401);
    expect(w.audit.records.at(-1)).toMatchObject({ reason: 'replayed request (its signature was seen already)' });
    expect((await w.send('other', ticketOf('CHG-OTHER'), 'other-shh')).statusCode).toBe(202);
    expect(w.submitted()).toEqual(['webhook:jira CHG-GOOD:backup', 'webhook:other CHG-OTHER:backup']);
  });

  it('writes one summary with the count once the bucket refills, beside the refusal that got the token', async () => {
    const w = flood();
    for (let i = 0; i < 40; i++) await w.send('jira', ticketOf(`CHG-${i}`), 'wrong');
    w.advance(60_000);
    expect((await w.send('jira', ticketOf('CHG-LATE'), 'wrong')).statusCode).toBe(401);
    expect(w.audit.records).toHaveLength(burst + 2);
    const [summary, refusal] = w.audit.records.slice(burst);
    expect(summary).toMatchObject({
      userId: 'webhook:jira',
      decision: 'denied',
      outcome: 'refused',
      reason: expect.stringMatching(/^30 more refusals from this source not audited one by one \(beyond 10 at once and 1 a minute\), between /),
      detail: { suppressed: 30, from: new Date(NOW).toISOString(), to: new Date(NOW).toISOString() },
    });
    expect(refusal).toMatchObject({ reason: 'signature mismatch' });
    // Counted once: the next refusal that is audited carries no summary.
    w.advance(60_000);
    await w.send('jira', ticketOf('CHG-LATER'), 'wrong');
    expect(w.audit.records).toHaveLength(burst + 3);
  });

  it('gives every unknown name one shared bucket (inventing names mints none), apart from the configured sources’', async () => {
    const w = flood();
    for (let i = 0; i < 50; i++) expect((await w.send(`made-up-${i}`, ticketOf(`CHG-${i}`), 'shh')).statusCode).toBe(401);
    expect(w.audit.records).toHaveLength(burst);
    expect(w.audit.records.every((r) => r.reason === 'unknown webhook source')).toBe(true);
    // The configured source's refusals are still audited: an attacker's flood of names hides nothing about it.
    await w.send('other', ticketOf('CHG-X'), 'wrong');
    expect(w.audit.records.at(-1)).toMatchObject({ userId: 'webhook:other', reason: 'signature mismatch' });
    w.advance(60_000);
    await w.send('made-up-late', ticketOf('CHG-Y'), 'shh');
    expect(w.audit.records.at(-2)).toMatchObject({
      userId: 'webhook:(unknown sources)',
      commandText: 'POST /api/webhooks/(unknown sources)',
      reason: expect.stringMatching(/^40 more refusals from unknown sources not audited one by one/),
    });
  });

  it('still answers 401 when the bucket cannot be read (throttled under the flood): counted, not audited', async () => {
    const throttled = Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ThrottlingException' });
    const metrics: string[] = [];
    const w = setup({
      refusals: createRefusalGate({
        limiter: {
          take: async () => {
            throw throttled;
          },
        },
        countRefusal: (a) => metrics.push(a),
        now: () => NOW,
      }),
    });
    const res = await w.send(ticketOf('CHG-T'), 'wrong');
    expect(res.statusCode).toBe(401);
    expect(w.audit.records).toEqual([]);
    expect(metrics).toEqual(['suppressed']);
  });
});
