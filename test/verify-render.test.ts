import { describe, expect, it } from 'vitest';
import type { LivingMessage } from '../src/slack/thread-output';
import { VerifyProgress } from '../src/verify/progress';
import {
  LATEST_SHOWN,
  problemReplies,
  renderOutcome,
  renderProblems,
  renderProgress,
  renderRest,
  renderSummary,
  renderTree,
  resultLine,
  summaryLine,
  toJson,
} from '../src/verify/render';
import { quantity } from '../src/verify/text';
import { summarize, type CheckResult } from '../src/verify/types';

const r = (over: Partial<CheckResult>): CheckResult => ({
  id: 'x',
  family: 'logs',
  title: 'Logs',
  group: [],
  status: 'OK',
  message: 'fine',
  durationMs: 1,
  order: 0,
  ...over,
});
const results: CheckResult[] = [
  r({ id: 'cluster', title: 'Cluster', group: ['Cluster'], message: 'cluster `main` is ACTIVE', order: 0 }),
  r({ id: 'taskdef', title: 'Task definition', group: ['TaskDefinition'], message: '`web:42`', order: 1 }),
  r({
    id: 'logs:app',
    title: 'Logs',
    group: ['TaskDefinition', 'Container app'],
    status: 'FAIL',
    message: 'log group `/ecs/x` does not exist',
    fix: '`aws logs create-log-group --log-group-name /ecs/x`',
    order: 3,
  }),
  r({ id: 'image:app', title: 'Image', group: ['TaskDefinition', 'Container app'], message: 'exists', order: 2 }),
  r({
    id: 'exec',
    title: 'Task role',
    group: ['ECS Exec'],
    status: 'WARN',
    unverified: true,
    message: 'could not check: the bot needs `iam:SimulatePrincipalPolicy`',
    order: 4,
  }),
  r({ id: 'net', title: 'Network', group: ['Network'], status: 'SKIP', message: 'not awsvpc', order: 5 }),
];

describe('verify output', () => {
  it('counts and words the summary line', () => {
    expect(summaryLine(summarize(results))).toBe('3 OK, 1 WARN, 1 FAIL, 1 SKIP (1 could not be checked)');
  });

  it('draws the tree in plan order, headings once, fixes under their result', () => {
    expect(renderTree(results, 'plain')).toBe(
      [
        'Cluster',
        '  [OK] Cluster: cluster main is ACTIVE',
        'TaskDefinition',
        '  [OK] Task definition: web:42',
        '  Container app',
        '    [OK] Image: exists',
        '    [FAIL] Logs: log group /ecs/x does not exist',
        '      ↳ Fix: aws logs create-log-group --log-group-name /ecs/x',
        'ECS Exec',
        '  [WARN?] Task role: could not check: the bot needs iam:SimulatePrincipalPolicy',
        'Network',
        '  [SKIP] Network: not awsvpc',
      ].join('\n'),
    );
  });

  it('lists failures before warnings in the summary, each with its fix', () => {
    const summary = renderSummary(results, 'slack').split('\n');
    expect(summary[0]).toBe('*❌ 3 OK, 1 WARN, 1 FAIL, 1 SKIP (1 could not be checked)*');
    expect(summary[1]).toBe('❌ TaskDefinition › Container app › Logs: log group `/ecs/x` does not exist');
    expect(summary[2]).toBe('  ↳ Fix: `aws logs create-log-group --log-group-name /ecs/x`');
    expect(summary[3]).toMatch(/^⚠️ ECS Exec › Task role: could not check/);
  });

  it('colours the terminal output and emits plain JSON', () => {
    expect(resultLine(results[2]!, 'ansi')).toBe('\x1b[31m[FAIL]\x1b[0m Logs: log group /ecs/x does not exist');
    const json = toJson({ target: 'web', cluster: 'main', service: 'web', region: 'us-east-1' }, results);
    expect(json.summary).toEqual({ ok: 3, warn: 1, fail: 1, skip: 1, unverified: 1 });
    expect(json.results[2]).toMatchObject({
      id: 'logs:app',
      status: 'FAIL',
      message: 'log group /ecs/x does not exist',
      fix: 'aws logs create-log-group --log-group-name /ecs/x',
    });
  });
});

describe('tree grouping', () => {
  it('keeps checks planned later under the heading where their group first appeared', () => {
    const tree = renderTree(
      [
        r({ id: 'n1', title: 'Subnets', group: ['Network'], order: 0 }),
        r({ id: 't1', title: 'Secret', group: ['TaskDefinition', 'Container app'], order: 1 }),
        r({ id: 'n2', title: 'Endpoint', group: ['Network', 'VPC endpoints'], order: 2 }),
        r({ id: 't2', title: 'Image', group: ['TaskDefinition', 'Container app'], order: 3 }),
      ],
      'plain',
    );
    expect(tree).toBe(
      [
        'Network',
        '  [OK] Subnets: fine',
        '  VPC endpoints',
        '    [OK] Endpoint: fine',
        'TaskDefinition',
        '  Container app',
        '    [OK] Secret: fine',
        '    [OK] Image: fine',
      ].join('\n'),
    );
  });
});

describe('verify in Slack: progress, then each finding once', () => {
  it('while checks run: how far along, the problems so far, the latest results as Slack text', () => {
    const text = renderProgress('Verifying `web`.', results.slice(0, 3), 7);
    expect(text.split('\n')).toEqual([
      'Verifying `web`.',
      '⏳ 3 of 7 checks done, 1 failed so far',
      '✅ Cluster: cluster `main` is ACTIVE',
      '✅ Task definition: `web:42`',
      '❌ Logs: log group `/ecs/x` does not exist',
    ]);
    expect(renderProgress('v', results.slice(0, 1), 1)).toContain('⏳ 1 of 1 check done\n');
    expect(renderProgress('v', results, 6)).toContain('6 of 6 checks done, 1 failed and 1 warning so far');
    const many = Array.from({ length: 12 }, (_, i) => r({ title: `Check ${i}`, order: i }));
    const shown = renderProgress('v', many, 12).split('\n').slice(2);
    expect(shown).toEqual(many.slice(-LATEST_SHOWN).map((m) => resultLine(m, 'slack')));
  });

  it('at the end: the counts, and what follows', () => {
    expect(renderOutcome('Verified `web`.', results)).toBe(
      'Verified `web`.\n*❌ 3 OK, 1 WARN, 1 FAIL, 1 SKIP (1 could not be checked)*\nThe failures and warnings with their fixes follow, then the other checks.',
    );
    expect(renderOutcome('Verified.', [results[0]!])).toBe('Verified.\n*✅ 1 OK, 0 WARN, 0 FAIL*\nThe checks follow.');
  });

  it('shows every result once: the problems with their fixes, then the tree of the rest', () => {
    const problems = renderProblems(results, 'slack');
    const rest = renderRest(results);
    for (const result of results) {
      const line = `${result.title}: ${result.message}`;
      expect(`${problems}\n${rest}`.split(line).length - 1, line).toBe(1);
    }
    expect(rest).not.toMatch(/❌|⚠️|Fix:/u);
    expect(rest).toContain('*Network*\n  ⏭️ Network: not awsvpc');
  });

  it('packs the problems into replies of whole findings, so a fix stays with its finding', () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      r({ id: `f${i}`, title: `Check ${i}`, status: 'FAIL', message: `broken ${'x'.repeat(60 + i * 3)}`, fix: `do ${'y'.repeat(80)}`, order: i }),
    );
    const replies = problemReplies(many);
    expect(replies.length).toBeGreaterThan(1);
    expect(replies.join('\n')).toBe(renderProblems(many, 'slack'));
    for (const reply of replies) {
      expect(reply.length).toBeLessThanOrEqual(4000);
      expect(reply.startsWith('❌ ')).toBe(true);
      expect(reply.split('\n').at(-1)).toMatch(/^ {2}↳ Fix: /);
    }
    expect(problemReplies([results[0]!])).toEqual([]);
  });

  it('agrees a count with its noun', () => {
    expect(quantity(1, 'container')).toBe('1 container');
    expect(quantity(3, 'container')).toBe('3 containers');
    expect(quantity(0, 'running task')).toBe('0 running tasks');
    expect(quantity(2, 'proxy', 'proxies')).toBe('2 proxies');
  });
});

/** A living message that records what it was asked to show. */
function recordingLiving() {
  const shown: string[] = [];
  let closed: string | undefined;
  const message: LivingMessage = {
    ts: '1.000001',
    update: (text) => void shown.push(text),
    close: async (text) => void (closed = text),
  };
  return { shown, message, closed: () => closed };
}

describe('VerifyProgress', () => {
  it('opens its message with the first result, updates it with later ones, and ends it as the outcome', async () => {
    const living = recordingLiving();
    const opened: string[] = [];
    const progress = new VerifyProgress({ running: 'Verifying.', done: 'Verified.' }, async (text) => {
      opened.push(text);
      return living.message;
    });
    progress.onPlanned(2);
    expect(opened).toEqual([]);
    progress.onResult(results[0]!);
    progress.onPlanned(4);
    progress.onResult(results[2]!);
    expect(await progress.finish([results[0]!, results[2]!])).toBe(true);
    expect(opened).toEqual(['Verifying.\n⏳ 1 of 2 checks done\n✅ Cluster: cluster `main` is ACTIVE']);
    expect(living.shown.at(-1)).toBe(
      'Verifying.\n⏳ 2 of 4 checks done, 1 failed so far\n✅ Cluster: cluster `main` is ACTIVE\n❌ Logs: log group `/ecs/x` does not exist',
    );
    expect(living.closed()).toBe(renderOutcome('Verified.', [results[0]!, results[2]!]));
  });

  it('says so when Slack took no message, and passes on an error only at the end, not to the check', async () => {
    const none = new VerifyProgress({ running: 'r', done: 'd' }, async () => undefined);
    none.onResult(results[0]!);
    expect(await none.finish([results[0]!])).toBe(false);
    const broken = new VerifyProgress({ running: 'r', done: 'd' }, async () => {
      throw new Error('channel_not_found');
    });
    expect(() => broken.onResult(results[0]!)).not.toThrow();
    await expect(broken.finish([results[0]!])).rejects.toThrow('channel_not_found');
  });
});
