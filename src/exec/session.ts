/**
 * ECS Exec data-channel client: one WebSocket session to `session.streamUrl` from ExecuteCommand,
 * speaking the Session Manager protocol without session-manager-plugin (notes §2).
 *
 *   const session = await ExecSession.open({ streamUrl, tokenValue, kms, signal, logger });
 *   session.on('output', (chunk) => …);          // attach right after the await (see below)
 *   session.interrupt();                          // Ctrl-C to the remote pty
 *   const result = await session.closed;          // { reason, output?, exitCode?, error?, stats }
 *
 * Reliability rules implemented here, because the agent relies on them:
 * - every valid `output_stream_data` is acknowledged as soon as it is accepted (buffered or
 *   delivered), including duplicates: the agent waits ≤2 s for acks before closing, so a slow or
 *   missing ack truncates output (§2.6);
 * - payloads are delivered once, in sequence-number order; early ones are buffered;
 * - a frame whose digest does not match is dropped WITHOUT an ack so the agent resends it;
 * - our own sequenced messages are kept until acked and retransmitted (TCP-like RTO, §2.7);
 * - `channel_closed` is the only clean end; a socket that drops before it is reported as such.
 *
 * Listener timing: `open()` resolves from a microtask, and frames are dispatched from socket I/O
 * callbacks, so listeners attached synchronously after `await ExecSession.open()` see every chunk.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { Logger } from '../platform/logger';
import {
  ActionStatus,
  ActionType,
  type ClientMessage,
  decodeClientMessage,
  encodeAcknowledge,
  encodeInputStreamData,
  ExecProtocolError,
  flagPayload,
  type HandshakeCompletePayload,
  type HandshakeResponsePayload,
  MessageType,
  parseAcknowledgeContent,
  parseChannelClosedPayload,
  parseJsonObject,
  PayloadDigestError,
  PayloadFlag,
  PayloadType,
  type ProcessedClientAction,
  type RequestedClientAction,
} from './codec';
import { answerEncryptionChallenge, type KmsHandshakeOptions, processKmsEncryptionAction, type SessionCipher } from './crypto';

/**
 * Reported to the agent in the opening frame and the HandshakeResponse. The agent gates features
 * on it (separate StdErr/ExitCode payloads need ≥ 1.2.295); we claim the lowest version whose
 * gated features we handle, so the agent never sends us something newer than we understand.
 */
export const EXEC_CLIENT_VERSION = '1.2.295.0';
/** Session types whose output is a plain byte stream we can consume. */
const SHELL_SESSION_TYPES = new Set(['InteractiveCommands', 'NonInteractiveCommands', 'Standard_Stream']);
const CTRL_C = Buffer.from([0x03]);

export type ExecCloseReason = 'channel_closed' | 'socket_closed' | 'terminated' | 'error';

export interface ExecSessionStats {
  /** Valid data-channel messages received (any type, duplicates included). */
  messagesReceived: number;
  /** output_stream_data payloads handed to the session in order (handshake ones included). */
  messagesDelivered: number;
  /** output_stream_data already delivered or already buffered, re-acked and dropped. */
  duplicates: number;
  /** output_stream_data that arrived early and were buffered. */
  outOfOrderBuffered: number;
  /** Frames rejected for a bad digest (not acked). */
  digestErrors: number;
  /** Other undecodable frames. */
  invalidFrames: number;
  acksSent: number;
  acksReceived: number;
  /** Our sequenced messages sent for the first time. */
  messagesSent: number;
  retransmits: number;
  /** Output bytes emitted (after decryption). */
  outputBytes: number;
  /** Current retransmission timeout, adapted to the measured round trip. */
  rtoMs: number;
}

export interface ExecSessionResult {
  reason: ExecCloseReason;
  /** channel_closed `Output` text, when non-empty (e.g. why the service ended the session). */
  output?: string;
  /** Only if the agent sent an ExitCode payload (NonInteractiveCommands); ECS Exec does not. */
  exitCode?: number;
  error?: Error;
  /** Early messages still buffered at the end: a gap was never filled, so output is incomplete. */
  undelivered: number;
  stats: ExecSessionStats;
}

export type ExecSessionErrorCode =
  | 'CONNECT_FAILED'
  | 'ABORTED'
  | 'RETRANSMIT_LIMIT'
  | 'HANDSHAKE_FAILED'
  | 'KMS_NOT_CONFIGURED'
  | 'DECRYPT_FAILED'
  | 'SOCKET_CLOSED';

export class ExecSessionError extends Error {
  override readonly name = 'ExecSessionError';
  constructor(
    readonly code: ExecSessionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface RetransmitOptions {
  /** Initial retransmission timeout (SMP/agent: 200 ms). */
  initialRtoMs?: number;
  /** Upper bound of the RTO, backoff included (SMP/agent: 1 s). */
  maxRtoMs?: number;
  /** How often the oldest unacked message is checked (SMP/agent: 100 ms). */
  checkIntervalMs?: number;
  /** Sends of one message before the session fails (default 300 ≈ 5 min at the 1 s cap, like SMP). */
  maxAttempts?: number;
}

export interface ExecSessionOptions {
  streamUrl: string;
  tokenValue: string;
  /** Needed only for clusters that encrypt exec sessions with a KMS key. */
  kms?: KmsHandshakeOptions;
  /** Aborting before open rejects open(); afterwards it terminates the session. */
  signal?: AbortSignal;
  logger?: Logger;
  clientVersion?: string;
  /** WebSocket connect + upgrade deadline (default 10 s; the token is short-lived anyway). */
  connectTimeoutMs?: number;
  retransmit?: RetransmitOptions;
  /**
   * Without a handshake, input is held until the first output arrives, because the agent acks
   * and discards input received just before it skips the handshake (§2.7). If the command prints
   * nothing, input (e.g. Ctrl-C) is released after this delay instead (default 3 s).
   */
  inputGraceMs?: number;
  /** Check payload digests (default true). Turn off only for agents known to send bad digests. */
  verifyDigest?: boolean;
  /** Max early messages buffered (SMP: 10 000); beyond it they are dropped unacked and resent. */
  maxBuffered?: number;
}

export interface ExecSessionEvents {
  /**
   * Decrypted output bytes in order; payloadType is Output (1) or StdErr (11). Listeners run on
   * the socket reader and before the ack is sent: keep them quick (buffer, don't await), and a
   * listener that throws ends the session with reason 'error'.
   */
  output: [chunk: Buffer, payloadType: number];
  /** The handshake finished; `customerMessage` is informational text, not command output. */
  handshakeComplete: [customerMessage: string];
}

interface Outgoing {
  frame: Buffer;
  sequenceNumber: number;
  lastSentAt: number;
  /** Sends so far; 0 while it waits for publication to resume. */
  attempts: number;
}

const noopLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return noopLogger;
  },
};

type InputState = 'waiting' | 'handshake' | 'ready';

export class ExecSession extends EventEmitter<ExecSessionEvents> {
  /** Resolves (never rejects) once the session has ended, whatever the reason. */
  readonly closed: Promise<ExecSessionResult>;

  private readonly stats_: ExecSessionStats = {
    messagesReceived: 0,
    messagesDelivered: 0,
    duplicates: 0,
    outOfOrderBuffered: 0,
    digestErrors: 0,
    invalidFrames: 0,
    acksSent: 0,
    acksReceived: 0,
    messagesSent: 0,
    retransmits: 0,
    outputBytes: 0,
    rtoMs: 0,
  };
  private readonly log: Logger;
  private readonly initialRtoMs: number;
  private readonly maxRtoMs: number;
  private readonly checkIntervalMs: number;
  private readonly maxAttempts: number;
  private readonly maxBuffered: number;

  // Receive side.
  private expectedSeq = 0;
  private readonly early = new Map<number, ClientMessage>();
  private cipher: SessionCipher | undefined;
  private exitCode: number | undefined;

  // Send side.
  private nextSeq = 0;
  private readonly outgoing = new Map<number, Outgoing>();
  private resendTimer: NodeJS.Timeout | undefined;
  private rttMs: number;
  private rttVarMs = 0;
  private rtoMs: number;
  private paused = false;
  private inputState: InputState = 'waiting';
  private readonly heldInput: Buffer[] = [];
  private graceTimer: NodeJS.Timeout | undefined;
  /** An error that must become the result once the channel ends (e.g. we refused the handshake). */
  private deferredError: Error | undefined;

  private finished = false;
  private resolveClosed!: (result: ExecSessionResult) => void;
  private readonly onAbort = () => {
    void this.end(new ExecSessionError('ABORTED', 'exec session aborted', { cause: this.options.signal?.reason }));
  };

  private constructor(
    private readonly ws: WebSocket,
    private readonly options: ExecSessionOptions,
  ) {
    super();
    this.log = options.logger ?? noopLogger;
    const rt = options.retransmit ?? {};
    this.initialRtoMs = rt.initialRtoMs ?? 200;
    this.maxRtoMs = rt.maxRtoMs ?? 1000;
    this.checkIntervalMs = rt.checkIntervalMs ?? 100;
    this.maxAttempts = rt.maxAttempts ?? 300;
    this.maxBuffered = options.maxBuffered ?? 10_000;
    this.rtoMs = this.initialRtoMs;
    // SMP/agent start from RTT 100 ms with RTO 200 ms: keep that ratio for a configured RTO.
    this.rttMs = this.initialRtoMs / 2;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    // Always listening: ws emits 'error' (e.g. on close() while connecting) and an EventEmitter
    // without an error listener would throw. What an error means is decided by 'close'.
    this.ws.on('error', (err) => this.log.debug('exec websocket error', { error: err }));
  }

  /**
   * Connects, sends the opening token frame and returns the running session. Rejects with
   * ExecSessionError CONNECT_FAILED / ABORTED; after that, failures end up in `closed`.
   */
  static async open(options: ExecSessionOptions): Promise<ExecSession> {
    if (options.signal?.aborted) {
      throw new ExecSessionError('ABORTED', 'exec session aborted before connecting', { cause: options.signal.reason });
    }
    // No extra headers: the token in the first frame is the only authentication (§2.1).
    // perMessageDeflate off: the service does not need it and it would cost zlib on every frame.
    const ws = new WebSocket(options.streamUrl, {
      perMessageDeflate: false,
      handshakeTimeout: options.connectTimeoutMs ?? 10_000,
    });
    const session = new ExecSession(ws, options);
    await session.connect();
    return session;
  }

  /** Counters so far (a copy). */
  get stats(): ExecSessionStats {
    return { ...this.stats_, rtoMs: this.rtoMs };
  }

  /**
   * Sends bytes to the remote pty's stdin (encrypted when the session is). Held until the agent
   * can take input (§2.7) and while the service paused publication; retransmitted until acked.
   */
  sendInput(data: Buffer): void {
    if (this.finished) return;
    if (this.inputState !== 'ready' || this.paused) {
      this.heldInput.push(Buffer.from(data));
      return;
    }
    this.sendSequenced(PayloadType.Output, this.cipher ? this.cipher.encrypt(data) : data);
  }

  /** Ctrl-C: the pty's line discipline turns it into SIGINT for the foreground process group. */
  interrupt(): void {
    this.sendInput(CTRL_C);
  }

  /**
   * Ends the session from our side: sends the TerminateSession flag and closes the socket.
   * The shell plugin ignores the flag and a closed socket does not stop the remote process, so
   * call `interrupt()` first (and/or ssm:TerminateSession) to stop the command itself.
   */
  terminate(): Promise<ExecSessionResult> {
    return this.end();
  }

  private end(error?: Error): Promise<ExecSessionResult> {
    if (!this.finished) {
      // Before input is allowed the agent would discard the flag anyway (§2.7).
      if (this.inputState === 'ready') this.sendSequenced(PayloadType.Flag, flagPayload(PayloadFlag.TerminateSession));
      this.finish({ reason: 'terminated', ...(error ? { error } : {}) });
    }
    return this.closed;
  }

  // -------------------------------------------------------------------------------------------
  // Connection

  private connect(): Promise<void> {
    const { signal } = this.options;
    return new Promise<void>((resolve, reject) => {
      const fail = (error: ExecSessionError) => {
        cleanup();
        this.finish({ reason: 'error', error });
        reject(error);
      };
      const onOpen = () => {
        cleanup();
        this.ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
        this.ws.on('close', (code, reason) => this.onSocketClose(code, reason.toString()));
        signal?.addEventListener('abort', this.onAbort, { once: true });
        this.ws.send(
          JSON.stringify({
            MessageSchemaVersion: '1.0',
            RequestId: randomUUID(),
            TokenValue: this.options.tokenValue,
            ClientId: randomUUID(),
            ClientVersion: this.options.clientVersion ?? EXEC_CLIENT_VERSION,
          }),
        );
        this.graceTimer = setTimeout(() => this.releaseInputAfterGrace(), this.options.inputGraceMs ?? 3000);
        resolve();
      };
      const onError = (err: Error) => fail(new ExecSessionError('CONNECT_FAILED', `exec websocket connect failed: ${err.message}`, { cause: err }));
      const onClose = (code: number) => fail(new ExecSessionError('CONNECT_FAILED', `exec websocket closed during connect (${code})`));
      const onAbort = () => fail(new ExecSessionError('ABORTED', 'exec session aborted while connecting', { cause: signal?.reason }));
      const cleanup = () => {
        this.ws.off('open', onOpen);
        this.ws.off('error', onError);
        this.ws.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      this.ws.on('open', onOpen);
      this.ws.on('error', onError);
      this.ws.on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.finished) return;
    const error = new ExecSessionError('SOCKET_CLOSED', `exec websocket closed before channel_closed (code ${code}${reason ? `: ${reason}` : ''})`);
    this.finish({ reason: 'socket_closed', error });
  }

  private finish(result: Omit<ExecSessionResult, 'stats' | 'undelivered'>): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.resendTimer);
    clearTimeout(this.graceTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    // A refusal we already told the agent about outranks how the channel then ended.
    const final = this.deferredError && result.reason !== 'terminated' ? { ...result, reason: 'error' as const, error: this.deferredError } : result;
    if (this.exitCode !== undefined) final.exitCode = this.exitCode;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    this.log.info('exec session ended', { reason: final.reason, error: final.error?.message, stats: this.stats });
    this.resolveClosed({ ...final, undelivered: this.early.size, stats: this.stats });
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (this.finished) return;
    if (!isBinary) {
      this.stats_.invalidFrames++;
      this.log.warn('exec: unexpected text frame ignored');
      return;
    }
    let message: ClientMessage;
    try {
      message = decodeClientMessage(data, { verifyDigest: this.options.verifyDigest !== false });
    } catch (err) {
      if (err instanceof PayloadDigestError) {
        // Not acked on purpose: the agent will retransmit it, hopefully intact.
        this.stats_.digestErrors++;
        this.log.warn('exec: payload digest mismatch, frame dropped', { seq: err.decoded.sequenceNumber, type: err.decoded.messageType });
      } else {
        this.stats_.invalidFrames++;
        this.log.warn('exec: invalid frame dropped', { error: err });
      }
      return;
    }
    this.stats_.messagesReceived++;
    try {
      switch (message.messageType) {
        case MessageType.OutputStreamData:
          this.onStreamData(message);
          break;
        case MessageType.Acknowledge:
          this.onAcknowledge(message);
          break;
        case MessageType.ChannelClosed: {
          const { output } = parseChannelClosedPayload(message.payload);
          this.finish({ reason: 'channel_closed', ...(output ? { output } : {}) });
          break;
        }
        case MessageType.PausePublication:
          // The service asks us to stop sending; resume on start_publication.
          this.paused = true;
          break;
        case MessageType.StartPublication:
          this.paused = false;
          this.sendUnsent();
          this.flushHeldInput();
          break;
        default:
          this.log.debug('exec: ignoring message type', { type: message.messageType });
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private onStreamData(message: ClientMessage): void {
    const seq = message.sequenceNumber;
    if (seq < this.expectedSeq || this.early.has(seq)) {
      // A retransmission of something we have: our ack was probably lost, so ack again.
      this.stats_.duplicates++;
      this.ack(message);
      return;
    }
    if (seq > this.expectedSeq) {
      if (this.early.size >= this.maxBuffered) return; // unacked → resent later, when there is room
      // Copy: the frame buffer may be a slice of a much larger socket read.
      this.early.set(seq, { ...message, payload: Buffer.from(message.payload) });
      this.stats_.outOfOrderBuffered++;
      this.ack(message);
      return;
    }
    this.deliver(message);
    this.ack(message);
    this.expectedSeq++;
    for (let next = this.early.get(this.expectedSeq); next && !this.finished; next = this.early.get(this.expectedSeq)) {
      this.early.delete(this.expectedSeq);
      this.deliver(next);
      this.expectedSeq++;
    }
  }

  private deliver(message: ClientMessage): void {
    this.stats_.messagesDelivered++;
    switch (message.payloadType) {
      case PayloadType.Output:
      case PayloadType.StdErr: {
        this.markInputReady('first output');
        const chunk = this.decryptIfNeeded(message.payload);
        this.stats_.outputBytes += chunk.length;
        this.emit('output', chunk, message.payloadType);
        break;
      }
      case PayloadType.ExitCode: {
        const text = this.decryptIfNeeded(message.payload).toString('utf8');
        const match = /EXIT_CODE:\s*(-?\d+)/.exec(text);
        if (match) this.exitCode = Number(match[1]);
        break;
      }
      case PayloadType.HandshakeRequest:
        this.onHandshakeRequest(message.payload);
        break;
      case PayloadType.EncChallengeRequest:
        this.onEncryptionChallenge(message.payload);
        break;
      case PayloadType.HandshakeComplete:
        this.onHandshakeComplete(message.payload);
        break;
      default:
        this.log.debug('exec: ignoring payload type', { payloadType: message.payloadType });
    }
  }

  private decryptIfNeeded(payload: Buffer): Buffer {
    if (!this.cipher) return payload;
    try {
      return this.cipher.decrypt(payload);
    } catch (err) {
      throw new ExecSessionError('DECRYPT_FAILED', 'could not decrypt agent output', { cause: err });
    }
  }

  private ack(message: ClientMessage): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(encodeAcknowledge(message));
    this.stats_.acksSent++;
  }

  // -------------------------------------------------------------------------------------------
  // Handshake (§2.8)

  private onHandshakeRequest(payload: Buffer): void {
    this.inputState = 'handshake';
    clearTimeout(this.graceTimer);
    const request = parseJsonObject(payload, 'HandshakeRequest');
    const actions = Array.isArray(request.RequestedClientActions) ? (request.RequestedClientActions as RequestedClientAction[]) : [];
    this.log.info('exec: handshake requested', { agentVersion: request.AgentVersion, actions: actions.map((a) => a?.ActionType) });
    // The KMS call is asynchronous; stream processing goes on meanwhile (the agent sends nothing
    // else that needs the key until it has our response).
    void this.respondToHandshake(actions).catch((err) => this.fail(err));
  }

  private async respondToHandshake(actions: RequestedClientAction[]): Promise<void> {
    const processed: ProcessedClientAction[] = [];
    const errors: string[] = [];
    for (const action of actions) {
      const type = action?.ActionType;
      if (type === ActionType.SessionType) {
        const sessionType = (action.ActionParameters as { SessionType?: unknown } | null)?.SessionType;
        const ok = typeof sessionType === 'string' && SHELL_SESSION_TYPES.has(sessionType);
        const error = ok ? '' : `unsupported session type ${String(sessionType)}`;
        processed.push({ ActionType: type, ActionStatus: ok ? ActionStatus.Success : ActionStatus.Failed, ActionResult: null, Error: error });
        if (!ok) {
          errors.push(error);
          this.deferredError ??= new ExecSessionError('HANDSHAKE_FAILED', error);
        }
      } else if (type === ActionType.KMSEncryption) {
        if (!this.options.kms) {
          const error = 'the cluster encrypts exec sessions with KMS but no KMS configuration was given';
          processed.push({ ActionType: type, ActionStatus: ActionStatus.Failed, ActionResult: null, Error: error });
          errors.push(error);
          this.deferredError ??= new ExecSessionError('KMS_NOT_CONFIGURED', error);
          continue;
        }
        try {
          const { action: result, cipher } = await processKmsEncryptionAction(action.ActionParameters, this.options.kms);
          this.cipher = cipher;
          processed.push(result);
        } catch (err) {
          // Tell the agent (it cancels the session) rather than leave it waiting 15 s.
          const error = `KMS encryption failed: ${(err as Error).message}`;
          processed.push({ ActionType: type, ActionStatus: ActionStatus.Failed, ActionResult: null, Error: error });
          errors.push(error);
          this.deferredError ??= new ExecSessionError('HANDSHAKE_FAILED', error, { cause: err });
        }
      } else {
        processed.push({ ActionType: String(type), ActionStatus: ActionStatus.Unsupported, ActionResult: null, Error: `unsupported action ${String(type)}` });
      }
    }
    if (this.finished) return;
    const response: HandshakeResponsePayload = {
      ClientVersion: this.options.clientVersion ?? EXEC_CLIENT_VERSION,
      ProcessedClientActions: processed,
      Errors: errors,
    };
    this.sendSequenced(PayloadType.HandshakeResponse, Buffer.from(JSON.stringify(response)));
  }

  private onEncryptionChallenge(payload: Buffer): void {
    if (!this.cipher) throw new ExecProtocolError('BAD_PAYLOAD', 'encryption challenge before a data key was negotiated');
    const challenge = parseJsonObject(payload, 'EncChallengeRequest').Challenge;
    if (typeof challenge !== 'string') throw new ExecProtocolError('BAD_PAYLOAD', 'encryption challenge without Challenge');
    let answer: string;
    try {
      answer = answerEncryptionChallenge(this.cipher, challenge);
    } catch (err) {
      throw new ExecSessionError('HANDSHAKE_FAILED', 'could not answer the encryption challenge', { cause: err });
    }
    this.sendSequenced(PayloadType.EncChallengeResponse, Buffer.from(JSON.stringify({ Challenge: answer })));
  }

  private onHandshakeComplete(payload: Buffer): void {
    const complete = parseJsonObject(payload, 'HandshakeComplete') as Partial<HandshakeCompletePayload>;
    const customerMessage = typeof complete.CustomerMessage === 'string' ? complete.CustomerMessage : '';
    this.log.info('exec: handshake complete', { customerMessage, encrypted: this.cipher !== undefined });
    this.inputState = 'waiting'; // so markInputReady releases held input
    this.markInputReady('handshake complete');
    this.emit('handshakeComplete', customerMessage);
  }

  // -------------------------------------------------------------------------------------------
  // Sending (§2.7)

  private releaseInputAfterGrace(): void {
    if (this.inputState === 'waiting') this.markInputReady('grace period');
  }

  private markInputReady(why: string): void {
    if (this.inputState !== 'waiting') return;
    this.inputState = 'ready';
    clearTimeout(this.graceTimer);
    this.log.debug('exec: input enabled', { why });
    this.flushHeldInput();
  }

  private flushHeldInput(): void {
    if (this.inputState !== 'ready' || this.paused) return;
    for (const data of this.heldInput.splice(0)) this.sendInput(data);
  }

  private sendSequenced(payloadType: number, payload: Buffer): void {
    const sequenceNumber = this.nextSeq++;
    const frame = encodeInputStreamData({ sequenceNumber, payloadType, payload });
    const entry: Outgoing = { frame, sequenceNumber, lastSentAt: 0, attempts: 0 };
    this.outgoing.set(sequenceNumber, entry);
    // While paused the message waits in `outgoing` and goes out on start_publication.
    if (!this.paused) this.sendFirst(entry);
    this.resendTimer ??= setInterval(() => this.checkResend(), this.checkIntervalMs);
  }

  private sendFirst(entry: Outgoing): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    entry.attempts = 1;
    entry.lastSentAt = Date.now();
    this.stats_.messagesSent++;
    this.ws.send(entry.frame);
  }

  /** After a pause: messages queued meanwhile go out now, in sequence order. */
  private sendUnsent(): void {
    for (const entry of this.outgoing.values()) if (entry.attempts === 0) this.sendFirst(entry);
  }

  private checkResend(): void {
    const oldest = this.outgoing.values().next().value as Outgoing | undefined;
    if (!oldest) {
      clearInterval(this.resendTimer);
      this.resendTimer = undefined;
      return;
    }
    if (this.paused || this.ws.readyState !== WebSocket.OPEN || oldest.attempts === 0) return;
    // Exponential backoff on top of the RTO, capped, as TCP does for repeated losses.
    const timeout = Math.min(this.maxRtoMs, this.rtoMs * 2 ** (oldest.attempts - 1));
    const now = Date.now();
    if (now - oldest.lastSentAt <= timeout) return;
    if (oldest.attempts >= this.maxAttempts) {
      this.fail(new ExecSessionError('RETRANSMIT_LIMIT', `message seq ${oldest.sequenceNumber} not acknowledged after ${oldest.attempts} sends`));
      return;
    }
    oldest.attempts++;
    oldest.lastSentAt = now;
    this.stats_.retransmits++;
    this.ws.send(oldest.frame);
  }

  private onAcknowledge(message: ClientMessage): void {
    const content = parseAcknowledgeContent(message.payload);
    this.stats_.acksReceived++;
    // Matched by sequence number only, as both official implementations do.
    const entry = this.outgoing.get(content.AcknowledgedMessageSequenceNumber);
    if (!entry) return;
    this.outgoing.delete(entry.sequenceNumber);
    // Karn: a retransmitted message's ack is ambiguous, so it says nothing about the RTT.
    if (entry.attempts === 1) this.updateRto(Date.now() - entry.lastSentAt);
  }

  private updateRto(sampleMs: number): void {
    this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.rttMs - sampleMs);
    this.rttMs = 0.875 * this.rttMs + 0.125 * sampleMs;
    this.rtoMs = Math.min(this.maxRtoMs, this.rttMs + Math.max(10, 4 * this.rttVarMs));
  }

  private fail(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    this.log.error('exec session failed', { error });
    this.finish({ reason: 'error', error });
  }
}
