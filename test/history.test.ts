import { describe, expect, it } from 'vitest';
import {
  csvCell,
  historyCsv,
  historyQueryInput,
  historyVisibility,
  MAX_HISTORY_SINCE_MS,
  readHistory,
  renderHistory,
  renderHistoryLine,
  type HistoryRow,
  type QueryFn,
} from '../src/audit/history';
import { auditIndexKeys } from '../src/audit/audit';
import { authorise } from '../src/auth/authorise';
import type { AllowlistEntry } from '../src/auth/roles';
import { everything, parseRequest } from '../src/commands/registry';
import { UnknownNameError } from '../src/commands/verb';
import { parseConfig } from '../src/config/schema';

const config = parseConfig({
  slack: { teams: ['T1'] },
  targets: {
    web: { region: 'us-east-1', cluster: 'main', service: 'web' },
    manager: { region: 'us-east-1', cluster: 'main', service: 'manager', manager: { container: 'app' } },
  },
  scripts: { 'backup.sh': { target: 'manager', path: '/work/backup.sh' } },
  jobs: { migrate: { target: 'web', container: 'app', command: ['bin/migrate'] } },
});
const all = everything(config);
const parse = (text: string, visible = all) => parseRequest(text, config, visible);

describe('/ecs history: arguments', () => {
  it('names a service, or a script or job with its service, a person, a window and an export', () => {
    expect(parse('history').args).toEqual({});
    expect(parse('history web').args).toEqual({ target: 'web' });
    expect(parse('history backup.sh').args).toEqual({ target: 'manager', script: 'backup.sh' });
    expect(parse('history migrate').args).toEqual({ target: 'web', script: 'migrate' });
    expect(parse('history web --user <@U0BOB|bob> --since 7d --export').args).toEqual({ target: 'web', user: 'U0BOB', since: 7 * 86_400_000, export: true });
    expect(parse('history --since 30m').args).toEqual({ since: 30 * 60_000 });
    expect(parse('history --since 2w').args).toEqual({ since: 14 * 86_400_000 });
    expect(parse('history --since 12h').args).toEqual({ since: 12 * 3_600_000 });
    // What the ingress checks and audits: the service, and the script beside it.
    expect(parse('history backup.sh').scope).toEqual({ target: 'manager', script: 'backup.sh' });
    expect(parse('history').scope).toEqual({});
  });

  it('refuses bad input with a specific message', () => {
    expect(() => parse('history --since 7x')).toThrow('`--since` is a duration such as `30m`, `12h`, `7d` or `2w`, not `7x`.');
    expect(() => parse('history --since 0d')).toThrow('`--since` is a duration');
    expect(() => parse('history --since 100d')).toThrow('`--since` reaches back at most 90 days, not 100 days.');
    expect(() => parse('history --since 13w')).toThrow('`--since` reaches back at most 90 days, not 13 weeks.');
    expect(() => parse('history --user bob')).toThrow('`--user`: `bob` is not a user mention.');
    expect(() => parse('history --user')).toThrow('`--user` needs a value.');
    expect(() => parse('history web manager')).toThrow('Unexpected `manager`.');
    expect(() => parse('history web --limit 5')).toThrow('Unknown option `--limit`.');
    expect(() => parse('history nope')).toThrow('Unknown service, script or job `nope`, or not one of yours. Your services here: `web`, `manager`.');
    expect(MAX_HISTORY_SINCE_MS).toBe(90 * 86_400_000);
  });

  it('answers a name on a service the person may not see like an unknown one (audited as a denial)', () => {
    const visible = { services: ['web'], scripts: [] };
    for (const name of ['manager', 'backup.sh']) {
      let caught: unknown;
      try {
        parse(`history ${name}`, visible);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(UnknownNameError);
      expect((caught as UnknownNameError).hidden).toBe(true);
      expect((caught as UnknownNameError).userMessage).toBe(`Unknown service, script or job \`${name}\`, or not one of yours. Your services here: \`web\`.`);
    }
    expect(parse('history migrate', visible).args).toEqual({ target: 'web', script: 'migrate' });
  });

  it('needs `read` on the named service; without one, any role here', () => {
    const viewerOfWeb: AllowlistEntry = { teamId: 'T1', userId: 'U1', grants: [{ role: 'viewer', services: ['web'] }], addedBy: 'U0', updatedAt: '' };
    expect(authorise(parse('history web'), viewerOfWeb, 'C1')).toEqual({ allowed: true });
    expect(authorise(parse('history'), viewerOfWeb, 'C1')).toEqual({ allowed: true });
    expect(authorise(parse('history manager'), viewerOfWeb, 'C1')).toMatchObject({
      allowed: false,
      reason: 'your `viewer` role does not cover service `manager`',
    });
    expect(authorise(parse('history backup.sh'), viewerOfWeb, 'C1')).toMatchObject({ allowed: false });
    expect(authorise(parse('history'), undefined, 'C1')).toMatchObject({ allowed: false, reason: 'you are not on the allowlist' });
    const onlyElsewhere: AllowlistEntry = { ...viewerOfWeb, grants: [{ role: 'viewer', services: ['web'], channels: ['C2'] }] };
    expect(authorise(parse('history'), onlyElsewhere, 'C1')).toMatchObject({ allowed: false });
  });
});

describe('/ecs history: the query', () => {
  it('asks the index made for the question, the window as a key condition on the time-sorted key', () => {
    expect(historyQueryInput({ teamId: 'T1', target: 'web', since: '2026-12-01T00:00:00.000Z' }, 'audit')).toEqual({
      TableName: 'audit',
      IndexName: 'byTarget',
      KeyConditionExpression: '#pk = :pk AND #sk >= :since',
      ExpressionAttributeNames: { '#pk': 'targetKey', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': 'target#T1#web', ':since': '2026-12-01T00:00:00.000Z' },
      ScanIndexForward: false,
    });
    // A person beside a service: the service's index, the person as a filter.
    expect(historyQueryInput({ teamId: 'T1', target: 'web', userId: 'U0BOB' }, 'audit')).toMatchObject({
      IndexName: 'byTarget',
      KeyConditionExpression: '#pk = :pk',
      FilterExpression: '#user = :user',
      ExpressionAttributeValues: { ':pk': 'target#T1#web', ':user': 'U0BOB' },
    });
    expect(historyQueryInput({ teamId: 'T1', script: 'backup.sh', target: 'manager' }, 'audit')).toMatchObject({
      IndexName: 'byScript',
      ExpressionAttributeValues: { ':pk': 'script#T1#backup.sh' },
    });
    const byUser = historyQueryInput({ teamId: 'T1', userId: 'U0BOB', since: '2026-12-01' }, 'audit');
    expect(byUser).toMatchObject({ IndexName: 'byUser', ExpressionAttributeValues: { ':pk': 'user#T1#U0BOB', ':since': '2026-12-01' } });
    expect(byUser.FilterExpression).toBeUndefined();
    // Neither: the team's own partition, by time (a Query too).
    const team = historyQueryInput({ teamId: 'T1' }, 'audit');
    expect(team).toMatchObject({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': 'pk' },
      ExpressionAttributeValues: { ':pk': 'team#T1' },
    });
    expect(team.IndexName).toBeUndefined();
  });

  it('keys every record the way the indexes are queried', () => {
    const input = historyQueryInput({ teamId: 'T1', target: 'web' }, 'audit');
    expect(auditIndexKeys({ teamId: 'T1', userId: 'U0BOB', target: 'web' })).toEqual({
      userKey: 'user#T1#U0BOB',
      targetKey: input.ExpressionAttributeValues[':pk'],
    });
    expect(auditIndexKeys({ teamId: 'T1', userId: 'U0BOB' })).toEqual({ userKey: 'user#T1#U0BOB' });
  });

  const row = (n: number, target?: string): HistoryRow => ({
    sk: `2026-12-01T00:00:${String(59 - n).padStart(2, '0')}.000Z#${n}`,
    at: `2026-12-01T00:00:${String(59 - n).padStart(2, '0')}.000Z`,
    userId: 'U0ALICE',
    channelId: 'C1',
    commandText: `/ecs status ${target ?? ''}`,
    decision: 'allowed',
    outcome: 'success',
    ...(target ? { target } : {}),
  });

  it('pages until enough rows the person may see, and says when there are more', async () => {
    const items = Array.from({ length: 130 }, (_, i) => row(i, i % 2 ? 'web' : 'secret'));
    const asked: Array<{ Limit: number; ExclusiveStartKey?: unknown }> = [];
    const query: QueryFn = async (input) => {
      asked.push(input);
      const from = (input.ExclusiveStartKey as { n?: number } | undefined)?.n ?? 0;
      const page = items.slice(from, from + input.Limit);
      return { Items: page as never, ...(from + input.Limit < items.length ? { LastEvaluatedKey: { n: from + input.Limit } } : {}) };
    };
    const input = historyQueryInput({ teamId: 'T1' }, 'audit');
    const read = await readHistory(query, input, { max: 20, visible: (r) => r.target === 'web' });
    expect(read.rows).toHaveLength(20);
    expect(read.rows.every((r) => r.target === 'web')).toBe(true);
    expect(read.more).toBe(true);
    expect(asked.map((a) => a.ExclusiveStartKey)).toEqual([undefined]);
    // 50 asked: the first page (twice that) holds exactly 50, the next (bigger: pages grow when
    // filters drop rows) says there are more.
    asked.length = 0;
    expect(await readHistory(query, input, { max: 50, visible: (r) => r.target === 'web' })).toMatchObject({ more: true });
    expect(asked.map((a) => [a.ExclusiveStartKey, a.Limit])).toEqual([
      [undefined, 100],
      [{ n: 100 }, 200],
    ]);
    // Nothing visible: pages of 50, 200, 800, then 1,000 at most, until the range ends.
    asked.length = 0;
    const many = Array.from({ length: 3000 }, (_, i) => row(i % 60, 'secret'));
    const sparse: QueryFn = async (q) => {
      asked.push(q);
      const from = (q.ExclusiveStartKey as { n?: number } | undefined)?.n ?? 0;
      return { Items: many.slice(from, from + q.Limit) as never, ...(from + q.Limit < many.length ? { LastEvaluatedKey: { n: from + q.Limit } } : {}) };
    };
    expect(await readHistory(sparse, input, { max: 20, visible: (r) => r.target === 'web' })).toEqual({ rows: [], more: false });
    expect(asked.map((a) => a.Limit)).toEqual([50, 200, 800, 1000, 1000]);
    const whole = await readHistory(query, input, { max: 1000, visible: (r) => r.target === 'web' });
    expect(whole).toMatchObject({ more: false });
    expect(whole.rows).toHaveLength(65);
  });

  it('shows a row about a service to those who may read it, a row about none to admins of every service', () => {
    const viewer: AllowlistEntry = { teamId: 'T1', userId: 'U1', grants: [{ role: 'viewer', services: ['web'] }], addedBy: 'U0', updatedAt: '' };
    const admin: AllowlistEntry = { ...viewer, grants: [{ role: 'admin', services: ['*'] }] };
    const mayViewer = historyVisibility(viewer, 'C1');
    expect([mayViewer(row(1, 'web')), mayViewer(row(2, 'manager')), mayViewer(row(3))]).toEqual([true, false, false]);
    const mayAdmin = historyVisibility(admin, 'C1');
    expect([mayAdmin(row(1, 'web')), mayAdmin(row(2, 'manager')), mayAdmin(row(3))]).toEqual([true, true, true]);
    expect(historyVisibility(viewer, 'C1')(row(1, 'web'))).toBe(true);
    expect(historyVisibility({ ...viewer, grants: [{ role: 'viewer', services: ['web'], channels: ['C2'] }] }, 'C1')(row(1, 'web'))).toBe(false);
    // A grant limited to some channels shows nothing done in others, wherever it is asked.
    const inOps = historyVisibility({ ...viewer, grants: [{ role: 'viewer', services: ['web'], channels: ['C1'] }] }, 'C1');
    expect([inOps(row(1, 'web')), inOps({ ...row(2, 'web'), channelId: 'C2' })]).toEqual([true, false]);
    expect(mayViewer({ ...row(2, 'web'), channelId: 'C2' })).toBe(true);
  });
});

describe('/ecs history: what it shows', () => {
  const typed: HistoryRow = {
    sk: '2026-12-01T10:00:00.000Z#a',
    at: '2026-12-01T10:00:00.000Z',
    userId: 'U0BOB',
    channelId: 'C1',
    threadTs: '1764583200.000100',
    commandText: '/ecs run backup.sh <@U0ALICE|alice> <!channel> a&amp;b `x`',
    decision: 'allowed',
    outcome: 'failure',
    durationMs: 1500,
    target: 'manager',
  };

  it('when in the reader’s time zone, who as a mention, what as typed but inert, the outcome, the duration, the thread', () => {
    const line = renderHistoryLine(typed, new Map([['C1/1764583200.000100', 'https://x.slack.com/archives/C1/p1764583200000100']]));
    expect(line).toBe(
      '• <!date^1796119200^{date_short_pretty} {time}|2026-12-01 10:00 UTC> <@U0BOB> `/ecs run backup.sh @alice @channel a&amp;b ˋxˋ` — ❌ failure · 1.5 s · <https://x.slack.com/archives/C1/p1764583200000100|thread>',
    );
    const refused: HistoryRow = {
      ...typed,
      outcome: 'refused',
      decision: 'denied',
      reason: 'your <b> role & more',
      durationMs: undefined as never,
      threadTs: undefined as never,
    };
    delete refused.durationMs;
    delete refused.threadTs;
    expect(renderHistoryLine(refused, new Map())).toMatch(/— 🚫 refused \(denied\): your &lt;b&gt; role &amp; more$/);
    // A system calling the signed API is nobody in Slack: its ARN, as code, never a mention.
    expect(renderHistoryLine({ ...typed, userId: 'iam:arn:aws:iam::123456789012:role/ci' }, new Map())).toContain(
      '> `arn:aws:iam::123456789012:role/ci` `/ecs run',
    );
  });

  it('a heading that says what, by whom, over what window, and when there were more', () => {
    expect(renderHistory({ subject: 'web', window: 'the last 7 days' }, { rows: [], more: false }, new Map())).toBe(
      '*History of `web`*, the last 7 days: nothing recorded.',
    );
    expect(renderHistory({ userId: 'U0BOB' }, { rows: [typed], more: true }, new Map()).split('\n')[0]).toBe(
      '*History of everything you may see by <@U0BOB>*: the latest 1 actions (there are more: narrow it with `--since` or `--user`, or `--export`), newest first',
    );
  });

  it('exports CSV whose cells no spreadsheet runs as a formula', () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    for (const lead of ['+', '-', '@', '\t', '\r']) expect(csvCell(`${lead}1`)).toBe(`"'${lead}1"`);
    expect(csvCell('plain, "quoted"')).toBe('"plain, ""quoted"""');
    expect(csvCell(undefined)).toBe('""');
    const csv = historyCsv([{ ...typed, commandText: '/ecs run x =1+1', reason: '@evil' }], new Map([['C1/1764583200.000100', 'https://l']]));
    const [header, line] = csv.split('\r\n');
    expect(header).toBe('at,user_id,verb,target,script,command,decision,outcome,duration_ms,reason,channel_id,thread_ts,thread_link');
    expect(line).toBe(
      '"2026-12-01T10:00:00.000Z","U0BOB","","manager","","/ecs run x =1+1","allowed","failure","1500","\'@evil","C1","1764583200.000100","https://l"',
    );
  });
});
