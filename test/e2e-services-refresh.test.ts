import { describe, expect, it } from 'vitest';
import { seedFleetService, type SeededFleet } from '../local/aws/seed-fleet';
import { organizationOf, putOrganizationAccount } from '../local/aws/services/organizations';
import { localStack } from '../local/iam/enforce';
import { scheduleResources } from '../scripts/schedules';
import { fleetSchema } from '../src/config/fleet-schema';
import { CATALOG_SCHEDULE } from '../src/fleet/schedule';
import { DynamoCatalog } from '../src/fleet/catalog';
import { channelView, ephemeral, teamAudit, useConfigurableWorld } from './support/channel';

/**
 * `/ecs services --refresh` end to end: the ingress authorises an admin of every service and hands
 * it to the worker, which reads the organization (IAM as deployed: the worker's role), assumes the
 * target role of infra/cross-account-role.yaml in each seeded account, lists ECS there, writes the
 * catalog (dynalite) and says what changed in one thread; audited.
 */
const ctx = useConfigurableWorld({});
const world = () => ctx().world;
const { parents, threadText, finished, newParent } = channelView(world, 'C0OPS');
let fleet: SeededFleet;

/** The world's configuration with this `fleet:` section, its defaults filled in as the configuration's parser does. */
function configure(fleetConfig: Record<string, unknown>) {
  const { baseConfig, setConfig } = ctx();
  setConfig({ ...baseConfig, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1', 'eu-west-1'], ...fleetConfig }) });
}

const calls_ = (action: RegExp) => world().aws.calls.filter((c) => c.status === 200 && action.test(c.action));

async function refresh(user = 'U0ALICE') {
  const before = parents().length;
  const res = await world().slash(user, 'services --refresh');
  return { ack: ephemeral(res), parent: () => newParent(before, /services --refresh/) };
}

describe('/ecs services --refresh', () => {
  it('an admin refreshes the catalog: the thread lists what was added and the accounts not read, with their fix', async () => {
    fleet = world().seedFleet({ accounts: 6, regions: ['us-east-1', 'eu-west-1'], servicesPerAccount: 3, broken: 2 });
    // The world's second target account (its target role deployed as the stack's) joins the organization with a service.
    putOrganizationAccount(world().aws.state, { id: '222222222222', name: 'second', tags: { env: 'prod', team: 'ledger' } });
    seedFleetService(world().aws.state, {
      accountId: '222222222222',
      region: 'eu-west-1',
      serviceName: 'ledger',
      alias: 'ledger',
      env: 'prod',
      team: 'ledger',
    });
    configure({});
    const { ack, parent } = await refresh();
    expect(ack).toContain('Working on `/ecs services --refresh`');
    const p = await parent();
    expect(await finished(p.ts)).toMatch(/^⚠️ .*catalog: \d+ services \(\+\d+ −0 ~0\), 1 account not read/);
    const thread = threadText(p.ts);
    expect(thread).toContain('*Catalog refreshed*');
    expect(thread).toContain('`api-fleet-001` — 300000000001 us-east-1 fleet/api');
    expect(thread).toContain(`*Accounts not read (1)*`);
    expect(thread).toContain(`deploy infra/cross-account-role.yaml in ${fleet.missingRole[0]}`);
    const catalog = new DynamoCatalog();
    expect(fleet.missingRole).toEqual(['300000000002']);
    expect(await catalog.get('worker-fleet-004')).toMatchObject({ accountId: '300000000004', region: 'eu-west-1', labels: { env: 'staging', team: 'growth' } });
    // The bot's own account is read with its own role; a hand-declared target naming a discovered
    // service keeps its alias and its configured labels only (not the service's tags), and is not listed twice.
    expect(await catalog.get('web')).toMatchObject({ source: 'declared', accountId: '111111111111', labels: {} });
    expect(thread).not.toContain('service/main/web`');
    expect(calls_(/ListServices/).some((c) => c.identity.arn.includes('-worker/'))).toBe(true);
    const audit = (await teamAudit(world())).find((r) => r.verb === 'services --refresh');
    expect(audit).toMatchObject({ userId: 'U0ALICE', decision: 'allowed', outcome: 'warning' });
    // The worker's role read the organization; the target role in each account listed ECS.
    const calls = world().aws.calls.filter((c) => c.status === 200);
    expect(calls.some((c) => c.action === 'ListAccounts' && c.identity.arn.includes('-worker/'))).toBe(true);
    expect(calls.some((c) => c.action === 'ListServices' && c.identity.arn.startsWith('arn:aws:sts::300000000001:assumed-role/ecs-chatops-target/'))).toBe(
      true,
    );
  });

  it('with an OU and an account tag as filters, says which services left the catalog; a second refresh says nothing changed', async () => {
    configure({ organizationalUnits: [fleet.units.prod], accountTags: { team: 'payments' } });
    const first = await refresh();
    const p = await first.parent();
    await finished(p.ts);
    const thread = threadText(p.ts);
    expect(thread).toMatch(/\*Removed \(\d+\)\*/);
    expect(thread).toContain('• `api-fleet-003` — 300000000003 us-east-1 fleet/api');
    expect(thread).not.toContain('`api-fleet-005` —');
    const services = await new DynamoCatalog().select({ kind: 'labels', terms: [{ key: 'env', values: ['staging'] }] });
    expect(services).toEqual([]);
    const again = await refresh();
    const q = await again.parent();
    expect(await finished(q.ts)).toMatch(/^✅ .*\(\+0 −0 ~0\)/);
    expect(threadText(q.ts)).toContain('No change since the last refresh.');
    const calls = world()
      .aws.calls.filter((c) => c.status === 200)
      .map((c) => c.action);
    expect(calls).toEqual(expect.arrayContaining(['ListAccountsForParent', 'ListTagsForResource']));
  });

  it('on its schedule: Scheduler invokes the scheduled function, which submits the refresh as schedule:catalog-refresh in fleet.refreshChannel', async () => {
    configure({ refreshChannel: 'C0OPS', refreshSchedule: 'rate(6 hours)' });
    // The schedule as `npm run schedules` writes it (scripts/schedules.ts), created as CloudFormation would.
    const config = (await import('../src/config/load')).getConfig();
    const resource = scheduleResources(config).join('\n');
    expect(resource).toContain("Name: 'catalog-refresh'");
    expect(resource).toContain("ScheduleExpression: 'rate(6 hours)'");
    const template = localStack().schedules[0]!;
    world().aws.scheduler.create(localStack().accountId, localStack().region, {
      Name: CATALOG_SCHEDULE,
      GroupName: template.groupName,
      ScheduleExpression: 'rate(6 hours)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { ...template.target, Input: JSON.stringify({ schedule: CATALOG_SCHEDULE, scheduledTime: '<aws.scheduler.scheduled-time>' }) },
    });
    const before = parents().length;
    world().aws.scheduler.deliver(CATALOG_SCHEDULE, world().aws.clock.now(), template.groupName);
    const p = await newParent(before, /Scheduled run of `catalog-refresh`/);
    expect(p.text).toContain('`/ecs services --refresh`');
    expect(await finished(p.ts)).toMatch(/catalog: \d+ services/);
    const records = (await teamAudit(world())).filter((r) => r.userId === 'schedule:catalog-refresh');
    expect(records[0]).toMatchObject({ via: 'schedule', verb: 'services --refresh', decision: 'allowed' });
  });

  it('runs one refresh at a time: another one meanwhile says so and changes nothing', async () => {
    const { dynamoState } = await import('../src/platform/state');
    const { catalogRefreshLockKey } = await import('../src/platform/state-keys');
    await dynamoState.claim(catalogRefreshLockKey(), 60, { jobId: 'other', userId: 'U0ADMIN', since: '2026-12-06T20:00:00.000Z' });
    try {
      const { parent } = await refresh();
      const p = await parent();
      expect(await finished(p.ts)).toMatch(/^⚠️ .*a refresh is already running/);
      expect(threadText(p.ts)).toContain('A catalog refresh is already running (started by `U0ADMIN` at 2026-12-06 20:00 UTC)');
    } finally {
      await dynamoState.release(catalogRefreshLockKey());
    }
  });

  it('after a refresh that died halfway: says so in its thread, and leaves nothing of what that one left behind', async () => {
    const { ddb } = await import('../src/platform/dynamo');
    const { tableName } = await import('../src/platform/tables');
    const TableName = tableName('catalog');
    const catalog = new DynamoCatalog();
    const real = (await catalog.select({ kind: 'all' }))[0]!;
    // What a worker dying between batches leaves: a service the index does not list, an index item
    // naming a service without the label, and meta#refresh saying a refresh started.
    await ddb.put({ TableName, Item: { pk: 'svc#orphan', ...real, alias: 'orphan', labels: { env: 'prod' } } });
    await ddb.put({ TableName, Item: { pk: 'sel#team=ghosts', aliases: [real.alias, 'orphan'] } });
    const meta = (await ddb.get({ TableName, Key: { pk: 'meta#refresh' } })).Item!;
    await ddb.put({ TableName, Item: { ...meta, started: { at: '2026-12-06T19:30:00.000Z', by: 'U0GONE' } } });
    expect(await catalog.select({ kind: 'labels', terms: [{ key: 'team', values: ['ghosts'] }] })).toEqual([]);

    const { parent } = await refresh();
    const p = await parent();
    await finished(p.ts);
    expect(threadText(p.ts)).toContain('The previous refresh (started 2026-12-06 19:30 UTC by `U0GONE`) did not finish');
    expect(await catalog.get('orphan')).toBeUndefined();
    expect((await ddb.get({ TableName, Key: { pk: 'sel#team=ghosts' } })).Item).toBeUndefined();
    expect((await ddb.get({ TableName, Key: { pk: 'meta#refresh' } })).Item?.started).toBeUndefined();
    // It finished: the next one has nothing to say about it.
    const again = await refresh();
    const q = await again.parent();
    await finished(q.ts);
    expect(threadText(q.ts)).toContain('*Catalog refreshed*');
    expect(threadText(q.ts)).not.toContain('did not finish');
  });

  it('an account suspended in the organization: not looked in, its services leave the catalog, and the thread says why', async () => {
    const account = organizationOf(world().aws.state)!.accounts.get('300000000003')!;
    const catalog = new DynamoCatalog();
    expect(await catalog.get('api-fleet-003')).toBeDefined();
    account.state = 'SUSPENDED';
    try {
      const { parent } = await refresh();
      const p = await parent();
      await finished(p.ts);
      const thread = threadText(p.ts);
      expect(thread).toContain('• `api-fleet-003` — 300000000003 us-east-1 fleet/api (its account is SUSPENDED)');
      expect(thread).toContain(
        '*Accounts not active, not looked in (their services leave the catalog) (1)*\n• `300000000003 (fleet-003)`: SUSPENDED in AWS Organizations',
      );
      expect(thread).not.toContain('cross-account-role.yaml in 300000000003');
      expect(await catalog.get('api-fleet-003')).toBeUndefined();
    } finally {
      account.state = 'ACTIVE';
    }
  });

  it('is refused to someone who is not an admin of every service, and audited as such', async () => {
    const before = parents().length;
    const { ack } = await refresh('U0BOB');
    expect(ack).toContain('Not allowed');
    expect(parents()).toHaveLength(before);
    const audit = (await teamAudit(world())).find((r) => r.verb === 'services --refresh' && r.userId === 'U0BOB');
    expect(audit).toMatchObject({ decision: 'denied', outcome: 'refused' });
  });
});
