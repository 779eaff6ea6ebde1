import { describe, expect, it } from 'vitest';
import { countVerdicts, MAX_SUMMARY_LINES, overall, renderSummary, resultsCsv, resultsJson, SummaryThrottle } from '../src/fleet/summary';
import type { FleetResult } from '../src/fleet/types';

const r = (alias: string, verdict: FleetResult['verdict'], summary = 'fine'): FleetResult => ({
  alias,
  accountId: '111111111111',
  region: 'eu-west-1',
  verdict,
  summary,
});

describe('fleet summary', () => {
  const results = [
    r('a-ok', 'ok'),
    r('b-warn', 'warn', 'rollout IN_PROGRESS'),
    r('c-fail', 'fail', 'Image: <!channel> & gone'),
    r('d-err', 'error', 'AccessDenied'),
  ];

  it('counts by verdict and lists the worst first, each linking its service', () => {
    const text = renderSummary(
      { kind: 'Verify', selector: 'env=prod', total: 4 },
      results,
      new Map([['c-fail', 'arn:aws:ecs:eu-west-1:111111111111:service/main/c-fail']]),
    );
    const lines = text.split('\n');
    expect(lines[0]).toBe('*Verify of `env=prod`*: 4 services');
    expect(lines[1]).toBe('❌ 1 failing · ⛔ 1 not reachable · ⚠️ 1 with warnings · ✅ 1 ok');
    expect(lines.slice(2).map((l) => l.split(' ')[0])).toEqual(['❌', '⛔', '⚠️', '✅']);
    expect(lines[2]).toContain('<https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/main/services/c-fail');
    expect(lines[2]).toContain('|c-fail>');
    expect(lines[3]).toContain('d-err (111111111111 eu-west-1): AccessDenied');
  });

  it('escapes what AWS wrote', () => {
    const text = renderSummary({ kind: 'Verify', selector: 'team=<x>', total: 4 }, results);
    expect(text).toContain('Image: &lt;!channel&gt; &amp; gone');
    expect(text).toContain('`team=&lt;x&gt;`');
    expect(text).not.toContain('<!channel>');
  });

  it('says how far a running run is, and sends the rest to the files', () => {
    const many = [...Array(MAX_SUMMARY_LINES + 7)].map((_, i) => r(`s${String(i).padStart(2, '0')}`, 'ok'));
    const text = renderSummary({ kind: 'Status', selector: '*', total: 40, running: true }, many);
    expect(text.split('\n')[0]).toBe('*Status of `*`*: 40 services (32 of 40 done)');
    expect(text).toContain('… and 7 more services in the attached files.');
  });

  it('marks the run by its worst verdict', () => {
    expect(overall(countVerdicts(results))).toBe('failure');
    expect(overall(countVerdicts([r('a', 'ok'), r('b', 'warn')]))).toBe('warning');
    expect(overall(countVerdicts([r('a', 'ok')]))).toBe('success');
  });

  it('writes every result to CSV (formulas made inert) and JSON, worst first, as plain text', () => {
    const csv = resultsCsv([...results, r('e', 'ok', '=HYPERLINK("x")')]);
    const rows = csv.trimEnd().split('\r\n');
    expect(rows[0]).toBe('alias,account,region,verdict,summary,detail');
    expect(rows[1]).toBe('"c-fail","111111111111","eu-west-1","fail","Image: <!channel> & gone",""');
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
    const json = JSON.parse(resultsJson({ kind: 'verify', selector: 'env=prod' }, results));
    expect(json.counts).toEqual({ fail: 1, error: 1, warn: 1, ok: 1 });
    expect(json.results.map((x: FleetResult) => x.alias)).toEqual(['c-fail', 'd-err', 'b-warn', 'a-ok']);
  });
});

describe('SummaryThrottle', () => {
  it('edits at most once per interval and never beyond its budget', async () => {
    let edits = 0;
    const throttle = new SummaryThrottle(async () => void edits++, { intervalMs: 20, maxEdits: 2 });
    for (let i = 0; i < 50; i++) {
      throttle.changed();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await throttle.stop();
    expect(edits).toBe(2);
  });

  it('drops a pending edit when stopped', async () => {
    let edits = 0;
    const throttle = new SummaryThrottle(async () => void edits++, { intervalMs: 10_000, maxEdits: 5 });
    throttle.changed(); // the first is due now (next tick)
    await new Promise((resolve) => setTimeout(resolve, 5));
    throttle.changed(); // due in 10 s
    await throttle.stop();
    expect(edits).toBe(1);
  });
});

describe('an account the bot cannot reach', () => {
  it('is one line in the summary for all its services, with the fix; the files keep each', () => {
    const fix = 'deploy the target role (infra/cross-account-role.yaml) in 222222222222';
    const unreachable = (alias: string): FleetResult => ({
      alias,
      accountId: '222222222222',
      region: 'eu-west-1',
      verdict: 'error',
      summary: `cannot be reached: ${fix} (AccessDenied: no)`,
      detail: { error: 'AccessDenied', fix },
    });
    const results = [unreachable('x'), unreachable('y'), r('a', 'ok'), { ...r('z', 'error', 'Timeout'), accountId: '222222222222' }];
    const lines = renderSummary({ kind: 'Verify', selector: '*', total: 4 }, results).split('\n');
    expect(lines.slice(2)).toEqual([
      `⛔ account 222222222222 (2 services) cannot be reached: ${fix} (AccessDenied: no)`,
      '⛔ z (222222222222 eu-west-1): Timeout',
      '✅ a (111111111111 eu-west-1): fine',
    ]);
    expect(resultsCsv(results).trimEnd().split('\r\n')).toHaveLength(5);
  });
});
