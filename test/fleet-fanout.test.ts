import { describe, expect, it } from 'vitest';
import { byAccount, deployRoleFix, failureResult, FleetRunner, isThrottling } from '../src/fleet/fanout';
import type { FleetResult, FleetService } from '../src/fleet/types';
import { fleetService } from './support/fleet';

const service = (alias: string, accountId: string) => fleetService(alias, accountId);
const ok = (s: FleetService): FleetResult => ({ alias: s.alias, accountId: s.accountId, region: s.region, verdict: 'ok', summary: 'fine' });
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

/** Counts calls in flight per account as a fake AWS would see them. */
function fakeAws() {
  const inFlight = new Map<string, number>();
  const max = new Map<string, number>();
  let total = 0;
  let maxTotal = 0;
  return {
    max,
    get maxTotal() {
      return maxTotal;
    },
    async call(account: string) {
      inFlight.set(account, (inFlight.get(account) ?? 0) + 1);
      max.set(account, Math.max(max.get(account) ?? 0, inFlight.get(account)!));
      total++;
      maxTotal = Math.max(maxTotal, total);
      await tick();
      inFlight.set(account, inFlight.get(account)! - 1);
      total--;
    },
  };
}

describe('FleetRunner', () => {
  it('keeps AWS calls in flight per account within the bound, across all services of the account', async () => {
    const aws = fakeAws();
    const services = [...Array(12)].map((_, i) => service(`s${i}`, i < 8 ? '111111111111' : '222222222222'));
    const runner = new FleetRunner({ perAccount: 3 });
    // Each service's task fires 6 calls at once, as a verify wave does.
    const results = await runner.run(services, async (s, gate) => {
      await Promise.all([...Array(6)].map(() => gate.run(() => aws.call(s.accountId))));
      return ok(s);
    });
    expect(results.map((r) => r.alias)).toEqual(services.map((s) => s.alias));
    expect(aws.max.get('111111111111')).toBe(3);
    expect(aws.max.get('222222222222')).toBe(3);
    expect(runner.maxInFlightPerAccount).toBe(3);
  });

  it('bounds services in flight across the run', async () => {
    let inFlight = 0;
    let max = 0;
    const services = [...Array(20)].map((_, i) => service(`s${i}`, String(100000000000 + i)));
    const runner = new FleetRunner({ maxServicesInFlight: 4 });
    await runner.run(services, async (s) => {
      max = Math.max(max, ++inFlight);
      await tick();
      inFlight--;
      return ok(s);
    });
    expect(max).toBe(4);
  });

  it('backs off per account on throttling and succeeds, pausing the whole account', async () => {
    const sleeps: number[] = [];
    let throttles = 2;
    const attemptsAt: number[] = [];
    let clock = 0;
    const runner = new FleetRunner({
      perAccount: 2,
      backoff: { baseMs: 100, maxMs: 1000, attempts: 5 },
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
      random: () => 1,
    });
    const results = await runner.run([service('a', '111111111111'), service('b', '111111111111')], async (s, gate) => {
      await gate.run(async () => {
        attemptsAt.push(clock);
        if (throttles-- > 0) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
      });
      return ok(s);
    });
    expect(results.map((r) => r.verdict)).toEqual(['ok', 'ok']);
    expect(runner.throttledCalls).toBe(2);
    // Both first calls throttled at once: the account's pause grew (100, then 200 ms, jitter at its
    // top) and both calls waited for the longer one before trying again.
    expect(attemptsAt).toEqual([0, 0, 200, 200]);
    expect(sleeps.length).toBeGreaterThanOrEqual(1);
  });

  it('lets a call through again after the backoff attempts, as an error result of its service', async () => {
    const runner = new FleetRunner({ backoff: { baseMs: 1, maxMs: 1, attempts: 3 }, sleep: async () => undefined });
    let calls = 0;
    const [result] = await runner.run([service('a', '111111111111')], async (s, gate) => {
      await gate.run(async () => {
        calls++;
        throw Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      });
      return ok(s);
    });
    expect(calls).toBe(3);
    expect(result!.verdict).toBe('error');
  });

  it('turns a failing task into its service’s result and runs the rest', async () => {
    const services = [service('a', '111111111111'), service('b', '222222222222'), service('c', '333333333333')];
    const runner = new FleetRunner();
    const seen: string[] = [];
    const results = await runner.run(
      services,
      async (s) => {
        if (s.accountId === '222222222222')
          throw Object.assign(new Error('User: arn:aws:sts::000000000000:assumed-role/bot is not authorized to perform: sts:AssumeRole on resource: x'), {
            name: 'AccessDenied',
          });
        if (s.alias === 'c') throw new Error('<!channel> boom');
        return ok(s);
      },
      (r) => seen.push(r.alias),
    );
    expect(results.map((r) => r.verdict)).toEqual(['ok', 'error', 'error']);
    expect(results[1]!.summary).toContain(deployRoleFix('222222222222'));
    expect(results[1]!.detail).toMatchObject({ fix: 'deploy the target role (infra/cross-account-role.yaml) in 222222222222' });
    expect(results[2]!.summary).toBe('<!channel> boom'); // plain text: escaped where it is shown
    expect(results[2]!.summary).not.toContain('deploy the target role');
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('fan-out helpers', () => {
  it('tells throttling from other errors', () => {
    expect(isThrottling(Object.assign(new Error(''), { name: 'TooManyRequestsException' }))).toBe(true);
    expect(isThrottling({ name: 'X', $metadata: { httpStatusCode: 429 } })).toBe(true);
    expect(isThrottling(Object.assign(new Error(''), { name: 'AccessDeniedException' }))).toBe(false);
  });

  it('groups services by account in order', () => {
    const groups = byAccount([service('a', '1'), service('b', '2'), service('c', '1')]);
    expect(groups.map((g) => g.map((s) => s.alias))).toEqual([['a', 'c'], ['b']]);
  });

  it('names the fix for an account whose role cannot be assumed', () => {
    const r = failureResult(service('a', '444444444444'), Object.assign(new Error('no role'), { name: 'AccessDenied' }));
    expect(r).toMatchObject({ verdict: 'error', accountId: '444444444444' });
    expect(r.summary).toBe('cannot be reached: deploy the target role (infra/cross-account-role.yaml) in 444444444444 (AccessDenied: no role)');
  });

  it("tells the bot's own refused credentials (expired, not valid) from a missing role: run again, not deploy the role", () => {
    for (const name of ['ExpiredToken', 'ExpiredTokenException', 'InvalidClientTokenId', 'UnrecognizedClientException']) {
      const r = failureResult(service('a', '444444444444'), Object.assign(new Error('The security token included in the request is expired'), { name }));
      expect(r.summary).not.toContain('deploy the target role');
      expect(r.summary).toMatch(/^cannot be reached: the bot's own AWS session was refused \(expired or not valid there\), not the target role: run it again/);
      expect(r.detail).toMatchObject({ error: name, fix: expect.stringContaining('eu-west-1 is enabled in 444444444444') });
    }
    // An access problem stays one.
    expect(failureResult(service('a', '444444444444'), Object.assign(new Error('x'), { name: 'AccessDeniedException' })).summary).toContain(
      'deploy the target role',
    );
  });
});
