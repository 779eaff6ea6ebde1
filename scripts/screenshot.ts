/** `npm run screenshot`: the README's pictures of the playground (status, a deploy), taken in headless Chromium. */
import { startPlayground } from '../local/playground/server';
import { startWorld } from '../local/world';
import { launchBrowser } from '../test/support/browser';

/** The emoji font loads when a glyph first needs it (font-display: swap): wait, or the emoji are blank. */
async function fontsLoaded(page: import('playwright-core').Page): Promise<void> {
  await page.evaluate('document.fonts.ready.then(() => true)');
  await page.waitForTimeout(200);
}

process.env.LOG_LEVEL = 'silent';
const world = await startWorld();
const playground = await startPlayground(world);
const browser = await launchBrowser();
try {
  await world.slash('U0ALICE', 'status broken');
  await world.slash('U0ALICE', 'status web');
  await world.idle();
  const page = await browser.newPage({ viewport: { width: 1400, height: 820 }, deviceScaleFactor: 1 });
  await page.goto(`${playground.url}?user=U0ALICE&channel=C0OPS`);
  await page.getByTestId('composer').fill('/ecs status web');
  const parent = page.getByTestId('message').filter({ hasText: 'ran /ecs status web' }).last();
  await parent.getByTestId('replies').click();
  await page.getByTestId('thread-feed').getByText('Tasks:', { exact: true }).waitFor();
  await fontsLoaded(page);
  await page.screenshot({ path: 'docs/playground.png' });
  console.log('wrote docs/playground.png');

  // A deploy: alice asks, bob approves with a reaction, the rollout is watched to the end.
  const parents = () => (world.slack.workspace.messages.C0OPS ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
  await world.slash('U0ALICE', 'deploy web v1.5.0');
  const request = await world.slack.waitFor(() => parents().find((m) => m.text.includes('React :white_check_mark:')), 20_000);
  await world.react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
  await world.slack.waitFor(() => world.slack.message('C0OPS', request.ts)!.text.startsWith('✅'), 90_000);
  await page.goto(`${playground.url}?user=U0BOB&channel=C0OPS`);
  await page.getByTestId('message').filter({ hasText: 'asks to deploy to web' }).last().getByTestId('replies').click();
  await page.getByTestId('thread-feed').getByText('is live and steady', { exact: false }).last().waitFor();
  await fontsLoaded(page);
  await page.screenshot({ path: 'docs/deploy.png' });
  console.log('wrote docs/deploy.png');

  // A deploy that fails and rolls back: the plan, the rollout, the failure, the rollback, the end.
  await world.slash('U0ALICE', 'deploy web v2-crash');
  const crash = await world.slack.waitFor(() => parents().find((m) => m.ts !== request.ts && m.text.includes('React :white_check_mark:')), 20_000);
  await world.react('U0BOB', 'C0OPS', crash.ts, 'white_check_mark');
  await world.slack.waitFor(() => world.slack.message('C0OPS', crash.ts)!.text.startsWith('❌'), 180_000);
  await page.setViewportSize({ width: 1400, height: 1100 });
  await page.goto(`${playground.url}?user=U0ALICE&channel=C0OPS`);
  await page.locator(`[data-testid="message"][data-ts="${crash.ts}"]`).getByTestId('replies').click();
  await page.getByTestId('thread-feed').getByText('Rolled back', { exact: false }).last().waitFor();
  await fontsLoaded(page);
  await page.screenshot({ path: 'docs/deploy-rollback.png' });
  console.log('wrote docs/deploy-rollback.png');
} finally {
  await browser.close();
  await playground.close();
  await world.close();
}
