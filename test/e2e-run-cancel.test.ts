import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../local/world';

/**
 * Cancelling a run the worker follows itself (not detached): the playground's configuration with
 * slow.sh limited to 5 minutes, so it runs inline in the worker's exec session.
 */
let world: World;
const dir = mkdtempSync(join(tmpdir(), 'e2e-run-cancel-'));
const sharedConfig = process.env.ECS_CHATOPS_CONFIG;
beforeAll(async () => {
  const yaml = readFileSync('ecs-chatops.config.yaml', 'utf8');
  const inline = yaml.replace(/(\n {2}slow\.sh:\n(?: {4}.*\n)*? {4}timeoutSeconds: )2400/, '$1300');
  expect(inline).not.toBe(yaml);
  writeFileSync(join(dir, 'config.yaml'), inline);
  process.env.ECS_CHATOPS_CONFIG = join(dir, 'config.yaml');
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
  if (sharedConfig === undefined) delete process.env.ECS_CHATOPS_CONFIG;
  else process.env.ECS_CHATOPS_CONFIG = sharedConfig;
  rmSync(dir, { recursive: true, force: true });
});

const steps = (text: string) => (text.match(/step \d+ of 30 done/g) ?? []).length;

describe('/ecs cancel of a run in the worker', () => {
  it('stops it promptly: Ctrl-C, a short grace, nothing shown after the stop, the end says who and how', async () => {
    await world.slash('U0ALICE', 'run slow.sh 30');
    const running = await world.slack.waitFor(
      () => world.slack.workspace.messages.C0OPS!.find((m) => m.text.startsWith('▶️ Running `slow.sh 30`') && steps(m.text) >= 1),
      15_000,
    );
    // The living message of a run in the worker: no "detached" note, the latest bar state last.
    expect(running.text).not.toContain('detached');
    const runId = /run `([a-z0-9]{6})`/.exec(running.text)![1]!;
    const answer = JSON.parse((await world.slash('U0ALICE', `cancel ${runId}`)).body) as { text: string };
    expect(answer.text).toContain(`Cancelling run \`${runId}\``);
    expect(answer.text).toContain('the script gets Ctrl-C now');
    // Stored once the command is answered: what the living message shows then.
    const shownAtCancel = steps(world.slack.message('C0OPS', running.ts)!.text);
    await world.idle();

    const parent = world.slack.message('C0OPS', running.threadTs!)!;
    expect(parent.text).toMatch(/^🚫 .*slow.sh 30: cancelled after/);
    const thread = world.slack.replies('C0OPS', parent.ts);
    expect(thread).toHaveLength(2);
    expect(thread[1]!.text).toMatch(/^🚫 Cancelled by <@U0ALICE> after [\d.]+ s; the script was interrupted/);
    expect(thread[0]!.text).toMatch(/· cancelled after/);
    expect(JSON.stringify(thread[0]!.blocks ?? [])).not.toContain('ecs:cancel');
    // The cancel is seen within 0.5 s and the script stops on Ctrl-C: it prints at most one more
    // of its once-a-second lines (plus one the 1 s edit interval may not have shown at the cancel).
    // Polling every 2 s with a 5 s grace, as before, let it print up to three.
    expect(steps(thread[0]!.text) - shownAtCancel).toBeLessThanOrEqual(2);
    expect(thread[0]!.text).not.toContain('job finished');
  }, 40_000);
});
