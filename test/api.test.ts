import { describe, expect, it } from 'vitest';
import { createApi, type ApiDeps, type ApiEvent } from '../src/api/api';
import { matchesPattern, principalFromArn } from '../src/api/principal';
import type { RateLimit } from '../src/api/rate-limit';
import { BadRequestError, deployRequest, runRequest } from '../src/api/requests';
import { getConfig } from '../src/config/load';
import { fleetSchema } from '../src/config/fleet-schema';
import type { FleetService } from '../src/fleet/types';
import { apiIdempotencyKey } from '../src/platform/state-keys';
import type { CommandJob } from '../src/platform/jobs';
import { memoryAllowlist, memoryAudit, memoryJobs, memoryRateLimiter, memoryState } from './support/fakes';

/** The signed API's core against in-memory stores (the local world's tests take it end to end). */
const TEAM = 'T0LOCAL';
const CI_ROLE = 'arn:aws:iam::111111111111:role/ci-deployer';
const CI_SESSION = 'arn:aws:sts::111111111111:assumed-role/ci-deployer/build-42';
const PAYMENTS_CI = 'arn:aws:iam::111111111111:role/payments-ci';

function setup(limit: RateLimit = { burst: 100, perMinute: 100 }, fleet: Pick<ApiDeps, 'config' | 'catalog'> = { config: getConfig }) {
  const allowlist = memoryAllowlist([
    { teamId: TEAM, userId: `iamp:${CI_ROLE.replace('ci-deployer', 'ci-*')}`, grants: [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }] },
    { teamId: TEAM, userId: 'iamp:arn:aws:iam::111111111111:role/reader', grants: [{ role: 'viewer', services: ['manager'] }] },
    // Deploys on the payments team's services, declared or discovered.
    { teamId: TEAM, userId: `iamp:${PAYMENTS_CI}`, grants: [{ role: 'deployer', services: ['web'], selectors: ['team=payments'] }] },
  ]);
  const audit = memoryAudit();
  const jobs = memoryJobs();
  const state = memoryState();
  let clock = Date.parse('2026-12-06T05:00:00Z');
  const api = createApi({
    ...fleet,
    allowlist,
    audit: () => audit,
    jobs,
    state,
    rateLimiter: memoryRateLimiter(limit, () => clock),
    readAudit: async (key) => audit.records.find((r) => `${r.at}#${r.id}` === key.sk),
    now: () => clock,
  });
  const call = (method: string, path: string, body: unknown, userArn: string | null = CI_SESSION) =>
    api.handle({
      rawPath: path,
      requestContext: { http: { method }, ...(userArn ? { authorizer: { iam: { userArn, accountId: '111111111111' } } } : {}) },
      body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    } as ApiEvent);
  return { api, call, audit, jobs, state, advance: (ms: number) => void (clock += ms) };
}

const backup = (key = 'k1', extra: Record<string, unknown> = {}) => ({
  script: 'backup.sh',
  args: ['nightly'],
  channel: 'C0OPS',
  idempotencyKey: key,
  ticket: 'CHG-1234',
  ...extra,
});
const body = (res: { body: string }) => JSON.parse(res.body) as Record<string, any>;

describe('api: the caller', () => {
  it('maps a role session to its role, keeps the session name; users stay as they are; root and others map to nothing', () => {
    expect(principalFromArn(CI_SESSION)).toEqual({ arn: CI_ROLE, callerArn: CI_SESSION, accountId: '111111111111', session: 'build-42' });
    expect(principalFromArn('arn:aws:iam::111111111111:user/ops/jenkins')?.arn).toBe('arn:aws:iam::111111111111:user/ops/jenkins');
    expect(principalFromArn('arn:aws:iam::111111111111:root')).toBeUndefined();
    expect(principalFromArn('arn:aws:sts::111111111111:federated-user/bob')).toBeUndefined();
    expect(principalFromArn('not an arn')).toBeUndefined();
  });

  it('matches ARN patterns as IAM ArnLike does, `*` within the whole ARN, nothing else special', () => {
    expect(matchesPattern('arn:aws:iam::111111111111:role/ci-*', CI_ROLE)).toBe(true);
    expect(matchesPattern('arn:aws:iam::111111111111:role/ci-*', 'arn:aws:iam::222222222222:role/ci-deployer')).toBe(false);
    expect(matchesPattern('arn:aws:iam::111111111111:role/ci.deployer', 'arn:aws:iam::111111111111:role/ciXdeployer')).toBe(false);
  });
});

describe('api: request bodies become the words a person would type', () => {
  it('quotes and escapes arguments as Slack sends them', () => {
    expect(runRequest(JSON.stringify(backup('k', { args: ['a b', 'x<y', "it's"] }))).text).toBe(`run backup.sh "a b" x&lt;y "it's"`);
    expect(deployRequest(JSON.stringify({ service: 'web', tag: 'v1.5.0', channel: 'C0OPS', idempotencyKey: 'd1' })).text).toBe('deploy web v1.5.0');
  });

  it('refuses bodies it cannot read, with the reason', () => {
    const bad = (raw: string) => () => runRequest(raw);
    expect(bad('{')).toThrow(BadRequestError);
    expect(bad(JSON.stringify({ ...backup(), job: 'migrate' }))).toThrow('give either script or job');
    expect(bad(JSON.stringify({ ...backup(), channel: '#ops' }))).toThrow('channel is not valid');
    expect(bad(JSON.stringify({ ...backup(), args: ['a\nb'] }))).toThrow('control character');
    expect(bad(JSON.stringify({ ...backup(), args: [`"'`] }))).toThrow('both kinds of quote');
    expect(bad(JSON.stringify({ ...backup(), rm: true }))).toThrow('unknown field: rm');
    const { idempotencyKey: _, ...noKey } = backup();
    expect(bad(JSON.stringify(noKey))).toThrow('idempotencyKey is required');
  });
});

describe('api: POST /api/runs', () => {
  it('hands an allowed run to the worker as the principal, with its ticket, and audits it', async () => {
    const w = setup();
    const res = await w.call('POST', '/api/runs', backup());
    expect(res.statusCode).toBe(202);
    expect(body(res)).toEqual({ id: expect.any(String), state: 'accepted', thread: null });
    const job = w.jobs.jobs[0] as CommandJob;
    expect(job).toMatchObject({ kind: 'command', id: body(res).id, verb: 'run' });
    expect(job.invocation).toMatchObject({
      teamId: TEAM,
      userId: `iam:${CI_ROLE}`,
      channelId: 'C0OPS',
      text: 'run backup.sh nightly',
      origin: { via: 'api', principal: CI_ROLE, session: 'build-42', ticket: 'CHG-1234' },
    });
    expect(w.audit.records).toEqual([
      expect.objectContaining({ userId: `iam:${CI_ROLE}`, principal: CI_SESSION, ticket: 'CHG-1234', via: 'api', decision: 'allowed', outcome: 'accepted' }),
    ]);
  });

  it('answers the same key and body with the first id, and the same key with another body with 409: one run', async () => {
    const w = setup();
    const first = body(await w.call('POST', '/api/runs', backup('same')));
    const again = await w.call('POST', '/api/runs', backup('same'));
    expect(again.statusCode).toBe(200);
    expect(body(again)).toMatchObject({ id: first.id, replayed: true });
    const other = await w.call('POST', '/api/runs', backup('same', { args: ['weekly'] }));
    expect(other.statusCode).toBe(409);
    expect(body(other).message).toContain(first.id);
    expect(w.jobs.jobs).toHaveLength(1);
  });

  it('refuses an unknown principal (403, audited), a script outside its grant (403) and an unknown script (400); nothing runs', async () => {
    const w = setup();
    const stranger = await w.call('POST', '/api/runs', backup(), 'arn:aws:sts::111111111111:assumed-role/intruder/x');
    expect(stranger.statusCode).toBe(403);
    expect(w.audit.records.at(-1)).toMatchObject({
      decision: 'denied',
      reason: 'unknown principal: no allowlist entry matches it',
      principal: expect.stringContaining('intruder'),
    });
    const notGranted = await w.call('POST', '/api/runs', backup('k2', { script: 'restore.sh', args: ['20261124-010203-nightly'] }));
    // restore.sh is outside the grant: answered as unknown (a name it may not learn), audited as a denial.
    expect(notGranted.statusCode).toBe(400);
    expect(body(notGranted).message).toMatch(/Unknown script `restore.sh`/);
    expect(w.audit.records.at(-1)).toMatchObject({ decision: 'denied' });
    const badArg = await w.call('POST', '/api/runs', backup('k3', { args: ['NOT VALID'] }));
    expect(badArg.statusCode).toBe(400);
    expect(w.audit.records.at(-1)).toMatchObject({ decision: 'invalid' });
    const viewer = await w.call('POST', '/api/runs', backup('k4'), 'arn:aws:iam::111111111111:role/reader');
    expect(viewer.statusCode).toBe(400); // a viewer sees no script at all
    expect(w.jobs.jobs).toHaveLength(0);
  });

  it('refuses a call without an IAM caller as API Gateway does', async () => {
    const w = setup();
    const res = await w.call('POST', '/api/runs', backup(), null);
    expect(res).toMatchObject({ statusCode: 403, body: JSON.stringify({ message: 'Forbidden' }) });
  });

  it('limits each caller with a token bucket: 429 with Retry-After, others unaffected, refilled with time', async () => {
    const w = setup({ burst: 2, perMinute: 6 });
    expect((await w.call('POST', '/api/runs', backup('a'))).statusCode).toBe(202);
    expect((await w.call('POST', '/api/runs', backup('b'))).statusCode).toBe(202);
    const limited = await w.call('POST', '/api/runs', backup('c'));
    expect(limited.statusCode).toBe(429);
    expect(limited.headers?.['retry-after']).toBe('10');
    expect((await w.call('POST', '/api/runs', backup('c'), 'arn:aws:iam::111111111111:role/reader')).statusCode).not.toBe(429);
    w.advance(10_000);
    expect((await w.call('POST', '/api/runs', backup('c'))).statusCode).toBe(202);
  });
});

describe('api: GET /api/runs/{id}', () => {
  it('answers the principal that asked, and one that may read the service there; others get 404', async () => {
    const w = setup();
    const { id } = body(await w.call('POST', '/api/runs', backup()));
    const mine = await w.call('GET', `/api/runs/${id}`, undefined);
    expect(mine.statusCode).toBe(200);
    expect(body(mine)).toMatchObject({ id, state: 'accepted', thread: null });
    expect((await w.call('GET', `/api/runs/${id}`, undefined, 'arn:aws:iam::111111111111:role/reader')).statusCode).toBe(200);
    const stranger = await w.call('GET', `/api/runs/${id}`, undefined, 'arn:aws:iam::111111111111:role/other');
    expect(stranger.statusCode).toBe(404);
  });
});

describe('api: a service only the fleet catalog knows', () => {
  const billing: FleetService = {
    alias: 'billing',
    accountId: '300000000001',
    region: 'us-east-1',
    cluster: 'fleet',
    service: 'billing',
    serviceArn: 'arn:aws:ecs:us-east-1:300000000001:service/fleet/billing',
    roleArn: 'arn:aws:iam::300000000001:role/ecs-chatops-target',
    labels: { team: 'payments' },
    source: 'discovered',
  };
  const withFleet = { ...getConfig(), fleet: fleetSchema.parse({ organizations: true, regions: ['us-east-1'] }) };
  const deploy = (service: string, key: string) => ({ service, tag: 'v2.0.0', channel: 'C0OPS', idempotencyKey: key });

  function fleetSetup(options: { config?: ApiDeps['config']; fails?: boolean } = {}) {
    const reads: string[] = [];
    const w = setup(undefined, {
      config: options.config ?? (() => withFleet),
      catalog: {
        get: async (alias) => {
          reads.push(alias);
          if (options.fails) throw Object.assign(new Error('throughput exceeded'), { name: 'ProvisionedThroughputExceededException' });
          return alias === billing.alias ? billing : undefined;
        },
      },
    });
    return { ...w, reads };
  }

  it('refuses a deploy of a discovered-only service with the fix (400 undeclared_service), audited as invalid; nothing runs', async () => {
    const w = fleetSetup();
    const res = await w.call('POST', '/api/deploys', deploy('billing', 'd1'), PAYMENTS_CI);
    expect(res.statusCode).toBe(400);
    expect(body(res)).toEqual({
      error: 'undeclared_service',
      message: expect.stringContaining('`billing` is discovered from the fleet, not declared: `deploy` needs it declared under `targets:`'),
    });
    expect(w.reads).toEqual(['billing']);
    expect(w.audit.records.at(-1)).toMatchObject({ decision: 'invalid', outcome: 'refused', reason: expect.stringContaining('declared under') });
    expect(w.jobs.jobs).toHaveLength(0);
    // Nothing claimed: once declared, the same key deploys.
    expect(await w.state.get(apiIdempotencyKey(PAYMENTS_CI, 'd1'))).toBeUndefined();
  });

  it('answers a discovered service outside the grant as unknown (audited as a denial), and an alias nowhere as unknown', async () => {
    const w = fleetSetup();
    const hidden = await w.call('POST', '/api/deploys', deploy('billing', 'd2'));
    expect(hidden.statusCode).toBe(400);
    expect(body(hidden)).toMatchObject({ error: 'bad_request', message: expect.stringMatching(/Unknown service `billing`/) });
    expect(w.audit.records.at(-1)).toMatchObject({ decision: 'denied' });
    const nowhere = await w.call('POST', '/api/deploys', deploy('ghost', 'd3'), PAYMENTS_CI);
    expect(nowhere.statusCode).toBe(400);
    expect(body(nowhere).message).toMatch(/Unknown service `ghost`/);
    expect(w.reads).toEqual(['billing', 'ghost']);
    expect(w.jobs.jobs).toHaveLength(0);
  });

  it('reads the catalog only with `fleet:` and for a name not declared; never for runs', async () => {
    const w = fleetSetup();
    expect((await w.call('POST', '/api/deploys', deploy('web', 'd4'), PAYMENTS_CI)).statusCode).toBe(202);
    expect((await w.call('POST', '/api/runs', backup('r1'))).statusCode).toBe(202);
    expect(w.reads).toEqual([]);
    const plain = fleetSetup({ config: getConfig });
    expect((await plain.call('POST', '/api/deploys', deploy('billing', 'd5'), PAYMENTS_CI)).statusCode).toBe(400);
    expect(plain.reads).toEqual([]);
  });

  it('answers 503 when the catalog cannot be read, and runs nothing', async () => {
    const w = fleetSetup({ fails: true });
    const res = await w.call('POST', '/api/deploys', deploy('billing', 'd6'), PAYMENTS_CI);
    expect(res.statusCode).toBe(503);
    expect(body(res)).toEqual({ error: 'unavailable', message: "the fleet's catalog could not be read; nothing ran, try again" });
    expect(w.jobs.jobs).toHaveLength(0);
  });
});
