import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { median } from './report';

const PRINT_RSS = fileURLToPath(new URL('./print-rss.mjs', import.meta.url));

export interface ColdStart {
  wallMs: number;
  rssMiB: number;
}

function run(args: string[]): { wallMs: number; stderr: string } {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${child.stderr}`);
  return { wallMs, stderr: child.stderr };
}

/**
 * Median wall time and peak RSS of fresh Node processes running `args` (a bundle path, or `-e 0`).
 * Wall time is taken from plain runs; peak RSS from separate runs that preload a tiny reporter,
 * so the reporter's own cost never enters the time ratio.
 */
export function measureColdStart(args: string[], runs: number): ColdStart {
  return measureColdStarts([args], runs)[0]!;
}

/**
 * The same for several commands, their runs interleaved (one of each in turn), so that a burst of
 * load on a shared machine slows them alike and their ratios stay meaningful.
 */
export function measureColdStarts(variants: string[][], runs: number): ColdStart[] {
  const walls = variants.map((): number[] => []);
  const rss = variants.map((): number[] => []);
  for (let i = 0; i < runs; i++) {
    variants.forEach((args, v) => {
      walls[v]!.push(run(args).wallMs);
      const kib = Number(/RSS_KIB (\d+)/.exec(run(['--import', PRINT_RSS, ...args]).stderr)?.[1]);
      rss[v]!.push(kib / 1024);
    });
  }
  return variants.map((_, v) => ({ wallMs: median(walls[v]!), rssMiB: median(rss[v]!) }));
}
