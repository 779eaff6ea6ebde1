/**
 * The artefacts of `npm run package` (esbuild bundles in dist/, osls's CloudFormation template in
 * .serverless/), for tests that check what would be deployed. CI packages before `npm test`
 * (.ci/run), so there they are fresh and nothing is rebuilt; elsewhere a missing or stale package
 * is rebuilt here (about 10 s), never silently skipped. Test files that call this at the same time
 * take turns through a lock directory, so only one of them runs osls.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HANDLERS } from '../../scripts/build';

export const TEMPLATE_PATH = '.serverless/cloudformation-template-update-stack.json';
const LOCK = '.serverless.test-lock';
/** What the package is made from: a newer one of these makes it stale. */
const INPUTS = ['serverless.yml', 'ecs-chatops.config.yaml', 'package-lock.json', 'scripts/build.ts', 'src'];

const mtime = (path: string): number => statSync(path).mtimeMs;
function newest(path: string): number {
  if (!statSync(path).isDirectory()) return mtime(path);
  return Math.max(mtime(path), ...readdirSync(path).map((name) => newest(join(path, name))));
}
/** Every file the package consists of; their oldest is the package's age. */
const outputs = () => [TEMPLATE_PATH, ...HANDLERS.map((name) => `dist/${name}/index.mjs.map`)];

function isFresh(): boolean {
  const files = outputs();
  if (!files.every((file) => existsSync(file))) return false;
  return Math.min(...files.map(mtime)) >= Math.max(...INPUTS.filter((p) => existsSync(p)).map(newest));
}

async function withLock<T>(fn: () => T, waitMs = 120_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock left by a killed run: older than any packaging takes.
      if (existsSync(LOCK) && Date.now() - mtime(LOCK) > waitMs) rmSync(LOCK, { recursive: true, force: true });
      if (Date.now() - started > waitMs) throw new Error(`waited ${waitMs / 1000} s for ${LOCK}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Packages (`npm run package`, offline) unless dist/ and the template are newer than their inputs. */
export async function ensurePackaged(): Promise<void> {
  if (isFresh()) return;
  await withLock(() => {
    if (isFresh()) return; // another test file packaged while this one waited
    execFileSync('npm', ['run', 'package'], { stdio: 'pipe', timeout: 110_000 });
    if (!isFresh()) throw new Error(`npm run package did not produce a fresh ${outputs().join(', ')}`);
  });
}

/** The packaged CloudFormation template, packaged first if need be. */
export async function packagedTemplate(): Promise<Record<string, any>> {
  await ensurePackaged();
  return JSON.parse(readFileSync(TEMPLATE_PATH, 'utf8'));
}

/**
 * The AWS SDK commands of a client (`ecs`, …) that one handler's bundle contains, from its source
 * maps: the SDK's ES modules keep each command in its own file, and esbuild leaves out (tree-shakes)
 * the command modules the handler never reaches, so the list is what that function can send.
 */
export async function bundledCommands(handler: (typeof HANDLERS)[number], client: string): Promise<string[]> {
  await ensurePackaged();
  const dir = `dist/${handler}`;
  const chunks = existsSync(`${dir}/chunks`) ? readdirSync(`${dir}/chunks`) : [];
  const maps = [`${dir}/index.mjs.map`, ...chunks.filter((f) => f.endsWith('.map')).map((f) => `${dir}/chunks/${f}`)];
  const pattern = new RegExp(`/client-${client}/dist-es/commands/(\\w+)Command\\.js$`);
  const commands = new Set<string>();
  for (const map of maps) {
    for (const source of JSON.parse(readFileSync(map, 'utf8')).sources as string[]) {
      const match = pattern.exec(source);
      if (match) commands.add(match[1]!);
    }
  }
  return [...commands].sort();
}
