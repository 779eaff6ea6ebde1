/**
 * Where a run's cleaned output goes while it arrives: a temp file for the complete log (uploaded at
 * the end) and a bounded tail in memory for the live Slack view. Memory stays bounded however much
 * a script prints; the file is bounded too (Lambda's /tmp is 512 MB by default): past `maxFileBytes`
 * further lines are only counted, and close() appends a notice and the last lines.
 *
 * Writes are synchronous and batched: a caller feeding lines from a WebSocket handler gets no
 * promise to forget, memory never holds more than one batch, and a disk error surfaces here (kept
 * in `problem`, the tail keeps working) instead of as an unhandled stream error.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SpoolOptions {
  /** Parent of the spool's private temp directory. Default os.tmpdir(). */
  dir?: string;
  /** Name of the log file inside it. Default `output.txt`. */
  fileName?: string;
  /** Lines kept in memory for the live view. Default 200. */
  tailLines?: number;
  /** Bytes (UTF-8) kept in memory for the live view. Default 64 KiB. */
  tailBytes?: number;
  /** Largest log file; later lines are counted, not written. Default 256 MiB. */
  maxFileBytes?: number;
  /** Bytes gathered before a write to disk. Default 64 KiB. */
  batchBytes?: number;
}

interface TailLine {
  text: string;
  bytes: number;
  /** 0-based number of the line in the whole output. */
  n: number;
}

export class OutputSpool {
  readonly path: string;
  private fd: number | undefined;
  private readonly tailMaxLines: number;
  private readonly tailMaxBytes: number;
  private readonly maxFileBytes: number;
  private readonly batchBytes: number;
  private tailItems: TailLine[] = [];
  private tailStart = 0;
  private tailSize = 0;
  private pending: string[] = [];
  private pendingBytes = 0;
  /** Line number of the first pending line. */
  private pendingFrom = 0;
  private _lines = 0;
  private _bytes = 0;
  private _fileBytes = 0;
  /** Lines completely in the file (the rest were dropped at the cap or by an error). */
  private linesInFile = 0;
  private full = false;
  private _problem?: string;
  private closed?: Promise<string>;

  private constructor(
    private readonly dir: string,
    fileName: string,
    options: SpoolOptions,
  ) {
    this.path = join(dir, fileName);
    this.tailMaxLines = Math.max(options.tailLines ?? 200, 1);
    this.tailMaxBytes = Math.max(options.tailBytes ?? 64 * 1024, 256);
    this.maxFileBytes = Math.max(options.maxFileBytes ?? 256 * 1024 * 1024, 0);
    this.batchBytes = Math.max(options.batchBytes ?? 64 * 1024, 1);
    // Private to this process (the directory is 0700 too): logs may contain secrets.
    this.fd = openSync(this.path, 'w', 0o600);
  }

  /** Creates the spool in a fresh private temp directory. */
  static async create(options: SpoolOptions = {}): Promise<OutputSpool> {
    const fileName = options.fileName ?? 'output.txt';
    if (!/^[\w.-]+$/.test(fileName) || fileName.startsWith('.')) throw new RangeError(`spool file name must be plain: ${fileName}`);
    const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'ecs-exec-'));
    try {
      return new OutputSpool(dir, fileName, options);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Lines received (whether or not they fitted in the file). */
  get lines(): number {
    return this._lines;
  }

  /** Bytes received, UTF-8, counting one `\n` per line. */
  get bytes(): number {
    return this._bytes;
  }

  /** Bytes written to the file so far. */
  get fileBytes(): number {
    return this._fileBytes;
  }

  /** Set when not everything reached the file: the cap, or a disk error (written for people). */
  get problem(): string | undefined {
    return this._problem;
  }

  /** Appends lines (without their line breaks). */
  write(lines: readonly string[]): void {
    if (this.closed) throw new Error('OutputSpool.write after close()');
    for (const text of lines) {
      const bytes = Buffer.byteLength(text) + 1;
      const n = this._lines++;
      this._bytes += bytes;
      this.remember(text, bytes, n);
      if (this.fd === undefined || this.full) continue;
      if (!this.pending.length) this.pendingFrom = n;
      this.pending.push(text);
      this.pendingBytes += bytes;
      if (this.pendingBytes >= this.batchBytes) this.flush();
    }
  }

  /** The last lines (at most tailLines / tailBytes), oldest first. */
  tail(): string[] {
    return this.tailItems.slice(this.tailStart).map((t) => t.text);
  }

  /** Writes what is batched to disk now. */
  flush(): void {
    if (!this.pending.length || this.fd === undefined) return;
    const lines = this.pending;
    const from = this.pendingFrom;
    this.pending = [];
    this.pendingBytes = 0;
    let data = Buffer.from(`${lines.join('\n')}\n`);
    let whole = lines.length;
    const room = this.maxFileBytes - this._fileBytes;
    if (data.length > room) {
      // Keep whole lines only, then stop writing: close() adds a notice and the tail.
      const cut = room > 0 ? data.lastIndexOf(0x0a, room - 1) + 1 : 0;
      whole = countNewlines(data, cut);
      data = data.subarray(0, cut);
      this.full = true;
      this._problem ??= `the output was larger than the ${formatBytes(this.maxFileBytes)} kept on disk; the file has its beginning and its last lines`;
    }
    try {
      writeAll(this.fd, data);
      this._fileBytes += data.length;
      this.linesInFile = from + whole;
    } catch (err) {
      this._problem ??= `the log file could not be written (${(err as NodeJS.ErrnoException).code ?? String(err)}); it has only the output before that`;
      this.closeFd();
    }
  }

  /**
   * Flushes and closes the file; returns its path. When lines were dropped, appends a notice and
   * the tail lines that are not in the file yet. Safe to call twice.
   */
  close(): Promise<string> {
    this.closed ??= (async () => {
      this.flush();
      if (this.fd !== undefined && this.linesInFile < this._lines) {
        const missing = this.tailItems.slice(this.tailStart).filter((t) => t.n >= this.linesInFile);
        const skipped = this._lines - this.linesInFile - missing.length;
        const notice = `\n[… ${skipped} line${skipped === 1 ? '' : 's'} not kept: ${this._problem ?? 'the log was cut'} …]\n\n`;
        try {
          writeAll(this.fd, Buffer.from(notice + missing.map((t) => `${t.text}\n`).join('')));
        } catch {
          // The notice is a courtesy; `problem` already says what happened.
        }
      }
      this.closeFd();
      return this.path;
    })();
    return this.closed;
  }

  /** Removes the file and its directory. */
  async cleanup(): Promise<void> {
    this.closeFd();
    await rm(this.dir, { recursive: true, force: true });
  }

  private remember(text: string, bytes: number, n: number): void {
    if (bytes > this.tailMaxBytes) {
      // One line larger than the whole tail: keep its end (3 bytes per UTF-16 unit at most).
      text = text.slice(-Math.floor(this.tailMaxBytes / 3));
      const first = text.charCodeAt(0);
      if (first >= 0xdc00 && first <= 0xdfff) text = text.slice(1); // half of a cut character
      bytes = Buffer.byteLength(text) + 1;
    }
    this.tailItems.push({ text, bytes, n });
    this.tailSize += bytes;
    while (this.tailItems.length - this.tailStart > this.tailMaxLines || this.tailSize > this.tailMaxBytes) {
      this.tailSize -= this.tailItems[this.tailStart]!.bytes;
      this.tailStart++;
    }
    if (this.tailStart > 1024 && this.tailStart * 2 > this.tailItems.length) {
      this.tailItems = this.tailItems.slice(this.tailStart);
      this.tailStart = 0;
    }
  }

  private closeFd(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already unusable; nothing more to lose.
    }
  }
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

function countNewlines(buf: Buffer, end: number): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i !== -1 && i < end; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
