/**
 * What bench/exec.ts and bench/logs.ts share: a local world whose worker is the production bundle
 * (built here with esbuild, as `npm run build` does) under plain Node in a child process
 * (./worker-process.ts), slash commands timed to the worker's end, and the cleanup and `# FAIL`
 * lines after. The world and the config are imported when used, after LOG_LEVEL is set.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SlackMessage } from '../../local/slack/server';
import type { World } from '../../local/world';
import type { Config } from '../../src/config/schema';
import { RUNNER_MJS, WorkerProcess } from './worker-process';

export interface WorkerWorld {
  world: World;
  worker: WorkerProcess;
  /** The bench's scratch folder, removed at the end. */
  work: string;
  /** What the bench found wrong: printed as `# FAIL …` at the end, and the process fails. */
  failures: string[];
  /** The top-level messages of #ops so far. */
  parents(): SlackMessage[];
  /** `/ecs <text>` from alice, to the worker's end: its ✅ parent message and the seconds it took (anything else throws). */
  slash(text: string): Promise<{ parent: SlackMessage; seconds: number }>;
}

export type WorldOptions = NonNullable<Parameters<typeof import('../../local/world').startWorld>[0]>;

/**
 * Runs `fn` in a world as above. `configure` makes the configuration the worker bundle is built
 * with and the ingress (in this process) runs with, from the loaded one (kept unless given);
 * `prepare` writes what the world needs into the scratch folder and returns the world's options.
 */
export async function withWorkerWorld(
  name: string,
  options: { configure?: (loaded: Config) => Promise<Config>; prepare?: (work: string) => WorldOptions },
  fn: (bench: WorkerWorld) => Promise<void>,
): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const work = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const bundleDir = join(work, 'worker');
  const runner = join(work, 'runner.mjs');
  let world: World | undefined;
  let worker: WorkerProcess | undefined;
  const failures: string[] = [];
  try {
    const worldOptions = options.prepare?.(work);
    writeFileSync(runner, RUNNER_MJS);
    const [{ startWorld, WORKER_FUNCTION }, { getConfig, setConfig }, { buildBundle }] = await Promise.all([
      import('../../local/world'),
      import('../../src/config/load'),
      import('../../scripts/build'),
    ]);
    let config = getConfig();
    if (options.configure) {
      config = await options.configure(config);
      setConfig(config); // the ingress, in this process
    }
    await buildBundle('src/handlers/worker.ts', bundleDir, config); // the worker, with the same configuration
    const started = await startWorld(worldOptions);
    world = started;
    worker = await WorkerProcess.start(runner, join(bundleDir, 'index.mjs'));
    const w = worker;
    world.aws.lambda.register(WORKER_FUNCTION, {
      timeoutMs: 900_000,
      handler: (event, context) => {
        const { getRemainingTimeInMillis, ...fields } = context;
        return w.invoke(event, { ...fields }, getRemainingTimeInMillis());
      },
    });
    const slack = world.slack;
    const parents = () => slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts);
    const slash = async (text: string) => {
      const before = parents().length;
      const t0 = Date.now();
      const res = await started.slash('U0ALICE', text);
      if (res.statusCode !== 200) throw new Error(`/ecs ${text}: HTTP ${res.statusCode}`);
      await started.idle();
      const seconds = (Date.now() - t0) / 1000;
      const parent = parents()
        .slice(before)
        .find((m) => m.text.includes(`/ecs ${text}`));
      if (!parent) throw new Error(`/ecs ${text}: no parent message (answer: ${res.body})`);
      if (!parent.text.startsWith('✅'))
        throw new Error(
          `/ecs ${text} did not succeed: ${parent.text}\n${slack
            .replies('C0OPS', parent.ts)
            .map((r) => r.text)
            .join('\n')}`,
        );
      return { parent, seconds };
    };
    await fn({ world, worker, work, failures, parents, slash });
  } finally {
    worker?.stop();
    await world?.close();
    rmSync(work, { recursive: true, force: true });
  }
  if (failures.length) {
    for (const f of failures) console.log(`# FAIL ${f}`);
    process.exitCode = 1;
  }
}

/** Bytes as whole MiB, for the `#` lines on what the worker's heaviest memory sample held. */
export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
