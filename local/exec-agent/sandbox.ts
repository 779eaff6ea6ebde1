/**
 * Where the local agent runs a command: a real process, in a directory that plays the container's
 * filesystem, with the stream semantics of the pseudo-terminal the real SSM agent allocates.
 *
 * Container filesystem. Each container (cluster/task/container) gets a host directory, its
 * "root", created on first use and kept for the agent's lifetime (so a dump written by one session
 * is there for the next). It holds `work/` (the sample maintenance scripts of local/manager,
 * copied in, executable), `tmp/` and `root/` (HOME). The mapping between container paths and host
 * paths is textual and symmetric:
 *  - in argv, a container path under one of those directories (`/work/backup.sh`, also inside an
 *    `sh -c` script: `(\n/work/backup.sh 'x'\n)`) is rewritten to the host path, wherever it
 *    starts a word (after a space, quote, `=`, `:`, `;`, `(`, `|`, `&`, `<`, `>` or a backquote); other absolute
 *    paths (`/bin/sh`, `/dev/null`) are the host's, which stands in for the image's;
 *  - in output, the host root is rewritten back to `/`, so `$0`, `pwd` and error messages show
 *    container paths, and a client cannot tell it is not in a container.
 * The working directory is `/work` (the manager image's WORKDIR), TMPDIR is `/tmp`, HOME `/root`.
 * Nothing else is isolated: this is a stand-in for a container, not a security boundary.
 *
 * Terminal semantics, as the agent's pty gives them (notes §1.7, §6):
 *  - stdout and stderr are one stream in the order written: the process gets the same pipe as
 *    fd 1 and fd 2 (`exec "$@" 2>&1` in a tiny sh trampoline), not two pipes merged after the fact;
 *  - output `\n` becomes `\r\n` (ONLCR, unconditionally, so `\r\n` becomes `\r\r\n` as on a tty);
 *  - TERM=xterm-256color and LANG=C.UTF-8 unless the container's environment sets them;
 *  - input: `\r` is delivered as `\n` (ICRNL), input is echoed (control characters as `^X`),
 *    Ctrl-C sends SIGINT and Ctrl-\ SIGQUIT to the process group (the process leads its own group,
 *    as a pty session leader does), Ctrl-D closes stdin. Input is passed on byte by byte, not per
 *    line (no canonical-mode line editing).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, copyFileSync, chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The container directories mapped into a container root. */
export const CONTAINER_MOUNTS = ['/work', '/tmp', '/root'] as const;
export const CONTAINER_WORKDIR = '/work';

export interface ContainerFs {
  /** Host directory standing for the container's `/` (a real path: no symlinks, so `pwd` output maps back). */
  root: string;
}

/**
 * Creates (once) the container root under `baseDir` and copies the scripts of `scriptsDir` into
 * its `/work`. Existing files are refreshed so an edited sample script takes effect on the next session.
 */
export function prepareContainerFs(baseDir: string, parts: string[], scriptsDir: string | undefined): ContainerFs {
  const root = join(baseDir, ...parts.map((p) => p.replace(/[^A-Za-z0-9._-]/g, '_')));
  for (const mount of CONTAINER_MOUNTS) mkdirSync(join(root, mount), { recursive: true });
  if (scriptsDir) {
    for (const name of readdirSync(scriptsDir)) {
      const from = join(scriptsDir, name);
      if (!statSync(from).isFile()) continue;
      const to = join(root, 'work', name);
      copyFileSync(from, to);
      if (name.endsWith('.sh')) chmodSync(to, 0o755);
    }
  }
  return { root };
}

const BOUNDARY = String.raw`\s'"=:;(|&<>` + '`';
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Rewrites container paths (under CONTAINER_MOUNTS) in one argv element to host paths. */
export function toHostPath(arg: string, fs: ContainerFs): string {
  const mounts = CONTAINER_MOUNTS.map(escapeRe).join('|');
  const re = new RegExp(`(^|[${BOUNDARY}])(${mounts})(?=$|[/${BOUNDARY.replace('(', ')')}])`, 'g');
  return arg.replace(re, (_, before: string, mount: string) => `${before}${fs.root}${mount}`);
}

/** Bytes that can continue a path component: `<root>x` is not the root. */
const isNameByte = (b: number) =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2e || b === 0x5f || b === 0x2d || b >= 0x80;

/**
 * Streaming byte replacement (host root → `/`) that survives a match split across chunks: the
 * longest tail that could still begin a match is held back until the next chunk or `flush()`.
 * A pattern not ending in `/` only matches where a path component ends (`<root>` in `<root>x` is
 * left alone), so a match at the very end of a chunk also waits for the next byte.
 */
export class StreamReplacer {
  private pending = Buffer.alloc(0);
  private readonly pairs: Array<{ from: Buffer; to: Buffer; bounded: boolean }>;
  private readonly longest: number;

  constructor(pairs: Array<[from: string, to: string]>) {
    // Longer patterns first, so `<root>/` wins over `<root>` at the same position.
    this.pairs = pairs.map(([f, t]) => ({ from: Buffer.from(f), to: Buffer.from(t), bounded: !f.endsWith('/') })).sort((a, b) => b.from.length - a.from.length);
    this.longest = Math.max(0, ...this.pairs.map((p) => p.from.length));
  }

  push(chunk: Buffer): Buffer {
    return this.process(this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk, false);
  }

  flush(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return this.process(rest, true);
  }

  private process(data: Buffer, final: boolean): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    let holdFrom = -1;
    for (;;) {
      let best = -1;
      let pair: (typeof this.pairs)[number] | undefined;
      for (const p of this.pairs) {
        for (let at = data.indexOf(p.from, pos); at !== -1; at = data.indexOf(p.from, at + 1)) {
          const next = data[at + p.from.length];
          if (p.bounded && next !== undefined && isNameByte(next)) continue;
          if (best === -1 || at < best) [best, pair] = [at, p];
          break;
        }
      }
      if (!pair) break;
      // The byte that decides a bounded match has not arrived yet.
      if (pair.bounded && best + pair.from.length === data.length && !final) {
        holdFrom = best;
        break;
      }
      out.push(data.subarray(pos, best), pair.to);
      pos = best + pair.from.length;
    }
    const keep = holdFrom !== -1 ? data.length - holdFrom : final ? 0 : this.partialTail(data, pos);
    out.push(data.subarray(pos, data.length - keep));
    this.pending = Buffer.from(data.subarray(data.length - keep));
    return Buffer.concat(out);
  }

  /** Length of the longest suffix of data[pos..] that is a proper prefix of a pattern. */
  private partialTail(data: Buffer, pos: number): number {
    for (let k = Math.min(this.longest - 1, data.length - pos); k > 0; k--) {
      const tail = data.subarray(data.length - k);
      if (this.pairs.some((p) => p.from.length > k && p.from.subarray(0, k).equals(tail))) return k;
    }
    return 0;
  }
}

/** `\n` → `\r\n`, as the pty's ONLCR does to everything the process writes. */
export function onlcr(chunk: Buffer): Buffer {
  let count = 0;
  for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) count++;
  if (count === 0) return chunk;
  const out = Buffer.allocUnsafe(chunk.length + count);
  let o = 0;
  let start = 0;
  for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) {
    o += chunk.copy(out, o, start, i);
    out[o++] = 0x0d;
    out[o++] = 0x0a;
    start = i + 1;
  }
  chunk.copy(out, o, start);
  return out;
}

/** Why a command could not be started, worded as Go's os/exec reports it to the agent. */
export class StartError extends Error {
  override readonly name = 'StartError';
}

/** Finds argv[0] as exec.Command/LookPath would: a path containing `/` as is, else through PATH. */
export function resolveExecutable(file: string, hostFile: string, pathEnv: string, cwd: string): string {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (file.includes('/')) {
    const full = hostFile.startsWith('/') ? hostFile : join(cwd, hostFile);
    try {
      statSync(full);
    } catch {
      throw new StartError(`fork/exec ${file}: no such file or directory`);
    }
    if (!executable(full)) throw new StartError(`fork/exec ${file}: permission denied`);
    return full;
  }
  for (const dir of pathEnv.split(delimiter)) {
    if (dir && executable(join(dir, file))) return join(dir, file);
  }
  throw new StartError(`exec: "${file}": executable file not found in $PATH`);
}

export interface PtyLikeOptions {
  /** argv as the agent split it, in container paths. */
  argv: string[];
  fs: ContainerFs;
  /** The container's environment (task definition `environment`). */
  environment?: Record<string, string>;
}

export interface ProcessExit {
  /** null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One command under emulated pty semantics. `onOutput` receives what the terminal would show
 * (translated, paths mapped back); `exited` resolves once the process is gone and its output
 * stream is closed (a pty reaches EOF only when every writer has closed it).
 */
export class PtyLikeProcess {
  readonly pid: number;
  readonly hostArgv: string[];
  readonly exited: Promise<ProcessExit>;
  private readonly child: ChildProcess;
  private readonly replacer: StreamReplacer;
  private stdinOpen = true;
  private done = false;

  constructor(
    options: PtyLikeOptions,
    private readonly onOutput: (data: Buffer) => void,
  ) {
    const { argv, fs } = options;
    if (argv.length === 0) throw new StartError('no command to run');
    const cwd = join(fs.root, CONTAINER_WORKDIR);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: join(fs.root, 'root'),
      TMPDIR: join(fs.root, 'tmp'),
      ...options.environment,
    };
    env.TERM ??= 'xterm-256color';
    env.LANG ??= 'C.UTF-8';
    this.hostArgv = argv.map((a) => toHostPath(a, fs));
    const file = resolveExecutable(argv[0]!, this.hostArgv[0]!, env.PATH!, cwd);
    this.replacer = new StreamReplacer([
      [`${fs.root}/`, '/'],
      [fs.root, '/'],
    ]);
    // The trampoline points fd 2 at fd 1's pipe, then becomes the command: one ordered stream.
    this.child = spawn('/bin/sh', ['-c', 'exec "$@" 2>&1', 'sh', file, ...this.hostArgv.slice(1)], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'ignore'],
      // Its own process group (setsid), so terminal signals reach it and its children.
      detached: true,
    });
    if (this.child.pid === undefined) throw new StartError(`fork/exec ${argv[0]}: could not start`);
    this.pid = this.child.pid;
    this.child.stdin!.on('error', () => undefined); // EPIPE when the process ignores its input
    this.child.stdout!.on('data', (chunk: Buffer) => this.emit(this.replacer.push(chunk)));
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.done = true;
        this.emit(this.replacer.flush());
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return !this.done;
  }

  /** Terminal input: line discipline as described in the module comment. */
  input(data: Buffer): void {
    if (this.done) return;
    const echo: Buffer[] = [];
    let pass: number[] = [];
    const flushPass = () => {
      if (pass.length && this.stdinOpen) this.child.stdin!.write(Buffer.from(pass));
      pass = [];
    };
    for (const byte of data) {
      if (byte === 0x03 || byte === 0x1c) {
        flushPass();
        echo.push(Buffer.from(byte === 0x03 ? '^C' : '^\\'));
        this.signal(byte === 0x03 ? 'SIGINT' : 'SIGQUIT');
      } else if (byte === 0x04) {
        flushPass();
        if (this.stdinOpen) this.child.stdin!.end();
        this.stdinOpen = false;
      } else if (byte === 0x0d || byte === 0x0a) {
        pass.push(0x0a);
        echo.push(Buffer.from('\r\n'));
      } else if (byte < 0x20 && byte !== 0x09) {
        pass.push(byte);
        echo.push(Buffer.from(`^${String.fromCharCode(byte + 0x40)}`));
      } else {
        pass.push(byte);
        echo.push(Buffer.from([byte]));
      }
    }
    flushPass();
    if (echo.length) this.onOutput(Buffer.concat(echo));
  }

  /** Sends a signal to the whole process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.done) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** SIGKILL for the group: what TerminateSession and agent shutdown do. */
  kill(): void {
    this.signal('SIGKILL');
  }

  private emit(chunk: Buffer): void {
    if (chunk.length) this.onOutput(onlcr(chunk));
  }
}
