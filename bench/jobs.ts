/**
 * `npm run bench:jobs`: one-off jobs (`/ecs job`) in the local world.
 *
 *  - job_log_line_to_thread_p95_s: a job whose container prints a numbered line every 0.5 s for
 *    30 s (`bin/tick`, local/aws/job-programs.ts). Each line is in the emulator's CloudWatch Logs
 *    stream at its timestamp (the emulator writes what a running task prints as it is due); the
 *    figure is from that timestamp to the first moment the line shows in the job's living message
 *    in the thread (the local Slack's workspace, watched every 20 ms): the worker's poll of the
 *    task and its stream, and the living message's edit interval. p95 over the 60 lines (goal ≤ 2 s).
 *
 * Loopback only; bounded by BENCH_JOBS_TIMEOUT_S (default 180 s).
 */
import type { World } from '../local/world';
import { percentile, report, runBench } from './support/report';

const LINES = 60;
const EVERY_MS = 500;
const BENCH_TIMEOUT_S = Number(process.env.BENCH_JOBS_TIMEOUT_S ?? 180);

runBench(
  'jobs',
  async () => {
    let world: World | undefined;
    try {
      const [{ startWorld }, { getConfig, setConfig }, { parseConfig }, { logsState }] = await Promise.all([
        import('../local/world'),
        import('../src/config/load'),
        import('../src/config/schema'),
        import('../local/aws/services/logs'),
      ]);
      const base = getConfig();
      setConfig(
        parseConfig({
          ...base,
          jobs: { ...base.jobs, tick: { target: 'web', container: 'app', command: ['bin/tick', String(LINES), String(EVERY_MS)], timeoutSeconds: 300 } },
        }),
      );
      world = await startWorld();
      const w = world;
      Object.assign(w.aws.state.ecsTimings, { provisionMs: 1000, pullMs: 1000, stopMs: 1000 });
      // Emulator time → real time (the clock runs at rate 1 from its own anchor).
      const offset = w.aws.clock.now() - Date.now();
      const seen = new Map<number, number>();
      const watch = setInterval(() => {
        const at = Date.now() + offset;
        for (const m of w.slack.workspace.messages.C0OPS ?? []) {
          if (!m.text.includes('Job `tick`')) continue;
          for (const match of m.text.matchAll(/^tick (\d+)$/gm)) {
            const n = Number(match[1]);
            if (!seen.has(n)) seen.set(n, at);
          }
        }
      }, 20);
      const answer = await w.slash('U0ALICE', 'job tick');
      if (answer.statusCode !== 200) throw new Error(`/ecs job: HTTP ${answer.statusCode}`);
      await w.slack.waitFor(() => seen.size >= LINES, BENCH_TIMEOUT_S * 1000);
      clearInterval(watch);
      await w.idle();
      const region = w.aws.state.region('111111111111', 'us-east-1');
      const streams = [...(logsState(region).get('/ecs/web')?.streams.values() ?? [])];
      const written = new Map<number, number>();
      for (const stream of streams) for (const e of stream.events) if (/^tick \d+$/.test(e.message)) written.set(Number(e.message.slice(5)), e.timestamp);
      const delays = [...seen].flatMap(([n, at]) => (written.has(n) ? [(at - written.get(n)!) / 1000] : [])).sort((a, b) => a - b);
      if (delays.length < LINES) throw new Error(`only ${delays.length} of ${LINES} lines matched their log events`);
      const parent = w.slack.workspace.messages.C0OPS!.find((m) => m.text.includes('/ecs job tick'));
      console.log(
        `# ${delays.length} lines; median ${percentile(delays, 50).toFixed(2)} s, max ${delays.at(-1)!.toFixed(2)} s; parent: ${parent?.text.slice(0, 80)}`,
      );
      report('job_log_line_to_thread_p95_s', percentile(delays, 95), 's');
    } finally {
      await world?.close();
    }
  },
  BENCH_TIMEOUT_S,
);
