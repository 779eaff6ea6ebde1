/**
 * `npm run bench:exec`: the `/ecs run` path end to end in the local world (signed slash command →
 * ingress → worker → ECS ExecuteCommand → local agent → Slack thread), plus the receive-path codec.
 *
 *  - exec_codec_mb_s: bench/exec-codec.ts, run as its own process (its lines are passed through).
 *  - exec_line_to_slack_p95_s: a script prints a line with its own epoch-ms clock every ~200 ms
 *    for ~15 s; for each line, the first Slack call (chat.postMessage/chat.update, as the local
 *    Slack server received it) whose text shows it. p95 of (arrival − printed). The agent keeps its
 *    real-like 1 s initial read delay, which only the first line pays. Target ≤ 1.5 s.
 *  - exec_100mb_rss_mib: a script prints BENCH_EXEC_FLOOD_MB (default 100) × 10^6 bytes; the run
 *    must finish with exit 0, the whole log attached (byte for byte) and the thread saying its size.
 *    The figure is the peak RSS of the process that runs the bot's worker: the production worker
 *    bundle (built here with esbuild, as `npm run build` does, with this bench's configuration),
 *    under plain Node in a child process, invoked by the emulator's Lambda runtime over IPC. The
 *    local AWS, Slack, DynamoDB and exec agent stay in this process, so they are not counted.
 *    Target ≤ 200 MiB.
 * Every chat.update is checked against Slack's pace: no two for the same message within 1 s.
 *
 * Loopback only; bounded by BENCH_EXEC_TIMEOUT_S (default 600 s) for the whole bench.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config/schema';
import { percentile, report, runBench } from './support/report';
import { mib, withWorkerWorld } from './support/worker-world';

const FLOOD_MB = Number(process.env.BENCH_EXEC_FLOOD_MB ?? 100);
const TICKS = Number(process.env.BENCH_EXEC_TICKS ?? 75); // × 200 ms ≈ 15 s
const BENCH_TIMEOUT_S = Number(process.env.BENCH_EXEC_TIMEOUT_S ?? 600);
const RSS_TARGET_MIB = 200;
const LATENCY_TARGET_S = 1.5;
/** Slack's pace for chat.update on one message, which ThreadOutput promises to keep. */
const UPDATE_INTERVAL_MS = 1000;
/** Every flood line is this, plus its newline: 100 bytes, so 10^6 bytes are exactly 10^4 lines. */
const FLOOD_LINE = `flood ${'0'.repeat(93)}`;

const TICKER_SH = `#!/bin/sh
# ticker.sh <count>: one line every ~200 ms, each carrying the epoch milliseconds it was printed at.
n=\${1:-75}
i=0
while [ "$i" -lt "$n" ]; do
  i=$((i + 1))
  printf 'tick %d at %s\\n' "$i" "$(date +%s%3N)"
  sleep 0.2
done
`;
const FLOOD_SH = `#!/bin/sh
# flood.sh <megabytes>: <megabytes> x 10^6 bytes of 100-byte lines, as fast as they can be written.
yes '${FLOOD_LINE}' | head -c $(($1 * 1000000))
`;

/** bench/exec-codec.ts in its own process, so its hot loop neither warms nor disturbs the rest. */
function codecBench(): void {
  const codec = fileURLToPath(new URL('./exec-codec.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', codec], { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`bench/exec-codec.ts failed: ${result.stderr || result.error?.message}`);
  process.stdout.write(result.stdout);
}

const formatMiB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  codecBench();

  const prepare = (work: string) => {
    const scriptsDir = join(work, 'scripts');
    mkdirSync(scriptsDir);
    for (const [name, text] of [
      ['ticker.sh', TICKER_SH],
      ['flood.sh', FLOOD_SH],
    ] as const) {
      writeFileSync(join(scriptsDir, name), text);
      chmodSync(join(scriptsDir, name), 0o755);
    }
    const probe = spawnSync('/bin/sh', ['-c', 'date +%s%3N'], { encoding: 'utf8' }).stdout.trim();
    if (!/^\d{13}$/.test(probe)) throw new Error(`this machine's date cannot print epoch milliseconds (date +%s%3N gave ${JSON.stringify(probe)})`);
    return { exec: { scriptsDir } }; // default agent timings: 1 s initial read delay
  };
  const configure = async (base: Config) =>
    (await import('../src/config/schema')).parseConfig({
      ...base,
      scripts: {
        ...base.scripts,
        'ticker.sh': { target: 'manager', path: '/work/ticker.sh', args: [{ name: 'count', pattern: '[0-9]{1,4}' }], timeoutSeconds: 120 },
        'flood.sh': { target: 'manager', path: '/work/flood.sh', args: [{ name: 'megabytes', pattern: '[0-9]{1,4}' }], timeoutSeconds: 600 },
      },
    });
  await withWorkerWorld('exec', { configure, prepare }, async ({ world, worker, failures, slash: runScript }) => {
    const slack = world.slack;

    // ---- line → Slack latency --------------------------------------------------------------
    const callsBefore = slack.calls.length;
    await runScript(`run ticker.sh ${TICKS}`);
    const shown = slack.calls.slice(callsBefore).filter((c) => (c.method === 'chat.postMessage' || c.method === 'chat.update') && c.status === 200 && !c.error);
    // The run's living message shows the latest lines: every line is in some call, not all in the end state.
    const printed = shown.flatMap((c) => [...String(c.args.text ?? '').matchAll(/tick (\d+) at (\d{13})/g)].map((m) => ({ line: m[0], at: Number(m[2]) })));
    const lines = [...new Map(printed.map((p) => [p.line, p])).values()];
    if (lines.length !== TICKS) throw new Error(`the thread shows ${lines.length} of the ${TICKS} ticker lines`);
    const latencies = lines.map(({ line, at }) => {
      const call = shown.find((c) => String(c.args.text ?? '').includes(line));
      if (!call) throw new Error(`no Slack call showed "${line}"`);
      return (call.at - at) / 1000;
    });
    const sorted = [...latencies].sort((a, b) => a - b);
    const p95 = percentile(sorted, 95);
    console.log(
      `# line→Slack: ${lines.length} lines, 1 every ~200 ms; from the script's printf to the local Slack receiving the call that shows the line. Includes pty → agent (real-like 1 s initial read delay, first line only: ${latencies[0]!.toFixed(2)} s) → ECS Exec frames → worker → ≤1 update/s/message pacing → HTTP; p50 ${percentile(sorted, 50).toFixed(2)} s, max ${sorted.at(-1)!.toFixed(2)} s, p95 without the first line ${percentile(
        [...latencies.slice(1)].sort((a, b) => a - b),
        95,
      ).toFixed(2)} s`,
    );
    report('exec_line_to_slack_p95_s', p95, 's');
    if (p95 > LATENCY_TARGET_S) failures.push(`line→Slack p95 ${p95.toFixed(2)} s is above ${LATENCY_TARGET_S} s`);

    // ---- 100 MB --------------------------------------------------------------------------------
    const baselineMiB = (await worker.memory()).peakMiB;
    const produced = FLOOD_MB * 1e6;
    const flood = await runScript(`run flood.sh ${FLOOD_MB}`);
    const { peakMiB, top } = await worker.memory();
    const thread = slack.replies('C0OPS', flood.parent.ts);
    const file = slack.workspace.files.find((f) => f.uploaded && f.threadTs === flood.parent.ts);
    if (!file) throw new Error('the flood run attached no log file');
    if (file.content.length !== produced) failures.push(`the attached log has ${file.content.length} bytes; the script printed ${produced}`);
    else if (!file.content.equals(Buffer.alloc(produced, `${FLOOD_LINE}\n`)))
      failures.push('the attached log has the right size but not the bytes the script printed');
    const size = formatMiB(produced);
    const lineCount = produced / (FLOOD_LINE.length + 1);
    const threadText = thread.map((r) => r.text).join('\n');
    if (!threadText.includes(`${size} of output`)) failures.push(`the thread does not say "${size} of output"`);
    if (!file.title.includes(`${lineCount} lines, ${size}`)) failures.push(`the file's title does not say "${lineCount} lines, ${size}"`);
    console.log(
      `# ${FLOOD_MB} MB (MB = 10^6 B; ${lineCount} lines of 100 B) from the slash command to the worker's end in ${flood.seconds.toFixed(1)} s (${(FLOOD_MB / flood.seconds).toFixed(1)} MB/s; the 1 s initial read delay, the upload and the thread included); attached file ${file.content.length} B, content checked byte for byte`,
    );
    console.log(
      `# peak RSS of the worker process (production bundle, plain Node, child process; AWS/Slack/DynamoDB emulators and the exec agent not counted): ${peakMiB.toFixed(0)} MiB over its life; ${baselineMiB.toFixed(0)} MiB before the ${FLOOD_MB} MB run (load + ticker run); heaviest 50 ms sample: rss ${mib(top.rss)}, V8 heap ${mib(top.heapUsed)} used of ${mib(top.heapTotal)}, external ${mib(top.external)} (array buffers ${mib(top.arrayBuffers)})`,
    );
    report(`exec_${FLOOD_MB}mb_rss_mib`, peakMiB, 'MiB', 0);
    report(`exec_${FLOOD_MB}mb_run_s`, flood.seconds, 's', 1);
    if (peakMiB > RSS_TARGET_MIB) failures.push(`peak RSS ${peakMiB.toFixed(0)} MiB is above ${RSS_TARGET_MIB} MiB`);

    // ---- Slack's pace: ≤ 1 chat.update per second per message, over both runs ------------------
    const updates = slack.calls.slice(callsBefore).filter((c) => c.method === 'chat.update');
    const lastAt = new Map<string, number>();
    let minGap = Number.POSITIVE_INFINITY;
    for (const call of updates) {
      const ts = String(call.args.ts);
      const previous = lastAt.get(ts);
      if (previous !== undefined) minGap = Math.min(minGap, call.at - previous);
      lastAt.set(ts, call.at);
    }
    console.log(
      `# pace: ${updates.length} chat.update calls on ${lastAt.size} messages; shortest gap between two updates of one message ${Number.isFinite(minGap) ? `${minGap} ms` : 'n/a'} (limit ${UPDATE_INTERVAL_MS} ms)`,
    );
    if (minGap < UPDATE_INTERVAL_MS) failures.push(`two chat.update calls for one message came ${minGap} ms apart`);
  });
}

runBench('exec', main, BENCH_TIMEOUT_S);
