import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import {
  type ClientMessage,
  decodeClientMessage,
  encodeAcknowledge,
  encodeChannelClosed,
  encodeClientMessage,
  encodeHandshakeRequest,
  encodeOutputStreamData,
  type HandshakeResponsePayload,
  MessageType,
  parseAcknowledgeContent,
  PayloadType,
} from '../src/exec/codec';
import {
  DATA_KEY_BYTES,
  ExecCryptoError,
  type GenerateDataKeyRequest,
  kmsDataKeyGenerator,
  openPayload,
  processKmsEncryptionAction,
  sealPayload,
  SessionCipher,
  splitDataKey,
} from '../src/exec/crypto';
import { EXEC_CLIENT_VERSION, ExecSession, type ExecSessionError, type ExecSessionOptions } from '../src/exec/session';

// ---------------------------------------------------------------------------------------------
// A minimal fake agent + MGS: a WebSocket server on loopback speaking the agent's side.

async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class AgentConnection {
  openFrame: Record<string, unknown> | undefined;
  openFrameWasText = false;
  /** Every binary frame the client sent, decoded, with its arrival time. */
  readonly inbox: Array<ClientMessage & { at: number }> = [];
  /** When false, input_stream_data is not acknowledged automatically. */
  autoAck = true;
  cipher: SessionCipher | undefined;
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly url: string,
  ) {
    ws.on('message', (data: Buffer, isBinary) => {
      if (this.openFrame === undefined) {
        this.openFrameWasText = !isBinary;
        this.openFrame = JSON.parse(data.toString());
        return;
      }
      const message = { ...decodeClientMessage(Buffer.from(data)), at: Date.now() };
      this.inbox.push(message);
      if (message.messageType === MessageType.InputStreamData && this.autoAck) this.send(encodeAcknowledge(message));
    });
    ws.on('close', () => (this.closed = true));
  }

  send(frame: Buffer): void {
    this.ws.send(frame);
  }

  output(sequenceNumber: number, text: string | Buffer, payloadType: number = PayloadType.Output): void {
    const plain = Buffer.from(text);
    const payload = this.cipher && payloadType === PayloadType.Output ? this.cipher.encrypt(plain) : plain;
    this.send(encodeOutputStreamData({ sequenceNumber, payload, payloadType }));
  }

  channelClosed(output = ''): void {
    this.send(encodeChannelClosed({ sessionId: 'ecs-execute-command-test', output }));
  }

  acks(): Array<ReturnType<typeof parseAcknowledgeContent>> {
    return this.inbox.filter((m) => m.messageType === MessageType.Acknowledge).map((m) => parseAcknowledgeContent(m.payload));
  }

  inputs(): Array<ClientMessage & { at: number }> {
    return this.inbox.filter((m) => m.messageType === MessageType.InputStreamData);
  }
}

class FakeAgent {
  private readonly waiting: Array<(c: AgentConnection) => void> = [];
  readonly connections: AgentConnection[] = [];

  private constructor(readonly server: WebSocketServer) {
    server.on('connection', (ws, req) => {
      const conn = new AgentConnection(ws, req.url ?? '');
      this.connections.push(conn);
      this.waiting.shift()?.(conn);
    });
  }

  static async start(): Promise<FakeAgent> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => server.once('listening', () => r()));
    return new FakeAgent(server);
  }

  get streamUrl(): string {
    const { port } = this.server.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/v1/data-channel/ecs-execute-command-test?role=publish_subscribe&cell-number=AAAA`;
  }

  private handedOut = 0;

  /** The next connection not handed out yet, once its opening frame has arrived. */
  async connection(): Promise<AgentConnection> {
    const index = this.handedOut++;
    const conn = this.connections[index] ?? (await new Promise<AgentConnection>((r) => this.waiting.push(r)));
    await until(() => conn.openFrame !== undefined, 'the opening frame');
    return conn;
  }

  async close(): Promise<void> {
    for (const c of this.server.clients) c.terminate();
    await new Promise((r) => this.server.close(r));
  }
}

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

const FAST_RETRANSMIT = { initialRtoMs: 30, maxRtoMs: 200, checkIntervalMs: 5 };

async function setup(extra: Partial<ExecSessionOptions> = {}): Promise<{ agent: FakeAgent; conn: AgentConnection; session: ExecSession; chunks: Buffer[] }> {
  const agent = await FakeAgent.start();
  cleanups.push(() => agent.close());
  const session = await ExecSession.open({ streamUrl: agent.streamUrl, tokenValue: 'token-abc', retransmit: FAST_RETRANSMIT, ...extra });
  cleanups.push(() => session.terminate());
  const chunks: Buffer[] = [];
  session.on('output', (chunk) => chunks.push(chunk));
  const conn = await agent.connection();
  return { agent, conn, session, chunks };
}

const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString();

// ---------------------------------------------------------------------------------------------

describe('ExecSession: opening', () => {
  it('uses the stream URL verbatim and sends the token frame as text with all five fields', async () => {
    const { conn } = await setup({ clientVersion: '9.8.7.6' });
    expect(conn.url).toBe('/v1/data-channel/ecs-execute-command-test?role=publish_subscribe&cell-number=AAAA');
    expect(conn.openFrameWasText).toBe(true);
    const f = conn.openFrame!;
    expect(Object.keys(f)).toEqual(['MessageSchemaVersion', 'RequestId', 'TokenValue', 'ClientId', 'ClientVersion']);
    expect(f).toMatchObject({ MessageSchemaVersion: '1.0', TokenValue: 'token-abc', ClientVersion: '9.8.7.6' });
    expect(f.RequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(f.ClientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(f.ClientId).not.toBe(f.RequestId);
  });

  it('defaults ClientVersion to the version whose gated features it handles', async () => {
    const { conn } = await setup();
    expect(conn.openFrame!.ClientVersion).toBe(EXEC_CLIENT_VERSION);
  });

  it('rejects open() with CONNECT_FAILED when nothing listens', async () => {
    const agent = await FakeAgent.start();
    const url = agent.streamUrl;
    await agent.close();
    await expect(ExecSession.open({ streamUrl: url, tokenValue: 't' })).rejects.toMatchObject({ code: 'CONNECT_FAILED' });
  });

  it('rejects open() with CONNECT_FAILED when the upgrade is refused (e.g. an expired token → 403)', async () => {
    const server = (await import('node:http')).createServer((_, res) => res.writeHead(403).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const { port } = server.address() as AddressInfo;
    await expect(ExecSession.open({ streamUrl: `ws://127.0.0.1:${port}/`, tokenValue: 't' })).rejects.toMatchObject({
      code: 'CONNECT_FAILED',
      message: expect.stringContaining('403'),
    });
  });

  it('gives up connecting after connectTimeoutMs when the upgrade never answers', async () => {
    const sockets: import('node:net').Socket[] = [];
    const server = (await import('node:net')).createServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(r))));
    const { port } = server.address() as AddressInfo;
    const started = Date.now();
    await expect(ExecSession.open({ streamUrl: `ws://127.0.0.1:${port}/`, tokenValue: 't', connectTimeoutMs: 100 })).rejects.toMatchObject({
      code: 'CONNECT_FAILED',
    });
    expect(Date.now() - started).toBeLessThan(2000);

    const controller = new AbortController();
    const opening = ExecSession.open({ streamUrl: `ws://127.0.0.1:${port}/`, tokenValue: 't', signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    await expect(opening).rejects.toMatchObject({ code: 'ABORTED' });
  });

  it('rejects open() with ABORTED for an already aborted signal', async () => {
    const agent = await FakeAgent.start();
    cleanups.push(() => agent.close());
    await expect(ExecSession.open({ streamUrl: agent.streamUrl, tokenValue: 't', signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'ABORTED',
    });
    expect(agent.connections).toHaveLength(0);
  });
});

describe('ExecSession: receiving output', () => {
  it('delivers output, acks each message, and ends cleanly on channel_closed', async () => {
    const { conn, session, chunks } = await setup();
    conn.output(0, 'hello ');
    conn.output(1, 'world\r\n');
    conn.output(2, 'bye\r\n');
    await until(() => conn.acks().length === 3, '3 acks');
    conn.channelClosed();
    const result = await session.closed;
    expect(result.reason).toBe('channel_closed');
    expect(result.output).toBeUndefined();
    expect(result.error).toBeUndefined();
    expect(text(chunks)).toBe('hello world\r\nbye\r\n');
    expect(conn.acks().map((a) => [a.AcknowledgedMessageType, a.AcknowledgedMessageSequenceNumber])).toEqual([
      ['output_stream_data', 0],
      ['output_stream_data', 1],
      ['output_stream_data', 2],
    ]);
    expect(result.stats).toMatchObject({ messagesReceived: 4, messagesDelivered: 3, acksSent: 3, duplicates: 0, outputBytes: 18 });
    await until(() => conn.closed, 'the client to close the socket');
  });

  it('acks name the acknowledged message id, and ack frames use seq 0 / flags 3', async () => {
    const { conn } = await setup();
    const frame = encodeOutputStreamData({ sequenceNumber: 0, payload: Buffer.from('x'), messageId: 'dd01e56b-ff48-483e-a508-b5f073f31b16' });
    conn.send(frame);
    await until(() => conn.acks().length === 1, 'an ack');
    const ack = conn.inbox[0]!;
    expect([ack.sequenceNumber, ack.flags, ack.payloadType]).toEqual([0, 3, 0]);
    expect(conn.acks()[0]!.AcknowledgedMessageId).toBe('dd01e56b-ff48-483e-a508-b5f073f31b16');
  });

  it('reports the channel_closed Output text', async () => {
    const { conn, session } = await setup();
    conn.channelClosed('Session was terminated by idle timeout.');
    const result = await session.closed;
    expect(result).toMatchObject({ reason: 'channel_closed', output: 'Session was terminated by idle timeout.' });
  });

  it('delivers out-of-order and duplicate frames once, in order, and acks every one', async () => {
    const { conn, session, chunks } = await setup();
    const order = [0, 2, 4, 3, 2, 1, 0, 5];
    for (const seq of order) conn.output(seq, `<${seq}>`);
    await until(() => conn.acks().length === order.length, 'an ack per frame');
    expect(conn.acks().map((a) => a.AcknowledgedMessageSequenceNumber)).toEqual(order);
    expect(text(chunks)).toBe('<0><1><2><3><4><5>');
    conn.channelClosed();
    const result = await session.closed;
    expect(result.stats).toMatchObject({ duplicates: 2, outOfOrderBuffered: 3, messagesDelivered: 6 });
    expect(result.undelivered).toBe(0);
  });

  it('SMP reordering case: 0; buffer 2, 6, 4, 3; 1 drains to 5 and keeps 6, reported undelivered', async () => {
    const { conn, session, chunks } = await setup();
    for (const seq of [0, 2, 6, 4, 3, 1]) conn.output(seq, `testPayload${seq}`);
    await until(() => conn.acks().length === 6, '6 acks');
    expect(chunks.map(String)).toEqual(['testPayload0', 'testPayload1', 'testPayload2', 'testPayload3', 'testPayload4']);
    conn.channelClosed();
    expect((await session.closed).undelivered).toBe(1);
  });

  it('beyond maxBuffered early messages, drops them unacked so the agent resends them later', async () => {
    const { conn, chunks } = await setup({ maxBuffered: 2 });
    for (const seq of [1, 2, 3]) conn.output(seq, `<${seq}>`);
    await until(() => conn.acks().length === 2, 'acks of the buffered two');
    await sleep(30);
    expect(conn.acks().map((a) => a.AcknowledgedMessageSequenceNumber)).toEqual([1, 2]);
    conn.output(0, '<0>');
    conn.output(3, '<3>'); // the agent's retransmission
    await until(() => chunks.length === 4, 'all output');
    expect(text(chunks)).toBe('<0><1><2><3>');
  });

  it('drops a frame with a bad digest without acking it, then accepts the retransmission', async () => {
    const { conn, session, chunks } = await setup();
    const bad = encodeOutputStreamData({ sequenceNumber: 0, payload: Buffer.from('good data') });
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0xff;
    conn.send(bad);
    await until(() => session.stats.digestErrors === 1, 'the digest error');
    await sleep(50);
    expect(conn.acks()).toHaveLength(0);
    expect(chunks).toHaveLength(0);
    conn.output(0, 'good data');
    await until(() => conn.acks().length === 1, 'the ack of the retransmission');
    expect(text(chunks)).toBe('good data');
  });

  it('accepts a bad digest when verification is turned off', async () => {
    const { conn, chunks } = await setup({ verifyDigest: false });
    const bad = encodeOutputStreamData({ sequenceNumber: 0, payload: Buffer.from('abc') });
    bad.fill(0, 80, 112);
    conn.send(bad);
    await until(() => conn.acks().length === 1, 'the ack');
    expect(text(chunks)).toBe('abc');
  });

  it('ignores malformed frames and text frames, and keeps going', async () => {
    const { conn, session, chunks } = await setup();
    conn.send(Buffer.from('garbage'));
    conn.ws.send('a text frame');
    conn.send(encodeClientMessage({ messageType: 'agent_session_state', payload: Buffer.from('{}') }));
    conn.output(0, 'still fine');
    await until(() => chunks.length === 1, 'output');
    expect(session.stats.invalidFrames).toBe(2);
    expect(session.stats.messagesReceived).toBe(2);
    expect(conn.acks().map((a) => a.AcknowledgedMessageType)).toEqual(['output_stream_data']);
  });

  it('emits StdErr payloads with their type and records an ExitCode payload', async () => {
    const { conn, session } = await setup();
    const seen: Array<[string, number]> = [];
    session.on('output', (chunk, type) => seen.push([chunk.toString(), type]));
    conn.output(0, 'out', PayloadType.Output);
    conn.output(1, 'err', PayloadType.StdErr);
    conn.output(2, 'EXIT_CODE: 3', PayloadType.ExitCode);
    await until(() => conn.acks().length === 3, 'acks');
    conn.channelClosed();
    const result = await session.closed;
    expect(seen).toEqual([
      ['out', 1],
      ['err', 11],
    ]);
    expect(result.exitCode).toBe(3);
  });

  it('ends the session with reason error when an output listener throws', async () => {
    const { conn, session } = await setup();
    session.on('output', () => {
      throw new Error('consumer bug');
    });
    conn.output(0, 'x');
    const result = await session.closed;
    expect(result.reason).toBe('error');
    expect(result.error?.message).toBe('consumer bug');
  });

  it('reports an abrupt socket drop before channel_closed as socket_closed, never a clean end', async () => {
    const { conn, session, chunks } = await setup();
    conn.output(0, 'partial');
    await until(() => chunks.length === 1, 'output');
    conn.ws.terminate();
    const result = await session.closed;
    expect(result.reason).toBe('socket_closed');
    expect((result.error as ExecSessionError).code).toBe('SOCKET_CLOSED');
  });

  it('treats an orderly WebSocket close without channel_closed as socket_closed too', async () => {
    const { conn, session } = await setup();
    conn.ws.close(1000, 'bye');
    const result = await session.closed;
    expect(result.reason).toBe('socket_closed');
    expect(result.error?.message).toContain('1000');
  });
});

describe('ExecSession: sending input', () => {
  it('holds input until the first output (no handshake), then sends it as input_stream_data seq 0', async () => {
    const { conn, session } = await setup();
    const typed = Buffer.from('echo hi\r');
    session.sendInput(typed);
    typed.fill(0); // the caller may reuse its buffer: held input must be a copy
    await sleep(60);
    expect(conn.inputs()).toHaveLength(0);
    conn.output(0, 'prompt$ ');
    await until(() => conn.inputs().length === 1, 'the input');
    const input = conn.inputs()[0]!;
    expect([input.sequenceNumber, input.flags, input.payloadType, input.payload.toString()]).toEqual([0, 0, 1, 'echo hi\r']);
  });

  it('releases held input after the grace period when the command prints nothing', async () => {
    const { conn, session } = await setup({ inputGraceMs: 50 });
    session.interrupt();
    await until(() => conn.inputs().length === 1, 'Ctrl-C after the grace period');
    expect(conn.inputs()[0]!.payload).toEqual(Buffer.from([3]));
  });

  it('retransmits unacknowledged input (dropped ack) and stops once acked', async () => {
    const { conn, session } = await setup();
    conn.autoAck = false;
    conn.output(0, 'running…');
    await until(() => conn.acks().length === 1, 'ack of the output');
    session.interrupt();
    await until(() => conn.inputs().length >= 3, 'two retransmissions');
    const sent = conn.inputs();
    // The same message each time: same seq, same id, same payload.
    expect(new Set(sent.map((m) => `${m.sequenceNumber}/${m.messageId}/${m.payload.toString('hex')}`)).size).toBe(1);
    expect(sent[0]!.payload).toEqual(Buffer.from([3]));
    conn.send(encodeAcknowledge(sent[0]!));
    await until(() => session.stats.acksReceived === 1, 'the ack to arrive');
    const count = conn.inputs().length;
    await sleep(300);
    expect(conn.inputs().length).toBe(count);
    expect(session.stats.retransmits).toBe(count - 1);
  });

  it('backs off between retransmissions and fails the session at the retry cap', async () => {
    const { conn, session } = await setup({ retransmit: { initialRtoMs: 40, maxRtoMs: 5000, checkIntervalMs: 5, maxAttempts: 4 } });
    conn.autoAck = false;
    conn.output(0, 'x');
    await until(() => conn.acks().length === 1, 'ack');
    session.sendInput(Buffer.from('y'));
    const result = await session.closed;
    expect(result.reason).toBe('error');
    expect((result.error as ExecSessionError).code).toBe('RETRANSMIT_LIMIT');
    const times = conn.inputs().map((m) => m.at);
    expect(times).toHaveLength(4);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // RTO 40 ms doubling: ≈40, 80, 160 ms.
    expect(gaps[0]!).toBeGreaterThanOrEqual(35);
    expect(gaps[2]!).toBeGreaterThanOrEqual(150);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]! * 2);
  });

  it('numbers input messages consecutively and matches acks by sequence number', async () => {
    const { conn, session } = await setup();
    conn.output(0, '$ ');
    await until(() => conn.acks().length === 1, 'ack');
    for (const s of ['a', 'b', 'c']) session.sendInput(Buffer.from(s));
    await until(() => session.stats.acksReceived === 3, 'acks of the input');
    expect(conn.inputs().map((m) => [m.sequenceNumber, m.payload.toString()])).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ]);
    await sleep(100);
    expect(session.stats.retransmits).toBe(0);
  });

  it('pause_publication holds input (and retransmission) until start_publication', async () => {
    const { conn, session } = await setup();
    conn.output(0, '$ ');
    await until(() => conn.acks().length === 1, 'ack');
    conn.send(encodeClientMessage({ messageType: MessageType.PausePublication }));
    await sleep(30);
    session.sendInput(Buffer.from('q'));
    await sleep(100);
    expect(conn.inputs()).toHaveLength(0);
    conn.send(encodeClientMessage({ messageType: MessageType.StartPublication }));
    await until(() => conn.inputs().length === 1, 'input after resume');
    expect(conn.inputs()[0]!.payload.toString()).toBe('q');
    expect(session.stats.retransmits).toBe(0);
  });

  it('start/pause_publication are not acknowledged', async () => {
    const { conn, session } = await setup();
    conn.send(encodeClientMessage({ messageType: MessageType.PausePublication }));
    conn.send(encodeClientMessage({ messageType: MessageType.StartPublication }));
    await until(() => session.stats.messagesReceived === 2, 'both messages');
    await sleep(30);
    expect(conn.acks()).toHaveLength(0);
  });

  it('adapts the RTO to fast acks, so a lost message is resent well before the initial RTO', async () => {
    const { conn, session } = await setup({ retransmit: { initialRtoMs: 400, maxRtoMs: 1000, checkIntervalMs: 5 } });
    expect(session.stats.rtoMs).toBe(400);
    conn.output(0, '$ ');
    await until(() => conn.acks().length === 1, 'ack');
    for (let i = 0; i < 20; i++) {
      session.sendInput(Buffer.from(String(i)));
      await until(() => session.stats.acksReceived === i + 1, `ack ${i}`);
    }
    const adapted = session.stats.rtoMs;
    expect(adapted).toBeLessThan(150);
    conn.autoAck = false;
    session.sendInput(Buffer.from('lost'));
    await until(() => conn.inputs().length === 22, 'a retransmission');
    const [first, second] = conn.inputs().slice(20);
    expect(second!.at - first!.at).toBeLessThan(300);
  });

  it("does not take an RTT sample from a retransmitted message's ack (Karn)", async () => {
    const { conn, session } = await setup({ retransmit: { initialRtoMs: 40, maxRtoMs: 1000, checkIntervalMs: 5 } });
    conn.autoAck = false;
    conn.output(0, '$ ');
    await until(() => conn.acks().length === 1, 'ack');
    session.sendInput(Buffer.from('x'));
    await until(() => conn.inputs().length === 2, 'a retransmission');
    conn.send(encodeAcknowledge(conn.inputs()[0]!));
    await until(() => session.stats.acksReceived === 1, 'the ack');
    expect(session.stats.rtoMs).toBe(40);
  });

  it('suspends retransmission during pause_publication and resumes it on start_publication', async () => {
    const { conn, session } = await setup();
    conn.autoAck = false;
    conn.output(0, '$ ');
    await until(() => conn.acks().length === 1, 'ack');
    session.sendInput(Buffer.from('z'));
    await until(() => conn.inputs().length === 1, 'the input');
    conn.send(encodeClientMessage({ messageType: MessageType.PausePublication }));
    await until(() => session.stats.messagesReceived === 2, 'the pause');
    const count = conn.inputs().length;
    await sleep(200);
    expect(conn.inputs().length).toBe(count);
    conn.send(encodeClientMessage({ messageType: MessageType.StartPublication }));
    await until(() => conn.inputs().length > count, 'retransmission after resume');
  });

  it('terminate() sends the TerminateSession flag, closes, and reports terminated', async () => {
    const { conn, session } = await setup();
    conn.output(0, '$ ');
    await until(() => conn.acks().length === 1, 'ack');
    const result = await session.terminate();
    expect(result.reason).toBe('terminated');
    await until(() => conn.closed, 'socket close');
    const flag = conn.inputs().find((m) => m.payloadType === PayloadType.Flag);
    expect(flag?.payload.readUInt32BE(0)).toBe(2);
    // Nothing after terminate counts.
    session.sendInput(Buffer.from('late'));
    expect(conn.inputs().some((m) => m.payload.toString() === 'late')).toBe(false);
  });

  it('aborting the signal after open terminates the session with ABORTED', async () => {
    const controller = new AbortController();
    const { session } = await setup({ signal: controller.signal });
    controller.abort(new Error('lambda deadline'));
    const result = await session.closed;
    expect(result.reason).toBe('terminated');
    expect((result.error as ExecSessionError).code).toBe('ABORTED');
  });
});

// ---------------------------------------------------------------------------------------------

describe('exec crypto', () => {
  const dataKey = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
  const nonce = Buffer.from(Array.from({ length: 12 }, (_, i) => i));

  it('vector E: agent→client payload decrypts with bytes 0–31', () => {
    const sealed = Buffer.from('000102030405060708090a0b2f67ba77aae8c89300047a31533ff9d4164be444aedcfa', 'hex');
    expect(SessionCipher.forClient(dataKey).decrypt(sealed).toString()).toBe('hello\r\n');
    expect(SessionCipher.forAgent(dataKey).encrypt(Buffer.from('hello\r\n'), nonce).toString('hex')).toBe(sealed.toString('hex'));
  });

  it('vector E: client→agent payload encrypts with bytes 32–63', () => {
    const sealed = SessionCipher.forClient(dataKey).encrypt(Buffer.from('ls\r'), nonce);
    expect(sealed.toString('hex')).toBe('000102030405060708090a0b302150796b6ce92de9e02938ee56f3d16b8741');
    expect(SessionCipher.forAgent(dataKey).decrypt(sealed).toString()).toBe('ls\r');
  });

  it('round-trips random payloads both ways with fresh random nonces', () => {
    const key = randomBytes(64);
    const client = SessionCipher.forClient(key);
    const agent = SessionCipher.forAgent(key);
    for (const size of [0, 1, 1024, 70_000]) {
      const data = randomBytes(size);
      const a = client.encrypt(data);
      const b = client.encrypt(data);
      expect(a.length).toBe(12 + size + 16);
      expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
      expect(agent.decrypt(a).equals(data)).toBe(true);
      expect(client.decrypt(agent.encrypt(data)).equals(data)).toBe(true);
    }
  });

  it('rejects tampered data, the wrong direction key, short payloads and short data keys', () => {
    const key = randomBytes(64);
    const sealed = SessionCipher.forClient(key).encrypt(Buffer.from('secret'));
    sealed[14] = sealed[14]! ^ 1;
    expect(() => SessionCipher.forAgent(key).decrypt(sealed)).toThrow(ExecCryptoError);
    // The client cannot read its own input: the two directions use different keys.
    expect(() => SessionCipher.forClient(key).decrypt(SessionCipher.forClient(key).encrypt(Buffer.from('x')))).toThrow(ExecCryptoError);
    expect(() => openPayload(key.subarray(0, 32), Buffer.alloc(27))).toThrow(ExecCryptoError);
    expect(() => splitDataKey(randomBytes(32))).toThrow(ExecCryptoError);
    expect(() => sealPayload(key.subarray(0, 32), Buffer.from('x'), Buffer.alloc(8))).toThrow(ExecCryptoError);
  });

  it('copies the key halves so later changes to the caller buffer do not matter', () => {
    const key = randomBytes(64);
    const cipher = SessionCipher.forClient(key);
    const sealed = SessionCipher.forAgent(Buffer.from(key)).encrypt(Buffer.from('ok'));
    key.fill(0);
    expect(cipher.decrypt(sealed).toString()).toBe('ok');
  });

  it('asks KMS for 64 bytes with the session encryption context, resolving a lazy target', async () => {
    const requests: GenerateDataKeyRequest[] = [];
    const { action } = await processKmsEncryptionAction(
      { KMSKeyId: 'arn:aws:kms:eu-west-1:111122223333:key/k', Challenge: 'Y2hhbGxlbmdl' },
      {
        sessionId: 'ecs-execute-command-1',
        target: async () => 'ecs:prod_abc_abc-123',
        generateDataKey: async (r) => {
          requests.push(r);
          return { plaintext: randomBytes(64), ciphertext: Buffer.from('blob') };
        },
      },
    );
    expect(requests).toEqual([
      {
        keyId: 'arn:aws:kms:eu-west-1:111122223333:key/k',
        numberOfBytes: DATA_KEY_BYTES,
        encryptionContext: { 'aws:ssm:SessionId': 'ecs-execute-command-1', 'aws:ssm:TargetId': 'ecs:prod_abc_abc-123' },
      },
    ]);
    expect(action).toEqual({
      ActionType: 'KMSEncryption',
      ActionStatus: 1,
      ActionResult: { KMSCipherTextKey: Buffer.from('blob').toString('base64'), KMSCipherTextHash: null },
      Error: '',
    });
  });

  it('binds the key to the agent challenge only when asked to', async () => {
    let context: Record<string, string> = {};
    const { action } = await processKmsEncryptionAction(
      { KMSKeyId: 'k', Challenge: 'Y2hhbGxlbmdl' },
      {
        sessionId: 's',
        target: 't',
        acknowledgeChallenge: true,
        generateDataKey: async (r) => {
          context = r.encryptionContext;
          return { plaintext: randomBytes(64), ciphertext: Buffer.from('b') };
        },
      },
    );
    expect(context['aws:ssm:RandomChallenge']).toBe('Y2hhbGxlbmdl');
    expect((action.ActionResult as Record<string, unknown>).ChallengeAcknowledgement).toBe(true);
  });

  it('adapts an @aws-sdk/client-kms client (GenerateDataKeyCommand input and output)', async () => {
    const sent: unknown[] = [];
    const generate = kmsDataKeyGenerator({
      send: async (command) => {
        sent.push((command as { input: unknown }).input);
        return { Plaintext: new Uint8Array(64), CiphertextBlob: new Uint8Array([1, 2]) };
      },
    });
    const key = await generate({ keyId: 'k', numberOfBytes: 64, encryptionContext: { a: 'b' } });
    expect(sent).toEqual([{ KeyId: 'k', NumberOfBytes: 64, EncryptionContext: { a: 'b' } }]);
    expect(Array.from(key.ciphertext)).toEqual([1, 2]);
    const empty = kmsDataKeyGenerator({ send: async () => ({}) });
    await expect(empty({ keyId: 'k', numberOfBytes: 64, encryptionContext: {} })).rejects.toThrow(ExecCryptoError);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ExecSession: KMS handshake', () => {
  const KEY_ID = 'arn:aws:kms:eu-west-1:111122223333:key/abcd';
  const handshakeRequest = (seq: number, withKms = true) =>
    encodeHandshakeRequest({
      sequenceNumber: seq,
      payload: {
        AgentVersion: '3.3.1142.0',
        RequestedClientActions: [
          { ActionType: 'SessionType', ActionParameters: { SessionType: 'InteractiveCommands', Properties: null } },
          ...(withKms ? [{ ActionType: 'KMSEncryption', ActionParameters: { KMSKeyId: KEY_ID, Challenge: randomBytes(16).toString('base64') } }] : []),
        ],
      },
    });

  it('performs request → response → challenge → complete, then encrypts input and decrypts output', async () => {
    const dataKey = randomBytes(64);
    const kmsCalls: GenerateDataKeyRequest[] = [];
    let targetCalls = 0;
    const { conn, session, chunks } = await setup({
      kms: {
        sessionId: 'ecs-execute-command-test',
        target: async () => {
          targetCalls++;
          return 'ecs:prod_task1_task1-111';
        },
        generateDataKey: async (r) => {
          kmsCalls.push(r);
          await sleep(20); // a real KMS call takes a while; the stream must not be blocked meanwhile
          return { plaintext: Buffer.from(dataKey), ciphertext: Buffer.from('kms-ciphertext-blob') };
        },
      },
    });
    const completed: string[] = [];
    session.on('handshakeComplete', (m) => completed.push(m));
    // Typed before the handshake finishes: must wait, and go out encrypted afterwards.
    session.sendInput(Buffer.from('early\r'));

    conn.send(handshakeRequest(0));
    await until(() => conn.inputs().length === 1, 'the handshake response');
    // The request was acked before the (slow) response.
    const ackAt = conn.inbox.find((m) => m.messageType === MessageType.Acknowledge)!.at;
    const response = conn.inputs()[0]!;
    expect(ackAt).toBeLessThanOrEqual(response.at);
    expect([response.sequenceNumber, response.payloadType]).toEqual([0, PayloadType.HandshakeResponse]);
    const body = JSON.parse(response.payload.toString()) as HandshakeResponsePayload;
    expect(body).toEqual({
      ClientVersion: EXEC_CLIENT_VERSION,
      ProcessedClientActions: [
        { ActionType: 'SessionType', ActionStatus: 1, ActionResult: null, Error: '' },
        {
          ActionType: 'KMSEncryption',
          ActionStatus: 1,
          ActionResult: { KMSCipherTextKey: Buffer.from('kms-ciphertext-blob').toString('base64'), KMSCipherTextHash: null },
          Error: '',
        },
      ],
      Errors: [],
    });
    expect(kmsCalls[0]).toMatchObject({
      keyId: KEY_ID,
      numberOfBytes: 64,
      encryptionContext: { 'aws:ssm:SessionId': 'ecs-execute-command-test', 'aws:ssm:TargetId': 'ecs:prod_task1_task1-111' },
    });
    expect(targetCalls).toBe(1);

    // Challenge: the agent proves the client holds the same key.
    const agentCipher = SessionCipher.forAgent(dataKey);
    const challenge = randomBytes(64);
    conn.send(
      encodeOutputStreamData({
        sequenceNumber: 1,
        payloadType: PayloadType.EncChallengeRequest,
        payload: Buffer.from(JSON.stringify({ Challenge: agentCipher.encrypt(challenge).toString('base64') })),
      }),
    );
    await until(() => conn.inputs().length === 2, 'the challenge response');
    const answer = conn.inputs()[1]!;
    expect([answer.sequenceNumber, answer.payloadType]).toEqual([1, PayloadType.EncChallengeResponse]);
    const answered = Buffer.from((JSON.parse(answer.payload.toString()) as { Challenge: string }).Challenge, 'base64');
    expect(agentCipher.decrypt(answered).equals(challenge)).toBe(true);
    expect(conn.inputs()).toHaveLength(2); // 'early' is still held

    conn.send(
      encodeOutputStreamData({
        sequenceNumber: 2,
        payloadType: PayloadType.HandshakeComplete,
        payload: Buffer.from(JSON.stringify({ HandshakeTimeToComplete: 1000000, CustomerMessage: 'This session is encrypted using AWS KMS.' })),
      }),
    );
    await until(() => completed.length === 1, 'handshakeComplete');
    expect(completed).toEqual(['This session is encrypted using AWS KMS.']);

    // Held input now goes out, encrypted with the client→agent key.
    await until(() => conn.inputs().length === 3, 'the held input');
    const early = conn.inputs()[2]!;
    expect([early.sequenceNumber, early.payloadType]).toEqual([2, PayloadType.Output]);
    expect(early.payload.toString()).not.toContain('early');
    expect(agentCipher.decrypt(early.payload).toString()).toBe('early\r');

    conn.cipher = agentCipher;
    conn.output(3, 'secret output\r\n');
    await until(() => chunks.length === 1, 'decrypted output');
    expect(text(chunks)).toBe('secret output\r\n'); // the customer message is not output
    session.interrupt();
    await until(() => conn.inputs().length === 4, 'Ctrl-C');
    expect(agentCipher.decrypt(conn.inputs()[3]!.payload)).toEqual(Buffer.from([3]));

    await until(() => conn.acks().length === 4, 'all agent messages acked');
    conn.channelClosed();
    expect((await session.closed).reason).toBe('channel_closed');
  });

  it('without KMSEncryption in the request: answers SessionType only and output stays plaintext', async () => {
    const { conn, session, chunks } = await setup();
    conn.send(handshakeRequest(0, false));
    await until(() => conn.inputs().length === 1, 'the handshake response');
    const body = JSON.parse(conn.inputs()[0]!.payload.toString()) as HandshakeResponsePayload;
    expect(body.ProcessedClientActions.map((a) => [a.ActionType, a.ActionStatus])).toEqual([['SessionType', 1]]);
    conn.send(
      encodeOutputStreamData({
        sequenceNumber: 1,
        payloadType: PayloadType.HandshakeComplete,
        payload: Buffer.from('{"HandshakeTimeToComplete":1,"CustomerMessage":""}'),
      }),
    );
    conn.output(2, 'plain');
    await until(() => chunks.length === 1, 'output');
    expect(text(chunks)).toBe('plain');
    session.sendInput(Buffer.from('in'));
    await until(() => conn.inputs().length === 2, 'input');
    expect(conn.inputs()[1]!.payload.toString()).toBe('in');
  });

  it('refuses KMS encryption when no KMS configuration was given, and ends with KMS_NOT_CONFIGURED', async () => {
    const { conn, session } = await setup();
    conn.send(handshakeRequest(0));
    await until(() => conn.inputs().length === 1, 'the handshake response');
    const body = JSON.parse(conn.inputs()[0]!.payload.toString()) as HandshakeResponsePayload;
    expect(body.ProcessedClientActions[1]).toMatchObject({ ActionType: 'KMSEncryption', ActionStatus: 2 });
    expect(body.Errors).toHaveLength(1);
    // The agent cancels; MGS closes the channel. That still is a failure for the caller.
    conn.channelClosed();
    const result = await session.closed;
    expect(result.reason).toBe('error');
    expect((result.error as ExecSessionError).code).toBe('KMS_NOT_CONFIGURED');
  });

  it('reports a failed KMS call to the agent (status 2) and ends with HANDSHAKE_FAILED', async () => {
    const { conn, session } = await setup({
      kms: {
        sessionId: 's',
        target: 't',
        generateDataKey: async () => {
          throw new Error('AccessDeniedException: not authorized to perform kms:GenerateDataKey');
        },
      },
    });
    conn.send(handshakeRequest(0));
    await until(() => conn.inputs().length === 1, 'the handshake response');
    const body = JSON.parse(conn.inputs()[0]!.payload.toString()) as HandshakeResponsePayload;
    expect(body.ProcessedClientActions[1]).toMatchObject({ ActionStatus: 2, Error: expect.stringContaining('AccessDenied') });
    conn.channelClosed();
    const result = await session.closed;
    expect(result.reason).toBe('error');
    expect((result.error as ExecSessionError).code).toBe('HANDSHAKE_FAILED');
  });

  it('marks unknown actions Unsupported and fails a non-shell session type', async () => {
    const { conn, session } = await setup();
    conn.send(
      encodeHandshakeRequest({
        sequenceNumber: 0,
        payload: {
          AgentVersion: '3',
          RequestedClientActions: [
            { ActionType: 'SessionType', ActionParameters: { SessionType: 'Port', Properties: null } },
            { ActionType: 'SomethingNew', ActionParameters: {} },
          ],
        },
      }),
    );
    await until(() => conn.inputs().length === 1, 'the handshake response');
    const body = JSON.parse(conn.inputs()[0]!.payload.toString()) as HandshakeResponsePayload;
    expect(body.ProcessedClientActions.map((a) => [a.ActionType, a.ActionStatus])).toEqual([
      ['SessionType', 2],
      ['SomethingNew', 3],
    ]);
    conn.channelClosed();
    expect((await session.closed).error).toMatchObject({ code: 'HANDSHAKE_FAILED' });
  });

  it('fails the session on an encryption challenge when no key was negotiated', async () => {
    const { conn, session } = await setup();
    conn.send(encodeOutputStreamData({ sequenceNumber: 0, payloadType: PayloadType.EncChallengeRequest, payload: Buffer.from('{"Challenge":"AAAA"}') }));
    const result = await session.closed;
    expect(result.reason).toBe('error');
    expect(result.error).toMatchObject({ code: 'BAD_PAYLOAD' });
  });

  it('ends with DECRYPT_FAILED when encrypted output does not authenticate (and does not ack it)', async () => {
    const dataKey = randomBytes(64);
    const { conn, session, chunks } = await setup({
      kms: { sessionId: 's', target: 't', generateDataKey: async () => ({ plaintext: dataKey, ciphertext: Buffer.from('b') }) },
    });
    conn.send(handshakeRequest(0));
    await until(() => conn.inputs().length === 1, 'the handshake response');
    conn.cipher = SessionCipher.forAgent(randomBytes(64)); // wrong key
    conn.output(1, 'x');
    const result = await session.closed;
    expect(result.reason).toBe('error');
    expect((result.error as ExecSessionError).code).toBe('DECRYPT_FAILED');
    expect(chunks).toHaveLength(0);
    expect(conn.acks().map((a) => a.AcknowledgedMessageSequenceNumber)).toEqual([0]);
  });
});

describe('the KMS encryption context target', () => {
  it('uses the cluster name, also when the target names its cluster by ARN (as the agent and the AWS CLI do)', async () => {
    const { execTargetId } = await import('../src/exec/exec-once');
    const place = { taskId: '0123abcd', runtimeId: '0123abcd-1111' };
    expect(execTargetId({ ...place, cluster: 'main' })).toBe('ecs:main_0123abcd_0123abcd-1111');
    expect(execTargetId({ ...place, cluster: 'arn:aws:ecs:us-east-1:111111111111:cluster/main' })).toBe('ecs:main_0123abcd_0123abcd-1111');
  });
});
