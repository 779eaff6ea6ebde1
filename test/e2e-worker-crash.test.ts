import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, WORKER_FUNCTION, type World } from '../local/world';
import { dynamoAudit, readAuditRecord, type AuditKey } from '../src/audit/audit';
import type { CommandJob } from '../src/platform/jobs';

/**
 * A worker that dies is never silent: its failed asynchronous invocation goes to the on-failure
 * destination (a queue), whose consumer marks the thread and the parent as failed, says why and what
 * to check, and completes the audit record; a worker running short of time finishes cleanly itself.
 */
let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterEach(() => {
  world.aws.faults.clear();
  world.setWorkerTimeout(900_000);
});
afterAll(async () => {
  await world?.close();
});

const parents = () => world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts);
const auditOf = async (text: string): Promise<{ key: AuditKey; record: Awaited<ReturnType<typeof readAuditRecord>> }> => {
  const { ddb } = await import('../src/platform/dynamo');
  const { tableName } = await import('../src/platform/tables');
  const out = await ddb.query({
    TableName: tableName('audit'),
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': `team#${world.teamId}` },
    ScanIndexForward: false,
  });
  const item = (out.Items ?? []).find((i) => i.commandText === text)!;
  return { key: { pk: item.pk as string, sk: item.sk as string }, record: await readAuditRecord({ pk: item.pk as string, sk: item.sk as string }) };
};

/** A command job as the ingress hands it to the worker (the verb and its parsed arguments), with its audit record. */
async function acceptedJob(
  userId: string,
  text: string,
  request: Pick<CommandJob, 'verb' | 'args'>,
  outcome: 'accepted' | 'unconfirmed' = 'accepted',
  responseUrl?: string,
): Promise<{ key: AuditKey; job: CommandJob }> {
  const id = randomUUID();
  const key = await dynamoAudit(30).record({
    id,
    at: new Date().toISOString(),
    teamId: world.teamId,
    userId,
    channelId: 'C0OPS',
    commandText: `/ecs ${text}`,
    decision: 'allowed',
    outcome,
  });
  const job: CommandJob = {
    kind: 'command',
    id,
    ...request,
    audit: key,
    receivedAt: Date.now(),
    invocation: { teamId: world.teamId, userId, channelId: 'C0OPS', command: '/ecs', text, ...(responseUrl ? { responseUrl } : {}) },
  };
  return { key, job };
}

async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a worker that stops without finishing', () => {
  it('killed mid-command (out of memory): the thread and the parent say so, the audit completes as an error', async () => {
    world.aws.faults.latency(60_000, 'ecs:DescribeServices'); // the command is under way when the sandbox dies
    await world.slash('U0ALICE', 'status web');
    const parent = await world.slack.waitFor(() => parents().find((m) => m.text.includes('ran `/ecs status web`') && !/^(✅|❌|⚠️)/u.test(m.text)));
    // The thread is recorded before the command starts, so the report can find it.
    await eventually(async () => (await auditOf('/ecs status web')).record?.threadTs === parent.ts);
    expect(world.aws.lambda.kill(WORKER_FUNCTION)).toBe(1);
    await world.slack.waitFor(() => world.slack.message('C0OPS', parent.ts)?.text.startsWith('❌'));
    expect(world.slack.message('C0OPS', parent.ts)!.text).toBe('❌ <@U0ALICE> ran `/ecs status web` — the bot stopped while running this');
    const said = world.slack
      .replies('C0OPS', parent.ts)
      .map((r) => r.text)
      .join('\n');
    expect(said).toContain('💥 The bot stopped while running this: the worker was killed (most often: it ran out of memory).');
    expect(said).toContain('It changed nothing; try again in a minute.');
    expect(world.failureQueue).toHaveLength(1);
    expect(JSON.parse(world.failureQueue[0]!.body)).toMatchObject({
      requestContext: { condition: 'RetriesExhausted' },
      responsePayload: { errorType: 'Runtime.ExitError' },
      requestPayload: { kind: 'command' },
    });
    await eventually(async () => (await auditOf('/ecs status web')).record?.outcome === 'error');
    expect((await auditOf('/ecs status web')).record).toMatchObject({
      outcome: 'error',
      reason: 'the worker stopped: the worker was killed (most often: it ran out of memory)',
      threadTs: parent.ts,
    });
  }, 30_000);

  it('a worker that throws before it could post: the person is told privately, the audit completes as an error', async () => {
    // A job the worker cannot read (an invocation the ingress would never send): it throws at once.
    // As the ingress leaves it when the hand-off did not answer in time but landed: still in flight.
    const { key, job } = await acceptedJob('U0ALICE', 'frobnicate', { verb: 'frobnicate', args: {} }, 'unconfirmed');
    await world.aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world.idle();
    const note = await world.slack.waitFor(() => world.slack.workspace.ephemerals.find((e) => e.text.includes('/ecs frobnicate')));
    expect(note.text).toMatch(
      /^💥 The bot stopped before it could answer `\/ecs frobnicate`: the worker failed with an error it did not handle \(UsageError: Unknown command/,
    );
    expect(await readAuditRecord(key)).toMatchObject({
      outcome: 'error',
      reason: expect.stringContaining('the worker stopped: the worker failed with an error it did not handle'),
    });
  }, 30_000);

  it('running short of time, the worker finishes by itself: the thread says so and the audit says why', async () => {
    world.setWorkerTimeout(6_000); // it stops waiting 1 s before its limit
    world.aws.faults.latency(20_000, 'ecs:DescribeServices');
    const queued = world.failureQueue.length;
    await world.slash('U0ALICE', 'status broken');
    const parent = await world.slack.waitFor(() => parents().find((m) => m.text.startsWith('❌ <@U0ALICE> ran `/ecs status broken`')), 15_000);
    expect(parent.text).toContain('I ran out of time before this finished');
    expect(
      world.slack
        .replies('C0OPS', parent.ts)
        .map((r) => r.text)
        .join('\n'),
    ).toContain('❌ I ran out of time before this finished (a worker runs at most 15 minutes)');
    expect((await auditOf('/ecs status broken')).record).toMatchObject({ outcome: 'failure', reason: expect.stringContaining('I ran out of time') });
    // It ended cleanly: nothing went to the failure queue.
    expect(world.failureQueue.length).toBe(queued);
  }, 30_000);

  it('a job delivered twice runs once', async () => {
    const { job } = await acceptedJob('U0ALICE', 'status manager', { verb: 'status', args: { target: 'manager' } });
    const before = parents().filter((m) => m.text.includes('ran `/ecs status manager`')).length;
    await Promise.all([world.aws.lambda.invokeAsync(WORKER_FUNCTION, job), world.aws.lambda.invokeAsync(WORKER_FUNCTION, job)]);
    await world.idle();
    expect(parents().filter((m) => m.text.includes('ran `/ecs status manager`')).length).toBe(before + 1);
  }, 30_000);

  it('access revoked between the ack and the worker: the worker checks again and runs nothing', async () => {
    // Mallory's request as if the ingress had accepted it just before her grant was removed.
    const responseUrl = world.slack.responseUrl(`revoked-${randomUUID()}`, { channel: 'C0OPS', user: 'U0MALLORY' });
    const { key, job } = await acceptedJob('U0MALLORY', 'status web', { verb: 'status', args: { target: 'web' } }, 'accepted', responseUrl);
    const ecsCalls = world.aws.calls.filter((c) => c.service === 'ecs').length;
    await world.aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world.idle();
    expect(world.aws.calls.filter((c) => c.service === 'ecs').length).toBe(ecsCalls);
    expect(JSON.stringify(world.slack.workspace.responses.at(-1))).toContain('Not allowed any more: you are not on the allowlist');
    expect(await readAuditRecord(key)).toMatchObject({ decision: 'denied', outcome: 'refused', reason: 'refused at the worker: you are not on the allowlist' });
  }, 30_000);
});

describe('the worker acts on the arguments in its job, not on the text', () => {
  it('runs what the arguments say (the text is only echoed), authorised against their scope', async () => {
    // Text and arguments disagree, as the ingress would never send them: the arguments win.
    const { key, job } = await acceptedJob('U0ALICE', 'status web', { verb: 'status', args: { target: 'manager' } });
    await world.aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world.idle();
    const record = await readAuditRecord(key);
    const said = world.slack
      .replies('C0OPS', record!.threadTs!)
      .map((r) => r.text)
      .join('\n');
    expect(said).toContain('*manager*:');
    expect(said).not.toContain('*web*:');
    expect(world.slack.message('C0OPS', record!.threadTs!)!.text).toContain('ran `/ecs status web`');
  }, 30_000);

  it('re-authorises with a fresh entry against the scope of the arguments', async () => {
    const { dynamoAllowlist } = await import('../src/auth/allowlist');
    await dynamoAllowlist.put({
      teamId: world.teamId,
      userId: 'U0VERA',
      grants: [{ role: 'viewer', services: ['web'] }],
      addedBy: 'test',
      updatedAt: new Date().toISOString(),
    });
    const responseUrl = world.slack.responseUrl(`scope-${randomUUID()}`, { channel: 'C0OPS', user: 'U0VERA' });
    const { key, job } = await acceptedJob('U0VERA', 'status web', { verb: 'status', args: { target: 'manager' } }, 'accepted', responseUrl);
    const ecsCalls = world.aws.calls.filter((c) => c.service === 'ecs').length;
    await world.aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world.idle();
    expect(world.aws.calls.filter((c) => c.service === 'ecs').length).toBe(ecsCalls);
    expect(JSON.stringify(world.slack.workspace.responses.at(-1))).toContain('Not allowed any more');
    expect(await readAuditRecord(key)).toMatchObject({ decision: 'denied', outcome: 'refused', reason: expect.stringContaining('refused at the worker') });
  }, 30_000);

  it('a job queued by an older ingress (no arguments in it) is parsed once, as that ingress would have, and runs', async () => {
    const { key, job } = await acceptedJob('U0ALICE', 'status web', {});
    await world.aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world.idle();
    const record = await readAuditRecord(key);
    expect(record).toMatchObject({ outcome: 'success' });
    const said = world.slack
      .replies('C0OPS', record!.threadTs!)
      .map((r) => r.text)
      .join('\n');
    expect(said).toContain('*web*:');
  }, 30_000);

  it('…and if its text no longer parses (the configuration changed under it), the person is told why and nothing runs', async () => {
    const responseUrl = world.slack.responseUrl(`old-${randomUUID()}`, { channel: 'C0OPS', user: 'U0ALICE' });
    const { key, job } = await acceptedJob('U0ALICE', 'status gone', {}, 'accepted', responseUrl);
    const ecsCalls = world.aws.calls.filter((c) => c.service === 'ecs').length;
    await world.aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world.idle();
    expect(world.aws.calls.filter((c) => c.service === 'ecs').length).toBe(ecsCalls);
    expect(JSON.stringify(world.slack.workspace.responses.at(-1))).toContain('gone');
    expect(await readAuditRecord(key)).toMatchObject({ decision: 'invalid', outcome: 'refused' });
  }, 30_000);
});
