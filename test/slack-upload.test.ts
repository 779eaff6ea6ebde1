import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WebClient } from '@slack/web-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSlackServer, type SlackServer } from '../local/slack/server';
import { createSlackClient } from '../src/slack/client';
import { FileUploadError, uploadFiles } from '../src/slack/upload';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slack-upload-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `mib` MiB of incompressible, non-UTF-8 bytes without holding them all in memory. */
async function bigFile(name: string, mib: number): Promise<{ path: string; hash: string; size: number }> {
  const path = join(dir, name);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const block = randomBytes(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    block.writeUInt32BE(i, 0); // every MiB differs, so a repeated or skipped block shows
    hash.update(block);
    if (!out.write(block)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { path, hash: hash.digest('hex'), size: mib * 1024 * 1024 };
}

describe('uploadFiles with the local Slack', () => {
  let server: SlackServer;
  let client: WebClient;
  beforeEach(async () => {
    server = await startSlackServer();
    process.env.SLACK_API_URL = server.url;
    client = createSlackClient('xoxb-test');
  });
  afterEach(async () => {
    delete process.env.SLACK_API_URL;
    await server.close();
  });

  it('streams a multi-MB file that arrives intact and is shared in the thread', async () => {
    const file = await bigFile('multi.bin', 8);
    const parent = await client.chat.postMessage({ channel: 'C0OPS', text: 'parent' });
    const uploaded = await uploadFiles(client, {
      channelId: 'C0OPS',
      threadTs: parent.ts!,
      initialComment: 'the full log',
      files: [{ path: file.path, filename: 'output.txt', title: 'Full output' }],
    });

    const [stored] = server.workspace.files;
    expect(stored!.content.length).toBe(file.size);
    expect(sha256(stored!.content)).toBe(file.hash);
    expect(stored).toMatchObject({ name: 'output.txt', title: 'Full output', length: file.size, channel: 'C0OPS', threadTs: parent.ts });
    expect(uploaded).toEqual([{ id: stored!.id, title: 'Full output', bytes: file.size }]);
    expect(server.replies('C0OPS', parent.ts!)).toMatchObject([{ text: 'the full log', files: [stored!.id], ts: stored!.messageTs }]);
    expect(server.calls.map((c) => c.method).slice(1)).toEqual(['files.getUploadURLExternal', 'upload', 'files.completeUploadExternal']);
  });

  it('shares a file from disk and content from memory in one message, in order', async () => {
    const path = join(dir, 'small.txt');
    await writeFile(path, 'from disk\n');
    await uploadFiles(client, {
      channelId: 'C0OPS',
      files: [
        { path, filename: 'log.txt', title: 'Log' },
        { content: 'from memory ✓', filename: 'replies.txt' },
      ],
    });
    expect(server.workspace.files.map((f) => [f.name, f.title, f.content.toString()])).toEqual([
      ['log.txt', 'Log', 'from disk\n'],
      ['replies.txt', 'replies.txt', 'from memory ✓'],
    ]);
    const [message] = server.workspace.messages.C0OPS!;
    expect(message!.files).toEqual(server.workspace.files.map((f) => f.id));
  });

  it('fails when the upload URL refuses the bytes, and shares nothing', async () => {
    const path = join(dir, 'refused.txt');
    await writeFile(path, 'x'.repeat(1000));
    server.faults.rateLimit('upload', 1, 5);
    const err = await uploadFiles(client, { channelId: 'C0OPS', files: [{ path, filename: 'a.txt' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileUploadError);
    expect(err).toMatchObject({ status: 429, message: expect.stringMatching(/^the upload was refused: HTTP 429/) });
    expect(server.calls.some((c) => c.method === 'files.completeUploadExternal')).toBe(false);
    expect(server.workspace.messages.C0OPS).toEqual([]);
  });

  it('refuses an empty file before calling Slack', async () => {
    const path = join(dir, 'empty.txt');
    await writeFile(path, '');
    await expect(uploadFiles(client, { channelId: 'C0OPS', files: [{ path, filename: 'empty.txt' }] })).rejects.toThrow(/empty/);
    expect(server.calls).toEqual([]);
  });

  it('stops when the signal is aborted', async () => {
    const err = await uploadFiles(client, {
      channelId: 'C0OPS',
      files: [{ content: 'x', filename: 'a.txt' }],
      signal: AbortSignal.abort(new Error('deadline')),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'deadline' });
    expect(server.calls).toEqual([]);
  });
});

/** A stand-in for files.slack.com: records what it receives and answers as told. */
class UploadTarget {
  server!: Server;
  url = '';
  requests: Array<{ method?: string; headers: IncomingHttpHeaders; bytes: number; chunks: number; aborted: boolean }> = [];
  answer: 'ok' | 'refuse' | 'never' = 'ok';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const seen = { method: req.method, headers: req.headers, bytes: 0, chunks: 0, aborted: false };
      this.requests.push(seen);
      req.on('data', (d: Buffer) => {
        seen.bytes += d.length;
        seen.chunks++;
      });
      req.on('aborted', () => (seen.aborted = true));
      req.on('error', () => (seen.aborted = true));
      req.on('end', () => {
        if (this.answer === 'ok') res.end(`OK - ${seen.bytes}`);
        else if (this.answer === 'refuse') res.writeHead(400).end('invalid upload');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/upload/v1/F1`;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A WebClient stand-in for the two API methods; `upload_url` comes from the test. */
function fakeClient(uploadUrl: () => string, onGetUrl?: () => Promise<void>) {
  const calls: Array<[string, unknown]> = [];
  const client = {
    files: {
      getUploadURLExternal: async (args: unknown) => {
        calls.push(['getUploadURLExternal', args]);
        await onGetUrl?.();
        return { ok: true, upload_url: uploadUrl(), file_id: 'F1' };
      },
      completeUploadExternal: async (args: unknown) => {
        calls.push(['completeUploadExternal', args]);
        return { ok: true, files: [] };
      },
    },
  } as unknown as WebClient;
  return { client, calls };
}

describe('uploadFiles on the wire', () => {
  let target: UploadTarget;
  beforeEach(async () => {
    target = new UploadTarget();
    await target.start();
  });
  afterEach(() => target.stop());

  it('POSTs the raw bytes with their length, in chunks, without the bot token', async () => {
    const file = await bigFile('wire.bin', 2);
    const { client, calls } = fakeClient(() => target.url);
    await uploadFiles(client, { channelId: 'C1', threadTs: '1.2', files: [{ path: file.path, filename: 'out.txt', title: 'Out' }] });

    const [req] = target.requests;
    expect(req).toMatchObject({ method: 'POST', bytes: file.size, aborted: false });
    expect(req!.chunks).toBeGreaterThan(1); // streamed, not sent as one buffer
    expect(req!.headers).toMatchObject({ 'content-type': 'application/octet-stream', 'content-length': String(file.size) });
    expect(req!.headers.authorization).toBeUndefined();
    expect(req!.headers['transfer-encoding']).toBeUndefined();
    expect(calls).toEqual([
      ['getUploadURLExternal', { filename: 'out.txt', length: file.size }],
      ['completeUploadExternal', { files: [{ id: 'F1', title: 'Out' }], channel_id: 'C1', thread_ts: '1.2' }],
    ]);
  });

  it('fails on an answer other than 200, saying what Slack said', async () => {
    target.answer = 'refuse';
    const { client, calls } = fakeClient(() => target.url);
    const err = await uploadFiles(client, { files: [{ content: 'abc', filename: 'a.txt' }] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'FileUploadError', status: 400, message: 'the upload was refused: HTTP 400 invalid upload' });
    expect(calls.map(([m]) => m)).toEqual(['getUploadURLExternal']);
  });

  it('fails instead of hanging when the file shrinks during the upload', async () => {
    const path = join(dir, 'shrinks.txt');
    await writeFile(path, 'y'.repeat(200_000));
    const { client } = fakeClient(
      () => target.url,
      () => truncate(path, 1000),
    );
    await expect(uploadFiles(client, { files: [{ path, filename: 'a.txt' }], idleTimeoutMs: 5000 })).rejects.toThrow(
      'the file changed size during the upload (1000 of 200000 bytes)',
    );
  });

  it('gives up on a stalled upload (idle timeout) and on the deadline signal', async () => {
    target.answer = 'never';
    const { client } = fakeClient(() => target.url);
    const started = Date.now();
    await expect(uploadFiles(client, { files: [{ content: 'abc', filename: 'a.txt' }], idleTimeoutMs: 200 })).rejects.toThrow('the upload stalled for 0 s');
    await expect(uploadFiles(client, { files: [{ content: 'abc', filename: 'a.txt' }], signal: AbortSignal.timeout(200) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('sends bytes only over https, or http on loopback', async () => {
    for (const url of ['http://files.example.com/upload/v1/F1', 'ftp://127.0.0.1/x', 'file:///etc/passwd']) {
      const { client, calls } = fakeClient(() => url);
      await expect(uploadFiles(client, { files: [{ content: 'secret', filename: 'a.txt' }] }), url).rejects.toThrow(/refusing to upload/);
      expect(calls.map(([m]) => m)).toEqual(['getUploadURLExternal']);
    }
    expect(target.requests).toEqual([]);
  });
});

/**
 * Memory: a child process uploads a 10 MiB file (warming every code path), then a 50 MiB file to the
 * local Slack in this process, and reports how much its peak RSS grew during the second upload. The
 * same measurement with WebClient.filesUploadV2 (which reads the file into memory) shows the check
 * would catch a regression.
 *
 * The child runs with --liftoff-only: the WebClient's fetch (undici) parses HTTP with WebAssembly, and
 * V8 optimises that code in the background some time after first use, a one-off bump of ~20 MiB
 * that has nothing to do with the upload and lands at a random point. Without it the measurement
 * is the upload's own memory.
 */
describe('memory', () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const src = (p: string) => JSON.stringify(join(root, p));
  let server: SlackServer;
  let child: string;
  let file: { path: string; hash: string; size: number };
  let medium: string;

  beforeAll(async () => {
    server = await startSlackServer();
    file = await bigFile('fifty.bin', 50);
    medium = (await bigFile('warm-up.bin', 10)).path;
    child = join(dir, 'upload-child.mts');
    await writeFile(
      child,
      `
import { createSlackClient } from ${src('src/slack/client.ts')};
import { uploadFiles } from ${src('src/slack/upload.ts')};
import { ThreadOutput } from ${src('src/slack/thread-output.ts')};
const [mode, big, medium, parentTs] = process.argv.slice(2);
const client = createSlackClient('xoxb-test');
async function upload(path) {
  if (mode === 'stream') await uploadFiles(client, { channelId: 'C0OPS', threadTs: parentTs, files: [{ path, filename: 'out.txt' }] });
  else if (mode === 'thread') await ThreadOutput.resume({ client, channel: 'C0OPS', parentTs, remainingMs: () => 600000 }).finish({ outcome: 'success', summary: 'ok', logFile: path });
  else await client.filesUploadV2({ channel_id: 'C0OPS', thread_ts: parentTs, file: path, filename: 'out.txt' });
}
await upload(medium);
const before = process.resourceUsage().maxRSS;
await upload(big);
const after = process.resourceUsage().maxRSS;
process.stdout.write(JSON.stringify({ growthMiB: (after - before) / 1024 }));
`,
    );
  });
  afterAll(() => server.close());

  async function growth(mode: 'stream' | 'thread' | 'sdk'): Promise<number> {
    const parent = await fetch(`${server.url}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: 'Bearer xoxb-test', 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'C0OPS', text: `parent ${mode}` }),
    }).then((r) => r.json() as Promise<{ ts: string }>);
    const out = await new Promise<string>((resolve, reject) => {
      const proc = spawn(process.execPath, ['--liftoff-only', '--import', 'tsx', child, mode, file.path, medium, parent.ts], {
        cwd: root,
        env: { ...process.env, SLACK_API_URL: server.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (d: Buffer) => (stdout += d));
      proc.stderr.on('data', (d: Buffer) => (stderr += d));
      proc.on('error', reject);
      proc.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`child ${mode} exited ${code}: ${stderr}`))));
    });
    const big = server.workspace.files.filter((f) => f.length === file.size);
    expect(big).toHaveLength(1);
    expect(sha256(big[0]!.content)).toBe(file.hash);
    expect(big[0]!.threadTs).toBe(parent.ts);
    for (const f of server.workspace.files) f.content = Buffer.alloc(0); // keep this process small too
    server.workspace.files.length = 0;
    const { growthMiB } = JSON.parse(out) as { growthMiB: number };
    console.info(`peak RSS growth uploading 50 MiB (${mode}): ${growthMiB.toFixed(1)} MiB`);
    return growthMiB;
  }

  it('uploadFiles streams a 50 MiB file with a few MiB of memory', async () => {
    expect(await growth('stream')).toBeLessThan(10);
  });

  it('ThreadOutput.finish({ logFile }) streams it too', async () => {
    expect(await growth('thread')).toBeLessThan(10);
  });

  it('(control) WebClient.filesUploadV2 grows by at least the file size', async () => {
    expect(await growth('sdk')).toBeGreaterThan(50);
  });
});
