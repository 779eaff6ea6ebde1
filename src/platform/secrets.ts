import { requiredEnv } from '../config/env';

export interface SlackSecrets {
  signingSecret: string;
  botToken: string;
}

let pending: Promise<SlackSecrets> | undefined;

/**
 * The Slack signing secret and bot token, read from SSM Parameter Store (SecureString) once per
 * cold start. Only the parameter *names* are in the environment; the values never are.
 */
export function getSlackSecrets(): Promise<SlackSecrets> {
  pending ??= loadSlackSecrets().catch((error: unknown) => {
    pending = undefined; // a failed read must not poison every later invocation
    throw error;
  });
  return pending;
}

export function resetSlackSecrets(): void {
  pending = undefined;
  pendingToken = undefined;
}

async function loadSlackSecrets(): Promise<SlackSecrets> {
  const signingName = requiredEnv('SLACK_SIGNING_SECRET_PARAM');
  const tokenName = requiredEnv('SLACK_BOT_TOKEN_PARAM');
  const { GetParametersCommand, SSMClient } = await import('@aws-sdk/client-ssm');
  const ssm = new SSMClient({ maxAttempts: 4, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 } });
  try {
    const out = await ssm.send(new GetParametersCommand({ Names: [signingName, tokenName], WithDecryption: true }));
    const value = (name: string) => out.Parameters?.find((p) => p.Name === name)?.Value;
    const missing = [signingName, tokenName].filter((n) => !value(n));
    if (missing.length) throw new Error(`SSM parameters missing or empty: ${missing.join(', ')}`);
    return { signingSecret: value(signingName)!, botToken: value(tokenName)! };
  } finally {
    ssm.destroy();
  }
}

let pendingToken: Promise<string> | undefined;

/**
 * The bot token alone, for functions that post but never verify a request (the notifier): its
 * role may read that one parameter and not the signing secret.
 */
export function getSlackBotToken(): Promise<string> {
  pendingToken ??= (async () => {
    const name = requiredEnv('SLACK_BOT_TOKEN_PARAM');
    const { GetParametersCommand, SSMClient } = await import('@aws-sdk/client-ssm');
    const ssm = new SSMClient({ maxAttempts: 4, requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 } });
    try {
      const out = await ssm.send(new GetParametersCommand({ Names: [name], WithDecryption: true }));
      const value = out.Parameters?.find((p) => p.Name === name)?.Value;
      if (!value) throw new Error(`SSM parameter missing or empty: ${name}`);
      return value;
    } finally {
      ssm.destroy();
    }
  })().catch((error: unknown) => {
    pendingToken = undefined;
    throw error;
  });
  return pendingToken;
}
