import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ddb } from '../src/platform/dynamo';
import { INGRESS_FUNCTION, startWorld, WORKER_FUNCTION, type World } from '../local/world';

/**
 * End to end: a signed `/ecs status web` reaches the production ingress handler, which authorises
 * against dynalite and invokes the worker through the Lambda API (local emulator); the worker
 * reads ECS (local emulator) and answers in a thread on the local Slack.
 */
let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const ephemeralText = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;

describe('/ecs status end to end', () => {
  it('answers /ecs status web in a thread from a signed request', async () => {
    const res = await world.slash('U0ALICE', 'status web');
    expect(res.statusCode).toBe(200);
    expect(ephemeralText(res)).toContain('Working on `/ecs status web`');
    await world.idle();

    const parents = world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts);
    expect(parents).toHaveLength(1);
    const parent = parents[0]!;
    expect(parent.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs status web`/);
    expect(parent.text).toContain('web: 2/2 running, 0 pending, steady');

    const replies = world.slack.replies('C0OPS', parent.ts);
    const report = replies.map((r) => r.text).join('\n');
    // web scales between 2 and 6 (Application Auto Scaling), read beside the service.
    expect(report).toContain('*Tasks:* 2 running / 2 desired, 0 pending · autoscaling 2..6');
    expect(report).toContain('*Task definition:* `web:42`');
    expect(report).toContain('`app`: `111111111111.dkr.ecr.us-east-1.amazonaws.com/web:v1.4.2`');
    expect(report).toContain('*PRIMARY* `web:42`: COMPLETED');
    expect(report).toContain('has reached a steady state');
    expect(report).toMatch(/Recently stopped tasks\*\n• `32701b25` \(`web:\d+`\) stopped .*Scaling activity initiated by/);
    expect(JSON.stringify(replies.at(-1)?.blocks ?? replies[0]?.blocks)).toContain('ecs:rerun');

    // The worker called ECS through the SDK's standard endpoint setting, as the bot's role.
    const ecsCalls = world.aws.calls.filter((c) => c.service === 'ecs').map((c) => c.action);
    expect(ecsCalls).toEqual(expect.arrayContaining(['DescribeServices', 'DescribeTaskDefinition', 'ListTasks', 'DescribeTasks']));
  });

  it('shows an unhealthy service as not steady, with its failing deployment and stop reasons', async () => {
    await world.slash('U0ALICE', 'status broken');
    await world.idle();
    const parent = world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;
    // One task of the previous revision still runs (1/2), so status rates it a warning, not a failure.
    expect(parent.text).toMatch(/^❌ <@U0ALICE> ran `\/ecs status broken` — broken: 1\/2 running, 0 pending, unhealthy/);
    const report = world.slack
      .replies('C0OPS', parent.ts)
      .map((r) => r.text)
      .join('\n');
    expect(report).toContain('*Tasks:* 1 running / 2 desired, 0 pending · no autoscaling');
    expect(report).toMatch(/\*PRIMARY\* `broken:7`: IN_PROGRESS .*; 0 running, 0 pending of 2, 4 failed/);
    expect(report).toMatch(/\*ACTIVE\* `broken:6`: COMPLETED .*; 1 running, 0 pending of 1/);
    expect(report).toContain('CannotPullContainerError');
    expect(report).toContain('[TaskFailedToStart]');
  });

  it('points the bot at the local container registry through one setting', async () => {
    const endpoints = JSON.parse(process.env.ECS_CHATOPS_REGISTRY_ENDPOINTS!) as Record<string, string>;
    expect(world.env.ECS_CHATOPS_REGISTRY_ENDPOINTS).toBe(process.env.ECS_CHATOPS_REGISTRY_ENDPOINTS);
    expect(endpoints['public.ecr.aws']).toBe(`${world.registry.url}/public.ecr.aws`);
    // web's log router image is there (anonymous clients are first challenged for a token).
    const res = await fetch(`${endpoints['public.ecr.aws']}/v2/aws-observability/aws-for-fluent-bit/manifests/stable`, { method: 'HEAD' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(`realm="${world.registry.url}/public.ecr.aws/token/"`);
  });

  it('refuses mallory, who is not on the allowlist, and audits the attempt', async () => {
    const before = world.slack.workspace.messages.C0OPS!.length;
    const res = await world.slash('U0MALLORY', 'status web');
    expect(ephemeralText(res)).toContain('Not allowed: you are not on the allowlist');
    await world.idle();
    expect(world.slack.workspace.messages.C0OPS!.length).toBe(before);
  });

  it('tells the user in the ack how to fix it when the bot is not in the channel, and runs nothing', async () => {
    const invocations = world.aws.lambda.invocations.length;
    const res = await world.slash('U0ALICE', 'status web', 'C0RANDOM');
    expect(ephemeralText(res)).toBe("⚠️ I'm not in <#C0RANDOM>. Invite me with `/invite @ecs-chatops` and try again. Nothing ran.");
    await world.idle();
    expect(world.aws.lambda.invocations.length).toBe(invocations); // no worker
    expect(world.slack.workspace.messages.C0RANDOM ?? []).toEqual([]);
    expect(world.slack.workspace.ephemerals.filter((e) => e.channel === 'C0RANDOM').map((e) => e.text)).toEqual([ephemeralText(res)]);
    // A command answered privately in the ack works there, and Slack is not asked about the channel.
    const asked = world.slack.calls.filter((c) => c.method === 'conversations.info').length;
    expect(ephemeralText(await world.slash('U0ALICE', 'whoami', 'C0RANDOM'))).toContain('<@U0ALICE>');
    expect(world.slack.calls.filter((c) => c.method === 'conversations.info').length).toBe(asked);
  });

  it('when Slack does not say (the check failed), the worker finds out and puts the fix in place of the note', async () => {
    world.slack.faults.fail('conversations.info', 'internal_error');
    try {
      await world.slash('U0ALICE', 'status web', 'C0RANDOM');
      await world.idle();
    } finally {
      world.slack.faults.clear();
    }
    const notes = world.slack.workspace.ephemerals.filter((e) => e.channel === 'C0RANDOM').map((e) => e.text);
    expect(notes.at(-1)).toBe("⚠️ I'm not in <#C0RANDOM>. Invite me with `/invite @ecs-chatops` and try again.");
    expect(notes.some((n) => n.includes('Working on'))).toBe(false); // replaced, not added below
  });

  it('withdraws the "Working on" note once the thread exists', async () => {
    const before = world.slack.workspace.ephemerals.length;
    const res = await world.slash('U0ALICE', 'status manager');
    expect(ephemeralText(res)).toContain('Working on `/ecs status manager`');
    await world.idle();
    const parent = world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;
    expect(parent.text).toContain('/ecs status manager');
    expect(world.slack.workspace.ephemerals.slice(before).map((e) => e.text)).toEqual([]);
    expect(world.slack.workspace.responses.at(-1)).toMatchObject({ deleteOriginal: true });
  });

  it('explains an AWS permission problem in plain words, naming the missing action', async () => {
    const undo = world.aws.faults.deny('ecs:DescribeServices');
    try {
      await world.slash('U0ALICE', 'status web');
      await world.idle();
    } finally {
      undo();
    }
    const parent = world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;
    expect(parent.text).toMatch(/^❌/);
    const text = world.slack
      .replies('C0OPS', parent.ts)
      .map((r) => r.text)
      .join('\n');
    expect(text).toContain("the bot's role may not call `ecs:DescribeServices`");
  });

  it('lets an admin grant a role from Slack, which then takes effect', async () => {
    expect(ephemeralText(await world.slash('U0MALLORY', 'status web'))).toContain('Not allowed');
    await world.slash('U0ALICE', 'allow <@U0MALLORY|mallory> viewer web');
    await world.idle();
    expect(ephemeralText(await world.slash('U0MALLORY', 'status web'))).toContain('Working on');
    await world.idle();
    await world.slash('U0ALICE', 'deny <@U0MALLORY|mallory>');
    await world.idle();
    expect(ephemeralText(await world.slash('U0MALLORY', 'status web'))).toContain('Not allowed');
  });

  it('refuses to let an admin remove themselves, so the list is not left without one by accident', async () => {
    await world.slash('U0ALICE', 'deny <@U0ALICE|alice>');
    await world.idle();
    const parent = world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;
    expect(parent.text).toMatch(/^❌ <@U0ALICE> ran `\/ecs deny @alice`/);
    expect(world.slack.replies('C0OPS', parent.ts)[0]!.text).toContain('🚫 Not allowed: you cannot remove yourself');
    expect(ephemeralText(await world.slash('U0ALICE', 'whoami'))).toContain('*admin* on all services');
  });

  it('retries throttled ECS calls with backoff and still answers', async () => {
    world.aws.faults.throttle('ecs:DescribeServices', 2);
    await world.slash('U0ALICE', 'status web');
    await world.idle();
    const parent = world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;
    expect(parent.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs status web`/);
    const describes = world.aws.calls.filter((c) => c.action === 'DescribeServices').slice(-3);
    expect(describes.map((c) => c.error?.code ?? 'ok')).toEqual(['ThrottlingException', 'ThrottlingException', 'ok']);
  });

  it('reads the Slack secrets from SSM once per cold start, never from the environment', () => {
    const reads = world.aws.calls.filter((c) => c.service === 'ssm' && c.action === 'GetParameters');
    // One read per function's cold start (the ingress's and the worker's), as each with its own role.
    const readers = reads.map((c) => c.identity.sessionName);
    expect(readers.sort()).toEqual([INGRESS_FUNCTION, WORKER_FUNCTION].sort());
    for (const read of reads) expect(read.params).toMatchObject({ WithDecryption: true });
    expect(Object.values(process.env)).not.toContain(world.signingSecret);
  });

  it('audits every attempt in DynamoDB, with decision, outcome, duration and AWS request ids', async () => {
    const out = await ddb.query({
      TableName: process.env.AUDIT_TABLE!,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `team#${world.teamId}` },
    });
    const records = (out.Items ?? []) as Array<Record<string, unknown>>;
    const denied = records.find((r) => r.userId === 'U0MALLORY' && r.decision === 'denied');
    expect(denied).toMatchObject({ commandText: '/ecs status web', outcome: 'refused', reason: 'you are not on the allowlist', channelId: 'C0OPS' });
    const done = records.find((r) => r.userId === 'U0ALICE' && r.commandText === '/ecs status web' && r.outcome === 'success');
    expect(done).toMatchObject({ decision: 'allowed', verb: 'status', target: 'web' });
    expect(done!.durationMs).toEqual(expect.any(Number));
    expect((done!.awsRequestIds as string[]).length).toBeGreaterThanOrEqual(4);
    expect(done!.threadTs).toEqual(expect.any(String));
    expect(done!.expiresAt).toEqual(expect.any(Number));
  });
});
