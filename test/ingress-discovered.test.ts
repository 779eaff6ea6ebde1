import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../src/config/schema';
import { createIngress } from '../src/ingress/ingress';
import type { FleetService } from '../src/fleet/types';
import { signedSlackEvent, slashCommandBody } from '../local/slack/sign';
import { memoryAllowlist, memoryAudit, memoryJobs, memoryState } from './support/fakes';

/**
 * The ingress and a service only the fleet's catalog knows: its alias is read with one GetItem,
 * started beside the allowlist read (the ack waits for the slower of the two, not both), and only
 * when the word is not a declared target and `fleet:` is configured.
 */
const SECRET = 'test-signing-secret';
const base = {
  slack: { teams: ['T1'] },
  targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' } },
};
const withFleet = parseConfig({ ...base, fleet: { organizations: true, regions: ['us-east-1'] } });
const withoutFleet = parseConfig(base);

const billing: FleetService = {
  alias: 'billing',
  accountId: '300000000001',
  region: 'us-east-1',
  cluster: 'fleet',
  service: 'billing',
  serviceArn: 'arn:aws:ecs:us-east-1:300000000001:service/fleet/billing',
  roleArn: 'arn:aws:iam::300000000001:role/ecs-chatops-target',
  labels: { env: 'prod', team: 'payments' },
  source: 'discovered',
};

function setup(config: Config, options: { catalogFails?: boolean } = {}) {
  const started: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const store = memoryAllowlist([
    { teamId: 'T1', userId: 'U0DANA', grants: [{ role: 'viewer', services: [], selectors: ['team=payments'] }] },
    { teamId: 'T1', userId: 'U0ERIN', grants: [{ role: 'viewer', services: [], selectors: ['team=search'] }] },
  ]);
  const catalogReads: string[] = [];
  const audit = memoryAudit();
  const jobs = memoryJobs({ failTimes: 0 });
  const core = createIngress({
    config: () => config,
    secrets: async () => ({ signingSecret: SECRET, botToken: 'xoxb-test' }),
    allowlist: {
      ...store,
      get: async (teamId, userId) => {
        started.push('allowlist');
        await released;
        return store.get(teamId, userId);
      },
    },
    catalog: {
      get: async (alias) => {
        started.push('catalog');
        catalogReads.push(alias);
        await released;
        if (options.catalogFails) throw Object.assign(new Error('throughput exceeded'), { name: 'ProvisionedThroughputExceededException' });
        return alias === billing.alias ? billing : undefined;
      },
    },
    audit: () => audit,
    jobs,
    state: memoryState(),
    respond: async () => undefined,
    channelAccess: async () => ({ canPost: true }),
    now: Date.now,
  });
  const slash = async (text: string, user: string) => {
    const pending = core.handleHttp(
      signedSlackEvent({
        signingSecret: SECRET,
        contentType: 'application/x-www-form-urlencoded',
        body: slashCommandBody({ teamId: 'T1', userId: user, channelId: 'C0OPS', text }),
      }),
    );
    // Both reads are under way before either answers: nothing resolves until released.
    await new Promise((resolve) => setTimeout(resolve, 20));
    const before = [...started];
    release();
    const res = await pending;
    return { before, text: (JSON.parse(res.body) as { text: string }).text };
  };
  return { slash, catalogReads, jobs, audit };
}

describe('ingress: a service only the catalog knows', () => {
  it('reads it once, beside the allowlist read, and hands the command to the worker', async () => {
    const world = setup(withFleet);
    const { before, text } = await world.slash('status billing', 'U0DANA');
    expect(before.sort()).toEqual(['allowlist', 'catalog']);
    expect(world.catalogReads).toEqual(['billing']);
    expect(text).toContain('Working on `/ecs status billing`');
    expect(world.jobs.jobs).toHaveLength(1);
    expect(world.jobs.jobs[0]).toMatchObject({ verb: 'status', args: { target: 'billing' } });
  });

  it('evaluates selector grants against its labels: one that does not match is answered as unknown', async () => {
    const world = setup(withFleet);
    const { text } = await world.slash('status billing', 'U0ERIN');
    expect(text).toContain('Unknown service `billing`, or not one of yours.');
    expect(world.jobs.jobs).toHaveLength(0);
    expect(world.audit.records.at(-1)).toMatchObject({ decision: 'denied', outcome: 'refused' });
  });

  it('does not read the catalog for a declared target, a selector, or without `fleet:`', async () => {
    for (const [config, words] of [
      [withFleet, 'status web'],
      [withFleet, 'status team=payments'],
      [withFleet, 'help status'],
      [withoutFleet, 'status billing'],
    ] as const) {
      const world = setup(config);
      const { before } = await world.slash(words, 'U0DANA');
      expect(before).toEqual(['allowlist']);
      expect(world.catalogReads).toEqual([]);
    }
  });

  it('refuses someone not on the allowlist as such, whatever the catalog answers', async () => {
    const world = setup(withFleet, { catalogFails: true });
    const { before, text } = await world.slash('status billing', 'U0NOBODY');
    expect(before.sort()).toEqual(['allowlist', 'catalog']);
    expect(text).toContain('🚫 Not allowed: you are not on the allowlist');
    expect(world.jobs.jobs).toHaveLength(0);
  });

  it('says so when the catalog cannot be read, and runs nothing', async () => {
    const world = setup(withFleet, { catalogFails: true });
    const { text } = await world.slash('status billing', 'U0DANA');
    expect(text).toContain("I can't read the fleet's catalog right now (DynamoDB failed (ProvisionedThroughputExceededException))");
    expect(world.jobs.jobs).toHaveLength(0);
  });
});
