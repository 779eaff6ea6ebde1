/**
 * `npm run bench:logs`: `/ecs logs web --since 15m` over 100,000 lines in the window, attached whole,
 * end to end in the local world (signed slash command → ingress → worker → FilterLogEvents pages →
 * spool on disk → files upload → thread).
 *
 *  - logs_100k_lines_s: from the slash command to the worker's end (the thread marked, the file
 *    attached). Target ≤ 10 s.
 *  - logs_100k_lines_rss_mib: the peak RSS of the process that runs the bot's worker: the
 *    production worker bundle under plain Node in a child process (bench/support/worker-process.ts),
 *    invoked by the emulator's Lambda runtime over IPC; the local AWS (holding the 100,000 events),
 *    Slack and DynamoDB stay in this process and are not counted. Target ≤ 200 MiB.
 * The attached file is checked: 100,000 lines, each once, newest last.
 *
 * Loopback only; bounded by BENCH_LOGS_TIMEOUT_S (default 300 s).
 */
import { report, runBench } from './support/report';
import { mib, withWorkerWorld } from './support/worker-world';

const LINES = Number(process.env.BENCH_LOGS_LINES ?? 100_000);
const BENCH_TIMEOUT_S = Number(process.env.BENCH_LOGS_TIMEOUT_S ?? 300);
const TIME_TARGET_S = 10;
const RSS_TARGET_MIB = 200;

async function main(): Promise<void> {
  await withWorkerWorld('logs', {}, async ({ world, worker, failures, slash }) => {
    const { logsState } = await import('../local/aws/services/logs');
    // 100,000 lines of web's running tasks in the last 10 minutes, interleaved, ~100 bytes each.
    const regional = world.aws.state.region('111111111111', 'us-east-1');
    const tasks = [...regional.ecs.clusters.get('main')!.tasks.values()].filter((t) => t.group === 'service:web' && t.lastStatus === 'RUNNING');
    const group = logsState(regional).get('/ecs/web')!;
    const now = Date.now();
    const start = now - 600_000;
    const step = 590_000 / LINES;
    tasks.forEach((task, k) => {
      const id = task.taskArn!.slice(task.taskArn!.lastIndexOf('/') + 1);
      const name = `web/app/${id}`;
      const events = [];
      for (let i = k; i < LINES; i += tasks.length) {
        const t = Math.floor(start + i * step);
        const level = i % 97 === 0 ? 'ERROR' : 'INFO';
        events.push({
          timestamp: t,
          ingestionTime: t + 20,
          message: `{"level":"${level}","msg":"GET /api/orders/${i} 200","n":${i},"ms":${i % 250},"pad":"xxxxxxxxxx"}`,
        });
      }
      group.streams.set(name, { logStreamName: name, creationTime: start, events });
    });

    const baselineMiB = (await worker.memory()).peakMiB;
    const { parent, seconds } = await slash('logs web --since 15m');
    const { peakMiB, top } = await worker.memory();
    const file = world.slack.workspace.files.find((f) => f.uploaded && f.threadTs === parent.ts);
    if (!file) throw new Error('no file attached');
    const lines = file.content.toString('utf8').trimEnd().split('\n');
    const numbers = lines.map((l) => Number(/"n":(\d+)/.exec(l)?.[1]));
    if (lines.length !== LINES) failures.push(`the attached file has ${lines.length} lines, not ${LINES}`);
    else if (!numbers.every((n, i) => n === i)) failures.push('the attached file does not have every line once, in time order');
    const pages = world.aws.calls.filter((c) => c.action === 'FilterLogEvents').length;
    console.log(
      `# ${LINES} lines (${(file.content.length / 1e6).toFixed(1)} MB attached) over ${tasks.length} tasks' streams in ${pages} FilterLogEvents pages, slash command to the thread marked in ${seconds.toFixed(2)} s`,
    );
    console.log(
      `# peak RSS of the worker process (production bundle, plain Node, child process; emulators not counted): ${peakMiB.toFixed(0)} MiB; ${baselineMiB.toFixed(0)} MiB before; heaviest 50 ms sample: rss ${mib(top.rss)}, V8 heap ${mib(top.heapUsed)} used of ${mib(top.heapTotal)}, external ${mib(top.external)}`,
    );
    report('logs_100k_lines_s', seconds, 's');
    report('logs_100k_lines_rss_mib', peakMiB, 'MiB', 0);
    if (seconds > TIME_TARGET_S) failures.push(`${seconds.toFixed(2)} s is above ${TIME_TARGET_S} s`);
    if (peakMiB > RSS_TARGET_MIB) failures.push(`peak RSS ${peakMiB.toFixed(0)} MiB is above ${RSS_TARGET_MIB} MiB`);
  });
}

runBench('logs', main, BENCH_TIMEOUT_S);
