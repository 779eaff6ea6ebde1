/**
 * `npm run bench:run-thread`: how many thread messages a long backup leaves, in the local world.
 *
 *  - run_thread_messages_40min: `/ecs run long-backup.sh` (detached: it may take an hour),
 *    followed by the durable run workflow polling every 30 simulated seconds with skipped time
 *    (the waits are skipped; the script and every exec session run in real time). The script
 *    prints a log line every 0.25 s with a `\r`-redrawn progress bar between them, until the
 *    workflow has followed it for at least 40 simulated minutes (80 polls), then ends. Counted:
 *    the replies in the command's thread, the parent excluded; the end reply is the share of the
 *    full output file (its comment), so the file counts as that one message.
 *
 *  - run_cancel_to_end_s: `/ecs cancel` of a run the worker follows itself (a script printing a
 *    line every 0.2 s), from the cancel's answer to the end reply ("🚫 Cancelled by …") in the
 *    thread: the worker seeing the cancel, Ctrl-C, the script stopping, the session's end and the
 *    report. The worst of 3. (A detached run's cancel wakes the workflow's wait between polls,
 *    src/workflows/run-wake.ts; not measured here, where durable waits are skipped: see
 *    test/e2e-run.test.ts, polls 10 minutes apart, for its bound.)
 *
 * Loopback only; bounded by BENCH_RUN_THREAD_TIMEOUT_S (default 300 s).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { report, runBench } from './support/report';

const POLL_SECONDS = 30;
const SIMULATED_MINUTES = 40;
const TARGET_MESSAGES = 5;
const BENCH_TIMEOUT_S = Number(process.env.BENCH_RUN_THREAD_TIMEOUT_S ?? 300);

/** Ends once the file named by its argument exists (the bench creates it after 80 polls). */
const LONG_BACKUP_SH = `#!/bin/sh
# long-backup.sh <flag-file>: a backup's log, one table every 0.25 s, a progress bar redrawn with \\r.
i=0
while [ ! -e "$1" ]; do
  i=$((i + 1))
  printf '\\r\\033[Kdumped table app.events_%04d (%d rows)\\n' "$i" "$((i * 1000))"
  printf '\\r[%-20s] %d tables' "$(printf '%*s' $((i % 21)) '' | tr ' ' '#')" "$i"
  sleep 0.25
done
printf '\\r\\033[Kbackup complete: %d tables\\n' "$i"
`;
/** Prints until it is stopped. */
const TICKING_SH = `#!/bin/sh
i=0
while :; do i=$((i + 1)); echo "tick $i"; sleep 0.2; done
`;
const CANCELS = 3;

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  process.env.RUN_WORKFLOW_POLL_SECONDS = String(POLL_SECONDS);
  const work = mkdtempSync(join(tmpdir(), 'bench-run-thread-'));
  const scriptsDir = join(work, 'scripts');
  // Outside the container's own /tmp, /work and /root (the local agent maps those), so the script sees it.
  const flagDir = mkdtempSync('/var/tmp/bench-run-thread-');
  const flag = join(flagDir, 'done');
  let world: import('../local/world').World | undefined;
  try {
    mkdirSync(scriptsDir);
    writeFileSync(join(scriptsDir, 'long-backup.sh'), LONG_BACKUP_SH);
    chmodSync(join(scriptsDir, 'long-backup.sh'), 0o755);
    writeFileSync(join(scriptsDir, 'ticking.sh'), TICKING_SH);
    chmodSync(join(scriptsDir, 'ticking.sh'), 0o755);
    const [{ startWorld }, { getConfig, setConfig }, { parseConfig }] = await Promise.all([
      import('../local/world'),
      import('../src/config/load'),
      import('../src/config/schema'),
    ]);
    const base = getConfig();
    setConfig(
      parseConfig({
        ...base,
        scripts: {
          ...base.scripts,
          'ticking.sh': { target: 'manager', path: '/work/ticking.sh', timeoutSeconds: 300 },
          'long-backup.sh': { target: 'manager', path: '/work/long-backup.sh', args: [{ name: 'flag', pattern: '/[A-Za-z0-9/._-]+' }], timeoutSeconds: 3600 },
        },
      }),
    );
    world = await startWorld({ durableSkipTime: true, exec: { scriptsDir } });
    process.env.RUN_WORKFLOW_POLL_SECONDS = String(POLL_SECONDS); // the world sets its own
    const w = world;
    const follows = () => w.aws.calls.filter((c) => c.action === 'ExecuteCommand').length;
    const before = follows();
    const answer = await w.slash('U0ALICE', `run long-backup.sh ${flag}`);
    if (answer.statusCode !== 200) throw new Error(`/ecs run: HTTP ${answer.statusCode}`);
    // One ExecuteCommand starts it; each poll is one more.
    const polls = SIMULATED_MINUTES * (60 / POLL_SECONDS);
    await w.slack.waitFor(() => follows() - before > polls, BENCH_TIMEOUT_S * 1000);
    writeFileSync(flag, '');
    await w.idle();
    const parent = w.slack.workspace.messages.C0OPS!.find((m) => m.text.includes('/ecs run long-backup.sh'))!;
    const result = w.workflows.at(-1)?.getResult() as { polls?: number } | undefined;
    const thread = w.slack.replies('C0OPS', parent.ts);
    const files = w.slack.workspace.files.filter((f) => f.uploaded && f.threadTs === parent.ts);
    const simulated = ((result?.polls ?? 0) * POLL_SECONDS) / 60;
    console.log(
      `# ${result?.polls} polls every ${POLL_SECONDS} s = ${simulated.toFixed(0)} simulated minutes; parent ${parent.text.slice(0, 80)}…; ${thread.length} thread messages (${files.length} file share(s) among them: ${files.map((f) => `${f.title}, ${f.content.length} B`).join('; ')})`,
    );
    for (const m of thread) console.log(`#   ${m.text.split('\n')[0]!.slice(0, 140)}${m.files.length ? ' [file]' : ''} (${m.history.length} edits)`);
    report('run_thread_messages_40min', thread.length, 'messages', 0);

    // ---- cancel of a run in the worker ---------------------------------------------------------
    const took: number[] = [];
    for (let i = 0; i < CANCELS; i++) {
      const seen = new Set(w.slack.workspace.messages.C0OPS!.map((m) => m.ts));
      await w.slash('U0ALICE', 'run ticking.sh');
      const living = await w.slack.waitFor(
        () => w.slack.workspace.messages.C0OPS!.find((m) => !seen.has(m.ts) && m.text.startsWith('▶️ Running `ticking.sh`') && m.text.includes('tick 2')),
        30_000,
      );
      const runId = /run `([a-z0-9]{6})`/.exec(living.text)![1]!;
      await w.slash('U0ALICE', `cancel ${runId}`);
      const asked = Date.now();
      await w.slack.waitFor(() => w.slack.replies('C0OPS', living.threadTs!).some((m) => m.text.startsWith('🚫 Cancelled')), 30_000);
      took.push((Date.now() - asked) / 1000);
      await w.idle();
    }
    console.log(`# cancel → end reply: ${took.map((t) => `${t.toFixed(2)} s`).join(', ')} (cancel seen within 0.5 s, Ctrl-C, 1 s of grace at most)`);
    report('run_cancel_to_end_s', Math.max(...took), 's');
    if (simulated < SIMULATED_MINUTES) {
      console.log(`# FAIL the run was followed for ${simulated} simulated minutes, fewer than ${SIMULATED_MINUTES}`);
      process.exitCode = 1;
    }
    if (thread.length > TARGET_MESSAGES) {
      console.log(`# FAIL ${thread.length} thread messages, more than ${TARGET_MESSAGES}`);
      process.exitCode = 1;
    }
  } finally {
    await world?.close();
    rmSync(work, { recursive: true, force: true });
    rmSync(flagDir, { recursive: true, force: true });
  }
}

runBench('run-thread', main, BENCH_TIMEOUT_S);
