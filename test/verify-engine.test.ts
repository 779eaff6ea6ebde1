import { describe, expect, it } from 'vitest';
import type { VerifyContext } from '../src/verify/context';
import { runChecks } from '../src/verify/engine';
import type { CheckOutcome, CheckSpec } from '../src/verify/types';
import { fail, ok } from '../src/verify/types';

const ctx = {} as VerifyContext;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const spec = (id: string, run: () => Promise<CheckOutcome>, extra: Partial<CheckSpec> = {}): CheckSpec => ({
  id,
  family: 'cluster',
  title: id,
  group: ['G'],
  run,
  ...extra,
});

describe('verify engine', () => {
  it('runs independent checks concurrently, never more than the bound', async () => {
    let running = 0;
    let peak = 0;
    const work = async () => {
      peak = Math.max(peak, ++running);
      await sleep(20);
      running--;
      return ok('fine');
    };
    const started = Date.now();
    const results = await runChecks(
      Array.from({ length: 12 }, (_, i) => spec(`c${i}`, work)),
      ctx,
      { concurrency: 4 },
    );
    expect(results).toHaveLength(12);
    expect(peak).toBe(4);
    expect(Date.now() - started).toBeLessThan(12 * 20); // not one after another
  });

  it('starts a check only after what it needs, and skips it when that failed', async () => {
    const order: string[] = [];
    const track =
      (id: string, outcome: CheckOutcome, ms = 5) =>
      async () => {
        await sleep(ms);
        order.push(id);
        return outcome;
      };
    const results = await runChecks(
      [
        spec('a', track('a', ok('a'), 30)),
        spec('b', track('b', ok('b')), { needs: ['a'] }),
        spec('c', track('c', fail('c broke'))),
        spec('d', track('d', ok('d')), { needs: ['c'] }),
      ],
      ctx,
    );
    expect(order.indexOf('b')).toBeGreaterThan(order.indexOf('a'));
    expect(order).not.toContain('d');
    const d = results.find((r) => r.id === 'd')!;
    expect(d).toMatchObject({ status: 'SKIP', message: 'not checked: “c” failed' });
  });

  it('plans children once their parent has run, and keeps plan order in the results', async () => {
    const results = await runChecks(
      [
        spec('parent', async () => ok('p'), { then: () => [spec('child1', async () => ok('1')), spec('child2', async () => ok('2'))] }),
        spec('sibling', async () => ok('s')),
      ],
      ctx,
    );
    expect(results.map((r) => r.id)).toEqual(['parent', 'sibling', 'child1', 'child2']);
  });

  it('reports a check that throws or hangs as not checked, never OK', async () => {
    const denied = Object.assign(
      new Error(
        'User: arn:aws:sts::1:assumed-role/bot/x is not authorized to perform: iam:GetRole on resource: role web-task-role because no identity-based policy allows the iam:GetRole action',
      ),
      { name: 'AccessDenied' },
    );
    const results = await runChecks([spec('throws', async () => Promise.reject(denied)), spec('hangs', () => new Promise(() => undefined))], ctx, {
      timeoutMs: 50,
    });
    expect(results[0]).toMatchObject({ status: 'WARN', unverified: true, message: 'could not check: the bot needs `iam:GetRole` on `role`' });
    expect(results[0]!.fix).toContain('"Action":"iam:GetRole"');
    expect(results[1]).toMatchObject({ status: 'WARN', unverified: true, message: 'not checked: no answer within 0 s' });
  });

  it('a refusal by the resource’s own policy (a KMS key policy) names that policy as the fix, not the bot’s role', async () => {
    const key = 'arn:aws:kms:us-east-1:111111111111:key/403f4835-dae2-a4ad-f69c-773895924add';
    const denied = Object.assign(
      new Error(
        `User: arn:aws:sts::111111111111:assumed-role/ecs-chatops-target/verify is not authorized to perform: kms:DescribeKey on resource: ${key} because no resource-based policy allows the kms:DescribeKey action`,
      ),
      { name: 'AccessDeniedException' },
    );
    const [result] = await runChecks([spec('key', async () => Promise.reject(denied))], ctx);
    expect(result).toMatchObject({
      status: 'WARN',
      unverified: true,
      message: `could not check: the policy of \`${key}\` does not let the bot \`kms:DescribeKey\``,
    });
    expect(result!.fix).toBe(
      'Add to that resource\'s policy (for a KMS key, its key policy): {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/ecs-chatops-target"},"Action":"kms:DescribeKey","Resource":"*"}',
    );
  });

  it('starts nothing once the remaining time is below the reserve, and says so', async () => {
    let left = 10_000;
    const results = await runChecks(
      [spec('first', async () => ((left = 1000), ok('done'))), spec('later', async () => ok('never'), { needs: ['first'] })],
      ctx,
      { remainingMs: () => left, reserveMs: 5000 },
    );
    expect(results[1]).toMatchObject({ status: 'WARN', unverified: true, message: 'not checked: the run ran out of time before this check could start' });
  });

  it('refuses duplicate ids and unknown needs', async () => {
    await expect(runChecks([spec('x', async () => ok('')), spec('x', async () => ok(''))], ctx)).rejects.toThrow('duplicate check id x');
    await expect(runChecks([spec('y', async () => ok(''), { needs: ['nope'] })], ctx)).rejects.toThrow('needs unknown check nope');
  });
});
