/**
 * `npm run bench:ingress`: cold start of the ingress bundle next to a bare `node -e 0`, bundle
 * sizes, the same for a whole-Bolt-App ingress (the alternative we did not ship), and the warm
 * ack latency of 1,000 signed slash commands against local DynamoDB.
 *
 * Then the same with a fleet (issue 19: "ingress cold start and ack p99 unchanged with a
 * 1,000-service catalog"), named `…_catalog_1000`: the configuration has a `fleet:` section and
 * the CatalogTable holds 1,000 discovered services (bench/support/catalog-ack.ts). It lives here,
 * not in bench:fleet, because the claim is a comparison with the figures above: same machine,
 * same run, same bundle build, so the difference is the fleet's and not the hour's.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBundle, buildHandlers, loadConfigFile } from '../scripts/build';
import { INGRESS_BUNDLE, measureAckLatency } from './support/ack-latency';
import { benchFleetSection, type CatalogAckFigures, measureCatalogAckLatency } from './support/catalog-ack';
import { type ColdStart, measureColdStarts } from './support/cold-start';
import { report } from './support/report';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);

async function main(): Promise<void> {
  const sizes = await buildHandlers({ quiet: true });
  report('bundle_ingress_kib', sizes.ingress! / 1024, 'KiB', 1);
  report('bundle_worker_kib', sizes.worker! / 1024, 'KiB', 1);
  // What a cold start parses; the rest are chunks loaded when a request first needs them.
  report('bundle_ingress_entry_kib', statSync(INGRESS_BUNDLE).size / 1024, 'KiB', 1);

  const scratch = mkdtempSync(join(tmpdir(), 'ecs-chatops-bench-'));
  try {
    const boltBytes = await buildBundle('bench/fixtures/bolt-app-ingress.ts', join(scratch, 'bolt'), loadConfigFile());
    // The shipped ingress with `fleet:` in its embedded configuration.
    const fleetBytes = await buildBundle('src/handlers/ingress.ts', join(scratch, 'ingress-fleet'), { ...loadConfigFile(), fleet: benchFleetSection() });
    const fleetBundle = join(scratch, 'ingress-fleet/index.mjs');
    const variants = [['-e', '0'], [INGRESS_BUNDLE], [join(scratch, 'bolt/index.mjs')], [fleetBundle]];
    // Warm the file cache so the first measured run is not a disk read.
    measureColdStarts(variants, 2);
    // Interleaved: the ratios compare processes started under the same load. With `fleet:`,
    // loading reads nothing (no top-level network call; the catalog is read by a request), so this
    // is the cold start with the fleet configuration embedded, whatever the catalog holds; what
    // the catalog costs is in the first ack below.
    const [bare, lean, bolt, withFleet] = measureColdStarts(variants, RUNS) as [ColdStart, ColdStart, ColdStart, ColdStart];
    console.log(
      `# cold start medians of ${RUNS}: node -e 0 ${bare.wallMs.toFixed(1)} ms / ${bare.rssMiB.toFixed(1)} MiB; ingress ${lean.wallMs.toFixed(1)} ms / ${lean.rssMiB.toFixed(1)} MiB; whole Bolt App ingress ${bolt.wallMs.toFixed(1)} ms / ${bolt.rssMiB.toFixed(1)} MiB (${(boltBytes / 1024).toFixed(1)} KiB)`,
    );
    console.log(
      `# with fleet: configured: ingress ${withFleet.wallMs.toFixed(1)} ms / ${withFleet.rssMiB.toFixed(1)} MiB (${(fleetBytes / 1024).toFixed(1)} KiB, shipped ${(sizes.ingress! / 1024).toFixed(1)} KiB)`,
    );
    report('ingress_cold_start_ratio', lean.wallMs / bare.wallMs, 'x');
    report('ingress_cold_start_rss_mib', lean.rssMiB, 'MiB', 1);
    report('ingress_bolt_app_cold_start_ratio', bolt.wallMs / bare.wallMs, 'x');
    report('ingress_bolt_app_cold_start_rss_mib', bolt.rssMiB, 'MiB', 1);
    report('bundle_ingress_bolt_app_kib', boltBytes / 1024, 'KiB', 1);
    report('ingress_cold_start_ratio_catalog_1000', withFleet.wallMs / bare.wallMs, 'x');
    report('ingress_cold_start_rss_mib_catalog_1000', withFleet.rssMiB, 'MiB', 1);

    // 1,000 acks mixing a declared target, discovered-only aliases (one catalog GetItem beside the
    // allowlist read) and a selector, in the same world once the plain figures are taken; the cold
    // first ack names a discovered alias.
    let catalogAck: CatalogAckFigures | undefined;
    const ack = await measureAckLatency(1000, 5, async (world) => {
      catalogAck = await measureCatalogAckLatency(world, 1000, 5, fleetBundle);
    });
    report('ack_p50_ms', ack.p50, 'ms');
    report('ack_p99_ms', ack.p99, 'ms');
    // Not a target of its own: the whole cold path Slack waits for (load + first request), for context.
    report('ingress_cold_first_ack_ms', ack.coldFirstAckMs, 'ms', 1);

    const byKind = Object.entries(catalogAck!.p99ByKind).map(([kind, p99]) => `${kind} ${p99.toFixed(2)} ms`);
    console.log(`# catalog of ${catalogAck!.catalogSize} services; p99 of 200 acks of each kind alone: ${byKind.join(', ')}`);
    report('ack_p50_ms_catalog_1000', catalogAck!.p50, 'ms');
    report('ack_p99_ms_catalog_1000', catalogAck!.p99, 'ms');
    report('ingress_cold_first_ack_ms_catalog_1000', catalogAck!.coldFirstAckMs, 'ms', 1);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
