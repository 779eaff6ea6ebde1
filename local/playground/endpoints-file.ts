/**
 * How a second process finds the running playground: `npm start` writes its page URL and the
 * world's environment (the emulated AWS endpoint and its credentials, DynamoDB, the registries, the
 * local Slack) to a small JSON file once it is ready, and removes it when it exits;
 * `npx ecs-chatops verify web --local` reads it. One file per checkout, under the OS temp dir (so
 * nothing appears in the repository), or where ECS_CHATOPS_LOCAL_FILE says (tests).
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface PlaygroundEndpoints {
  pid: number;
  /** The page, e.g. http://127.0.0.1:3000/. */
  url: string;
  /** The world's environment: AWS_ENDPOINT_URL, AWS_REGION, the emulator's credentials, … */
  env: Record<string, string>;
  /** The configuration file the playground's bot reads (absolute). */
  config: string;
}

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function playgroundEndpointsFile(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ECS_CHATOPS_LOCAL_FILE) return env.ECS_CHATOPS_LOCAL_FILE;
  const checkout = createHash('sha256').update(PROJECT_ROOT).digest('hex').slice(0, 12);
  return join(tmpdir(), `ecs-chatops-playground-${checkout}.json`);
}

/** The running playground's endpoints, or undefined when there is no file or its process has gone. */
export function readPlaygroundEndpoints(path = playgroundEndpointsFile()): PlaygroundEndpoints | undefined {
  let found: Partial<PlaygroundEndpoints>;
  try {
    found = JSON.parse(readFileSync(path, 'utf8')) as Partial<PlaygroundEndpoints>;
  } catch {
    return undefined;
  }
  if (typeof found.pid !== 'number' || typeof found.url !== 'string' || typeof found.env !== 'object' || !isAlive(found.pid)) return undefined;
  return found as PlaygroundEndpoints;
}

/**
 * Publishes this process's playground; the file goes when the process exits (Ctrl-C ends in
 * process.exit). A playground already announced by another live process is left in place.
 */
export function announcePlayground(playground: Pick<PlaygroundEndpoints, 'url' | 'env'>): void {
  const path = playgroundEndpointsFile();
  const other = readPlaygroundEndpoints(path);
  if (other && other.pid !== process.pid) return;
  const endpoints: PlaygroundEndpoints = { pid: process.pid, ...playground, config: resolve(process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml') };
  writeFileSync(`${path}.${process.pid}`, `${JSON.stringify(endpoints, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path}.${process.pid}`, path); // whole or absent for a reader
  process.once('exit', () => {
    if (readPlaygroundEndpoints(path)?.pid === process.pid) rmSync(path, { force: true });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
