/**
 * Local development against a real Slack workspace over Socket Mode (no public URL needed):
 *   SLACK_BOT_TOKEN=xoxb-… SLACK_APP_TOKEN=xapp-… DEV_ADMINS=T0123:U0456 npm run dev:socket
 * ECS calls use your own AWS credentials (AWS_PROFILE); the allowlist, audit and state tables
 * live in an embedded DynamoDB (dynalite) unless ALLOWLIST_TABLE etc. point at real ones.
 * The worker runs in this process instead of a separate Lambda.
 */
import { App, LogLevel } from '@slack/bolt';
import { startLocalDynamo } from './dynamo';
import { dynamoAudit } from '../src/audit/audit';
import { dynamoAllowlist } from '../src/auth/allowlist';
import { getConfig } from '../src/config/load';
import { createIngress } from '../src/ingress/ingress';
import { log } from '../src/platform/logger';
import { respondViaUrl } from '../src/platform/respond';
import { channelAccessCheck } from '../src/slack/channel-access';
import { dynamoState } from '../src/platform/state';
import { registerListeners } from '../src/ingress/bolt-listeners';
import { productionWorkerDeps } from '../src/worker/production';
import { createWorker } from '../src/worker/worker';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set. See README: "Local development with Socket Mode".`);
    process.exit(1);
  }
  return value;
}

async function main(): Promise<void> {
  const botToken = required('SLACK_BOT_TOKEN');
  const appToken = required('SLACK_APP_TOKEN');
  const config = getConfig();
  if (!process.env.ALLOWLIST_TABLE) {
    const dynamo = await startLocalDynamo();
    Object.assign(process.env, dynamo.env);
    log.info('using an embedded DynamoDB for the allowlist, audit and state tables', { endpoint: dynamo.endpoint });
  }
  for (const pair of (process.env.DEV_ADMINS ?? '').split(',').filter(Boolean)) {
    const [teamId, userId] = pair.split(':');
    if (!teamId || !userId) throw new Error(`DEV_ADMINS entries look like T0123:U0456, not ${pair}`);
    await dynamoAllowlist.put({ teamId, userId, grants: [{ role: 'admin', services: ['*'] }], addedBy: 'dev', updatedAt: new Date().toISOString() });
  }
  const secrets = async () => ({ signingSecret: 'unused-in-socket-mode', botToken });
  const audit = () => dynamoAudit(config.audit.retentionDays);
  const worker = createWorker({ ...productionWorkerDeps(), secrets, audit });
  const deadline = () => 15 * 60_000;
  const core = createIngress({
    config: getConfig,
    secrets,
    allowlist: dynamoAllowlist,
    audit,
    state: dynamoState,
    respond: respondViaUrl,
    channelAccess: channelAccessCheck(),
    now: Date.now,
    // In Lambda this is an asynchronous invocation; here the worker runs in the background of this process.
    jobs: {
      async dispatch(job) {
        const started = Date.now();
        void worker(job, { getRemainingTimeInMillis: () => deadline() - (Date.now() - started) }).catch((error: unknown) => log.error('job failed', { error }));
      },
    },
  });
  const app = new App({ token: botToken, appToken, socketMode: true, logLevel: LogLevel.WARN });
  registerListeners(app, core, config.slack.command);
  await app.start();
  log.info(`ecs-chatops is connected over Socket Mode; try ${config.slack.command} help`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
