import { afterAll, beforeAll } from 'vitest';
import { startWorld, type World } from '../../local/world';
import type { StateStore } from '../../src/platform/state';
import type { RunWorkflowInput } from '../../src/workflows/inputs';
import type { RunWorkflowResult } from '../../src/workflows/run-kit';
import { handOverRun } from './hand-over';

/** Type only: the package itself is loaded after the world starts. */
type Runner = import('@aws/durable-execution-sdk-js-testing').LocalDurableTestRunner<RunWorkflowResult>;

/** What tests that drive the run workflow directly (scripts and jobs) share. */
export interface RunWorkflowWorld {
  world: World;
  state: StateStore;
  /** handOverRun with this world's Slack client, state table and audit. */
  handOver: (run: Parameters<typeof handOverRun>[1]) => Promise<RunWorkflowInput>;
  /** The run workflow run locally by the durable SDK's testing package (skipped time when the world has it). */
  run: (payload: RunWorkflowInput) => ReturnType<Runner['run']>;
  /** The thread's text replies in #ops (file shares have none). */
  replies: (ts: string) => string[];
}

/** A world started before the file's tests (then `setup`), closed after them: `current()` reads what they share. */
export function useRunWorkflowWorld(options: Parameters<typeof startWorld>[0], setup?: (world: World) => void): () => RunWorkflowWorld {
  let shared: RunWorkflowWorld | undefined;
  beforeAll(async () => {
    const world = await startWorld(options);
    setup?.(world);
    // Loaded after startWorld: the package reads LOG_LEVEL on load and rejects the bot's `silent`.
    const { LocalDurableTestRunner } = await import('@aws/durable-execution-sdk-js-testing');
    const { handler } = await import('../../src/handlers/run-workflow');
    const { dynamoState: state } = await import('../../src/platform/state');
    const audit = (await import('../../src/audit/audit')).dynamoAudit(0);
    const { getSlackSecrets } = await import('../../src/platform/secrets');
    const { createSlackClient } = await import('../../src/slack/client');
    const slack = createSlackClient((await getSlackSecrets()).botToken);
    shared = {
      world,
      state,
      handOver: (run) => handOverRun({ slack, state, audit, teamId: world.teamId }, run),
      run: (payload) => new LocalDurableTestRunner<RunWorkflowResult>({ handlerFunction: handler }).run({ payload }),
      replies: (ts) =>
        world.slack
          .replies('C0OPS', ts)
          .map((r) => r.text)
          .filter(Boolean),
    };
  });
  afterAll(async () => {
    await shared?.world.close();
  });
  return () => shared!;
}
