/**
 * `npm run bench:fleet` (fan-out part): `/ecs verify env=prod` over a seeded fleet, in the local
 * world, through the production ingress, worker and the durable fleet workflow (the run
 * workflow's function: a map over accounts), each account read as its target role.
 *
 *  - fleet_verify_s: 1,000 services in 200 accounts (5 each, one region; 4 accounts broken: 2
 *    without the target role, 2 with a failing service), 50 ms of real latency on every AWS call.
 *    From the slash command to the parent marked with the outcome. Goal ≤ 30 s.
 *  - fleet_max_inflight_per_account: the most AWS calls any target account had in flight at once
 *    (the emulator's meter on every request). Goal ≤ 5.
 *  - fleet_slack_writes: Slack writes of that run (posts, edits, the ack note's withdrawal through
 *    response_url, the file upload's calls), the ack itself excepted. Goal ≤ 10.
 *  - fleet_verify_peak_rss_mib: the process's RSS, sampled every 50 ms during the run, at its
 *    highest; fleet_verify_rss_growth_mib: that peak less the RSS just before the command;
 *    fleet_verify_accounts_in_flight_at_peak: accounts with AWS calls in flight at that sample
 *    (each works on its 5 services at once, so services in flight ≤ 5 × that). With
 *    BENCH_FLEET_LIVE_HEAP=1, fleet_verify_live_heap_peak_mib: the heap in use right after a full
 *    collection, at its highest (collections every second: that run's timings mean nothing).
 *    No goal in the issue. What to expect: the function running the fleet workflow (serverless.yml
 *    `runWorkflow`, the map over accounts) has memorySize 1024 MB and holds at most 100 accounts ×
 *    5 = 500 services in flight (MAX_SERVICES_IN_FLIGHT), each a verify's few describes and
 *    findings (tens of KB), plus SDK clients per account: an experienced engineer would expect its
 *    live data in the low hundreds of MiB at most, well under 1,024. Here one process is every
 *    function AND the emulator (200 accounts' state, every request parsed and answered), dynalite,
 *    local Slack and the durable checkpoint server, and V8, with a machine's memory to spare, lets
 *    garbage pile up before collecting: the RSS figures are upper bounds for the whole local world,
 *    not one Lambda's need (whose Node runtime sizes V8's heap to the function's memory). The live
 *    heap is the figure to hold against 1,024 MB.
 *
 * Loopback only; bounded by BENCH_FLEET_TIMEOUT_S (default 300 s).
 */
import type { FleetTraffic } from '../local/aws/fleet-traffic';
import { sampleMemory } from './support/memory';
import { report, runBench } from './support/report';

const ACCOUNTS = Number(process.env.BENCH_FLEET_ACCOUNTS ?? 200);
const PER_ACCOUNT = 5;
const LATENCY_MS = Number(process.env.BENCH_FLEET_LATENCY_MS ?? 50);
const TIMEOUT_S = Number(process.env.BENCH_FLEET_TIMEOUT_S ?? 300);
const CHANNEL = 'C0OPS';
/** BENCH_FLEET_LIVE_HEAP=1: also the live heap (full collections every second; the timings then mean nothing). */
const LIVE_HEAP = process.env.BENCH_FLEET_LIVE_HEAP === '1';
/**
 * Not counted: methods that change nothing, the slash command's own HTTP answer (the ack), and
 * the bytes of a file sent to the URL files.getUploadURLExternal gave (counted as that call).
 */
const NOT_WRITES = /^(conversations\.|users\.|auth\.|team\.|chat\.getPermalink|files\.info|bots\.|command_response$|upload$)/;

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const { startWorld } = await import('../local/world');
  const world = await startWorld();
  const load = await import('../src/config/load');
  try {
    const base = load.getConfig();
    const fleet = world.seedFleet({ accounts: ACCOUNTS, regions: ['us-east-1'], servicesPerAccount: PER_ACCOUNT, broken: 4, latencyMs: LATENCY_MS });
    const targets = { ...base.targets };
    for (const s of fleet.services)
      targets[s.alias] = {
        ...base.targets.web!,
        region: s.region,
        cluster: s.cluster,
        service: s.service,
        roleArn: `arn:aws:iam::${s.accountId}:role/${fleet.roleName}`,
        labels: { env: 'prod', ...(s.tags.team ? { team: s.tags.team } : {}) },
      };
    load.setConfig({ ...base, targets, selectors: { maxSelection: 2000 } });
    const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
    const before = parents().length;
    world.aws.traffic.resetMeter();
    const calls = world.slack.calls.length;
    const accounts = accountsAtWork(world.aws.traffic, [fleet.managementAccountId]);
    const memory = sampleMemory({ everyMs: 50, load: accounts.count, ...(LIVE_HEAP ? { liveHeapEveryMs: 1000 } : {}) });
    const started = performance.now();
    await world.slash('U0ALICE', 'verify env=prod', CHANNEL);
    const parent = await world.slack.waitFor(() => parents()[before], 30_000);
    const marked = await world.slack.waitFor(
      () => (/^(✅|❌|⚠️)/.test(world.slack.message(CHANNEL, parent.ts)?.text ?? '') ? true : undefined),
      TIMEOUT_S * 1000,
    );
    const seconds = (performance.now() - started) / 1000;
    const peak = memory.stop();
    accounts.restore();
    await world.idle();
    if (!marked) throw new Error('the run did not end');
    const replies = world.slack.replies(CHANNEL, parent.ts);
    const summary = replies.find((r) => r.text.includes('*Verify of `env=prod`*'));
    if (!summary?.text.includes(`${ACCOUNTS * PER_ACCOUNT} services`)) throw new Error(`unexpected summary: ${summary?.text.slice(0, 300)}`);
    if (!replies.some((r) => r.files.length === 2)) throw new Error('no CSV and JSON files in the thread');
    const writes = world.slack.calls.slice(calls).filter((c) => !NOT_WRITES.test(c.method));
    report('fleet_verify_s', seconds, 's');
    report('fleet_max_inflight_per_account', world.aws.traffic.maxInFlightPerAccount({ except: [fleet.managementAccountId] }).max, 'calls', 0);
    report('fleet_slack_writes', writes.length, 'writes', 0);
    report('fleet_verify_peak_rss_mib', peak.rss / MIB, 'MiB', 1);
    report('fleet_verify_rss_growth_mib', (peak.rss - peak.before) / MIB, 'MiB', 1);
    report('fleet_verify_accounts_in_flight_at_peak', peak.load, 'accounts', 0);
    if (peak.liveHeap) report('fleet_verify_live_heap_peak_mib', peak.liveHeap.peak / MIB, 'MiB', 1);
    process.stderr.write(
      `memory: ${peak.samples} samples; RSS before ${(peak.before / MIB).toFixed(1)} MiB; at the peak heap ${(peak.heapUsed / MIB).toFixed(1)} MiB, ${peak.load} accounts in flight (most at any sample: ${peak.mostLoad})${peak.liveHeap ? `; live heap ${(peak.liveHeap.before / MIB).toFixed(1)} MiB before` : ''}\n`,
    );
    process.stderr.write(`slack writes: ${writes.map((w) => w.method).join(', ')}\n${summary.text.split('\n').slice(0, 3).join('\n')}\n`);
  } finally {
    load.setConfig(undefined);
    await world.close();
  }
}

const MIB = 1024 * 1024;

/**
 * Counts the accounts (`except` left out) with AWS calls in flight through the emulator's traffic
 * (every call passes its `pass`), until `restore()`.
 */
function accountsAtWork(traffic: FleetTraffic, except: readonly string[]) {
  const inFlight = new Map<string, number>();
  const pass = traffic.pass.bind(traffic);
  traffic.pass = async (accountId, region, call) => {
    inFlight.set(accountId, (inFlight.get(accountId) ?? 0) + 1);
    try {
      return await pass(accountId, region, call);
    } finally {
      inFlight.set(accountId, inFlight.get(accountId)! - 1);
    }
  };
  return {
    count: () => [...inFlight].filter(([id, n]) => n > 0 && !except.includes(id)).length,
    restore: () => {
      traffic.pass = pass;
    },
  };
}

runBench('fleet', main, TIMEOUT_S);
