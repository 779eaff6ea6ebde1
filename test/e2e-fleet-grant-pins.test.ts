import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { organizationOf } from '../local/aws/services/organizations';
import { seedFleetService, type SeededFleet, type SeededService } from '../local/aws/seed-fleet';
import { WORKER_FUNCTION } from '../local/world';
import { readAuditRecord } from '../src/audit/audit';
import { DynamoCatalog } from '../src/fleet/catalog';
import { fleetSchema } from '../src/config/fleet-schema';
import { channelView, ephemeral, useConfigurableWorld } from './support/channel';
import { acceptedCommand, addPerson as addPersonTo, answeredPrivately } from './support/people';

/**
 * A grant on a discovered alias stays with the service it was given for (review: High). Pam, admin
 * of `team=payments`, grants Dave a viewer role on a payments service by its alias. That service's
 * account is then SUSPENDED in AWS Organizations and a service of another account, tagged with the
 * same `ecs-chatops:alias`, takes the alias at the next refresh: Dave is refused on it at the
 * ingress and at the worker, `/ecs allowlist` shows his grant as stale, the admin of the new
 * holder's team cannot remove him, and Pam, who gave the grant, still can.
 */
const ctx = useConfigurableWorld({});
const world = () => ctx().world;
const { parents, threadText, finished, newParent } = channelView(world, 'C0OPS');
let fleet: SeededFleet;
let granted: SeededService;
let usurper: SeededService;

const addPerson = (id: string, grants?: unknown[]) => addPersonTo(world(), id, grants);

/** A command that posts in the channel: its parent and how it was marked. */
async function command(userId: string, text: string, posted: RegExp) {
  const before = parents().length;
  expect(ephemeral(await world().slash(userId, text))).toContain('Working on');
  const parent = await newParent(before, posted);
  const marked = await finished(parent.ts);
  await world().idle();
  return { parent, marked };
}

async function refresh() {
  const { marked } = await command('U0ALICE', 'services --refresh', /services --refresh/);
  expect(marked).toMatch(/catalog: \d+ services/);
}

/** A command answered privately by the worker (`/ecs allowlist` with a fleet): what replaced the ack's note. */
const privately = async (user: string, text: string) => (await answeredPrivately(world(), user, text)).answer.text!;

beforeAll(async () => {
  fleet = world().seedFleet({ accounts: 2, regions: ['us-east-1'], servicesPerAccount: 1 });
  granted = fleet.services.find((s) => s.tags.team === 'payments')!;
  const other = fleet.accounts.find((a) => a.id !== granted.accountId)!;
  const { baseConfig, setConfig } = ctx();
  setConfig({ ...baseConfig, fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) });
  await refresh();
  await addPerson('U0PAM', [{ role: 'admin', services: [], selectors: ['team=payments'] }]);
  await addPerson('U0GINA', [{ role: 'admin', services: [], selectors: [`team=${other.team}`] }]);
  await addPerson('U0DAVE');
  // Pam grants Dave the payments service by its alias; he reads it.
  expect((await command('U0PAM', `allow <@U0DAVE|dave> viewer ${granted.alias}`, /allow @dave/)).marked).toMatch(/^✅/);
  expect((await command('U0DAVE', `status ${granted.alias}`, /status/)).marked).toMatch(/^✅ <@U0DAVE>/);
  // And selects it in a fleet command (the worker's selection checks each service with its pin).
  const selected = await command('U0DAVE', `status account=${granted.accountId}`, /status account=/);
  expect(selected.marked).toMatch(/^✅ <@U0DAVE>/);
  expect(threadText(selected.parent.ts)).toContain(granted.alias);

  // Its account suspended; a service of the other account tagged with its alias; a refresh gives it the alias.
  organizationOf(world().aws.state)!.accounts.get(granted.accountId)!.state = 'SUSPENDED';
  usurper = seedFleetService(world().aws.state, {
    accountId: other.id,
    region: 'us-east-1',
    serviceName: 'usurper',
    alias: granted.alias,
    env: other.env,
    team: other.team,
  });
  await refresh();
  expect((await new DynamoCatalog().get(granted.alias))?.serviceArn).toBe(usurper.serviceArn);
});

afterAll(() => {
  const account = organizationOf(world().aws.state)?.accounts.get(granted.accountId);
  if (account) account.state = 'ACTIVE';
});

describe('a grant on a discovered alias another service has taken', () => {
  it('is refused on `/ecs status <alias>` and `/ecs logs <alias>` at the ingress, answered as unknown, nothing run', async () => {
    for (const verb of ['status', 'logs']) {
      const before = parents().length;
      const ecsCalls = world().aws.calls.filter((c) => c.service === 'ecs').length;
      const answer = ephemeral(await world().slash('U0DAVE', `${verb} ${granted.alias}`));
      expect(answer).toContain(`Unknown service \`${granted.alias}\`, or not one of yours.`);
      await world().idle();
      expect(parents()).toHaveLength(before);
      expect(world().aws.calls.filter((c) => c.service === 'ecs').length).toBe(ecsCalls);
    }
  });

  it('selects nothing in a fleet command over the new holder’s account', async () => {
    const before = parents().length;
    const { answer } = await answeredPrivately(world(), 'U0DAVE', `status account=${usurper.accountId}`);
    expect(answer.text).toBe(`❌ No service of yours here matches \`account=${usurper.accountId}\`: no service has the label \`account\`.`);
    expect(parents()).toHaveLength(before);
  });

  it('is refused again by the worker, which reads the alias’s service afresh', async () => {
    const job = await acceptedCommand(world(), {
      userId: 'U0DAVE',
      channelId: 'C0OPS',
      text: `logs ${granted.alias}`,
      verb: 'logs',
      args: { target: granted.alias },
    });
    const before = parents().length;
    const ecsCalls = world().aws.calls.filter((c) => c.service === 'ecs').length;
    await world().aws.lambda.invokeAsync(WORKER_FUNCTION, job);
    await world().idle();
    expect(parents()).toHaveLength(before);
    expect(world().aws.calls.filter((c) => c.service === 'ecs').length).toBe(ecsCalls);
    expect(JSON.stringify(world().slack.workspace.responses.at(-1))).toContain('Not allowed any more: your `viewer` role does not cover service');
    expect(await readAuditRecord(job.audit)).toMatchObject({ decision: 'denied', outcome: 'refused' });
  });

  it('is listed as stale by `/ecs allowlist`', async () => {
    const text = await privately('U0ALICE', 'allowlist');
    const dave = text.split('\n').find((l) => l.startsWith('• <@U0DAVE>:'));
    expect(dave).toBe(`• <@U0DAVE>: *viewer* on \`${granted.alias}\` (granted for a service that no longer holds this alias)`);
    // The admin of the new holder's team is not shown it: it was never hers.
    expect(await privately('U0GINA', 'allowlist')).not.toContain('U0DAVE');
  });

  it('cannot be removed by the admin of the service now holding the alias; the admin who gave it removes it', async () => {
    const refused = await command('U0GINA', 'deny <@U0DAVE>', /deny @/);
    expect(refused.marked).toBe('❌ <@U0GINA> ran `/ecs deny @U0DAVE` — not allowed: that person has grants beyond your scope');
    expect(threadText(refused.parent.ts)).toContain('🚫 Not allowed: that person has grants beyond your scope. Nothing was changed.');
    const removed = await command('U0PAM', 'deny <@U0DAVE>', /deny @/);
    expect(removed.marked).toMatch(/^✅/);
    expect(threadText(removed.parent.ts)).toContain('<@U0DAVE> is no longer on the allowlist.');
  });
});
