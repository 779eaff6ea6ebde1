/** How a request for approval reads in Slack: the message people react on. */
import { shortTaskDefinition } from '../ecs/taskdef';
import { code, escapeText } from '../slack/format';
import { mention } from '../slack/invocation';
import type { DefinitionDiff } from './diff';
import type { DeployAction, DeployPlan } from './types';
import type { ApprovalRequest } from '../approval/types';

/** What an approved deploy does, for the status line. */
export const DOING: Record<DeployAction, string> = { deploy: 'deploying', redeploy: 'redeploying', rollback: 'rolling back', scale: 'scaling' };

/** `HH:MM UTC`, with the date when `ms` is more than 20 hours after `from` (expiries may be days away). */
export const clock = (ms: number, from = ms): string => {
  const iso = new Date(ms).toISOString();
  return ms - from > 20 * 3_600_000 ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : `${iso.slice(11, 16)} UTC`;
};

/** What a plan does, as a phrase: "deploy to *web* (from `web:41`)". */
export function planPhrase(target: string, plan: DeployPlan): string {
  return plan.action === 'scale' && plan.scale
    ? `scale *${target}* from ${plan.scale.fromDesiredCount} to ${plan.scale.desiredCount} task${plan.scale.desiredCount === 1 ? '' : 's'}`
    : plan.action === 'rollback'
      ? `roll *${target}* back from ${code(shortTaskDefinition(plan.currentTaskDefinition))} to ${code(shortTaskDefinition(plan.targetTaskDefinition))}`
      : plan.action === 'redeploy'
        ? `redeploy *${target}* (${code(shortTaskDefinition(plan.currentTaskDefinition))}, fresh tasks)`
        : `deploy to *${target}* (from ${code(shortTaskDefinition(plan.currentTaskDefinition))})`;
}

/** One line: who asks for what, where. */
export function requestHeadline(input: { requesterId: string; requester?: string; target: string; plan: DeployPlan; deployId: string }): string {
  const { plan } = input;
  return `${plan.action === 'scale' ? '📏' : '🚀'} ${input.requester ?? mention(input.requesterId)} asks to ${planPhrase(input.target, plan)} · ${plan.action === 'scale' ? 'scale' : 'deploy'} \`${input.deployId}\``;
}

const approverPhrase = (role: string) => (role === 'admin' ? 'an *admin*' : `${/^[aeiou]/.test(role) ? 'an' : 'a'} *${role}* (or admin)`);

/** The approval request: what changes, who may approve, how, until when. */
export function approvalBody(request: Pick<ApprovalRequest, 'details' | 'rule' | 'requesterId'> & { requestedAt?: string }): string {
  const { rule } = request;
  const people =
    rule.required === 1
      ? `1 approval from ${approverPhrase(rule.approverRole)}`
      : `${rule.required} approvals from different people, each ${approverPhrase(rule.approverRole)}`;
  return [
    ...request.details.map((n) => `• ${n}`),
    `Needs ${people}, not ${mention(request.requesterId)}. React :${rule.approveEmoji}: to approve or :${rule.rejectEmoji}: to reject. Expires at ${clock(rule.deadline, request.requestedAt ? Date.parse(request.requestedAt) : rule.deadline)}.`,
  ].join('\n');
}

/** The whole approval message, with where the request stands. */
export function approvalMessage(request: ApprovalRequest): string {
  return [request.headline, approvalBody(request), statusLine(request)].filter(Boolean).join('\n');
}

export function statusLine(request: Pick<ApprovalRequest, 'status' | 'approvals' | 'rule' | 'decidedBy' | 'decidedAt' | 'doing'>): string {
  const approvals = request.approvals ?? [];
  const who = approvals.map((u) => `<@${u}>`).join(', ');
  switch (request.status) {
    case 'pending':
      return approvals.length ? `⏳ Approved by ${who} (${approvals.length} of ${request.rule.required}); waiting for more.` : `⏳ Waiting for approval.`;
    case 'approved':
      return `👍 Approved by ${who || `<@${request.decidedBy}>`}: ${request.doing}, progress in the thread.`;
    case 'rejected':
      return `🙅 Rejected by <@${request.decidedBy}>${request.decidedAt ? ` at ${clock(request.decidedAt)}` : ''}. Nothing was changed.`;
    case 'cancelled':
      return `🚫 Withdrawn by <@${request.decidedBy}>. Nothing was changed.`;
    case 'expired':
      return `⌛ Expired at ${clock(request.rule.deadline)}: not enough approvals in time. Nothing was changed; ask again if it is still wanted.`;
  }
}

/** How many change lines a request shows; the rest is in the attached diff. */
export const SHOWN_CHANGES = 12;

/**
 * The request's lines about the change beyond its images (those are `imageNotes`), at most
 * SHOWN_CHANGES, and the plan's fingerprint. `attach`: the whole diff should go with it as a file.
 */
export function changeDetails(plan: DeployPlan, diff: DefinitionDiff): { lines: string[]; attach: boolean } {
  const other = diff.lines.filter((l) => !/^[^:]+: image /.test(l));
  const shown = other.slice(0, SHOWN_CHANGES).map((l) => escapeText(l));
  if (other.length > SHOWN_CHANGES) shown.push(`… and ${other.length - SHOWN_CHANGES} more changes in the attached diff`);
  const strategy = plan.strategy ? escapeText(plan.strategy) : undefined;
  if (plan.hash)
    shown.push(
      `Plan \`${plan.hash}\`${strategy ? ` · ${strategy}` : ''}: the approvals count for exactly this change; if the service or its task definition changes before the deploy starts, they are void.`,
    );
  return { lines: shown, attach: other.length > 0 && diff.unified !== '' };
}
