import { createApi } from '../api/api';
import { productionApiDeps } from '../api/production';
import { getConfig } from '../config/load';
import { requiredEnv } from '../config/env';
import { dynamoAudit } from '../audit/audit';
import { dynamoState } from '../platform/state';
import { dynamoRateLimiter } from '../api/rate-limit';
import { ssmWebhookSecrets } from './secrets';
import { WEBHOOK_RATE_LIMIT, type WebhookDeps } from './webhooks';

/** Ticket webhooks as deployed: the signed API's `submit` (same stores, same hand-off), secrets from SSM. */
export const productionWebhookDeps = (): WebhookDeps => ({
  config: getConfig,
  secrets: ssmWebhookSecrets(),
  secretsPath: () => requiredEnv('WEBHOOK_SECRETS_PARAM'),
  state: dynamoState,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  rateLimiter: dynamoRateLimiter(WEBHOOK_RATE_LIMIT),
  submit: createApi(productionApiDeps()).submit,
  now: Date.now,
});
