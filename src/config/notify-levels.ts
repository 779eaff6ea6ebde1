/**
 * The notifier's vocabulary, apart from the schema: the bundles that embed the configuration read
 * these without loading zod (only the build and development validate with it).
 */

/** How loud an event is: what a channel receives is at or above its `minSeverity`. */
export const SEVERITIES = ['info', 'warning', 'critical'] as const;

/** What the notifier can tell (src/notify/events.ts): ECS deployments, abnormal task stops, service actions, CloudWatch alarms. */
export const NOTICE_KINDS = ['deployments', 'tasks', 'service', 'alarms'] as const;
