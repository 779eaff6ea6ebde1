import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../local/world';

/** `/ecs run` end to end: signed request → ingress → worker → ECS ExecuteCommand → local agent → thread. */
let world: World;
// A temp directory of this file's own (os.tmpdir() reads TMPDIR): the spool count below must not
// see the spools of test files running beside it.
const sharedTmp = process.env.TMPDIR;
const privateTmp = mkdtempSync(join(tmpdir(), 'e2e-run-'));
beforeAll(async () => {
  process.env.TMPDIR = privateTmp;
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
  if (sharedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = sharedTmp;
  rmSync(privateTmp, { recursive: true, force: true });
});

const ephemeral = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;
const lastParent = () => world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;
const threadText = (ts: string) =>
  world.slack
    .replies('C0OPS', ts)
    .map((r) => r.text)
    .join('\n');

describe('/ecs run', () => {
  it('runs backup.sh nightly in the manager container, output in the thread, exit code at the end', async () => {
    expect(ephemeral(await world.slash('U0ALICE', 'run backup.sh nightly'))).toContain('Working on `/ecs run backup.sh nightly`');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs run backup.sh nightly` — backup.sh nightly: exit 0 in/);
    const text = threadText(parent.ts);
    // One living message for the whole run (its last state: the output, no button), then the end.
    const thread = world.slack.replies('C0OPS', parent.ts);
    expect(thread).toHaveLength(2);
    expect(thread[0]!.text).toMatch(/^⏹️ `backup.sh nightly` \(run `[a-z0-9]{6}`\) in `app` of task `\w+` · exited with code 0 after .* · \d+ B of output\n```/);
    expect(thread[0]!.history.some((e) => /^▶️ Running `backup.sh nightly`/.test(e.text))).toBe(true);
    expect(JSON.stringify(thread[0]!.blocks ?? [])).not.toContain('ecs:cancel');
    expect(text).toContain('Backing up database');
    expect(text).toContain('dumping tables... 100%');
    expect(text).not.toContain('dumping tables...  10%'); // \r progress collapsed to its last state
    expect(text).not.toMatch(/\x1b\[/); // colours stripped
    expect(text).not.toContain('ECSCHATOPS_EXIT_'); // the marker never shows
    expect(text).toMatch(/✅ `backup.sh nightly` exited with code 0 after/);
    const exec = world.aws.calls.find((c) => c.action === 'ExecuteCommand')!;
    expect(exec.params).toMatchObject({ cluster: 'main', container: 'app', interactive: true });
  });

  it('reports a failing script with its non-zero exit code, and leaves no spool behind', async () => {
    const spools = () => readdirSync(tmpdir()).filter((n) => n.startsWith('ecs-exec-')).length;
    const before = spools();
    await world.slash('U0ALICE', 'run fail.sh');
    await world.idle();
    expect(spools()).toBe(before);
    const parent = lastParent();
    expect(parent.text).toMatch(/^❌ .*fail.sh: exit 3 in/);
    expect(threadText(parent.ts)).toMatch(/❌ `fail.sh` exited with code 3/);
  });

  it('without its living message (Slack refused it), the run still ends and its output comes as the end reply’s file', async () => {
    world.slack.faults.fail('chat.postMessage', 'internal_error', 1, (args) => args.thread_ts !== undefined && args.blocks !== undefined);
    await world.slash('U0ALICE', 'run backup.sh nightly');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^✅ .*backup.sh nightly: exit 0 in/);
    const thread = world.slack.replies('C0OPS', parent.ts);
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toMatch(/^✅ `backup.sh nightly` exited with code 0/);
    const file = world.slack.workspace.files.find((f) => f.threadTs === parent.ts)!;
    expect(file.content.toString()).toContain('backup complete');
  });

  it('refuses bad arguments with the usage and the pattern that failed, and runs nothing', async () => {
    const before = world.aws.calls.filter((c) => c.action === 'ExecuteCommand').length;
    for (const hostile of ['"; rm -rf /"', '"$(id)"', '"`id`"', 'Nightly', '"a b"']) {
      const text = ephemeral(await world.slash('U0ALICE', `run backup.sh ${hostile}`));
      expect(text).toContain('does not match');
      expect(text).toContain('Usage: `/ecs run backup.sh &lt;label&gt;`');
    }
    expect(ephemeral(await world.slash('U0ALICE', 'run backup.sh'))).toContain('Expected 1 argument (&lt;label&gt;), got 0.');
    expect(ephemeral(await world.slash('U0ALICE', 'run backup.sh a b'))).toContain('Expected 1 argument (&lt;label&gt;), got 2.');
    await world.idle();
    expect(world.aws.calls.filter((c) => c.action === 'ExecuteCommand').length).toBe(before);
  });

  it('answers an unknown script with the scripts this person may run', async () => {
    expect(ephemeral(await world.slash('U0ALICE', 'run backp.sh x'))).toMatch(
      /Unknown script `backp.sh`, or not one of yours\. Did you mean `backup.sh`\? Scripts you may run: `backup.sh`, `restore.sh`, `slow.sh`, `fail.sh`\./,
    );
    // Bob reads every service but runs nothing: he is told no more than that, and the refusal is audited as one.
    expect(ephemeral(await world.slash('U0BOB', 'run backup.sh nightly'))).toBe(
      'Unknown script `backup.sh`, or not one of yours. You may not run any script here: that needs the `operator` role.',
    );
    expect(ephemeral(await world.slash('U0ALICE', 'scripts'))).toContain('/ecs run backup.sh &lt;label&gt;');
  });

  it('allows one run per script and target: a second one says who holds it', async () => {
    await world.slash('U0ALICE', 'run slow.sh 2');
    await new Promise((r) => setTimeout(r, 600));
    await world.slash('U0ALICE', 'run slow.sh 1');
    await world.idle();
    const parents = world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).slice(-2);
    const second = parents.find((p) => p.text.includes('slow.sh 1'))!;
    expect(second.text).toMatch(/^❌ .*already running/);
    expect(threadText(second.ts)).toMatch(/`slow.sh` is already running on `manager`: started by <@U0ALICE> at .* \(run `[a-z0-9]{6}`\)/);
    const first = parents.find((p) => p.text.includes('slow.sh 2'))!;
    expect(first.text).toMatch(/^✅ /);
  });

  it('from another channel, says the script is running but not who started it or where', async () => {
    const ws = world.slack.workspace;
    if (!ws.channels.some((c) => c.id === 'C0DEV')) {
      ws.channels.push({ id: 'C0DEV', name: 'dev', members: ['U0ALICE', ws.bot.userId], isPrivate: false, isArchived: false });
      ws.messages.C0DEV = [];
    }
    await world.slash('U0ALICE', 'run slow.sh 2');
    await new Promise((r) => setTimeout(r, 600));
    await world.slash('U0ALICE', 'run slow.sh 1', 'C0DEV');
    await world.idle();
    const second = ws.messages.C0DEV!.find((m) => m.text.includes('slow.sh 1') && (!m.threadTs || m.threadTs === m.ts))!;
    const said = world.slack
      .replies('C0DEV', second.ts)
      .map((r) => r.text)
      .join('\n');
    expect(said).toContain(
      '`slow.sh` is already running on `manager`. One run at a time; `/ecs cancel &lt;run-id&gt;` stops it (it was started in another channel).',
    );
    expect(said).not.toMatch(/U0ALICE|C0OPS|see its thread/);
  });

  // slow.sh may run 40 minutes: detached, followed by the run workflow (a poll every 2 s here).
  it('cancels a detached run from the Cancel button: the thread says so, the living message loses its button', async () => {
    const done = world.slash('U0ALICE', 'run slow.sh 30');
    await done;
    const running = await world.slack.waitFor(
      () => world.slack.workspace.messages.C0OPS!.find((m) => m.text.startsWith('▶️ Running `slow.sh 30`') && m.text.includes('step 1 of 30 done')),
      10_000,
    );
    const runId = /run `([a-z0-9]{6})`/.exec(running.text)![1]!;
    const click = await world.click('U0ALICE', 'C0OPS', running.ts, { action_id: 'ecs:cancel', value: runId });
    expect(click.statusCode).toBe(200);
    // The cancel is stored once the click is answered: what the living message shows then.
    const steps = (text: string) => (text.match(/step \d+ of 30 done/g) ?? []).length;
    const shownAtCancel = steps(world.slack.message('C0OPS', running.ts)!.text);
    // The clicker is told when it will stop: now, the cancel wakes the workflow's wait.
    const told = await world.slack.waitFor(() => world.slack.workspace.ephemerals.find((e) => e.text.includes(`Cancelling run \`${runId}\``)), 5_000);
    expect(told).toMatchObject({ user: 'U0ALICE', source: 'response_url' });
    expect(told.text).toContain('it runs detached; its processes get Ctrl-C now, then they are killed');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^🚫 .*slow.sh 30: cancelled after/);
    const thread = world.slack.replies('C0OPS', parent.ts);
    expect(thread).toHaveLength(2); // the living message and the end
    expect(thread[1]!.text).toMatch(/^🚫 Cancelled by <@U0ALICE> after [\d.]+ s; the script was interrupted/);
    // The living message ends with the run: its last state, without its Cancel button.
    expect(thread[0]!.text).toMatch(/^⏹️ `slow.sh 30` \(run `[a-z0-9]{6}`\) .* · cancelled after/);
    expect(JSON.stringify(thread[0]!.blocks ?? [])).not.toContain('ecs:cancel');
    // Seen at the workflow's next poll; what the script printed after that is in no message.
    expect(steps(thread[0]!.text) - shownAtCancel).toBeLessThanOrEqual(4);
    expect(thread[0]!.text).not.toContain('job finished');
  }, 40_000);

  // Polls 10 minutes apart (durable waits in real time here): the run ends only because the cancel wakes its wait.
  it('a cancel wakes a detached run between its polls: it stops long before the next poll, the end says so', async () => {
    process.env.RUN_WORKFLOW_POLL_SECONDS = '600';
    try {
      await world.slash('U0ALICE', 'run slow.sh 30');
      const running = await world.slack.waitFor(
        () => world.slack.workspace.messages.C0OPS!.find((m) => m.text.startsWith('▶️ Running `slow.sh 30`') && m.text.includes('every 10 min')),
        10_000,
      );
      const runId = /run `([a-z0-9]{6})`/.exec(running.text)![1]!;
      // The workflow is in its first wait, its callback on the run record.
      const { dynamoState } = await import('../src/platform/state');
      for (let i = 0; i < 100 && !(await dynamoState.get<{ wakeId?: string }>(`run#${runId}`))?.wakeId; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await dynamoState.get<{ wakeId?: string }>(`run#${runId}`))?.wakeId).toBeTruthy();
      const res = await world.slash('U0ALICE', `cancel ${runId}`);
      expect(ephemeral(res)).toContain('it runs detached; its processes get Ctrl-C now, then they are killed');
      // The ingress completed the wait's callback, as itself.
      expect(world.aws.calls.filter((c) => c.action === 'SendDurableExecutionCallbackSuccess')).not.toHaveLength(0);
      await world.idle();
    } finally {
      process.env.RUN_WORKFLOW_POLL_SECONDS = world.env.RUN_WORKFLOW_POLL_SECONDS!;
    }
    const parent = lastParent();
    expect(parent.text).toMatch(/^🚫 .*slow.sh 30: cancelled after/);
    const thread = world.slack.replies('C0OPS', parent.ts);
    expect(thread.at(-1)!.text).toMatch(/^🚫 Cancelled by <@U0ALICE> after [\d.]+ s; the script was interrupted/);
  }, 60_000);

  it('a click on the Cancel button of a run that has ended answers the clicker alone', async () => {
    await world.slash('U0ALICE', 'run fail.sh');
    await world.idle();
    const parent = lastParent();
    const living = world.slack.replies('C0OPS', parent.ts)[0]!;
    const runId = /run `([a-z0-9]{6})`/.exec(living.text)![1]!;
    const before = world.slack.workspace.messages.C0OPS!.length;
    await world.click('U0ALICE', 'C0OPS', living.ts, { action_id: 'ecs:cancel', value: runId });
    await world.idle();
    expect(world.slack.workspace.messages.C0OPS!.length).toBe(before); // nothing new in the channel
    const answer = world.slack.workspace.ephemerals.at(-1)!;
    expect(answer).toMatchObject({ user: 'U0ALICE', source: 'response_url' });
    expect(answer.text).toContain(`No run \`${runId}\` is in progress`);
  });

  it('explains TargetNotConnectedException and points at /ecs verify', async () => {
    const undo = world.aws.faults.fail(
      'ecs:ExecuteCommand',
      { code: 'TargetNotConnectedException', message: 'The execute command failed due to an internal error. Try again later.' },
      1,
    );
    try {
      await world.slash('U0ALICE', 'run fail.sh');
      await world.idle();
    } finally {
      undo();
    }
    const parent = lastParent();
    expect(parent.text).toMatch(/^❌ /);
    const text = threadText(parent.ts);
    expect(text).toContain('TargetNotConnectedException');
    expect(text).toContain('`/ecs verify manager` checks each of these');
  });

  it('says ECS Exec is not ready when the manager task was started without it, with the fix', async () => {
    const tasks = [...world.aws.state.region('111111111111', 'us-east-1').ecs.clusters.get('main')!.tasks.values()].filter(
      (t) => t.group === 'service:manager' && t.lastStatus === 'RUNNING',
    );
    expect(tasks.length).toBeGreaterThan(0);
    for (const t of tasks) t.enableExecuteCommand = false;
    try {
      await world.slash('U0ALICE', 'run fail.sh');
      await world.idle();
    } finally {
      for (const t of tasks) t.enableExecuteCommand = true;
    }
    const text = threadText(lastParent().ts);
    expect(text).toMatch(
      /ECS Exec is not ready on `manager`: \d+ of \d+ running tasks were started without ECS Exec \(a new deployment is needed: `\/ecs deploy manager --redeploy`\)/,
    );
  });
});

describe('/ecs run of a script declared requiresApproval', () => {
  const newParent = (before: Set<string>) =>
    world.slack.waitFor(
      () =>
        (world.slack.workspace.messages.C0OPS ?? []).find(
          (m) => (!m.threadTs || m.threadTs === m.ts) && !before.has(m.ts) && /React :white_check_mark:|❌/.test(m.text),
        ),
      20_000,
    );
  const parentTs = () => new Set((world.slack.workspace.messages.C0OPS ?? []).map((m) => m.ts));
  const execs = () => world.aws.calls.filter((c) => c.action === 'ExecuteCommand').length;
  const outcome = (ts: string) =>
    world.slack.waitFor(() => /^(✅|❌|🚫)/.test(world.slack.message('C0OPS', ts)?.text ?? '') && world.slack.message('C0OPS', ts)!.text, 60_000);

  it('asks for approval first; the requester cannot approve it; once an approver does, it runs and reports its exit code', async () => {
    const before = parentTs();
    const runsBefore = execs();
    expect(ephemeral(await world.slash('U0ALICE', 'run restore.sh 20261124-010203-nightly'))).toContain('Working on');
    const request = await newParent(before);
    expect(request.text).toMatch(/🔐 <@U0ALICE> asks to run `restore.sh 20261124-010203-nightly` on \*manager\* · run `[a-z0-9]{6}`/);
    expect(request.text).toContain('`/work/restore.sh` (Restore a dump (asks another person to approve)) with `20261124-010203-nightly`');
    expect(request.text).toContain('Needs 1 approval from an *approver* (or admin), not <@U0ALICE>');
    expect(execs()).toBe(runsBefore); // nothing runs before the approval

    await world.react('U0ALICE', 'C0OPS', request.ts, 'white_check_mark');
    await world.slack.waitFor(() => world.slack.workspace.ephemerals.find((e) => e.user === 'U0ALICE' && e.text.includes('does not count')), 10_000);
    expect(execs()).toBe(runsBefore);

    await world.react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
    const end = await outcome(request.ts);
    expect(end).toMatch(/^✅ 🔐 <@U0ALICE> asks to run `restore.sh 20261124-010203-nightly`/);
    const text = threadText(request.ts);
    expect(text).toContain('👍 Approved by <@U0BOB>: running `restore.sh 20261124-010203-nightly` now.');
    expect(text).toContain('restore of 20261124-010203-nightly complete');
    expect(text).toMatch(/exited with code 0/);
  });

  it('a rejected request runs nothing, says so, and frees the script for the next request', async () => {
    const before = parentTs();
    const runsBefore = execs();
    await world.slash('U0ALICE', 'run restore.sh 20261124-010203-nightly');
    const request = await newParent(before);
    await world.react('U0BOB', 'C0OPS', request.ts, 'x');
    expect(await outcome(request.ts)).toMatch(/^🚫 .*not run: rejected by <@U0BOB>/s);
    expect(threadText(request.ts)).toContain('🚫 Not run: rejected by <@U0BOB>. Nothing was started.');
    expect(execs()).toBe(runsBefore);
    // The lock went with the request: a new request is accepted (and withdrawn by its requester).
    const again = parentTs();
    await world.slash('U0ALICE', 'run restore.sh 20261124-010203-nightly');
    const next = await newParent(again);
    expect(next.text).toContain('asks to run');
    await world.react('U0ALICE', 'C0OPS', next.ts, 'x');
    expect(await outcome(next.ts)).toMatch(/withdrawn by the requester/);
  });

  it('a run cancelled while it waits for its approval never starts, even when approved afterwards', async () => {
    const before = parentTs();
    const runsBefore = execs();
    await world.slash('U0ALICE', 'run restore.sh 20261124-010203-nightly');
    const request = await newParent(before);
    const runId = /run `([a-z0-9]{6})`/.exec(request.text)![1]!;
    expect(ephemeral(await world.slash('U0ALICE', `cancel ${runId}`))).toContain('while it waits for its approval: it will not start, even if approved');
    await world.react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
    const end = await outcome(request.ts);
    expect(end).toMatch(/^🚫 .*Cancelled by <@U0ALICE> before it started/s);
    expect(threadText(request.ts)).toContain('🚫 Cancelled by <@U0ALICE> before it started. Nothing was run.');
    expect(execs()).toBe(runsBefore);
  });
});
