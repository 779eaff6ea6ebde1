/**
 * What the approval machinery works with: where requests are stored, and how a waiting workflow is
 * told the decision. One shape, built once by each Lambda handler (src/handlers/) and handed down
 * to the worker's commands and reactions and to the workflows; tests pass another object.
 */
import type { sendDecision } from './callback';
import type { ApprovalRequests } from './requests';

export interface Approvals {
  requests: ApprovalRequests;
  /** Completes a workflow's approval callback (src/approval/callback.ts). */
  sendDecision: typeof sendDecision;
}
