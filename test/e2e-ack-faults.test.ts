import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../local/world';
import { ddb } from '../src/platform/dynamo';
import { resetSlackSecrets } from '../src/platform/secrets';
import { tableName } from '../src/platform/tables';

/**
 * Slack gives up on an ack after 3 s. With a dependency that refuses, hangs or throttles, the
 * production ingress still answers in time, over HTTP 200, saying what happened and that nothing
 * ran, instead of a 500 or Slack's operation_timeout.
 */
let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterEach(() => {
  world.dynamo.fault('none');
  world.aws.faults.clear();
});
afterAll(async () => {
  await world?.close();
});

const text = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;

async function timedSlash(command: string): Promise<{ res: Awaited<ReturnType<World['slash']>>; ms: number }> {
  const started = Date.now();
  const res = await world.slash('U0ALICE', command);
  return { res, ms: Date.now() - started };
}

describe('the ack keeps its 3-second promise', () => {
  it('DynamoDB refusing connections: answered at once, nothing ran', async () => {
    await world.slash('U0ALICE', 'help'); // warm: clients and secrets, as a warm Lambda
    const invocations = world.aws.calls.filter((c) => c.action === 'Invoke').length;
    world.dynamo.fault('refuse');
    const { res, ms } = await timedSlash('status web');
    expect(res.statusCode).toBe(200);
    // The replay claim and the allowlist read go out together: whichever fails first is named.
    expect(text(res)).toMatch(/^⚠️ I can't reach my (allowlist|database) right now \(DynamoDB failed.*\), so nothing ran\. Try again in a minute\.$/);
    expect(ms).toBeLessThan(3_000);
    expect(world.aws.calls.filter((c) => c.action === 'Invoke').length).toBe(invocations);
  });

  it('DynamoDB accepting connections and never answering: answered within 3 s, nothing ran', async () => {
    world.dynamo.fault('hang');
    const { res, ms } = await timedSlash('status web');
    expect(res.statusCode).toBe(200);
    expect(text(res)).toMatch(
      /^⚠️ I can't reach my (allowlist|database) right now \(DynamoDB did not answer in time\), so nothing ran\. Try again in a minute\.$/,
    );
    expect(ms).toBeLessThan(3_000);
  });

  it('throttled Lambda Invoke: answered within 3 s, the attempt recorded as an error', async () => {
    world.aws.faults.throttle('lambda:InvokeFunction', 100);
    const { res, ms } = await timedSlash('status web');
    expect(res.statusCode).toBe(200);
    // Throttled until the SDK gives up (failed), or until the budget ends while it backs off (timed out).
    expect(text(res)).toMatch(/^⚠️ I could not (hand your command to my worker \(AWS Lambda failed|confirm that your command started)/);
    expect(ms).toBeLessThan(3_000);
    world.aws.faults.clear();
    const out = await ddb.query({
      TableName: tableName('audit'),
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `team#${world.teamId}` },
      ScanIndexForward: false,
      Limit: 1,
    });
    expect(out.Items?.[0]).toMatchObject({
      commandText: '/ecs status web',
      decision: 'allowed',
      outcome: expect.stringMatching(/^(error|unconfirmed)$/),
      reason: expect.stringMatching(/the worker could not be invoked|unknown whether the worker started/),
    });
  });

  it('an event whose hand-off fails: Slack gets a 500, the claim is released, and its retry is handed on', async () => {
    // Reactions are work only on requests the bot tracks: a deploy's approval request, rejected here.
    await world.slash('U0ALICE', 'deploy web v1.5.0');
    const request = await world.slack.waitFor(
      () => world.slack.workspace.messages.C0OPS!.find((m) => /React :white_check_mark: to approve/.test(m.text)),
      20_000,
    );
    const invoked = () => world.aws.calls.filter((c) => c.action === 'Invoke' && !c.error).length;
    world.aws.faults.throttle('lambda:InvokeFunction', 100);
    const first = await world.react('U0BOB', 'C0OPS', request.ts, 'x');
    expect(first.statusCode).toBe(500);
    world.aws.faults.clear();
    const before = invoked();
    const retry = await world.redeliver(first.eventId);
    expect(retry.statusCode).toBe(200);
    expect(invoked()).toBe(before + 1);
    // The claim was the first delivery's: a later duplicate of the retry is dropped again.
    expect((await world.redeliver(first.eventId)).statusCode).toBe(200);
    expect(invoked()).toBe(before + 1);
    await world.slack.waitFor(() => (/^🚫/.test(world.slack.message('C0OPS', request.ts)?.text ?? '') ? true : undefined), 20_000);
  });

  it('slow SSM on a cold start: answered within 3 s', async () => {
    resetSlackSecrets();
    world.aws.faults.latency(5_000, 'ssm:GetParameters');
    const { res, ms } = await timedSlash('status web');
    expect(res.statusCode).toBe(200);
    expect(text(res)).toContain("I can't read my own settings right now (SSM did not answer in time), so nothing ran.");
    expect(ms).toBeLessThan(3_000);
    world.aws.faults.clear();
    resetSlackSecrets();
    expect(text(await world.slash('U0ALICE', 'whoami'))).toContain('Your grants');
  });
});
