import { describe, expect, it } from 'vitest';
import { usePlaygroundInChromium } from '../support/browser';

/**
 * `/ecs scale` on the playground page in real headless Chromium: web's autoscaling range (2..6)
 * refuses 9 privately; 4 is asked for, bob approves with the ✅ pill, the thread follows the tasks
 * until web runs 4 and is steady; 8 with `--adjust-autoscaling` widens the range first.
 */
const ui = usePlaygroundInChromium();
const { type } = ui;

/** Bob approves the request for `headline`; resolves with the parent's text once it shows the outcome, and the thread. */
async function approvedAndFinished(headline: string): Promise<{ parent: string; thread: string }> {
  const request = ui.newest(headline);
  const text = request.locator('.text');
  await expect.poll(() => text.textContent(), { timeout: 15_000 }).toContain('React ✅ to approve or ❌ to reject');
  const ts = (await request.getAttribute('data-ts'))!;
  let approved = false;
  try {
    await ui.page.getByTestId('user-switch').selectOption('U0BOB');
    const approve = request.locator('.reaction', { hasText: '✅' });
    await expect.poll(() => approve.textContent()).toBe('✅ 1');
    await approve.click();
    await expect.poll(() => text.textContent(), { timeout: 10_000 }).toContain('👍 Approved by @bob: scaling, progress in the thread.');
    approved = true;
    await expect.poll(() => text.textContent(), { timeout: 60_000, interval: 250 }).toMatch(/^✅/);
    const thread = await ui.openThread(request);
    await expect.poll(() => thread.textContent(), { timeout: 10_000 }).toContain('is steady after');
    return { parent: (await text.textContent()) ?? '', thread: (await thread.textContent()) ?? '' };
  } finally {
    await ui.page.getByTestId('user-switch').selectOption('U0ALICE');
    // Never leave a request waiting: its workflow would hold ui.world.close() for 30 minutes.
    if (!approved) await ui.world.react('U0ALICE', 'C0OPS', ts, 'x');
  }
}

describe('/ecs scale in Chromium', () => {
  it('outside the autoscaling range: refused privately with the range and the way out', async () => {
    await type('/ecs scale web 9');
    await expect
      .poll(() => ui.page.getByTestId('ephemeral').last().textContent(), { timeout: 15_000 })
      .toContain('9 is outside the autoscaling range of web (min 2, max 6)');
    expect(await ui.page.getByTestId('message').filter({ hasText: 'asks to scale' }).count()).toBe(0);
  }, 30_000);

  it('within the range: bob approves, the thread follows web to 4 tasks, steady', async () => {
    await type('/ecs scale web 4');
    const { parent, thread } = await approvedAndFinished('asks to scale web from 2 to 4 tasks');
    expect(parent).toMatch(/approved by @bob.*desired count 2 → 4.*autoscaling range 2\.\.6 \(unchanged\).*web runs 4 tasks and is steady/s);
    expect(thread).toContain('UpdateService called');
    expect(thread).toMatch(/scaled web:\d+: 4\/4 running/);
  }, 90_000);

  it('--adjust-autoscaling: the range is widened to 2..8, then web runs 8', async () => {
    await type('/ecs scale web 8 --adjust-autoscaling');
    const { parent, thread } = await approvedAndFinished('asks to scale web from 4 to 8 tasks');
    expect(parent).toContain('autoscaling range 2..6 → 2..8');
    expect(thread).toContain('🎚️ Autoscaling range 2..6 → 2..8');
    expect(parent).toContain('web runs 8 tasks and is steady');
  }, 90_000);
});
