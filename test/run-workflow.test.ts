import { beforeAll, describe, expect, it } from 'vitest';
import { RUN_WORKFLOW_FUNCTION, type World } from '../local/world';
import type { StateStore } from '../src/platform/state';
import type { RunWorkflowInput } from '../src/workflows/inputs';
import { useRunWorkflowWorld } from './support/run-workflow-world';

/**
 * Runs longer than a Lambda: the script runs detached in the container and a durable workflow
 * follows it, poll by poll, with skipped time (fake timers jump over each durable wait, while the
 * script and the exec sessions run in real time).
 */
const current = useRunWorkflowWorld({ durableSkipTime: true, exec: { initialReadDelayMs: 20 } });
let world: World;
let state: StateStore;
beforeAll(() => {
  ({ world, state } = current());
});

const MINUTE = 60_000;
const replies = (ts: string) => current().replies(ts);
let counter = 0;

/** What the worker does before it hands a run over: parent message, lock, run record, audit record. */
async function handOver(script: string, args: string[], overrides: Partial<RunWorkflowInput> = {}): Promise<RunWorkflowInput> {
  const runId = `wf${String(++counter).padStart(4, '0')}`;
  // Six hours: the time limit (counted in polls) is not what ends these runs.
  const input = await current().handOver({ runId, name: script, args, target: 'manager', timeoutSeconds: 6 * 3600 });
  return { ...input, ...overrides };
}

const run = (payload: RunWorkflowInput) => current().run(payload);
const stepNames = (result: Awaited<ReturnType<typeof run>>) => result.getOperations().map((o) => o.getName() ?? '');

describe('detached runs followed by the durable workflow', () => {
  it('a run longer than a Lambda survives: follow steps every 5 simulated minutes, output in order, exit code, ✅, lock released', async () => {
    const input = await handOver('slow.sh', ['3']);
    const result = await run(input);
    expect(result.getStatus()).toBe('SUCCEEDED');
    const value = result.getResult()!;
    expect(value).toMatchObject({ outcome: 'success', exitCode: 0 });

    const names = stepNames(result);
    expect(names[0]).toBe('start');
    expect(names.at(-1)).toBe('finish');
    const follows = names.filter((n) => /^follow-\d+$/.test(n));
    expect(follows.length).toBeGreaterThanOrEqual(4);
    expect(value.polls).toBe(follows.length);
    // Simulated time, from the execution history: well past a Lambda's 15 minutes.
    // (The history's own timestamps are the checkpoint server's real clock; the waits say how long
    // the execution was asleep.)
    const waits = result.getHistoryEvents().filter((e) => e.EventType === 'WaitStarted');
    expect(waits.length).toBe(follows.length);
    const elapsed = waits.reduce((sum, e) => sum + e.WaitStartedDetails!.Duration! * 1000, 0);
    expect(elapsed).toBeGreaterThan(15 * MINUTE);
    // Timestamps are taken a moment apart by the checkpoint server: allow a few milliseconds.
    for (const e of waits) expect(Math.abs(e.WaitStartedDetails!.ScheduledEndTimestamp!.getTime() - e.EventTimestamp!.getTime() - 5 * MINUTE)).toBeLessThan(50);
    // The execution spanned several invocations, each replaying the checkpoints before it.
    expect(result.getInvocations().length).toBeGreaterThanOrEqual(2);

    const thread = replies(input.parentTs);
    // One living message, edited at each poll (never a new reply per poll), then the end.
    expect(thread).toHaveLength(2);
    const living = world.slack.replies('C0OPS', input.parentTs)[0]!;
    expect(
      living.history.some((e) => /^▶️ Running `slow.sh 3` \(run `wf\d+`\) in `app` of task `\w+` · .*\n_detached; new output every 5 min 0 s/.test(e.text)),
    ).toBe(true);
    expect(thread[0]).toMatch(/^⏹️ `slow.sh 3` \(run `wf\d+`\) in `app` of task `\w+` · exited with code 0 after/);
    expect(JSON.stringify(living.blocks ?? [])).not.toContain('ecs:cancel');
    const text = thread.join('\n');
    const order = ['starting a job of 3s', 'step 1 of 3 done', 'step 2 of 3 done', 'step 3 of 3 done', 'job finished'].map((line) => text.indexOf(line));
    for (const [i, at] of order.entries()) {
      expect(at, `line ${i} shown`).toBeGreaterThan(-1);
      if (i) expect(at).toBeGreaterThan(order[i - 1]!);
    }
    // Each line once: a follow never repeats what an earlier one posted.
    expect(text.split('step 2 of 3 done').length).toBe(2);
    expect(text).not.toContain('ECSCHATOPS_');
    expect(thread.at(-1)).toMatch(/^✅ `slow.sh 3` exited with code 0 after .+, \d+ B of output\.$/);
    expect(world.slack.message('C0OPS', input.parentTs)!.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs run slow.sh 3` — slow.sh 3: exit 0 in/);
    // The living message showed all of it: no file.
    expect(world.slack.calls.some((c) => c.method.startsWith('files.') && JSON.stringify(c).includes(input.parentTs))).toBe(false);

    expect(await state.get(input.lockKey!)).toBeUndefined();
    expect(await state.get(`run#${input.runId}`)).toBeUndefined();
  }, 60_000);

  it('reports a failing script with its exit code', async () => {
    const input = await handOver('fail.sh', []);
    const result = await run(input);
    expect(result.getStatus()).toBe('SUCCEEDED');
    expect(result.getResult()).toMatchObject({ outcome: 'failure', exitCode: 3 });
    const thread = replies(input.parentTs);
    expect(thread.join('\n')).toContain('fail.sh: precondition failed: the database is read-only');
    expect(thread.at(-1)).toMatch(/^❌ `fail.sh` exited with code 3 after/);
    expect(world.slack.message('C0OPS', input.parentTs)!.text).toMatch(/^❌ .*fail.sh: exit 3 in/);
    expect(await state.get(input.lockKey!)).toBeUndefined();
  }, 60_000);

  it('cancel mid-run: the next follow sees the flag, the stop step interrupts the script, the thread says so', async () => {
    const input = await handOver('slow.sh', ['30']);
    const running = run(input);
    await world.slack.waitFor(() => replies(input.parentTs).some((t) => t.includes('step 1 of 30 done')), 20_000);
    await state.claim(`cancel#${input.runId}`, 3600, { by: 'U0BOB' });
    const result = await running;
    expect(result.getStatus()).toBe('SUCCEEDED');
    expect(result.getResult()).toMatchObject({ outcome: 'cancelled' });
    expect(stepNames(result)).toContain('stop');
    const thread = replies(input.parentTs);
    expect(thread.at(-1)).toMatch(/^🚫 Cancelled by <@U0BOB> after .+; the script was interrupted/);
    expect(thread).toHaveLength(2);
    expect(thread.join('\n')).not.toContain('job finished');
    expect(world.slack.message('C0OPS', input.parentTs)!.text).toMatch(/^🚫 .*slow.sh 30: cancelled after/);
    expect(await state.get(input.lockKey!)).toBeUndefined();
    expect(await state.get(`cancel#${input.runId}`)).toBeUndefined();
  }, 60_000);

  it('stops a run at its time limit, counted in polls', async () => {
    const input = await handOver('slow.sh', ['30'], { timeoutSeconds: 600, pollSeconds: 300 });
    const result = await run(input);
    expect(result.getResult()).toMatchObject({ outcome: 'failure', polls: 2 });
    expect(replies(input.parentTs).at(-1)).toMatch(/^⏱️ Stopped after .*: the run reached its time limit \(10 min 0 s\); the script was interrupted/);
  }, 60_000);

  it('the worker hands a long script to the workflow function and keeps the lock until the workflow ends', async () => {
    process.env.RUN_WORKFLOW_POLL_SECONDS = '300';
    try {
      await world.slash('U0ALICE', 'run slow.sh 2');
      await world.idle();
    } finally {
      process.env.RUN_WORKFLOW_POLL_SECONDS = world.env.RUN_WORKFLOW_POLL_SECONDS!;
    }
    const invoke = world.aws.calls.filter((c) => c.action === 'Invoke').find((c) => String(c.params.FunctionName).startsWith(RUN_WORKFLOW_FUNCTION))!;
    // Through the `durable` alias (serverless.yml, the local world): the run keeps the version it started on.
    expect(invoke.params).toMatchObject({ InvocationType: 'Event', FunctionName: `${RUN_WORKFLOW_FUNCTION}:durable` });
    expect(invoke.params.Qualifier).toBeUndefined();
    const payload = JSON.parse(String(invoke.params.Payload)) as RunWorkflowInput;
    expect(payload).toMatchObject({
      script: 'slow.sh',
      args: ['2'],
      target: 'manager',
      pollSeconds: 300,
      timeoutSeconds: 2400,
      lockKey: 'lock#run#slow.sh#manager',
    });
    const parent = world.slack.message('C0OPS', payload.parentTs)!;
    expect(parent.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs run slow.sh 2` — slow.sh 2: exit 0 in/);
    const text = replies(payload.parentTs).join('\n');
    // The worker's living message is the one the workflow goes on editing.
    const thread = world.slack.replies('C0OPS', payload.parentTs);
    expect(thread).toHaveLength(2);
    expect(payload.progressTs).toBe(thread[0]!.ts);
    expect(thread[0]!.history[0]!.text).toMatch(/⏳ `slow.sh 2` \(run `[a-z0-9]{6}`\) may take up to 40 min 0 s, longer than one Lambda: it runs detached/);
    expect(text).toContain('job finished');
    // A progress bar redrawn with \r is read whole: only its last state is a line of its own.
    expect(text).not.toMatch(/^\[#{1,9} *\] 1\/2$/m);
    expect(await state.get('lock#run#slow.sh#manager')).toBeUndefined();
    expect(world.workflows.at(-1)!.getStatus()).toBe('SUCCEEDED');
  }, 60_000);
});
