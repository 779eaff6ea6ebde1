/** A ticket system calling the local world's webhook route: signed as README says, or not. */
import type { World } from '../../local/world';
import { LOCAL_WEBHOOK_SECRET } from '../../local/aws/seed';
import { signatureOf } from '../../src/webhooks/signature';

export interface WebhookCall {
  body: string;
  headers: Record<string, string>;
}

/** A signed request for `source`: the secret, the timestamp (unix seconds) or the signature may be overridden. */
export function signedWebhook(body: unknown, options: { secret?: string; timestamp?: number; signature?: string | false } = {}): WebhookCall {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = options.signature ?? signatureOf(options.secret ?? LOCAL_WEBHOOK_SECRET, timestamp, text);
  return {
    body: text,
    headers: {
      'content-type': 'application/json',
      'x-ecs-chatops-timestamp': timestamp,
      ...(signature === false ? {} : { 'x-ecs-chatops-signature': signature }),
    },
  };
}

export const sendWebhook = (world: World, source: string, call: WebhookCall) =>
  world.httpApi.handle({ method: 'POST', path: `/api/webhooks/${source}`, headers: { host: world.httpApi.host, ...call.headers }, body: call.body });
