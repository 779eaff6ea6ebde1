/**
 * A request for approval (a deploy, or a script declared `requiresApproval`), as the worker stores
 * it, the reaction handler decides it and the workflow waits on it. JSON: it lives in DynamoDB.
 */
import type { Role } from '../auth/roles';
import type { DeployPlan } from '../deploy/types';

export type RequestStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

/** Approval settings copied into the request, so a config change does not alter a pending one. */
export interface ApprovalRule {
  required: number;
  approverRole: Role;
  approveEmoji: string;
  rejectEmoji: string;
  /** Epoch ms after which the request can no longer be approved. */
  deadline: number;
}

/** The approval settings of a target (its `deploy` block), as they stand when a request is made at `now`. */
export function ruleFrom(
  settings: Pick<ApprovalRule, 'approverRole' | 'approveEmoji' | 'rejectEmoji'> & { approvals: number; expirySeconds: number },
  now: number,
): ApprovalRule {
  return {
    required: settings.approvals,
    approverRole: settings.approverRole,
    approveEmoji: settings.approveEmoji,
    rejectEmoji: settings.rejectEmoji,
    deadline: now + settings.expirySeconds * 1000,
  };
}

/**
 * A request waiting for approvals: a deploy, or a script declared `requiresApproval`. One
 * state-table item keyed by the approval message (the command's parent message,
 * `tracked#<channel>#<ts>`), which the ingress uses to route reactions. Every change to it is a
 * conditional update (src/approval/requests.ts).
 */
export interface ApprovalRequest {
  pk: string;
  /** `gate`: a deploy paused at a lifecycle hook, on the gate message in the deploy's thread (src/workflows/deploy-staged.ts). */
  kind: 'deploy' | 'run' | 'gate';
  /** The deploy or run id. */
  id: string;
  status: RequestStatus;
  /** The target (alias) whose approval rules apply and whose approvers may decide. */
  target: string;
  teamId: string;
  channelId: string;
  /** The approval message (the command's parent message). */
  messageTs: string;
  /** The thread the approval message is a reply in (gates); notes go there. Absent: the message's own thread. */
  threadTs?: string;
  requesterId: string;
  requesterName?: string;
  /** What the person typed. */
  commandText: string;
  /** The approval message's first line: who asks for what. */
  headline: string;
  /** What approval lets happen, one line each (images old → new; the script and its arguments). */
  details: string[];
  /** For the status line once approved: `deploying`, `rolling back`, `running \`restore.sh …\``. */
  doing: string;
  /** How messages name the request: ``deploy `k3x9q2` ``. */
  label: string;
  rule: ApprovalRule;
  /** User ids whose approval counts (a DynamoDB string set; absent when empty). */
  approvals?: string[];
  decidedBy?: string;
  decidedAt?: number;
  /** Set by the workflow once its approval callback exists. */
  callbackId?: string;
  /** The decision reached the workflow (its callback was completed). */
  notified?: boolean;
  /** ISO time the request was made. */
  requestedAt: string;
  /** Deploys: what will change. */
  plan?: DeployPlan;
}
