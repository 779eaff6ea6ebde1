import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { INGRESS_FUNCTION, WORKER_FUNCTION } from '../local/world';
import type { SeededFleet, SeededService } from '../local/aws/seed-fleet';
import { dynamoAudit, readAuditRecord } from '../src/audit/audit';
import { fleetSchema } from '../src/config/fleet-schema';
import type { CommandJob } from '../src/platform/jobs';
import { channelView, ephemeral, useConfigurableWorld } from './support/channel';

/**
 * A discovered service named alone (issue 19): after `/ecs services --refresh`, `/ecs status
 * <alias>` of a service only the catalog knows is read by the ingress with one GetItem of the
 * catalog, authorised by its labels (selector grants), and answered by the worker from the
 * service's own account through its role. Verbs that need a declaration say so.
 */
const ctx = useConfigurableWorld({});
const world = () => ctx().world;
const { parents, threadText, finished } = channelView(world, 'C0OPS');
let fleet: SeededFleet;
let service: SeededService;

async function command(userId: string, text: string) {
  const before = parents().length;
  await world().slash(userId, text);
  const parent = await world().slack.waitFor(() => parents()[before], 20_000);
  const marked = await finished(parent.ts);
  await world().idle();
  return { parent, marked };
}

async function grant(userId: string, selector: string) {
  const ws = world().slack.workspace;
  ws.users.push({ id: userId, name: userId.toLowerCase(), realName: userId, isBot: false });
  for (const channel of ws.channels) if (!channel.members.includes(userId)) channel.members.push(userId);
  const { dynamoAllowlist } = await import('../src/auth/allowlist');
  await dynamoAllowlist.put({
    teamId: world().teamId,
    userId,
    grants: [{ role: 'viewer', services: [], selectors: [selector] }],
    addedBy: 'test',
    updatedAt: new Date().toISOString(),
  });
}

const catalogReadsBy = (functionName: string, since: number) =>
  world()
    .aws.authority.decisions.slice(since)
    .filter((d) => d.functionName === functionName && d.action.startsWith('dynamodb:') && d.resource.includes('catalog'));

beforeAll(async () => {
  fleet = world().seedFleet({ accounts: 2, regions: ['us-east-1'], servicesPerAccount: 2 });
  const { baseConfig, setConfig } = ctx();
  setConfig({ ...baseConfig, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) });
  expect((await command('U0ALICE', 'services --refresh')).marked).toMatch(/catalog: \d+ services/);
  service = fleet.services[0]!;
  expect(Object.keys(ctx().baseConfig.targets)).not.toContain(service.alias);
});

describe('/ecs status <discovered alias>', () => {
  it('is read at the ingress with one catalog GetItem and answered in a thread from the service’s account', async () => {
    const since = world().aws.authority.decisions.length;
    const { parent, marked } = await command('U0ALICE', `status ${service.alias}`);
    expect(marked).toMatch(new RegExp(`^✅ <@U0ALICE> ran \`/ecs status ${service.alias}\``));
    expect(threadText(parent.ts)).toContain(service.service);
    expect(catalogReadsBy(INGRESS_FUNCTION, since).map((d) => `${d.action} ${d.decision}`)).toEqual(['dynamodb:GetItem allowed']);
    expect(catalogReadsBy(WORKER_FUNCTION, since).map((d) => `${d.action} ${d.decision}`)).toEqual(['dynamodb:GetItem allowed']);
    // ECS was asked in the service's account, through its target role.
    const ecs = world()
      .aws.authority.decisions.slice(since)
      .filter((d) => d.action === 'ecs:DescribeServices');
    expect(ecs.length).toBeGreaterThan(0);
    expect(ecs.every((d) => d.roleArn.includes(`:${service.accountId}:`) && d.decision === 'allowed')).toBe(true);
  });

  it('allows a viewer whose selector grant matches the service, and answers another as unknown', async () => {
    await grant('U0DANA', `account=${service.accountId}`);
    await grant('U0ERIN', 'account=999999999999');
    expect((await command('U0DANA', `status ${service.alias}`)).marked).toMatch(/^✅ <@U0DANA>/);
    const before = parents().length;
    const refused = ephemeral(await world().slash('U0ERIN', `status ${service.alias}`));
    expect(refused).toContain(`Unknown service \`${service.alias}\`, or not one of yours.`);
    expect(parents()).toHaveLength(before);
  });

  it('still answers an alias nobody knows as unknown, with the closest names', async () => {
    const answer = ephemeral(await world().slash('U0ALICE', 'status wbe'));
    expect(answer).toContain('Unknown service `wbe`');
    expect(answer).toContain('Did you mean `web`?');
  });

  it('verifies it, and reads its logs, in its own account', async () => {
    const since = world().aws.authority.decisions.length;
    const verify = await command('U0ALICE', `verify ${service.alias}`);
    expect(verify.marked).toMatch(new RegExp(`^✅ <@U0ALICE> ran \`/ecs verify ${service.alias}\` — ${service.alias}: \\d+ OK, 0 WARN, 0 FAIL`));
    const logs = await command('U0ALICE', `logs ${service.alias}`);
    expect(logs.marked).toMatch(new RegExp(`^✅ <@U0ALICE> ran \`/ecs logs ${service.alias}\``));
    expect(threadText(logs.parent.ts)).toContain(`of *${service.alias}*`);
    const ecs = world()
      .aws.authority.decisions.slice(since)
      .filter((d) => d.functionName === WORKER_FUNCTION && d.action.startsWith('ecs:'));
    expect(ecs.length).toBeGreaterThan(0);
    expect(ecs.every((d) => d.roleArn.includes(`:${service.accountId}:`))).toBe(true);
    // A follow runs in the run workflow, which needs a declared target: said at once.
    const follow = ephemeral(await world().slash('U0ALICE', `logs ${service.alias} --follow 1m`));
    expect(follow).toContain(`\`--follow\` needs \`${service.alias}\` declared under \`targets:\``);
  });

  it('refuses a verb that needs a declared target, saying to declare it', async () => {
    const before = parents().length;
    const answer = ephemeral(await world().slash('U0ALICE', `scale ${service.alias} 3`));
    expect(answer).toContain(`\`${service.alias}\` is discovered from the fleet, not declared: \`scale\` needs it declared under \`targets:\``);
    expect(parents()).toHaveLength(before);
  });
});

describe('/ecs status <selector> over the catalog', () => {
  it('is selected once by the worker: its private check hands the selection to the handler', async () => {
    const since = world().aws.authority.decisions.length;
    const { marked } = await command('U0ALICE', `status account=${service.accountId}`);
    expect(marked).toMatch(new RegExp(`^(✅|❌) <@U0ALICE> ran \`/ecs status account=${service.accountId}\``));
    // One selection: the alias index of `account=…`, then those services in one batch.
    expect(catalogReadsBy(WORKER_FUNCTION, since).map((d) => `${d.action} ${d.decision}`)).toEqual([
      'dynamodb:GetItem allowed',
      'dynamodb:BatchGetItem allowed',
    ]);
  });
});

describe('a fleet command whose selection cannot be read', () => {
  it('is told privately in place of the ack note, audited as failed, and nothing is posted in the channel', async () => {
    const { dynamoAuthorizer } = await import('../local/iam/enforce');
    const asDeployed = dynamoAuthorizer(world().aws);
    // The worker's batch read of the catalog refused (what a broken policy or an outage looks like to it).
    world().dynamo.authorizeWith((request) =>
      request.functionName === WORKER_FUNCTION && request.action === 'dynamodb:BatchGetItem' && request.resource.includes('catalog')
        ? 'User is not authorized to perform: dynamodb:BatchGetItem'
        : asDeployed(request),
    );
    try {
      const before = parents().length;
      const { body } = await world().slash('U0ALICE', `status account=${service.accountId}`);
      expect(ephemeral({ body })).toMatch(/Working on/);
      const said = await world().slack.waitFor(() => {
        const last = JSON.stringify(world().slack.workspace.responses.at(-1) ?? '');
        return last.includes('before your command started') ? last : undefined;
      }, 20_000);
      expect(said).toContain('so nothing ran');
      await world().idle();
      expect(parents()).toHaveLength(before);
      const { teamAudit } = await import('./support/channel');
      const record = (await teamAudit(world())).find((r) => r.commandText === `/ecs status account=${service.accountId}` && r.outcome !== 'success');
      expect(record).toMatchObject({ outcome: 'failure', reason: 'internal error before the command started' });
    } finally {
      world().dynamo.authorizeWith(dynamoAuthorizer(world().aws));
    }
  });
});

/** A job as the ingress hands it over, sent straight to the worker: what the worker decides on its own. */
async function jobFor(text: string, request: Pick<CommandJob, 'verb' | 'args'>) {
  const id = randomUUID();
  const audit = await dynamoAudit(30).record({
    id,
    at: new Date().toISOString(),
    teamId: world().teamId,
    userId: 'U0ALICE',
    channelId: 'C0OPS',
    commandText: `/ecs ${text}`,
    decision: 'allowed',
    outcome: 'accepted',
  });
  const responseUrl = world().slack.responseUrl(`alias-${id}`, { channel: 'C0OPS', user: 'U0ALICE' });
  const job: CommandJob = {
    kind: 'command',
    id,
    ...request,
    audit,
    receivedAt: Date.now(),
    invocation: { teamId: world().teamId, userId: 'U0ALICE', channelId: 'C0OPS', command: '/ecs', text, responseUrl },
  };
  const before = parents().length;
  const ecsCalls = world().aws.calls.filter((c) => c.service === 'ecs').length;
  await world().aws.lambda.invokeAsync(WORKER_FUNCTION, job);
  await world().idle();
  expect(parents()).toHaveLength(before);
  expect(world().aws.calls.filter((c) => c.service === 'ecs').length).toBe(ecsCalls);
  return { said: JSON.stringify(world().slack.workspace.responses.at(-1)), record: await readAuditRecord(audit) };
}

describe('the worker resolves a discovered alias again, from the catalog', () => {
  it('refuses privately a service gone from the catalog since the ack', async () => {
    const { said, record } = await jobFor('status gone-001', { verb: 'status', args: { target: 'gone-001' } });
    expect(said).toContain("The service `gone-001` is no longer declared nor in the fleet's catalog");
    expect(record).toMatchObject({ decision: 'invalid', outcome: 'refused' });
  });

  it('refuses privately a verb that needs a declared target', async () => {
    const { said, record } = await jobFor(`scale ${service.alias} 3`, { verb: 'scale', args: { target: service.alias, count: 3, adjustAutoscaling: false } });
    expect(said).toContain(`is discovered from the fleet, not declared: \`scale\` needs it declared under \`targets:\``);
    expect(record).toMatchObject({ decision: 'invalid', outcome: 'refused' });
  });
});
