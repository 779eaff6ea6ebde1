/**
 * Each webhook source's shared secret, an SSM SecureString read when a request of that source first
 * needs it and kept five minutes, so a rotated secret is picked up without a deploy and a burst of
 * webhooks costs one read. Only parameter names are in the configuration and the environment.
 */
export interface WebhookSecrets {
  /** The secret's value; undefined when the parameter does not exist. Throws when SSM cannot be read. */
  get(name: string): Promise<string | undefined>;
}

export const SECRET_CACHE_MS = 5 * 60_000;

export function ssmWebhookSecrets(now: () => number = Date.now): WebhookSecrets {
  const cache = new Map<string, { value: Promise<string | undefined>; until: number }>();
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit && hit.until > now()) return hit.value;
      const value = read(name);
      cache.set(name, { value, until: now() + SECRET_CACHE_MS });
      // A failed or missing read is not remembered: the next request tries again.
      value.then(
        (v) => v === undefined && cache.delete(name),
        () => cache.delete(name),
      );
      return value;
    },
  };
}

async function read(name: string): Promise<string | undefined> {
  const { GetParameterCommand, ParameterNotFound, SSMClient } = await import('@aws-sdk/client-ssm');
  const ssm = new SSMClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 } });
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    return out.Parameter?.Value || undefined;
  } catch (error) {
    if (error instanceof ParameterNotFound) return undefined;
    throw error;
  } finally {
    ssm.destroy();
  }
}
