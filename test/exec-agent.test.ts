/**
 * The local ECS Exec world: ECS ExecuteCommand in the emulator, KMS data keys, the Go-shlex split,
 * and the local agent (local/exec-agent) driven over a real WebSocket by a minimal client written
 * here on top of src/exec/codec.ts — plus one run through the production client (ExecSession).
 * Every fault the agent can inject is observed from the client's side and in the agent's counters.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTasksCommand, ECSClient, ExecuteCommandCommand, type ExecuteCommandCommandOutput, type Task } from '@aws-sdk/client-ecs';
import { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SAMPLE, startAwsEmulator, type AwsEmulator } from '../local/aws';
import { EXEC_NOT_ENABLED_MESSAGE, EXEC_TARGET_NOT_CONNECTED_MESSAGE } from '../local/aws/services/ecs';
import { putKey } from '../local/aws/services/kms';
import { hexId } from '../local/aws/state';
import { execRegistry } from '../local/exec-agent/registry';
import {
  CLOSE_MESSAGES,
  MAX_OUTPUT_PAYLOAD,
  startExecAgent,
  utf8SafeLength,
  type AgentSession,
  type ExecAgent,
  type ExecAgentSettings,
} from '../local/exec-agent/server';
import { onlcr, StreamReplacer, toHostPath } from '../local/exec-agent/sandbox';
import { ShlexError, shlexSplit } from '../local/exec-agent/shlex';
import {
  MessageType,
  PayloadDigestError,
  PayloadType,
  decodeClientMessage,
  encodeAcknowledge,
  encodeInputStreamData,
  parseAcknowledgeContent,
  parseChannelClosedPayload,
  flagPayload,
  PayloadFlag,
  sizePayload,
  type ClientMessage,
} from '../src/exec/codec';
import { kmsDataKeyGenerator } from '../src/exec/crypto';
import { ExecSession } from '../src/exec/session';

const region = 'us-east-1';
const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' };
const MANAGER_TASK = SAMPLE.tasks.managerRunning[0]!;

let emu: AwsEmulator;
let agent: ExecAgent;
let ecs: ECSClient;
let kms: KMSClient;
let defaults: ExecAgentSettings;

beforeAll(async () => {
  emu = await startAwsEmulator();
  agent = await startExecAgent({ aws: emu, initialReadDelayMs: 20 });
  defaults = { ...agent.settings };
  ecs = new ECSClient({ region, endpoint: emu.url, credentials });
  kms = new KMSClient({ region, endpoint: emu.url, credentials });
});
afterAll(async () => {
  await agent?.close();
  await emu?.close();
});
afterEach(() => {
  emu.faults.clear();
  agent.faults.clear();
  Object.assign(agent.settings, defaults);
});

const regional = () => emu.state.region(SAMPLE.accountId, SAMPLE.region);
const mainCluster = () => regional().ecs.clusters.get('main')!;

function execute(command: string, extra: { task?: string; container?: string; interactive?: boolean; cluster?: string } = {}) {
  return ecs.send(
    new ExecuteCommandCommand({
      cluster: extra.cluster ?? 'main',
      task: extra.task ?? MANAGER_TASK,
      ...('container' in extra ? { container: extra.container } : { container: 'app' }),
      command,
      interactive: extra.interactive ?? true,
    }),
  );
}

async function rejection(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { name: string; message: string };
  }
  throw new Error('expected the call to fail');
}

/** A copy of the manager task under a new id, changed by `edit`, removed after `body`. */
async function withTask<T>(label: string, edit: (task: Task) => void, body: (taskId: string) => Promise<T>): Promise<T> {
  const id = hexId(`test/${label}`);
  const task = structuredClone(mainCluster().tasks.get(MANAGER_TASK)!);
  task.taskArn = task.taskArn!.replace(MANAGER_TASK, id);
  // Not a service's task, so the simulated scheduler leaves it alone.
  task.group = 'family:manager';
  edit(task);
  mainCluster().tasks.set(id, task);
  try {
    return await body(id);
  } finally {
    mainCluster().tasks.delete(id);
  }
}

// AES-256-GCM as the protocol uses it (nonce || ciphertext || tag), written here independently of the agent.
function seal(key: Buffer, plaintext: Buffer): Buffer {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  return Buffer.concat([nonce, c.update(plaintext), c.final(), c.getAuthTag()]);
}
function open(key: Buffer, sealed: Buffer): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
}

interface ClientOptions {
  /** Ack output messages (default true). */
  ack?: boolean;
  /** Answer a KMS handshake with this encryption-context target (default: the right one). */
  kmsTarget?: string;
  /** Ignore handshake requests (to see the agent time out). */
  ignoreHandshake?: boolean;
  /** Resend unacked input after this long (default 150 ms). */
  resendMs?: number;
}

/**
 * A deliberately small data-channel client: in-order delivery with a buffer for early messages,
 * re-acks duplicates, rejects bad digests without acking, retransmits its own input, and does the
 * KMS handshake. It records everything it sees for assertions.
 */
class TestClient {
  readonly arrivals: Array<{ seq: number; at: number }> = [];
  readonly delivered: ClientMessage[] = [];
  readonly outputChunks: Buffer[] = [];
  readonly acksReceived: number[] = [];
  digestErrors = 0;
  duplicates = 0;
  channelClosed?: { output: string; sessionId: string };
  closeCode?: number;
  handshakeComplete?: Record<string, unknown>;
  readonly openedAt = Date.now();
  readonly closed: Promise<void>;
  private expected = 0;
  private readonly early = new Map<number, ClientMessage>();
  private inputSeq = 0;
  private readonly unacked = new Map<number, { frame: Buffer; sentAt: number }>();
  private readonly timer: NodeJS.Timeout;
  private keys?: { decrypt: Buffer; encrypt: Buffer };

  private constructor(
    readonly ws: WebSocket,
    readonly session: NonNullable<ExecuteCommandCommandOutput['session']>,
    private readonly options: ClientOptions,
  ) {
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.closeCode = code;
        clearInterval(this.timer);
        resolve();
      }),
    );
    ws.on('message', (data: Buffer, isBinary) => isBinary && void this.onFrame(data));
    this.timer = setInterval(() => {
      for (const entry of this.unacked.values()) {
        if (Date.now() - entry.sentAt >= (options.resendMs ?? 150)) {
          entry.sentAt = Date.now();
          this.raw(entry.frame);
        }
      }
    }, 20);
  }

  static async connect(res: ExecuteCommandCommandOutput, options: ClientOptions = {}, token = res.session!.tokenValue!): Promise<TestClient> {
    const ws = new WebSocket(res.session!.streamUrl!);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const client = new TestClient(ws, res.session!, options);
    ws.send(JSON.stringify({ MessageSchemaVersion: '1.0', RequestId: randomUUID(), TokenValue: token, ClientId: randomUUID(), ClientVersion: '1.2.0.0' }));
    return client;
  }

  get text(): string {
    return Buffer.concat(this.outputChunks).toString('utf8');
  }
  get arrivalOrder(): number[] {
    return this.arrivals.map((a) => a.seq);
  }

  raw(frame: Buffer): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** Sends one sequenced input message (stdin bytes are encrypted once the handshake is done). */
  send(payloadType: number, payload: Buffer): number {
    const seq = this.inputSeq++;
    const body = this.keys && payloadType === PayloadType.Output ? seal(this.keys.encrypt, payload) : payload;
    const frame = encodeInputStreamData({ sequenceNumber: seq, payloadType, payload: body });
    this.unacked.set(seq, { frame, sentAt: Date.now() });
    this.raw(frame);
    return seq;
  }
  stdin(text: string): number {
    return this.send(PayloadType.Output, Buffer.from(text));
  }
  get unackedInput(): number {
    return this.unacked.size;
  }

  async waitFor(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > until) throw new Error(`timed out; output so far: ${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async onFrame(frame: Buffer): Promise<void> {
    let message: ClientMessage;
    try {
      message = decodeClientMessage(frame);
    } catch (err) {
      if (err instanceof PayloadDigestError) this.digestErrors++;
      else throw err;
      return;
    }
    if (message.messageType === MessageType.ChannelClosed) {
      this.channelClosed = parseChannelClosedPayload(message.payload);
      return;
    }
    if (message.messageType === MessageType.Acknowledge) {
      const seq = parseAcknowledgeContent(message.payload).AcknowledgedMessageSequenceNumber;
      this.acksReceived.push(seq);
      this.unacked.delete(seq);
      return;
    }
    if (message.messageType !== MessageType.OutputStreamData) return;
    const seq = message.sequenceNumber;
    this.arrivals.push({ seq, at: Date.now() });
    const ack = () => this.options.ack !== false && this.raw(encodeAcknowledge(message));
    if (seq < this.expected || this.early.has(seq)) {
      this.duplicates++;
      ack();
      return;
    }
    ack();
    if (seq > this.expected) {
      this.early.set(seq, message);
      return;
    }
    for (let next: ClientMessage | undefined = message; next; next = this.early.get(this.expected)) {
      this.early.delete(this.expected);
      this.expected++;
      await this.deliver(next);
    }
  }

  private async deliver(message: ClientMessage): Promise<void> {
    this.delivered.push(message);
    const payload = Buffer.from(message.payload);
    switch (message.payloadType) {
      case PayloadType.Output:
        this.outputChunks.push(this.keys ? open(this.keys.decrypt, payload) : payload);
        break;
      case PayloadType.HandshakeRequest:
        if (!this.options.ignoreHandshake) await this.answerHandshake(JSON.parse(payload.toString()));
        break;
      case PayloadType.EncChallengeRequest: {
        const challenge = open(this.keys!.decrypt, Buffer.from(JSON.parse(payload.toString()).Challenge, 'base64'));
        this.send(PayloadType.EncChallengeResponse, Buffer.from(JSON.stringify({ Challenge: seal(this.keys!.encrypt, challenge).toString('base64') })));
        break;
      }
      case PayloadType.HandshakeComplete:
        this.handshakeComplete = JSON.parse(payload.toString());
        break;
    }
  }

  private async answerHandshake(request: { RequestedClientActions: Array<{ ActionType: string; ActionParameters: { KMSKeyId?: string } }> }): Promise<void> {
    const processed = [];
    for (const action of request.RequestedClientActions) {
      if (action.ActionType === 'SessionType') {
        processed.push({ ActionType: 'SessionType', ActionStatus: 1, ActionResult: null, Error: '' });
        continue;
      }
      const target = this.options.kmsTarget ?? (await targetOf(this.session.sessionId!));
      const key = await kms.send(
        new GenerateDataKeyCommand({
          KeyId: action.ActionParameters.KMSKeyId!,
          NumberOfBytes: 64,
          EncryptionContext: { 'aws:ssm:SessionId': this.session.sessionId!, 'aws:ssm:TargetId': target },
        }),
      );
      const plain = Buffer.from(key.Plaintext!);
      // The client decrypts with the first half and encrypts with the second.
      this.keys = { decrypt: plain.subarray(0, 32), encrypt: plain.subarray(32) };
      processed.push({
        ActionType: 'KMSEncryption',
        ActionStatus: 1,
        ActionResult: { KMSCipherTextKey: Buffer.from(key.CiphertextBlob!).toString('base64'), KMSCipherTextHash: null },
        Error: '',
      });
    }
    this.send(PayloadType.HandshakeResponse, Buffer.from(JSON.stringify({ ClientVersion: '1.2.0.0', ProcessedClientActions: processed, Errors: [] })));
  }
}

/** The SSM target as the AWS CLI builds it: `ecs:<cluster>_<taskId>_<runtimeId>` (from DescribeTasks). */
async function targetOf(sessionId: string): Promise<string> {
  const grant = execRegistry(emu.state).sessions.get(sessionId)!;
  const { tasks } = await ecs.send(new DescribeTasksCommand({ cluster: grant.clusterName, tasks: [grant.taskId] }));
  const runtimeId = tasks![0]!.containers!.find((c) => c.name === grant.containerName)!.runtimeId!;
  return `ecs:${grant.clusterName}_${grant.taskId}_${runtimeId}`;
}

/** ExecuteCommand, connect, wait for the end; returns both sides' records. */
async function run(command: string, options: ClientOptions = {}, during?: (client: TestClient, session: AgentSession) => Promise<void> | void) {
  const res = await execute(command);
  const sessionPromise = agent.session(res.session!.sessionId!);
  const client = await TestClient.connect(res, options);
  const session = await sessionPromise;
  await during?.(client, session);
  await Promise.all([client.closed, session.done]);
  return { client, session, res };
}

const sh = (script: string) => `/bin/sh -c '${script.replaceAll("'", `'\\''`)}'`;

// -------------------------------------------------------------------------------------------------

describe('ECS ExecuteCommand', () => {
  it('returns a session whose streamUrl points at the local agent, with the SDK shapes', async () => {
    const res = await execute('/work/fail.sh');
    const task = mainCluster().tasks.get(MANAGER_TASK)!;
    expect(res).toMatchObject({
      clusterArn: SAMPLE.clusterArn,
      taskArn: task.taskArn,
      containerArn: task.containers![0]!.containerArn,
      containerName: 'app',
      interactive: true,
    });
    const { sessionId, streamUrl, tokenValue } = res.session!;
    expect(sessionId).toMatch(/^ecs-execute-command-[a-z0-9]{26}$/);
    expect(streamUrl).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${agent.port}/v1/data-channel/${sessionId}\\?role=publish_subscribe&cell-number=[\\w-]+$`));
    expect(tokenValue!.length).toBeGreaterThan(100);
    expect(emu.calls.at(-1)).toMatchObject({ service: 'ecs', action: 'ExecuteCommand', status: 200 });
    // The grant the agent will check: the command verbatim, the SSM target the agent computes.
    expect(execRegistry(emu.state).sessions.get(sessionId!)).toMatchObject({
      command: '/work/fail.sh',
      targetId: await targetOf(sessionId!),
      token: tokenValue,
    });
  });

  it('refuses interactive=false as ECS does', async () => {
    const err = await rejection(execute('ls', { interactive: false }));
    expect(err).toMatchObject({ name: 'InvalidParameterException', message: 'Interactive is the only mode supported currently.' });
  });

  it('refuses a task that is not RUNNING, one started without exec, and one whose agent is not running', async () => {
    const pending = await withTask(
      'pending',
      (t) => (t.lastStatus = 'PENDING'),
      (id) => rejection(execute('ls', { task: id })),
    );
    expect(pending).toMatchObject({ name: 'InvalidParameterException', message: EXEC_NOT_ENABLED_MESSAGE });

    // broken:6's running task was started before exec was enabled (seed).
    const execOff = await rejection(execute('ls', { task: SAMPLE.tasks.brokenRunning[0]! }));
    expect(execOff).toMatchObject({ name: 'InvalidParameterException', message: EXEC_NOT_ENABLED_MESSAGE });

    const agentDown = await withTask(
      'agent-pending',
      (t) => (t.containers![0]!.managedAgents = [{ name: 'ExecuteCommandAgent', lastStatus: 'PENDING' }]),
      (id) => rejection(execute('ls', { task: id })),
    );
    expect(agentDown).toMatchObject({ name: 'InvalidParameterException', message: EXEC_NOT_ENABLED_MESSAGE });
    expect(EXEC_NOT_ENABLED_MESSAGE).toMatch(
      /^The execute command failed because execute command was not enabled when the task was run or the execute command agent isn't running\./,
    );
  });

  it('validates the task reference, the container, the command and the cluster', async () => {
    expect(await rejection(execute('ls', { task: 'abc' }))).toMatchObject({
      name: 'InvalidParameterException',
      message: 'task length should be one of [32,36]',
    });
    expect(await rejection(execute('ls', { task: hexId('no-such-task') }))).toMatchObject({ name: 'InvalidParameterException' });
    expect(await rejection(execute('ls', { container: 'nope' }))).toMatchObject({ name: 'InvalidParameterException' });
    expect(await rejection(execute('   '))).toMatchObject({ name: 'InvalidParameterException' });
    expect(await rejection(execute('ls', { cluster: 'nope' }))).toMatchObject({ name: 'ClusterNotFoundException' });
    // web's tasks have two containers (app + log router): the container must be named.
    const web = SAMPLE.tasks.webRunning[0]!;
    expect(await rejection(execute('ls', { task: web, container: undefined }))).toMatchObject({ name: 'InvalidParameterException' });
    expect((await execute('ls', { task: web, container: 'app' })).containerName).toBe('app');
    // A single-container task needs no container name.
    expect((await execute('ls', { container: undefined })).containerName).toBe('app');
  });

  it('TargetNotConnectedException: injected with the emulator faults, and whenever no agent serves the emulator', async () => {
    emu.faults.fail('ecs:ExecuteCommand', { code: 'TargetNotConnectedException', message: EXEC_TARGET_NOT_CONNECTED_MESSAGE }, 1);
    expect(await rejection(execute('ls'))).toMatchObject({ name: 'TargetNotConnectedException', message: EXEC_TARGET_NOT_CONNECTED_MESSAGE });
    expect((await execute('ls')).session?.sessionId).toBeTruthy();

    const lonely = await startAwsEmulator();
    try {
      const client = new ECSClient({ region, endpoint: lonely.url, credentials });
      const err = await rejection(client.send(new ExecuteCommandCommand({ cluster: 'main', task: MANAGER_TASK, command: 'ls', interactive: true })));
      expect(err).toMatchObject({ name: 'TargetNotConnectedException', message: EXEC_TARGET_NOT_CONNECTED_MESSAGE });
    } finally {
      await lonely.close();
    }
  });

  it('is authorized as ecs:ExecuteCommand on the task ARN', async () => {
    const taskArn = mainCluster().tasks.get(MANAGER_TASK)!.taskArn!;
    emu.faults.deny('ecs:ExecuteCommand', { resource: taskArn });
    expect(await rejection(execute('ls'))).toMatchObject({ name: 'AccessDeniedException' });
  });
});

describe('KMS data keys (the exec handshake)', () => {
  it('GenerateDataKey returns 64 bytes whose blob only decrypts with the same encryption context', async () => {
    const key = putKey(regional(), { policy: '{}', createdAt: new Date(), description: 'exec' });
    const context = { 'aws:ssm:SessionId': 's-1', 'aws:ssm:TargetId': 'ecs:main_t_r' };
    const made = await kms.send(new GenerateDataKeyCommand({ KeyId: key.metadata.Arn!, NumberOfBytes: 64, EncryptionContext: context }));
    expect(made.Plaintext).toHaveLength(64);
    expect(made.KeyId).toBe(key.metadata.Arn);
    // Context order does not matter; its content does.
    const back = await kms.send(
      new DecryptCommand({ CiphertextBlob: made.CiphertextBlob, EncryptionContext: { 'aws:ssm:TargetId': 'ecs:main_t_r', 'aws:ssm:SessionId': 's-1' } }),
    );
    expect(Buffer.from(back.Plaintext!).equals(Buffer.from(made.Plaintext!))).toBe(true);
    expect(back.KeyId).toBe(key.metadata.Arn);
    expect(
      await rejection(
        kms.send(new DecryptCommand({ CiphertextBlob: made.CiphertextBlob, EncryptionContext: { ...context, 'aws:ssm:TargetId': 'ecs:other' } })),
      ),
    ).toMatchObject({
      name: 'InvalidCiphertextException',
    });
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: randomBytes(80) })))).toMatchObject({ name: 'InvalidCiphertextException' });
    const tampered = Buffer.from(made.CiphertextBlob!);
    tampered[tampered.length - 1]! ^= 1;
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: tampered, EncryptionContext: context })))).toMatchObject({
      name: 'InvalidCiphertextException',
    });
    // Naming another key than the blob's, and IAM on the blob's key.
    const other = putKey(regional(), { policy: '{}', createdAt: new Date() });
    expect(
      await rejection(kms.send(new DecryptCommand({ CiphertextBlob: made.CiphertextBlob, EncryptionContext: context, KeyId: other.metadata.KeyId }))),
    ).toMatchObject({
      name: 'IncorrectKeyException',
    });
    emu.faults.deny('kms:Decrypt', { resource: key.metadata.Arn! });
    expect(await rejection(kms.send(new DecryptCommand({ CiphertextBlob: made.CiphertextBlob, EncryptionContext: context })))).toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('GenerateDataKey validates its size and refuses disabled keys', async () => {
    const key = putKey(regional(), { policy: '{}', createdAt: new Date() });
    expect(await rejection(kms.send(new GenerateDataKeyCommand({ KeyId: key.metadata.KeyId! })))).toMatchObject({ name: 'ValidationException' });
    expect(await rejection(kms.send(new GenerateDataKeyCommand({ KeyId: key.metadata.KeyId!, NumberOfBytes: 2048 })))).toMatchObject({
      name: 'ValidationException',
    });
    expect((await kms.send(new GenerateDataKeyCommand({ KeyId: key.metadata.KeyId!, KeySpec: 'AES_128' }))).Plaintext).toHaveLength(16);
    const disabled = putKey(regional(), { policy: '{}', createdAt: new Date(), enabled: false });
    expect(await rejection(kms.send(new GenerateDataKeyCommand({ KeyId: disabled.metadata.KeyId!, NumberOfBytes: 64 })))).toMatchObject({
      name: 'DisabledException',
    });
    const deleting = putKey(regional(), { policy: '{}', createdAt: new Date() });
    deleting.metadata.KeyState = 'PendingDeletion';
    expect(await rejection(kms.send(new GenerateDataKeyCommand({ KeyId: deleting.metadata.KeyId!, NumberOfBytes: 64 })))).toMatchObject({
      name: 'KMSInvalidStateException',
    });
  });
});

describe('Go shlex split', () => {
  it.each([
    ['', []],
    [' \t\r\n ', []],
    ['a b  c', ['a', 'b', 'c']],
    ['a\tb\nc\rd', ['a', 'b', 'c', 'd']],
    [`'a b' "c d"`, ['a b', 'c d']],
    [`a'b c'd"e f"`, ['ab cde f']],
    [`''`, ['']],
    [`""`, ['']],
    [`a '' b ""`, ['a', '', 'b', '']],
    [String.raw`"a\"b"`, ['a"b']],
    [String.raw`"a\nb"`, ['anb']], // backslash escapes any character inside double quotes
    [String.raw`"a\\b"`, [String.raw`a\b`]],
    [String.raw`'a\nb'`, [String.raw`a\nb`]], // single quotes are literal
    [String.raw`a\ b`, ['a b']],
    [String.raw`\'`, ["'"]],
    ['a\\\nb', ['a\nb']], // backslash-newline is a literal newline, not a continuation
    [`'it'\\''s'`, ["it's"]],
    ['a # b c', ['a']],
    ['a#b', ['a#b']],
    ['# only a comment', []],
    ['a # c\tstill comment\nb', ['a', 'b']],
    [`'#x' "#y"`, ['#x', '#y']],
    ['héllo \'wörld ✓\' 日本語 "😀 x"', ['héllo', 'wörld ✓', '日本語', '😀 x']],
    [`/bin/sh -c '"$@" </dev/null' sh '/work/a.sh' '$(id) \`x\` *'`, ['/bin/sh', '-c', '"$@" </dev/null', 'sh', '/work/a.sh', '$(id) `x` *']],
  ])('%j', (input, expected) => {
    expect(shlexSplit(input)).toEqual(expected);
  });

  it('reports unterminated quotes and trailing escapes like Go, with the words before them', () => {
    for (const [input, message] of [
      [`a 'b`, 'EOF found when expecting closing quote'],
      [`a "b`, 'EOF found when expecting closing quote'],
      ['a b\\', 'EOF found after escape character'],
      ['a "b\\', 'EOF found after escape character'],
    ] as const) {
      const err = (() => {
        try {
          shlexSplit(input);
        } catch (e) {
          return e as ShlexError;
        }
        throw new Error(`${input} should fail`);
      })();
      expect(err).toBeInstanceOf(ShlexError);
      expect(err.message).toBe(message);
      expect(err.words).toEqual(['a']);
    }
  });

  it('round-trips any word quoted as single-quoted with the quote escaped', () => {
    const quote = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;
    const words = ['', ' ', "'", "''", '"', '\\', "\\'", 'a\nb', '#', '$(rm -rf /)', '`id`', '*', 'tab\there', 'ünï✓😀', '\r\n', 'x\'y"z\\'];
    expect(shlexSplit(words.map(quote).join(' '))).toEqual(words);
  });
});

describe('sandbox building blocks', () => {
  it('maps container paths in argv where a word starts, and host paths back in output across chunk boundaries', () => {
    const fs = { root: '/tmp/r' };
    expect(toHostPath('/work/backup.sh', fs)).toBe('/tmp/r/work/backup.sh');
    expect(toHostPath('(\n/work/a.sh x >/tmp/o; cd /root)', fs)).toBe('(\n/tmp/r/work/a.sh x >/tmp/r/tmp/o; cd /tmp/r/root)');
    expect(toHostPath('--out=/work', fs)).toBe('--out=/tmp/r/work');
    expect(toHostPath('/bin/sh /dev/null /workshop x/work http://h/work', fs)).toBe('/bin/sh /dev/null /workshop x/work http://h/work');

    const r = new StreamReplacer([
      ['/tmp/r/', '/'],
      ['/tmp/r', '/'],
    ]);
    const out = [
      r.push(Buffer.from('at /tm')),
      r.push(Buffer.from('p/r/work/a.sh and /tmp/')),
      r.push(Buffer.from('rx /tmp/r')),
      r.push(Buffer.from(' /tmp/r')),
      r.flush(),
    ];
    expect(Buffer.concat(out).toString()).toBe('at /work/a.sh and /tmp/rx / /');
  });

  it('translates \\n to \\r\\n unconditionally, as ONLCR does', () => {
    expect(onlcr(Buffer.from('a\nb\r\n\n')).toString()).toBe('a\r\nb\r\r\n\r\n');
  });

  it('never cuts an output chunk inside a UTF-8 sequence unless the stream has ended', () => {
    const check = Buffer.from('ab✓'); // ✓ is 3 bytes
    expect(utf8SafeLength(check, 1024, false)).toBe(5);
    expect(utf8SafeLength(check.subarray(0, 4), 1024, false)).toBe(2);
    expect(utf8SafeLength(check.subarray(0, 4), 1024, true)).toBe(4);
    expect(utf8SafeLength(check, 3, false)).toBe(2);
    expect(utf8SafeLength(Buffer.from('😀'), 2, false)).toBe(0);
  });
});

describe('local agent: a session end to end', () => {
  it('streams merged stdout/stderr with CRLF, in ≤1024-byte messages with increasing sequence numbers, then channel_closed', async () => {
    const { client, session } = await run(sh('printf "out1\\n"; printf "err1\\n" >&2; printf "out2\\n"; echo "$TERM $LANG $NODE_ENV"'));
    // NODE_ENV comes from the container's task definition environment.
    expect(client.text).toBe('out1\r\nerr1\r\nout2\r\nxterm-256color C.UTF-8 production\r\n');
    expect(client.channelClosed).toEqual({ output: '', sessionId: session.sessionId });
    expect(client.closeCode).toBe(1000);
    expect(session).toMatchObject({ closeReason: 'exit', drained: true, exit: { code: 0, signal: null }, unackedAtClose: [] });
    expect(session.argv).toEqual(['/bin/sh', '-c', 'printf "out1\\n"; printf "err1\\n" >&2; printf "out2\\n"; echo "$TERM $LANG $NODE_ENV"']);
    expect(client.delivered.map((m) => m.sequenceNumber)).toEqual(client.delivered.map((_, i) => i));
    // SYN on the first message only.
    expect(client.delivered.map((m) => m.flags)).toEqual(client.delivered.map((_, i) => (i === 0 ? 1 : 0)));
    expect(session.counters.retransmissions).toBe(0);
    expect(session.outputText).toBe(client.text);
  });

  it('splits long output into ≤1024-byte messages without breaking UTF-8 sequences', async () => {
    const { client } = await run(sh('i=0; while [ $i -lt 400 ]; do printf "line %04d ✓ ünïcödé\\n" $i; i=$((i+1)); done'));
    const expected = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(4, '0')} ✓ ünïcödé\r\n`).join('');
    expect(client.text).toBe(expected);
    expect(client.delivered.length).toBeGreaterThan(10);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    for (const m of client.delivered) {
      expect(m.payloadLength).toBeLessThanOrEqual(MAX_OUTPUT_PAYLOAD);
      expect(() => decoder.decode(m.payload)).not.toThrow();
    }
  });

  it('waits before its first read like the real agent (configurable)', async () => {
    agent.settings.initialReadDelayMs = 400;
    const { client } = await run('echo hi');
    expect(client.text).toBe('hi\r\n');
    expect(client.arrivals[0]!.at - client.openedAt).toBeGreaterThanOrEqual(380);
  });

  it('runs the manager scripts from /work in a per-container directory, showing container paths only', async () => {
    const { client } = await run(sh('pwd; echo "$0" "$HOME" "$TMPDIR"; ls /work | grep -c "\\.sh$"'));
    expect(client.text).toBe('/work\r\n/bin/sh /root /tmp\r\n5\r\n');

    const backup = await run('/work/backup.sh nightly');
    const text = backup.client.text;
    expect(text).toContain('\x1b[1;34m==>\x1b[0m'); // colour
    expect(text).toMatch(/\rdumping tables\.\.\. +0%\rdumping tables\.\.\. +10%/); // \r progress redraws
    const id = /backup id: (\d{8}-\d{6}-nightly)\r\n/.exec(text)![1]!;
    const root = agent.containerRoot('main', MANAGER_TASK, 'app');
    expect(backup.session.containerRoot).toBe(root);
    expect(backup.session.hostArgv[0]).toBe(join(root, 'work', 'backup.sh'));
    expect(readFileSync(join(root, 'work', 'backups', `${id}.dump`), 'utf8')).toContain(`-- label: nightly`);
    expect(text).not.toContain(root);

    // The dump stays in the container for the next session.
    const restore = await run(`/work/restore.sh ${id}`);
    expect(restore.client.text).toContain(`restoring from local dump ${id}`);
    expect(restore.session.exit).toEqual({ code: 0, signal: null });
    const invalid = await run('/work/restore.sh not-an-id');
    expect(invalid.client.text).toContain('invalid backup id');
    expect(invalid.session.exit?.code).toBe(2);
  });

  it('passes hostile arguments through shlex to the script byte for byte', async () => {
    const args = ['a b', '', "it's", '"dq"', '$(id)', '`id`', '*', 'x\\y', '#not-a-comment', 'ünï✓😀', 'two\nlines', '/work/backup.sh'];
    const quote = (w: string) => `'${w.replaceAll("'", `'\\''`)}'`;
    const { client, session } = await run(['/work/echo-args.sh', ...args].map(quote).join(' '));
    expect(session.argv.slice(1)).toEqual(args);
    const expected = [`<<<args ${args.length}>>>`, ...args.map((a, i) => `<<<arg ${i + 1}>>>${a}<<<end ${i + 1}>>>`), '<<<done>>>', ''].join('\n');
    expect(client.text).toBe(expected.replaceAll('\n', '\r\n'));
  });

  it('fail.sh: stderr arrives in the stream and the exit status is what the script returned', async () => {
    const { client, session } = await run(sh('/work/fail.sh; echo "status:$?"'));
    expect(client.text).toBe('checking preconditions...\r\nfail.sh: precondition failed: the database is read-only\r\nstatus:3\r\n');
    const direct = await run('/work/fail.sh');
    expect(direct.session.exit).toEqual({ code: 3, signal: null });
    expect(direct.client.channelClosed?.output).toBe('');
  });

  it('slow.sh reports progress over time', async () => {
    const { client } = await run('/work/slow.sh 2');
    expect(client.text).toMatch(
      // Log lines above a bar redrawn with \r (no newline), cleared with ESC[K before each line.
      /^starting a job of 2s\r\n\r\[ {20}\] 0\/2\r\x1b\[Kstep 1 of 2 done\r\n\r\[#{10} {10}\] 1\/2\r\x1b\[Kstep 2 of 2 done\r\n\r\[#{20}\] 2\/2\r\x1b\[Kjob finished\r\n$/,
    );
    const spread = client.arrivals.at(-1)!.at - client.arrivals[0]!.at;
    expect(spread).toBeGreaterThanOrEqual(900);
  });

  it('writes client input to stdin with terminal echo, and records the terminal size', async () => {
    const { client, session } = await run(sh('read line; echo "got:$line"'), {}, async (c) => {
      c.send(PayloadType.Size, sizePayload(200, 50));
      c.stdin('hello\r');
    });
    expect(client.text).toBe('hello\r\ngot:hello\r\n');
    expect(session.input.toString()).toBe('hello\r');
    expect(session.sizes).toEqual([{ cols: 200, rows: 50 }]);
    expect(session.counters.inputMessages).toBe(2);
    expect(client.unackedInput).toBe(0);
  });

  it('processes client input strictly in sequence: early messages are buffered and acked, duplicates re-acked', async () => {
    const { client, session } = await run(sh('read line; echo "got:$line"'), {}, (c) => {
      c.raw(encodeInputStreamData({ sequenceNumber: 1, payload: Buffer.from('b\r') }));
      c.raw(encodeInputStreamData({ sequenceNumber: 0, payload: Buffer.from('a') }));
      c.raw(encodeInputStreamData({ sequenceNumber: 0, payload: Buffer.from('a') }));
      // Flags are recorded and otherwise ignored by the shell plugin.
      c.raw(encodeInputStreamData({ sequenceNumber: 2, payloadType: PayloadType.Flag, payload: flagPayload(PayloadFlag.TerminateSession) }));
    });
    expect(client.text).toBe('ab\r\ngot:ab\r\n');
    expect(session.input.toString()).toBe('ab\r');
    expect(session.counters).toMatchObject({ inputOutOfOrder: 1, inputDuplicates: 1, inputMessages: 3 });
    expect(session.flags).toEqual([PayloadFlag.TerminateSession]);
    expect([...client.acksReceived].sort()).toEqual([0, 0, 1, 2]);
  });

  it('refuses input (no ack) until the command is up, so the client must retransmit it', async () => {
    agent.settings.commandStartDelayMs = 300;
    const { client, session } = await run(sh('read line; echo "got:$line"'), { resendMs: 100 }, (c) => {
      c.send(PayloadType.Size, sizePayload(120, 40));
      c.stdin('late\r');
    });
    expect(session.counters.inputNotReady).toBeGreaterThanOrEqual(2);
    expect(session.sizes).toEqual([{ cols: 120, rows: 40 }]);
    expect(client.text).toBe('late\r\ngot:late\r\n');
  });

  it('client input keeps a session from the idle timeout', async () => {
    agent.settings.idleTimeoutMs = 250;
    const { session } = await run('sleep 30', {}, async (c) => {
      for (let i = 0; i < 8; i++) {
        c.send(PayloadType.Size, sizePayload(80, 24));
        await new Promise((r) => setTimeout(r, 60));
      }
      expect(c.channelClosed).toBeUndefined();
    });
    expect(session.closeReason).toBe('idle-timeout');
    // The last input went out ~420 ms in; without the resets the session would have ended at ~250 ms.
    expect(session.endedAt! - session.openedAt).toBeGreaterThanOrEqual(600);
  });

  it('Ctrl-C sends SIGINT to the process group', async () => {
    const started = Date.now();
    const { client, session } = await run(sh('echo ready; sleep 30'), {}, async (c) => {
      await c.waitFor(() => c.text.includes('ready'));
      c.stdin('\u0003');
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    // sh may exec sleep (killed by SIGINT) or wait for it and exit 130 (128 + SIGINT): both mean SIGINT arrived.
    expect(session.exit?.signal === 'SIGINT' || session.exit?.code === 130).toBe(true);
    expect(client.text).toBe('ready\r\n^C');
    expect(client.channelClosed?.output).toBe('');
    expect(session.closeReason).toBe('exit');
  });

  it('terminate ends the process and tells the client why', async () => {
    const { client, session } = await run('sleep 30', {}, async (_c, s) => {
      await new Promise((r) => setTimeout(r, 100));
      expect(agent.terminate(s.sessionId)).toBe(true);
    });
    expect(session).toMatchObject({ closeReason: 'terminated', exit: { code: null, signal: 'SIGKILL' } });
    expect(client.channelClosed?.output).toBe(CLOSE_MESSAGES.terminated);
    expect(agent.terminate(session.sessionId)).toBe(false);
  });

  it('ends an idle session after the idle timeout', async () => {
    agent.settings.idleTimeoutMs = 300;
    const { client, session } = await run('sleep 30');
    expect(session.closeReason).toBe('idle-timeout');
    expect(client.channelClosed?.output).toBe(CLOSE_MESSAGES.idle);
  });

  it('reports a command that cannot be started or parsed in channel_closed', async () => {
    const missing = await run('no-such-command-xyz --flag');
    expect(missing.session.closeReason).toBe('start-failed');
    expect(missing.client.channelClosed?.output).toBe('Unable to start command: exec: "no-such-command-xyz": executable file not found in $PATH');
    const nofile = await run('/work/nope.sh');
    expect(nofile.client.channelClosed?.output).toBe('Unable to start command: fork/exec /work/nope.sh: no such file or directory');
    const unparsable = await run(`/bin/sh -c 'unterminated`);
    expect(unparsable.client.channelClosed?.output).toBe('Unable to start command: failed to parse the command: EOF found when expecting closing quote');
    // Not a shell: a pipe is just an argument.
    const noShell = await run('echo a | cat');
    expect(noShell.client.text).toBe('a | cat\r\n');
  });

  it('accepts the token once, refuses wrong, reused, late and binary openings', async () => {
    const res = await execute('echo once');
    const bad = await TestClient.connect(res, {}, 'not-the-token');
    await bad.closed;
    expect(bad.closeCode).toBe(1008);
    expect(agent.rejected.at(-1)).toMatchObject({ sessionId: res.session!.sessionId, reason: 'invalid token' });

    const first = await TestClient.connect(res);
    await first.closed;
    expect(first.text).toBe('once\r\n');
    const again = await TestClient.connect(res);
    await again.closed;
    expect(again.closeCode).toBe(1008);
    expect(agent.rejected.at(-1)?.reason).toBe('token already used');

    agent.settings.tokenTtlMs = 0;
    const late = await execute('echo late');
    await new Promise((r) => setTimeout(r, 5));
    const lateClient = await TestClient.connect(late);
    await lateClient.closed;
    expect(agent.rejected.at(-1)?.reason).toBe('token expired');

    const binary = await execute('echo bin');
    const ws = new WebSocket(binary.session!.streamUrl!);
    await new Promise((r) => ws.once('open', r));
    ws.send(Buffer.from([1, 2, 3]));
    const code = await new Promise((r) => ws.once('close', r));
    expect(code).toBe(1008);
    expect(agent.rejected.at(-1)?.reason).toBe('the first frame must be the opening text frame');
    agent.settings.openTimeoutMs = 100;
    const silent = new WebSocket((await execute('echo silent')).session!.streamUrl!);
    expect(await new Promise((r) => silent.once('close', r))).toBe(1008);
    expect(agent.rejected.at(-1)?.reason).toBe('no opening frame');

    const malformed = new WebSocket(`${agent.url}/v1/data-channel/%E0%A4%A`);
    expect(await new Promise((r) => malformed.once('close', r))).toBe(1008);
    expect(agent.rejected.at(-1)?.reason).toBe('malformed session id');

    const elsewhere = new WebSocket(`${agent.url}/v2/other`);
    const failure = await new Promise<Error>((r) => elsewhere.once('error', r));
    expect(failure.message).toContain('404');
  });

  it('retransmits unacked output, then drains for at most drainTimeoutMs before channel_closed', async () => {
    agent.settings.drainTimeoutMs = 400;
    const { client, session } = await run('echo never-acked', { ack: false });
    expect(session.counters.retransmissions).toBeGreaterThan(0);
    expect(session).toMatchObject({ closeReason: 'exit', drained: false, unackedAtClose: [0] });
    expect(client.duplicates).toBeGreaterThan(0);
    expect(client.channelClosed?.output).toBe('');
    // Closed about drainTimeoutMs after the output was first sent.
    expect(session.endedAt! - client.arrivals[0]!.at).toBeGreaterThanOrEqual(380);
  });
});

describe('local agent: fault injection', () => {
  // Three lines 50 ms apart: one message each.
  const threeLines = sh('echo a; sleep 0.05; echo b; sleep 0.05; echo c');

  it('drop the first send: the message arrives later by retransmission, the client reorders', async () => {
    agent.faults.forNextSession({ dropFirstSend: [1] });
    const { client, session } = await run(threeLines);
    expect(client.text).toBe('a\r\nb\r\nc\r\n');
    expect(client.arrivalOrder.indexOf(2)).toBeLessThan(client.arrivalOrder.indexOf(1));
    expect(session.counters).toMatchObject({ droppedByFault: 1 });
    expect(session.counters.retransmissions).toBeGreaterThanOrEqual(1);
    expect(session.sent[1]!.attempts).toBeGreaterThanOrEqual(2);
  });

  it('duplicate frames: the client sees a message twice, re-acks it, delivers it once', async () => {
    agent.faults.forNextSession({ duplicate: [0] });
    const { client, session } = await run(threeLines);
    expect(client.arrivalOrder.slice(0, 2)).toEqual([0, 0]);
    expect(client.duplicates).toBe(1);
    expect(client.text).toBe('a\r\nb\r\nc\r\n');
    expect(session.counters).toMatchObject({ duplicatedByFault: 1, duplicateAcks: 1 });
  });

  it('reorder frames: a message arrives after the next one', async () => {
    agent.faults.forNextSession({ reorder: [0] });
    const { client, session } = await run(threeLines);
    expect(client.arrivalOrder.slice(0, 2)).toEqual([1, 0]);
    expect(client.text).toBe('a\r\nb\r\nc\r\n');
    expect(session.counters.reorderedByFault).toBe(1);
  });

  it('corrupt a digest: the client drops the frame unacked, the retransmission is intact', async () => {
    agent.faults.forNextSession({ corruptDigest: [0] });
    const { client, session } = await run(threeLines);
    expect(client.digestErrors).toBe(1);
    expect(client.text).toBe('a\r\nb\r\nc\r\n');
    expect(session.counters).toMatchObject({ corruptedByFault: 1 });
    expect(session.sent[0]!.attempts).toBeGreaterThanOrEqual(2);
  });

  it('delay acks: the client retransmits its input, the agent re-acks the duplicate and uses the input once', async () => {
    agent.faults.forNextSession({ ackDelayMs: 400 });
    let sentAt = 0;
    // Still running when the late ack comes (a session that ends closes with acks still pending).
    const { client, session } = await run(sh('read line; echo "got:$line"; sleep 0.6'), { resendMs: 100 }, async (c) => {
      await new Promise((r) => setTimeout(r, 50)); // the command is up
      sentAt = Date.now();
      c.stdin('x\r');
      await c.waitFor(() => c.acksReceived.length > 0);
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(380);
    });
    expect(session.counters.inputDuplicates).toBeGreaterThanOrEqual(1);
    expect(client.text).toBe('x\r\ngot:x\r\n');
    expect(session.input.toString()).toBe('x\r');
  });

  it('abrupt close mid-stream: the socket drops without channel_closed, the command runs on', async () => {
    agent.faults.forNextSession({ closeAfterMessages: 2 });
    const { client, session } = await run(sh('for i in 1 2 3 4 5; do echo $i; sleep 0.05; done'));
    expect(client.channelClosed).toBeUndefined();
    expect(client.closeCode).toBe(1006);
    expect(client.text).toBe('1\r\n2\r\n');
    expect(session.clientGoneAt).toBeDefined();
    expect(session).toMatchObject({ closeReason: 'exit', exit: { code: 0, signal: null } });
    expect(session.counters.discardedOutputBytes).toBe('3\r\n4\r\n5\r\n'.length);
  });

  it('faults are per session: forSession and global set(); the next session without faults is clean', async () => {
    const res = await execute(threeLines);
    agent.faults.forSession(res.session!.sessionId!, { duplicate: [2] });
    const client = await TestClient.connect(res);
    await client.closed;
    expect(client.duplicates).toBe(1);

    agent.faults.set({ duplicate: [0] });
    expect((await run(threeLines)).client.duplicates).toBe(1);
    agent.faults.clear();
    const clean = await run(threeLines);
    expect(clean.client.duplicates).toBe(0);
    expect(clean.session.counters).toMatchObject({ droppedByFault: 0, duplicatedByFault: 0, reorderedByFault: 0, corruptedByFault: 0, retransmissions: 0 });
  });
});

describe('local agent: KMS-encrypted sessions', () => {
  let keyArn: string;
  beforeAll(() => {
    keyArn = putKey(regional(), { policy: '{}', createdAt: new Date(), description: 'ECS Exec' }).metadata.Arn!;
  });
  /** Runs `body` with the main cluster's ECS Exec configured to encrypt with the key. */
  async function encrypted<T>(body: () => Promise<T>): Promise<T> {
    const cluster = mainCluster().cluster;
    const saved = structuredClone(cluster.configuration);
    cluster.configuration = { executeCommandConfiguration: { kmsKeyId: keyArn, logging: 'DEFAULT' } };
    try {
      return await body();
    } finally {
      cluster.configuration = saved;
    }
  }

  it('performs the handshake, then encrypts output and input with the data key halves', async () => {
    const { client, session } = await encrypted(() =>
      run(sh('read line; echo "secret:$line"'), {}, async (c) => {
        await c.waitFor(() => c.handshakeComplete !== undefined);
        c.stdin('pw\r');
      }),
    );
    const [request, challenge, complete] = client.delivered;
    expect(request!.payloadType).toBe(PayloadType.HandshakeRequest);
    expect(JSON.parse(request!.payload.toString())).toMatchObject({
      RequestedClientActions: [
        { ActionType: 'SessionType', ActionParameters: { SessionType: 'InteractiveCommands', Properties: null } },
        { ActionType: 'KMSEncryption', ActionParameters: { KMSKeyId: keyArn } },
      ],
    });
    expect(challenge!.payloadType).toBe(PayloadType.EncChallengeRequest);
    expect(complete!.payloadType).toBe(PayloadType.HandshakeComplete);
    expect(client.handshakeComplete).toMatchObject({ CustomerMessage: 'This session is encrypted using AWS KMS.' });
    expect(client.text).toBe('pw\r\nsecret:pw\r\n');
    expect(session.encrypted).toBe(true);
    expect(session.input.toString()).toBe('pw\r');
    // On the wire the output is ciphertext: nonce + tag make it 28 bytes longer.
    const outputs = client.delivered.filter((m) => m.payloadType === PayloadType.Output);
    expect(outputs.every((m) => !m.payload.toString().includes('secret'))).toBe(true);
    expect(outputs.reduce((n, m) => n + m.payloadLength, 0)).toBe(Buffer.byteLength(client.text) + 28 * outputs.length);
  });

  it.each([false, true])(
    'ExecSession (the production client) completes the handshake and decrypts the output (acknowledgeChallenge %s)',
    async (acknowledgeChallenge) => {
      const { result, output, agentSide } = await encrypted(async () => {
        const res = await execute('/work/echo-args.sh encrypted ✓');
        const sessionId = res.session!.sessionId!;
        const session = await ExecSession.open({
          streamUrl: res.session!.streamUrl!,
          tokenValue: res.session!.tokenValue!,
          // With acknowledgeChallenge the key is bound to the agent's challenge too; the agent must decrypt accordingly.
          kms: { generateDataKey: kmsDataKeyGenerator(kms), sessionId, target: () => targetOf(sessionId), acknowledgeChallenge },
        });
        const chunks: Buffer[] = [];
        session.on('output', (chunk) => chunks.push(chunk));
        const result = await session.closed;
        return { result, output: Buffer.concat(chunks).toString(), agentSide: await (await agent.session(sessionId)).done };
      });
      expect(result.reason).toBe('channel_closed');
      expect(agentSide.encrypted).toBe(true);
      expect(output).toBe('<<<args 2>>>\r\n<<<arg 1>>>encrypted<<<end 1>>>\r\n<<<arg 2>>>✓<<<end 2>>>\r\n<<<done>>>\r\n');
    },
  );

  it('fails the handshake when the data key was generated for another target', async () => {
    const { client, session } = await encrypted(() => run('echo never', { kmsTarget: 'ecs:main_wrong_target' }));
    expect(session.closeReason).toBe('handshake-failed');
    expect(client.channelClosed?.output).toBe('Handshake failed: KMS Decrypt failed: InvalidCiphertextException');
    expect(client.text).toBe('');
    expect(session.pid).toBeUndefined();
  });

  it('fails the handshake when the task role may not kms:Decrypt, or the client never answers', async () => {
    emu.faults.deny('kms:Decrypt', { principal: '*manager-task-role*' });
    const denied = await encrypted(() => run('echo never'));
    expect(denied.client.channelClosed?.output).toMatch(/^Handshake failed: the task role is not authorized to perform kms:Decrypt/);
    emu.faults.clear();

    agent.settings.handshakeTimeoutMs = 300;
    const silent = await encrypted(() =>
      run('echo never', { ignoreHandshake: true }, (c) => {
        // Input before the handshake completes is acked and thrown away.
        c.stdin('early');
      }),
    );
    expect(silent.client.channelClosed?.output).toBe('Handshake failed: no HandshakeResponse in time');
    expect(silent.session.counters.inputDiscardedDuringHandshake).toBe(1);
    expect(silent.client.unackedInput).toBe(0);
  });

  it('a client that leaves during the handshake ends the session without running anything', async () => {
    const { session } = await encrypted(() => run('echo never', { ignoreHandshake: true }, (c) => c.ws.close()));
    expect(session).toMatchObject({ closeReason: 'client-gone', pid: undefined });
  });
});

describe('local agent with the production client (src/exec/session.ts)', () => {
  it('ExecSession runs backup.sh through faults and gets all of its output in order', async () => {
    agent.faults.forNextSession({ dropFirstSend: [1], duplicate: [3], reorder: [5], corruptDigest: [6] });
    const res = await execute('/work/backup.sh nightly');
    const session = await ExecSession.open({ streamUrl: res.session!.streamUrl!, tokenValue: res.session!.tokenValue! });
    const chunks: Buffer[] = [];
    session.on('output', (chunk) => chunks.push(chunk));
    const result = await session.closed;
    const agentSide = await agent.session(res.session!.sessionId!).then((s) => s.done);
    expect(result.reason).toBe('channel_closed');
    expect(Buffer.concat(chunks).toString()).toBe(agentSide.outputText);
    expect(agentSide.outputText).toMatch(/backup id: \d{8}-\d{6}-nightly\r\n$/);
    expect(agentSide.drained).toBe(true);
    expect(result.stats.digestErrors).toBe(1);
  });
});

describe('the local world', () => {
  it('starts an exec agent wired to its emulator, and stops it on close', async () => {
    const { startWorld } = await import('../local/world');
    const savedEnv = { ...process.env };
    const world = await startWorld({ exec: { initialReadDelayMs: 10 } });
    try {
      // Configured from the environment, as the bot's clients are.
      const client = new ECSClient({});
      const res = await client.send(new ExecuteCommandCommand({ cluster: 'main', task: MANAGER_TASK, command: '/work/echo-args.sh hi', interactive: true }));
      expect(res.session!.streamUrl!.startsWith(`${world.execAgent.url}/v1/data-channel/`)).toBe(true);
      const test = await TestClient.connect(res);
      await test.closed;
      expect(test.text).toBe('<<<args 1>>>\r\n<<<arg 1>>>hi<<<end 1>>>\r\n<<<done>>>\r\n');
      client.destroy();
    } finally {
      await world.close();
      process.env = savedEnv;
    }
    expect(execRegistry(world.aws.state).endpoint).toBeUndefined();
    expect(existsSync(world.execAgent.baseDir)).toBe(false);
  });
});

describe('agent options', () => {
  it("scriptsDir: its files land in every container's /work, refreshed for each session", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'exec-scripts-'));
    writeFileSync(join(dir, 'hello.sh'), '#!/bin/sh\necho v1\n');
    const emu2 = await startAwsEmulator();
    const agent2 = await startExecAgent({ aws: emu2, initialReadDelayMs: 10, scriptsDir: dir });
    const client = new ECSClient({ region, endpoint: emu2.url, credentials });
    const once = async () => {
      const res = await client.send(
        new ExecuteCommandCommand({ cluster: 'main', task: MANAGER_TASK, command: sh('/work/hello.sh; ls /work'), interactive: true }),
      );
      const test = await TestClient.connect(res);
      await test.closed;
      return test.text;
    };
    try {
      expect(await once()).toBe('v1\r\nhello.sh\r\n');
      writeFileSync(join(dir, 'hello.sh'), '#!/bin/sh\necho v2\n');
      expect(await once()).toBe('v2\r\nhello.sh\r\n');
    } finally {
      client.destroy();
      await agent2.close();
      await emu2.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('agent shutdown', () => {
  it('close() kills running commands and refuses new connections', async () => {
    const emu2 = await startAwsEmulator();
    const agent2 = await startExecAgent({ aws: emu2, initialReadDelayMs: 10 });
    const client = new ECSClient({ region, endpoint: emu2.url, credentials });
    try {
      const res = await client.send(new ExecuteCommandCommand({ cluster: 'main', task: MANAGER_TASK, command: 'sleep 30', interactive: true }));
      const test = await TestClient.connect(res);
      const session = await agent2.session(res.session!.sessionId!);
      await new Promise((r) => setTimeout(r, 50));
      const alive = () => {
        try {
          process.kill(session.pid!, 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(alive()).toBe(true);
      await agent2.close();
      await test.closed;
      expect(session.closeReason).toBe('agent-closed');
      expect(test.channelClosed).toBeUndefined();
      await new Promise((r) => setTimeout(r, 100));
      expect(alive()).toBe(false);
      expect(await rejection(client.send(new ExecuteCommandCommand({ cluster: 'main', task: MANAGER_TASK, command: 'ls', interactive: true })))).toMatchObject({
        name: 'TargetNotConnectedException',
      });
    } finally {
      client.destroy();
      await emu2.close();
    }
  });
});
