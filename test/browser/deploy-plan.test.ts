import { describe, expect, it } from 'vitest';
import { usePlaygroundInChromium } from '../support/browser';
import { deployFromCi } from '../support/ci-deploy';

/** A deploy's approvals are for the plan people saw: in the playground, in Chromium. */
const ui = usePlaygroundInChromium();

describe('deploy approvals bound to the plan, in Chromium', () => {
  it('CI deploys web between alice’s request and bob’s ✅: the approval is void, nothing is deployed, the thread says what moved', async () => {
    await ui.type('/ecs deploy web v1.5.0');
    const request = ui.newest('asks to deploy to web');
    const text = request.locator('.text');
    await expect.poll(() => text.textContent(), { timeout: 15_000 }).toContain('React ✅ to approve or ❌ to reject');
    const plan = /Plan ([0-9a-f]{12}) · rolling update/.exec((await text.textContent())!)?.[1];
    expect(plan, (await text.textContent())!).toBeDefined();
    const ts = (await request.getAttribute('data-ts'))!;
    let decided = false;
    try {
      const ciRevision = await deployFromCi({ cluster: 'main', service: 'web' });
      await ui.page.getByTestId('user-switch').selectOption('U0BOB');
      const approve = request.locator('.reaction', { hasText: '✅' });
      await expect.poll(() => approve.getAttribute('class')).not.toContain('mine');
      await approve.click();
      decided = true;
      await expect.poll(() => text.textContent(), { timeout: 30_000 }).toMatch(/^❌ .*the plan changed since it was approved/s);
      const thread = await ui.openThread(request);
      await expect
        .poll(() => thread.textContent(), { timeout: 10_000 })
        .toContain(`The plan changed since it was approved (plan ${plan}): the service now runs ${ciRevision.split('/').at(-1)}`);
      expect(await thread.textContent()).toContain('so they are void and nothing was deployed');
      expect(await thread.textContent()).not.toContain('UpdateService called');
    } finally {
      // Never leave a request waiting: its workflow would hold ui.world.close() for 30 minutes.
      if (!decided) await ui.world.react('U0ALICE', 'C0OPS', ts, 'x');
    }
  }, 90_000);
});
