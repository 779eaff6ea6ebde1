import { describe, expect, it } from 'vitest';
import { RUN_WORKFLOW_FUNCTION } from '../local/world';
import { fleetSchema } from '../src/config/fleet-schema';
import { channelView, useConfigurableWorld } from './support/channel';

/**
 * A fleet run over discovered services (issue 19, "done when"): a seeded organization refreshed
 * into the catalog (`/ecs services --refresh`), then `/ecs verify cluster=fleet` selects from the
 * catalog in DynamoDB (the worker, then the workflow again, each with its own role), fans out over
 * the accounts and answers in one thread with the summary and the files.
 */
const ctx = useConfigurableWorld({});
const world = () => ctx().world;
const { parents, threadText, finished } = channelView(world, 'C0OPS');

async function command(text: string) {
  const before = parents().length;
  await world().slash('U0ALICE', text);
  const parent = await world().slack.waitFor(() => parents()[before], 20_000);
  const marked = await finished(parent.ts);
  await world().idle();
  return { parent, marked };
}

describe('/ecs verify <selector> over the catalog', () => {
  it('selects discovered services from the catalog, in the worker and again in the workflow', async () => {
    const fleet = world().seedFleet({ accounts: 3, regions: ['us-east-1'], servicesPerAccount: 2, broken: 2 });
    const { baseConfig, setConfig } = ctx();
    setConfig({ ...baseConfig, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) });
    expect((await command('services --refresh')).marked).toMatch(/catalog: \d+ services/);
    const since = world().aws.authority.decisions.length;
    const { parent, marked } = await command('verify cluster=fleet');
    // The account without the role was not discovered: 2 accounts × 2 services.
    const reachable = fleet.services.filter((s) => !fleet.missingRole.includes(s.accountId));
    expect(marked).toMatch(/^❌ <@U0ALICE> ran `\/ecs verify cluster=fleet`/);
    const thread = threadText(parent.ts);
    expect(thread).toContain(`*Verify of \`cluster=fleet\`*: ${reachable.length} services`);
    for (const s of reachable) expect(thread).toContain(`|${s.alias}>`);
    expect(
      world()
        .slack.replies('C0OPS', parent.ts)
        .some((r) => r.files.length === 2),
    ).toBe(true);
    const catalogReads = world()
      .aws.authority.decisions.slice(since)
      .filter((d) => d.functionName === RUN_WORKFLOW_FUNCTION && d.action.startsWith('dynamodb:') && d.resource.includes('catalog'));
    expect(new Set(catalogReads.map((d) => `${d.action} ${d.decision}`))).toEqual(new Set(['dynamodb:GetItem allowed', 'dynamodb:BatchGetItem allowed']));
  });
});
