import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SeededFleet } from '../local/aws/seed-fleet';
import { INGRESS_FUNCTION, WORKER_FUNCTION } from '../local/world';
import { dynamoAudit } from '../src/audit/audit';
import { fleetSchema } from '../src/config/fleet-schema';
import type { CommandJob } from '../src/platform/jobs';
import { channelView, ephemeral, teamAudit, useConfigurableWorld } from './support/channel';
import { servicePin } from '../src/fleet/pin';
import { addPerson as addPersonTo, answeredPrivately } from './support/people';

/** A viewer grant on a discovered alias, bound to its service as `/ecs allow` binds it (an unbound one covers no discovered service). */
const viewerOf = (s: { alias: string; serviceArn: string }) => ({ role: 'viewer' as const, services: [s.alias], pins: { [s.alias]: servicePin(s) } });

/**
 * `/ecs services [selector]` over the fleet's catalog (issue 19, review finding 1), through the
 * production ingress and worker: after a refresh of a seeded organization, the listing comes from
 * the catalog in DynamoDB, discovered services included, only those the person may see, with the
 * closest labels from the catalog. The worker reads it (its role's GetItem and BatchGetItem) and
 * answers privately through the response_url; the ingress reads nothing of the catalog for it.
 */
const ctx = useConfigurableWorld({});
const world = () => ctx().world;
const { parents, finished, newParent } = channelView(world, 'C0OPS');
let fleet: SeededFleet;
let reachable: SeededFleet['services'];

const listed = (user: string, text: string) => answeredPrivately(world(), user, text);
const addPerson = (id: string, grants?: unknown[]) => addPersonTo(world(), id, grants);

describe('/ecs services over the fleet’s catalog', () => {
  it('lists discovered services a selector matches, privately, read by the worker', async () => {
    fleet = world().seedFleet({ accounts: 4, regions: ['us-east-1'], servicesPerAccount: 2, broken: 1 });
    reachable = fleet.services.filter((s) => !fleet.missingRole.includes(s.accountId));
    const { baseConfig, setConfig } = ctx();
    setConfig({ ...baseConfig, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) });
    const before = parents().length;
    await world().slash('U0ALICE', 'services --refresh');
    await finished((await newParent(before, /services --refresh/)).ts);
    await world().idle();

    const posted = parents().length;
    const since = world().aws.authority.decisions.length;
    const { ack, answer } = await listed('U0ALICE', 'services cluster=fleet');
    expect(ack).toContain('Working on `/ecs services cluster=fleet`: your list replaces this note in a moment, only for you');
    const lines = answer.text!.split('\n');
    expect(lines[0]).toBe(`*${reachable.length} of your services here match \`cluster=fleet\`*`);
    for (const s of reachable) expect(answer.text).toContain(`• \`${s.alias}\` — account ${s.accountId}, us-east-1, fleet/${s.service}`);
    expect(answer).toMatchObject({ responseType: 'ephemeral', replaceOriginal: true });
    // In place of the ack's note, for alice alone; nothing in the channel.
    const mine = world().slack.workspace.ephemerals.filter((e) => e.key === answer.key);
    expect(mine.map((e) => e.text)).toEqual([answer.text]);
    expect(parents()).toHaveLength(posted);

    const catalogCalls = world()
      .aws.authority.decisions.slice(since)
      .filter((d) => d.action.startsWith('dynamodb:') && d.resource.includes('catalog'));
    expect(new Set(catalogCalls.map((d) => `${d.functionName} ${d.action} ${d.decision}`))).toEqual(
      new Set([`${WORKER_FUNCTION} dynamodb:GetItem allowed`, `${WORKER_FUNCTION} dynamodb:BatchGetItem allowed`]),
    );
    expect(catalogCalls.some((d) => d.functionName === INGRESS_FUNCTION)).toBe(false);
    const audit = (await teamAudit(world())).find((r) => r.commandText === '/ecs services cluster=fleet');
    expect(audit).toMatchObject({ verb: 'services (catalog)', decision: 'allowed', outcome: 'success' });
  });

  it('without a selector: every service of theirs, declared and discovered', async () => {
    const { answer } = await listed('U0ALICE', 'services');
    const lines = answer.text!.split('\n');
    expect(lines[0]).toBe('*Your services here*');
    expect(lines).toContain('• `web` — Public web front end, main/web in us-east-1');
    for (const s of reachable) expect(answer.text).toContain(`• \`${s.alias}\` — account ${s.accountId}`);
  });

  it('a viewer of env=staging sees the staging services only, and the closest labels of hers', async () => {
    await addPerson('U0DANA', [{ role: 'viewer', services: [], selectors: ['env=staging'] }]);
    const staging = reachable.filter((s) => s.tags.env === 'staging');
    const prod = reachable.filter((s) => s.tags.env === 'prod');
    expect(staging.length).toBeGreaterThan(0);
    expect(prod.length).toBeGreaterThan(0);

    const { answer } = await listed('U0DANA', 'services cluster=fleet');
    expect(answer.text!.split('\n')[0]).toBe(`*${staging.length} of your services here match \`cluster=fleet\`*`);
    for (const s of staging) expect(answer.text).toContain(`\`${s.alias}\``);
    for (const s of prod) expect(answer.text).not.toContain(s.alias);

    const plain = (await listed('U0DANA', 'services')).answer.text!;
    expect(plain.split('\n')).toHaveLength(staging.length + 1);
    for (const s of prod) expect(plain).not.toContain(s.alias);

    // A selector matching none of hers: the closest labels come from what she may see, never prod.
    const none = (await listed('U0DANA', 'services env=prod')).answer.text!;
    expect(none).toContain('No service of yours here matches `env=prod`');
    expect(none).toContain('no service has `env=prod`; its values: `staging`.');
    const typo = (await listed('U0DANA', 'services env=stagin')).answer.text!;
    expect(typo).toContain('(did you mean `env=staging`?)');
  });
});

/**
 * `/ecs allow` of a discovered service by its alias (review finding 9): an admin whose grant is a
 * selector grants one within it, read with one catalog GetItem at the ingress (beside the
 * allowlist read) and one again at the worker; never one outside it, never an unknown alias.
 */
describe('/ecs allow of a discovered service', () => {
  const asPam = async (text: string) => ephemeral(await world().slash('U0PAM', text));

  it('an admin of team=<x> grants a discovered service of team <x> by its alias', async () => {
    const own = reachable[0]!;
    await addPerson('U0PAM', [{ role: 'admin', services: [], selectors: [`team=${own.tags.team}`] }]);
    await addPerson('U0ERIN');
    const before = parents().length;
    const since = world().aws.authority.decisions.length;
    expect(await asPam(`allow <@U0ERIN|erin> viewer ${own.alias}`)).toContain('Working on');
    const parent = await newParent(before, /allow/);
    expect(await finished(parent.ts)).toMatch(/^✅/);
    await world().idle();
    expect(channelView(world, 'C0OPS').threadText(parent.ts)).toContain(`<@U0ERIN> now has:\n• *viewer* on \`${own.alias}\``);
    const { dynamoAllowlist } = await import('../src/auth/allowlist');
    // Bound to the service the alias names now (its pin), and by whom: the alias may change hands later.
    const { servicePin } = await import('../src/fleet/pin');
    expect((await dynamoAllowlist.get(world().teamId, 'U0ERIN'))?.grants).toEqual([
      { role: 'viewer', services: [own.alias], pins: { [own.alias]: servicePin(own) }, grantedBy: 'U0PAM' },
    ]);
    // One GetItem of the catalog at the ingress, one at the worker; nothing else of it.
    const reads = world()
      .aws.authority.decisions.slice(since)
      .filter((d) => d.action.startsWith('dynamodb:') && d.resource.includes('catalog'))
      .map((d) => `${d.functionName} ${d.action} ${d.decision}`);
    expect(reads.sort()).toEqual([`${INGRESS_FUNCTION} dynamodb:GetItem allowed`, `${WORKER_FUNCTION} dynamodb:GetItem allowed`].sort());
    // Erin now sees it, and only it.
    const listing = (await listed('U0ERIN', 'services')).answer.text!;
    expect(listing.split('\n')).toEqual(['*Your services here*', expect.stringMatching(new RegExp(`^• \`${own.alias}\` — account ${own.accountId}`))]);
  });

  it('refuses a discovered service outside her selector, and an unknown alias; nothing reaches the worker', async () => {
    const own = reachable[0]!;
    const other = reachable.find((s) => s.tags.team !== own.tags.team)!;
    const invocations = world().aws.lambda.invocations.length;
    // Not hers at all: answered as unknown, like a declared service she has no role on.
    expect(await asPam(`allow <@U0ERIN|erin> viewer ${other.alias}`)).toContain(`Unknown service \`${other.alias}\`, or not one of yours.`);
    expect(await asPam('allow <@U0ERIN|erin> viewer nosuch-123456789012')).toContain('Unknown service `nosuch-123456789012`, or not one of yours.');
    // Visible to her (a viewer grant by alias), yet outside her admin selector: refused by its labels.
    const { dynamoAllowlist } = await import('../src/auth/allowlist');
    const pam = (await dynamoAllowlist.get(world().teamId, 'U0PAM'))!;
    await dynamoAllowlist.put({ ...pam, grants: [...pam.grants, viewerOf(other)] }, { updatedAt: pam.updatedAt });
    expect(await asPam(`allow <@U0ERIN|erin> viewer ${other.alias}`)).toContain(`your \`admin\` role does not cover service \`${other.alias}\``);
    // Two discovered services in one grant: only one is read, the other is unknown.
    const sibling = reachable.find((s) => s.tags.team === own.tags.team && s.alias !== own.alias)!;
    expect(await asPam(`allow <@U0ERIN|erin> viewer ${own.alias} ${sibling.alias}`)).toContain(`Unknown service \`${sibling.alias}\`, or not one of yours.`);
    await world().idle();
    expect(world().aws.lambda.invocations.length).toBe(invocations);
    expect((await dynamoAllowlist.get(world().teamId, 'U0ERIN'))?.grants).toHaveLength(1);
  });

  /** An allow job as the ingress would hand it over, sent straight to the worker: what the worker decides afresh. */
  async function allowJob(alias: string) {
    const id = randomUUID();
    const text = `allow <@U0ERIN> viewer ${alias}`;
    const at = new Date().toISOString();
    const audit = await dynamoAudit(30).record({
      id,
      at,
      teamId: world().teamId,
      userId: 'U0PAM',
      channelId: 'C0OPS',
      commandText: `/ecs ${text}`,
      decision: 'allowed',
      outcome: 'accepted',
    });
    const responseUrl = world().slack.responseUrl(`allow-${id}`, { channel: 'C0OPS', user: 'U0PAM' });
    const job: CommandJob = {
      kind: 'command',
      id,
      verb: 'allow',
      args: { subject: 'U0ERIN', grant: { role: 'viewer', services: [alias] } },
      audit,
      receivedAt: Date.now(),
      invocation: { teamId: world().teamId, userId: 'U0PAM', channelId: 'C0OPS', command: '/ecs', text, responseUrl },
    };
    await world().aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world().idle();
    return world().slack.workspace.responses.at(-1)?.text ?? '';
  }

  it('the worker reads the granted service again: gone from the catalog, or outside her selector, nothing is granted', async () => {
    const { dynamoAllowlist } = await import('../src/auth/allowlist');
    const before = (await dynamoAllowlist.get(world().teamId, 'U0ERIN'))?.grants;
    expect(await allowJob('gone-123456789012')).toContain("The service `gone-123456789012` is no longer declared nor in the fleet's catalog");
    const other = reachable.find((s) => s.tags.team !== reachable[0]!.tags.team)!;
    expect(await allowJob(other.alias)).toContain(`Not allowed any more: your \`admin\` role does not cover service \`${other.alias}\``);
    expect((await dynamoAllowlist.get(world().teamId, 'U0ERIN'))?.grants).toEqual(before);
  });

  it('she removes the person she granted a discovered service to: its labels are read from the catalog', async () => {
    const before = parents().length;
    expect(await asPam('deny <@U0ERIN|erin>')).toContain('Working on');
    const parent = await newParent(before, /deny/);
    expect(await finished(parent.ts)).toMatch(/^✅/);
    const { dynamoAllowlist } = await import('../src/auth/allowlist');
    expect(await dynamoAllowlist.get(world().teamId, 'U0ERIN')).toBeUndefined();
  });
});

/**
 * `/ecs allowlist` and the "now has" list of `/ecs allow` with a fleet (issue 19): grants on
 * discovered services are judged by their labels read from the catalog by the worker (one
 * BatchGetItem), so an admin whose grant is a selector sees and administers those within it;
 * another selector's admin does not. The ingress reads nothing of the catalog for the listing.
 */
describe('/ecs allowlist over the fleet’s catalog', () => {
  /** Pam's team's service, another of it, and one of another team (Quin's). */
  const services = () => {
    const own = reachable[0]!;
    return {
      own,
      sibling: reachable.find((s) => s.tags.team === own.tags.team && s.alias !== own.alias)!,
      other: reachable.find((s) => s.tags.team !== own.tags.team)!,
    };
  };
  const grantLine = (alias: string) => `*viewer* on \`${alias}\``;
  const catalogReads = (since: number) =>
    world()
      .aws.authority.decisions.slice(since)
      .filter((d) => d.action.startsWith('dynamodb:') && d.resource.includes('catalog'))
      .map((d) => `${d.functionName} ${d.action} ${d.decision}`)
      .sort();

  it('after `/ecs allow`, the person’s other discovered grants within her selector are listed as hers', async () => {
    const { own, sibling, other } = services();
    await addPerson('U0GUS', [viewerOf(sibling), viewerOf(other)]);
    const before = parents().length;
    const since = world().aws.authority.decisions.length;
    expect(ephemeral(await world().slash('U0PAM', `allow <@U0GUS|gus> viewer ${own.alias}`))).toContain('Working on');
    const parent = await newParent(before, /allow @gus/);
    expect(await finished(parent.ts)).toMatch(/^✅/);
    await world().idle();
    const thread = channelView(world, 'C0OPS').threadText(parent.ts);
    expect(thread).toContain('<@U0GUS> now has:');
    expect(thread).toContain(`• ${grantLine(sibling.alias)}`);
    expect(thread).toContain(`• ${grantLine(own.alias)}`);
    expect(thread).toContain('• and 1 grant outside your scope');
    expect(thread).not.toContain(other.alias);
    // The granted service is read once at each end (GetItem); the others' labels in one BatchGetItem.
    expect(catalogReads(since)).toEqual(
      [
        `${INGRESS_FUNCTION} dynamodb:GetItem allowed`,
        `${WORKER_FUNCTION} dynamodb:GetItem allowed`,
        `${WORKER_FUNCTION} dynamodb:BatchGetItem allowed`,
      ].sort(),
    );
  });

  it('an admin of team=<x> sees the grants on discovered services of team <x>, privately, read by the worker', async () => {
    const { own, sibling, other } = services();
    const posted = parents().length;
    const since = world().aws.authority.decisions.length;
    const { ack, answer } = await listed('U0PAM', 'allowlist');
    expect(ack).toContain('Working on `/ecs allowlist`: the list replaces this note in a moment, only for you');
    expect(answer).toMatchObject({ responseType: 'ephemeral', replaceOriginal: true });
    const gus = answer.text!.split('\n').find((l) => l.startsWith('• <@U0GUS>:'));
    expect(gus).toContain(grantLine(own.alias));
    expect(gus).toContain(grantLine(sibling.alias));
    expect(answer.text).not.toContain(other.alias);
    expect(parents()).toHaveLength(posted);
    // The ingress keeps its one allowlist read; the worker reads the granted services' labels in one batch.
    expect(catalogReads(since)).toEqual([`${WORKER_FUNCTION} dynamodb:BatchGetItem allowed`]);
    const audit = (await teamAudit(world())).find((r) => r.commandText === '/ecs allowlist' && r.userId === 'U0PAM');
    expect(audit).toMatchObject({ verb: 'allowlist (catalog)', decision: 'allowed', outcome: 'success' });
  });

  it('an admin of another team’s selector sees those grants as outside her scope', async () => {
    const { own, sibling, other } = services();
    await addPerson('U0QUIN', [{ role: 'admin', services: [], selectors: [`team=${other.tags.team}`] }]);
    const text = (await listed('U0QUIN', 'allowlist')).answer.text!;
    const gus = text.split('\n').find((l) => l.startsWith('• <@U0GUS>:'));
    expect(gus).toBe(`• <@U0GUS>: ${grantLine(other.alias)}`);
    expect(text).not.toContain(own.alias);
    expect(text).not.toContain(sibling.alias);
    // Pam's own admin grant on team <x> is not Quin's to see; her viewer grant on a service of Quin's team is.
    expect(text).toContain(`• <@U0PAM>: ${grantLine(other.alias)}`);
  });

  it('without `fleet:` the ack answers it at once, from the declared targets: nothing reaches the worker', async () => {
    const { baseConfig, setConfig } = ctx();
    const withFleet = (await import('../src/config/load')).getConfig();
    setConfig(baseConfig);
    try {
      const invocations = world().aws.lambda.invocations.length;
      const since = world().aws.authority.decisions.length;
      const ack = ephemeral(await world().slash('U0ALICE', 'allowlist'));
      expect(ack).toMatch(/^\*Allowlist\* within your scope/);
      await world().idle();
      expect(world().aws.lambda.invocations.length).toBe(invocations);
      expect(catalogReads(since)).toEqual([]);
    } finally {
      setConfig(withFleet);
    }
  });
});
