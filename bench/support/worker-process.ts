/**
 * The bot's worker in a Node process of its own, as Lambda runs it: the production bundle under
 * plain Node, invoked over IPC with a Lambda-like context, so a bench can read its peak RSS without
 * counting the local AWS, Slack and DynamoDB that stay in the bench's process.
 */
import { fork, type ChildProcess } from 'node:child_process';

/** Runs in the child: the bundled worker handler, invoked over IPC with a Lambda-like context. */
export const RUNNER_MJS = `
import { pathToFileURL } from 'node:url';
const { handler } = await import(pathToFileURL(process.argv[2]).href);
// Where the memory is when RSS is highest (sampled every 50 ms): says what a peak is made of.
let top = process.memoryUsage();
setInterval(() => {
  const now = process.memoryUsage();
  if (now.rss > top.rss) top = now;
}, 50).unref();
process.on('message', async (m) => {
  if (m.type === 'rss') return process.send({ type: 'rss', id: m.id, maxRssKiB: process.resourceUsage().maxRSS, top });
  const deadline = Date.now() + m.remainingMs;
  const context = { ...m.context, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) };
  try {
    await handler(m.event, context);
    process.send({ type: 'done', id: m.id });
  } catch (error) {
    process.send({ type: 'done', id: m.id, error: String(error?.stack ?? error) });
  }
});
// Orphaned (the bench was stopped): nothing more will come.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
`;

interface ChildMessage {
  type: 'ready' | 'done' | 'rss';
  id?: number;
  error?: string;
  maxRssKiB?: number;
  top?: NodeJS.MemoryUsage;
}

/** The worker in its own Node process; request/response over the IPC channel. */
export class WorkerProcess {
  private nextId = 0;
  private readonly waiting = new Map<number, (m: ChildMessage) => void>();
  private exited?: string;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: ChildMessage) => {
      if (m.id !== undefined) this.waiting.get(m.id)?.(m);
    });
    child.on('exit', (code, signal) => {
      this.exited = `the worker process exited (${signal ?? code})`;
      for (const resolve of this.waiting.values()) resolve({ type: 'done', error: this.exited });
    });
  }

  static async start(runner: string, bundle: string): Promise<WorkerProcess> {
    // execArgv [] keeps tsx's loader out: the child runs plain JavaScript, as Lambda does.
    const child = fork(runner, [bundle], { execArgv: [], env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', (m: ChildMessage) => (m.type === 'ready' ? resolve() : reject(new Error(`unexpected ${m.type}`))));
      child.once('exit', (code) => reject(new Error(`the worker process exited during start (${code})`)));
    });
    return new WorkerProcess(child);
  }

  private request(message: Record<string, unknown>): Promise<ChildMessage> {
    if (this.exited) return Promise.resolve({ type: 'done', error: this.exited });
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, (m) => {
        this.waiting.delete(id);
        resolve(m);
      });
      this.child.send({ ...message, id });
    });
  }

  async invoke(event: unknown, context: Record<string, unknown>, remainingMs: number): Promise<void> {
    const answer = await this.request({ type: 'invoke', event, context, remainingMs });
    if (answer.error) throw new Error(answer.error);
  }

  /** Peak RSS of the worker process over its life so far, and what the heaviest sample held. */
  async memory(): Promise<{ peakMiB: number; top: NodeJS.MemoryUsage }> {
    const answer = await this.request({ type: 'rss' });
    return { peakMiB: answer.maxRssKiB! / 1024, top: answer.top! };
  }

  stop(): void {
    if (!this.exited) this.child.kill();
  }
}
