import type { HttpResult } from '../ingress/http';
import { log } from '../platform/logger';
import { productionWebhookDeps } from '../webhooks/production';
import { createWebhooks, type WebhookEvent } from '../webhooks/webhooks';

/** `POST /api/webhooks/{source}` on the HTTP API, no IAM authorizer: ticket systems, authenticated by their HMAC signature. */
const webhooks = createWebhooks(productionWebhookDeps());

export async function handler(event: WebhookEvent): Promise<HttpResult> {
  try {
    return await webhooks.handle(event);
  } catch (error) {
    log.error('webhook failed', { error, stack: (error as Error).stack });
    return { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'internal', message: 'internal error' }) };
  }
}
