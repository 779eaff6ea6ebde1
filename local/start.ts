/**
 * `npm start`: the whole bot offline. A local Slack (with a page that looks like a channel), a
 * simulated AWS account, DynamoDB, and the bot's real Lambda handlers, all on loopback.
 * PORT chooses the page's port (default 3000; if it is taken, a free one is used and named).
 */
import { announcePlayground } from './playground/endpoints-file';
import { PortInUseError, startPlayground, type Playground } from './playground/server';
import { LOCAL_WEBHOOK_SECRET } from './aws/seed';
import { signedSlackEvent } from './slack/sign';
import { startWorld, type World } from './world';

process.env.LOG_LEVEL ??= 'warn';

/** How long Ctrl-C waits for work in flight before it stops anyway. */
const STOP_GRACE_MS = 2_000;

/**
 * `PLAYGROUND_FLEET=200 npm start`: a fleet of that many accounts in the organization (two regions,
 * five services each, a few broken) and a `fleet:` section discovering it, for `/ecs services --refresh`.
 */
async function seedPlaygroundFleet(world: World, accounts: number): Promise<void> {
  const regions = ['us-east-1', 'eu-west-1'];
  const fleet = world.seedFleet({ accounts, regions, servicesPerAccount: 5, broken: Math.max(2, Math.round(accounts / 50)) });
  const [{ getConfig, setConfig }, { fleetSchema }] = await Promise.all([import('../src/config/load'), import('../src/config/fleet-schema')]);
  setConfig({ ...getConfig(), fleet: fleetSchema.parse({ organizations: true, regions }) });
  console.log(`Fleet: ${fleet.accounts.length} accounts, ${fleet.services.length} services (type /ecs services --refresh in #ops).`);
}

async function main(): Promise<void> {
  const world = await startWorld({ playSchedules: true });
  const fleetSize = Number(process.env.PLAYGROUND_FLEET ?? 0);
  if (Number.isInteger(fleetSize) && fleetSize > 0) await seedPlaygroundFleet(world, fleetSize);
  const requested = Number(process.env.PORT ?? 3000);
  let playground: Playground;
  try {
    playground = await startPlayground(world, { port: requested });
  } catch (error) {
    if (!(error instanceof PortInUseError)) throw error;
    playground = await startPlayground(world, { port: 0 });
    console.log(`Port ${requested} is in use, so the page is on port ${playground.port} instead (set PORT to choose).`);
  }
  await warmUp(world);
  let closing = false;
  const stop = async (signal: string) => {
    if (closing) {
      console.log(`${signal} again: stopping now.`);
      process.exit(130);
    }
    closing = true;
    console.log(`\n${signal}: stopping…`);
    await playground.close();
    // world.close() first waits for every Lambda invocation in flight, and a durable workflow is one
    // for as long as it waits: a deploy waiting for approval (up to 30 minutes) or a long run. They
    // get a moment to finish; then the exec sessions (scripts in the sandbox) are ended and we go.
    const closed = await Promise.race([world.close().then(() => true), new Promise<false>((resolve) => setTimeout(resolve, STOP_GRACE_MS, false))]);
    if (!closed) {
      await world.execAgent.close().catch(() => undefined);
      console.log('Stopped; workflows still waiting (a deploy awaiting approval, a long run) were dropped with the world.');
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // For `npx ecs-chatops verify <service> --local` in another terminal; removed on exit.
  announcePlayground({ url: playground.url, env: world.env });

  // performance.now() counts from the start of this process: the time a newcomer actually waits.
  const seconds = performance.now() / 1000;
  console.log(
    [
      `ecs-chatops playground ready in ${seconds.toFixed(1)} s: ${playground.url}`,
      '',
      '  Open the page and type in #ops:',
      '    /ecs help               the commands',
      '    /ecs status web         a healthy service, answered in a thread',
      '    /ecs status broken      a service that cannot start its tasks',
      '    /ecs deploy web v1.5.0  asks for approval: as bob, click the ✅ on it and watch the rollout',
      '  Switch users at the top right:',
      '    alice    operator, deployer and admin',
      '    bob      approver and viewer',
      '    mallory  not on the allowlist: every command is refused',
      '  #random does not have the bot: see what Slack users see then.',
      '  From another terminal: npx ecs-chatops verify broken --local',
      "  Or call the signed API as another system would (role playground-ci, the local world's keys):",
      `    curl --aws-sigv4 "aws:amz:${playground.apiCaller.region}:execute-api" --user "${playground.apiCaller.accessKeyId}:${playground.apiCaller.secretAccessKey}" \\`,
      `      -H 'content-type: application/json' -d '{"script":"backup.sh","args":["nightly"],"channel":"C0OPS","idempotencyKey":"try-1","ticket":"CHG-1"}' ${playground.url}api/runs`,
      '  or with the command line, which waits for the outcome and exits with its code:',
      `    ECS_CHATOPS_API_URL=${playground.url} AWS_REGION=${playground.apiCaller.region} AWS_ACCESS_KEY_ID=${playground.apiCaller.accessKeyId} AWS_SECRET_ACCESS_KEY=${playground.apiCaller.secretAccessKey} \\`,
      '      npx ecs-chatops run backup.sh nightly --channel C0OPS --ticket CHG-1 --wait',
      `  Or send a ticket webhook (source tickets, secret ${LOCAL_WEBHOOK_SECRET}; the signature is HMAC-SHA256 of "<timestamp>.<body>"):`,
      `    body='{"ticket":{"id":"CHG-2","url":"https://tickets.example.com/browse/CHG-2"},"fields":{"type":"maintenance","status":"approved","label":"nightly"}}'`,
      `    ts=$(date +%s); sig=$(printf '%s' "$ts.$body" | openssl dgst -sha256 -hmac '${LOCAL_WEBHOOK_SECRET}' | sed 's/^.* //')`,
      `    curl -H "x-ecs-chatops-timestamp: $ts" -H "x-ecs-chatops-signature: v1=$sig" -H 'content-type: application/json' -d "$body" ${playground.url}api/webhooks/tickets`,
      '',
      '  Ctrl-C stops everything.',
    ].join('\n'),
  );
}

/** First requests pay for loading SDK clients and reading secrets; pay it now, not on the first click. */
async function warmUp(world: World): Promise<void> {
  const body = JSON.stringify({ type: 'url_verification', challenge: 'warm' });
  await world.ingress(signedSlackEvent({ signingSecret: world.signingSecret, contentType: 'application/json', body }));
  const [{ dynamoAllowlist }] = await Promise.all([import('../src/auth/allowlist'), import('../src/commands/status')]);
  await dynamoAllowlist.get(world.teamId, 'U0ALICE');
}

main().catch((error: unknown) => {
  console.error(`ecs-chatops playground failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
