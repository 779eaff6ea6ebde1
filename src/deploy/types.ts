/**
 * The shapes a deploy passes between its parts: the worker command that plans it and asks for
 * approval, the reaction handler that collects approvals, and the durable workflow that waits,
 * deploys, watches and rolls back. All JSON: they live in DynamoDB and in workflow checkpoints.
 */
import type { AuditKey } from '../audit/audit';
import type { Role } from '../auth/roles';
import type { Target } from '../config/schema';
import type { ImageChange } from '../ecs/taskdef';

export type DeployAction = 'deploy' | 'redeploy' | 'rollback';

/** What a deploy will do, computed before anyone is asked to approve it. */
export interface DeployPlan {
  action: DeployAction;
  /** The service's task definition when the request was made (ARN). */
  currentTaskDefinition: string;
  /** deploy: registered from `currentTaskDefinition` with `changes`; rollback: this existing revision; redeploy: the current one. */
  targetTaskDefinition?: string;
  changes: ImageChange[];
  /** One line per image for people: `web: …/web:v1.4.0 → …/web:v1.5.0`. */
  imageNotes: string[];
}

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

/**
 * A request waiting for approvals: a deploy, or a script declared `requiresApproval`. One
 * state-table item keyed by the approval message (the command's parent message,
 * `tracked#<channel>#<ts>`), which the ingress uses to route reactions. Every change to it is a
 * conditional update (src/deploy/requests.ts).
 */
export interface ApprovalRequest {
  pk: string;
  kind: 'deploy' | 'run';
  /** The deploy or run id. */
  id: string;
  status: RequestStatus;
  /** The target (alias) whose approval rules apply and whose approvers may decide. */
  target: string;
  teamId: string;
  channelId: string;
  /** The approval message (the command's parent message). */
  messageTs: string;
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

/** The deploy workflow's input (src/commands/deploy-workflow.ts). */
export interface DeployWorkflowInput {
  deployId: string;
  /** State-table key of the request. */
  requestKey: string;
  target: string;
  /** The target's service and account as planned (not re-read from a configuration that may change). */
  where: Pick<Target, 'region' | 'cluster' | 'service' | 'roleArn'>;
  teamId: string;
  requesterId: string;
  requesterName?: string;
  channelId: string;
  parentTs: string;
  /** The request's headline, kept when the parent message is marked with the outcome. */
  headline: string;
  plan: DeployPlan;
  /** Epoch ms when the request was made; the approval wait lasts until `deadline`. */
  requestedAt: number;
  deadline: number;
  /** The deploy lock (`lock#deploy#<target>`), released at the end. */
  lockKey: string;
  audit: AuditKey;
  /** Roll back when the rollout fails. */
  rollback: boolean;
  /** Seconds the rollout may take. */
  timeoutSeconds: number;
}

/** Who holds a service's deploy lock. */
export interface DeployLock extends Record<string, unknown> {
  deployId: string;
  userId: string;
  channelId: string;
  threadTs: string;
  startedAt: string;
  commandText: string;
}

/** Per ECS service, not per alias: two aliases of one service share the lock. */
export const deployLockKey = (where: Pick<Target, 'region' | 'cluster' | 'service'>) => `lock#deploy#${where.region}#${where.cluster}#${where.service}`;
export const requestKey = (channelId: string, messageTs: string) => `tracked#${channelId}#${messageTs}`;
