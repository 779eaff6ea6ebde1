import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

/** Who is acting, carried into the target account so CloudTrail names the Slack user. */
export interface Actor {
  teamId: string;
  userId: string;
  userName?: string;
}

/** Refresh this long before expiry, so a call never starts with credentials about to lapse. */
const REFRESH_MARGIN_MS = 5 * 60_000;
const SESSION_SECONDS = 3600;

const cache = new Map<string, Promise<AwsCredentialIdentity>>();
let sts: STSClient | undefined;

/** `ecs-chatops@U0ALICE` style, within STS's 64-character [\w+=,.@-] alphabet. */
export function sessionName(actor: Actor): string {
  return `ecs-chatops@${actor.userId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

const tagValue = (value: string) => value.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '-').slice(0, 256);

/**
 * Credentials for a target's role, assumed per Slack user (the session name, the session tags and
 * the source identity all carry the user) and cached until shortly before they expire.
 */
export function assumeRoleCredentials(roleArn: string, region: string, actor: Actor, now: () => number = Date.now): AwsCredentialIdentityProvider {
  const key = `${roleArn}|${actor.teamId}|${actor.userId}`;
  return async () => {
    const cached = cache.get(key);
    if (cached) {
      const credentials = await cached.catch(() => undefined);
      if (credentials?.expiration && credentials.expiration.getTime() - REFRESH_MARGIN_MS > now()) return credentials;
    }
    const fresh = assume(roleArn, region, actor);
    cache.set(key, fresh);
    fresh.catch(() => cache.delete(key));
    return fresh;
  };
}

async function assume(roleArn: string, region: string, actor: Actor): Promise<AwsCredentialIdentity> {
  sts ??= new STSClient({ region, maxAttempts: 4 });
  const out = await sts.send(
    new AssumeRoleCommand({
      RoleArn: roleArn,
      RoleSessionName: sessionName(actor),
      DurationSeconds: SESSION_SECONDS,
      SourceIdentity: sessionName(actor),
      Tags: [
        { Key: 'slack-user', Value: tagValue(actor.userId) },
        { Key: 'slack-team', Value: tagValue(actor.teamId) },
        ...(actor.userName ? [{ Key: 'slack-user-name', Value: tagValue(actor.userName) }] : []),
      ],
    }),
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error(`AssumeRole on ${roleArn} returned no credentials`);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
}

export function clearCredentialCache(): void {
  cache.clear();
  sts = undefined;
}
