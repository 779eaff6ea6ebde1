import type { Locator } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { PLAYGROUND_ECS_TIMINGS } from '../../local/playground/server';
import { usePlaygroundInChromium } from '../support/browser';

/**
 * ECS-native deploys on the playground page in real headless Chromium: `web-canary` (CANARY 10% for
 * 5 min, bake 15 min) told stage by stage in the thread's living message, and `web-bg` (BLUE_GREEN,
 * a PAUSE hook at POST_TEST_TRAFFIC_SHIFT, one of its `deploy.gates`) paused at its gate, which bob
 * approves or rejects with a pill on the gate message. The emulator's clock skips the canary's and
 * the bake's minutes once the page has shown the stage that waits them; everything else runs at the
 * playground's pace, in real time.
 */
// Each traffic shift in 5 s instead of 15 s: three deploys in well under three minutes.
const ui = usePlaygroundInChromium({ playground: { ecsTimings: { ...PLAYGROUND_ECS_TIMINGS, trafficShiftMs: 5_000 } } });
const MIN = 60_000;

/** Alice's deploy request for `target`, approved by bob; its parent message and its open thread. */
async function approvedDeploy(command: string, target: string): Promise<{ parent: Locator; plan: string; thread: Locator }> {
  await ui.type(command);
  const parent = ui.newest(`asks to deploy to ${target}`);
  await expect.poll(() => parent.locator('.text').textContent(), { timeout: 15_000 }).toContain('React ✅ to approve or ❌ to reject');
  const plan = (await parent.locator('.text').textContent()) ?? '';
  await ui.reactAs('U0BOB', parent, '✅');
  await expect.poll(() => parent.locator('.text').textContent(), { timeout: 10_000 }).toContain('Approved by @bob');
  return { parent, plan, thread: await ui.openThread(parent) };
}

/**
 * Follows the rollout's living message in the thread until its text matches `until`, keeping every
 * text it showed in `seen` (the message is edited in place: each stage is only on screen for a while).
 */
async function follow(thread: Locator, until: RegExp, seen: string[], timeout = 60_000): Promise<string> {
  const living = thread.getByTestId('message').filter({ hasText: 'UpdateService called' });
  let text = '';
  await expect
    .poll(
      async () => {
        text = (await living.count()) ? ((await living.locator('.text').textContent()) ?? '') : '';
        if (text && seen.at(-1) !== text) seen.push(text);
        return text;
      },
      { timeout, interval: 250 },
    )
    .toMatch(until);
  return text;
}

const ended = (parent: Locator) => expect.poll(() => parent.locator('.text').textContent(), { timeout: 60_000, interval: 250 });

describe('ECS-native deploys in Chromium', () => {
  it('a canary deploy of web-canary is told stage by stage: 10% of production, then 100% and the bake, then SUCCESSFUL', async () => {
    const { parent, plan, thread } = await approvedDeploy('/ecs deploy web-canary v1.5.0', 'web-canary');
    expect(plan).toContain('canary 10% for 5 min, then 100%; bake 15 min');
    const seen: string[] = [];
    await follow(thread, /stage PRE_SCALE_UP|stage SCALE_UP/, seen);
    // The canary: 10% of production traffic on the new revision, 90% on the previous one, for 5 minutes.
    await follow(
      thread,
      /stage PRODUCTION_TRAFFIC_SHIFT[\s\S]*new web:\d+: 2\/2 running, production 10%[\s\S]*previous web:\d+: 2\/2 running, production 90%/,
      seen,
    );
    ui.world.aws.clock.advance(5 * MIN + 15_000);
    await follow(thread, /stage BAKE_TIME \(15 min\)[\s\S]*new web:\d+: 2\/2 running, production 100%/, seen);
    ui.world.aws.clock.advance(15 * MIN);
    await follow(thread, /✅ successful/, seen);
    await ended(parent).toMatch(/^✅ .*web:\d+ is live after/s);

    // The stages as they passed, in order (those the test held on screen; a 5 s shift may fall between two polls).
    const held = ['SCALE_UP', 'PRODUCTION_TRAFFIC_SHIFT', 'BAKE_TIME'];
    const stages = seen.map((t) => /stage ([A-Z_]+)/.exec(t)?.[1] ?? '').filter((s) => held.includes(s));
    expect(
      stages.filter((s, i) => s !== stages[i - 1]),
      seen.join('\n---\n'),
    ).toEqual(held);
    expect(await thread.getByTestId('file').count()).toBe(1);
  }, 120_000);

  it('a blue/green deploy of web-bg pauses at its gate, shows what runs on green, and goes on when bob approves with ✅', async () => {
    const continued = () => ui.world.aws.calls.filter((c) => c.action === 'ContinueServiceDeployment' && c.status === 200);
    const before = continued().length;
    const { parent, thread } = await approvedDeploy('/ecs deploy web-bg v1.5.0', 'web-bg');
    const gate = thread.getByTestId('message').filter({ hasText: 'is paused at' });
    await expect.poll(() => gate.count(), { timeout: 60_000, interval: 250 }).toBe(1);
    await expect.poll(() => gate.locator('.text').textContent()).toContain('React ✅ to approve');
    const asked = (await gate.locator('.text').textContent()) ?? '';
    expect(asked).toMatch(
      /web-bg is paused at POST_TEST_TRAFFIC_SHIFT, a gate of deploy \S+: green runs the new revision web:\d+ beside blue with 100% of test traffic/,
    );
    expect(asked).toMatch(/green \(new\) web:\d+: 2\/2 running, production 0%, test 100%/);
    expect(asked).toMatch(/blue \(running\) web:\d+: 2\/2 running, production 100%/);
    expect(asked).toContain('test listener rule: arn:aws:elasticloadbalancing:');
    expect(continued()).toHaveLength(before);

    await ui.reactAs('U0BOB', gate, '✅');
    await expect.poll(() => gate.locator('.text').textContent(), { timeout: 10_000 }).toContain('Approved by @bob');
    await expect.poll(() => thread.textContent(), { timeout: 15_000 }).toContain('ContinueServiceDeployment CONTINUE sent');
    expect(
      continued()
        .slice(before)
        .map((c) => c.params.action),
    ).toEqual(['CONTINUE']);
    const seen: string[] = [];
    await follow(thread, /stage BAKE_TIME \(15 min\)[\s\S]*new web:\d+: 2\/2 running, production 100%/, seen);
    ui.world.aws.clock.advance(15 * MIN);
    await ended(parent).toMatch(/^✅ .*web:\d+ is live after/s);
    expect(await thread.textContent()).toContain('✅ successful');
  }, 120_000);

  it('the same gate rejected by bob with ❌: ContinueServiceDeployment ROLLBACK, ECS rolls back, and the thread says so', async () => {
    const continued = () => ui.world.aws.calls.filter((c) => c.action === 'ContinueServiceDeployment' && c.status === 200);
    const before = continued().length;
    const { parent, thread } = await approvedDeploy('/ecs deploy web-bg v1.4.1', 'web-bg');
    const gate = thread.getByTestId('message').filter({ hasText: 'is paused at' });
    await expect.poll(() => gate.locator('.text').textContent(), { timeout: 60_000, interval: 250 }).toContain('React ✅ to approve');

    await ui.reactAs('U0BOB', gate, '❌');
    await ended(parent).toMatch(/^❌ .*rejected at the POST_TEST_TRAFFIC_SHIFT gate by @bob; rolled back to web:\d+/s);
    expect(
      continued()
        .slice(before)
        .map((c) => c.params.action),
    ).toEqual(['ROLLBACK']);
    const said = (await thread.textContent()) ?? '';
    expect(said).toContain('ContinueServiceDeployment ROLLBACK sent: ECS rolls web-bg back to web:');
    expect(said).toMatch(/Rolled back by ECS \(ROLLBACK_SUCCESSFUL\): web-bg runs web:\d+ again/);
    expect(ui.world.aws.calls.filter((c) => c.action === 'StopServiceDeployment')).toHaveLength(0);
  }, 120_000);
});
