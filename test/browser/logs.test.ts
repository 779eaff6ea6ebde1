import { describe, expect, it } from 'vitest';
import { usePlaygroundInChromium } from '../support/browser';

/**
 * `/ecs logs` in the playground, in real headless Chromium: web's tasks have been logging requests
 * (and some ERRORs) for the last minutes (local/aws/service-traffic.ts), and the thread shows them.
 */
const ui = usePlaygroundInChromium({ newPage: 'once' });

async function threadOf(command: string): Promise<string> {
  const parent = await ui.command(command);
  await expect.poll(() => parent.textContent(), { timeout: 15_000 }).toContain('✅');
  const thread = await ui.openThread(parent);
  await expect.poll(() => thread.textContent()).toContain('📄');
  return (await thread.textContent()) ?? '';
}

describe('/ecs logs in the playground', () => {
  it('/ecs logs web --grep ERROR shows the ERROR lines of web’s tasks, and only them', async () => {
    const text = await threadOf('/ecs logs web --grep ERROR');
    expect(text).toMatch(/📄 \d+ lines from app in all tasks of web \(web:42\) in the last 15 min matching ERROR/);
    const lines = text.split('\n').filter((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ [0-9a-f]{8} /.test(l));
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l) => l.includes('ERROR'))).toBe(true);
    expect(text).toContain('ERROR payment provider timeout');
    expect(text).not.toContain('"level":"info"');
  });

  it('with CloudWatch Logs throttling (the Simulate menu), the window is read all the same', async () => {
    await ui.simulating('logs-throttle', async () => {
      const text = await threadOf('/ecs logs web --since 3m --grep level');
      expect(text).toMatch(/📄 \d+ lines from app in all tasks of web/);
    });
    const throttled = ui.world.aws.calls.filter((c) => c.action === 'FilterLogEvents' && c.error?.code === 'ThrottlingException');
    expect(throttled).toHaveLength(5);
  });

  it('/ecs logs web --since 5m shows the requests too, each with its task', async () => {
    const text = await threadOf('/ecs logs web --since 5m');
    expect(text).toContain('"level":"info"');
    expect(text).toMatch(/Z [0-9a-f]{8} \{"level":"info","msg":"GET \/api/);
  });

  it('/ecs logs web --follow 5m tails the new lines into one message; its Cancel button stops it', async () => {
    await ui.type('/ecs logs web --follow 5m');
    const parent = ui.newest('ran /ecs logs web --follow 5m');
    const thread = await ui.openThread(parent);
    const living = thread.getByTestId('message').filter({ hasText: '👀 Following' }).last();
    await expect.poll(() => living.count(), { timeout: 15_000 }).toBe(1);
    // web's tasks log a line every 4 s: the message shows new ones as they come.
    await expect.poll(async () => /· ([1-9]\d*) new lines? ·/.exec((await living.locator('.text').textContent()) ?? '')?.[1], { timeout: 20_000 }).toBeTruthy();
    await living.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => parent.locator('.text').first().textContent(), { timeout: 15_000 }).toMatch(/^🚫/);
    await expect.poll(() => thread.textContent()).toContain('🚫 Stopped following');
    expect(await thread.textContent()).toContain('cancelled by @alice');
    expect(await thread.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
  }, 60_000);
});
