import { createApi, type ApiEvent } from '../api/api';
import { productionApiDeps } from '../api/production';
import { DynamoCatalog } from '../fleet/catalog';
import type { HttpResult } from '../ingress/http';
import { log } from '../platform/logger';

/** API Gateway HTTP API routes under /api/ with IAM authorization (SigV4): work from other systems. */
// The catalog: a deploy naming a service only discovered is told so (one GetItem, only with `fleet:`).
// Not for webhooks and schedules, whose configuration names declared targets only.
const api = createApi({ ...productionApiDeps(), catalog: new DynamoCatalog() });

export async function handler(event: ApiEvent): Promise<HttpResult> {
  try {
    return await api.handle(event);
  } catch (error) {
    log.error('api failed', { error, stack: (error as Error).stack });
    return { statusCode: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ error: 'internal', message: 'internal error' }) };
  }
}
