/**
 * `npm run bench:api`: a signed API call to the parent message in the channel, in the local world.
 *
 *  - api_request_to_thread_p95_s: `POST /api/runs` (backup.sh nightly) signed with SigV4 by a role
 *    session of the bot's account, through the local HTTP API (signature recomputed,
 *    execute-api:Invoke evaluated), the api function (allowlist, idempotency claim, token bucket,
 *    audit, hand-off), the worker's cold or warm start, to the parent message in the local Slack.
 *    Each request waits for the previous run to end (one run of a script at a time); each comes
 *    from a caller of its own, so the per-caller rate limit does not shape the figure. Goal ≤ 1 s.
 *
 * Loopback only; bounded by BENCH_API_TIMEOUT_S (default 300 s).
 */
import { percentile, report, runBench } from './support/report';

const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 20);
const BENCH_TIMEOUT_S = Number(process.env.BENCH_API_TIMEOUT_S ?? 300);

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const { startWorld } = await import('../local/world');
  const world = await startWorld();
  try {
    const { dynamoAllowlist } = await import('../src/auth/allowlist');
    const pattern = `arn:aws:iam::${world.aws.state.defaultCredentials.identity.accountId}:role/bench-ci-*`;
    await dynamoAllowlist.put({
      teamId: world.teamId,
      userId: `iamp:${pattern}`,
      grants: [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }],
      addedBy: 'bench',
      updatedAt: new Date().toISOString(),
    });
    const parents = () => (world.slack.workspace.messages.C0OPS ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
    const seconds: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const caller = world.apiCaller(`bench-ci-${i}`);
      const before = parents().length;
      const started = performance.now();
      const res = await caller.call('POST', '/api/runs', { script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', idempotencyKey: `bench-${i}` });
      if (res.statusCode !== 202) throw new Error(`request ${i}: HTTP ${res.statusCode} ${res.body}`);
      await world.slack.waitFor(() => parents().length > before || undefined, 30_000);
      seconds.push((performance.now() - started) / 1000);
      await world.idle();
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    console.log(
      `# ${REQUESTS} signed requests: p50 ${percentile(sorted, 50).toFixed(3)} s, max ${sorted.at(-1)!.toFixed(3)} s (the first includes the worker's cold start)`,
    );
    report('api_request_to_thread_p95_s', percentile(sorted, 95), 's', 3);
  } finally {
    await world.close();
  }
}

runBench('api', main, BENCH_TIMEOUT_S);
