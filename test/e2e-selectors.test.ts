import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../local/world';
import type { AllowlistStore } from '../src/auth/allowlist';
import type { Config } from '../src/config/schema';

/**
 * Selectors end to end (issue 19), through the production ingress and worker: targets labelled in
 * the configuration, `/ecs services <selector>` listing what matches, and allowlist grants held
 * as selectors — granted with `/ecs allow`, evaluated deny by default on a command, and never
 * given beyond the granting admin's own scope.
 */
let world: World;
let setConfig: (config: Config | undefined) => void;
let allowlist: AllowlistStore;
const CHANNEL = 'C0OPS';
const PEOPLE = [
  { id: 'U0DANA', name: 'dana' },
  { id: 'U0PAM', name: 'pam' },
  { id: 'U0ERIN', name: 'erin' },
];

beforeAll(async () => {
  world = await startWorld();
  const load = await import('../src/config/load');
  setConfig = load.setConfig;
  allowlist = (await import('../src/auth/allowlist')).dynamoAllowlist;
  const base = load.getConfig();
  const labelled = (alias: string, labels: Record<string, string>) => ({ ...base.targets[alias]!, labels });
  setConfig({
    ...base,
    targets: {
      ...base.targets,
      web: labelled('web', { env: 'prod', team: 'payments' }),
      manager: labelled('manager', { env: 'staging', team: 'payments' }),
      broken: labelled('broken', { env: 'staging', team: 'search' }),
    },
  });
  const ws = world.slack.workspace;
  for (const p of PEOPLE) {
    ws.users.push({ id: p.id, name: p.name, realName: p.name, isBot: false });
    for (const channel of ws.channels) if (!channel.members.includes(p.id)) channel.members.push(p.id);
  }
  // Pam administers team payments, by a selector.
  await allowlist.put({
    teamId: world.teamId,
    userId: 'U0PAM',
    grants: [{ role: 'admin', services: [], selectors: ['team=payments'] }],
    addedBy: 'test',
    updatedAt: new Date().toISOString(),
  });
});
afterAll(async () => {
  setConfig?.(undefined);
  await world?.close();
});

const ephemeral = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;
const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);

describe('/ecs services <selector>', () => {
  it('lists the matching services with where they live and their labels', async () => {
    const text = ephemeral(await world.slash('U0ALICE', 'services env=prod'));
    expect(text).toBe('*1 of your services here match `env=prod`*\n• `web` — us-east-1, main/web · env=prod, team=payments');
    const staging = ephemeral(await world.slash('U0ALICE', 'services team=payments,env=staging|prod'));
    expect(staging.split('\n')).toEqual([
      '*2 of your services here match `env=prod|staging,team=payments`*',
      expect.stringMatching(/^• `manager` — us-east-1, .* · env=staging, team=payments$/),
      '• `web` — us-east-1, main/web · env=prod, team=payments',
    ]);
  });
  it('a selector matching nothing: says so with the closest labels', async () => {
    const text = ephemeral(await world.slash('U0ALICE', 'services env=prd'));
    expect(text).toContain('No service of yours here matches `env=prd`: no service has `env=prd` (did you mean `env=prod`?)');
    expect(ephemeral(await world.slash('U0ALICE', 'services tema=payments'))).toContain('(did you mean `team`?)');
  });
  it('refuses a bad selector, a plain alias, and keeps today’s list without one', async () => {
    expect(ephemeral(await world.slash('U0ALICE', 'services env=prod,env=staging'))).toContain('the key `env` appears twice');
    expect(ephemeral(await world.slash('U0ALICE', 'services web'))).toContain('`web` is not a selector');
    const plain = ephemeral(await world.slash('U0BOB', 'services'));
    expect(plain.split('\n')[0]).toBe('*Your services here*');
    expect(plain).toContain('• `web` — Public web front end, main/web in us-east-1');
  });
});

describe('allowlist grants with selectors', () => {
  it('an admin grants a selector; a command on a matching service is allowed, on another denied', async () => {
    expect(ephemeral(await world.slash('U0ALICE', 'allow <@U0DANA|dana> viewer env=staging'))).toContain('Working on');
    await world.idle();
    const replies = world.slack.replies(CHANNEL, parents().at(-1)!.ts).map((r) => r.text);
    expect(replies.join('\n')).toContain('<@U0DANA> now has:\n• *viewer* on services matching `env=staging`');
    const stored = await allowlist.get(world.teamId, 'U0DANA');
    expect(stored?.grants).toEqual([{ role: 'viewer', services: [], selectors: ['env=staging'] }]);

    expect(ephemeral(await world.slash('U0DANA', 'status manager'))).toContain('Working on');
    await world.idle();
    expect(parents().at(-1)!.text).toContain('<@U0DANA> ran `/ecs status manager`');
    // web is env=prod: not hers, answered as unknown; nothing reaches the worker.
    const invocations = world.aws.lambda.invocations.length;
    expect(ephemeral(await world.slash('U0DANA', 'status web'))).toContain('Unknown service `web`, or not one of yours.');
    expect(ephemeral(await world.slash('U0DANA', 'deploy manager v2'))).toContain('you need the `deployer` role');
    await world.idle();
    expect(world.aws.lambda.invocations.length).toBe(invocations);
    // Her services listing and whoami show the selector's reach.
    expect(ephemeral(await world.slash('U0DANA', 'services *'))).toContain('*2 of your services here match `*`*');
    expect(ephemeral(await world.slash('U0DANA', 'whoami'))).toContain('• *viewer* on services matching `env=staging`');
  });

  it('an admin of team=payments grants within her scope, never beyond it', async () => {
    expect(ephemeral(await world.slash('U0PAM', 'allow <@U0ERIN|erin> viewer team=payments,env=prod'))).toContain('Working on');
    await world.idle();
    expect((await allowlist.get(world.teamId, 'U0ERIN'))?.grants).toEqual([{ role: 'viewer', services: [], selectors: ['env=prod,team=payments'] }]);
    // A service her selector matches, by its labels.
    expect(ephemeral(await world.slash('U0PAM', 'allow <@U0ERIN|erin> operator manager'))).toContain('Working on');
    await world.idle();
    const invocations = world.aws.lambda.invocations.length;
    expect(ephemeral(await world.slash('U0PAM', 'allow <@U0ERIN|erin> viewer env=prod'))).toContain(
      'your `admin` role does not cover services matching `env=prod`',
    );
    expect(ephemeral(await world.slash('U0PAM', 'allow <@U0ERIN|erin> viewer'))).toContain('your `admin` role does not cover every service');
    // broken is team=search: not hers to see, so not hers to grant.
    expect(ephemeral(await world.slash('U0PAM', 'allow <@U0ERIN|erin> viewer broken'))).toContain('Unknown service `broken`');
    await world.idle();
    expect(world.aws.lambda.invocations.length).toBe(invocations);
    expect((await allowlist.get(world.teamId, 'U0ERIN'))?.grants).toHaveLength(2);
    // Her allowlist shows what lies within her scope.
    const listed = ephemeral(await world.slash('U0PAM', 'allowlist'));
    expect(listed).toContain('<@U0ERIN>: *viewer* on services matching `env=prod,team=payments`; *operator* on `manager`');
    expect(listed).not.toContain('U0ALICE');
  });
});
