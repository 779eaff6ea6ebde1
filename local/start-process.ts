import { spawn, type ChildProcess } from 'node:child_process';

export interface StartedPlayground {
  child: ChildProcess;
  /** The page URL the process printed. */
  url: string;
  /** Wall time from spawn to the ready line. */
  readySeconds: number;
  output: () => string;
  /** Ctrl-C to the process group, as a terminal sends it; resolves once the page's port is closed. */
  stop(): Promise<void>;
}

/** Runs `npm start` as a newcomer would and waits for its ready line (benchmarks and tests). */
export function startPlaygroundProcess(env: Record<string, string> = {}, timeoutMs = 30_000): Promise<StartedPlayground> {
  const started = performance.now();
  // Its own process group, so that stop() can signal the group as a terminal's Ctrl-C does.
  const child = spawn('npm', ['start', '--silent'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm start was not ready within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const check = () => {
      const match = /ready in [\d.]+ s: (http:\/\/\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      ready = true;
      child.stdout!.off('data', check);
      resolve({
        child,
        url: match[1]!,
        readySeconds: (performance.now() - started) / 1000,
        output: () => output,
        async stop() {
          process.kill(-child.pid!, 'SIGINT');
          await exited;
          await waitUntilClosed(match[1]!);
        },
      });
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}) before it was ready:\n${output}`));
    });
  });
}

/** Resolves when nothing answers at `url` any more; throws if something still does after 5 s. */
async function waitUntilClosed(url: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(500) });
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} still answers after Ctrl-C`);
}
