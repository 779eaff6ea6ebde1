/**
 * Builds one minified bundle per Lambda handler, with source maps, and embeds the validated
 * configuration so a cold start reads no file. `npm run build`.
 */
import { build, type Metafile } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseConfig } from '../src/config/schema';

export const HANDLERS: readonly string[] = process.env.BUILD_ONLY ? [process.env.BUILD_ONLY] : ['ingress', 'worker'];

export async function buildHandlers(options: { configPath?: string; outdir?: string; quiet?: boolean } = {}): Promise<Record<string, number>> {
  const configPath = options.configPath ?? process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml';
  const outdir = options.outdir ?? 'dist';
  const config = parseConfig(parse(readFileSync(configPath, 'utf8')));
  rmSync(outdir, { recursive: true, force: true });
  const sizes: Record<string, number> = {};
  for (const name of HANDLERS) {
    const result = await build({
      entryPoints: [`src/handlers/${name}.ts`],
      outdir: `${outdir}/${name}`,
      entryNames: 'index',
      chunkNames: 'chunks/[name]-[hash]',
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      target: 'node20',
      // ES modules with code splitting: a client imported with import() becomes its own chunk,
      // loaded when a request first needs it rather than parsed at every cold start.
      format: 'esm',
      splitting: true,
      // Some dependencies are CommonJS and require() Node built-ins; give them a real require.
      banner: { js: "import { createRequire as __ecsCreateRequire } from 'node:module'; const require = __ecsCreateRequire(import.meta.url);" },
      minify: true,
      sourcemap: true,
      // ES module builds of the AWS SDK tree-shake better than their CommonJS twins.
      mainFields: ['module', 'main'],
      define: { __ECS_CHATOPS_CONFIG__: JSON.stringify(config) },
      legalComments: 'none',
      metafile: true,
      logLevel: 'warning',
    });
    sizes[name] = outputBytes(result.metafile, `${outdir}/${name}/`);
    mkdirSync(`${outdir}/${name}`, { recursive: true });
  }
  writeFileSync(`${outdir}/sizes.json`, `${JSON.stringify(sizes, null, 2)}\n`);
  if (!options.quiet) {
    for (const [name, bytes] of Object.entries(sizes)) console.log(`${name}: ${(bytes / 1024).toFixed(1)} KiB`);
  }
  return sizes;
}

/** All JavaScript a handler ships (entry and chunks), without source maps. */
function outputBytes(metafile: Metafile, dir: string): number {
  const files = Object.entries(metafile.outputs).filter(([file]) => file.startsWith(dir) && file.endsWith('.mjs'));
  if (files.length === 0) throw new Error(`esbuild produced nothing in ${dir}`);
  return files.reduce((sum, [, output]) => sum + output.bytes, 0);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  buildHandlers().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
