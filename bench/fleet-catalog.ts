/**
 * `npm run bench:fleet` (catalog part): a catalog refresh of a seeded fleet, through the SDK, the
 * emulator and dynalite, as the worker runs it.
 *
 *  - catalog_refresh_s: 200 accounts × 2 regions × 5 services (1,000 services; 4 accounts broken:
 *    2 without the target role, reported), 50 ms of latency on every AWS call: Organizations'
 *    ListAccounts pages, one AssumeRole per account, ListClusters / ListServices / DescribeServices
 *    per account and region, then the catalog written to DynamoDB. Goal ≤ 60 s.
 *  - catalog_refresh_max_inflight_per_account: the most AWS calls any target account had in flight
 *    at once during it (discovery bounds it at 5).
 *
 * Loopback only; bounded by BENCH_FLEET_TIMEOUT_S (default 300 s).
 */
import { report, runBench } from './support/report';

const ACCOUNTS = Number(process.env.BENCH_FLEET_ACCOUNTS ?? 200);
const LATENCY_MS = Number(process.env.BENCH_FLEET_LATENCY_MS ?? 50);
const TIMEOUT_S = Number(process.env.BENCH_FLEET_TIMEOUT_S ?? 300);

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const { startAwsEmulator } = await import('../local/aws');
  const { seedFleet } = await import('../local/aws/seed-fleet');
  const { startLocalDynamo } = await import('../local/dynamo');
  const aws = await startAwsEmulator({ seed: false });
  const dynamo = await startLocalDynamo();
  Object.assign(process.env, aws.endpointEnv(), dynamo.env);
  const { parseConfig } = await import('../src/config/schema');
  const { DynamoCatalog } = await import('../src/fleet/catalog');
  const { discoverFleet } = await import('../src/fleet/discovery');
  const { sdkFleetAws } = await import('../src/fleet/aws');
  const { refreshCatalog } = await import('../src/fleet/refresh');
  const { resetDynamo } = await import('../src/platform/dynamo');
  try {
    const regions = ['us-east-1', 'eu-west-1'];
    const fleet = seedFleet(aws.state, { accounts: ACCOUNTS, regions, servicesPerAccount: 5, broken: 4, traffic: aws.traffic, latencyMs: LATENCY_MS });
    const config = parseConfig({
      slack: { teams: ['T0BENCH'] },
      targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } },
      fleet: { organizations: true, regions, excludeAccounts: [fleet.managementAccountId] },
    });
    const fleetAws = sdkFleetAws({ teamId: 'T0BENCH', userId: 'U0BENCH' }, 'us-east-1');
    aws.traffic.resetMeter();
    const started = performance.now();
    const result = await refreshCatalog({
      config,
      catalog: new DynamoCatalog(),
      discover: () => discoverFleet(config.fleet!, fleetAws, { botAccountId: fleet.managementAccountId }),
      botAccountId: fleet.managementAccountId,
      by: 'bench',
    });
    const seconds = (performance.now() - started) / 1000;
    fleetAws.destroy();
    const expected = fleet.services.filter((s) => !fleet.missingRole.includes(s.accountId)).length + 1;
    if (result.total !== expected) throw new Error(`catalog holds ${result.total} services, expected ${expected}`);
    if (result.failures.length !== fleet.missingRole.length) throw new Error(`${result.failures.length} failures, expected ${fleet.missingRole.length}`);
    report('catalog_refresh_s', seconds, 's');
    report('catalog_refresh_max_inflight_per_account', aws.traffic.maxInFlightPerAccount({ except: [fleet.managementAccountId] }).max, 'calls', 0);
  } finally {
    await resetDynamo();
    await Promise.all([aws.close(), dynamo.close()]);
  }
}

runBench('fleet', main, TIMEOUT_S);
