/**
 * A local Slack Web API for tests and the local playground.
 *
 * It speaks the wire protocol @slack/web-api uses (form-urlencoded, JSON and multipart bodies,
 * `Authorization: Bearer`, `{ok:false,error}` replies, HTTP 429 + Retry-After), keeps a plain,
 * observable model of the workspace, records every call, and can inject faults. Error names follow
 * real Slack where they are documented, so the bot's error handling is exercised as in production.
 * Every message (chat.postMessage, chat.update, chat.postEphemeral, response_url posts, slash-command
 * answers) is judged as Slack judges it: Block Kit and text limits, in judge.ts.
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { judgeMessage, SlackRefusal, type JudgedMessage, type MessageKind } from './judge';

export interface SlackUser {
  id: string;
  name: string;
  realName: string;
  isBot: boolean;
  botId?: string;
  /** Deactivated: users.info still answers, with `deleted: true`. */
  deleted?: boolean;
  /** A member of another workspace seen through a shared channel (default: this workspace). */
  teamId?: string;
}
export interface SlackChannel {
  id: string;
  name: string;
  members: string[];
  isPrivate: boolean;
  isArchived: boolean;
}
export interface SlackReaction {
  name: string;
  users: string[];
}
/** A previous version of an edited message. */
export interface SlackEdit {
  text: string;
  blocks?: unknown[];
  replacedAt: number;
}
export interface SlackMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  user?: string;
  botId?: string;
  text: string;
  blocks?: unknown[];
  mrkdwn: boolean;
  edited?: { user: string; ts: string };
  history: SlackEdit[];
  reactions: SlackReaction[];
  files: string[];
}
export interface EphemeralMessage {
  channel: string;
  user: string;
  ts: string;
  threadTs?: string;
  text: string;
  blocks?: unknown[];
  source: 'api' | 'response_url' | 'command';
  key?: string;
}
export interface SlackFile {
  id: string;
  name: string;
  title: string;
  /** Length announced to files.getUploadURLExternal. */
  length: number;
  content: Buffer;
  uploaded: boolean;
  channel?: string;
  threadTs?: string;
  messageTs?: string;
}
export interface ResponseUrlPost {
  key: string;
  at: number;
  text?: string;
  blocks?: unknown[];
  responseType: 'ephemeral' | 'in_channel';
  replaceOriginal: boolean;
  deleteOriginal: boolean;
}
export interface ApiCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
  status: number;
  error?: string;
}

export interface SlackWorkspace {
  team: { id: string; name: string; domain: string };
  bot: { userId: string; botId: string; name: string };
  users: SlackUser[];
  channels: SlackChannel[];
  /** Per channel, in posting order; thread replies carry `threadTs`. */
  messages: Record<string, SlackMessage[]>;
  ephemerals: EphemeralMessage[];
  files: SlackFile[];
  responses: ResponseUrlPost[];
}

export interface ReactionEvent {
  user: string;
  reaction: string;
  item: { type: 'message'; channel: string; ts: string };
  itemUser?: string;
}
export interface SlackServerEvents {
  message: [SlackMessage];
  message_changed: [{ message: SlackMessage; previous: SlackEdit }];
  reaction_added: [ReactionEvent];
  reaction_removed: [ReactionEvent];
  ephemeral: [EphemeralMessage];
  /** An ephemeral message its response_url deleted or replaced. */
  ephemeral_deleted: [EphemeralMessage];
  file_shared: [SlackFile];
  response: [ResponseUrlPost];
  call: [ApiCall];
  /** Emitted after every other event, so one listener can observe any change. */
  change: [keyof SlackServerEvents];
}

/** Which calls of a method a fault is for, by their arguments (e.g. only posts that carry blocks). */
export type FaultMatch = (args: Record<string, unknown>) => boolean;

export interface SlackFaults {
  /** The next `times` calls of `method` ('*' = any) get HTTP 429, Retry-After and `ratelimited`. */
  rateLimit(method: string, times?: number, retryAfterSec?: number): void;
  /**
   * The next `times` calls of `method` ('*' = any), or of them only those `match` picks, get
   * `{ok:false,error}` (with `extra` fields, e.g. `response_metadata`).
   */
  fail(method: string, error: string, times?: number, match?: FaultMatch, extra?: Record<string, unknown>): void;
  /** Delay every request by `ms` before handling it (0 turns it off). */
  latency(ms: number): void;
  clear(): void;
}

export interface SlackServer {
  /** Base Web API URL ending with `/api/`: the WebClient's `slackApiUrl`. */
  readonly url: string;
  readonly origin: string;
  readonly workspace: SlackWorkspace;
  readonly calls: ApiCall[];
  readonly events: EventEmitter<SlackServerEvents>;
  readonly faults: SlackFaults;
  /** Resolves with the predicate's first truthy value, re-checked on every state change. */
  waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  /** A slash-command style response_url; `target` lets posts to it show up in the channel. */
  responseUrl(key: string, target?: { channel: string; user: string }): string;
  message(channel: string, ts: string): SlackMessage | undefined;
  /** The thread's replies (without the parent), oldest first. */
  replies(channel: string, threadTs: string): SlackMessage[];
  addReaction(userId: string, channel: string, ts: string, name: string): void;
  removeReaction(userId: string, channel: string, ts: string, name: string): void;
  /**
   * What Slack shows for a slash command's HTTP answer: an ephemeral message to the person who typed
   * it. The answer is judged as a message (Block Kit limits, text truncated past 40,000 characters);
   * one Slack refuses shows as Slack's `/ecs failed with the error "…"`, and is recorded in `calls`
   * as method `command_response` with the error.
   */
  /**
   * Shows a slash command's HTTP answer to the person who typed it. `key` is the command's
   * response_url key: that URL's `replace_original` / `delete_original` act on this answer.
   */
  showCommandAnswer(userId: string, channel: string, answer: { text?: string; blocks?: unknown[] }, command?: string, key?: string): EphemeralMessage;
  /** Simulate a person posting in Slack. */
  postAsUser(userId: string, channel: string, text: string, threadTs?: string): SlackMessage;
  close(): Promise<void>;
}

export interface SlackServerOptions {
  port?: number;
  host?: string;
  /** Accepted bot tokens; by default any token starting with `xoxb-`. */
  tokens?: string[];
  /** Clock for `calls[].at` and edit history; tests share it with the code under test. */
  now?: () => number;
}

/** A Slack-style method failure: `{ok:false, error, ...extra}`. */
class ApiFailure extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
    readonly status = 200,
  ) {
    super(error);
  }
}

const RESPONSE_URL_USES = 5; // Slack: "up to 5 times within 30 minutes"
const MAX_BODY_BYTES = 256 * 1024 * 1024;

export function createWorkspace(): SlackWorkspace {
  const bot = { userId: 'U0BOT', botId: 'B0BOT', name: 'ecs-chatops' };
  const people = ['U0ALICE alice Alice Liddell', 'U0BOB bob Bob Builder', 'U0MALLORY mallory Mallory Malicious'];
  const users: SlackUser[] = people.map((p) => {
    const [id = '', name = '', ...real] = p.split(' ');
    return { id, name, realName: real.join(' '), isBot: false };
  });
  users.push({ id: bot.userId, name: bot.name, realName: 'ECS ChatOps', isBot: true, botId: bot.botId });
  const humans = users.filter((u) => !u.isBot).map((u) => u.id);
  return {
    team: { id: 'T0LOCAL', name: 'Local Workspace', domain: 'local-workspace' },
    bot,
    users,
    channels: [
      { id: 'C0OPS', name: 'ops', members: [...humans, bot.userId], isPrivate: false, isArchived: false },
      { id: 'C0RANDOM', name: 'random', members: [...humans], isPrivate: false, isArchived: false },
    ],
    messages: { C0OPS: [], C0RANDOM: [] },
    ephemerals: [],
    files: [],
    responses: [],
  };
}

export async function startSlackServer(options: SlackServerOptions = {}): Promise<SlackServer> {
  const now = options.now ?? Date.now;
  const ws = createWorkspace();
  const calls: ApiCall[] = [];
  const events = new EventEmitter<SlackServerEvents>();
  events.setMaxListeners(0);
  const emit = <K extends Exclude<keyof SlackServerEvents, 'change'>>(name: K, ...payload: SlackServerEvents[K]) => {
    (events.emit as (n: string, ...a: unknown[]) => boolean)(name, ...payload);
    events.emit('change', name);
  };

  // ---- faults -------------------------------------------------------------------------------
  type Fault = { method: string; remaining: number; match?: FaultMatch } & (
    | { kind: 'ratelimit'; retryAfter: number }
    | { kind: 'fail'; error: string; extra?: Record<string, unknown> }
  );
  let faultList: Fault[] = [];
  let latencyMs = 0;
  const faults: SlackFaults = {
    rateLimit: (method, times = 1, retryAfterSec = 1) => void faultList.push({ method, remaining: times, kind: 'ratelimit', retryAfter: retryAfterSec }),
    fail: (method, error, times = 1, match, extra) =>
      void faultList.push({ method, remaining: times, kind: 'fail', error, ...(match ? { match } : {}), ...(extra ? { extra } : {}) }),
    latency: (ms) => void (latencyMs = ms),
    clear: () => {
      faultList = [];
      latencyMs = 0;
    },
  };
  function takeFault(method: string, args: Record<string, unknown>): Fault | undefined {
    const fault = faultList.find((f) => (f.method === method || f.method === '*') && (!f.match || f.match(args)));
    if (fault && --fault.remaining <= 0) faultList = faultList.filter((f) => f !== fault);
    return fault;
  }

  // ---- state helpers ------------------------------------------------------------------------
  let micros = 0; // ts = seconds.micros from the clock, strictly increasing like Slack's
  const nextTs = () => {
    micros = Math.max(micros + 100, Math.floor(now() * 1000));
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  };
  let fileSeq = 0;
  const user = (id: unknown) => ws.users.find((u) => u.id === id);
  function channel(ref: unknown): SlackChannel {
    const name = typeof ref === 'string' ? ref.replace(/^#/, '') : '';
    const ch = ws.channels.find((c) => c.id === ref || c.name === name);
    if (!ch) throw new ApiFailure('channel_not_found');
    return ch;
  }
  function postable(ref: unknown): SlackChannel {
    const ch = channel(ref);
    if (ch.isArchived) throw new ApiFailure('is_archived');
    if (!ch.members.includes(ws.bot.userId)) throw new ApiFailure('not_in_channel');
    return ch;
  }
  const message = (ch: string, ts: string) => ws.messages[ch]?.find((m) => m.ts === ts);
  function mustMessage(ch: string, ts: unknown): SlackMessage {
    const msg = typeof ts === 'string' ? message(ch, ts) : undefined;
    if (!msg) throw new ApiFailure('message_not_found');
    return msg;
  }
  /** Replies go to the thread's root even when given a reply's ts, as Slack does. */
  function threadRoot(ch: string, ts: unknown): string | undefined {
    if (ts === undefined || ts === '') return undefined;
    const parent = typeof ts === 'string' ? message(ch, ts) : undefined;
    if (!parent) throw new ApiFailure('invalid_thread_ts');
    return parent.threadTs ?? parent.ts;
  }
  function addMessage(fields: Omit<SlackMessage, 'ts' | 'history' | 'reactions' | 'files' | 'mrkdwn'> & Partial<SlackMessage>): SlackMessage {
    const msg: SlackMessage = { ts: nextTs(), history: [], reactions: [], files: [], mrkdwn: true, ...fields };
    (ws.messages[msg.channel] ??= []).push(msg);
    emit('message', msg);
    return msg;
  }
  const botFields = () => ({ user: ws.bot.userId, botId: ws.bot.botId });

  function react(userId: string, chRef: string, ts: unknown, name: unknown, add: boolean): void {
    const ch = channel(chRef);
    const msg = mustMessage(ch.id, ts);
    if (typeof name !== 'string' || !/^[a-z0-9_+'-]+(::skin-tone-[2-6])?$/.test(name)) throw new ApiFailure('invalid_name');
    const reaction = msg.reactions.find((r) => r.name === name);
    const event: ReactionEvent = { user: userId, reaction: name, item: { type: 'message', channel: ch.id, ts: msg.ts }, itemUser: msg.user };
    if (add) {
      if (reaction?.users.includes(userId)) throw new ApiFailure('already_reacted');
      if (reaction) reaction.users.push(userId);
      else msg.reactions.push({ name, users: [userId] });
      emit('reaction_added', event);
    } else {
      if (!reaction?.users.includes(userId)) throw new ApiFailure('no_reaction');
      reaction.users = reaction.users.filter((u) => u !== userId);
      if (reaction.users.length === 0) msg.reactions = msg.reactions.filter((r) => r !== reaction);
      emit('reaction_removed', event);
    }
  }

  // ---- Web API methods ----------------------------------------------------------------------
  const toApi = (m: SlackMessage) => ({
    type: 'message',
    ts: m.ts,
    ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
    ...(m.user ? { user: m.user } : {}),
    ...(m.botId ? { bot_id: m.botId } : {}),
    text: m.text,
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.edited ? { edited: m.edited } : {}),
    ...(m.reactions.length ? { reactions: m.reactions.map((r) => ({ name: r.name, users: r.users, count: r.users.length })) } : {}),
    ...(m.files.length ? { files: m.files.map((id) => fileInfo(ws.files.find((f) => f.id === id)!)) } : {}),
  });
  const fileInfo = (f: SlackFile) => ({ id: f.id, name: f.name, title: f.title, size: f.content.length, url_private: `${origin}/files/${f.id}` });

  type Handler = (args: Record<string, unknown>) => Record<string, unknown>;
  const methods: Record<string, Handler> = {
    'auth.test': () => ({
      url: `${origin}/`,
      team: ws.team.name,
      user: ws.bot.name,
      team_id: ws.team.id,
      user_id: ws.bot.userId,
      bot_id: ws.bot.botId,
      is_enterprise_install: false,
    }),
    'chat.postMessage': (args) => {
      const ch = postable(args.channel);
      const { text, blocks, warning } = content(args, 'post');
      const msg = addMessage({
        channel: ch.id,
        threadTs: threadRoot(ch.id, args.thread_ts),
        ...botFields(),
        text: text ?? '',
        blocks,
        mrkdwn: bool(args.mrkdwn, true),
      });
      return { channel: ch.id, ts: msg.ts, message: toApi(msg), ...warning };
    },
    'chat.update': (args) => {
      const ch = channel(args.channel);
      const msg = mustMessage(ch.id, args.ts);
      if (msg.botId !== ws.bot.botId) throw new ApiFailure('cant_update_message');
      const { text, blocks } = content(args, 'update');
      const previous: SlackEdit = { text: msg.text, ...(msg.blocks ? { blocks: msg.blocks } : {}), replacedAt: now() };
      msg.history.push(previous);
      if (text !== undefined) msg.text = text;
      // Slack keeps the previous blocks when `blocks` is omitted; an empty array removes them.
      if (blocks !== undefined) msg.blocks = blocks.length ? blocks : undefined;
      msg.edited = { user: ws.bot.userId, ts: nextTs() };
      emit('message_changed', { message: msg, previous });
      return { channel: ch.id, ts: msg.ts, text: msg.text, message: toApi(msg) };
    },
    'chat.postEphemeral': (args) => {
      const ch = postable(args.channel);
      const target = user(args.user);
      if (!target) throw new ApiFailure('user_not_found');
      if (!ch.members.includes(target.id)) throw new ApiFailure('user_not_in_channel');
      const { text, blocks, warning } = content(args, 'post');
      const eph: EphemeralMessage = { channel: ch.id, user: target.id, ts: nextTs(), text: text ?? '', source: 'api' };
      const threadTs = threadRoot(ch.id, args.thread_ts);
      if (threadTs) eph.threadTs = threadTs;
      if (blocks) eph.blocks = blocks;
      ws.ephemerals.push(eph);
      emit('ephemeral', eph);
      return { message_ts: eph.ts, ...warning };
    },
    'chat.getPermalink': (args) => {
      const ch = channel(args.channel);
      const msg = mustMessage(ch.id, args.message_ts);
      const thread = msg.threadTs ? `?thread_ts=${msg.threadTs}&cid=${ch.id}` : '';
      return { channel: ch.id, permalink: `${origin}/archives/${ch.id}/p${msg.ts.replace('.', '')}${thread}` };
    },
    'reactions.add': (args) => (react(ws.bot.userId, str(args.channel), args.timestamp, args.name, true), {}),
    'reactions.remove': (args) => (react(ws.bot.userId, str(args.channel), args.timestamp, args.name, false), {}),
    'conversations.info': (args) => {
      const ch = channel(args.channel);
      // A private channel is invisible to a bot that is not in it.
      if (ch.isPrivate && !ch.members.includes(ws.bot.userId)) throw new ApiFailure('channel_not_found');
      return {
        channel: {
          id: ch.id,
          name: ch.name,
          is_channel: !ch.isPrivate,
          is_group: false,
          is_im: false,
          is_private: ch.isPrivate,
          is_archived: ch.isArchived,
          is_member: ch.members.includes(ws.bot.userId),
          num_members: ch.members.length,
        },
      };
    },
    'users.info': (args) => {
      const u = user(args.user);
      if (!u) throw new ApiFailure('user_not_found');
      return {
        user: {
          id: u.id,
          team_id: u.teamId ?? ws.team.id,
          name: u.name,
          real_name: u.realName,
          deleted: u.deleted ?? false,
          is_bot: u.isBot,
          profile: { real_name: u.realName, display_name: u.name, ...(u.botId ? { bot_id: u.botId } : {}) },
        },
      };
    },
    'files.getUploadURLExternal': (args) => {
      const name = str(args.filename);
      const length = Number(args.length);
      if (!name || !Number.isInteger(length) || length < 1) throw new ApiFailure('invalid_arguments');
      const id = `F0LOCAL${String(++fileSeq).padStart(4, '0')}`;
      ws.files.push({ id, name, title: name, length, content: Buffer.alloc(0), uploaded: false });
      return { upload_url: `${origin}/upload/v1/${id}`, file_id: id };
    },
    'files.completeUploadExternal': (args) => {
      const specs = json(args.files, 'invalid_arguments');
      if (!Array.isArray(specs) || specs.length === 0) throw new ApiFailure('invalid_arguments');
      const files = specs.map((spec: unknown) => {
        const id = isObject(spec) ? spec.id : undefined;
        const file = ws.files.find((f) => f.id === id);
        if (!file || !file.uploaded) throw new ApiFailure('file_not_found');
        if (isObject(spec) && typeof spec.title === 'string' && spec.title) file.title = spec.title;
        return file;
      });
      if (args.channel_id) {
        const ch = postable(args.channel_id);
        const threadTs = threadRoot(ch.id, args.thread_ts);
        const msg = addMessage({ channel: ch.id, threadTs, ...botFields(), text: str(args.initial_comment), files: files.map((f) => f.id) });
        for (const f of files) {
          Object.assign(f, { channel: ch.id, messageTs: msg.ts }, threadTs ? { threadTs } : {});
          emit('file_shared', f);
        }
      }
      return { files: files.map(fileInfo) };
    },
  };

  // ---- HTTP ---------------------------------------------------------------------------------
  function record(call: ApiCall): void {
    calls.push(call);
    emit('call', call);
  }
  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/plain' : 'application/json';
    res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, ...headers }).end(text);
  }
  /** Applies latency and faults; returns true when the request was answered by a fault. */
  async function injected(method: string, res: ServerResponse, call: ApiCall): Promise<boolean> {
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
    const fault = takeFault(method, call.args);
    if (!fault) return false;
    if (fault.kind === 'ratelimit') {
      send(res, 429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(fault.retryAfter) });
      record({ ...call, status: 429, error: 'ratelimited' });
    } else {
      send(res, 200, { ok: false, error: fault.error, ...fault.extra });
      record({ ...call, status: 200, error: fault.error });
    }
    return true;
  }

  async function handleApi(method: string, req: IncomingMessage, args: Record<string, unknown>, res: ServerResponse, at: number) {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
    const { token: _omit, ...shownArgs } = args;
    const call: ApiCall = { method, args: shownArgs, at, status: 200 };
    if (await injected(method, res, call)) return;
    let body: Record<string, unknown>;
    try {
      if (!token) throw new ApiFailure('not_authed');
      if (!(options.tokens ? options.tokens.includes(token) : token.startsWith('xoxb-'))) throw new ApiFailure('invalid_auth');
      const handler = methods[method];
      if (!handler) throw new ApiFailure('unknown_method');
      body = { ok: true, ...handler(args) };
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      body = { ok: false, error: err.error, ...err.extra };
    }
    send(res, 200, body);
    record({ ...call, ...(body.ok ? {} : { error: String(body.error) }) });
  }

  async function handleUpload(id: string, req: IncomingMessage, raw: Buffer, res: ServerResponse, at: number) {
    const call: ApiCall = { method: 'upload', args: { file_id: id }, at, status: 200 };
    if (await injected('upload', res, call)) return;
    const file = ws.files.find((f) => f.id === id);
    if (!file || file.uploaded) {
      send(res, 404, 'not_found');
      return record({ ...call, status: 404, error: 'not_found' });
    }
    // WebClient.filesUploadV2 posts multipart/form-data with the bytes in a part named "body";
    // curl-style clients use "file" or a raw body. Take the first file part, else the raw body.
    let content = raw;
    if (contentType(req) === 'multipart/form-data') {
      const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
      const part = [...form.values()].find((v) => typeof v !== 'string') as Blob | undefined;
      if (part) content = Buffer.from(await part.arrayBuffer());
    }
    file.content = content;
    file.uploaded = true;
    send(res, 200, `OK - ${content.length}`);
    record({ ...call, args: { file_id: id, bytes: content.length } });
  }

  async function handleResponseUrl(key: string, args: Record<string, unknown>, res: ServerResponse, at: number) {
    const call: ApiCall = { method: 'response_url', args: { key, ...args }, at, status: 200 };
    if (await injected('response_url', res, call)) return;
    const target = responseTargets.get(key);
    if (ws.responses.filter((r) => r.key === key).length >= RESPONSE_URL_USES) {
      send(res, 404, { ok: false, error: 'used_url' });
      return record({ ...call, status: 404, error: 'used_url' });
    }
    let judged: JudgedMessage;
    try {
      judged = content(args, 'response_url');
    } catch (err) {
      if (!(err instanceof ApiFailure)) throw err;
      send(res, err.status, { ok: false, error: err.error, ...err.extra });
      return record({ ...call, status: err.status, error: err.error });
    }
    const { text, blocks, warning } = judged;
    const post: ResponseUrlPost = {
      key,
      at,
      responseType: args.response_type === 'in_channel' ? 'in_channel' : 'ephemeral',
      replaceOriginal: bool(args.replace_original, false),
      deleteOriginal: bool(args.delete_original, false),
      ...(text !== undefined ? { text } : {}),
      ...(blocks ? { blocks } : {}),
    };
    ws.responses.push(post);
    emit('response', post);
    // A slash command's response_url acts on the ephemeral answers the command produced (its HTTP
    // answer and what this URL posted): `delete_original` removes the latest of them,
    // `replace_original` puts the new message in its place. With none shown yet, nothing changes:
    // the answer shown afterwards stays (so the bot must withdraw it only after the ack).
    if (post.deleteOriginal || post.replaceOriginal) {
      const original = ws.ephemerals.findLastIndex((e) => e.key === key);
      if (original >= 0) {
        const [gone] = ws.ephemerals.splice(original, 1);
        emit('ephemeral_deleted', gone!);
      }
      if (post.deleteOriginal) {
        send(res, 200, { ok: true });
        return record(call);
      }
    }
    if (target) {
      const text = post.text ?? '';
      if (post.responseType === 'in_channel') {
        addMessage({ channel: target.channel, ...botFields(), text, ...(blocks ? { blocks } : {}) });
      } else {
        const eph: EphemeralMessage = { channel: target.channel, user: target.user, ts: nextTs(), text, source: 'response_url', key };
        if (blocks) eph.blocks = blocks;
        ws.ephemerals.push(eph);
        emit('ephemeral', eph);
      }
    }
    send(res, 200, { ok: true, ...warning });
    record(call);
  }

  const responseTargets = new Map<string, { channel: string; user: string }>();
  const server = createServer((req, res) => {
    const at = now();
    void (async () => {
      const url = new URL(req.url ?? '/', origin);
      const path = url.pathname;
      try {
        const raw = await readBody(req);
        if (path.startsWith('/api/')) {
          const args = await parseArgs(req, url, raw).catch(() => undefined);
          if (!args) return send(res, 200, { ok: false, error: 'invalid_form_data' });
          return await handleApi(path.slice('/api/'.length), req, args, res, at);
        }
        if (path.startsWith('/upload/v1/') && req.method === 'POST') return await handleUpload(path.slice('/upload/v1/'.length), req, raw, res, at);
        if (path.startsWith('/response/') && req.method === 'POST') {
          const args = await parseArgs(req, url, raw);
          const payload = typeof args.payload === 'string' ? (JSON.parse(args.payload) as Record<string, unknown>) : args;
          return await handleResponseUrl(decodeURIComponent(path.slice('/response/'.length)), payload, res, at);
        }
        send(res, 404, 'not_found');
      } catch (err) {
        if (err instanceof ApiFailure) return send(res, err.status, { ok: false, error: err.error, ...err.extra });
        send(res, 500, { ok: false, error: 'internal_error', detail: String(err) });
      }
    })().catch(() => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${host}:${address.port}`;

  return {
    url: `${origin}/api/`,
    origin,
    workspace: ws,
    calls,
    events,
    faults,
    waitFor<T>(predicate: () => T | undefined | null | false, timeoutMs = 2000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const check = (): boolean => {
          let value: T | undefined | null | false;
          try {
            value = predicate();
          } catch (err) {
            stop();
            reject(err);
            return true;
          }
          if (value === undefined || value === null || value === false) return false;
          stop();
          resolve(value);
          return true;
        };
        const stop = () => {
          clearTimeout(timer);
          events.off('change', check);
        };
        if (check()) return;
        events.on('change', check);
        timer = setTimeout(() => {
          stop();
          reject(new Error(`waitFor: condition not met within ${timeoutMs} ms`));
        }, timeoutMs);
      });
    },
    responseUrl(key, target) {
      if (target) responseTargets.set(key, target);
      return `${origin}/response/${encodeURIComponent(key)}`;
    },
    message: (ch, ts) => message(ch, ts),
    replies: (ch, threadTs) => (ws.messages[ch] ?? []).filter((m) => m.threadTs === threadTs && m.ts !== threadTs),
    addReaction: (userId, ch, ts, name) => {
      if (!user(userId)) throw new ApiFailure('user_not_found');
      react(userId, ch, ts, name, true);
    },
    removeReaction: (userId, ch, ts, name) => react(userId, ch, ts, name, false),
    showCommandAnswer(userId, chRef, answer, command = '/ecs', key) {
      const ch = channel(chRef);
      const call: ApiCall = { method: 'command_response', args: { ...answer }, at: now(), status: 200 };
      let shown: JudgedMessage;
      try {
        shown = content(answer, 'post');
        record(call);
      } catch (err) {
        if (!(err instanceof ApiFailure)) throw err;
        shown = { text: `${command} failed with the error "${err.error}"` };
        record({ ...call, error: err.error });
      }
      const eph: EphemeralMessage = { channel: ch.id, user: userId, ts: nextTs(), text: shown.text ?? '', source: 'command', ...(key ? { key } : {}) };
      if (shown.blocks) eph.blocks = shown.blocks;
      ws.ephemerals.push(eph);
      emit('ephemeral', eph);
      return eph;
    },
    postAsUser(userId, chRef, text, threadTs) {
      const ch = channel(chRef);
      if (!user(userId)) throw new ApiFailure('user_not_found');
      return addMessage({ channel: ch.id, threadTs: threadRoot(ch.id, threadTs), user: userId, text });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        events.removeAllListeners();
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // the WebClient keeps connections alive
      }),
  };
}

// ---- request parsing and validation ---------------------------------------------------------
function contentType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiFailure('request_too_large', {}, 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function parseArgs(req: IncomingMessage, url: URL, raw: Buffer): Promise<Record<string, unknown>> {
  const args: Record<string, unknown> = Object.fromEntries(url.searchParams);
  if (raw.length === 0) return args;
  const type = contentType(req);
  if (type === 'application/json') return { ...args, ...(JSON.parse(raw.toString('utf8')) as Record<string, unknown>) };
  if (type === 'multipart/form-data') {
    const form = await new Response(raw, { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    for (const [key, value] of form) args[key] = typeof value === 'string' ? value : Buffer.from(await value.arrayBuffer());
    return args;
  }
  return { ...args, ...Object.fromEntries(new URLSearchParams(raw.toString('utf8'))) };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const bool = (v: unknown, fallback: boolean): boolean => (v === undefined ? fallback : v === true || v === 'true' || v === '1' || v === 1);

/** Form bodies carry arrays as JSON strings; JSON bodies carry them as arrays. */
function json(value: unknown, error: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw new ApiFailure(error);
  }
}

/** Judges a message as Slack does (see judge.ts), as this server's ApiFailure. */
function content(args: Record<string, unknown>, kind: MessageKind): JudgedMessage {
  try {
    return judgeMessage(args, kind);
  } catch (err) {
    if (err instanceof SlackRefusal) throw new ApiFailure(err.error, err.extra);
    throw err;
  }
}
