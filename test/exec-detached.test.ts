import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
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
      const { output, size } = readFollow(lines.filter((l) => l !== exitLine), nonce);
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

  it('stop interrupts a detached script and records a status', async () => {
    const script = join(root, 'forever.sh');
    writeFileSync(script, '#!/bin/sh\nwhile true; do sleep 0.1; done\n');
    chmodSync(script, 0o755);
    const nonce = newNonce();
    await runArgv(buildDetachedStart({ runId: 'r2', path: script, args: [], nonce }), rewrite);
    await new Promise((r) => setTimeout(r, 200));
    await runArgv(buildDetachedStop({ runId: 'r2' }), rewrite);
    const dir = join(root, runDirectory('r2'));
    expect(existsSync(join(dir, 'exit'))).toBe(true);
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    // Gone, or a zombie waiting for a parent that does not reap (this sandbox's init): not running.
    const state = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] : 'gone';
    expect(['gone', 'Z', 'X']).toContain(state);
  }, 15_000);
});
