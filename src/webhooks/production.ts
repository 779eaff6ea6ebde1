import { createApi } from '../api/api';
import { productionApiDeps } from '../api/production';
import { getConfig } from '../config/load';
import { requiredEnv } from '../config/env';
import { dynamoAudit } from '../audit/audit';
import { countMetric } from '../platform/metrics';
import { dynamoState } from '../platform/state';
import { dynamoRateLimiter } from '../api/rate-limit';
import { createRefusalGate, WEBHOOK_REFUSAL_AUDIT_LIMIT } from './refusals';
import { ssmWebhookSecrets } from './secrets';
import { WEBHOOK_RATE_LIMIT, type WebhookDeps } from './webhooks';

/** Every refused webhook, by whether its record was written (src/webhooks/refusals.ts). */
const countRefusal = (audit: 'recorded' | 'suppressed'): void => countMetric('WebhookRefusals', 'audit', audit);

/** Ticket webhooks as deployed: the signed API's `submit` (same stores, same hand-off), secrets from SSM. */
export const productionWebhookDeps = (): WebhookDeps => ({
  config: getConfig,
  secrets: ssmWebhookSecrets(),
  secretsPath: () => requiredEnv('WEBHOOK_SECRETS_PARAM'),
  state: dynamoState,
  audit: () => dynamoAudit(getConfig().audit.retentionDays),
  rateLimiter: dynamoRateLimiter(WEBHOOK_RATE_LIMIT),
  // Token buckets in the state table, as the rate limit's: an empty bucket is one GetItem, nothing written.
  refusals: createRefusalGate({ limiter: dynamoRateLimiter(WEBHOOK_REFUSAL_AUDIT_LIMIT), countRefusal, now: Date.now }),
  submit: createApi(productionApiDeps()).submit,
  now: Date.now,
});
