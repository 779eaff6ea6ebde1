import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../local/world';
import { main as verifyCli } from '../scripts/verify';
import { unescapeText } from '../src/slack/format';

/** `/ecs verify` end to end: signed request → ingress → worker → thread, and the terminal front end. */
let world: World;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.close();
});

const lastParent = () => world.slack.workspace.messages.C0OPS!.filter((m) => !m.threadTs || m.threadTs === m.ts).at(-1)!;
const run = async (args: string[]) => {
  let out = '';
  const code = await verifyCli(args, { stdout: (s) => (out += s), isTTY: false });
  return { code, out };
};
const threadText = (ts: string) =>
  world.slack
    .replies('C0OPS', ts)
    .map((r) => r.text)
    .join('\n');

describe('/ecs verify in Slack', () => {
  it('web: every check OK, streamed into the thread, parent marked ✅', async () => {
    await world.slash('U0ALICE', 'verify web');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^✅ <@U0ALICE> ran `\/ecs verify web` — web: \d+ OK, 0 WARN, 0 FAIL/);
    const text = threadText(parent.ts);
    expect(text).toContain('Verified `web` (main/web in us-east-1)');
    expect(text).toContain('put-logs off');
    expect(text).toMatch(/✅ Cluster: cluster `main` is ACTIVE/);
    expect(text).toContain('*TaskDefinition*');
    expect(text).toContain('*ECS Exec*');
  });

  it('web-linear (ECS-native LINEAR): every check OK, its strategy named', async () => {
    await world.slash('U0ALICE', 'verify web-linear');
    await world.idle();
    const parent = lastParent();
    expect(parent.text, threadText(parent.ts)).toMatch(/^✅ <@U0ALICE> ran `\/ecs verify web-linear` — web-linear: \d+ OK, 0 WARN, 0 FAIL/);
    expect(threadText(parent.ts)).toContain('linear 25% every 2 min (4 steps); bake 10 min');
  });

  it('broken: each seeded problem shown with its fix, failures first in the summary, parent marked ❌', async () => {
    await world.slash('U0ALICE', 'verify broken');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^❌ <@U0ALICE> ran `\/ecs verify broken` — broken: \d+ OK, \d+ WARN, (1[0-9]|[5-9]) FAIL/);
    // The summary is the last part of the thread; Slack's limits may spread it over several replies.
    const text = threadText(parent.ts);
    const head = text.search(/^\*❌ \d+ OK, \d+ WARN, \d+ FAIL/m);
    expect(head).toBeGreaterThan(0);
    const summary = text.slice(head);
    for (const problem of [
      /log group `\/ecs\/broken` does not exist/,
      /no image tagged `?does-not-exist/,
      /broken\/api-key-Q8mZ2c` no longer exists/,
      /trusts `?ec2\.amazonaws\.com`?, not `?ecs-tasks\.amazonaws\.com/,
      /key policy of `?alias\/broken-secrets/,
      /started without ECS Exec/,
      /has no `?com\.amazonaws\.us-east-1\.ecr\.dkr`? endpoint/,
      /target group `?arn:aws:elasticloadbalancing:[^ ]*broken[^ ]*`? does not exist/,
    ]) {
      expect(summary).toMatch(problem);
    }
    expect(summary.match(/↳ Fix:/g)!.length).toBeGreaterThanOrEqual(8);
    const firstWarn = summary.indexOf('\n⚠️');
    if (firstWarn > 0) expect(summary.lastIndexOf('\n❌')).toBeLessThan(firstWarn);
  });

  it('broken: one progress message streams the results as Slack text, then each finding is shown once', async () => {
    await world.slash('U0ALICE', 'verify broken');
    await world.idle();
    const replies = world.slack.replies('C0OPS', lastParent().ts);
    // The progress message, the failures with their fixes (two replies: over Slack's 4000
    // characters), the tree of the other checks.
    expect(replies.length).toBeLessThanOrEqual(5);
    const [progress] = replies;
    expect(progress!.text).toMatch(/^Verified `broken` .*\n\*❌ \d+ OK, \d+ WARN, \d+ FAIL, \d+ SKIP\*\nThe failures with their fixes follow/);
    // While checks ran, it showed how far along they were and the latest results, as Slack text:
    // no code block, so a result's `code` marks render.
    const shown = progress!.history.map((h) => h.text);
    expect(shown.some((t) => /^⏳ \d+ of \d+ checks done/m.test(t) && /^(✅|⚠️|❌|⏭️) .*`[^`]+`/mu.test(t))).toBe(true);
    for (const text of [...shown, ...replies.map((r) => r.text)]) expect(text).not.toContain('```');

    // Every check's line, in the words the terminal prints, appears exactly once in the thread.
    const plain = (text: string) => unescapeText(text).replace(/`([^`]+)`/g, '$1');
    const lines = replies.flatMap((r) => plain(r.text).split('\n'));
    const { out } = await run(['broken', '--json']);
    const results: Array<{ title: string; message: string }> = JSON.parse(out).results;
    expect(results.length).toBeGreaterThan(20);
    for (const r of results) {
      const line = `${r.title}: ${r.message}`;
      const same = results.filter((o) => `${o.title}: ${o.message}` === line).length;
      expect(lines.filter((l) => l.endsWith(` ${line}`)).length, line).toBe(same);
    }
    // Counts agree with their nouns.
    expect(replies.map((r) => r.text).join('\n')).toMatch(/`broken:\d+`: 1 container, FARGATE/);
  });

  it('checks a prospective deploy with --image before anyone approves it', async () => {
    await world.slash('U0ALICE', 'verify web --image v9.9.9-missing');
    await world.idle();
    const parent = lastParent();
    expect(parent.text).toMatch(/^❌ .*`\/ecs verify web --image v9\.9\.9-missing`/);
    expect(threadText(parent.ts)).toContain('as a deploy of `v9.9.9-missing` would leave it');
    expect(threadText(parent.ts)).toMatch(/no image tagged `?v9\.9\.9-missing/);
  });

  it('says "could not check" with the permission the bot needs, never OK, and the other checks still run', async () => {
    const undo = world.aws.faults.deny('iam:SimulatePrincipalPolicy');
    try {
      await world.slash('U0ALICE', 'verify web');
      await world.idle();
    } finally {
      undo();
    }
    const parent = lastParent();
    expect(parent.text).toMatch(/^⚠️ .*web: \d+ OK, [1-9]\d* WARN, 0 FAIL.*could not be checked/);
    const text = threadText(parent.ts);
    expect(text).toMatch(/not verified as the execution role: the bot needs `iam:SimulatePrincipalPolicy`/);
    expect(text).toMatch(/✅ Cluster/);
  });

  it('answers an unknown service with the closest match, and does nothing', async () => {
    const before = world.slack.workspace.messages.C0OPS!.length;
    const res = await world.slash('U0ALICE', 'verify wbe');
    expect(JSON.parse(res.body).text).toContain('Unknown service `wbe`, or not one of yours. Did you mean `web`?');
    expect(world.slack.workspace.messages.C0OPS!.length).toBe(before);
  });

  it('verifies read-only: no AWS write except with --put-logs, which writes one line per log group', async () => {
    const writes = () => world.aws.calls.filter((c) => /^(Put|Create|Update|Delete|Register|Run|Start|Stop|Tag)/.test(c.action));
    const before = writes().length;
    await world.slash('U0ALICE', 'verify web');
    await world.idle();
    expect(writes().length).toBe(before);
    await world.slash('U0ALICE', 'verify web --put-logs');
    await world.idle();
    expect(
      writes()
        .slice(before)
        .map((c) => c.action)
        .sort(),
    ).toEqual(['CreateLogStream', 'PutLogEvents']);
  });
});

describe('npm run verify (terminal)', () => {
  it('exits 0 when all is well and 1 on a FAIL, with the tree and the summary', async () => {
    const web = await run(['web']);
    expect(web.code).toBe(0);
    expect(web.out).toMatch(/^Cluster\n {2}\[OK\] Cluster: cluster main is ACTIVE/);
    const broken = await run(['broken']);
    expect(broken.code).toBe(1);
    expect(broken.out).toMatch(/\n\d+ OK, \d+ WARN, \d+ FAIL/);
  });
  it('prints machine-readable JSON for CI', async () => {
    const { code, out } = await run(['broken', '--json']);
    expect(code).toBe(1);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ target: 'broken', cluster: 'main', service: 'broken', region: 'us-east-1' });
    expect(report.summary.fail).toBeGreaterThan(5);
    expect(report.results.find((r: { id: string }) => r.id === 'cluster')).toMatchObject({
      status: 'OK',
      message: expect.stringContaining('cluster main is ACTIVE'),
    });
  });
  it('refuses an unknown service with the list, exit 2', async () => {
    const { code, out } = await run(['nope']);
    expect(code).toBe(2);
    expect(out).toContain('services: web, broken, manager, web-bg, web-canary, web-linear, legacy');
  });
});
