import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../local/world';

/**
 * `/ecs history` end to end: actions by two people on web and manager go through the production
 * ingress and worker, each audited with its index keys; history reads them back through the audit
 * table's indexes (created in dynalite from serverless.yml, queried as the worker's role).
 */
let world: World;
const CHANNEL = 'C0OPS';
beforeAll(async () => {
  world = await startWorld();
  // Vic may read web only.
  world.slack.workspace.users.push({ id: 'U0VIC', name: 'vic', realName: 'Vic', isBot: false });
  const { dynamoAllowlist } = await import('../src/auth/allowlist');
  await dynamoAllowlist.put({
    teamId: world.teamId,
    userId: 'U0VIC',
    grants: [{ role: 'viewer', services: ['web'] }],
    addedBy: 'test',
    updatedAt: new Date().toISOString(),
  });
  for (const [user, text] of [
    ['U0ALICE', 'status web'],
    ['U0BOB', 'status web'],
    ['U0ALICE', 'run backup.sh nightly'],
    ['U0BOB', 'status manager'],
    ['U0BOB', 'deploy web v9'], // bob may not deploy: refused after parsing, audited with its service
    ['U0ALICE', 'help'],
  ] as const) {
    await world.slash(user, text);
    await world.idle();
  }
});
afterAll(async () => {
  await world?.close();
});

const ephemeral = (res: { body: string }) => (JSON.parse(res.body) as { text: string }).text;
const parents = () => (world.slack.workspace.messages[CHANNEL] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);

/** Runs `/ecs history …` and returns its parent and its thread's text. */
async function history(userId: string, args: string) {
  const before = parents().length;
  expect(ephemeral(await world.slash(userId, `history ${args}`.trim()))).toContain('Working on');
  await world.idle();
  const parent = parents().at(-1)!;
  expect(parents()).toHaveLength(before + 1);
  const replies = world.slack.replies(CHANNEL, parent.ts);
  return { parent, replies, text: replies.map((r) => r.text).join('\n') };
}

const lines = (text: string) => text.split('\n').filter((l) => l.startsWith('• '));

const commands = (shown: string[]) => shown.map((l) => /<@(U0\w+)> `([^`]*)`/.exec(l)!.slice(1).join(' '));

describe('/ecs history end to end', () => {
  it('lists what was done to web, newest first: who, what, when, outcome, duration, a link to each thread', async () => {
    const { parent, text } = await history('U0BOB', 'web');
    expect(parent.text).toMatch(/^✅ <@U0BOB> ran `\/ecs history web` — web: 4 actions/);
    const shown = lines(text);
    // This history itself was recorded (accepted) before it ran, so it is there too.
    expect(commands(shown)).toEqual(['U0BOB /ecs history web', 'U0BOB /ecs deploy web v9', 'U0BOB /ecs status web', 'U0ALICE /ecs status web']);
    expect(shown[1]).toMatch(/— 🚫 refused \(denied\): you need the `deployer` role for service `web`$/);
    const bobs = shown[2]!;
    expect(bobs).toMatch(
      /^• <!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC> <@U0BOB> `\/ecs status web` — ✅ success · [\d.]+ s · <[^|>]+\|thread>$/,
    );
    // The link is that status command's own thread.
    const link = /<([^|>]+)\|thread>/.exec(bobs)![1]!;
    const statusParents = parents().filter((m) => m.text.includes('ran `/ecs status web`'));
    expect(link).toMatch(new RegExp(`/archives/${CHANNEL}/p${statusParents.at(-1)!.ts.replace('.', '')}$`));
    expect(text).not.toContain('manager');
    expect(text).not.toContain('backup.sh');
  });

  it('a script: its runs; a person: only theirs, across services; both: the service filtered by the person', async () => {
    const script = lines((await history('U0ALICE', 'backup.sh')).text);
    expect(commands(script)).toEqual(['U0ALICE /ecs history backup.sh', 'U0ALICE /ecs run backup.sh nightly']);
    expect(script[1]).toMatch(/— ✅ success · [\d.]+ s · <[^|>]+\|thread>$/);

    const bobs = lines((await history('U0ALICE', '--user <@U0BOB|bob>')).text);
    expect(commands(bobs)).toEqual(['U0BOB /ecs history web', 'U0BOB /ecs deploy web v9', 'U0BOB /ecs status manager', 'U0BOB /ecs status web']);
    const bobOnWeb = await history('U0ALICE', 'web --user <@U0BOB|bob>');
    expect(bobOnWeb.text).toContain('*History of `web` by <@U0BOB>*: 3 actions, newest first');
    expect(commands(lines(bobOnWeb.text))).toEqual(['U0BOB /ecs history web', 'U0BOB /ecs deploy web v9', 'U0BOB /ecs status web']);
  });

  it('everything: every service the reader may see, and actions about none (help) only for admins of all', async () => {
    const alice = commands(lines((await history('U0ALICE', '')).text));
    expect(alice).toContain('U0ALICE /ecs help');
    expect(alice).toContain('U0BOB /ecs status manager');
    const vic = await history('U0VIC', '');
    // Only web's rows: not manager's, not backup.sh's, not help (nor vic's own `/ecs history`, about no service).
    expect(commands(lines(vic.text))).toEqual([
      'U0ALICE /ecs history web --user @bob',
      'U0BOB /ecs history web',
      'U0BOB /ecs deploy web v9',
      'U0BOB /ecs status web',
      'U0ALICE /ecs status web',
    ]);
  });

  it('--since: only the window', async () => {
    // An action ten days ago, recorded by the production audit writer.
    const { dynamoAudit } = await import('../src/audit/audit');
    await dynamoAudit(400).record({
      id: 'old-one',
      at: new Date(Date.now() - 10 * 86_400_000).toISOString(),
      teamId: world.teamId,
      userId: 'U0ALICE',
      channelId: CHANNEL,
      commandText: '/ecs status web (ten days ago)',
      verb: 'status',
      target: 'web',
      decision: 'allowed',
      outcome: 'success',
      durationMs: 900,
    });
    expect(commands(lines((await history('U0ALICE', 'web')).text)).at(-1)).toBe('U0ALICE /ecs status web (ten days ago)');
    const week = await history('U0ALICE', 'web --since 1w');
    expect(week.text).toContain('*History of `web`*, the last week: ');
    expect(week.text).not.toContain('ten days ago');
    expect(commands(lines((await history('U0ALICE', 'web --since 11d')).text)).at(-1)).toBe('U0ALICE /ecs status web (ten days ago)');
  });

  it('--export attaches the window as CSV, formula-safe', async () => {
    const { replies } = await history('U0ALICE', 'web --since 7d --export');
    const shared = replies.find((r) => r.files.length > 0)!;
    expect(shared.text).toMatch(/📎 \d+ actions as CSV\./);
    const file = world.slack.workspace.files.find((f) => f.id === shared.files[0])!;
    expect(file.name).toBe('history-web.csv');
    const csv = file.content.toString('utf8').split('\r\n');
    expect(csv[0]).toBe('at,user_id,verb,target,script,command,decision,outcome,duration_ms,reason,channel_id,thread_ts,thread_link');
    const statusRows = csv.filter((l) => l.includes('"/ecs status web"'));
    expect(statusRows).toHaveLength(2);
    expect(statusRows[0]).toMatch(
      /^"\d{4}-[^"]+Z","U0BOB","status","web","","\/ecs status web","allowed","success","\d+","web: 2\/2 running[^"]*","C0OPS","\d+\.\d+","[^"]+\/archives\/C0OPS\/p\d+"$/,
    );
    expect(csv.filter((l) => l.includes('deploy web v9'))).toHaveLength(1);
    expect(csv.some((l) => l.includes('ten days ago'))).toBe(false);
  });

  it('a viewer of web only may not see manager’s history: answered as unknown, audited as a denial, nothing runs', async () => {
    const invocations = world.aws.lambda.invocations.length;
    for (const name of ['manager', 'backup.sh']) {
      const answer = ephemeral(await world.slash('U0VIC', `history ${name}`));
      expect(answer).toContain(`Unknown service, script or job \`${name}\`, or not one of yours. Your services here: \`web\`.`);
    }
    await world.idle();
    expect(world.aws.lambda.invocations.length).toBe(invocations);
    const vic = lines((await history('U0ALICE', '--user <@U0VIC|vic>')).text);
    // Refused before parsing, they name no service: seen by admins of every service, as alice is.
    expect(vic.filter((l) => l.includes('🚫 refused (denied)')).map((l) => /`([^`]*)`/.exec(l)![1])).toEqual([
      '/ecs history backup.sh',
      '/ecs history manager',
    ]);
  });
});
