import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlaygroundProcess } from '../local/start-process';
import { startWorld, type World } from '../local/world';

/**
 * `ecs-chatops verify` as a person or a CI job runs it: the bin in a child process, against the
 * local world's AWS (its endpoints in the child's environment), never against AWS.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin/ecs-chatops.js');
/** No test may hang: a child still running after this is killed and the test fails. */
const CHILD_TIMEOUT_MS = 25_000;

let world: World;
let home: string;
/** Where the CLI looks for a playground: nowhere by default, so a developer's `npm start` is not found. */
let noPlayground: string;

beforeAll(async () => {
  world = await startWorld();
  home = mkdtempSync(join(tmpdir(), 'ecs-chatops-cli-'));
  noPlayground = join(home, 'no-playground.json');
});
afterAll(async () => {
  await world?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command in the project with only the environment given (plus PATH and an empty HOME: no ~/.aws). */
function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH!, HOME: home, ECS_CHATOPS_LOCAL_FILE: noPlayground, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} still running after ${CHILD_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`));
    }, CHILD_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

const cli = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [BIN, ...args], env);
/** The world's AWS, DynamoDB and registries, as `npm start` would publish them. */
const local = () => world.env;
const ANSI = /\x1b\[/;

describe('ecs-chatops (the bin)', () => {
  it('prints its usage on --help (exit 0), and on an unknown command or none on stderr (exit 2)', async () => {
    const [help, verifyHelp, unknown, none] = await Promise.all([cli(['--help']), cli(['verify', '--help']), cli(['deploy-everything']), cli([])]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^usage: ecs-chatops <command>/);
    expect(help.stdout).toMatch(/^ {2}verify /m);
    expect(verifyHelp).toMatchObject({ code: 0 });
    expect(verifyHelp.stdout).toMatch(/^usage: ecs-chatops verify <service\|selector>/);
    expect(verifyHelp.stdout).toContain('--local');
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toMatch(/^ecs-chatops: unknown command deploy-everything\n\nusage: ecs-chatops <command>/);
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toMatch(/^usage: /);
  });

  it('is what `npx ecs-chatops` runs inside the repository', async () => {
    // npx links the project into its cache (here a fresh one, offline: nothing is downloaded).
    const npx = await run('npx', ['--offline', 'ecs-chatops', '--help'], { npm_config_cache: join(home, 'npm-cache'), npm_config_update_notifier: 'false' });
    expect(npx).toMatchObject({ code: 0, stderr: '' });
    expect(npx.stdout).toMatch(/^usage: ecs-chatops <command>/);
  });
});

describe('ecs-chatops verify', () => {
  it('exits 0 when all is well, with the tree and the summary, no colour when not on a terminal', async () => {
    const web = await cli(['verify', 'web'], local());
    expect(web.stderr).not.toMatch(/nothing could be checked/);
    expect(web.code).toBe(0);
    expect(web.stdout).toMatch(/^Cluster\n {2}\[OK\] Cluster: cluster main is ACTIVE/);
    expect(web.stdout).toMatch(/\n\d+ OK, 0 WARN, 0 FAIL(, \d+ SKIP)?\n/);
    expect(web.stdout).not.toMatch(ANSI);
  });

  it('exits 1 on a FAIL; --json puts the JSON report alone on stdout', async () => {
    const json = await cli(['verify', 'broken', '--json'], local());
    expect(json.code).toBe(1);
    expect(json.stdout).not.toMatch(ANSI);
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ target: 'broken', cluster: 'main', service: 'broken', region: 'us-east-1' });
    expect(report.summary.fail).toBeGreaterThan(5);
    expect(report.results.length).toBe(report.summary.ok + report.summary.warn + report.summary.fail + report.summary.skip);
    expect(report.results.find((r: { id: string }) => r.id === 'cluster')).toMatchObject({
      status: 'OK',
      message: expect.stringMatching(/^cluster main is ACTIVE/),
    });
  });

  it('a check that could not run is a WARN: exit 0, or 1 with --strict; some checks did run, so not 2', async () => {
    const undo = world.aws.faults.deny('iam:SimulatePrincipalPolicy');
    try {
      const [plain, strict] = await Promise.all([cli(['verify', 'web', '--json'], local()), cli(['verify', 'web', '--json', '--strict'], local())]);
      const report = JSON.parse(plain.stdout);
      expect(report.summary).toMatchObject({ fail: 0, unverified: expect.any(Number) });
      expect(report.summary.unverified).toBeGreaterThan(0);
      expect(report.summary.ok).toBeGreaterThan(0);
      expect(plain.code).toBe(0);
      expect(strict.code).toBe(1);
    } finally {
      undo();
    }
  });

  it('exits 2 when nothing could be checked: no credentials, or AWS unreachable, in bounded time', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const [noCredentials, unreachable] = await Promise.all([
      cli(['verify', 'web', '--json'], { AWS_EC2_METADATA_DISABLED: 'true' }),
      cli(['verify', 'web', '--strict'], { ...local(), AWS_ENDPOINT_URL: `http://127.0.0.1:${port}` }),
    ]);
    expect(noCredentials.code).toBe(2);
    expect(noCredentials.stderr).toMatch(/nothing could be checked \(could not check: CredentialsProviderError/);
    expect(JSON.parse(noCredentials.stdout).summary).toMatchObject({ ok: 0, fail: 0 });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toMatch(/nothing could be checked \(could not check: .*ECONNREFUSED/);
    for (const r of [noCredentials, unreachable]) expect(r.ms).toBeLessThan(20_000);
  });

  it('exits 2 with the reason on stderr on bad usage: an unknown service, a bad flag, no service', async () => {
    const [unknown, badFlag, none] = await Promise.all([
      cli(['verify', 'wbe'], local()),
      cli(['verify', 'web', '--colour'], local()),
      cli(['verify'], local()),
    ]);
    expect(unknown).toMatchObject({ code: 2, stdout: '' });
    expect(unknown.stderr).toBe(
      'ecs-chatops verify: unknown service wbe. Did you mean web? services: web, broken, manager, web-bg, web-canary, web-linear, legacy\n',
    );
    expect(badFlag).toMatchObject({ code: 2, stdout: '' });
    expect(badFlag.stderr).toMatch(/^ecs-chatops verify: Unknown option '--colour'/);
    expect(none).toMatchObject({ code: 2, stdout: '' });
    expect(none.stderr).toMatch(/which service\?[\s\S]*services: web, broken, manager, web-bg, web-canary, web-linear, legacy/);
  });

  it('--local without a running playground exits 2 and says to start one, also when its file is stale', async () => {
    const gone = await run(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {});
    const stale = join(home, 'stale.json');
    writeFileSync(stale, JSON.stringify({ pid: Number(gone.stdout), url: 'http://127.0.0.1:9/', env: local(), config: join(ROOT, 'ecs-chatops.config.yaml') }));
    const [none, viaEnv, staleFile] = await Promise.all([
      cli(['verify', 'web', '--local'], local()),
      cli(['verify', 'web'], { ECS_CHATOPS_LOCAL: '1' }),
      cli(['verify', 'web', '--local'], { ECS_CHATOPS_LOCAL_FILE: stale }),
    ]);
    for (const r of [none, viaEnv, staleFile]) {
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toContain('start the playground with npm start first');
    }
  });

  it('--local checks the running playground (npm start), whatever AWS settings the shell has', { timeout: 60_000 }, async () => {
    const file = join(home, 'playground.json');
    const playground = await startPlaygroundProcess({ PORT: '0', ECS_CHATOPS_LOCAL_FILE: file });
    try {
      expect(existsSync(file)).toBe(true);
      const shell = {
        ECS_CHATOPS_LOCAL_FILE: file,
        AWS_PROFILE: 'production',
        AWS_ACCESS_KEY_ID: 'AKIAREAL',
        AWS_SECRET_ACCESS_KEY: 'real',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      };
      const [broken, web] = await Promise.all([
        cli(['verify', 'broken', '--local'], shell),
        cli(['verify', 'web', '--json'], { ...shell, ECS_CHATOPS_LOCAL: '1' }),
      ]);
      expect(broken.stderr).toContain(`Checking the playground at ${playground.url}`);
      expect(broken.code).toBe(1);
      expect(broken.stdout).toMatch(/\[FAIL\] .*log group \/ecs\/broken does not exist/);
      expect(web.code).toBe(0);
      expect(JSON.parse(web.stdout).summary).toMatchObject({ fail: 0, warn: 0 });
    } finally {
      await playground.stop();
    }
    expect(existsSync(file)).toBe(false); // the playground removes it as it exits
  });
});
