/**
 * The one place the bot reads its environment (serverless.yml sets these; the local world and
 * tests set them too, some after this module is imported). Every accessor reads at call time,
 * never at import, and an empty value counts as unset. No imports: handlers load this on every
 * cold start.
 */

/** Every environment variable the bot reads. */
export type EnvName =
  | 'ALLOWLIST_TABLE'
  | 'AUDIT_TABLE'
  | 'STATE_TABLE'
  | 'CATALOG_TABLE'
  | 'SLACK_SIGNING_SECRET_PARAM'
  | 'SLACK_BOT_TOKEN_PARAM'
  | 'SLACK_API_URL'
  | 'WORKER_FUNCTION_NAME'
  /** The SSM path under which the ticket webhooks' secret parameters live (src/webhooks/). */
  | 'WEBHOOK_SECRETS_PARAM'
  | 'RUN_WORKFLOW_FUNCTION_NAME'
  | 'RUN_WORKFLOW_POLL_SECONDS'
  | 'NOTIFY_EDIT_INTERVAL_SECONDS'
  | 'DEPLOY_WORKFLOW_FUNCTION_NAME'
  | 'LOG_LEVEL'
  | 'ECS_CHATOPS_CONFIG'
  | 'ECS_CHATOPS_REGISTRY_ENDPOINTS'
  /** The EventBridge Scheduler group holding the configuration's schedules (`/ecs schedules`). */
  | 'SCHEDULE_GROUP_NAME'
  /** The bot's own AWS account (the catalog's account of targets declared without a roleArn). */
  | 'BOT_ACCOUNT_ID';

/** The variable's value, or undefined when it is unset or empty. */
export function optionalEnv(name: EnvName): string | undefined {
  return process.env[name] || undefined;
}

/** The variable's value; a deployment without it is misconfigured, so its absence throws. */
export function requiredEnv(name: EnvName): string {
  const value = optionalEnv(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The log threshold, lower-cased; `info` when unset. */
export const logLevel = (): string => (optionalEnv('LOG_LEVEL') ?? 'info').toLowerCase();

/** Slack's Web API base URL when it is not Slack's own (a local Slack in tests and the local world). */
export const slackApiUrl = (): string | undefined => optionalEnv('SLACK_API_URL');

/** The configuration file read outside a build. */
export const configPath = (): string => optionalEnv('ECS_CHATOPS_CONFIG') ?? 'ecs-chatops.config.yaml';

/** Seconds between the run workflow's polls of a detached run, when set to a number. */
export function runWorkflowPollSeconds(): number | undefined {
  const seconds = Number(optionalEnv('RUN_WORKFLOW_POLL_SECONDS'));
  return Number.isFinite(seconds) ? seconds : undefined;
}

/** Seconds between edits of an incident's message, when set to a number (the local world shortens it). */
export function notifyEditIntervalSeconds(): number | undefined {
  const raw = optionalEnv('NOTIFY_EDIT_INTERVAL_SECONDS');
  const seconds = Number(raw);
  return raw !== undefined && Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}
