import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ECS_TIMINGS } from '../local/aws/state';
import { startWorld, type World } from '../local/world';

/** `/ecs job` end to end: signed request → ingress → worker → ECS RunTask → the task's log stream → thread. */
let world: World;
/** Short task steps: a job's life takes seconds here, its program's own pace unchanged. */
// Each step longer than a poll (1 s), so the thread sees it as people would (ECS takes 15–30 s).
const QUICK = { provisionMs: 1500, pullMs: 1500, stopMs: 300 };
beforeAll(async () => {
  world = await startWorld();
  Object.assign(world.aws.state.ecsTimings, QUICK);
});
afterEach(() => {
  Object.assign(world.aws.state.ecsTimings, QUICK);
});
afterAll(async () => {
  Object.assign(world?.aws.state.ecsTimings ?? {}, DEFAULT_ECS_TIMINGS);
  await world?.close();
});

const ephemeral = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;
const lastParent = () => world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;

describe('/ecs job', () => {
  it('runs migrate: the task starting, its log lines as they come, exit code 0 and the stop code at the end', async () => {
    expect(ephemeral(await world.slash('U0ALICE', 'job migrate latest'))).toContain('Working on `/ecs job migrate latest`');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs job migrate latest` — migrate latest: exit 0 in/);
    const thread = world.slack.replies('C0OPS', parent.ts);
    expect(thread).toHaveLength(2);
    const [living, end] = thread;
    expect(living!.text).toMatch(
      /^⏹️ Job `migrate latest` \(run `[a-z0-9]{6}`\) in task `\w{12}` · PROVISIONING → PENDING → RUNNING → (DEPROVISIONING → )?STOPPED · .* · exit code 0\n```/,
    );
    expect(living!.text).toContain('== 0042_backfill_totals: migrating');
    expect(living!.history.some((e) => /^▶️ Job `migrate latest`/.test(e.text) && e.text.includes('RUNNING'))).toBe(true);
    // Lines were shown while the task ran, before it stopped.
    expect(living!.history.some((e) => e.text.includes('acquired advisory lock') && !e.text.includes('STOPPED'))).toBe(true);
    expect(JSON.stringify(living!.blocks ?? [])).not.toContain('ecs:cancel');
    expect(end!.text).toMatch(/^✅ `migrate latest` \(run `[a-z0-9]{6}`\) succeeded after/);
    expect(end!.text).toContain('• `app`: exit code 0');
    expect(end!.text).toContain('• Stop code `EssentialContainerExited`: Essential container in task exited');

    const runId = /run `([a-z0-9]{6})`/.exec(end!.text)![1]!;
    const run = world.aws.calls.filter((c) => c.action === 'RunTask').at(-1)!;
    expect(run.params).toMatchObject({
      cluster: 'main',
      startedBy: runId,
      clientToken: `ecs-chatops-job-${runId}`,
      launchType: 'FARGATE',
      overrides: { containerOverrides: [{ name: 'app', command: ['bin/migrate', 'latest'], environment: [{ name: 'MIGRATE_LOCK_TIMEOUT', value: '30' }] }] },
    });
    expect(run.params.tags).toContainEqual({ key: 'ecs-chatops:slack-user-id', value: 'U0ALICE' });
    expect(run.params.networkConfiguration).toMatchObject({ awsvpcConfiguration: { subnets: expect.any(Array) } });
  });

  it('migrate-broken fails with its exit code', async () => {
    await world.slash('U0ALICE', 'job migrate-broken');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^❌ .*migrate-broken: failed \(app exited with code 2\)/);
    const end = world.slack.replies('C0OPS', parent.ts).at(-1)!.text;
    expect(end).toMatch(/^❌ `migrate-broken` \(run `\w+`\) failed after .*: app exited with code 2\./);
    expect(end).toContain('• `app`: exit code 2');
    expect(world.slack.replies('C0OPS', parent.ts)[0]!.text).toContain('PG::UndefinedColumn');
  });

  it('a job whose image does not exist never starts: a failure with AWS’s reason, never exit 0', async () => {
    await world.slash('U0ALICE', 'job reindex');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^❌ .*reindex: failed \(the task never started: CannotPullContainerError/);
    const end = world.slack.replies('C0OPS', parent.ts).at(-1)!.text;
    expect(end).toContain('• `app`: no exit code');
    expect(end).toContain('• Stop code `TaskFailedToStart`: CannotPullContainerError');
  });

  it('a job that cannot be placed: a failure with ECS’s reason, no task', async () => {
    await world.slash('U0ALICE', 'job bulk-import');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^❌ .*bulk-import: not placed \(Capacity is unavailable at this time/);
    expect(world.slack.replies('C0OPS', parent.ts).at(-1)!.text).toMatch(
      /^❌ `bulk-import` \(run `\w+`\) could not start: ECS placed no task: Capacity is unavailable/,
    );
  });

  it('the Cancel button stops the task (StopTask, the user in the reason): cancelled, not a success', async () => {
    world.aws.state.ecsTimings.pullMs = 60_000; // the task waits in PENDING until stopped
    void world.slash('U0ALICE', 'job migrate');
    const running = await world.slack.waitFor(
      () => world.slack.workspace.messages.C0OPS!.find((m) => m.text.startsWith('▶️ Job `migrate`') && m.text.includes('PENDING')),
      10_000,
    );
    const runId = /run `([a-z0-9]{6})`/.exec(running.text)![1]!;
    await world.click('U0ALICE', 'C0OPS', running.ts, { action_id: 'ecs:cancel', value: runId });
    const told = await world.slack.waitFor(() => world.slack.workspace.ephemerals.find((e) => e.text.includes(`Cancelling run \`${runId}\``)), 5_000);
    expect(told.text).toContain('its task is stopped now (StopTask)');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^🚫 .*migrate: cancelled after/);
    const stop = world.aws.calls.filter((c) => c.action === 'StopTask').at(-1)!;
    expect(stop.params.reason).toBe(`Cancelled in Slack by U0ALICE (ecs-chatops run ${runId})`);
    const end = world.slack.replies('C0OPS', parent.ts).at(-1)!.text;
    expect(end).toMatch(/^🚫 `migrate` \(run `\w+`\) was cancelled by <@U0ALICE>/);
    expect(end).toContain('• Stop code `UserInitiated`');
  }, 30_000);

  it('refuses bad arguments with the usage, and an unknown job with the closest match; starts nothing', async () => {
    const before = world.aws.calls.filter((c) => c.action === 'RunTask').length;
    expect(ephemeral(await world.slash('U0ALICE', 'job migrate 12'))).toMatch(/`version` `12` does not match[\s\S]*Usage: `\/ecs job migrate \[version\]`/);
    expect(ephemeral(await world.slash('U0ALICE', 'job migrat'))).toContain('Unknown job `migrat`, or not one of yours. Did you mean `migrate`?');
    expect(world.aws.calls.filter((c) => c.action === 'RunTask').length).toBe(before);
  });
});

// Jobs longer than one Lambda, and jobs that need an approval: the worker plans the task and hands
// it to the run workflow (a poll every 2 s in this world), which starts, follows and reports it.
describe('/ecs job through the durable run workflow', () => {
  const threadText = (ts: string) =>
    world.slack
      .replies('C0OPS', ts)
      .map((m) => m.text)
      .join('\n');
  const runTasks = () => world.aws.calls.filter((c) => c.action === 'RunTask');
  const requestTs = (before: Set<string>) =>
    world.slack.waitFor(
      () => world.slack.workspace.messages.C0OPS!.find((m) => (!m.threadTs || m.threadTs === m.ts) && !before.has(m.ts) && m.text.includes('asks to run job')),
      20_000,
    );
  const parents = () => new Set(world.slack.workspace.messages.C0OPS!.map((m) => m.ts));
  const outcome = (ts: string) =>
    world.slack.waitFor(() => /^(✅|❌|🚫)/.test(world.slack.message('C0OPS', ts)?.text ?? '') && world.slack.message('C0OPS', ts)!.text, 60_000);

  it('a job that may take an hour is started and followed by the workflow: its lines, exit code and stop code in the thread', async () => {
    const before = runTasks().length;
    await world.slash('U0ALICE', 'job nightly-reindex');
    const notice = await world.slack.waitFor(() => world.slack.workspace.messages.C0OPS!.find((m) => m.text.startsWith('⏳ job `nightly-reindex`')), 10_000);
    expect(notice.text).toContain('may take up to 1 h 0 min, longer than one Lambda: it runs in its own ECS task, followed by a durable workflow');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs job nightly-reindex` — nightly-reindex: exit 0 in/);
    const [living, end, ...rest] = world.slack.replies('C0OPS', parent.ts);
    expect(rest).toHaveLength(0);
    // The worker's living message, edited by the workflow: statuses, lines while it ran, then the end.
    expect(living!.ts).toBe(notice.ts);
    expect(living!.history.some((e) => /^▶️ Job `nightly-reindex`/.test(e.text) && e.text.includes('new lines every 2 s'))).toBe(true);
    expect(living!.text).toMatch(/^⏹️ Job `nightly-reindex` \(run `[a-z0-9]{6}`\) in task `\w{12}` · PROVISIONING → .*STOPPED · .* · exit code 0\n```/);
    expect(living!.text).toContain('search-reindex: alias orders -&gt; orders-v8 switched');
    expect(JSON.stringify(living!.blocks ?? [])).not.toContain('ecs:cancel');
    expect(end!.text).toMatch(/^✅ `nightly-reindex` \(run `[a-z0-9]{6}`\) succeeded after/);
    expect(end!.text).toContain('• `app`: exit code 0');
    // One task, started by the workflow's role with the worker's plan (clientToken from the run id).
    const started = runTasks().slice(before);
    expect(started).toHaveLength(1);
    const runId = /run `([a-z0-9]{6})`/.exec(end!.text)![1]!;
    expect(started[0]!.params).toMatchObject({ startedBy: runId, clientToken: `ecs-chatops-job-${runId}` });
    expect(started[0]!.identity.arn).toContain('-run-workflow/');
    // The run is over: its lock is free for the next one.
    const { dynamoState } = await import('../src/platform/state');
    expect(await dynamoState.get(`run#${runId}`)).toBeUndefined();
  }, 40_000);

  it('a cancel wakes the workflow between its polls and stops the task (StopTask): cancelled, the lock freed', async () => {
    process.env.RUN_WORKFLOW_POLL_SECONDS = '600';
    world.aws.state.ecsTimings.pullMs = 60_000; // PENDING until stopped
    try {
      await world.slash('U0ALICE', 'job nightly-reindex');
      const living = await world.slack.waitFor(
        () => world.slack.workspace.messages.C0OPS!.find((m) => m.text.startsWith('▶️ Job `nightly-reindex`') && m.text.includes('every 10 min')),
        10_000,
      );
      const runId = /run `([a-z0-9]{6})`/.exec(living.text)![1]!;
      const { dynamoState } = await import('../src/platform/state');
      for (let i = 0; i < 100 && !(await dynamoState.get<{ wakeId?: string }>(`run#${runId}`))?.wakeId; i++) await new Promise((r) => setTimeout(r, 100));
      const asked = ephemeral(await world.slash('U0ALICE', `cancel ${runId}`));
      expect(asked).toContain(`(job \`nightly-reindex\`, started by <@U0ALICE>): its workflow stops its task now (StopTask)`);
      await world.idle();
      const parent = lastParent();
      expect(parent.text).toMatch(/^🚫 .*nightly-reindex: cancelled after/);
      expect(world.aws.calls.filter((c) => c.action === 'StopTask').at(-1)!.params.reason).toBe(`Cancelled in Slack by U0ALICE (ecs-chatops run ${runId})`);
      expect(threadText(parent.ts)).toMatch(/🚫 `nightly-reindex` \(run `\w+`\) was cancelled by <@U0ALICE>/);
      expect(await dynamoState.get('lock#run#job:nightly-reindex#web')).toBeUndefined();
    } finally {
      process.env.RUN_WORKFLOW_POLL_SECONDS = world.env.RUN_WORKFLOW_POLL_SECONDS!;
    }
  }, 60_000);

  it('a job declared requiresApproval asks first, runs the task as planned once approved, and reports it', async () => {
    const before = parents();
    const tasksBefore = runTasks().length;
    await world.slash('U0ALICE', 'job restore-db rds:web-db-2026-12-05-03-00');
    const request = await requestTs(before);
    expect(request.text).toMatch(/🔐 <@U0ALICE> asks to run job `restore-db rds:web-db-2026-12-05-03-00` on \*web\* · run `[a-z0-9]{6}`/);
    expect(request.text).toMatch(/container `app` of `web:\d+` runs `\["bin\/restore-db","rds:web-db-2026-12-05-03-00"\]`, at most 30 min/);
    expect(runTasks().length).toBe(tasksBefore); // nothing runs before the approval
    await world.react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
    expect(await outcome(request.ts)).toMatch(/^✅ 🔐 <@U0ALICE> asks to run job `restore-db/);
    const text = threadText(request.ts);
    expect(text).toContain('👍 Approved by <@U0BOB>: running job `restore-db rds:web-db-2026-12-05-03-00` now.');
    expect(text).toContain('restore-db: integrity check passed');
    expect(text).toMatch(/✅ `restore-db rds:web-db-2026-12-05-03-00` \(run `\w+`\) succeeded after/);
    expect(runTasks().length).toBe(tasksBefore + 1);
  }, 60_000);

  it('rejected, or cancelled while it waits, the job never starts; the next request is accepted', async () => {
    const tasksBefore = runTasks().length;
    let before = parents();
    await world.slash('U0ALICE', 'job restore-db rds:web-db-2026-12-05-03-00');
    const rejected = await requestTs(before);
    await world.react('U0BOB', 'C0OPS', rejected.ts, 'x');
    expect(await outcome(rejected.ts)).toMatch(/not run: rejected by <@U0BOB>/);
    expect(threadText(rejected.ts)).toContain('🚫 Not run: rejected by <@U0BOB>. Nothing was started.');

    before = parents();
    await world.slash('U0ALICE', 'job restore-db rds:web-db-2026-12-05-03-00');
    const cancelled = await requestTs(before);
    const runId = /run `([a-z0-9]{6})`/.exec(cancelled.text)![1]!;
    expect(ephemeral(await world.slash('U0ALICE', `cancel ${runId}`))).toContain(
      `(job \`restore-db\`, asked by <@U0ALICE>) while it waits for its approval: it will not start, even if approved`,
    );
    await world.react('U0BOB', 'C0OPS', cancelled.ts, 'white_check_mark');
    expect(await outcome(cancelled.ts)).toMatch(/Cancelled by <@U0ALICE> before it started/);
    expect(threadText(cancelled.ts)).toContain('🚫 Cancelled by <@U0ALICE> before it started. Nothing was run.');
    expect(runTasks().length).toBe(tasksBefore);
  }, 60_000);
});
