import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveHttpApi } from '../local/aws/http-api';
import type { ApiCaller } from '../local/world';
import type { Grant } from '../src/auth/roles';
import { EXIT, main } from '../scripts/api-cli';
import { channelView, teamAudit, useWorld } from './support/channel';

/**
 * The command line end to end: `ecs-chatops run | deploy | status` signing with a principal's AWS
 * credentials (the SDK's signer), over real HTTP to the local HTTP API (SigV4 and execute-api:Invoke
 * checked as API Gateway does), the api function, the worker and the thread in the channel.
 */
const world = useWorld({ durableSkipTime: true });
const { parents, finished, newParent } = channelView(world, 'C0OPS');
const APPROVAL_REQUEST = /React :white_check_mark: to approve/;
let api: { url: string; close(): Promise<void> };
beforeAll(async () => {
  api = await serveHttpApi(world().httpApi);
});
afterAll(async () => {
  await api?.close();
});

async function allowPrincipal(caller: ApiCaller, grants: Grant[]): Promise<void> {
  const { dynamoAllowlist } = await import('../src/auth/allowlist');
  await dynamoAllowlist.put({ teamId: world().teamId, userId: `iamp:${caller.roleArn}`, grants, addedBy: 'U0ALICE', updatedAt: new Date().toISOString() });
}

/** The CLI in this process, as the bin calls it, with the caller's keys and what it wrote. */
async function cli(caller: ApiCaller | undefined, argv: string[], fetchImpl?: typeof fetch, keys?: { accessKeyId: string; secretAccessKey: string }) {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), isTTY: false },
    {
      env: { ECS_CHATOPS_API_URL: api.url, AWS_REGION: 'us-east-1' },
      credentials: keys ?? caller!.credentials,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    },
  );
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, any> };
}

describe('ecs-chatops run / deploy / status against the local world', () => {
  it('run --wait: prints the id and the thread link, follows the run and exits 0 with the script', async () => {
    const ci = world().apiCaller('cli-backup', { session: 'pipeline-7' });
    await allowPrincipal(ci, [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]);
    const before = parents().length;
    const res = await cli(ci, ['run', 'backup.sh', 'nightly', '--channel', 'C0OPS', '--ticket', 'CHG-5', '--wait']);
    expect(res.stderr).toMatch(/^idempotency key [0-9a-f-]{36} \(to retry this request without running it twice: --idempotency-key [0-9a-f-]{36}\)\n$/);
    expect(res.code).toBe(0);
    const parent = parents()
      .slice(before)
      .find((m) => m.text.includes('ran `/ecs run backup.sh nightly`'))!;
    expect(parent.text).toContain(`IAM principal \`${ci.roleArn}\` (session \`pipeline-7\`) for ticket \`CHG-5\``);
    const [accepted, thread, outcome] = res.stdout.trimEnd().split('\n');
    const id = /^request ([0-9a-f-]{36}) accepted$/.exec(accepted!)![1]!;
    expect(thread).toMatch(new RegExp(`^thread: \\S+/archives/C0OPS/p${parent.ts.replace('.', '')}$`));
    expect(outcome).toMatch(/^success, exit 0, after \d/);
    const record = (await teamAudit(world())).find((r) => r.id === id);
    expect(record).toMatchObject({ principal: ci.sessionArn, ticket: 'CHG-5', via: 'api', outcome: 'success' });
  });

  it('run --wait of a failing script exits with the script’s code; --json says it is the script’s', async () => {
    const ci = world().apiCaller('cli-fail');
    await allowPrincipal(ci, [{ role: 'operator', services: ['manager'], scripts: ['fail.sh'] }]);
    const res = await cli(ci, ['run', 'fail.sh', '--channel', 'C0OPS', '--wait', '--json']);
    expect(res.code).toBe(3); // fail.sh exits 3
    expect(res.json()).toMatchObject({ state: 'failure', exitCode: 3, thread: { channel: 'C0OPS' }, idempotencyKey: expect.any(String) });
    // Without --wait the request's acceptance is the command's success, whatever the run does.
    const quick = await cli(ci, ['run', 'fail.sh', '--channel', 'C0OPS']);
    expect(quick.code).toBe(0);
    const id = /^request (\S+) accepted$/m.exec(quick.stdout)![1]!;
    // status follows the run: the script's code once it has ended.
    const status = await cli(ci, ['status', id, '--wait']);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/\nfailure, exit 3, after /);
  });

  it('job --wait exits with the job container’s exit code', async () => {
    const ci = world().apiCaller('cli-jobs');
    await allowPrincipal(ci, [{ role: 'operator', services: ['web'] }]);
    // Short task steps: a job's life takes seconds here (e2e-job.test.ts's pace).
    const timings = { ...world().aws.state.ecsTimings };
    Object.assign(world().aws.state.ecsTimings, { provisionMs: 1500, pullMs: 1500, stopMs: 300 });
    try {
      const broken = await cli(ci, ['job', 'migrate-broken', '--channel', 'C0OPS', '--wait', '--json']);
      expect(broken.json()).toMatchObject({ state: 'failure', exitCode: 2 });
      expect(broken.code).toBe(2);
    } finally {
      Object.assign(world().aws.state.ecsTimings, timings);
    }
  });

  it('deploy --wait waits for a person’s approval in the channel, then exits 0 with the rollout', async () => {
    const cd = world().apiCaller('cli-deployer', { session: 'release-11' });
    await allowPrincipal(cd, [{ role: 'deployer', services: ['web'] }]);
    const before = parents().length;
    const running = cli(cd, ['deploy', 'web', 'v1.5.0', '--channel', 'C0OPS', '--ticket', 'CHG-11', '--wait', '--json']);
    const request = await newParent(before, APPROVAL_REQUEST);
    expect(request.text).toContain(`IAM principal \`${cd.roleArn}\` (session \`release-11\`) for ticket \`CHG-11\` asks to deploy to *web*`);
    await world().react('U0BOB', 'C0OPS', request.ts, 'white_check_mark');
    expect(await finished(request.ts)).toMatch(/^✅ /);
    const res = await running;
    expect(res.code).toBe(0);
    expect(res.json()).toMatchObject({ state: 'success', thread: { channel: 'C0OPS', ts: request.ts } });
  });

  it('a deploy rejected in the channel exits 65 (not approved)', async () => {
    const cd = world().apiCaller('cli-rejected');
    await allowPrincipal(cd, [{ role: 'deployer', services: ['web'] }]);
    const before = parents().length;
    const running = cli(cd, ['deploy', 'web', 'v1.4.1', '--channel', 'C0OPS', '--wait']);
    const request = await newParent(before, APPROVAL_REQUEST);
    await world().react('U0BOB', 'C0OPS', request.ts, 'x');
    const res = await running;
    expect(res.code).toBe(EXIT.notApproved);
    expect(res.stdout).toMatch(/\ncancelled(, after [^:]+)?: rejected by <@U0BOB>\n$/);
  });

  it('a principal not on the allowlist: exit 77 (refused) with the API’s message, nothing runs', async () => {
    const stranger = world().apiCaller('cli-stranger');
    const before = parents().length;
    const res = await cli(stranger, ['run', 'backup.sh', 'nightly', '--channel', 'C0OPS', '--wait']);
    expect(res.code).toBe(EXIT.refused);
    expect(res.stderr).toContain(`ecs-chatops run: refused: ${stranger.roleArn} is not on the allowlist.`);
    expect(res.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
    expect(res.stdout).toBe('');
    await world().idle();
    expect(parents().length).toBe(before);
  });

  it('keys IAM does not know: exit 77 (refused) with API Gateway’s message', async () => {
    const forged = await cli(undefined, ['status', 'abc'], undefined, { accessKeyId: 'ASIANOSUCHKEY0000000', secretAccessKey: 'x' });
    expect(forged.code).toBe(EXIT.refused);
    expect(forged.stderr).toBe('ecs-chatops status: refused: The security token included in the request is invalid.\n');
  });

  it('status of an unknown id: exit 64 (usage) with the API’s message; a bad channel name is a usage error before anything is sent', async () => {
    const ci = world().apiCaller('cli-status');
    await allowPrincipal(ci, [{ role: 'viewer', services: ['manager'] }]);
    const res = await cli(ci, ['status', 'no-such-request']);
    expect(res.code).toBe(EXIT.usage);
    expect(res.stderr).toBe('ecs-chatops status: not found: No request no-such-request that you may read.\n');
    // An argument the script's pattern refuses: the API's 400 and its reason.
    const operator = world().apiCaller('cli-bad-arg');
    await allowPrincipal(operator, [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]);
    const badArg = await cli(operator, ['run', 'backup.sh', 'Not Valid!', '--channel', 'C0OPS']);
    expect(badArg.code).toBe(EXIT.usage);
    expect(badArg.stderr).toContain(
      '\necs-chatops run: the request is not valid: `label` `Not Valid!` does not match `[a-z0-9][a-z0-9-]{0,31}`.\nUsage: `/ecs run backup.sh <label>`',
    );
    const named = await cli(ci, ['run', 'backup.sh', '--channel', '#ops']);
    expect(named.code).toBe(EXIT.usage);
    expect(named.stderr).toContain("--channel #ops: give the channel's id (C0123ABCD), not its name; the API does not look names up.");
  });

  it('retries a request the worker could not take (503) and a dropped connection with the same idempotency key: one run', async () => {
    const ci = world().apiCaller('cli-retry');
    await allowPrincipal(ci, [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]);
    await world().idle();
    const before = parents().length;
    const lift = world().aws.faults.fail('lambda:InvokeFunction', { code: 'ResourceNotFoundException', message: 'Function not found', status: 404 }, 1);
    let dropped = 0;
    const sentBodies: string[] = [];
    // The first attempt of each POST is answered 503 by the API (fault above); the second POST attempt loses its connection.
    const flaky: typeof fetch = async (input, init) => {
      if (init?.method === 'POST') {
        sentBodies.push(String(init.body));
        if (sentBodies.length === 2 && dropped++ === 0) throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      }
      return fetch(input, init);
    };
    const weeklyThreads = () =>
      parents()
        .slice(before)
        .filter((m) => m.text.includes('`/ecs run backup.sh weekly`')).length;
    const res = await cli(ci, ['run', 'backup.sh', 'weekly', '--channel', 'C0OPS', '--idempotency-key', 'weekly-77', '--wait'], flaky);
    lift();
    expect(res.code).toBe(0);
    expect(sentBodies).toHaveLength(3);
    expect(new Set(sentBodies.map((b) => JSON.parse(b).idempotencyKey))).toEqual(new Set(['weekly-77']));
    await world().idle();
    expect(weeklyThreads()).toBe(1);
    // The same key again: the first request's id, not a second run.
    const again = await cli(ci, ['run', 'backup.sh', 'weekly', '--channel', 'C0OPS', '--idempotency-key', 'weekly-77']);
    expect(again.stdout).toMatch(/^request \S+ \(already made with this idempotency key: not run again\)\n/);
    // The key with another request: the API's 409, exit 2.
    const other = await cli(ci, ['run', 'backup.sh', 'monthly', '--channel', 'C0OPS', '--idempotency-key', 'weekly-77']);
    expect(other.code).toBe(EXIT.usage);
    expect(other.stderr).toMatch(/\necs-chatops run: conflict: idempotencyKey weekly-77 was used for another request \([0-9a-f-]{36}\)\n$/);
    await world().idle();
    expect(weeklyThreads()).toBe(1);
  });

  it('bin/ecs-chatops.js run … --wait --json in a child process, with the credentials in its environment', async () => {
    const ci = world().apiCaller('cli-child', { session: 'ci-job-3' });
    await allowPrincipal(ci, [{ role: 'operator', services: ['manager'], scripts: ['backup.sh'] }]);
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('ECS_CHATOPS')));
    Object.assign(env, {
      AWS_ACCESS_KEY_ID: ci.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ci.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: ci.credentials.sessionToken,
      AWS_REGION: 'us-east-1',
      // Nothing from this machine's AWS configuration.
      AWS_CONFIG_FILE: '/nonexistent/config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
      ECS_CHATOPS_API_URL: api.url,
      ECS_CHATOPS_CHANNEL: 'C0OPS',
    });
    const child = spawn(process.execPath, ['bin/ecs-chatops.js', 'run', 'backup.sh', 'nightly', '--wait', '--json'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    try {
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect({ code, stderr }).toMatchObject({ code: 0, stderr: expect.stringMatching(/^idempotency key /) });
      const result = JSON.parse(stdout) as Record<string, any>;
      expect(result).toMatchObject({ state: 'success', exitCode: 0, thread: { channel: 'C0OPS' } });
      const record = (await teamAudit(world())).find((r) => r.id === result.id);
      expect(record).toMatchObject({ principal: ci.sessionArn, via: 'api' });
    } finally {
      if (child.exitCode === null) child.kill();
    }
  }, 60_000);
});
