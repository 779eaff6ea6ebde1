import { beforeAll, describe, expect, it } from 'vitest';
import { API_FUNCTION, WORKER_FUNCTION } from '../local/world';
import type { SeededService } from '../local/aws/seed-fleet';
import type { Grant } from '../src/auth/roles';
import { fleetSchema } from '../src/config/fleet-schema';
import { channelView, teamAudit, useConfigurableWorld } from './support/channel';

/**
 * The signed API and a service only the fleet's catalog knows (issue 19): a deploy naming it is
 * refused with the fix, as Slack refuses it, after one GetItem of the catalog by the api function
 * under its own role (serverless.yml ApiRole, enforced by the local world). Nothing is handed over.
 */
const ctx = useConfigurableWorld({});
const world = () => ctx().world;
const { parents, finished } = channelView(world, 'C0OPS');
const json = (res: { body: string }) => JSON.parse(res.body) as Record<string, any>;
let service: SeededService;

async function allowPrincipal(pattern: string, grants: Grant[]): Promise<void> {
  const { dynamoAllowlist } = await import('../src/auth/allowlist');
  await dynamoAllowlist.put({ teamId: world().teamId, userId: `iamp:${pattern}`, grants, addedBy: 'U0ALICE', updatedAt: new Date().toISOString() });
}

const catalogReadsBy = (functionName: string, since: number) =>
  world()
    .aws.authority.decisions.slice(since)
    .filter((d) => d.functionName === functionName && d.action.startsWith('dynamodb:') && d.resource.includes('catalog'))
    .map((d) => `${d.action} ${d.decision}`);

beforeAll(async () => {
  const fleet = world().seedFleet({ accounts: 1, regions: ['us-east-1'], servicesPerAccount: 1 });
  const { baseConfig, setConfig } = ctx();
  setConfig({ ...baseConfig, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) });
  const before = parents().length;
  await world().slash('U0ALICE', 'services --refresh');
  const parent = await world().slack.waitFor(() => parents()[before], 20_000);
  expect(await finished(parent.ts)).toMatch(/catalog: \d+ services/);
  await world().idle();
  service = fleet.services[0]!;
  expect(Object.keys(baseConfig.targets)).not.toContain(service.alias);
});

describe('POST /api/deploys of a discovered-only service', () => {
  it('is refused with 400 undeclared_service and the fix, after one catalog GetItem allowed to the api function; nothing runs', async () => {
    const ci = world().apiCaller('ci-fleet-deploy');
    await allowPrincipal(ci.roleArn, [{ role: 'deployer', services: [], selectors: [`account=${service.accountId}`] }]);
    const since = world().aws.authority.decisions.length;
    const res = await ci.call('POST', '/api/deploys', { service: service.alias, tag: 'v2.0.0', channel: 'C0OPS', idempotencyKey: 'fleet-1' });
    expect(res.statusCode).toBe(400);
    expect(json(res)).toEqual({
      error: 'undeclared_service',
      message: expect.stringContaining(`\`${service.alias}\` is discovered from the fleet, not declared: \`deploy\` needs it declared under \`targets:\``),
    });
    expect(catalogReadsBy(API_FUNCTION, since)).toEqual(['dynamodb:GetItem allowed']);
    await world().idle();
    expect(
      world()
        .aws.authority.decisions.slice(since)
        .some((d) => d.functionName === WORKER_FUNCTION),
    ).toBe(false);
    expect((await teamAudit(world())).find((r) => r.principal === ci.sessionArn)).toMatchObject({ decision: 'invalid', outcome: 'refused' });
  });

  it('answers a principal whose grants do not reach the service as unknown; a declared target reads no catalog', async () => {
    const other = world().apiCaller('ci-elsewhere');
    await allowPrincipal(other.roleArn, [{ role: 'deployer', services: ['web'], selectors: ['account=999999999999'] }]);
    const since = world().aws.authority.decisions.length;
    const hidden = await other.call('POST', '/api/deploys', { service: service.alias, tag: 'v2.0.0', channel: 'C0OPS', idempotencyKey: 'fleet-2' });
    expect(hidden.statusCode).toBe(400);
    expect(json(hidden).message).toContain(`Unknown service \`${service.alias}\``);
    expect(catalogReadsBy(API_FUNCTION, since)).toEqual(['dynamodb:GetItem allowed']);
    const declared = world().aws.authority.decisions.length;
    await other.call('POST', '/api/deploys', { service: 'web', tag: 'no-such-tag', channel: 'C0OPS', idempotencyKey: 'fleet-3' });
    expect(catalogReadsBy(API_FUNCTION, declared)).toEqual([]);
    await world().idle();
  });
});
