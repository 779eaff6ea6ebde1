import { describe, expect, it } from 'vitest';
import { SAMPLE } from '../../local/aws';
import { codeDeployState } from '../../local/aws/codedeploy';
import { usePlaygroundInChromium } from '../support/browser';

/**
 * A deploy of the CodeDeploy service `legacy` on the playground page, in real headless Chromium:
 * the request names the deployment group and its config, bob approves with the ✅ pill, and the
 * thread follows the CodeDeploy deployment (lifecycle events, traffic) to Succeeded. The world runs
 * in real time, so the service's owner has made it quick: tasks start and pass health checks in
 * seconds, and the group keeps the original task set no minutes after the shift.
 */
const ui = usePlaygroundInChromium();

describe('a CodeDeploy deploy in Chromium', () => {
  it('alice asks to deploy legacy v3.3.0, bob approves, the thread tells the CodeDeploy deployment to Succeeded', async () => {
    const state = ui.world.aws.state;
    const timings = { ...state.ecsTimings };
    const group = codeDeployState(state.region(SAMPLE.accountId, SAMPLE.region)).groups.get('legacy/legacy')!;
    const termination = group.blueGreenDeploymentConfiguration.terminateBlueInstancesOnDeploymentSuccess;
    const wait = termination.terminationWaitTimeInMinutes;
    Object.assign(state.ecsTimings, { provisionMs: 2_000, pullMs: 2_000, healthyMs: 2_000, trafficShiftMs: 2_000 });
    termination.terminationWaitTimeInMinutes = 0;
    let ts: string | undefined;
    let approved = false;
    try {
      await ui.type('/ecs deploy legacy v3.3.0');
      const request = ui.page.getByTestId('message').filter({ hasText: 'asks to deploy to legacy' }).last();
      const text = request.locator('.text');
      await expect.poll(() => text.textContent(), { timeout: 15_000 }).toContain('React ✅ to approve or ❌ to reject');
      expect(await text.textContent()).toContain(
        'CodeDeploy blue/green through deployment group legacy/legacy: CodeDeployDefault.ECSAllAtOnce (all traffic at once)',
      );
      ts = (await request.getAttribute('data-ts'))!;
      await ui.page.getByTestId('user-switch').selectOption('U0BOB');
      const approve = request.locator('.reaction', { hasText: '✅' });
      await expect.poll(() => approve.getAttribute('class')).not.toContain('mine');
      await approve.click();
      approved = true;
      await expect.poll(() => text.textContent(), { timeout: 90_000, interval: 250 }).toMatch(/^✅ .*legacy:\d+ is live after/s);
      await request.getByTestId('replies').click();
      const thread = ui.page.getByTestId('thread-feed');
      await expect.poll(() => thread.textContent(), { timeout: 10_000 }).toMatch(/CodeDeploy deployment d-[A-Z0-9]{9} created at .* through legacy\/legacy/);
      const told = (await thread.textContent()) ?? '';
      expect(told).toMatch(/CodeDeploy deployment d-[A-Z0-9]{9}: Succeeded/);
      expect(told).toContain('✅ BeforeInstall · ✅ Install · ✅ AfterInstall');
      expect(told).toContain('green (replacement): 2/2 running, 100% of production traffic');
      expect(told).not.toContain('UpdateService called');
    } finally {
      Object.assign(state.ecsTimings, timings);
      termination.terminationWaitTimeInMinutes = wait;
      await ui.page.getByTestId('user-switch').selectOption('U0ALICE');
      // Never leave a request waiting: its workflow would hold ui.world.close() for 30 minutes.
      if (ts && !approved) await ui.world.react('U0ALICE', 'C0OPS', ts, 'x');
    }
  }, 120_000);
});
