import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

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
