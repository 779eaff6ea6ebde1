/** `npm run screenshot`: the README's picture of the playground, taken in headless Chromium. */
import { startPlayground } from '../local/playground/server';
import { startWorld } from '../local/world';
import { launchBrowser } from '../test/support/browser';

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
  await page.screenshot({ path: 'docs/playground.png' });
  console.log('wrote docs/playground.png');
} finally {
  await browser.close();
  await playground.close();
  await world.close();
}
