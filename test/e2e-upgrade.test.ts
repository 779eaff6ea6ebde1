import type { DurableLambdaHandler } from '@aws/durable-execution-sdk-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_WORKFLOW_FUNCTION, startWorld, type World } from '../local/world';

/**
 * Upgrading the bot never breaks work in flight: the workflows are invoked through the `durable`
 * alias, so an execution runs to its end on the version it started on. A deploy waits for its
 * approval, the bot is upgraded (a new version, the alias moved), the approval completes the deploy
 * on the old code; a new request runs on the new code.
 */
let world: World;
beforeAll(async () => {
  world = await startWorld({ durableSkipTime: true });
});
afterAll(async () => {
  await world?.close();
});

const CHANNEL = 'C0OPS';
const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
const ended = (ts: string) => world.slack.waitFor(() => /^(✅|❌|⚠️|🚫)/u.test(world.slack.message(CHANNEL, ts)?.text ?? '') || undefined, 60_000);
const workflowRuns = () => world.aws.lambda.invocations.filter((i) => i.functionName === DEPLOY_WORKFLOW_FUNCTION);

async function requestDeploy(text: string): Promise<string> {
  const before = new Set(parents().map((m) => m.ts));
  await world.slash('U0ALICE', text);
  return (await world.slack.waitFor(() => parents().find((m) => !before.has(m.ts) && m.text.includes('React :white_check_mark: to approve')), 20_000)).ts;
}

describe('upgrading the bot while a deploy waits for its approval', () => {
  it('finishes the waiting deploy on its old version and runs a new request on the new one', async () => {
    const first = await requestDeploy('deploy web v1.5.0');
    expect(workflowRuns().map((r) => r.executedVersion)).toEqual(['1']);

    // The bot is redeployed: its new deploy workflow marks every invocation it serves.
    const servedByNewCode: string[] = [];
    const version = world.upgradeWorkflow(
      'deploy',
      (current): DurableLambdaHandler =>
        (async (event: unknown, context: unknown) => {
          servedByNewCode.push(JSON.stringify(event).slice(0, 80));
          return current(event as never, context as never);
        }) as DurableLambdaHandler,
    );
    expect(version).toBe('2');

    await world.react('U0BOB', CHANNEL, first, 'white_check_mark');
    await ended(first);
    expect(world.slack.message(CHANNEL, first)!.text).toMatch(/^✅/);
    // Every replay of the waiting execution, to its end, ran the code it started with.
    expect(servedByNewCode).toEqual([]);

    const second = await requestDeploy('deploy web v1.4.2');
    expect(workflowRuns().map((r) => r.executedVersion)).toEqual(['1', '2']);
    await world.react('U0BOB', CHANNEL, second, 'white_check_mark');
    await ended(second);
    expect(servedByNewCode.length).toBeGreaterThan(0);
  }, 120_000);
});
