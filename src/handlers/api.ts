import { createApi, type ApiEvent } from '../api/api';
import { productionApiDeps } from '../api/production';
import type { HttpResult } from '../ingress/http';
import { log } from '../platform/logger';

/** API Gateway HTTP API routes under /api/ with IAM authorization (SigV4): work from other systems. */
const api = createApi(productionApiDeps());

export async function handler(event: ApiEvent): Promise<HttpResult> {
  try {
    return await api.handle(event);
  } catch (error) {
    log.error('api failed', { error, stack: (error as Error).stack });
    return { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'internal', message: 'internal error' }) };
  }
}
