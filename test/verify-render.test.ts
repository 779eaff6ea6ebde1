import { describe, expect, it } from 'vitest';
import { renderSummary, renderTree, resultLine, summaryLine, toJson } from '../src/verify/render';
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
