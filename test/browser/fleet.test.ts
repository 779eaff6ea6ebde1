import { describe, expect, it } from 'vitest';
import { usePlaygroundInChromium } from '../support/browser';

/**
 * Issue 19's "done when", in the playground in Chromium: a seeded fleet refreshed into the catalog,
 * then `/ecs verify env=prod` answered in one thread with the summary and the CSV and JSON files,
 * `/ecs services env=prod` listing the discovered services privately, and a selector matching
 * nothing answered privately.
 */
const ui = usePlaygroundInChromium();

describe('a fleet in the playground', () => {
  it('/ecs verify env=prod over a seeded fleet: one thread, the summary, the CSV and JSON files', async () => {
    const fleet = ui.world.seedFleet({ accounts: 4, regions: ['us-east-1'], servicesPerAccount: 2, broken: 2 });
    const [{ getConfig, setConfig }, { fleetSchema }] = await Promise.all([import('../../src/config/load'), import('../../src/config/fleet-schema')]);
    const base = getConfig();
    setConfig({ ...base, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) });
    try {
      const refresh = await ui.command('/ecs services --refresh');
      await expect.poll(() => refresh.textContent(), { timeout: 20_000 }).toMatch(/(✅|⚠️) @alice ran \/ecs services --refresh/);
      const prod = fleet.services.filter((s) => s.tags.env === 'prod' && !fleet.missingRole.includes(s.accountId));
      const parent = await ui.command('/ecs verify env=prod');
      await expect.poll(() => parent.textContent(), { timeout: 30_000 }).toMatch(/(✅|⚠️|❌) @alice ran \/ecs verify env=prod/);
      const thread = await ui.openThread(parent);
      await expect.poll(() => thread.textContent()).toContain(`Verify of env=prod: ${prod.length} services`);
      const text = (await thread.textContent())!;
      for (const s of prod) expect(text).toContain(s.alias);
      const files = thread.getByTestId('file');
      await expect.poll(() => files.count()).toBe(2);
      expect(await files.allTextContents()).toEqual([expect.stringContaining('(CSV)'), expect.stringContaining('(JSON)')]);
      // The catalog listed privately: the worker's answer replaces the "Working on" note.
      await ui.type('/ecs services env=prod');
      const eph = ui.page.getByTestId('ephemeral').last();
      await expect.poll(() => eph.textContent(), { timeout: 20_000 }).toContain(`${prod.length} of your services here match env=prod`);
      for (const s of prod) expect(await eph.textContent()).toContain(s.alias);
      // A selector matching nothing: told privately, with the closest labels; nothing in the channel.
      await ui.type('/ecs verify env=prd');
      await expect
        .poll(() => ui.page.getByTestId('ephemeral').last().textContent(), { timeout: 15_000 })
        .toContain('No service of yours here matches env=prd: no service has env=prd (did you mean env=prod?)');
      expect(await ui.page.getByTestId('message').filter({ hasText: 'ran /ecs verify env=prd' }).count()).toBe(0);
    } finally {
      setConfig(base);
    }
  });
});
