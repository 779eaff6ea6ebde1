import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judgeMessage } from '../local/slack/judge';
import { startWorld, type World } from '../local/world';
import type { AuditRecord } from '../src/audit/audit';
import { stateMuteStore } from '../src/notify/mute';
import { ddb } from '../src/platform/dynamo';
import { dynamoState } from '../src/platform/state';
import { tableName } from '../src/platform/tables';
import {
  BUTTON_ACTIONS,
  clickedCommand,
  NOTIFY_LOGS_ACTION,
  NOTIFY_MUTE_ACTION,
  NOTIFY_ROLLBACK_ACTION,
  NOTIFY_STATUS_ACTION,
  NOTIFY_VERIFY_ACTION,
  notificationButtons,
} from '../src/slack/actions';

const TASK_ID = '0123456789abcdef0123456789abcdef';

describe('the buttons under a notification', () => {
  it('Status, Logs, Verify, Rollback and Mute 1 h, each standing for the command on the target', () => {
    const block = notificationButtons('web', TASK_ID);
    expect(block.type).toBe('actions');
    const clicks = block.elements.map((e) => {
      const button = e as { action_id: string; value: string; text: { text: string } };
      return [button.text.text, clickedCommand(button.action_id, button.value)];
    });
    expect(clicks).toEqual([
      ['Status', 'status web'],
      ['Logs', `logs web --task ${TASK_ID}`],
      ['Verify', 'verify web'],
      ['Rollback', 'rollback web'],
      ['🔕 Mute 1 h', 'mute web 1h'],
    ]);
    // Without a task, Logs shows the service's newest task.
    const logs = notificationButtons('web').elements[1] as { action_id: string; value: string };
    expect(clickedCommand(logs.action_id, logs.value)).toBe('logs web');
    // Every button is routed by the one table (HTTP and Socket Mode alike).
    for (const id of [NOTIFY_STATUS_ACTION, NOTIFY_LOGS_ACTION, NOTIFY_VERIFY_ACTION, NOTIFY_ROLLBACK_ACTION, NOTIFY_MUTE_ACTION])
      expect(BUTTON_ACTIONS.map((a) => a.actionId)).toContain(id);
  });

  it('is a block Slack accepts, for the longest target name and a task ARN', () => {
    const longest = 'a'.repeat(63);
    for (const block of [notificationButtons('web'), notificationButtons(longest, TASK_ID)]) {
      expect(() => judgeMessage({ channel: 'C0OPS', text: 'web: 3 tasks stopped', blocks: [block] }, 'post')).not.toThrow();
    }
  });

  it('the local Slack refuses what Slack refuses (the judge is not a rubber stamp)', () => {
    const block = notificationButtons('web');
    const tooMany = { ...block, elements: Array.from({ length: 26 }, () => block.elements[0]) };
    expect(() => judgeMessage({ channel: 'C0OPS', text: 'x', blocks: [tooMany] }, 'post')).toThrow();
  });
});

let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const CHANNEL = 'C0OPS';
/** The ingress does not look at which message a button was under. */
const NOTIFICATION_TS = '1700000000.000200';
const click = (userId: string, actionId: string, value: string) => world.click(userId, CHANNEL, NOTIFICATION_TS, { action_id: actionId, value });
const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
const threadText = (ts: string) =>
  world.slack
    .replies(CHANNEL, ts)
    .map((r) => r.text)
    .join('\n');

async function latestAudit(userId: string, commandText: string): Promise<AuditRecord> {
  const out = await ddb.query({
    TableName: tableName('audit'),
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': `team#${world.teamId}` },
    ScanIndexForward: false,
  });
  const found = (out.Items ?? []).find((r) => r.userId === userId && r.commandText === commandText);
  if (!found) throw new Error(`no audit record of ${userId} ${commandText}`);
  return found as AuditRecord;
}

describe('a click is authorised as the person who clicks', () => {
  it('a viewer clicking Rollback is refused privately: nothing posted, nothing asked for, audited', async () => {
    const before = parents().length;
    const ephemerals = world.slack.workspace.ephemerals.length;
    const invocations = world.aws.lambda.invocations.length;
    await click('U0BOB', NOTIFY_ROLLBACK_ACTION, 'web');
    await world.idle();
    expect(parents().length).toBe(before);
    expect(world.aws.lambda.invocations.length).toBe(invocations); // no worker, no approval request
    const told = world.slack.workspace.ephemerals.slice(ephemerals).map((e) => e.text);
    expect(told).toEqual([expect.stringMatching(/^🚫 Not allowed: .*`deployer`/)]);
    expect(await latestAudit('U0BOB', '/ecs rollback web')).toMatchObject({ decision: 'denied', outcome: 'refused', verb: 'rollback', target: 'web' });
  });

  it('a viewer clicking Mute is refused too: silencing a service is an operator’s act', async () => {
    await click('U0BOB', NOTIFY_MUTE_ACTION, 'web');
    await world.idle();
    expect(await stateMuteStore(dynamoState).mutedUntil('web')).toBeUndefined();
    expect(await latestAudit('U0BOB', '/ecs mute web 1h')).toMatchObject({ decision: 'denied', outcome: 'refused' });
  });

  it('an operator clicking Mute mutes the service for an hour, announced in the channel, audited', async () => {
    const started = Date.now();
    await click('U0ALICE', NOTIFY_MUTE_ACTION, 'web');
    await world.idle();
    const mute = await stateMuteStore(dynamoState).mutedUntil('web');
    expect(mute).toMatchObject({ target: 'web', by: 'U0ALICE' });
    const until = Date.parse(mute!.until);
    expect(until - started).toBeGreaterThanOrEqual(3_600_000 - 1000);
    expect(until - Date.now()).toBeLessThanOrEqual(3_600_000);
    const parent = parents().at(-1)!;
    const hhmm = mute!.until.slice(11, 16);
    expect(parent.text).toMatch(
      new RegExp(`^✅ <@U0ALICE> ran \`/ecs mute web 1h\` — 🔕 muted web notifications for 1 h \\(until (\\d{4}-\\d\\d-\\d\\d )?${hhmm} UTC\\)`),
    );
    expect(threadText(parent.ts)).toContain(`🔕 <@U0ALICE> muted web notifications for 1 h (until`);
    expect(await latestAudit('U0ALICE', '/ecs mute web 1h')).toMatchObject({ decision: 'allowed', outcome: 'success', verb: 'mute', target: 'web' });
  });

  it('a viewer clicking Status gets the status, which shows the mute', async () => {
    await click('U0BOB', NOTIFY_STATUS_ACTION, 'web');
    await world.idle();
    const parent = parents().at(-1)!;
    expect(parent.text).toMatch(/^✅ <@U0BOB> ran `\/ecs status web`/);
    expect(threadText(parent.ts)).toMatch(/🔕 notifications muted by <@U0ALICE> until (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC/);
  });
});

describe('/ecs mute and /ecs unmute', () => {
  it('mute with a reason replaces the mute; the reason is shown as text, never as markup', async () => {
    await world.slash('U0ALICE', 'mute web 2h30m db migration &lt;b&gt; <!channel>');
    await world.idle();
    const mute = await stateMuteStore(dynamoState).mutedUntil('web');
    expect(mute).toMatchObject({ by: 'U0ALICE', reason: 'db migration <b> @channel' });
    const parent = parents().at(-1)!;
    const thread = threadText(parent.ts);
    expect(thread).toContain('muted web notifications for 2 h 30 min (until');
    expect(thread).toContain('): db migration &lt;b&gt; @channel');
    expect(thread).not.toContain('<!channel>');
    expect(thread).toMatch(/This replaces the mute muted by <@U0ALICE> until .* UTC\./);
  });

  it('bad input is a private usage error that changes nothing', async () => {
    const before = await stateMuteStore(dynamoState).mutedUntil('web');
    const posts = parents().length;
    const res = await world.slash('U0ALICE', 'mute web 8d');
    expect(JSON.parse(res.body).text).toContain('A mute lasts from 5 minutes to 7 days, not 8 d.');
    await world.idle();
    expect(parents().length).toBe(posts);
    expect(await stateMuteStore(dynamoState).mutedUntil('web')).toEqual(before);
  });

  it('unmute ends it, announced; a second unmute says there was none', async () => {
    await world.slash('U0ALICE', 'unmute web');
    await world.idle();
    expect(await stateMuteStore(dynamoState).mutedUntil('web')).toBeUndefined();
    const first = parents().at(-1)!;
    expect(first.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs unmute web` — 🔔 unmuted web notifications/);
    expect(threadText(first.ts)).toMatch(
      /🔔 <@U0ALICE> unmuted web notifications \(they were muted by <@U0ALICE> until .* \(db migration &lt;b&gt; @channel\)\)\./,
    );
    await world.slash('U0ALICE', 'unmute web');
    await world.idle();
    expect(parents().at(-1)!.text).toContain('web was not muted');
    // Status no longer mentions a mute.
    await world.slash('U0ALICE', 'status web');
    await world.idle();
    expect(threadText(parents().at(-1)!.ts)).not.toContain('🔕');
  });
});
