/**
 * Import cycles among the TypeScript files under a folder, type-only imports included (they tie
 * modules together for readers just as much). The project imports its own modules by relative
 * path only, so resolving `./x` to `x.ts` or `x/index.ts` is enough.
 *
 *   npx tsx scripts/import-cycles.ts src/verify
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier.replace(/\.js$/, ''));
  return [`${base}.ts`, join(base, 'index.ts'), base].find((p) => p.endsWith('.ts') && existsSync(p));
}

/** Each cycle once, as the files in import order (`a.ts → b.ts → a.ts` is `['a.ts', 'b.ts']`), relative to `root`. */
export function importCycles(root: string): string[][] {
  const top = resolve(root);
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(top)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(SPECIFIER)].map((m) => resolveImport(file, (m[1] ?? m[2])!)).filter((p): p is string => !!p && p.startsWith(top));
    graph.set(file, [...new Set(targets)]);
  }
  const cycles = new Map<string, string[]>();
  const path: string[] = [];
  const done = new Set<string>();
  const visit = (file: string) => {
    const at = path.indexOf(file);
    if (at >= 0) {
      const cycle = path.slice(at);
      // One rotation per cycle: start at its smallest file.
      const start = cycle.indexOf([...cycle].sort()[0]!);
      const rotated = [...cycle.slice(start), ...cycle.slice(0, start)].map((f) => relative(top, f));
      cycles.set(rotated.join(' → '), rotated);
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) visit(file);
  return [...cycles.values()];
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = process.argv[2] ?? 'src';
  const cycles = importCycles(root);
  for (const cycle of cycles) console.log([...cycle, cycle[0]].join(' → '));
  console.log(`${cycles.length} import cycle${cycles.length === 1 ? '' : 's'} under ${root}`);
  process.exitCode = cycles.length ? 1 : 0;
}
