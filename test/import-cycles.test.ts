import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles } from '../scripts/import-cycles';

describe('import cycles', () => {
  it('finds a cycle, type-only imports and re-exports included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cycles-'));
    mkdirSync(join(dir, 'checks'));
    writeFileSync(join(dir, 'plan.ts'), "import { a } from './checks/a';\nexport const all = [a];\n");
    writeFileSync(join(dir, 'checks', 'a.ts'), "import type { Plan } from '../types';\nexport const a = 1;\n");
    writeFileSync(join(dir, 'types.ts'), "export type { all as Plan } from './plan';\n");
    writeFileSync(join(dir, 'free.ts'), "import { a } from './checks/a';\n");
    expect(importCycles(dir)).toEqual([['checks/a.ts', 'types.ts', 'plan.ts']]);
  });

  it('src/ has none (Biome’s noImportCycles checks the same in `npm run lint`)', () => {
    expect(importCycles('src')).toEqual([]);
  });
});
