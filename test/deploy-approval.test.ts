import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebClient } from '@slack/web-api';
import { useLocalDynamo } from './support/local-dynamo';
import { memoryAllowlist, memoryAudit } from './support/fakes';
import type { Approvals } from '../src/approval/approvals';
import { approveByReaction, baseEmoji } from '../src/approval/approve';
import type { ReactionContext } from '../src/worker/context';
import { dynamoApprovalRequests } from '../src/approval/requests';
import { trackedKey as requestKey } from '../src/platform/state-keys';
import type { ApprovalRequest } from '../src/approval/types';
import type { Config } from '../src/config/schema';
import { createLogger } from '../src/platform/logger';

/**
 * Approvals by reaction, on the real conditional updates (dynalite): who counts, what each reaction
 * does, and that simultaneous or repeated reactions decide a request exactly once.
 */
useLocalDynamo();

const T = 'T0LOCAL';
const CHANNEL = 'C0OPS';
const allowlist = memoryAllowlist([
  { teamId: T, userId: 'U0ALICE', grants: [{ role: 'deployer', services: ['*'] }] },
  { teamId: T, userId: 'U0BOB', grants: [{ role: 'approver', services: ['*'] }] },
  { teamId: T, userId: 'U0CAROL', grants: [{ role: 'approver', services: ['web'] }] },
  { teamId: T, userId: 'U0DAVE', grants: [{ role: 'admin', services: ['*'] }] },
  { teamId: T, userId: 'U0ERIN', grants: [{ role: 'approver', services: ['api'] }] },
  { teamId: T, userId: 'U0FRANK', grants: [{ role: 'approver', services: ['*'], channels: ['C0OTHER'] }] },
  // The same user id as an approver in another configured workspace (a shared channel carries its reactions).
  { teamId: 'T0OTHER', userId: 'U0GRACE', grants: [{ role: 'admin', services: ['*'] }] },
  // Approvers by selector: web is labelled team=payments in the configuration below.
  { teamId: T, userId: 'U0HANK', grants: [{ role: 'approver', services: [], selectors: ['team=payments'] }] },
  { teamId: T, userId: 'U0IVY', grants: [{ role: 'approver', services: [], selectors: ['team=search'] }] },
]);
/** Only what the reaction handler reads of the configuration: the targets' labels, for approvers by selector. */
const config = { targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web', labels: { team: 'payments' } } } } as unknown as Config;

const now = Date.parse('2026-11-24T12:00:00Z');
let counter = 0;
const sent: Array<{ callbackId: string; status: string }> = [];
const slackCalls: Array<{ method: string; args: Record<string, unknown> }> = [];
const slack = {
  chat: {
    update: async (args: Record<string, unknown>) => void slackCalls.push({ method: 'chat.update', args }),
    postMessage: async (args: Record<string, unknown>) => void slackCalls.push({ method: 'chat.postMessage', args }),
    postEphemeral: async (args: Record<string, unknown>) => void slackCalls.push({ method: 'chat.postEphemeral', args }),
  },
  reactions: {
    remove: async (args: Record<string, unknown>) => void slackCalls.push({ method: 'reactions.remove', args }),
  },
} as unknown as WebClient;
const audit = memoryAudit();

/** The approvals every reaction is handed: the request store, and a callback that records what it would send. */
const approvals: Approvals = { requests: dynamoApprovalRequests, sendDecision: async () => true };

beforeEach(() => {
  sent.length = 0;
  slackCalls.length = 0;
  audit.records.length = 0;
  approvals.sendDecision = vi.fn(async (callbackId, decision) => {
    sent.push({ callbackId, status: decision.status });
    return true;
  });
});

async function newRequest(overrides: Partial<ApprovalRequest['rule']> = {}): Promise<ApprovalRequest> {
  const ts = `1764000000.${String(++counter).padStart(6, '0')}`;
  const request: ApprovalRequest = {
    pk: requestKey(CHANNEL, ts),
    kind: 'deploy',
    id: `d${counter}`,
    status: 'pending',
    target: 'web',
    teamId: T,
    channelId: CHANNEL,
    messageTs: ts,
    requesterId: 'U0ALICE',
    commandText: '/ecs deploy web v1.5.0',
    headline: `🚀 <@U0ALICE> asks to deploy to *web* (from \`web:42\`) · deploy \`d${counter}\``,
    details: ['`app`: a → b'],
    doing: 'deploying',
    label: `deploy \`d${counter}\``,
    plan: { action: 'deploy', currentTaskDefinition: 'arn:aws:ecs:us-east-1:111111111111:task-definition/web:42', changes: [], imageNotes: ['`app`: a → b'] },
    rule: { required: 1, approverRole: 'approver', approveEmoji: 'white_check_mark', rejectEmoji: 'x', deadline: now + 30 * 60_000, ...overrides },
    requestedAt: new Date(now).toISOString(),
  };
  expect(await dynamoApprovalRequests.create(request, 3600)).toBe(true);
  await dynamoApprovalRequests.attachCallback(request.pk, `cb-${request.id}`);
  return request;
}

let eventCounter = 0;
async function react(request: ApprovalRequest, userId: string, reaction: string, added = true, teamId = T): Promise<void> {
  const tracked = (await dynamoApprovalRequests.get(request.pk)) as unknown as Record<string, unknown>;
  const ctx: ReactionContext = {
    job: {
      kind: 'reaction',
      id: `job${++eventCounter}`,
      eventId: `Ev${eventCounter}`,
      teamId,
      userId,
      reaction,
      added,
      channelId: CHANNEL,
      messageTs: request.messageTs,
      trackedKey: request.pk,
      receivedAt: now,
    },
    tracked,
    config,
    approvals,
    slack,
    allowlist,
    audit: () => audit,
    logger: createLogger({ level: 'silent' }),
    now: () => now,
  };
  await approveByReaction(ctx);
}

const status = async (request: ApprovalRequest) => (await dynamoApprovalRequests.get(request.pk))!;
const ephemeralTo = (user: string) => slackCalls.filter((c) => c.method === 'chat.postEphemeral' && c.args.user === user).map((c) => String(c.args.text));

describe('approval by reaction', () => {
  it('an approver’s ✅ approves, completes the workflow’s callback once and marks the message', async () => {
    const request = await newRequest();
    await react(request, 'U0BOB', 'white_check_mark');
    expect(await status(request)).toMatchObject({ status: 'approved', approvals: ['U0BOB'], decidedBy: 'U0BOB' });
    expect(sent).toEqual([{ callbackId: `cb-${request.id}`, status: 'approved' }]);
    const update = slackCalls.find((c) => c.method === 'chat.update')!;
    expect(update.args).toMatchObject({ channel: CHANNEL, ts: request.messageTs });
    expect(String(update.args.text)).toContain('👍 Approved by <@U0BOB>');
    expect(audit.records.map((r) => [r.userId, r.verb, r.decision, r.reason])).toEqual([['U0BOB', 'approve', 'allowed', 'approved']]);
  });

  it('the requester’s own ✅ never counts: refused privately, audited, nothing decided', async () => {
    const request = await newRequest();
    await react(request, 'U0ALICE', 'white_check_mark');
    expect((await status(request)).status).toBe('pending');
    expect(ephemeralTo('U0ALICE')[0]).toContain('does not count');
    expect(sent).toHaveLength(0);
    expect(audit.records[0]).toMatchObject({ userId: 'U0ALICE', decision: 'denied', outcome: 'refused' });
  });

  it('people without the approver role for this service and channel are told so and ignored; admins count', async () => {
    const request = await newRequest();
    for (const user of ['U0MALLORY', 'U0ERIN', 'U0FRANK']) await react(request, user, 'white_check_mark');
    expect((await status(request)).status).toBe('pending');
    expect(ephemeralTo('U0MALLORY')[0]).toContain('needs the `approver` role');
    expect(ephemeralTo('U0ERIN')).toHaveLength(1); // approver of another service
    expect(ephemeralTo('U0FRANK')).toHaveLength(1); // approver in another channel
    await react(request, 'U0MALLORY', 'x'); // a reject from a non-approver does not end it either
    expect((await status(request)).status).toBe('pending');
    await react(request, 'U0DAVE', 'white_check_mark');
    expect((await status(request)).status).toBe('approved');
  });

  it('an approver by selector counts where the service’s labels match, and only there', async () => {
    const request = await newRequest();
    await react(request, 'U0IVY', 'white_check_mark');
    expect((await status(request)).status).toBe('pending');
    expect(ephemeralTo('U0IVY')[0]).toContain('needs the `approver` role');
    await react(request, 'U0HANK', 'white_check_mark');
    expect((await status(request)).status).toBe('approved');
  });

  it('an approver of another workspace does not decide here: refused and audited, nothing said', async () => {
    const request = await newRequest();
    await react(request, 'U0GRACE', 'white_check_mark', true, 'T0OTHER');
    await react(request, 'U0GRACE', 'x', true, 'T0OTHER');
    expect((await status(request)).status).toBe('pending');
    expect(sent).toHaveLength(0);
    expect(slackCalls).toHaveLength(0);
    expect(audit.records.map((r) => [r.teamId, r.decision, r.reason])).toEqual([
      ['T0OTHER', 'denied', 'reaction from workspace T0OTHER, the request belongs to T0LOCAL'],
      ['T0OTHER', 'denied', 'reaction from workspace T0OTHER, the request belongs to T0LOCAL'],
    ]);
  });

  it('a non-approver taking a reaction back is audited too, silently', async () => {
    const request = await newRequest();
    await react(request, 'U0MALLORY', 'white_check_mark', false);
    expect(slackCalls).toHaveLength(0);
    expect(audit.records[0]).toMatchObject({ userId: 'U0MALLORY', decision: 'denied', reason: 'no approver role for web in this channel (reaction removed)' });
  });

  it('skin-tone variants count as the base emoji; other emoji are ignored', async () => {
    expect(baseEmoji('white_check_mark::skin-tone-4')).toBe('white_check_mark');
    const request = await newRequest();
    await react(request, 'U0BOB', 'tada');
    expect((await status(request)).status).toBe('pending');
    expect(slackCalls).toHaveLength(0);
    await react(request, 'U0BOB', 'white_check_mark::skin-tone-2');
    expect((await status(request)).status).toBe('approved');
  });

  it('with two approvals required, removing a ✅ withdraws it; the second distinct approver decides', async () => {
    const request = await newRequest({ required: 2 });
    await react(request, 'U0BOB', 'white_check_mark');
    expect(await status(request)).toMatchObject({ status: 'pending', approvals: ['U0BOB'] });
    await react(request, 'U0BOB', 'white_check_mark', false);
    expect((await status(request)).approvals).toBeUndefined();
    await react(request, 'U0BOB', 'white_check_mark');
    await react(request, 'U0BOB', 'white_check_mark'); // the same person twice is still one approval
    expect(await status(request)).toMatchObject({ status: 'pending', approvals: ['U0BOB'] });
    await react(request, 'U0CAROL', 'white_check_mark');
    expect(await status(request)).toMatchObject({ status: 'approved', approvals: ['U0BOB', 'U0CAROL'] });
    expect(sent).toHaveLength(1);
    const notes = slackCalls.filter((c) => c.method === 'chat.postMessage').map((c) => String(c.args.text));
    expect(notes).toEqual(['👍 <@U0BOB> approved (1 of 2).', '↩️ <@U0BOB> withdrew their approval (0 of 2).', '👍 <@U0BOB> approved (1 of 2).']);
    // The decision is on the message (a deploy's thread opens its rollout with who approved), and the
    // bot's own choices are gone: what is left under the message counts people only.
    expect(slackCalls.filter((c) => c.method === 'chat.update').at(-1)!.args.text).toContain('👍 Approved by <@U0BOB>, <@U0CAROL>: deploying');
    expect(slackCalls.filter((c) => c.method === 'reactions.remove').map((c) => c.args.name)).toEqual(['white_check_mark', 'x']);
  });

  it('a reject ends the request; the requester’s reject withdraws it; nothing after that counts', async () => {
    const rejected = await newRequest();
    await react(rejected, 'U0BOB', 'x');
    expect(await status(rejected)).toMatchObject({ status: 'rejected', decidedBy: 'U0BOB' });
    expect(sent.at(-1)).toMatchObject({ status: 'rejected' });
    const withdrawn = await newRequest();
    await react(withdrawn, 'U0ALICE', 'x');
    expect((await status(withdrawn)).status).toBe('cancelled');
    sent.length = 0;
    slackCalls.length = 0;
    await react(rejected, 'U0CAROL', 'white_check_mark');
    await react(withdrawn, 'U0BOB', 'white_check_mark');
    expect((await status(rejected)).status).toBe('rejected');
    expect(sent).toHaveLength(0);
    expect(slackCalls).toHaveLength(0); // no error spam on old requests
  });

  it('an expired request can no longer be approved, and says nothing', async () => {
    const request = await newRequest({ deadline: now - 1 });
    await react(request, 'U0BOB', 'white_check_mark');
    expect((await status(request)).status).toBe('pending'); // the workflow marks it expired
    expect(slackCalls).toHaveLength(0);
    // Even past the handler's own check, the conditional update refuses it.
    expect(await dynamoApprovalRequests.approve(request.pk, 'U0BOB', now)).toBeUndefined();
  });

  it('simultaneous approvals (and Slack redeliveries) decide a request exactly once', async () => {
    for (const required of [1, 2]) {
      sent.length = 0;
      const request = await newRequest({ required });
      const people = ['U0BOB', 'U0CAROL', 'U0DAVE'];
      await Promise.all([...people, ...people].map((user) => react(request, user, 'white_check_mark')));
      const after = await status(request);
      expect(after.status).toBe('approved');
      // One decision; the callback is completed (a duplicate click racing the winner may send it again, which the workflow ignores).
      const decisions = slackCalls.filter(
        (c) => c.method === 'chat.update' && String(c.args.text).includes('👍 Approved by') && c.args.ts === request.messageTs,
      );
      expect(decisions).toHaveLength(1);
      expect(slackCalls.filter((c) => c.method === 'reactions.remove' && c.args.timestamp === request.messageTs)).toHaveLength(2);
      expect(sent.length).toBeGreaterThanOrEqual(1);
      expect(new Set(sent.map((x) => x.callbackId))).toEqual(new Set([`cb-${request.id}`]));
    }
  });

  it('an approval stored by a worker that died before deciding is completed by the next ✅ of that person', async () => {
    const request = await newRequest();
    expect(await dynamoApprovalRequests.approve(request.pk, 'U0BOB', now)).toBeDefined(); // …and then the worker died
    expect((await status(request)).status).toBe('pending');
    await react(request, 'U0BOB', 'white_check_mark'); // Bob clicks again
    expect(await status(request)).toMatchObject({ status: 'approved', approvals: ['U0BOB'] });
    expect(sent).toEqual([{ callbackId: `cb-${request.id}`, status: 'approved' }]);
  });

  it('a callback that could not be sent (throttled) is sent again when the approver reacts again', async () => {
    const request = await newRequest();
    approvals.sendDecision = vi.fn(async () => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' });
    });
    await expect(react(request, 'U0BOB', 'white_check_mark')).rejects.toThrow('Rate exceeded');
    expect((await status(request)).status).toBe('approved');
    approvals.sendDecision = vi.fn(async (callbackId, decision) => {
      sent.push({ callbackId, status: decision.status });
      return true;
    });
    await react(request, 'U0BOB', 'white_check_mark');
    expect(sent).toEqual([{ callbackId: `cb-${request.id}`, status: 'approved' }]);
    await react(request, 'U0CAROL', 'white_check_mark'); // someone else: nothing to repair for them
    expect(sent).toHaveLength(1);
  });

  it('a decision made before the workflow attached its callback is read back when it attaches', async () => {
    const ts = `1764000000.${String(++counter).padStart(6, '0')}`;
    const request = { ...(await newRequest()), pk: requestKey(CHANNEL, ts), messageTs: ts, id: 'early' };
    expect(await dynamoApprovalRequests.create(request, 3600)).toBe(true);
    await react(request, 'U0BOB', 'white_check_mark');
    expect(sent).toHaveLength(0); // no callback yet to complete
    expect(await dynamoApprovalRequests.attachCallback(request.pk, 'cb-late')).toMatchObject({ status: 'approved', callbackId: 'cb-late' });
  });
});
