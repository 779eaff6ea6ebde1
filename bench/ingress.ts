/**
 * `npm run bench:ingress`: cold start of the ingress bundle next to a bare `node -e 0`, bundle
 * sizes, the same for a whole-Bolt-App ingress (the alternative we did not ship), and the warm
 * ack latency of 1,000 signed slash commands against local DynamoDB.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle, buildHandlers, loadConfigFile } from '../scripts/build';
import { measureAckLatency } from './support/ack-latency';
import { measureColdStart } from './support/cold-start';
import { report } from './support/report';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

async function main(): Promise<void> {
  const sizes = await buildHandlers({ quiet: true });
  report('bundle_ingress_kib', sizes.ingress! / 1024, 'KiB', 1);
  report('bundle_worker_kib', sizes.worker! / 1024, 'KiB', 1);
  // What a cold start parses; the rest are chunks loaded when a request first needs them.
  report('bundle_ingress_entry_kib', statSync('dist/ingress/index.mjs').size / 1024, 'KiB', 1);

  const scratch = mkdtempSync(join(tmpdir(), 'ecs-chatops-bench-'));
  try {
    const boltBytes = await buildBundle('bench/fixtures/bolt-app-ingress.ts', join(scratch, 'bolt'), loadConfigFile());
    // Warm the file cache so the first measured run is not a disk read.
    measureColdStart(['-e', '0'], 2);
    measureColdStart(['dist/ingress/index.mjs'], 2);
    measureColdStart([join(scratch, 'bolt/index.mjs')], 2);
    const bare = measureColdStart(['-e', '0'], RUNS);
    const lean = measureColdStart(['dist/ingress/index.mjs'], RUNS);
    const bolt = measureColdStart([join(scratch, 'bolt/index.mjs')], RUNS);
    console.log(
      `# cold start medians of ${RUNS}: node -e 0 ${bare.wallMs.toFixed(1)} ms / ${bare.rssMiB.toFixed(1)} MiB; ingress ${lean.wallMs.toFixed(1)} ms / ${lean.rssMiB.toFixed(1)} MiB; whole Bolt App ingress ${bolt.wallMs.toFixed(1)} ms / ${bolt.rssMiB.toFixed(1)} MiB (${(boltBytes / 1024).toFixed(1)} KiB)`,
    );
    report('ingress_cold_start_ratio', lean.wallMs / bare.wallMs, 'x');
    report('ingress_cold_start_rss_mib', lean.rssMiB, 'MiB', 1);
    report('ingress_bolt_app_cold_start_ratio', bolt.wallMs / bare.wallMs, 'x');
    report('ingress_bolt_app_cold_start_rss_mib', bolt.rssMiB, 'MiB', 1);
    report('bundle_ingress_bolt_app_kib', boltBytes / 1024, 'KiB', 1);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const ack = await measureAckLatency(1000, 5);
  report('ack_p50_ms', ack.p50, 'ms');
  report('ack_p99_ms', ack.p99, 'ms');
  // Not a target of its own: the whole cold path Slack waits for (load + first request), for context.
  report('ingress_cold_first_ack_ms', ack.coldFirstAckMs, 'ms', 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
