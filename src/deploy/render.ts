/** How a request for approval reads in Slack: the message people react on. */
import { shortTaskDefinition } from '../ecs/taskdef';
import { code } from '../slack/format';
import type { DeployAction, DeployPlan } from './types';
import type { ApprovalRequest } from '../approval/types';

/** What an approved deploy does, for the status line. */
export const DOING: Record<DeployAction, string> = { deploy: 'deploying', redeploy: 'redeploying', rollback: 'rolling back', scale: 'scaling' };

/** `HH:MM UTC`, with the date when `ms` is more than 20 hours after `from` (expiries may be days away). */
export const clock = (ms: number, from = ms): string => {
  const iso = new Date(ms).toISOString();
  return ms - from > 20 * 3_600_000 ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : `${iso.slice(11, 16)} UTC`;
};

/** One line: who asks for what, where. */
export function requestHeadline(input: { requesterId: string; target: string; plan: DeployPlan; deployId: string }): string {
  const { plan } = input;
  const what =
    plan.action === 'scale' && plan.scale
      ? `scale *${input.target}* from ${plan.scale.fromDesiredCount} to ${plan.scale.desiredCount} task${plan.scale.desiredCount === 1 ? '' : 's'}`
      : plan.action === 'rollback'
        ? `roll *${input.target}* back from ${code(shortTaskDefinition(plan.currentTaskDefinition))} to ${code(shortTaskDefinition(plan.targetTaskDefinition))}`
        : plan.action === 'redeploy'
          ? `redeploy *${input.target}* (${code(shortTaskDefinition(plan.currentTaskDefinition))}, fresh tasks)`
          : `deploy to *${input.target}* (from ${code(shortTaskDefinition(plan.currentTaskDefinition))})`;
  return `${plan.action === 'scale' ? '📏' : '🚀'} <@${input.requesterId}> asks to ${what} · ${plan.action === 'scale' ? 'scale' : 'deploy'} \`${input.deployId}\``;
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
    `Needs ${people}, not <@${request.requesterId}>. React :${rule.approveEmoji}: to approve or :${rule.rejectEmoji}: to reject. Expires at ${clock(rule.deadline, request.requestedAt ? Date.parse(request.requestedAt) : rule.deadline)}.`,
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
