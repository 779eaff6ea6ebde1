/**
 * The local world: everything the bot talks to, on loopback, with the bot's real Lambda handlers
 * wired the way API Gateway and Lambda invoke them. Tests and the offline playground share it.
 */
import { randomBytes } from 'node:crypto';
import type { Grant } from '../src/auth/roles';
import { startAwsEmulator, type AwsEmulator } from './aws';
import { startLocalDynamo, type LocalDynamo } from './dynamo';
import { startSlackServer, type SlackServer } from './slack/server';
import { signedSlackEvent, slashCommandBody } from './slack/sign';
import type { HttpEvent, HttpResult } from '../src/ingress/http';

export const WORKER_FUNCTION = 'ecs-chatops-worker';
export const SIGNING_SECRET_PARAM = '/ecs-chatops/slack/signing-secret';
export const BOT_TOKEN_PARAM = '/ecs-chatops/slack/bot-token';

/** Seeded people: alice asks, bob approves, mallory is not on the allowlist. */
export const SEED_ALLOWLIST: Array<{ userId: string; grants: Grant[] }> = [
  { userId: 'U0ALICE', grants: [{ role: 'operator', services: ['*'] }, { role: 'deployer', services: ['*'] }, { role: 'admin', services: ['*'] }] },
  { userId: 'U0BOB', grants: [{ role: 'approver', services: ['*'] }, { role: 'viewer', services: ['*'] }] },
];

export interface World {
  slack: SlackServer;
  aws: AwsEmulator;
  dynamo: LocalDynamo;
  teamId: string;
  signingSecret: string;
  env: Record<string, string>;
  /** The production ingress handler, called as API Gateway calls it. */
  ingress(event: HttpEvent): Promise<HttpResult>;
  /** A signed `/ecs …` from a seeded user in a channel, through the ingress. */
  slash(userId: string, text: string, channelId?: string): Promise<HttpResult>;
  /** Resolves when every asynchronous worker invocation has finished. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startWorld(options: { slackPort?: number; awsPort?: number; dynamoPort?: number } = {}): Promise<World> {
  // The SDK warns on Node 20 about its 2027 plans; the local world is not the place for that notice.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const signingSecret = randomBytes(16).toString('hex');
  const botToken = `xoxb-local-${randomBytes(8).toString('hex')}`;
  const dynamo = await startLocalDynamo({ ...(options.dynamoPort ? { port: options.dynamoPort } : {}) });
  const slack = await startSlackServer({ ...(options.slackPort ? { port: options.slackPort } : {}), tokens: [botToken] });
  const aws = await startAwsEmulator({
    ...(options.awsPort ? { port: options.awsPort } : {}),
    seed: { slackSigningSecret: signingSecret, slackBotToken: botToken },
    lambda: { timeoutMs: 900_000 },
  });

  const env: Record<string, string> = {
    ...aws.endpointEnv(),
    ...dynamo.env, // AWS_ENDPOINT_URL_DYNAMODB wins over AWS_ENDPOINT_URL for DynamoDB
    SLACK_API_URL: slack.url,
    WORKER_FUNCTION_NAME: WORKER_FUNCTION,
    SLACK_SIGNING_SECRET_PARAM: SIGNING_SECRET_PARAM,
    SLACK_BOT_TOKEN_PARAM: BOT_TOKEN_PARAM,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  Object.assign(process.env, env);

  // Imported after the environment is set; the handlers read it on first use, as in Lambda.
  const [{ handler: ingress }, { handler: worker }, { dynamoAllowlist }] = await Promise.all([
    import('../src/handlers/ingress'),
    import('../src/handlers/worker'),
    import('../src/auth/allowlist'),
  ]);
  aws.lambda.register(WORKER_FUNCTION, { handler: worker as never, timeoutMs: 900_000 });

  const teamId = slack.workspace.team.id;
  for (const seed of SEED_ALLOWLIST) {
    await dynamoAllowlist.put({ teamId, userId: seed.userId, grants: seed.grants, addedBy: 'seed', updatedAt: new Date().toISOString() });
  }

  const userName = (id: string) => slack.workspace.users.find((u) => u.id === id)?.name ?? id.toLowerCase();
  return {
    slack,
    aws,
    dynamo,
    teamId,
    signingSecret,
    env,
    ingress,
    slash(userId, text, channelId = 'C0OPS') {
      const body = slashCommandBody({
        teamId,
        userId,
        userName: userName(userId),
        channelId,
        text,
        responseUrl: slack.responseUrl(`${Date.now()}-${Math.random()}`, { channel: channelId, user: userId }),
      });
      return ingress(signedSlackEvent({ signingSecret, contentType: 'application/x-www-form-urlencoded', body }));
    },
    idle: () => aws.lambda.idle(),
    async close() {
      await aws.lambda.idle().catch(() => undefined);
      const { resetDynamo } = await import('../src/platform/dynamo');
      await resetDynamo();
      await Promise.all([slack.close(), aws.close(), dynamo.close()]);
    },
  };
}
