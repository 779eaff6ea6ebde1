import { existsSync } from 'node:fs';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { type Playground, type PlaygroundOptions, startPlayground } from '../../local/playground/server';
import { startWorld, type World } from '../../local/world';

/** Flags for a machine whose only network is loopback: no calls to Google at start, no GPU. */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * The Chromium the browser tests drive: `CHROMIUM_PATH` when set (Debian's /usr/bin/chromium, a
 * local Chrome), otherwise the build that the npm package @sparticuz/chromium ships inside itself
 * (unpacked to /tmp on first use), so `npm install && npm test` needs nothing but Node and npm.
 * Never a browser download.
 */
export async function chromiumExecutable(): Promise<{ path: string; args: string[] }> {
  const chosen = process.env.CHROMIUM_PATH;
  if (chosen) {
    if (!existsSync(chosen)) throw new Error(`CHROMIUM_PATH is ${chosen}, which does not exist`);
    return { path: chosen, args: FLAGS };
  }
  const { default: packaged } = await import('@sparticuz/chromium');
  // Its own flags are for Lambda (single process, no zygote); ours are enough on a machine.
  return { path: await packaged.executablePath(), args: FLAGS };
}

export async function launchBrowser(): Promise<Browser> {
  const { path, args } = await chromiumExecutable();
  return chromium.launch({ executablePath: path, headless: true, args });
}

/** The world, its playground and a Chromium page on it, as the browser tests share them. */
export interface PlaygroundInChromium {
  world: World;
  playground: Playground;
  page: Page;
  /** Types `text` into the composer and sends it, as a person does. */
  type(text: string): Promise<void>;
  /** Runs `fn` with a fault picked from the page's Simulate menu, cleared afterwards. */
  simulating(fault: string, fn: () => Promise<void>): Promise<void>;
  /** The newest message of the channel whose text has `text` (e.g. `ran /ecs status web`, `asks to deploy to web`). */
  newest(text: string | RegExp): Locator;
  /** Types `command` (a `/ecs …` command) and returns its parent message (`@alice ran <command>`), once shown. */
  command(command: string): Promise<Locator>;
  /** Opens `parent`'s thread (once it has replies) and returns the thread's feed. */
  openThread(parent: Locator): Promise<Locator>;
  /** Clicks the `emoji` pill (e.g. ✅) of `message` as `user`, as that person does, then is alice again. */
  reactAs(user: string, message: Locator, emoji: string): Promise<void>;
}

/**
 * Registers the hooks that start a world, its playground and Chromium before the file's tests and
 * close them after, and open the page as alice in #ops: a fresh page before each test
 * (`newPage: 'each'`, the default) or one for the whole file (`'once'`). The returned object's
 * fields are set once the hooks have run (inside tests).
 */
export function usePlaygroundInChromium(options: { playground?: PlaygroundOptions; newPage?: 'each' | 'once' } = {}): PlaygroundInChromium {
  let browser: Browser | undefined;
  const at = {
    async type(text: string) {
      await at.page.getByTestId('composer').fill(text);
      await at.page.getByTestId('composer').press('Enter');
    },
    newest(text: string | RegExp) {
      return at.page.getByTestId('feed').getByTestId('message').filter({ hasText: text }).last();
    },
    async command(command: string) {
      await at.type(command);
      const parent = at.newest(`ran ${command}`);
      await parent.waitFor({ timeout: 15_000 });
      return parent;
    },
    async openThread(parent: Locator) {
      await expect.poll(() => parent.getByTestId('replies').count(), { timeout: 15_000 }).toBe(1);
      await parent.getByTestId('replies').click();
      return at.page.getByTestId('thread-feed');
    },
    async reactAs(user: string, message: Locator, emoji: string) {
      await at.page.getByTestId('user-switch').selectOption(user);
      try {
        const pill = message.locator('.reaction', { hasText: emoji });
        // The pill the bot offers (✅ and ❌ on a request), not yet this person's once the page shows them as `user`.
        await expect.poll(() => pill.count(), { timeout: 10_000 }).toBe(1);
        await expect.poll(() => pill.getAttribute('class')).not.toContain('mine');
        await pill.click();
        await expect.poll(() => pill.getAttribute('class')).toContain('mine');
      } finally {
        await at.page.getByTestId('user-switch').selectOption('U0ALICE');
      }
    },
    async simulating(fault: string, fn: () => Promise<void>) {
      await at.page.getByTestId('simulate').selectOption(fault);
      try {
        await fn();
      } finally {
        await at.page.getByTestId('simulate').selectOption('clear');
      }
    },
  } as PlaygroundInChromium;
  const openPage = async () => {
    at.page = await browser!.newPage();
    await at.page.goto(`${at.playground.url}?user=U0ALICE&channel=C0OPS`);
    await at.page.getByTestId('composer').waitFor();
  };
  beforeAll(async () => {
    at.world = await startWorld();
    at.playground = await startPlayground(at.world, options.playground);
    browser = await launchBrowser();
    if (options.newPage === 'once') await openPage();
  });
  afterAll(async () => {
    await browser?.close();
    await at.playground?.close();
    await at.world?.close();
  });
  if (options.newPage !== 'once') beforeEach(openPage);
  return at;
}
