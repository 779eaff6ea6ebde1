import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, ApiUnreachableError, CredentialsError, createApiClient } from '../scripts/api-client';
import { EXIT, exitCodeOf, exitCodeOfApiError, main, parseCommand, parseTimeout, UsageError } from '../scripts/api-cli';

/** The command line's parsing, exit codes and signed client, without the local world (e2e-cli.test.ts has it). */
const ENV = { ECS_CHATOPS_API_URL: 'https://abc123.execute-api.eu-west-1.amazonaws.com' };
const usage = (argv: string[], env: Record<string, string | undefined> = ENV) => {
  try {
    parseCommand(argv, env);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('parseCommand', () => {
  it('reads run with its arguments, the options, and the region from the endpoint’s host', () => {
    const command = parseCommand(
      ['run', 'backup.sh', 'nightly', '--channel', 'C0OPS', '--wait', '--ticket', 'CHG-1', '--timeout', '15m', '--', '--dry-run'],
      ENV,
    );
    expect(command).toMatchObject({
      verb: 'submit',
      submission: { kind: 'run', path: '/api/runs', body: { script: 'backup.sh', args: ['nightly', '--dry-run'] } },
      channel: 'C0OPS',
      ticket: 'CHG-1',
      wait: true,
      json: false,
      timeoutMs: 15 * 60_000,
      region: 'eu-west-1',
    });
    expect(command).not.toHaveProperty('idempotencyKey');
    expect(parseCommand(['job', 'migrate', '--channel', 'C0OPS'], ENV)).toMatchObject({ submission: { body: { job: 'migrate', args: [] } } });
  });

  it('tells a tag from an image for deploy', () => {
    expect(parseCommand(['deploy', 'web', 'v1.5.0', '--channel', 'C0OPS'], ENV)).toMatchObject({ submission: { body: { service: 'web', tag: 'v1.5.0' } } });
    const image = '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1.5.0';
    expect(parseCommand(['deploy', 'web', image, '--channel', 'C0OPS'], ENV)).toMatchObject({ submission: { body: { service: 'web', image } } });
  });

  it('takes the channel and endpoint from the environment; the region from --region or AWS_REGION for another host', () => {
    const env = { ECS_CHATOPS_API_URL: 'https://chatops.example.com/bot', ECS_CHATOPS_CHANNEL: 'G0PRIV', AWS_REGION: 'us-west-2' };
    const command = parseCommand(['run', 'backup.sh'], env);
    expect(command).toMatchObject({ channel: 'G0PRIV', region: 'us-west-2' });
    expect(String((command as { endpoint: URL }).endpoint)).toBe('https://chatops.example.com/bot');
    expect(parseCommand(['status', 'abc-1', '--region', 'ap-south-1'], env)).toMatchObject({ verb: 'status', id: 'abc-1', region: 'ap-south-1' });
    expect(usage(['status', 'abc-1'], { ECS_CHATOPS_API_URL: 'https://chatops.example.com' })).toBe(
      'which region signs for chatops.example.com? give --region or set AWS_REGION',
    );
  });

  it('refuses what the API could not take, with the reason', () => {
    expect(usage(['run', 'backup.sh', '--channel', '#ops'])).toMatch(
      /^--channel #ops: give the channel's id \(C0123ABCD\), not its name; the API does not look names up/,
    );
    expect(usage(['run', 'backup.sh'])).toMatch(/^--channel is required/);
    expect(usage(['run', '--channel', 'C0OPS'])).toBe('run <script> [args…]: which script?');
    expect(usage(['run', 'backup.sh', '--channel', 'C0OPS', '--dry-run'])).toMatch(/Unknown option '--dry-run'.*goes after --\)$/);
    expect(usage(['deploy', 'web', '--channel', 'C0OPS'])).toBe('deploy <service> <tag|image>: which service, and which tag or image?');
    expect(usage(['deploy', 'web', 'v1', 'v2', '--channel', 'C0OPS'])).toMatch(/^deploy takes a service and one tag or image/);
    expect(usage(['run', 'backup.sh', '--channel', 'C0OPS', '--idempotency-key', 'has space'])).toMatch(/^--idempotency-key has space:/);
    expect(usage(['status'])).toBe('which request? status <request-id>');
    expect(usage(['status', '../etc'])).toMatch(/^\.\.\/etc is not a request id/);
    expect(usage(['status', 'a', 'b'])).toMatch(/^one request at a time/);
    expect(usage(['status', 'a', '--channel', 'C0OPS'])).toBe('--channel is for run, job and deploy, not status');
    expect(usage(['status', 'a'], {})).toMatch(/^where is the bot's API\? give --endpoint/);
    expect(usage(['status', 'a', '--endpoint', 'http://api.example.com'])).toMatch(/must be https:\/\//);
    expect(usage(['status', 'a', '--endpoint', 'not a url'])).toBe('--endpoint not a url is not a URL');
    expect(usage(['status', 'a', '--timeout', '0'])).toMatch(/^--timeout 0: give a duration/);
    // Plain http to this machine is the local world's.
    expect(parseCommand(['status', 'a', '--endpoint', 'http://127.0.0.1:3000', '--region', 'us-east-1'], {})).toMatchObject({ verb: 'status' });
  });

  it('reads durations', () => {
    expect([parseTimeout('90'), parseTimeout('90s'), parseTimeout('30m'), parseTimeout('2h')]).toEqual([90_000, 90_000, 1_800_000, 7_200_000]);
    expect(() => parseTimeout('1d')).toThrow(UsageError);
  });
});

describe('exit codes', () => {
  it('follow the run: 0 on success, the script’s own code on failure, 1 for a failure without one', () => {
    expect(exitCodeOf({ state: 'success', exitCode: 0 })).toBe(0);
    expect(exitCodeOf({ state: 'success' })).toBe(0);
    expect(exitCodeOf({ state: 'failure', exitCode: 3 })).toBe(3);
    expect(exitCodeOf({ state: 'failure', exitCode: 137 })).toBe(137);
    expect(exitCodeOf({ state: 'failure' })).toBe(EXIT.failed);
    expect(exitCodeOf({ state: 'failure', exitCode: 0 })).toBe(EXIT.failed);
    expect(exitCodeOf({ state: 'warning', exitCode: 0 })).toBe(0);
    expect(exitCodeOf({ state: 'cancelled' })).toBe(EXIT.notApproved);
    expect(exitCodeOf({ state: 'refused' })).toBe(EXIT.refused);
    expect(exitCodeOf({ state: 'error' })).toBe(EXIT.unavailable);
    expect(exitCodeOf({ state: 'accepted' })).toBe(EXIT.unfinished);
    expect(exitCodeOf({ state: 'unconfirmed' })).toBe(EXIT.unfinished);
  });

  it('name the API’s refusals', () => {
    expect([400, 404, 409].map((s) => exitCodeOfApiError(new ApiError(s, undefined, 'x')))).toEqual([EXIT.usage, EXIT.usage, EXIT.usage]);
    expect([401, 403].map((s) => exitCodeOfApiError(new ApiError(s, undefined, 'x')))).toEqual([EXIT.refused, EXIT.refused]);
    expect([429, 500].map((s) => exitCodeOfApiError(new ApiError(s, undefined, 'x')))).toEqual([EXIT.unavailable, EXIT.unavailable]);
    expect(new Set(Object.values(EXIT)).size).toBe(Object.values(EXIT).length);
  });
});

describe('the signed client', () => {
  afterEach(() => {
    vi.useRealTimers();
  });
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' };
  const endpoint = new URL('https://abc123.execute-api.eu-west-1.amazonaws.com/');
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

  it('signs each attempt for execute-api in the region; retries 5xx and 429 with the same body; honours Retry-After', async () => {
    const seen: Array<{ url: string; auth: string; date: string; body: string }> = [];
    const answers = [
      answer(503, { error: 'unavailable', message: 'try again' }),
      answer(429, { message: 'slow down' }, { 'retry-after': '7' }),
      answer(202, { id: 'r1' }),
    ];
    const slept: number[] = [];
    // Only Date is faked: each pause moves the clock, as real pauses would.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.parse('2026-12-06T10:00:00Z'));
    const client = createApiClient({
      endpoint,
      region: 'eu-west-1',
      credentials,
      sleep: async (ms) => {
        slept.push(ms);
        vi.setSystemTime(Date.now() + ms);
      },
      fetch: async (url, init) => {
        const headers = init!.headers as Record<string, string>;
        seen.push({ url: String(url), auth: headers.authorization!, date: headers['x-amz-date']!, body: String(init!.body) });
        return answers.shift()!;
      },
    });
    expect(await client.request('POST', '/api/runs', { script: 'backup.sh', idempotencyKey: 'k1' })).toEqual({ status: 202, body: { id: 'r1' } });
    expect(seen.map((s) => s.url)).toEqual(Array(3).fill('https://abc123.execute-api.eu-west-1.amazonaws.com/api/runs'));
    expect(new Set(seen.map((s) => s.body))).toEqual(new Set([JSON.stringify({ script: 'backup.sh', idempotencyKey: 'k1' })]));
    for (const s of seen)
      expect(s.auth).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=\S*host\S*, Signature=[0-9a-f]{64}$/,
      );
    // Signed again for each attempt, at its time (a signature is good for 5 minutes).
    expect(seen.map((s) => s.date)).toEqual(['20261206T100000Z', '20261206T100000Z', '20261206T100007Z']);
    expect(slept).toEqual([500, 7_000]);
  });

  it('throws the API’s message for a 4xx at once, and says when nothing answered', async () => {
    let calls = 0;
    const refusing = createApiClient({
      endpoint,
      region: 'eu-west-1',
      credentials,
      sleep: async () => undefined,
      fetch: async () => {
        calls++;
        return answer(403, { error: 'forbidden', message: 'not on the allowlist' });
      },
    });
    await expect(refusing.request('GET', '/api/runs/x')).rejects.toMatchObject({ status: 403, code: 'forbidden', message: 'not on the allowlist' });
    expect(calls).toBe(1);

    const down = createApiClient({
      endpoint,
      region: 'eu-west-1',
      credentials,
      attempts: 3,
      sleep: async () => undefined,
      fetch: async () => {
        throw new TypeError('fetch failed', { cause: { code: 'ENOTFOUND' } });
      },
    });
    const error = await down.request('GET', '/api/runs/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiUnreachableError);
    expect((error as Error).message).toBe(
      'no answer from https://abc123.execute-api.eu-west-1.amazonaws.com after 3 attempts (ENOTFOUND abc123.execute-api.eu-west-1.amazonaws.com)',
    );

    const noKeys = createApiClient({
      endpoint,
      region: 'eu-west-1',
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
      fetch: async () => answer(200, {}),
    });
    await expect(noKeys.request('GET', '/api/runs/x')).rejects.toBeInstanceOf(CredentialsError);
  });

  it('a 429 asking for more than a minute is reported, not waited out', async () => {
    const client = createApiClient({
      endpoint,
      region: 'eu-west-1',
      credentials,
      sleep: async () => expect.unreachable('no wait'),
      fetch: async () => answer(429, { message: 'Too many requests' }, { 'retry-after': '600' }),
    });
    await expect(client.request('GET', '/api/runs/x')).rejects.toMatchObject({ status: 429 });
  });
});

describe('main', () => {
  const io = () => {
    const out = { stdout: '', stderr: '' };
    return { out, io: { stdout: (s: string) => void (out.stdout += s), stderr: (s: string) => void (out.stderr += s), isTTY: false } };
  };

  it('--help prints the usage with the exit codes; a usage error exits 2 before any credentials are looked for', async () => {
    const help = io();
    expect(await main(['run', '--help'], help.io, { env: {} })).toBe(0);
    expect(help.out.stdout).toMatch(/exit codes:\n {2}0 {4}success/);
    const bad = io();
    const code = await main(['deploy', 'web'], bad.io, {
      env: ENV,
      credentials: async () => expect.unreachable('credentials looked for'),
    });
    expect(code).toBe(EXIT.usage);
    expect(bad.out.stderr).toBe(
      'ecs-chatops deploy: deploy <service> <tag|image>: which service, and which tag or image?\necs-chatops deploy --help shows the options and exit codes.\n',
    );
  });

  it('status --json of a run still under way: one object on stdout, exit 6; no credentials: exit 5 with the reason', async () => {
    const running = io();
    const code = await main(['status', 'r1', '--json'], running.io, {
      env: ENV,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      fetch: async () => new Response(JSON.stringify({ id: 'r1', state: 'accepted', thread: null }), { status: 200 }),
    });
    expect(code).toBe(EXIT.unfinished);
    expect(JSON.parse(running.out.stdout)).toEqual({ id: 'r1', state: 'accepted', thread: null });
    expect(running.out.stderr).toBe('still accepted; ecs-chatops status r1 --wait follows it to its end\n');

    const none = io();
    const code2 = await main(['status', 'r1'], none.io, {
      env: ENV,
      credentials: async () => {
        throw new Error('Could not load credentials from any providers');
      },
    });
    expect(code2).toBe(EXIT.unavailable);
    expect(none.out.stderr).toBe(
      'ecs-chatops status: no AWS credentials to sign with: Could not load credentials from any providers (check with: aws sts get-caller-identity)\n',
    );
  });

  it('run --wait --timeout: the key is printed first and sent; polls until the timeout, exit 6, and says the run goes on', async () => {
    const out = io();
    let clock = 0;
    const bodies: Array<Record<string, unknown>> = [];
    let gets = 0;
    const code = await main(['run', 'backup.sh', 'nightly', '--channel', 'C0OPS', '--wait', '--timeout', '30s'], out.io, {
      env: ENV,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
      newKey: () => 'key-1',
      fetch: async (_url, init) => {
        if (init?.method === 'POST') {
          bodies.push(JSON.parse(String(init.body)));
          return new Response(JSON.stringify({ id: 'r1', state: 'accepted', thread: null }), { status: 202 });
        }
        gets++;
        return new Response(
          JSON.stringify({ id: 'r1', state: 'accepted', thread: { channel: 'C0OPS', ts: '1.2', permalink: 'https://x.slack.com/archives/C0OPS/p12' } }),
          {
            status: 200,
          },
        );
      },
    });
    expect(code).toBe(EXIT.unfinished);
    expect(bodies).toEqual([{ script: 'backup.sh', args: ['nightly'], channel: 'C0OPS', idempotencyKey: 'key-1' }]);
    expect(out.out.stdout).toBe('request r1 accepted\nthread: https://x.slack.com/archives/C0OPS/p12\n');
    expect(out.out.stderr).toBe(
      'idempotency key key-1 (to retry this request without running it twice: --idempotency-key key-1)\n' +
        'still accepted after 30 s; it goes on: ecs-chatops status r1 --wait\n',
    );
    // One GET for the thread, then polls after 2, 3, 4.5, 6.75 and 10 s, and a last one at the 30 s.
    expect(clock).toBe(500 + 30_000);
    expect(gets).toBe(1 + 6);
  });

  it('a summary from the API reaches the terminal without control characters', async () => {
    const done = io();
    await main(['status', 'r1'], done.io, {
      env: ENV,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      fetch: async () => new Response(JSON.stringify({ id: 'r1', state: 'failure', exitCode: 1, summary: 'bad\u001b[2Jthing', thread: null }), { status: 200 }),
    });
    expect(done.out.stdout).toBe('request r1: failure\nfailure, exit 1: bad?[2Jthing\n');
  });
});
