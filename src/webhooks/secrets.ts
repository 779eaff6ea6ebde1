/**
 * Each webhook source's shared secrets, SSM SecureStrings read when a request of that source first
 * needs them and kept five minutes, so a rotated secret is picked up without a deploy and a burst of
 * webhooks costs one read. Only parameter names are in the configuration and the environment.
 *
 * A source has its current secret at its `secretParam` and, while a rotation is under way, the one
 * it replaces at `<secretParam>/previous` (README, "Rotating a webhook secret"): both are accepted,
 * so the ticket system can switch to the new secret at any moment without a refused webhook. Two
 * parameters rather than a format inside one: each holds exactly what the ticket system holds,
 * the current one's value never changes shape, and ending the rotation is deleting a parameter.
 */
export interface SourceSecrets {
  current: string;
  /** The secret being rotated out, accepted until its parameter is deleted (and the cache expires). */
  previous?: string;
}

/** Which of a source's secrets a webhook was signed with: audited and logged, never the secret itself. */
export type SecretSlot = keyof SourceSecrets;

export interface WebhookSecrets {
  /** The source's secrets; undefined when its current parameter does not exist. Throws when SSM cannot be read. */
  get(name: string): Promise<SourceSecrets | undefined>;
}

/** How long a read is kept: the time a rotation step takes to reach every warm instance. */
export const SECRET_CACHE_MS = 5 * 60_000;

/** The parameter holding the secret being rotated out, beside the current one (under the same readable path). */
export const previousSecretParam = (name: string): string => `${name}/previous`;

/** SecureString values by name, decrypted; a name that does not exist (or is empty) is absent. */
export type ReadParameters = (names: string[]) => Promise<Map<string, string>>;

export function ssmWebhookSecrets(now: () => number = Date.now, readParameters: ReadParameters = ssmGetParameters): WebhookSecrets {
  const cache = new Map<string, { value: Promise<SourceSecrets | undefined>; until: number }>();
  return {
    get(name) {
      const hit = cache.get(name);
      if (hit && hit.until > now()) return hit.value;
      const value = read(name);
      cache.set(name, { value, until: now() + SECRET_CACHE_MS });
      // A failed or missing read is not remembered: the next request tries again. A missing previous
      // secret is the usual state (no rotation under way) and is remembered with the current one.
      value.then(
        (v) => v === undefined && cache.delete(name),
        () => cache.delete(name),
      );
      return value;
    },
  };

  async function read(name: string): Promise<SourceSecrets | undefined> {
    const values = await readParameters([name, previousSecretParam(name)]);
    const current = values.get(name);
    if (!current) return undefined;
    const previous = values.get(previousSecretParam(name));
    return previous ? { current, previous } : { current };
  }
}

/** One GetParameters call for both names: a missing one is listed in InvalidParameters, not an error. */
async function ssmGetParameters(names: string[]): Promise<Map<string, string>> {
  const { GetParametersCommand, SSMClient } = await import('@aws-sdk/client-ssm');
  const ssm = new SSMClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 } });
  try {
    const out = await ssm.send(new GetParametersCommand({ Names: names, WithDecryption: true }));
    return new Map((out.Parameters ?? []).filter((p) => p.Name && p.Value).map((p) => [p.Name!, p.Value!]));
  } finally {
    ssm.destroy();
  }
}
