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
 *
 * Loopback only; bounded by BENCH_FLEET_TIMEOUT_S (default 300 s).
 */
import { report, runBench } from './support/report';

const ACCOUNTS = Number(process.env.BENCH_FLEET_ACCOUNTS ?? 200);
const PER_ACCOUNT = 5;
const LATENCY_MS = Number(process.env.BENCH_FLEET_LATENCY_MS ?? 50);
const TIMEOUT_S = Number(process.env.BENCH_FLEET_TIMEOUT_S ?? 300);
const CHANNEL = 'C0OPS';
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
    const started = performance.now();
    await world.slash('U0ALICE', 'verify env=prod', CHANNEL);
    const parent = await world.slack.waitFor(() => parents()[before], 30_000);
    const marked = await world.slack.waitFor(
      () => (/^(✅|❌|⚠️)/.test(world.slack.message(CHANNEL, parent.ts)?.text ?? '') ? true : undefined),
      TIMEOUT_S * 1000,
    );
    const seconds = (performance.now() - started) / 1000;
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
    process.stderr.write(`slack writes: ${writes.map((w) => w.method).join(', ')}\n${summary.text.split('\n').slice(0, 3).join('\n')}\n`);
  } finally {
    load.setConfig(undefined);
    await world.close();
  }
}

runBench('fleet', main, TIMEOUT_S);
