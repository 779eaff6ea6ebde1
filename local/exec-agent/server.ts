/**
 * The local stand-in for what sits behind an ECS Exec `streamUrl` in AWS: the Message Gateway
 * Service plus the SSM agent in the container, as one WebSocket server on 127.0.0.1. It accepts
 * the sessions ECS ExecuteCommand granted (local/aws/services/ecs.ts → registry.ts) and plays the
 * agent's side of the data channel as /work/shared/reference/ecs-exec-protocol.md describes it:
 *
 *   opening text frame (token, once) → [KMS handshake if the cluster has an exec key]
 *   → Go-shlex split of the command, argv[0] exec'd (no shell) in a sandbox with pty semantics
 *   → ≤1024-byte output_stream_data messages after an initial 1 s wait, each kept until acked and
 *     retransmitted (oldest first, TCP-like RTO) → client input processed strictly in sequence
 *   → on exit: wait ≤2 s for the outstanding acks, then channel_closed and close the socket.
 *
 * Fault injection (faults.ts) makes it drop, duplicate, reorder or corrupt its frames, ack late,
 * or cut the connection, and every session keeps counters and logs for tests.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import {
  ActionStatus,
  ActionType,
  ExecProtocolError,
  MessageType,
  PayloadDigestError,
  PayloadType,
  decodeClientMessage,
  encodeAcknowledge,
  encodeChannelClosed,
  encodeOutputStreamData,
  parseAcknowledgeContent,
  parseJsonObject,
  type ClientMessage,
} from '../../src/exec/codec';
import type { Faults } from '../aws/emulator';
import { AwsError } from '../aws/protocols';
import { decryptBlob } from '../aws/services/kms';
import { arns, type EmulatorState, type Identity } from '../aws/state';
import { ExecFaultController, matches, type ExecFaults } from './faults';
import { execRegistry, type ExecGrant } from './registry';
import { PtyLikeProcess, StartError, prepareContainerFs, type ContainerFs, type ProcessExit } from './sandbox';
import { ShlexError, shlexSplit } from './shlex';

/** The sample maintenance scripts every container gets under /work. */
export const MANAGER_SCRIPTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'manager');

export interface ExecAgentOptions {
  /** The emulator whose ExecuteCommand grants sessions (its state; its faults decide the task role's kms:Decrypt). */
  aws: { state: EmulatorState; faults?: Faults };
  /** 0 (default) picks a free port. */
  port?: number;
  /** Copied into every container's /work (default local/manager); null for none. */
  scriptsDir?: string | null;
  /** Where container roots live (default: a fresh temporary directory, removed on close). */
  baseDir?: string;
  /** The agent sleeps this long before its first read of the pty (real agent: 1 s). */
  initialReadDelayMs?: number;
  /**
   * Time between accepting the client (or finishing the handshake) and the command being up. Client
   * input in that window is refused without an ack, as the real agent's "handler not ready" does,
   * so the client must retransmit it (notes §2.7). Default 0.
   */
  commandStartDelayMs?: number;
  /** At the end, how long the agent waits for the client to ack everything before closing (real agent: 2 s). */
  drainTimeoutMs?: number;
  /** How long the agent waits for each handshake answer (real agent: 15 s). */
  handshakeTimeoutMs?: number;
  /** How long a connection may take to send its opening frame. */
  openTimeoutMs?: number;
  /** How long after ExecuteCommand the token is accepted ("only long enough to ensure the connection is successful"). */
  tokenTtlMs?: number;
  /**
   * A session without client input for this long is terminated (ECS Exec: 20 min, fixed). Whether
   * output alone keeps a real session alive is UNVERIFIED; here only client messages do.
   */
  idleTimeoutMs?: number;
  /** Retransmission scheduler tick (real agent: 100 ms). */
  resendIntervalMs?: number;
  /** Reported in the HandshakeRequest. */
  agentVersion?: string;
}

const DEFAULTS = {
  initialReadDelayMs: 1000,
  commandStartDelayMs: 0,
  drainTimeoutMs: 2000,
  handshakeTimeoutMs: 15_000,
  openTimeoutMs: 10_000,
  tokenTtlMs: 60_000,
  idleTimeoutMs: 20 * 60_000,
  resendIntervalMs: 100,
  agentVersion: '3.3.1142.0',
};
/** The agent's timings; ExecAgent.settings may be changed at run time (a session reads them as it goes). */
export type ExecAgentSettings = typeof DEFAULTS;
type Settings = ExecAgentSettings;

/** The agent reads the pty in 1024-byte blocks: no output message carries more (before encryption). */
export const MAX_OUTPUT_PAYLOAD = 1024;
/** RTO bounds and initial values shared by SMP and the agent (notes §2.7). */
const INITIAL_RTT_MS = 100;
const INITIAL_RTO_MS = 200;
const MAX_RTO_MS = 1000;
const MIN_RTO_VAR_MS = 10;

/** What the session's client is told when it ends other than by the command exiting (texts UNVERIFIED). */
export const CLOSE_MESSAGES = {
  terminated: 'Session terminated by request.',
  idle: 'Your session timed out due to inactivity and has been terminated.',
};

export type SessionState = 'handshake' | 'starting' | 'running' | 'draining' | 'closed';
export type CloseReason =
  /** The command exited and its output was sent. */
  | 'exit'
  /** ExecAgent.terminate (TerminateSession). */
  | 'terminated'
  | 'idle-timeout'
  | 'handshake-failed'
  /** The command could not be split or started. */
  | 'start-failed'
  /** The client went away before the session could run anything. */
  | 'client-gone'
  /** The agent was shut down. */
  | 'agent-closed';

/** One agent → client data message, as the agent tracked it. */
export interface OutgoingRecord {
  sequenceNumber: number;
  payloadType: number;
  /** Payload bytes on the wire (encrypted size when the session is encrypted). */
  length: number;
  /** Transmissions, the first included (a dropped first send counts: the agent did send it). */
  attempts: number;
  ackedAt?: number;
}

export interface SessionCounters {
  /** Wire frames sent of any kind (data, acks, channel_closed; duplicates included). */
  framesSent: number;
  /** Data messages created (distinct sequence numbers). */
  dataMessages: number;
  /** Retransmissions by the RTO scheduler. */
  retransmissions: number;
  acksReceived: number;
  /** Acks for messages no longer outstanding (or never sent). */
  duplicateAcks: number;
  acksSent: number;
  /** Client data messages processed in order. */
  inputMessages: number;
  /** Client messages with a sequence number already processed (re-acked, dropped). */
  inputDuplicates: number;
  /** Client messages ahead of the expected one (acked, buffered). */
  inputOutOfOrder: number;
  /** Client messages refused (not acked) because the command was not running yet. */
  inputNotReady: number;
  /** Client messages acked and discarded because the handshake was in progress. */
  inputDiscardedDuringHandshake: number;
  /** Client messages whose digest did not match (processed anyway: the agent does not check digests). */
  inputDigestMismatches: number;
  /** Frames that could not be decoded, or text frames after the opening one. */
  invalidFrames: number;
  droppedByFault: number;
  duplicatedByFault: number;
  reorderedByFault: number;
  corruptedByFault: number;
  /** Output bytes produced while no client was connected (nobody will ever see them). */
  discardedOutputBytes: number;
}

export interface RejectedConnection {
  at: number;
  sessionId?: string;
  reason: string;
}

const newCounters = (): SessionCounters => ({
  framesSent: 0,
  dataMessages: 0,
  retransmissions: 0,
  acksReceived: 0,
  duplicateAcks: 0,
  acksSent: 0,
  inputMessages: 0,
  inputDuplicates: 0,
  inputOutOfOrder: 0,
  inputNotReady: 0,
  inputDiscardedDuringHandshake: 0,
  inputDigestMismatches: 0,
  invalidFrames: 0,
  droppedByFault: 0,
  duplicatedByFault: 0,
  reorderedByFault: 0,
  corruptedByFault: 0,
  discardedOutputBytes: 0,
});

interface Outgoing {
  record: OutgoingRecord;
  frame: Buffer;
  lastSentAt: number;
}

// AES-256-GCM as both sides use it (notes §2.9): payload = nonce(12) || ciphertext || tag(16), no AAD.
function seal(key: Buffer, plaintext: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}
function open(key: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < 28) throw new Error('ciphertext too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

/**
 * How many bytes of `buf` (at most `max`) to send without splitting a UTF-8 sequence, as the
 * agent keeps an incomplete trailing sequence for its next read. 0 means "wait for more".
 * Once the process has ended nothing more will come, so the rest goes out as is.
 */
export function utf8SafeLength(buf: Buffer, max: number, final: boolean): number {
  const end = Math.min(buf.length, max);
  if (final && end === buf.length) return end;
  let i = end - 1;
  while (i >= 0 && end - i <= 3 && (buf[i]! & 0xc0) === 0x80) i--;
  if (i < 0) return end;
  const lead = buf[i]!;
  const need = lead >= 0xf8 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return i + need > end ? i : end;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Output waiting to be sent: chunks as the process wrote them, read from the front without re-copying the rest. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private offset = 0;
  length = 0;

  push(chunk: Buffer): void {
    if (!chunk.length) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  /** Up to `max` bytes from the front (copied only when they span chunks). */
  peek(max: number): Buffer {
    const head = this.chunks[0];
    if (!head) return Buffer.alloc(0);
    if (head.length - this.offset >= max || this.chunks.length === 1) return head.subarray(this.offset, this.offset + max);
    const parts: Buffer[] = [];
    let need = max;
    for (let i = 0, off = this.offset; i < this.chunks.length && need > 0; i++, off = 0) {
      const part = this.chunks[i]!.subarray(off, off + need);
      parts.push(part);
      need -= part.length;
    }
    return Buffer.concat(parts);
  }
  consume(n: number): void {
    this.length -= n;
    while (n > 0) {
      const head = this.chunks[0]!;
      const left = head.length - this.offset;
      if (n < left) {
        this.offset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.offset = 0;
    }
  }
}

/**
 * One ECS Exec session from the agent's side. Its public fields are the observable record tests
 * assert on; they stay readable after the session closed.
 */
export class AgentSession {
  readonly sessionId: string;
  readonly counters = newCounters();
  /** Every data message the agent created, by sequence number. */
  readonly sent: OutgoingRecord[] = [];
  /** argv after the Go-shlex split (container paths). */
  argv: string[] = [];
  /** argv as exec'd on this machine (container paths mapped into the sandbox). */
  hostArgv: string[] = [];
  pid?: number;
  state: SessionState = 'starting';
  readonly openedAt = Date.now();
  startedAt?: number;
  endedAt?: number;
  exit?: ProcessExit;
  closeReason?: CloseReason;
  /** The `Output` of the channel_closed sent (or that would have been sent). */
  closeOutput?: string;
  /** Whether the client acked everything before the close. */
  drained?: boolean;
  /** Sequence numbers still unacked when the session closed. */
  unackedAtClose: number[] = [];
  /** Whether the channel was encrypted (KMS handshake done). */
  encrypted = false;
  /** The client's HandshakeResponse, parsed. */
  handshakeResponse?: Record<string, unknown>;
  /** Terminal sizes the client sent. */
  readonly sizes: Array<{ cols: number; rows: number }> = [];
  /** Flag payloads the client sent (the shell plugin ignores them, as here). */
  readonly flags: number[] = [];
  /** When the client connection was lost without the session ending (abrupt close, client gone). */
  clientGoneAt?: number;
  /** Faults in effect for this session. */
  readonly faults: ExecFaults;
  readonly done: Promise<AgentSession>;

  private outputChunks: Buffer[] = [];
  private inputChunks: Buffer[] = [];
  private readonly outgoing = new Map<number, Outgoing>();
  private nextSeq = 0;
  private rtt = INITIAL_RTT_MS;
  private rttVar = 0;
  private rto = INITIAL_RTO_MS;
  private expectedInputSeq = 0;
  private readonly inputAhead = new Map<number, ClientMessage>();
  private readonly held: Buffer[] = [];
  private firstOutputSends = 0;
  private proc?: PtyLikeProcess;
  private readonly pending = new ByteQueue();
  private pumpReady = false;
  private pumping = false;
  private processEnded = false;
  private ending = false;
  private endRequest?: { reason: CloseReason; output: string };
  private keys?: { encrypt: Buffer; decrypt: Buffer };
  private readonly waiters = new Map<number, (payload: Buffer | undefined) => void>();
  private readonly drainWaiters: Array<() => void> = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private resendTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private resolveDone!: (s: AgentSession) => void;

  constructor(
    readonly grant: Readonly<ExecGrant>,
    private readonly ws: WebSocket,
    private readonly settings: Settings,
    private readonly container: ContainerFs,
    faults: ExecFaults,
    private readonly aws: ExecAgentOptions['aws'],
  ) {
    this.sessionId = grant.sessionId;
    this.faults = faults;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('close', () => this.onClientGone());
    ws.on('error', () => undefined);
    this.resendTimer = setInterval(() => this.resendOldest(), settings.resendIntervalMs);
    this.touch();
  }

  /** Everything the terminal showed (process output after pty translation, plus echo), decrypted. */
  get output(): Buffer {
    return Buffer.concat(this.outputChunks);
  }
  get outputText(): string {
    return this.output.toString('utf8');
  }
  /** What reached the process's stdin. */
  get input(): Buffer {
    return Buffer.concat(this.inputChunks);
  }
  /** The container's root directory on this machine. */
  get containerRoot(): string {
    return this.container.root;
  }
  get rtoMs(): number {
    return this.rto;
  }

  /** Runs the session: handshake if the cluster has an exec KMS key, then the command. */
  async run(): Promise<void> {
    if (this.grant.kmsKeyId) {
      this.state = 'handshake';
      const failure = await this.handshake().catch((err: Error) => err.message);
      if (failure) return this.finish('handshake-failed', `Handshake failed: ${failure}`);
      if (this.ending) return;
    }
    this.state = 'starting';
    if (this.settings.commandStartDelayMs > 0) this.later(this.settings.commandStartDelayMs, () => this.startCommand());
    else this.startCommand();
  }

  /** TerminateSession: the process is killed; what it wrote is still delivered, then channel_closed. */
  terminate(reason: CloseReason = 'terminated', output = CLOSE_MESSAGES.terminated): void {
    if (this.ending || this.endRequest) return;
    this.endRequest = { reason, output };
    if (this.proc?.running) this.proc.kill();
    else if (!this.proc) void this.finish(reason, output);
  }

  /** Agent shutdown: no goodbye to the client, the process is killed. */
  async shutdown(): Promise<void> {
    this.proc?.kill();
    this.ws.terminate();
    await this.finish('agent-closed', '');
  }

  // Command ------------------------------------------------------------------------------------

  private startCommand(): void {
    try {
      this.argv = shlexSplit(this.grant.command);
    } catch (err) {
      const message = err instanceof ShlexError ? err.message : String(err);
      void this.finish('start-failed', `Unable to start command: failed to parse the command: ${message}`);
      return;
    }
    try {
      this.proc = new PtyLikeProcess({ argv: this.argv, fs: this.container, environment: this.grant.environment }, (data) => this.onOutput(data));
    } catch (err) {
      const message = err instanceof StartError ? err.message : String(err);
      void this.finish('start-failed', `Unable to start command: ${message}`);
      return;
    }
    this.hostArgv = this.proc.hostArgv;
    this.pid = this.proc.pid;
    this.startedAt = Date.now();
    this.state = 'running';
    // Input that arrived (and was buffered) before the process could take it.
    this.processInputAhead();
    this.later(this.settings.initialReadDelayMs, () => {
      this.pumpReady = true;
      void this.pump();
    });
    void this.proc.exited.then((exit) => {
      this.exit = exit;
      this.processEnded = true;
      void this.pump();
    });
  }

  private onOutput(data: Buffer): void {
    this.outputChunks.push(data);
    this.pending.push(data);
    void this.pump();
  }

  /** Sends pending output in ≤1024-byte messages; when the process is gone and all is sent, ends. */
  private async pump(): Promise<void> {
    if (!this.pumpReady || this.pumping || this.ending) return;
    this.pumping = true;
    try {
      while (this.pending.length && !this.ending) {
        const window = this.pending.peek(MAX_OUTPUT_PAYLOAD);
        const take = utf8SafeLength(window, MAX_OUTPUT_PAYLOAD, this.processEnded && window.length === this.pending.length);
        if (take === 0) break;
        const chunk = Buffer.from(window.subarray(0, take));
        this.pending.consume(take);
        if (this.connected) this.sendData(PayloadType.Output, chunk);
        else this.counters.discardedOutputBytes += chunk.length;
        // Let the socket write and the process produce more, as the agent's read loop does.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.pumping = false;
    }
    // Anything left is an incomplete UTF-8 sequence: the next output (or the exit) brings the pump back.
    if (this.processEnded && !this.pending.length) {
      const end = this.endRequest ?? { reason: 'exit' as const, output: '' };
      await this.finish(end.reason, end.output);
    }
  }

  // Sending ------------------------------------------------------------------------------------

  private get connected(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private wire(frame: Buffer): void {
    if (!this.connected) return;
    this.ws.send(frame, { binary: true });
    this.counters.framesSent++;
  }

  /** Creates the next data message, keeps it until acked, and transmits it (faults apply to the first send). */
  private sendData(payloadType: number, payload: Buffer): void {
    const sequenceNumber = this.nextSeq++;
    // Only terminal data is encrypted; handshake payloads are plain JSON (notes §2.9).
    const body = this.keys && payloadType === PayloadType.Output ? seal(this.keys.encrypt, payload) : payload;
    const frame = encodeOutputStreamData({ sequenceNumber, payloadType, payload: body });
    const record: OutgoingRecord = { sequenceNumber, payloadType, length: body.length, attempts: 0 };
    const entry: Outgoing = { record, frame, lastSentAt: 0 };
    this.sent.push(record);
    this.outgoing.set(sequenceNumber, entry);
    this.counters.dataMessages++;
    this.transmitFirst(entry);
  }

  private transmitFirst(entry: Outgoing): void {
    const seq = entry.record.sequenceNumber;
    entry.record.attempts++;
    entry.lastSentAt = Date.now();
    const f = this.faults;
    if (matches(f.dropFirstSend, seq)) {
      this.counters.droppedByFault++;
    } else {
      let frame = entry.frame;
      if (matches(f.corruptDigest, seq)) {
        frame = Buffer.from(frame);
        frame[80] = frame[80]! ^ 0xff; // first byte of PayloadDigest
        this.counters.corruptedByFault++;
      }
      if (matches(f.reorder, seq)) {
        this.held.push(frame);
        this.counters.reorderedByFault++;
      } else {
        this.wire(frame);
        if (matches(f.duplicate, seq)) {
          this.wire(frame);
          this.counters.duplicatedByFault++;
        }
        // Held-back frames arrive after this one: out of order.
        for (const late of this.held.splice(0)) this.wire(late);
      }
    }
    if (f.closeAfterMessages !== undefined && ++this.firstOutputSends >= f.closeAfterMessages) this.cutConnection();
  }

  /** The agent's resend scheduler: the oldest unacked message, once its RTO has passed. */
  private resendOldest(): void {
    const oldest = this.outgoing.values().next().value as Outgoing | undefined;
    if (!oldest || !this.connected) return;
    if (Date.now() - oldest.lastSentAt <= this.rto) return;
    oldest.record.attempts++;
    oldest.lastSentAt = Date.now();
    this.counters.retransmissions++;
    this.wire(oldest.frame);
  }

  private onAck(payload: Buffer): void {
    const { AcknowledgedMessageSequenceNumber: seq } = parseAcknowledgeContent(payload);
    const entry = this.outgoing.get(seq);
    if (!entry) {
      this.counters.duplicateAcks++;
      return;
    }
    this.outgoing.delete(seq);
    this.counters.acksReceived++;
    const now = Date.now();
    entry.record.ackedAt = now;
    // TCP-style estimator (notes §2.7).
    const sample = now - entry.lastSentAt;
    this.rttVar = 0.75 * this.rttVar + 0.25 * Math.abs(this.rtt - sample);
    this.rtt = 0.875 * this.rtt + 0.125 * sample;
    this.rto = Math.min(MAX_RTO_MS, this.rtt + Math.max(MIN_RTO_VAR_MS, 4 * this.rttVar));
    if (this.outgoing.size === 0) for (const wake of this.drainWaiters.splice(0)) wake();
  }

  private ack(message: ClientMessage): void {
    const frame = encodeAcknowledge(message);
    const send = () => {
      if (!this.connected) return;
      this.wire(frame);
      this.counters.acksSent++;
    };
    if (this.faults.ackDelayMs) this.later(this.faults.ackDelayMs, send);
    else send();
  }

  // Receiving ----------------------------------------------------------------------------------

  private onFrame(data: RawData, isBinary: boolean): void {
    // While draining, acks still count: they are what the drain waits for.
    if (this.state === 'closed') return;
    if (!isBinary) {
      this.counters.invalidFrames++;
      return;
    }
    const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    let message: ClientMessage;
    try {
      message = decodeClientMessage(frame);
    } catch (err) {
      // The agent does not check digests: count the mismatch, process the message.
      if (err instanceof PayloadDigestError) {
        this.counters.inputDigestMismatches++;
        message = err.decoded;
      } else {
        this.counters.invalidFrames++;
        return;
      }
    }
    try {
      if (message.messageType === MessageType.Acknowledge) this.onAck(message.payload);
      else if (message.messageType === MessageType.InputStreamData) this.onInput(message);
      // start/pause_publication and anything else: not for the shell plugin.
    } catch (err) {
      if (!(err instanceof ExecProtocolError)) throw err;
      this.counters.invalidFrames++;
    }
  }

  /** In-order delivery of client messages (the agent mirrors the client's receive rules, notes §2.6–2.7). */
  private onInput(message: ClientMessage): void {
    this.touch();
    const seq = message.sequenceNumber;
    if (seq < this.expectedInputSeq) {
      this.counters.inputDuplicates++;
      this.ack(message);
      return;
    }
    if (seq > this.expectedInputSeq) {
      if (!this.inputAhead.has(seq)) this.inputAhead.set(seq, message);
      this.counters.inputOutOfOrder++;
      this.ack(message);
      return;
    }
    // Refused without an ack: the client retransmits it until the command is up.
    if (!this.handleInput(message)) {
      this.counters.inputNotReady++;
      return;
    }
    this.ack(message);
    this.expectedInputSeq++;
    this.processInputAhead();
  }

  private processInputAhead(): void {
    for (let next = this.inputAhead.get(this.expectedInputSeq); next; next = this.inputAhead.get(this.expectedInputSeq)) {
      if (!this.handleInput(next)) return;
      this.inputAhead.delete(this.expectedInputSeq);
      this.expectedInputSeq++;
    }
  }

  /** Handles one in-order client message; false means "handler not ready" (do not ack). */
  private handleInput(message: ClientMessage): boolean {
    const type = message.payloadType;
    if (type === PayloadType.HandshakeResponse || type === PayloadType.EncChallengeResponse) {
      this.counters.inputMessages++;
      const waiter = this.waiters.get(type);
      this.waiters.delete(type);
      waiter?.(Buffer.from(message.payload));
      return true;
    }
    if (this.state === 'handshake') {
      this.counters.inputDiscardedDuringHandshake++;
      return true;
    }
    if (type === PayloadType.Output || type === PayloadType.Size) {
      if (!this.proc) return false;
      this.counters.inputMessages++;
      if (type === PayloadType.Size) {
        const size = parseJsonObject(message.payload, 'size');
        this.sizes.push({ cols: Number(size.cols), rows: Number(size.rows) });
        return true;
      }
      let data: Buffer = Buffer.from(message.payload);
      if (this.keys) {
        try {
          data = open(this.keys.decrypt, data);
        } catch {
          this.counters.invalidFrames++;
          return true;
        }
      }
      this.inputChunks.push(data);
      this.proc.input(data);
      return true;
    }
    this.counters.inputMessages++;
    if (type === PayloadType.Flag && message.payload.length >= 4) this.flags.push(message.payload.readUInt32BE(0));
    return true;
  }

  private waitFor(payloadType: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const timer = this.later(this.settings.handshakeTimeoutMs, () => {
        this.waiters.delete(payloadType);
        resolve(undefined);
      });
      this.waiters.set(payloadType, (payload) => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve(payload);
      });
    });
  }

  // Handshake (notes §2.8–2.9) -------------------------------------------------------------------

  /** Resolves undefined on success, or rejects/returns with the reason it failed. */
  private async handshake(): Promise<string | undefined> {
    const began = process.hrtime.bigint();
    const kmsKeyId = this.grant.kmsKeyId!;
    const randomChallenge = randomBytes(16).toString('base64');
    const request = {
      AgentVersion: this.settings.agentVersion,
      RequestedClientActions: [
        { ActionType: ActionType.SessionType, ActionParameters: { SessionType: 'InteractiveCommands', Properties: null } },
        { ActionType: ActionType.KMSEncryption, ActionParameters: { KMSKeyId: kmsKeyId, Challenge: randomChallenge } },
      ],
    };
    this.sendData(PayloadType.HandshakeRequest, Buffer.from(JSON.stringify(request)));
    const answer = await this.waitFor(PayloadType.HandshakeResponse);
    if (!answer) return 'no HandshakeResponse in time';
    const response = parseJsonObject(answer, 'HandshakeResponse');
    this.handshakeResponse = response;
    const errors = Array.isArray(response.Errors) ? response.Errors : [];
    if (errors.length) return `client reported errors: ${errors.join('; ')}`;
    const actions = Array.isArray(response.ProcessedClientActions) ? (response.ProcessedClientActions as Array<Record<string, unknown>>) : [];
    for (const requested of request.RequestedClientActions) {
      const processed = actions.find((a) => a.ActionType === requested.ActionType);
      if (!processed) return `client did not process ${requested.ActionType}`;
      if (processed.ActionStatus !== ActionStatus.Success) return `${requested.ActionType} failed on the client: ${String(processed.Error ?? '')}`;
    }
    const kms = actions.find((a) => a.ActionType === ActionType.KMSEncryption)!;
    const result = (typeof kms.ActionResult === 'object' && kms.ActionResult !== null ? kms.ActionResult : {}) as Record<string, unknown>;
    if (typeof result.KMSCipherTextKey !== 'string' || !result.KMSCipherTextKey) return 'KMSEncryption result has no KMSCipherTextKey';

    // The agent decrypts the data key as the task role, with the context the client had to use.
    const context: Record<string, string> = { 'aws:ssm:SessionId': this.sessionId, 'aws:ssm:TargetId': this.grant.targetId };
    if (result.ChallengeAcknowledgement === true) context['aws:ssm:RandomChallenge'] = randomChallenge;
    let dataKey: Buffer;
    try {
      const regional = this.aws.state.region(this.grant.accountId, this.grant.region);
      const { key, plaintext } = decryptBlob(regional, Buffer.from(result.KMSCipherTextKey, 'base64'), context);
      if (this.grant.taskRoleArn && this.aws.faults?.isDenied('kms:Decrypt', key.metadata.Arn!, this.taskRoleIdentity())) {
        return `the task role is not authorized to perform kms:Decrypt on ${key.metadata.Arn}`;
      }
      dataKey = plaintext;
    } catch (err) {
      if (err instanceof AwsError) return `KMS Decrypt failed: ${err.code}${err.message ? `: ${err.message}` : ''}`;
      throw err;
    }
    if (dataKey.length !== 64) return `the data key is ${dataKey.length} bytes, expected 64`;
    // The agent encrypts with the first half and decrypts with the second; the client the other way round.
    const keys = { encrypt: dataKey.subarray(0, 32), decrypt: dataKey.subarray(32, 64) };

    const challenge = randomBytes(64);
    this.sendData(PayloadType.EncChallengeRequest, Buffer.from(JSON.stringify({ Challenge: seal(keys.encrypt, challenge).toString('base64') })));
    const reply = await this.waitFor(PayloadType.EncChallengeResponse);
    if (!reply) return 'no EncChallengeResponse in time';
    const returned = parseJsonObject(reply, 'EncChallengeResponse').Challenge;
    let echoed: Buffer;
    try {
      echoed = open(keys.decrypt, Buffer.from(String(returned ?? ''), 'base64'));
    } catch {
      return 'the encryption challenge response does not decrypt';
    }
    if (!echoed.equals(challenge)) return 'the encryption challenge response does not match';

    this.keys = keys;
    this.encrypted = true;
    const complete = {
      HandshakeTimeToComplete: Number(process.hrtime.bigint() - began),
      CustomerMessage: 'This session is encrypted using AWS KMS.',
    };
    this.sendData(PayloadType.HandshakeComplete, Buffer.from(JSON.stringify(complete)));
    return undefined;
  }

  private taskRoleIdentity(): Identity {
    const roleArn = this.grant.taskRoleArn!;
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    return {
      type: 'AssumedRole',
      accountId: this.grant.accountId,
      arn: arns.assumedRole(this.grant.accountId, roleName, this.grant.taskId),
      principalId: `${roleName}:${this.grant.taskId}`,
      accessKeyId: 'ASIALOCALTASKROLE000',
      roleArn,
      sessionName: this.grant.taskId,
    };
  }

  // Ending -------------------------------------------------------------------------------------

  /** The connection dropped under the session (client closed, or a fault cut it). */
  private onClientGone(): void {
    if (this.ending) return;
    this.clientGoneAt ??= Date.now();
    for (const [type, wake] of this.waiters) {
      this.waiters.delete(type);
      wake(undefined);
    }
    // Nothing was started yet: nothing to keep running. Otherwise the command runs on, as in AWS.
    if (!this.proc) void this.finish('client-gone', '');
  }

  private cutConnection(): void {
    this.ws.terminate();
    this.onClientGone();
  }

  private async finish(reason: CloseReason, output: string): Promise<void> {
    if (this.ending) return;
    this.ending = true;
    this.state = 'draining';
    if (this.proc?.running) this.proc.kill();
    // A handshake still waiting for an answer gives up now.
    for (const [type, wake] of this.waiters) {
      this.waiters.delete(type);
      wake(undefined);
    }
    if (this.connected && reason !== 'agent-closed') {
      // PrepareToCloseChannel: wait until every message is acked, or the drain timeout.
      if (this.outgoing.size) {
        await Promise.race([new Promise<void>((resolve) => this.drainWaiters.push(resolve)), sleep(this.settings.drainTimeoutMs)]);
      }
    }
    this.drained = this.outgoing.size === 0;
    this.unackedAtClose = [...this.outgoing.keys()];
    this.closeReason = reason;
    this.closeOutput = output;
    if (this.connected && reason !== 'agent-closed') {
      this.wire(encodeChannelClosed({ sessionId: this.sessionId, output }));
      this.ws.close(1000);
    }
    if (this.resendTimer) clearInterval(this.resendTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.state = 'closed';
    this.endedAt = Date.now();
    this.resolveDone(this);
  }

  /** Client activity restarts the idle timer. */
  private touch(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.terminate('idle-timeout', CLOSE_MESSAGES.idle), this.settings.idleTimeoutMs);
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }
}

export interface ExecAgent {
  /** `ws://127.0.0.1:<port>`; ExecuteCommand builds stream URLs on it. */
  url: string;
  port: number;
  /** Where the container roots live. */
  baseDir: string;
  /** Live settings (tests shorten timeouts for one case and put them back). */
  settings: ExecAgentSettings;
  faults: ExecFaultController;
  /** Accepted sessions by id (kept after they end). */
  sessions: Map<string, AgentSession>;
  /** Connections refused (bad or reused token, no opening frame, …). */
  rejected: RejectedConnection[];
  /** Resolves when the session with this id (or, without an id, the next session) has been accepted. */
  session(sessionId?: string): Promise<AgentSession>;
  /** The host directory playing the container's `/` (created on demand, scripts included). */
  containerRoot(clusterName: string, taskId: string, containerName: string): string;
  /** TerminateSession: kills the command and ends the session; false if there is no such open session. */
  terminate(sessionId: string): boolean;
  /** Kills every command, closes every connection, removes the temporary directory it created. */
  close(): Promise<void>;
}

export async function startExecAgent(options: ExecAgentOptions): Promise<ExecAgent> {
  const settings: Settings = {
    initialReadDelayMs: options.initialReadDelayMs ?? DEFAULTS.initialReadDelayMs,
    commandStartDelayMs: options.commandStartDelayMs ?? DEFAULTS.commandStartDelayMs,
    drainTimeoutMs: options.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULTS.handshakeTimeoutMs,
    openTimeoutMs: options.openTimeoutMs ?? DEFAULTS.openTimeoutMs,
    tokenTtlMs: options.tokenTtlMs ?? DEFAULTS.tokenTtlMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
    resendIntervalMs: options.resendIntervalMs ?? DEFAULTS.resendIntervalMs,
    agentVersion: options.agentVersion ?? DEFAULTS.agentVersion,
  };
  const ownsBaseDir = !options.baseDir;
  // Real path: scripts print `pwd`/`$0` resolved, and the output mapping must recognise them.
  const baseDir = realpathSync(options.baseDir ?? mkdtempSync(join(tmpdir(), 'ecs-exec-agent-')));
  const scriptsDir = options.scriptsDir === null ? undefined : (options.scriptsDir ?? MANAGER_SCRIPTS_DIR);
  const registry = execRegistry(options.aws.state);
  const faults = new ExecFaultController();
  const sessions = new Map<string, AgentSession>();
  const rejected: RejectedConnection[] = [];
  const waiting: Array<{ id?: string; resolve: (s: AgentSession) => void }> = [];
  // Prepared on every session: cheap, and an edited sample script is live on the next run.
  const containerFs = (clusterName: string, taskId: string, containerName: string): ContainerFs =>
    prepareContainerFs(baseDir, [clusterName, taskId, containerName], scriptsDir);

  const refuse = (ws: WebSocket, reason: string, sessionId?: string) => {
    rejected.push({ at: Date.now(), reason, ...(sessionId ? { sessionId } : {}) });
    // 1008 "policy violation": the closest standard code for an authentication failure.
    ws.close(1008, reason);
  };

  const accept = (ws: WebSocket, sessionId: string, text: string) => {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text);
    } catch {
      return refuse(ws, 'the opening frame is not JSON', sessionId);
    }
    if (frame === null || typeof frame !== 'object') return refuse(ws, 'the opening frame is not a JSON object', sessionId);
    if (frame.MessageSchemaVersion !== '1.0') return refuse(ws, 'unsupported MessageSchemaVersion', sessionId);
    if (typeof frame.RequestId !== 'string' || frame.RequestId.length < 16) return refuse(ws, 'RequestId is missing or too short', sessionId);
    const grant = registry.sessions.get(sessionId);
    if (!grant) return refuse(ws, 'unknown session', sessionId);
    if (frame.TokenValue !== grant.token) return refuse(ws, 'invalid token', sessionId);
    if (grant.usedAt !== undefined) return refuse(ws, 'token already used', sessionId);
    if (Date.now() - grant.grantedAt > settings.tokenTtlMs) return refuse(ws, 'token expired', sessionId);
    grant.usedAt = Date.now();
    const session = new AgentSession(
      grant,
      ws,
      settings,
      containerFs(grant.clusterName, grant.taskId, grant.containerName),
      faults.take(sessionId),
      options.aws,
    );
    sessions.set(sessionId, session);
    for (const w of waiting.filter((w) => !w.id || w.id === sessionId)) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve(session);
    }
    void session.run();
  };

  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    ws.on('error', () => undefined);
    const raw = /^\/v1\/data-channel\/([^/?]+)/.exec(req.url ?? '')![1]!;
    let sessionId: string;
    try {
      sessionId = decodeURIComponent(raw);
    } catch {
      return refuse(ws, 'malformed session id');
    }
    const timer = setTimeout(() => refuse(ws, 'no opening frame', sessionId), settings.openTimeoutMs);
    ws.once('message', (data, isBinary) => {
      clearTimeout(timer);
      if (isBinary) return refuse(ws, 'the first frame must be the opening text frame', sessionId);
      accept(ws, sessionId, Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    });
    ws.once('close', () => clearTimeout(timer));
  });

  const server = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'the data channel is a WebSocket endpoint' }));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    if (!/^\/v1\/data-channel\/[^/?]+(\?|$)/.test(req.url ?? '')) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `ws://127.0.0.1:${port}`;
  registry.endpoint = url;

  return {
    url,
    port,
    baseDir,
    settings,
    faults,
    sessions,
    rejected,
    session(sessionId) {
      const existing = sessionId ? sessions.get(sessionId) : undefined;
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve) => waiting.push({ ...(sessionId ? { id: sessionId } : {}), resolve }));
    },
    containerRoot: (clusterName, taskId, containerName) => containerFs(clusterName, taskId, containerName).root,
    terminate(sessionId) {
      const session = sessions.get(sessionId);
      if (!session || session.state === 'closed' || session.state === 'draining') return false;
      session.terminate();
      return true;
    },
    async close() {
      if (registry.endpoint === url) delete registry.endpoint;
      await Promise.all([...sessions.values()].map((s) => s.shutdown()));
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => {
        wss.close(() => resolve());
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      if (ownsBaseDir) rmSync(baseDir, { recursive: true, force: true });
    },
  };
}
