import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ddb } from '../src/platform/dynamo';
import { startWorld, type World } from '../local/world';

/**
 * End to end: Slack refuses the reply that carries a command's result (invalid_blocks,
 * msg_too_long). The result is not lost: it reaches the thread as a file with a message saying
 * why, the parent is marked with the outcome, and the audit records Slack's refusal.
 */
let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const parents = () => world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts);

async function auditOf(threadTs: string): Promise<Record<string, unknown> | undefined> {
  const out = await ddb.query({
    TableName: process.env.AUDIT_TABLE!,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': `team#${world.teamId}` },
  });
  return (out.Items ?? []).find((r) => r.threadTs === threadTs);
}

describe('a result Slack refuses is never lost', () => {
  it('/ecs status web: the report refused as invalid_blocks arrives as a file, and the parent and audit say why', async () => {
    const messages = ['[ERROR] must be less than 3001 characters [json-pointer:/blocks/2/text/text]'];
    // Only the report (the thread reply with blocks) is refused, as Slack would refuse an oversized section.
    world.slack.faults.fail('chat.postMessage', 'invalid_blocks', 1, (args) => args.thread_ts !== undefined && args.blocks !== undefined, {
      response_metadata: { messages },
    });
    await world.slash('U0ALICE', 'status web');
    await world.idle();

    const parent = parents().at(-1)!;
    const summary = 'web: 2/2 running, 0 pending, steady; Slack refused the message (invalid_blocks); the result is attached as a file';
    expect(parent.text).toBe(`✅ <@U0ALICE> ran \`/ecs status web\` — ${summary}`);
    const replies = world.slack.replies('C0OPS', parent.ts);
    expect(replies.map((r) => r.text)).toEqual([
      '⚠️ Slack refused the message (invalid_blocks), so the result is attached as a file.\nSlack said: `[ERROR] must be less than 3001 characters [json-pointer:/blocks/2/text/text]`',
    ]);
    const file = world.slack.workspace.files.find((f) => f.messageTs === replies[0]!.ts)!;
    expect(file).toMatchObject({ name: `result-${parent.ts}.txt`, channel: 'C0OPS', threadTs: parent.ts, uploaded: true });
    const content = file.content.toString();
    expect(content).toContain('*Tasks:* 2 running / 2 desired, 0 pending');
    expect(content).toContain('*PRIMARY* `web:42`: COMPLETED');
    expect(content).toContain('has reached a steady state');
    expect(replies.map((r) => r.text).join('\n')).not.toContain('Something went wrong');

    expect(await auditOf(parent.ts)).toMatchObject({ commandText: '/ecs status web', outcome: 'success', reason: summary });
  });

  it('a text reply refused as msg_too_long (/ecs deny) arrives as a file too', async () => {
    world.slack.faults.fail('chat.postMessage', 'msg_too_long', 1, (args) => args.thread_ts !== undefined);
    await world.slash('U0ALICE', 'deny <@U0MALLORY|mallory>');
    await world.idle();

    const parent = parents().at(-1)!;
    const summary = '<@U0MALLORY> was not on the allowlist; Slack refused the message (msg_too_long); the result is attached as a file';
    expect(parent.text).toBe(`⚠️ <@U0ALICE> ran \`/ecs deny @mallory\` — ${summary}`);
    const [note, ...rest] = world.slack.replies('C0OPS', parent.ts);
    expect(rest).toEqual([]);
    expect(note!.text).toBe('⚠️ Slack refused the message (msg_too_long), so the result is attached as a file.');
    const content = world.slack.workspace.files.find((f) => f.messageTs === note!.ts)!.content.toString();
    expect(content).toBe('<@U0MALLORY> was not on the allowlist; nothing changed.');
    expect(await auditOf(parent.ts)).toMatchObject({ outcome: 'warning', reason: summary });
  });
});
