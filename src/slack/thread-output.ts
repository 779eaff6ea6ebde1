/**
 * How every command answers in Slack. Slash commands cannot be used in threads, so a command posts
 * a parent message in the channel, streams its results into that message's thread and finally
 * marks the parent with the outcome.
 *
 * Log output (`write`) goes to "live" thread replies that are edited in place at most once per
 * second each. When those are full, the last one shows the latest lines and the full log is
 * uploaded as a file at the end. Rate limits are waited out only when the wait fits in the
 * Lambda's remaining time; otherwise delivery is deferred to `finish`, and whatever still cannot be
 * delivered is said in the thread: output is never lost silently.
 *
 * A reply Slack refuses for its content (too long, blocks over a Block Kit limit) is not lost
 * either: it goes to the thread as a file, with a short message saying why, and `refusals` says so
 * for the command's summary and audit.
 */
import { open } from 'node:fs/promises';
import { ErrorCode, type WebClient } from '@slack/web-api';
import { UserFacingError } from '../platform/errors';
import type { Logger } from '../platform/logger';
import { breakFences, code, escapeText, formatBytes, unescapeText } from './format';
import { SlackChannelError } from './channel-error';
import { uploadFiles, type UploadFile } from './upload';

export type Outcome = 'success' | 'warning' | 'failure' | 'cancelled';

export interface ThreadOutputOptions {
  /** From createSlackClient(): it must reject rate-limited calls, not sleep on them. */
  client: WebClient;
  channel: string;
  /** Lambda's context.getRemainingTimeInMillis: no wait may run past it. */
  remainingMs: () => number;
  /** At most one update per this interval per live message. Default 1000. */
  minUpdateIntervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Text budget of one live log reply (chat.update allows 4000). Default 3500, at least 400. */
  maxLiveChars?: number;
  /** Live log replies before the last one switches to showing only the latest lines. Default 4. */
  maxLiveMessages?: number;
  /** Characters of log kept in memory for the file (first fifth + latest rest). Default 5 MiB. */
  maxLogChars?: number;
  logger?: Logger;
}

export interface FinishResult {
  outcome: Outcome;
  /** One line for the parent message. */
  summary: string;
  /** The complete log on disk (e.g. a large exec spool): uploaded instead of the in-memory log. */
  logFile?: string;
}

const OUTCOME_EMOJI: Record<Outcome, string> = { success: '✅', warning: '⚠️', failure: '❌', cancelled: '🚫' };
/** A wait must end this long before the Lambda deadline, leaving time for the call after it. */
const SAFETY_MARGIN_MS = 1500;
/** chat.update rejects longer text, so every reply stays below it and remains editable. */
const MAX_TEXT = 4000;
const MAX_BLOCKS = 50;
const FENCE = '```';
/** Room in a live reply for our own lines around the code block ("… attached below" etc.). */
const NOTE_ROOM = 200;
const RATE_LIMIT_ATTEMPTS = 3;
const CHANNEL_ERRORS = new Set(['not_in_channel', 'channel_not_found', 'is_archived']);
/** Slack refused the message for what it holds: sending it again would be refused again. */
const REFUSED_CONTENT = new Set(['msg_too_long', 'invalid_blocks', 'invalid_blocks_format', 'msg_blocks_too_long', 'msg_blocks_too_many']);

/** Slack could not take a message in the time left; the message is written for people. */
class Undeliverable extends UserFacingError {}

interface LiveMessage {
  ts?: string;
  /** Escaped log text inside the code block. */
  body: string;
  /** Set once the reply shows only the latest lines. */
  tailOnly: boolean;
  note?: string;
  version: number;
  sentVersion: number;
  /** Earliest time of the next update: one per interval per message. */
  nextAt: number;
  /** A living message: shows this (the latest state of an activity) instead of log text. */
  state?: { text: string; blocks?: unknown[] };
}

/**
 * One reply that shows the current state of an activity (a rollout, a run's latest output, the
 * checks done so far), edited in place instead of followed by new replies. `update` is
 * synchronous and only the latest state is sent: at most one edit per interval, Retry-After
 * honoured, as for the live log. Its `ts` can be kept and passed to `ThreadOutput.living` by a
 * later Lambda (a durable workflow's next poll) to go on editing the same reply.
 */
export interface LivingMessage {
  readonly ts: string | undefined;
  update(text: string, blocks?: unknown[]): void;
  /** The last state, sent now (waiting out the interval if it must); buttons in it end with it. */
  close(text: string, blocks?: unknown[]): Promise<void>;
}

export class ThreadOutput {
  private readonly client: WebClient;
  private readonly channel: string;
  private readonly remainingMs: () => number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly interval: number;
  private readonly bodyBudget: number;
  private readonly maxLive: number;
  private readonly logger?: Logger;
  private log: LogBuffer;
  private readonly live: LiveMessage[] = [];
  /** Living messages (see LivingMessage), sent by the same pump as the live log. */
  private readonly states: LiveMessage[] = [];
  /** The live reply new log text goes to; cleared by post() so later log output starts below it. */
  private current?: LiveMessage;
  private overflowed = false;
  private liveStopped?: string;
  private pumping?: Promise<void>;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly blockedUntil = new Map<string, number>();
  private readonly unposted: string[] = [];
  private readonly problems: string[] = [];
  private readonly refused: string[] = [];
  private finished = false;

  private constructor(
    opts: ThreadOutputOptions,
    private _parentTs: string,
    private readonly parentText?: string,
    private readonly parentBlocks?: unknown[],
  ) {
    this.client = opts.client;
    this.channel = opts.channel;
    this.remainingMs = opts.remainingMs;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.interval = opts.minUpdateIntervalMs ?? 1000;
    this.bodyBudget = Math.min(Math.max(opts.maxLiveChars ?? 3500, 400), MAX_TEXT) - NOTE_ROOM - (FENCE.length * 2 + 2);
    this.maxLive = Math.max(opts.maxLiveMessages ?? 4, 1);
    this.log = new LogBuffer(opts.maxLogChars ?? 5 * 1024 * 1024);
    if (opts.logger) this.logger = opts.logger;
  }

  /** Posts the parent message in the channel; throws SlackChannelError when the bot can't. */
  static async start(opts: ThreadOutputOptions & { parentText: string; parentBlocks?: unknown[] }): Promise<ThreadOutput> {
    const out = new ThreadOutput(opts, '', opts.parentText, opts.parentBlocks);
    const res = await out.call('chat.postMessage', () =>
      opts.client.chat.postMessage({
        channel: opts.channel,
        text: clip(opts.parentText, MAX_TEXT),
        ...(opts.parentBlocks ? { blocks: opts.parentBlocks as never } : {}),
        unfurl_links: false,
        unfurl_media: false,
      }),
    );
    out._parentTs = res.ts!;
    return out;
  }

  /**
   * Continues in an existing thread (a later Lambda). Pass the parent's text/blocks to keep them
   * when marking the outcome; without them the parent's text becomes the outcome and summary.
   */
  static resume(opts: ThreadOutputOptions & { parentTs: string; parentText?: string; parentBlocks?: unknown[] }): ThreadOutput {
    return new ThreadOutput(opts, opts.parentTs, opts.parentText, opts.parentBlocks);
  }

  get parentTs(): string {
    return this._parentTs;
  }

  /** What could not be delivered so far (also said in the thread by finish). */
  get deliveryProblems(): readonly string[] {
    return this.problems;
  }

  /**
   * Replies Slack refused for their content and how each went out instead, for the command's
   * summary and audit: "Slack refused the message (invalid_blocks); the result is attached as a file".
   */
  get refusals(): readonly string[] {
    return this.refused;
  }

  /**
   * Posts a complete thread reply. Text is split at line boundaries into several replies when long;
   * blocks are sent 50 per reply. Returns the first reply's ts, or undefined when Slack could not
   * take it in the time left: the text is then kept and attached as a file by finish(). A reply
   * Slack refuses for its content (msg_too_long, invalid_blocks, …) is attached as a file at once,
   * with a message saying why (see `refusals`).
   */
  async post(text: string, blocks?: unknown[]): Promise<string | undefined> {
    if (!text && !blocks?.length) throw new Error('ThreadOutput.post needs text or blocks');
    this.current = undefined; // later log output starts a new live reply below this one
    return this.exclusive(async () => {
      await this.drainLive(false); // log lines written before this post appear above it
      const parts: Array<{ text: string; blocks?: unknown[] }> = blocks?.length
        ? chunk(blocks, MAX_BLOCKS).map((b, i) => ({ text: clip(i === 0 ? text : `${text.split('\n')[0]} (continued)`, MAX_TEXT), blocks: b }))
        : splitMessage(text, MAX_TEXT).map((t) => ({ text: t }));
      let first: string | undefined;
      for (const [i, part] of parts.entries()) {
        try {
          const res = await this.call('chat.postMessage', () =>
            this.client.chat.postMessage({
              channel: this.channel,
              thread_ts: this.parentTs,
              text: part.text,
              ...(part.blocks ? { blocks: part.blocks as never } : {}),
              unfurl_links: false,
              unfurl_media: false,
            }),
          );
          first ??= res.ts;
        } catch (err) {
          const refusal = refusedContent(err);
          if (refusal) {
            await this.attachRefused(part, refusal);
            continue;
          }
          if (!(err instanceof Undeliverable)) throw err;
          this.unposted.push(
            parts
              .slice(i)
              .map((p) => p.text)
              .join('\n'),
          );
          this.problems.push(`${parts.length - i} message(s) could not be posted: ${err.message}`);
          this.logger?.warn('thread reply not delivered', { reason: err.message });
          return first;
        }
      }
      return first;
    });
  }

  /**
   * A living message in the thread: posted now, below everything posted so far (or, with
   * `existingTs`, the reply a previous Lambda posted, edited from here on). Returns undefined
   * when Slack could not take it in the time left: the activity goes on without it.
   */
  async living(text: string, blocks?: unknown[], existingTs?: string): Promise<LivingMessage | undefined> {
    const msg: LiveMessage = {
      body: '',
      tailOnly: false,
      version: 1,
      sentVersion: 0,
      nextAt: 0,
      state: { text: clip(text, MAX_TEXT), ...(blocks ? { blocks } : {}) },
    };
    if (existingTs) {
      msg.ts = existingTs;
      msg.sentVersion = 1; // shown already; the first update edits it
    } else {
      this.current = undefined; // later log output starts below it
      const posted = await this.exclusive(async () => {
        await this.drainLive(false);
        try {
          await this.sendLive(msg);
          return true;
        } catch (err) {
          if (!(err instanceof Undeliverable)) throw err;
          this.problems.push(`a progress message could not be posted: ${err.message}`);
          return false;
        }
      });
      if (!posted) return undefined;
    }
    this.states.push(msg);
    const set = (t: string, b?: unknown[]) => {
      msg.state = { text: clip(t, MAX_TEXT), ...(b ? { blocks: b } : {}) };
      msg.version++;
    };
    return {
      get ts() {
        return msg.ts;
      },
      update: (t, b) => {
        if (this.finished) return;
        set(t, b);
        this.schedule();
      },
      close: async (t, b) => {
        set(t, b);
        await this.exclusive(async () => {
          try {
            await this.sendLive(msg);
          } catch (err) {
            this.problems.push(`a progress message could not be brought up to date: ${reason(err)}`);
            this.logger?.warn('living message not updated', { ts: msg.ts, error: err });
          }
        });
        this.states.splice(this.states.indexOf(msg), 1);
      },
    };
  }

  /**
   * A reply that carries a file (a run's full output): `text` is the file share's comment, so the
   * reply and its file are one message. If the file cannot go, `text` is posted alone and the
   * thread is told the file is missing (finish says so). Several files go in one share.
   */
  async postWithFile(text: string, fileOrFiles: UploadFile | readonly UploadFile[]): Promise<void> {
    const files = Array.isArray(fileOrFiles) ? fileOrFiles : [fileOrFiles as UploadFile];
    this.current = undefined;
    const shared = await this.exclusive(async () => {
      await this.drainLive(false);
      try {
        const signal = AbortSignal.timeout(Math.max(this.remainingMs() - SAFETY_MARGIN_MS, 1000));
        await this.call('files.upload', () =>
          uploadFiles(this.client, { channelId: this.channel, threadTs: this.parentTs, initialComment: clip(text, MAX_TEXT), files, signal }),
        );
        return true;
      } catch (err) {
        this.problems.push(`${files.map((f) => f.title ?? f.filename).join(', ')} could not be attached: ${reason(err)}`);
        this.logger?.error('file share failed; posting its comment alone', { error: err });
        return false;
      }
    });
    if (!shared) await this.post(text);
  }

  /** Appends to the live log. Synchronous: text is buffered and sent by a background pump. */
  write(text: string): void {
    if (!text) return;
    if (this.finished) {
      this.logger?.warn('ThreadOutput.write after finish ignored', { chars: text.length });
      return;
    }
    this.log.append(text);
    this.appendLive(escapeText(text)); // log output is raw text: Slack needs &, < and > escaped, even inside code blocks
    this.schedule();
  }

  /**
   * The caller keeps the complete log on disk and will pass it to `finish({ logFile })`: keep only
   * a small in-memory copy, so a run printing 100 MB does not churn the heap with a second one.
   */
  useLogFile(): void {
    if (this.log.bytes === 0) this.log = new LogBuffer(64 * 1024);
  }

  /** Sends pending log text now, still at most one update per interval per reply. */
  async flush(): Promise<void> {
    await this.exclusive(() => this.drainLive(false));
  }

  /**
   * Final flush, then the full log as a file if Slack did not show all of it, then the parent is
   * marked with the outcome. Never throws for delivery problems: the command has already run, and a
   * thrown error would make Lambda retry it. Problems are said in the thread's last reply.
   */
  async finish(result: FinishResult): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.exclusive(async () => {
      let logFile = result.logFile;
      let stats = { lines: this.log.lineCount, bytes: this.log.bytes };
      if (logFile) {
        try {
          stats = await fileStats(logFile);
        } catch (error) {
          this.logger?.error('log file unreadable; attaching the in-memory log', { logFile, error });
          logFile = undefined;
        }
      }
      const moreInFile = logFile !== undefined && stats.bytes > this.log.bytes;
      let needLog = this.overflowed || this.log.truncated || this.liveStopped !== undefined || moreInFile;
      const size = `${stats.lines} lines, ${formatBytes(stats.bytes)}`;
      const last = this.live.at(-1);
      if (needLog && last) {
        const trimmed = this.log.truncated && !logFile ? `, trimmed to ${formatBytes(this.log.cap)}` : '';
        this.setNote(last, `… full output (${size}${trimmed}) attached below`);
      }
      const liveProblem = await this.drainLive(true);
      if (liveProblem) needLog = true;

      let attached = false;
      if ((needLog && stats.bytes > 0) || this.unposted.length) {
        try {
          await this.upload(logFile, needLog && stats.bytes > 0, size);
          attached = true;
        } catch (err) {
          const what = needLog && stats.bytes > 0 ? `the full output (${size})` : 'the replies that could not be posted';
          this.problems.push(`${what} could not be attached: ${reason(err)}`);
          this.logger?.error('log upload failed', { error: err });
        }
      }
      if (liveProblem) this.problems.push(`the live log could not be fully updated (${liveProblem})${attached ? '; the full output is attached above' : ''}`);
      if (this.unposted.length && attached) this.problems.push('the replies that could not be posted are in the attached file');
      await this.markParent(result);
    });
  }

  /**
   * A reply Slack refused for its content goes to the thread as a file, with a short message saying
   * why. If the file cannot go either, the content is kept for finish() to attach with the others.
   */
  private async attachRefused(part: { text: string; blocks?: unknown[] }, refusal: { error: string; detail?: string }): Promise<void> {
    const content = part.blocks ? (blocksText(part.blocks) ?? part.text) : part.text;
    const why = `Slack refused the message (${refusal.error})`;
    this.logger?.warn('Slack refused a thread reply; attaching it as a file', { error: refusal.error, detail: refusal.detail, chars: content.length });
    const detail = refusal.detail ? `\nSlack said: ${code(refusal.detail)}` : '';
    try {
      const signal = AbortSignal.timeout(Math.max(this.remainingMs() - SAFETY_MARGIN_MS, 1000));
      const files: UploadFile[] = [
        { content: unescapeText(content), filename: `result-${this.parentTs}.txt`, title: 'The result (Slack refused it as a message)' },
      ];
      const initialComment = `⚠️ ${why}, so the result is attached as a file.${detail}`;
      await this.call('files.upload', () => uploadFiles(this.client, { channelId: this.channel, threadTs: this.parentTs, initialComment, files, signal }));
      this.refused.push(`${why}; the result is attached as a file`);
    } catch (err) {
      this.unposted.push(content);
      this.refused.push(`${why}; it could not be attached as a file either`);
      this.problems.push(`a reply was refused by Slack (${refusal.error}) and could not be attached right away: ${reason(err)}`);
      this.logger?.error('refused reply not attached', { error: err });
    }
  }

  // ---- live log ---------------------------------------------------------------------------

  private appendLive(text: string): void {
    while (text) {
      let msg = this.current;
      if (!msg) {
        if (this.live.length >= this.maxLive)
          msg = this.live.at(-1)!; // full: keep showing the latest lines there
        else this.live.push((msg = { body: '', tailOnly: false, version: 0, sentVersion: 0, nextAt: 0 }));
        this.current = msg;
      }
      // Broken again as a whole: a fence may arrive split over two writes.
      const combined = breakFences(msg.body + text);
      text = '';
      if (combined.length <= this.bodyBudget) {
        msg.body = combined;
      } else if (this.live.length >= this.maxLive) {
        // Bounded memory: the last reply keeps only the tail; the full log goes to the file.
        msg.body = tailOf(combined, this.bodyBudget);
        msg.tailOnly = true;
        this.overflowed = true;
      } else {
        const cut = cutPoint(combined, this.bodyBudget);
        msg.body = combined.slice(0, cut);
        text = combined.slice(cut);
        this.current = undefined;
      }
      msg.version++;
    }
  }

  private setNote(msg: LiveMessage, note: string): void {
    msg.note = note;
    msg.version++;
  }

  private schedule(): void {
    if (this.pumping || this.liveStopped || this.finished) return;
    this.pumping = this.pump()
      .catch((err) => this.logger?.error('live log pump failed', { error: err }))
      .finally(() => {
        this.pumping = undefined;
        // A write may have landed after the pump's last look.
        if (this.live.some(pending) || this.states.some(pending)) this.schedule();
      });
  }

  private async pump(): Promise<void> {
    while (!this.liveStopped && !this.finished) {
      const more = await this.exclusive(async () => {
        const all = [...this.live, ...this.states];
        const next = all.find((m) => pending(m) && m.ts === undefined) ?? minBy(all.filter(pending), (m) => m.nextAt);
        if (!next || this.liveStopped || this.finished) return false;
        try {
          await this.sendLive(next);
        } catch (err) {
          this.stopLive(err);
        }
        return true;
      });
      if (!more) return;
    }
  }

  /**
   * Sends every pending live reply in order. Returns why something could not be delivered, if so.
   * Before finish, a failure stops live updates (finish tries again); in finish it is reported.
   */
  private async drainLive(final: boolean): Promise<string | undefined> {
    if (this.liveStopped && !final) return this.liveStopped;
    let problem: string | undefined;
    for (const msg of [...this.live, ...this.states].filter(pending)) {
      try {
        await this.sendLive(msg);
      } catch (err) {
        if (!final) return this.stopLive(err);
        problem ??= reason(err);
        this.logger?.warn('live log reply not delivered', { ts: msg.ts, error: err });
        if (msg.ts === undefined) break; // later replies would land above it
      }
    }
    return problem;
  }

  private async sendLive(msg: LiveMessage): Promise<void> {
    await this.waitUntil(msg.nextAt, `the time left was too short to wait for the next live update`);
    const version = msg.version;
    const text = render(msg);
    // A living message's blocks go with every edit: an edit without them would keep the old ones.
    const blocks = msg.state ? { blocks: (msg.state.blocks ?? []) as never } : {};
    if (msg.ts === undefined) {
      const res = await this.call('chat.postMessage', () =>
        this.client.chat.postMessage({
          channel: this.channel,
          thread_ts: this.parentTs,
          text,
          ...(msg.state?.blocks ? blocks : {}),
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
      msg.ts = res.ts!;
    } else {
      const ts = msg.ts;
      await this.call('chat.update', () => this.client.chat.update({ channel: this.channel, ts, text, ...blocks }));
    }
    msg.sentVersion = version;
    msg.nextAt = this.now() + this.interval;
  }

  private stopLive(err: unknown): string {
    if (!(err instanceof Undeliverable) && !(err instanceof SlackChannelError)) this.logger?.error('live log update failed', { error: err });
    this.liveStopped ??= reason(err);
    this.logger?.warn('live log updates stopped', { reason: this.liveStopped });
    return this.liveStopped;
  }

  // ---- finish -----------------------------------------------------------------------------

  private async upload(logFile: string | undefined, includeLog: boolean, size: string): Promise<void> {
    const name = `output-${this.parentTs}`;
    const files: UploadFile[] = [
      ...(includeLog
        ? [
            logFile
              ? { path: logFile, filename: `${name}.txt`, title: `Full output (${size})` }
              : { content: this.log.text(), filename: `${name}.txt`, title: `Full output (${size})` },
          ]
        : []),
      ...(this.unposted.length ? [{ content: this.unposted.join('\n\n'), filename: `${name}-replies.txt`, title: 'Replies that could not be posted' }] : []),
    ];
    // Streamed from disk (filesUploadV2 would read a large log file into memory), and stopped in
    // time to mark the parent before the Lambda deadline.
    const signal = AbortSignal.timeout(Math.max(this.remainingMs() - SAFETY_MARGIN_MS, 1000));
    await this.call('files.upload', () => uploadFiles(this.client, { channelId: this.channel, threadTs: this.parentTs, files, signal }));
  }

  /** Marks the parent with the outcome; problems (and the outcome, if the parent can't be edited) go in a last reply. */
  private async markParent({ outcome, summary }: FinishResult): Promise<void> {
    const emoji = OUTCOME_EMOJI[outcome];
    const seeThread = this.problems.length ? ' _(some output did not reach Slack, see the thread)_' : '';
    // Without the original text (resumed without it) the parent becomes just the outcome.
    const headline = [emoji, this.parentText, this.parentText && summary ? '—' : '', summary].filter(Boolean).join(' ');
    const text = clip(headline, MAX_TEXT - seeThread.length) + seeThread;
    const blocks = this.parentBlocks && [
      ...this.parentBlocks.slice(0, MAX_BLOCKS - 1),
      { type: 'context', elements: [{ type: 'mrkdwn', text: clip(`${emoji} ${summary}${seeThread}`, 2900) }] },
    ];
    let parentFailed: string | undefined;
    try {
      await this.call('chat.update', () =>
        this.client.chat.update({ channel: this.channel, ts: this.parentTs, text, ...(blocks ? { blocks: blocks as never } : {}) }),
      );
    } catch (err) {
      parentFailed = reason(err);
      this.problems.push(`the command message could not be marked: ${parentFailed}`);
    }
    if (!this.problems.length) return;
    const lines = [...(parentFailed ? [`${emoji} ${summary}`] : []), '⚠️ Not all output reached Slack:', ...this.problems.map((p) => `• ${p}`)];
    try {
      await this.call('chat.postMessage', () =>
        this.client.chat.postMessage({ channel: this.channel, thread_ts: this.parentTs, text: clip(lines.join('\n'), MAX_TEXT) }),
      );
    } catch (err) {
      this.logger?.error('could not tell the thread about undelivered output', { error: err, problems: this.problems });
    }
  }

  // ---- Slack calls ------------------------------------------------------------------------

  /** Runs calls one at a time so replies keep their order in the thread. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private fits(ms: number): boolean {
    return ms <= this.remainingMs() - SAFETY_MARGIN_MS;
  }

  private async waitUntil(at: number, why: string): Promise<void> {
    const ms = at - this.now();
    if (ms <= 0) return;
    if (!this.fits(ms)) throw new Undeliverable(why);
    await this.sleep(ms);
  }

  /** One Web API call: waits out Retry-After when it fits before the deadline; maps channel errors. */
  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const blocked = this.blockedUntil.get(method) ?? 0;
      const wait = Math.ceil((blocked - this.now()) / 1000);
      await this.waitUntil(blocked, `Slack rate-limited ${method} for ${wait} s, longer than the time left`);
      try {
        return await fn();
      } catch (err) {
        const slackError = (err as { code?: string; data?: { error?: string } }).data?.error;
        if ((err as { code?: string }).code === ErrorCode.PlatformError && slackError && CHANNEL_ERRORS.has(slackError)) {
          throw new SlackChannelError(slackError, this.channel, { cause: err });
        }
        if ((err as { code?: string }).code !== ErrorCode.RateLimitedError) throw err;
        const retryAfter = Math.max((err as { retryAfter?: number }).retryAfter ?? 1, 1);
        this.blockedUntil.set(method, this.now() + retryAfter * 1000);
        this.logger?.warn('slack rate limited', { method, retryAfter, attempt, remainingMs: this.remainingMs() });
        if (attempt >= RATE_LIMIT_ATTEMPTS) throw new Undeliverable(`Slack kept rate-limiting ${method}`);
      }
    }
  }
}

// ---- text helpers ---------------------------------------------------------------------------

const pending = (m: LiveMessage) => m.version !== m.sentVersion && (m.body !== '' || m.state !== undefined);

function render(msg: LiveMessage): string {
  if (msg.state) return msg.state.text;
  const lines = [
    ...(msg.tailOnly ? ['_… earlier lines are in the full output; latest lines:_'] : []),
    `${FENCE}\n${msg.body.replace(/\n$/, '')}\n${FENCE}`,
    ...(msg.note ? [msg.note] : []),
  ];
  return lines.join('\n');
}

/** Where to split `s` so the head fits in `limit`: after the last newline that fits, else a hard cut. */
function cutPoint(s: string, limit: number): number {
  const nl = s.lastIndexOf('\n', limit - 1);
  return nl >= 0 ? nl + 1 : hardCut(s, limit);
}

/** A cut at or before `i` that splits neither a surrogate pair nor an &amp;-style entity. */
function hardCut(s: string, i: number): number {
  let cut = i;
  const amp = s.lastIndexOf('&', cut - 1);
  if (amp >= 0 && cut - amp < 5 && /^&(amp|lt|gt);/.test(s.slice(amp, amp + 5)) && s.indexOf(';', amp) >= cut) cut = amp;
  if (cut > 0 && isHighSurrogate(s.charCodeAt(cut - 1))) cut--;
  return cut > 0 ? cut : i;
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;

/** The latest whole lines of `s` that fit in `limit` (a hard cut only for one very long line). */
function tailOf(s: string, limit: number): string {
  const from = s.length - limit;
  const nl = s.indexOf('\n', from - 1);
  if (nl >= 0 && nl < s.length - 1) return s.slice(nl + 1);
  // One line longer than the limit: start at a safe point at or after `from`.
  let start = from;
  while (start < s.length && hardCut(s, start) !== start) start++;
  return s.slice(start);
}

/**
 * Splits text into messages of at most `limit` characters at line boundaries; a line longer than
 * the limit is split hard. Code blocks cut by a split are closed and reopened so both halves render.
 * Without fences, the parts concatenate back to the original text exactly.
 */
export function splitMessage(text: string, limit: number): string[] {
  if (text.length <= limit) return [text];
  const room = limit - (FENCE.length + 1) * 2; // a closing and a reopening fence may be added
  const parts: string[] = [];
  let rest = text;
  let open = false;
  while (rest) {
    const prefix = open ? `${FENCE}\n` : '';
    const cut = rest.length <= room - prefix.length ? rest.length : cutPoint(rest, room - prefix.length);
    const piece = rest.slice(0, cut);
    rest = rest.slice(cut);
    if ((piece.split(FENCE).length - 1) % 2 === 1) open = !open;
    parts.push(prefix + piece + (open && rest ? `${piece.endsWith('\n') ? '' : '\n'}${FENCE}` : ''));
  }
  return parts;
}

/** A Slack error that refuses the message for what it holds, with Slack's first explanation if any. */
function refusedContent(err: unknown): { error: string; detail?: string } | undefined {
  const e = err as { code?: string; data?: { error?: string; response_metadata?: { messages?: string[] } } };
  const error = e.data?.error;
  if (e.code !== ErrorCode.PlatformError || !error || !REFUSED_CONTENT.has(error)) return undefined;
  const detail = e.data?.response_metadata?.messages?.[0];
  return { error, ...(detail ? { detail: clip(detail, 300) } : {}) };
}

/** What blocks say, as text: the text of headers, sections (and their fields), context and markdown blocks. */
function blocksText(blocks: unknown[]): string | undefined {
  const text = (t: unknown) =>
    typeof t === 'object' && t !== null && typeof (t as { text?: unknown }).text === 'string' ? (t as { text: string }).text : undefined;
  const parts = blocks.flatMap((b) => {
    const block = b as { type?: string; text?: unknown; fields?: unknown[]; elements?: unknown[] };
    if (block.type === 'markdown') return typeof block.text === 'string' ? [block.text] : [];
    if (block.type === 'context') return [(block.elements ?? []).map(text).filter(Boolean).join(' ')];
    return [text(block.text), ...(block.fields ?? []).map(text)].filter((t): t is string => Boolean(t));
  });
  return parts.length ? parts.join('\n\n') : undefined;
}

function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, hardCut(text, limit - 1))}…`;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function minBy<T>(items: T[], key: (t: T) => number): T | undefined {
  return items.reduce<T | undefined>((best, t) => (best === undefined || key(t) < key(best) ? t : best), undefined);
}

/** Why a Slack call failed, as Slack text: a UserFacingError's message is already Slack text, anything else is escaped. */
function reason(err: unknown): string {
  if (err instanceof UserFacingError) return err.userMessage;
  const data = (err as { data?: { error?: string } }).data;
  return escapeText(data?.error ?? (err instanceof Error ? err.message : String(err)));
}

/** Lines and bytes of a log file, read through one reused buffer (a read stream's per-chunk buffers would pile up as garbage). */
async function fileStats(path: string): Promise<{ lines: number; bytes: number }> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const buf = Buffer.allocUnsafe(64 * 1024);
    let lines = 0;
    let lastByte = 0x0a;
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await file.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++;
      lastByte = chunk[bytesRead - 1]!;
      pos += bytesRead;
    }
    return { lines: lines + (size > 0 && lastByte !== 0x0a ? 1 : 0), bytes: size };
  } finally {
    await file.close();
  }
}

/**
 * The log kept for the file: everything up to `cap` characters; beyond that the first fifth and
 * the latest rest (the end usually says why a command failed), with a marker where text was dropped.
 */
class LogBuffer {
  bytes = 0;
  private newlines = 0;
  private endsWithNewline = true;
  private head = '';
  private tail: string[] = [];
  private tailStart = 0;
  private tailChars = 0;
  private dropped = 0;

  constructor(readonly cap: number) {}

  get truncated(): boolean {
    return this.dropped > 0;
  }

  get lineCount(): number {
    return this.newlines + (this.endsWithNewline ? 0 : 1);
  }

  append(text: string): void {
    this.bytes += Buffer.byteLength(text);
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.newlines++;
    this.endsWithNewline = text.endsWith('\n');
    const headRoom = Math.floor(this.cap / 5) - this.head.length;
    if (headRoom > 0) {
      this.head += text.slice(0, headRoom);
      text = text.slice(headRoom);
    }
    if (!text) return;
    this.tail.push(text);
    this.tailChars += text.length;
    const tailCap = this.cap - Math.floor(this.cap / 5);
    while (this.tailChars > tailCap) {
      const first = this.tail[this.tailStart]!;
      const excess = this.tailChars - tailCap;
      const drop = Math.min(first.length, excess);
      if (drop === first.length) this.tailStart++;
      else this.tail[this.tailStart] = first.slice(drop);
      this.tailChars -= drop;
      this.dropped += drop;
    }
    if (this.tailStart > 1024) {
      this.tail = this.tail.slice(this.tailStart);
      this.tailStart = 0;
    }
  }

  text(): string {
    const tail = this.tail.slice(this.tailStart).join('');
    if (!this.dropped) return this.head + tail;
    return `${this.head}\n\n[… ${this.dropped} characters omitted here: the log was larger than the ${formatBytes(this.cap)} kept in memory …]\n\n${tail}`;
  }
}
