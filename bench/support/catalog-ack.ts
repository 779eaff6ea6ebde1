import { LOCAL_STACK_OPTIONS } from '../../local/iam/enforce';
import { WORKER_FUNCTION, type World } from '../../local/world';
import { fleetSchema } from '../../src/config/fleet-schema';
import type { Config } from '../../src/config/schema';
import { DynamoCatalog } from '../../src/fleet/catalog';
import { type AckFigures, measureColdFirstAck, timeAcks } from './ack-latency';
import { percentile } from './report';

/** The catalog the figure is about: 200 accounts × 5 services, discovered. */
export const CATALOG_ACCOUNTS = 200;
export const CATALOG_SERVICES_PER_ACCOUNT = 5;
const CHANNEL = 'C0OPS';

/**
 * The `fleet:` section both the in-process ingress and the fleet-configured bundle run with: the
 * seeded organization, one region, the bot's own account left out (so the catalog holds the
 * 1,000 fleet services and the declared targets, nothing else).
 */
export function benchFleetSection(): NonNullable<Config['fleet']> {
  return fleetSchema.parse({ organizations: true, regions: ['us-east-1'], excludeAccounts: [LOCAL_STACK_OPTIONS.accountId] })!;
}

export interface CatalogAckFigures extends AckFigures {
  /** p99 of each kind of command of the mix, for the note (not a figure of its own). */
  p99ByKind: Record<string, number>;
  catalogSize: number;
}

/**
 * Warm ack latency with `fleet:` configured and 1,000 discovered services in the CatalogTable, in
 * `world` (measureAckLatency's, its plain figures taken): 200 accounts × 5 services are seeded,
 * then `/ecs services --refresh` writes the catalog as production does (the real worker, put back
 * for it: Organizations, AssumeRole per account, ECS, then DynamoCatalog.replace into dynalite).
 * Only then is the worker a no-op again and the acks timed, three kinds of command in turn:
 *
 *  - `status web`: a declared target (resolved from the configuration, no catalog read);
 *  - `status <alias>`: a discovered-only service (one GetItem on the catalog beside the allowlist read);
 *  - `verify env=prod`: a selector (resolved by the worker; the ack reads no catalog).
 *
 * The cold first ack names a discovered alias, through `bundle`, built with the same `fleet:` section.
 */
export async function measureCatalogAckLatency(world: World, requests: number, coldRuns: number, bundle: string): Promise<CatalogAckFigures> {
  const load = await import('../../src/config/load');
  try {
    const fleet = world.seedFleet({ accounts: CATALOG_ACCOUNTS, regions: ['us-east-1'], servicesPerAccount: CATALOG_SERVICES_PER_ACCOUNT, latencyMs: 0 });
    load.setConfig({ ...load.getConfig(), fleet: benchFleetSection() });
    // The production worker again, registered as the world registers it (its 900 s timeout).
    world.setWorkerTimeout(900_000);
    await refreshCatalog(world);
    world.aws.lambda.register(WORKER_FUNCTION, async () => undefined);
    const catalog = await new DynamoCatalog().select({ kind: 'all' });
    const discovered = catalog.filter((s) => s.source === 'discovered');
    if (discovered.length !== fleet.services.length)
      throw new Error(`the catalog holds ${discovered.length} discovered services, expected ${fleet.services.length}`);

    // Discovered aliases spread over the whole catalog, so the GetItems do not hit one item only.
    const spread = discovered.filter((_, i) => i % 97 === 0).map((s) => `status ${s.alias}`);
    const kinds = { declared: ['status web'], discovered: spread, selector: ['verify env=prod'] };
    const texts = spread.flatMap((discoveredAlias) => [kinds.declared[0]!, discoveredAlias, kinds.selector[0]!]);
    const timings = await timeAcks(world, texts, requests);
    const p99ByKind: Record<string, number> = {};
    for (const [kind, list] of Object.entries(kinds)) p99ByKind[kind] = percentile(await timeAcks(world, list, 200), 99);
    const coldFirstAckMs = await measureColdFirstAck(world, coldRuns, { bundle, text: spread[0]! });
    return { p50: percentile(timings, 50), p99: percentile(timings, 99), coldFirstAckMs, p99ByKind, catalogSize: catalog.length };
  } finally {
    load.setConfig(undefined);
  }
}

/** `/ecs services --refresh` from alice (an admin), through the production ingress and worker, to its parent marked. */
async function refreshCatalog(world: World): Promise<void> {
  const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
  const before = parents().length;
  const res = await world.slash('U0ALICE', 'services --refresh', CHANNEL);
  if (!res.body.includes('Working on')) throw new Error(`refresh refused: ${res.body}`);
  const parent = await world.slack.waitFor(() => parents()[before], 30_000);
  const marked = await world.slack.waitFor(() => {
    const text = world.slack.message(CHANNEL, parent.ts)?.text ?? '';
    return /^(✅|❌|⚠️|🚫)/.test(text) ? text : undefined;
  }, 120_000);
  await world.idle();
  if (!marked.startsWith('✅')) throw new Error(`the catalog refresh did not succeed: ${marked.slice(0, 300)}`);
}
