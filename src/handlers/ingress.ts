import type { HttpEvent, HttpResult } from '../ingress/http';
import { createIngress } from '../ingress/ingress';
import { productionIngressDeps } from '../ingress/production';
import { log } from '../platform/logger';

/** API Gateway HTTP API → Slack's three kinds of request (commands, events, interactivity). */
const ingress = createIngress(productionIngressDeps());

export async function handler(event: HttpEvent): Promise<HttpResult> {
  try {
    return await ingress.handleHttp(event);
  } catch (error) {
    // Something we could not handle: Slack shows the user a failure, and the log says why.
    log.error('ingress failed', { error, stack: (error as Error).stack });
    return { statusCode: 500, body: 'internal error' };
  }
}
