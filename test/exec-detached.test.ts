import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shlexSplit as split } from '../local/exec-agent/shlex';
import { newNonce } from '../src/exec/command';
import { buildDetachedStart, buildDetachedStop, buildFollow, readFollow, runDirectory } from '../src/exec/detached';

/** Runs a built command the way the agent does: Go-shlex split, then exec (no shell of ours). */
function runArgv(command: string, rewrite: (arg: string) => string): Promise<string> {
  const [file, ...args] = split(command).map(rewrite);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

/** Gone, or a zombie waiting for a parent that does not reap (this sandbox's init): not running. */
function running(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0];
  return state !== 'Z' && state !== 'X';
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        return readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** The pid a run wrote to `path`, once the file holds a whole line. */
async function pidIn(path: string): Promise<number> {
  await waitFor(() => existsSync(path) && /^\d+\n$/.test(readFileSync(path, 'utf8')));
  return Number(readFileSync(path, 'utf8'));
}

async function waitFor(condition: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const root = mkdtempSync(join(tmpdir(), 'detached-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// The container's /tmp/ecs-chatops lives under the test's temp dir.
const rewrite = (arg: string) => (arg.startsWith('/tmp/ecs-chatops/') ? join(root, arg) : arg);

describe('detached runs', () => {
  it('start returns at once; follow reads new output by offset, then the exit status', async () => {
    const script = join(root, 'job.sh');
    writeFileSync(script, '#!/bin/sh\necho "first $1"\nsleep 0.6\necho "second; $2"\nexit 7\n');
    chmodSync(script, 0o755);
    const nonce = newNonce();
    const started = Date.now();
    const startOut = await runArgv(buildDetachedStart({ runId: 'r1', path: script, args: ['a b', '$(id) `x` ;'], nonce }), rewrite);
    expect(Date.now() - started).toBeLessThan(500);
    expect(startOut).toContain(`ECSCHATOPS_EXIT_${nonce}:0`);

    const follow = async (offset: number) => {
      const text = await runArgv(buildFollow({ runId: 'r1', offset, nonce }), rewrite);
      const lines = text.split('\n');
      const exitLine = lines.find((l) => l.startsWith(`ECSCHATOPS_EXIT_${nonce}:`));
      const { output, size } = readFollow(
        lines.filter((l) => l !== exitLine),
        nonce,
      );
      return { output: output.filter(Boolean), size: size!, exit: exitLine ? Number(exitLine.split(':')[1]) : undefined };
    };
    await new Promise((r) => setTimeout(r, 200));
    const first = await follow(0);
    expect(first.output).toEqual(['first a b']);
    expect(first.exit).toBeUndefined();
    await new Promise((r) => setTimeout(r, 900));
    const second = await follow(first.size);
    expect(second.output).toEqual(['second; $(id) `x` ;']);
    expect(second.exit).toBe(7);
    expect(readFileSync(join(root, runDirectory('r1'), 'out'), 'utf8')).toBe('first a b\nsecond; $(id) `x` ;\n');
  });

  // Each shell an image may have as /bin/sh: the stop must work with every one of them.
  const shells = [
    ['dash', '/usr/bin/dash'],
    ['busybox sh', '/usr/bin/busybox'],
    ['bash', '/usr/bin/bash'],
  ].filter(([, path]) => existsSync(path!));

  it('finds at least dash here (Debian and Ubuntu images use it as /bin/sh)', () => {
    expect(shells.map(([name]) => name)).toContain('dash');
  });

  for (const [name, path] of shells) {
    it(`stop ends the script, its children and its wrapper under ${name}, and the script can clean up on TERM`, async () => {
      // `/bin/sh` in the built commands (and inside their text) becomes the shell under test.
      const bin = mkdtempSync(join(root, 'bin-'));
      symlinkSync(path!, join(bin, 'sh'));
      const withShell = (arg: string) => rewrite(arg).replaceAll('/bin/sh', join(bin, 'sh'));
      const runId = `stop-${name!.replace(/\W/g, '')}`;
      const script = join(root, `${runId}.sh`);
      const marker = join(root, `${runId}.cleaned`);
      writeFileSync(script, `#!${join(bin, 'sh')}\ntrap 'echo cleaned >"${marker}"; exit 3' TERM\nsleep 300 &\nwhile true; do sleep 0.1; done\n`);
      chmodSync(script, 0o755);
      await runArgv(buildDetachedStart({ runId, path: script, args: [], nonce: newNonce() }), withShell);
      const dir = join(root, runDirectory(runId));
      const stop = () => runArgv(buildDetachedStop({ runId, graceSeconds: 1 }), withShell);
      let stopped = false;
      try {
        // A pid file exists as soon as the shell opens it for `>`: wait for the whole number.
        const child = await pidIn(join(dir, 'child'));
        const wrapper = await pidIn(join(dir, 'pid'));
        await waitFor(() => childrenOf(child).length > 0);
        const grandchildren = childrenOf(child);
        expect(running(child)).toBe(true);
        expect(grandchildren.length).toBeGreaterThan(0);

        await stop();
        stopped = true;
        // The script's own process, what it started, and the wrapper: none is left running.
        for (const pid of [child, wrapper, ...grandchildren]) expect(running(pid), `pid ${pid}`).toBe(false);
      } finally {
        // Whatever failed above, nothing of this test is left running.
        if (!stopped) await stop();
      }
      expect(existsSync(marker)).toBe(true);
      expect(existsSync(join(dir, 'exit'))).toBe(true);
    }, 15_000);
  }
});
