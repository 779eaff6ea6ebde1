import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema';
import { createIngress } from '../src/ingress/ingress';
import type { HttpEvent } from '../src/ingress/http';
import { signedSlackEvent, slashCommandBody } from '../local/slack/sign';
import { memoryAllowlist, memoryAudit, memoryJobs, memoryState } from './support/fakes';

const SECRET = 'test-signing-secret';
const config = parseConfig({
  slack: { teams: ['T1'] },
  targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } },
});

function setup(options: { failDispatch?: number } = {}) {
  const allowlist = memoryAllowlist([
    { teamId: 'T1', userId: 'U0ALICE', grants: [{ role: 'operator', services: ['web'] }] },
    { teamId: 'T1', userId: 'U0ADMIN', grants: [{ role: 'admin', services: ['*'] }] },
  ]);
  const audit = memoryAudit();
  const jobs = memoryJobs({ failTimes: options.failDispatch ?? 0 });
  const state = memoryState();
  const responses: Array<{ url: string; text: string }> = [];
  const core = createIngress({
    config: () => config,
    secrets: async () => ({ signingSecret: SECRET, botToken: 'xoxb-test' }),
    allowlist,
    audit: () => audit,
    jobs,
    state,
    respond: async (url, message) => void responses.push({ url, text: message.text }),
    channelAccess: async () => ({ canPost: true }),
    now: Date.now,
  });
  return { ingress: core.handleHttp, allowlist, audit, jobs, state, responses };
}

const slash = (text: string, user = 'U0ALICE', extra: Partial<Parameters<typeof signedSlackEvent>[0]> = {}) =>
  signedSlackEvent({
    signingSecret: SECRET,
    contentType: 'application/x-www-form-urlencoded',
    body: slashCommandBody({ teamId: 'T1', userId: user, channelId: 'C0OPS', text }),
    ...extra,
  });

const answer = (res: { body: string }) => JSON.parse(res.body) as { response_type: string; text: string };

describe('ingress: authenticity', () => {
  let world: ReturnType<typeof setup>;
  beforeEach(() => {
    world = setup();
  });

  it('answers a correctly signed command', async () => {
    const res = await world.ingress(slash('help'));
    expect(res.statusCode).toBe(200);
    expect(answer(res)).toMatchObject({ response_type: 'ephemeral' });
    expect(answer(res).text).toContain('/ecs status &lt;service&gt;'); // escaped: Slack would read <service> as markup
  });

  it('rejects a tampered body, a wrong secret, missing headers, and runs nothing', async () => {
    const tampered = slash('help');
    tampered.body = tampered.body!.replace('help', 'status+web');
    const wrongSecret = signedSlackEvent({
      signingSecret: 'other',
      contentType: 'application/x-www-form-urlencoded',
      body: slashCommandBody({ teamId: 'T1', userId: 'U0ALICE', channelId: 'C1', text: 'status web' }),
    });
    const unsigned: HttpEvent = { ...slash('help'), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    for (const event of [tampered, wrongSecret, unsigned]) {
      expect((await world.ingress(event)).statusCode).toBe(401);
    }
    expect(world.audit.records).toHaveLength(0);
    expect(world.jobs.jobs).toHaveLength(0);
    expect(world.allowlist.reads).toBe(0);
  });

  it('rejects stale and future timestamps outside the 5-minute window', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await world.ingress(slash('help', 'U0ALICE', { timestampSec: now - 301 }))).statusCode).toBe(401);
    expect((await world.ingress(slash('help', 'U0ALICE', { timestampSec: now + 301 }))).statusCode).toBe(401);
    expect((await world.ingress(slash('help', 'U0ALICE', { timestampSec: now - 290 }))).statusCode).toBe(200);
  });

  it('decodes base64 bodies as UTF-8, so emoji and accents verify', async () => {
    const body = JSON.stringify({ type: 'url_verification', challenge: 'héllo 🚀' });
    const res = await world.ingress(signedSlackEvent({ signingSecret: SECRET, contentType: 'application/json', body, base64: true }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ challenge: 'héllo 🚀' });
  });

  it('answers 400 to malformed bodies', async () => {
    const badJson = signedSlackEvent({ signingSecret: SECRET, contentType: 'application/json', body: '{not json' });
    const noCommand = signedSlackEvent({ signingSecret: SECRET, contentType: 'application/x-www-form-urlencoded', body: 'team_id=T1' });
    const badPayload = signedSlackEvent({ signingSecret: SECRET, contentType: 'application/x-www-form-urlencoded', body: 'payload=%7Bnope' });
    const missingFields = signedSlackEvent({ signingSecret: SECRET, contentType: 'application/x-www-form-urlencoded', body: 'command=%2Fecs&text=help' });
    for (const event of [badJson, noCommand, badPayload, missingFields]) expect((await world.ingress(event)).statusCode).toBe(400);
  });
});

describe('ingress: replays', () => {
  it('runs a replayed signed command once, and audits the replay', async () => {
    const world = setup();
    const request = slash('status web');
    const first = await world.ingress(request);
    expect(answer(first).text).toContain('Working on');
    const replay = await world.ingress(structuredClone(request));
    expect(replay).toMatchObject({ statusCode: 200, body: '' });
    expect(world.jobs.jobs).toHaveLength(1);
    expect(world.audit.records.at(-1)).toMatchObject({
      userId: 'U0ALICE',
      decision: 'denied',
      outcome: 'refused',
      reason: expect.stringContaining('replayed request'),
    });
    // The same words typed again are a new request (Slack gives each its own trigger_id): it runs.
    expect(answer(await world.ingress(slash('status web'))).text).toContain('Working on');
    expect(world.jobs.jobs).toHaveLength(2);
  });

  it('runs a replayed button click once', async () => {
    const world = setup();
    const payload = {
      type: 'block_actions',
      team: { id: 'T1' },
      user: { id: 'U0ALICE' },
      channel: { id: 'C0OPS' },
      trigger_id: '1.2.3',
      actions: [{ action_id: 'ecs:rerun', value: 'status web' }],
    };
    const click = signedSlackEvent({
      signingSecret: SECRET,
      contentType: 'application/x-www-form-urlencoded',
      body: `payload=${encodeURIComponent(JSON.stringify(payload))}`,
    });
    await world.ingress(click);
    await world.ingress(structuredClone(click));
    expect(world.jobs.jobs).toHaveLength(1);
    expect(world.audit.records.filter((r) => r.reason?.includes('replayed'))).toHaveLength(1);
  });

  it('accepts only the canonical signature header: v0= and 64 lowercase hex digits', async () => {
    const world = setup();
    const valid = slash('help');
    const signature = valid.headers!['x-slack-signature']!;
    // Bolt's verifier splits on `=`: a valid hash followed by `=…` would pass it.
    for (const spelling of [`${signature}=x`, `${signature}=`, signature.toUpperCase().replace('V0=', 'v0='), ` ${signature}`, `v1=${signature.slice(3)}`]) {
      const res = await world.ingress({ ...valid, headers: { ...valid.headers, 'x-slack-signature': spelling } });
      expect(res.statusCode, spelling).toBe(401);
    }
    expect(world.jobs.jobs).toHaveLength(0);
    expect((await world.ingress(valid)).statusCode).toBe(200);
  });
});

describe('ingress: commands', () => {
  it('suggests the closest verb for an unknown one, audits it, and dispatches nothing', async () => {
    const world = setup();
    const res = await world.ingress(slash('stauts web'));
    expect(answer(res).text).toMatch(/Unknown command `stauts`\. Did you mean `status`\?/);
    expect(world.jobs.jobs).toHaveLength(0);
    expect(world.audit.records[0]).toMatchObject({ decision: 'invalid', outcome: 'refused', commandText: '/ecs stauts web' });
  });

  it('denies a user who is not on the allowlist, naming what is missing, and audits it', async () => {
    const world = setup();
    const res = await world.ingress(slash('status web', 'U0MALLORY'));
    expect(answer(res).text).toContain('Not allowed: you are not on the allowlist');
    expect(world.jobs.jobs).toHaveLength(0);
    // Refused before the request is read further: nothing about the service is looked up or told.
    expect(world.audit.records[0]).toMatchObject({
      userId: 'U0MALLORY',
      decision: 'denied',
      outcome: 'refused',
      verb: 'status',
      reason: 'you are not on the allowlist',
    });
  });

  it('denies an admin-only command to an operator', async () => {
    const world = setup();
    expect(answer(await world.ingress(slash('allowlist'))).text).toContain('you need the `admin` role');
  });

  it('hands an allowed status to the worker after one allowlist read, and acks ephemerally', async () => {
    const world = setup();
    const res = await world.ingress(slash('status web'));
    expect(answer(res)).toMatchObject({ response_type: 'ephemeral' });
    expect(answer(res).text).toContain('Working on `/ecs status web`');
    expect(world.allowlist.reads).toBe(1);
    expect(world.jobs.jobs).toHaveLength(1);
    const job = world.jobs.jobs[0]!;
    expect(job).toMatchObject({ kind: 'command', invocation: { userId: 'U0ALICE', channelId: 'C0OPS', text: 'status web' } });
    expect(world.audit.records[0]).toMatchObject({ decision: 'allowed', outcome: 'accepted', verb: 'status' });
    if (job.kind === 'command') expect(job.audit.sk).toContain(world.audit.records[0]!.id);
  });

  it('answers whoami and the allowlist in the ack, without the worker', async () => {
    const world = setup();
    expect(answer(await world.ingress(slash('whoami'))).text).toContain('*operator* on `web`');
    expect(answer(await world.ingress(slash('whoami', 'U0NOBODY'))).text).toContain('not on the allowlist');
    const list = answer(await world.ingress(slash('allowlist', 'U0ADMIN'))).text;
    expect(list).toContain('<@U0ALICE>: *operator* on `web`');
    expect(world.jobs.jobs).toHaveLength(0);
  });

  it('refuses a workspace that is not configured', async () => {
    const world = setup();
    const event = signedSlackEvent({
      signingSecret: SECRET,
      contentType: 'application/x-www-form-urlencoded',
      body: slashCommandBody({ teamId: 'T9OTHER', userId: 'U0ALICE', channelId: 'C1', text: 'status web' }),
    });
    expect(answer(await world.ingress(event)).text).toContain('not set up for this Slack workspace');
    expect(world.jobs.jobs).toHaveLength(0);
  });

  it('re-runs a command from a button, authorising the person who clicked', async () => {
    const world = setup();
    const payload = (user: string) =>
      JSON.stringify({
        type: 'block_actions',
        team: { id: 'T1' },
        user: { id: user },
        channel: { id: 'C0OPS' },
        response_url: 'https://hooks.slack.com/actions/x',
        actions: [{ action_id: 'ecs:rerun', value: 'status web' }],
      });
    const click = (user: string) =>
      signedSlackEvent({ signingSecret: SECRET, contentType: 'application/x-www-form-urlencoded', body: `payload=${encodeURIComponent(payload(user))}` });
    expect((await world.ingress(click('U0ALICE'))).statusCode).toBe(200);
    expect(world.jobs.jobs).toHaveLength(1);
    expect((await world.ingress(click('U0MALLORY'))).statusCode).toBe(200);
    expect(world.jobs.jobs).toHaveLength(1);
    expect(world.responses.map((r) => r.text)).toEqual([expect.stringContaining('Working on'), expect.stringContaining('Not allowed')]);
  });
});

describe('ingress: events', () => {
  const reaction = (eventId: string, user = 'U0BOB', ts = '1700000000.000100', team = 'T1') =>
    signedSlackEvent({
      signingSecret: SECRET,
      contentType: 'application/json',
      body: JSON.stringify({
        type: 'event_callback',
        team_id: team,
        event_id: eventId,
        authorizations: [{ user_id: 'U0BOT' }],
        event: { type: 'reaction_added', user, reaction: 'white_check_mark::skin-tone-2', item: { type: 'message', channel: 'C0OPS', ts } },
      }),
    });

  it('routes a reaction on a tracked message to the worker exactly once, despite retries', async () => {
    const world = setup();
    world.state.items.set('tracked#C0OPS#1700000000.000100', { pk: 'tracked#C0OPS#1700000000.000100', kind: 'approval' });
    for (let i = 0; i < 3; i++) expect((await world.ingress(reaction('Ev1'))).statusCode).toBe(200);
    expect(world.jobs.jobs).toHaveLength(1);
    expect(world.jobs.jobs[0]).toMatchObject({ kind: 'reaction', eventId: 'Ev1', userId: 'U0BOB', added: true, channelId: 'C0OPS' });
  });

  it('ignores reactions on untracked messages and the bot’s own reactions', async () => {
    const world = setup();
    await world.ingress(reaction('Ev2', 'U0BOB', '1.2'));
    world.state.items.set('tracked#C0OPS#1700000000.000100', { kind: 'approval' });
    await world.ingress(reaction('Ev3', 'U0BOT'));
    expect(world.jobs.jobs).toHaveLength(0);
  });

  it('releases the claim when the hand-off fails, so Slack’s retry is not lost', async () => {
    const world = setup({ failDispatch: 1 });
    world.state.items.set('tracked#C0OPS#1700000000.000100', { kind: 'approval' });
    expect((await world.ingress(reaction('Ev4'))).statusCode).toBe(500);
    expect((await world.ingress(reaction('Ev4'))).statusCode).toBe(200);
    expect(world.jobs.jobs).toHaveLength(1);
  });

  it('audits events from a workspace it does not serve, and hands nothing on', async () => {
    const world = setup();
    world.state.items.set('tracked#C0OPS#1700000000.000100', { kind: 'approval' });
    expect((await world.ingress(reaction('Ev5', 'U0EVE', '1700000000.000100', 'T9'))).statusCode).toBe(200);
    expect(world.jobs.jobs).toHaveLength(0);
    expect(world.audit.records).toEqual([
      expect.objectContaining({
        teamId: 'T9',
        userId: 'U0EVE',
        channelId: 'C0OPS',
        decision: 'denied',
        outcome: 'refused',
        reason: 'workspace not configured',
      }),
    ]);
  });
});

describe('ingress: the 3-second promise when a dependency fails or hangs', () => {
  const never = () => new Promise<never>(() => undefined);
  const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' }));
  const throttled = () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));

  function faulty(fault: {
    get?: () => Promise<never>;
    claim?: () => Promise<never>;
    dispatch?: () => Promise<never>;
    secrets?: () => Promise<never>;
    record?: () => Promise<never>;
  }) {
    const world = setup();
    const responses: string[] = [];
    const core = createIngress({
      config: () => config,
      secrets: fault.secrets ?? (async () => ({ signingSecret: SECRET, botToken: 'xoxb-test' })),
      allowlist: { ...world.allowlist, get: fault.get ?? world.allowlist.get },
      audit: () => ({ ...world.audit, record: fault.record ?? world.audit.record }),
      jobs: { dispatch: fault.dispatch ?? world.jobs.dispatch },
      state: {
        claim: (...a) => (fault.claim ?? world.state.claim)(...a),
        get: (key) => world.state.get(key),
        release: (...a) => world.state.release(...a),
        refresh: (...a) => world.state.refresh(...a),
        put: (...a) => world.state.put(...a),
        take: (key) => world.state.take(key),
      },
      respond: async (_url, message) => void responses.push(message.text),
      channelAccess: async () => ({ canPost: true }),
      now: Date.now,
      ackBudgetMs: 150,
    });
    const timed = async (event: HttpEvent) => {
      const started = Date.now();
      const res = await core.handleHttp(event);
      return { res, ms: Date.now() - started };
    };
    return { ...world, timed, responses };
  }

  it('DynamoDB refusing connections: HTTP 200 and a plain answer at once; nothing ran', async () => {
    const w = faulty({ get: refused });
    const { res, ms } = await w.timed(slash('status web'));
    expect(res.statusCode).toBe(200);
    expect(answer(res)).toMatchObject({
      response_type: 'ephemeral',
      text: "⚠️ I can't reach my allowlist right now (DynamoDB failed (ECONNREFUSED)), so nothing ran. Try again in a minute.",
    });
    expect(ms).toBeLessThan(150);
    expect(w.jobs.jobs).toHaveLength(0);
  });

  it('DynamoDB accepting connections and never answering: the answer comes when the budget ends', async () => {
    for (const [fault, what] of [
      [{ get: never }, 'my allowlist'],
      [{ claim: never }, 'my database'],
      [{ record: never }, 'my database'],
    ] as const) {
      const w = faulty(fault);
      const { res, ms } = await w.timed(slash('status web'));
      expect(answer(res).text).toBe(`⚠️ I can't reach ${what} right now (DynamoDB did not answer in time), so nothing ran. Try again in a minute.`);
      expect(ms).toBeGreaterThanOrEqual(140);
      expect(ms).toBeLessThan(600);
      expect(w.jobs.jobs).toHaveLength(0);
    }
  });

  it('slow SSM: the signing secret cannot be read in time, so nothing is trusted and nothing runs', async () => {
    const w = faulty({ secrets: never });
    const { res } = await w.timed(slash('status web'));
    expect(answer(res).text).toContain("I can't read my own settings right now (SSM did not answer in time), so nothing ran.");
    expect(w.audit.records).toHaveLength(0);
  });

  it('throttled Lambda Invoke: nothing ran, and the attempt is recorded as an error, not left "accepted"', async () => {
    const w = faulty({ dispatch: throttled });
    const { res } = await w.timed(slash('status web'));
    expect(answer(res).text).toBe(
      '⚠️ I could not hand your command to my worker (AWS Lambda failed (TooManyRequestsException)), so nothing ran. Try again in a minute.',
    );
    expect(w.audit.completions).toEqual([
      expect.objectContaining({ result: expect.objectContaining({ outcome: 'error', reason: expect.stringContaining('the worker could not be invoked') }) }),
    ]);
  });

  it('Lambda Invoke that never answers: the person is told it may have started', async () => {
    const w = faulty({ dispatch: never });
    const { res } = await w.timed(slash('status web'));
    expect(answer(res).text).toContain('I could not confirm that your command started');
    // Not an error: the worker may have been invoked, and then completes the record itself.
    expect(w.audit.completions[0]).toMatchObject({ result: { outcome: 'unconfirmed', reason: expect.stringContaining('unknown whether the worker started') } });
  });

  it('a button click is answered on its response_url; an event gets a 500 so that Slack delivers it again', async () => {
    const w = faulty({ get: refused });
    const payload = {
      type: 'block_actions',
      team: { id: 'T1' },
      user: { id: 'U0ALICE' },
      channel: { id: 'C0OPS' },
      response_url: 'https://hooks.slack.com/actions/x',
      actions: [{ action_id: 'ecs:rerun', value: 'status web' }],
    };
    const click = signedSlackEvent({
      signingSecret: SECRET,
      contentType: 'application/x-www-form-urlencoded',
      body: `payload=${encodeURIComponent(JSON.stringify(payload))}`,
    });
    expect((await w.timed(click)).res).toMatchObject({ statusCode: 200, body: '' });
    expect(w.responses).toEqual(["⚠️ I can't reach my allowlist right now (DynamoDB failed (ECONNREFUSED)), so nothing ran. Try again in a minute."]);
    expect(w.jobs.jobs).toHaveLength(0);

    // The replay claim itself hangs: the click is still answered on its response_url.
    const claims = faulty({ claim: never });
    expect((await claims.timed(click)).res).toMatchObject({ statusCode: 200, body: '' });
    expect(claims.responses).toEqual(["⚠️ I can't reach my database right now (DynamoDB did not answer in time), so nothing ran. Try again in a minute."]);

    const events = faulty({});
    events.state.get = never; // is the reacted-to message tracked? DynamoDB does not say
    const event = signedSlackEvent({
      signingSecret: SECRET,
      contentType: 'application/json',
      body: JSON.stringify({
        type: 'event_callback',
        team_id: 'T1',
        event_id: 'Ev9',
        event: { type: 'reaction_added', user: 'U0BOB', reaction: 'x', item: { type: 'message', channel: 'C0OPS', ts: '1.2' } },
      }),
    });
    expect((await events.timed(event)).res.statusCode).toBe(500);
  });
});
