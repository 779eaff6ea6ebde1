import { describe, expect, it } from 'vitest';
import { PLAYGROUND_ECS_TIMINGS } from '../../local/playground/server';
import { usePlaygroundInChromium } from '../support/browser';

/** `/ecs job` on the playground page in real headless Chromium: the seeded jobs as people see them. */
// The playground's task steps, a little shorter: three jobs' lives in well under a minute.
const ui = usePlaygroundInChromium({ playground: { ecsTimings: { ...PLAYGROUND_ECS_TIMINGS, provisionMs: 2_000, pullMs: 2_000, stopMs: 2_000 } } });
const { type } = ui;

/** The parent message of `command` once its outcome is shown, and its thread's text. */
async function finished(command: string): Promise<{ parent: string; thread: string }> {
  const parent = ui.newest(`ran ${command}`);
  await expect.poll(() => parent.textContent(), { timeout: 40_000 }).toMatch(/✅|❌/);
  const feed = await ui.openThread(parent);
  await expect.poll(() => feed.textContent(), { timeout: 10_000 }).toMatch(/succeeded|failed/);
  return { parent: (await parent.textContent()) ?? '', thread: (await feed.textContent()) ?? '' };
}

describe('/ecs job in Chromium', () => {
  it('migrate succeeds: its log lines in the thread, exit code 0', async () => {
    await type('/ecs job migrate');
    const { parent, thread } = await finished('/ecs job migrate');
    expect(parent).toContain('✅');
    expect(thread).toContain('PROVISIONING → PENDING → RUNNING');
    expect(thread).toContain('migrate: acquired advisory lock');
    expect(thread).toContain('== 0042_backfill_totals: migrated');
    expect(thread).toContain('app: exit code 0');
    expect(thread).toContain('succeeded');
  }, 60_000);

  it('migrate-broken fails with its exit code', async () => {
    await type('/ecs job migrate-broken');
    const { parent, thread } = await finished('/ecs job migrate-broken');
    expect(parent).toContain('❌');
    expect(thread).toContain('PG::UndefinedColumn');
    expect(thread).toContain('app: exit code 2');
    expect(thread).toContain('failed');
  }, 60_000);

  it('reindex never starts: reported as a failure with ECS’s reason, no exit code', async () => {
    await type('/ecs job reindex');
    const { parent, thread } = await finished('/ecs job reindex');
    expect(parent).toContain('❌');
    expect(thread).toContain('the task never started: CannotPullContainerError');
    expect(thread).toContain('app: no exit code');
    expect(thread).toContain('TaskFailedToStart');
  }, 60_000);
});
