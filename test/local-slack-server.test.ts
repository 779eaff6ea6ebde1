import { ErrorCode, LogLevel, WebClient, type WebAPIPlatformError, type WebAPIRateLimitedError } from '@slack/web-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSlackServer, type ReactionEvent, type SlackServer } from '../local/slack/server';

let server: SlackServer;
let client: WebClient;

beforeEach(async () => {
  server = await startSlackServer();
  client = new WebClient('xoxb-test-token', { slackApiUrl: server.url, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
});
afterEach(async () => {
  await server.close();
});

/** The Slack error code of a rejected Web API call. */
async function slackError(call: Promise<unknown>): Promise<string> {
  const err = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as WebAPIPlatformError | undefined;
  expect(err?.code).toBe(ErrorCode.PlatformError);
  return err!.data.error;
}

describe('local Slack server', () => {
  it('listens on 127.0.0.1 and authenticates bot tokens', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
    const auth = await client.auth.test();
    expect(auth).toMatchObject({ ok: true, user_id: 'U0BOT', bot_id: 'B0BOT', team_id: server.workspace.team.id });

    expect(await slackError(new WebClient('xoxp-user', { slackApiUrl: server.url, retryConfig: { retries: 0 } }).auth.test())).toBe('invalid_auth');
    const anonymous = await fetch(`${server.url}auth.test`, { method: 'POST' });
    expect(await anonymous.json()).toEqual({ ok: false, error: 'not_authed' });
  });

  it('posts a parent and thread replies, records calls and emits message events', async () => {
    const seen: string[] = [];
    server.events.on('message', (m) => seen.push(m.ts));
    const parent = await client.chat.postMessage({ channel: 'C0OPS', text: '<@U0ALICE> ran `/ecs status web`' });
    const reply = await client.chat.postMessage({
      channel: 'C0OPS',
      thread_ts: parent.ts!,
      text: 'first',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*first*' } }],
    });
    // Replying to a reply lands in the root thread, as in Slack.
    const nested = await client.chat.postMessage({ channel: '#ops', thread_ts: reply.ts!, text: 'second', mrkdwn: false });

    expect(parent.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(reply.ts)).toBeGreaterThan(Number(parent.ts));
    expect(seen).toEqual([parent.ts, reply.ts, nested.ts]);
    const replies = server.replies('C0OPS', parent.ts!);
    expect(replies.map((m) => [m.text, m.threadTs, m.botId, m.user])).toEqual([
      ['first', parent.ts, 'B0BOT', 'U0BOT'],
      ['second', parent.ts, 'B0BOT', 'U0BOT'],
    ]);
    expect(replies[0]!.blocks).toEqual([{ type: 'section', text: { type: 'mrkdwn', text: '*first*' } }]);
    expect(replies[1]!.mrkdwn).toBe(false);

    const posts = server.calls.filter((c) => c.method === 'chat.postMessage');
    expect(posts).toHaveLength(3);
    expect(posts[1]).toMatchObject({ status: 200, args: { channel: 'C0OPS', thread_ts: parent.ts, text: 'first' } });
    expect(posts[1]!.args).not.toHaveProperty('token');
    expect(await slackError(client.chat.postMessage({ channel: 'C0OPS', thread_ts: '1.000000', text: 'x' }))).toBe('invalid_thread_ts');
  });

  it('updates messages, keeping an edit history and emitting message_changed', async () => {
    const posted = await client.chat.postMessage({ channel: 'C0OPS', text: 'v1' });
    const changed = server.waitFor(() => server.message('C0OPS', posted.ts!)?.edited && server.message('C0OPS', posted.ts!));
    const events: string[] = [];
    server.events.on('message_changed', ({ message, previous }) => events.push(`${previous.text}->${message.text}`));

    await client.chat.update({ channel: 'C0OPS', ts: posted.ts!, text: 'v2' });
    await client.chat.update({ channel: 'C0OPS', ts: posted.ts!, text: 'v3' });

    const msg = await changed;
    expect(msg.text).toBe('v3');
    expect(msg.history.map((h) => h.text)).toEqual(['v1', 'v2']);
    expect(events).toEqual(['v1->v2', 'v2->v3']);
    expect(await slackError(client.chat.update({ channel: 'C0OPS', ts: posted.ts!, text: 'x'.repeat(4001) }))).toBe('msg_too_long');
    expect(await slackError(client.chat.update({ channel: 'C0OPS', ts: '1732435200.999999', text: 'x' }))).toBe('message_not_found');
    const human = server.postAsUser('U0BOB', 'C0OPS', 'hi');
    expect(await slackError(client.chat.update({ channel: 'C0OPS', ts: human.ts, text: 'x' }))).toBe('cant_update_message');
  });

  it('stores ephemeral messages for one user', async () => {
    const eph = server.waitFor(() => server.workspace.ephemerals[0]);
    const res = await client.chat.postEphemeral({ channel: 'C0OPS', user: 'U0ALICE', text: 'only you can see this' });
    expect(res.message_ts).toBeTruthy();
    expect(await eph).toMatchObject({ channel: 'C0OPS', user: 'U0ALICE', text: 'only you can see this', source: 'api' });
    server.workspace.channels.find((c) => c.id === 'C0OPS')!.members = ['U0BOT'];
    expect(await slackError(client.chat.postEphemeral({ channel: 'C0OPS', user: 'U0ALICE', text: 'x' }))).toBe('user_not_in_channel');
  });

  it('enforces channel membership and message limits', async () => {
    expect(await slackError(client.chat.postMessage({ channel: 'C0RANDOM', text: 'hi' }))).toBe('not_in_channel');
    expect(await slackError(client.chat.postMessage({ channel: 'C0NOPE', text: 'hi' }))).toBe('channel_not_found');
    const divider = { type: 'divider' };
    expect(await slackError(client.chat.postMessage({ channel: 'C0OPS', text: 't', blocks: Array(51).fill(divider) }))).toBe('msg_blocks_too_many');
    expect(
      await slackError(
        client.chat.postMessage({ channel: 'C0OPS', text: 't', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }] }),
      ),
    ).toBe('invalid_blocks');
    expect(await slackError(client.chat.postMessage({ channel: 'C0OPS', text: '' }))).toBe('no_text');
    server.workspace.channels.find((c) => c.id === 'C0OPS')!.isArchived = true;
    expect(await slackError(client.chat.postMessage({ channel: 'C0OPS', text: 'hi' }))).toBe('is_archived');
    expect(server.workspace.messages.C0OPS).toEqual([]);
  });

  it('accepts JSON bodies as well as form bodies', async () => {
    const res = await fetch(`${server.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-json', 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ channel: 'C0OPS', text: 'from json', blocks: [{ type: 'divider' }] }),
    });
    const body = (await res.json()) as { ok: boolean; ts: string };
    expect(body.ok).toBe(true);
    expect(server.message('C0OPS', body.ts)).toMatchObject({ text: 'from json', blocks: [{ type: 'divider' }] });
  });

  it('filesUploadV2 uploads the bytes and shares the file into the thread', async () => {
    const parent = await client.chat.postMessage({ channel: 'C0OPS', text: 'parent' });
    const content = Buffer.concat([Buffer.from('line 1\nline 2 ✓\n'), Buffer.from([0, 255, 254, 10])]);
    const shared = server.waitFor(() => server.workspace.files.find((f) => f.threadTs));
    const res = await client.filesUploadV2({
      channel_id: 'C0OPS',
      thread_ts: parent.ts!,
      file: content,
      filename: 'output.log',
      title: 'Full output',
      initial_comment: 'full log',
    });

    expect(res.ok).toBe(true);
    const file = await shared;
    expect(file).toMatchObject({ name: 'output.log', title: 'Full output', uploaded: true, channel: 'C0OPS', threadTs: parent.ts, length: content.length });
    expect(file.content.equals(content)).toBe(true);
    const [reply] = server.replies('C0OPS', parent.ts!);
    expect(reply).toMatchObject({ text: 'full log', files: [file.id], ts: file.messageTs });
    expect(server.calls.map((c) => c.method).slice(1)).toEqual(['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal']);

    // String content takes the same path.
    await client.filesUploadV2({ channel_id: 'C0OPS', content: 'plain text', filename: 'a.txt' });
    expect(server.workspace.files[1]!.content.toString()).toBe('plain text');
  });

  it('rejects completing an upload whose bytes never arrived, and sharing into a channel without the bot', async () => {
    const { file_id } = await client.files.getUploadURLExternal({ filename: 'x.txt', length: 3 });
    expect(await slackError(client.files.completeUploadExternal({ files: [{ id: file_id! }], channel_id: 'C0OPS' }))).toBe('file_not_found');
    const upload = await fetch(`${server.origin}/upload/v1/${file_id}`, { method: 'POST', body: 'abc' });
    expect(await upload.text()).toBe('OK - 3');
    expect(await slackError(client.files.completeUploadExternal({ files: [{ id: file_id! }], channel_id: 'C0RANDOM' }))).toBe('not_in_channel');
  });

  it('answers injected 429s with Retry-After, surfacing WebAPIRateLimitedError', async () => {
    server.faults.rateLimit('chat.postMessage', 2, 7);
    const err = (await client.chat.postMessage({ channel: 'C0OPS', text: 'hi' }).catch((e: unknown) => e)) as WebAPIRateLimitedError;
    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.retryAfter).toBe(7);

    const raw = await fetch(`${server.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-raw' },
      body: new URLSearchParams({ channel: 'C0OPS', text: 'hi' }),
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('7');
    expect(await raw.json()).toEqual({ ok: false, error: 'ratelimited' });

    // The fault is used up; other methods were never affected.
    await client.chat.postMessage({ channel: 'C0OPS', text: 'hi' });
    expect(server.calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(server.calls[0]).toMatchObject({ method: 'chat.postMessage', error: 'ratelimited' });
  });

  it('injects method failures and latency', async () => {
    server.faults.fail('chat.update', 'internal_error', 1);
    const posted = await client.chat.postMessage({ channel: 'C0OPS', text: 'a' });
    expect(await slackError(client.chat.update({ channel: 'C0OPS', ts: posted.ts!, text: 'b' }))).toBe('internal_error');
    await client.chat.update({ channel: 'C0OPS', ts: posted.ts!, text: 'b' });

    server.faults.latency(150);
    const t0 = Date.now();
    await client.auth.test();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    server.faults.clear();
  });

  it('tracks reactions from the bot and from simulated users', async () => {
    const posted = await client.chat.postMessage({ channel: 'C0OPS', text: 'Approval required' });
    const added: ReactionEvent[] = [];
    server.events.on('reaction_added', (e) => added.push(e));
    const removed = new Promise<ReactionEvent>((resolve) => server.events.once('reaction_removed', resolve));

    await client.reactions.add({ channel: 'C0OPS', timestamp: posted.ts!, name: 'eyes' });
    expect(await slackError(client.reactions.add({ channel: 'C0OPS', timestamp: posted.ts!, name: 'eyes' }))).toBe('already_reacted');
    server.addReaction('U0ALICE', 'C0OPS', posted.ts!, 'white_check_mark');
    server.addReaction('U0BOB', 'C0OPS', posted.ts!, 'white_check_mark');
    server.removeReaction('U0ALICE', 'C0OPS', posted.ts!, 'white_check_mark');
    await client.reactions.remove({ channel: 'C0OPS', timestamp: posted.ts!, name: 'eyes' });

    expect(added.map((e) => `${e.user}:${e.reaction}`)).toEqual(['U0BOT:eyes', 'U0ALICE:white_check_mark', 'U0BOB:white_check_mark']);
    expect(added[1]).toMatchObject({ item: { type: 'message', channel: 'C0OPS', ts: posted.ts }, itemUser: 'U0BOT' });
    expect(await removed).toMatchObject({ user: 'U0ALICE', reaction: 'white_check_mark' });
    expect(server.message('C0OPS', posted.ts!)!.reactions).toEqual([{ name: 'white_check_mark', users: ['U0BOB'] }]);
    expect(await slackError(client.reactions.remove({ channel: 'C0OPS', timestamp: posted.ts!, name: 'eyes' }))).toBe('no_reaction');
  });

  it('waitFor resolves on a later change and rejects on timeout', async () => {
    const later = server.waitFor(() => server.calls.find((c) => c.method === 'users.info'), 2000);
    const info = await client.users.info({ user: 'U0MALLORY' });
    expect(info.user).toMatchObject({ id: 'U0MALLORY', name: 'mallory', is_bot: false });
    expect((await later).args).toEqual({ user: 'U0MALLORY' });
    await expect(server.waitFor(() => false, 30)).rejects.toThrow(/within 30 ms/);
  });

  it('answers conversations.info, users.info and chat.getPermalink', async () => {
    expect((await client.conversations.info({ channel: 'C0RANDOM' })).channel).toMatchObject({ id: 'C0RANDOM', name: 'random', is_member: false });
    expect((await client.conversations.info({ channel: 'C0OPS' })).channel).toMatchObject({ name: 'ops', is_member: true });
    expect(await slackError(client.users.info({ user: 'U0NOBODY' }))).toBe('user_not_found');
    const parent = await client.chat.postMessage({ channel: 'C0OPS', text: 'p' });
    const reply = await client.chat.postMessage({ channel: 'C0OPS', text: 'r', thread_ts: parent.ts! });
    const link = await client.chat.getPermalink({ channel: 'C0OPS', message_ts: reply.ts! });
    expect(link.permalink).toBe(`${server.origin}/archives/C0OPS/p${reply.ts!.replace('.', '')}?thread_ts=${parent.ts}&cid=C0OPS`);
  });

  it('records response_url posts and shows them to the requester', async () => {
    const url = server.responseUrl('cmd-1', { channel: 'C0RANDOM', user: 'U0ALICE' });
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ text: "I'm not in #random", replace_original: false })).status).toBe(200);
    await post({ text: 'done', response_type: 'in_channel' });

    expect(server.workspace.responses.map((r) => [r.key, r.text, r.responseType])).toEqual([
      ['cmd-1', "I'm not in #random", 'ephemeral'],
      ['cmd-1', 'done', 'in_channel'],
    ]);
    expect(server.workspace.ephemerals).toEqual([
      expect.objectContaining({ channel: 'C0RANDOM', user: 'U0ALICE', text: "I'm not in #random", source: 'response_url', key: 'cmd-1' }),
    ]);
    expect(server.workspace.messages.C0RANDOM!.map((m) => m.text)).toEqual(['done']);
    for (let i = 0; i < 3; i++) await post({ text: `${i}` });
    expect((await post({ text: 'sixth' })).status).toBe(404); // Slack allows 5 uses
  });
});

/** What Slack answered for a refused call: `{ok:false, error, response_metadata, …}`, or undefined when it took it. */
async function refusal(call: Promise<unknown>): Promise<{ error: string; response_metadata?: { messages?: string[] } } | undefined> {
  const err = (await call.then(
    () => undefined,
    (e: unknown) => e,
  )) as WebAPIPlatformError | undefined;
  if (err === undefined) return undefined;
  expect(err.code).toBe(ErrorCode.PlatformError);
  return err.data as never;
}

const x = (n: number) => 'x'.repeat(n);
const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
const button = (extra: Record<string, unknown> = {}, label = 'Go') => ({
  type: 'button',
  text: { type: 'plain_text', text: label },
  action_id: 'go',
  ...extra,
});
const actions = (...elements: unknown[]) => ({ type: 'actions', elements });
const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });

/** Each documented limit: a message at the limit (taken) and one past it (refused, with Slack's error and message). */
const LIMIT_CASES: Array<{ name: string; ok: unknown[]; over: unknown[]; error: string; message: string }> = [
  {
    name: 'header text ≤ 150',
    ok: [{ type: 'header', text: { type: 'plain_text', text: x(150) } }],
    over: [{ type: 'header', text: { type: 'plain_text', text: x(151) } }],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 151 characters [json-pointer:/blocks/0/text/text]',
  },
  {
    name: 'header text is plain_text only',
    ok: [{ type: 'header', text: { type: 'plain_text', text: 'Hi' } }],
    over: [{ type: 'header', text: mrkdwn('*Hi*') }],
    error: 'invalid_blocks',
    message: '[ERROR] must be one of: plain_text [json-pointer:/blocks/0/text/type]',
  },
  {
    name: 'context ≤ 10 elements',
    ok: [{ type: 'context', elements: Array(10).fill(mrkdwn('a')) }],
    over: [{ type: 'context', elements: Array(11).fill(mrkdwn('a')) }],
    error: 'invalid_blocks',
    message: '[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/elements]',
  },
  {
    name: 'section fields ≤ 10',
    ok: [{ type: 'section', fields: Array(10).fill(mrkdwn('a')) }],
    over: [{ type: 'section', fields: Array(11).fill(mrkdwn('a')) }],
    error: 'invalid_blocks',
    message: '[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/fields]',
  },
  {
    name: 'section field ≤ 2000',
    ok: [{ type: 'section', fields: [mrkdwn(x(2000))] }],
    over: [{ type: 'section', fields: [mrkdwn('a'), mrkdwn(x(2001))] }],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/fields/1/text]',
  },
  {
    name: 'section text ≤ 3000',
    ok: [section(x(3000))],
    over: [section(x(3001))],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]',
  },
  {
    name: 'a section has text or fields',
    ok: [{ type: 'section', fields: [mrkdwn('a')] }],
    over: [{ type: 'section', block_id: 'empty' }],
    error: 'invalid_blocks',
    message: '[ERROR] must provide either text or fields [json-pointer:/blocks/0]',
  },
  {
    name: 'button text ≤ 75',
    ok: [actions(button({}, x(75)))],
    over: [actions(button({}, x(76)))],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]',
  },
  {
    name: 'button value ≤ 2000',
    ok: [actions(button({ value: x(2000) }))],
    over: [actions(button({ value: x(2001) }))],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/elements/0/value]',
  },
  {
    name: 'button url ≤ 3000',
    ok: [actions(button({ url: `https://e.example/${x(2982)}` }))],
    over: [actions(button({ url: `https://e.example/${x(2983)}` }))],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]',
  },
  {
    name: 'action_id ≤ 255',
    ok: [actions(button({ action_id: x(255) }))],
    over: [actions(button({ action_id: x(256) }))],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]',
  },
  {
    name: 'action_id unique in the message',
    ok: [actions(button({ action_id: 'a' })), actions(button({ action_id: 'b' }))],
    over: [actions(button({ action_id: 'a' })), actions(button({ action_id: 'a' }))],
    error: 'invalid_blocks',
    message: '[ERROR] duplicate action_id: a [json-pointer:/blocks/1/elements/0/action_id]',
  },
  {
    name: 'block_id ≤ 255',
    ok: [{ type: 'divider', block_id: x(255) }],
    over: [{ type: 'divider', block_id: x(256) }],
    error: 'invalid_blocks',
    message: '[ERROR] must be less than 256 characters [json-pointer:/blocks/0/block_id]',
  },
  {
    name: 'block_id unique in the message',
    ok: [
      { type: 'divider', block_id: 'a' },
      { type: 'divider', block_id: 'b' },
    ],
    over: [{ type: 'divider', block_id: 'a' }, section('s'), { type: 'divider', block_id: 'a' }],
    error: 'invalid_blocks',
    message: '[ERROR] duplicate block_id: a [json-pointer:/blocks/2/block_id]',
  },
  {
    name: 'actions ≤ 25 elements',
    ok: [actions(...Array.from({ length: 25 }, (_, i) => button({ action_id: `b${i}` })))],
    over: [actions(...Array.from({ length: 26 }, (_, i) => button({ action_id: `b${i}` })))],
    error: 'invalid_blocks',
    message: '[ERROR] no more than 25 items allowed [json-pointer:/blocks/0/elements]',
  },
  {
    name: '≤ 50 blocks',
    ok: Array(50).fill({ type: 'divider' }),
    over: Array(51).fill({ type: 'divider' }),
    error: 'msg_blocks_too_many',
    message: '[ERROR] no more than 50 items allowed [json-pointer:/blocks]',
  },
  {
    name: 'known block types only',
    ok: [{ type: 'divider' }],
    over: [{ type: 'divider' }, { type: 'fancy', text: mrkdwn('x') }],
    error: 'invalid_blocks',
    message: '[ERROR] unsupported type: fancy [json-pointer:/blocks/1/type]',
  },
  {
    name: 'known element types only',
    ok: [actions(button())],
    over: [actions(button(), { type: 'slider', action_id: 's' })],
    error: 'invalid_blocks',
    message: '[ERROR] unsupported type: slider [json-pointer:/blocks/0/elements/1/type]',
  },
];

describe('local Slack server judges messages as Slack does', () => {
  it.each(LIMIT_CASES)('$name: at the limit taken, past it refused, on every way of posting', async ({ ok, over, error, message }) => {
    const parent = await client.chat.postMessage({ channel: 'C0OPS', text: 'parent' });
    const responseUrl = server.responseUrl('judge', { channel: 'C0OPS', user: 'U0ALICE' });
    const viaResponseUrl = async (blocks: unknown[]) => {
      const res = await fetch(responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 't', blocks, replace_original: false }),
      });
      const body = (await res.json()) as { ok: boolean; error: string; response_metadata?: { messages?: string[] } };
      return body.ok ? undefined : body;
    };
    const ways: Record<string, (blocks: unknown[]) => Promise<{ error: string; response_metadata?: { messages?: string[] } } | undefined>> = {
      'chat.postMessage': (blocks) => refusal(client.chat.postMessage({ channel: 'C0OPS', text: 't', blocks: blocks as never })),
      'chat.update': (blocks) => refusal(client.chat.update({ channel: 'C0OPS', ts: parent.ts!, text: 't', blocks: blocks as never })),
      'chat.postEphemeral': (blocks) => refusal(client.chat.postEphemeral({ channel: 'C0OPS', user: 'U0ALICE', text: 't', blocks: blocks as never })),
      response_url: viaResponseUrl,
    };
    for (const [way, send] of Object.entries(ways)) {
      expect(await send(ok), `${way} takes the message at the limit`).toBeUndefined();
      const refused = await send(over);
      expect(refused?.error, `${way} refuses past the limit`).toBe(error);
      expect(refused?.response_metadata?.messages).toContain(message);
    }
    // A slash command's HTTP answer: Slack shows its own error to the person instead.
    expect(server.showCommandAnswer('U0ALICE', 'C0OPS', { text: 't', blocks: ok }).blocks).toEqual(ok);
    expect(server.showCommandAnswer('U0ALICE', 'C0OPS', { text: 't', blocks: over })).toMatchObject({
      text: `/ecs failed with the error "${error}"`,
      source: 'command',
    });
    expect(server.calls.filter((c) => c.method === 'command_response').map((c) => c.error)).toEqual([undefined, error]);
    // Nothing refused reached the channel.
    expect(server.workspace.messages.C0OPS!.filter((m) => m.blocks !== undefined && JSON.stringify(m.blocks) === JSON.stringify(over))).toEqual([]);
  });

  it('truncates text over 40,000 characters on posts (with the message_truncated warning) and refuses it over 4,000 on chat.update', async () => {
    const exactly = await client.chat.postMessage({ channel: 'C0OPS', text: x(40_000) });
    expect(exactly.warning).toBeUndefined();
    expect(server.message('C0OPS', exactly.ts!)!.text).toHaveLength(40_000);

    const long = await client.chat.postMessage({ channel: 'C0OPS', text: `${x(39_999)}é😀tail` });
    expect(long).toMatchObject({ ok: true, warning: 'message_truncated', response_metadata: { warnings: ['message_truncated'] } });
    expect(long.response_metadata?.messages).toEqual(['[WARN] Your message was truncated but still posted. The `text` field accepts up to 40,000 characters.']);
    expect(server.message('C0OPS', long.ts!)!.text).toBe(`${x(39_999)}é`); // counted in characters, an emoji is one

    const eph = await client.chat.postEphemeral({ channel: 'C0OPS', user: 'U0ALICE', text: x(40_001) });
    expect(eph.warning).toBe('message_truncated');
    expect(server.workspace.ephemerals.at(-1)!.text).toHaveLength(40_000);
    const url = server.responseUrl('long', { channel: 'C0OPS', user: 'U0ALICE' });
    const viaUrl = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: x(40_001) }) });
    expect(await viaUrl.json()).toMatchObject({ ok: true, warning: 'message_truncated' });
    expect(server.workspace.responses.at(-1)!.text).toHaveLength(40_000);
    expect(server.showCommandAnswer('U0ALICE', 'C0OPS', { text: x(40_001) }).text).toHaveLength(40_000);

    await client.chat.update({ channel: 'C0OPS', ts: exactly.ts!, text: x(4_000) });
    expect(await slackError(client.chat.update({ channel: 'C0OPS', ts: exactly.ts!, text: x(4_001) }))).toBe('msg_too_long');
    expect(server.message('C0OPS', exactly.ts!)!.text).toHaveLength(4_000);
  });

  it('refuses an empty message (no text, no blocks, no attachments) with no_text, everywhere', async () => {
    const parent = await client.chat.postMessage({ channel: 'C0OPS', text: 'parent' });
    expect(await slackError(client.chat.postMessage({ channel: 'C0OPS', text: '' }))).toBe('no_text');
    expect(await slackError(client.chat.postMessage({ channel: 'C0OPS', text: '', blocks: [] }))).toBe('no_text');
    expect(await slackError(client.chat.update({ channel: 'C0OPS', ts: parent.ts!, text: '' }))).toBe('no_text');
    expect(await slackError(client.chat.postEphemeral({ channel: 'C0OPS', user: 'U0ALICE', text: '' }))).toBe('no_text');
    const url = server.responseUrl('empty', { channel: 'C0OPS', user: 'U0ALICE' });
    const post = (body: unknown) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());
    expect(await post({ replace_original: true })).toMatchObject({ ok: false, error: 'no_text' });
    expect(await post({ delete_original: true })).toMatchObject({ ok: true }); // deleting needs no text
    expect(server.calls.filter((c) => c.method === 'response_url').map((c) => c.error)).toEqual(['no_text', undefined]);

    // Blocks alone, or attachments alone, are a message.
    await client.chat.postMessage({ channel: 'C0OPS', blocks: [section('only blocks')] } as never);
    await client.chat.postMessage({ channel: 'C0OPS', attachments: [{ text: 'only an attachment' }] } as never);
    expect(server.workspace.messages.C0OPS!.map((m) => m.blocks?.length ?? 0)).toEqual([0, 1, 0]);
  });

  it('lets a test refuse only the calls it picks, with Slack-shaped extras', async () => {
    const messages = ['[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]'];
    server.faults.fail('chat.postMessage', 'invalid_blocks', 1, (args) => args.blocks !== undefined, { response_metadata: { messages } });
    await client.chat.postMessage({ channel: 'C0OPS', text: 'plain text passes' });
    expect(await refusal(client.chat.postMessage({ channel: 'C0OPS', text: 't', blocks: [section('with blocks')] }))).toMatchObject({
      error: 'invalid_blocks',
      response_metadata: { messages },
    });
    await client.chat.postMessage({ channel: 'C0OPS', text: 't', blocks: [section('used up')] });
  });
});
