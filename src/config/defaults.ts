import type { PausableStage } from '../deploy/strategy';

/**
 * Defaults the grammar needs too: in a module without the validator, so the ingress bundle (which
 * parses commands) does not carry the configuration schema.
 */

/** `targets.<alias>.scale` when a target does not say: scaling is approved like a deploy, at most 1000 tasks. */
export const SCALE_DEFAULTS = { requiresApproval: true, maxCount: 1000 };

/** `targets.<alias>.deploy` when a target does not say (and a discovered service's, src/config/default-target.ts). */
export const DEPLOY_DEFAULTS = {
  approvals: 1,
  approverRole: 'approver' as const,
  expirySeconds: 1800,
  approveEmoji: 'white_check_mark',
  rejectEmoji: 'x',
  rollback: true,
  timeoutSeconds: 1800,
  showEnvironmentValues: false,
  gates: [] as PausableStage[],
};

/** `targets.<alias>.verify` when a target does not say. */
export const VERIFY_DEFAULTS = { skip: [], putLogs: false, requiredPermissions: [] };
