/**
 * Uploads files to Slack without holding them in memory.
 *
 * WebClient.filesUploadV2 reads a `file` path with readFileSync, so a 100 MB exec log would cost
 * 100 MB of Lambda memory. This does the same three steps of Slack's external upload itself:
 * `files.getUploadURLExternal` (name and length), a POST of the raw bytes to the returned URL
 * (Slack accepts raw bytes or multipart; raw needs no encoding), then `files.completeUploadExternal`,
 * which shares the files in one message.
 *
 * The file is sent through two reused 64 KiB buffers, each refilled only once the socket has taken
 * it. A read stream would allocate a fresh buffer per chunk, and as garbage those grew the process
 * by ~33 MB for a 50 MB file before the GC caught up; with two buffers memory does not grow with the size.
 *
 * The bot token is not sent with the bytes: the upload URL is pre-authorised, and a URL that came
 * back in a response should not receive credentials. Plain http is accepted only for loopback (the
 * local Slack); anything else must be https.
 */
import { open, stat } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { WebClient } from '@slack/web-api';

export type UploadFile = {
  /** Name Slack shows and uses for the file type (e.g. `output.txt`). */
  filename: string;
  title?: string;
} & ({ /** Streamed from disk. */ path: string } | { /** Small content already in memory. */ content: string | Uint8Array });

export interface UploadOptions {
  /** Share into this channel (and thread); without it the files stay private to the bot. */
  channelId?: string;
  threadTs?: string;
  initialComment?: string;
  files: readonly UploadFile[];
  /** Aborts the upload (e.g. AbortSignal.timeout before the Lambda deadline). */
  signal?: AbortSignal;
  /** A POST that sends or receives nothing for this long fails. Default 30 s. */
  idleTimeoutMs?: number;
}

export interface UploadedFile {
  id: string;
  title: string;
  bytes: number;
}

/** The upload URL refused the bytes or the transfer broke; `status` is the HTTP status if any. */
export class FileUploadError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FileUploadError';
  }
}

/**
 * Uploads the files one after another, then shares them in one message. Errors of the Web API calls
 * are the WebClient's own (rate limits, platform errors), so callers handle them as for any call.
 */
export async function uploadFiles(client: WebClient, options: UploadOptions): Promise<UploadedFile[]> {
  if (!options.files.length) throw new RangeError('uploadFiles needs at least one file');
  const uploaded: UploadedFile[] = [];
  for (const file of options.files) {
    options.signal?.throwIfAborted();
    const content = 'content' in file ? (typeof file.content === 'string' ? Buffer.from(file.content) : file.content) : undefined;
    const length = content ? content.length : (await stat((file as { path: string }).path)).size;
    // Slack refuses a zero length; an empty log says nothing worth a file.
    if (length < 1) throw new FileUploadError(`${file.filename} is empty; Slack does not take empty files`);

    const res = await client.files.getUploadURLExternal({ filename: file.filename, length });
    if (!res.upload_url || !res.file_id) throw new FileUploadError('files.getUploadURLExternal returned no upload_url or file_id');
    await postBytes(res.upload_url, content ?? { path: (file as { path: string }).path }, length, options);
    uploaded.push({ id: res.file_id, title: file.title ?? file.filename, bytes: length });
  }

  options.signal?.throwIfAborted();
  await client.files.completeUploadExternal({
    files: uploaded.map(({ id, title }) => ({ id, title })),
    ...(options.channelId ? { channel_id: options.channelId } : {}),
    ...(options.channelId && options.threadTs ? { thread_ts: options.threadTs } : {}),
    ...(options.initialComment ? { initial_comment: options.initialComment } : {}),
  } as Parameters<WebClient['files']['completeUploadExternal']>[0]);
  return uploaded;
}

/** POSTs exactly `length` bytes with a Content-Length; resolves on HTTP 200. */
function postBytes(url: string, body: Uint8Array | { path: string }, length: number, options: UploadOptions): Promise<void> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' && isLoopback(target.hostname) ? httpRequest : undefined;
  if (!request)
    return Promise.reject(new FileUploadError(`refusing to upload to ${target.protocol}//${target.host}: only https (or http on loopback) is used`));
  const idleMs = options.idleTimeoutMs ?? 30_000;

  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (err) {
        req.destroy();
        reject(err);
      } else resolve();
    };
    const failed = (err: unknown) =>
      settle(
        err instanceof FileUploadError
          ? err
          : options.signal?.aborted
            ? toError(options.signal.reason)
            : new FileUploadError(`the upload failed: ${(err as Error).message}`, undefined, { cause: err }),
      );
    const req = request(target, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
      timeout: idleMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    req.on('timeout', () => settle(new FileUploadError(`the upload stalled for ${Math.round(idleMs / 1000)} s`)));
    req.on('error', failed);
    // The request is over before it answered: whatever broke it also emits 'error', but never wait on a dead socket.
    req.on('close', () => settle(new FileUploadError('the connection closed before Slack answered')));
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (text.length < 500) text += d;
      });
      res.on('error', (err) => settle(new FileUploadError(`the upload's answer broke off: ${err.message}`, res.statusCode, { cause: err })));
      res.on('end', () => {
        if (res.statusCode === 200) settle();
        else settle(new FileUploadError(`the upload was refused: HTTP ${res.statusCode}${text ? ` ${text.slice(0, 200)}` : ''}`, res.statusCode));
      });
    });

    if (body instanceof Uint8Array) req.end(body);
    else sendFile(body.path, length, req, () => settled).catch(failed);
  });
}

const CHUNK = 64 * 1024;

/**
 * Writes the first `length` bytes of the file to `req` and ends it. A buffer is refilled only after
 * the socket took it (write callback), so at most two chunks exist at any time. A file that shrank
 * since stat() fails the upload instead of leaving the server waiting for bytes that never come.
 */
async function sendFile(path: string, length: number, req: ClientRequest, stopped: () => boolean): Promise<void> {
  const file = await open(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    const inFlight: Array<Promise<void> | undefined> = [undefined, undefined];
    let sent = 0;
    for (let k = 0; sent < length; k ^= 1) {
      await inFlight[k];
      if (stopped()) return;
      const { bytesRead } = await file.read(buffers[k]!, 0, Math.min(CHUNK, length - sent), sent);
      if (bytesRead === 0) throw new FileUploadError(`the file changed size during the upload (${sent} of ${length} bytes)`);
      sent += bytesRead;
      const written = new Promise<void>((resolve, reject) => req.write(buffers[k]!.subarray(0, bytesRead), (err) => (err ? reject(err) : resolve())));
      written.catch(() => undefined); // a failed write also fails the request, which settles the upload
      inFlight[k] = written;
    }
    await Promise.all(inFlight);
    req.end();
  } finally {
    await file.close();
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
