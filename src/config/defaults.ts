/**
 * Defaults the grammar needs too: in a module without the validator, so the ingress bundle (which
 * parses commands) does not carry the configuration schema.
 */

/** `targets.<alias>.scale` when a target does not say: scaling is approved like a deploy, at most 1000 tasks. */
export const SCALE_DEFAULTS = { requiresApproval: true, maxCount: 1000 };
