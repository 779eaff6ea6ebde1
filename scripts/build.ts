/**
 * Builds one minified bundle per Lambda handler, with source maps, and embeds the validated
 * configuration so a cold start reads no file. `npm run build`.
 */
import { build, type Metafile, type Plugin } from 'esbuild';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseConfig, type Config } from '../src/config/schema';
import { schedulesProblem } from './schedules';

export const HANDLERS = ['ingress', 'api', 'webhook', 'worker', 'worker-failures', 'run-workflow', 'deploy-workflow', 'notifier', 'scheduled'] as const;

export function loadConfigFile(path = process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml'): Config {
  return parseConfig(parse(readFileSync(path, 'utf8')));
}

/**
 * A worker verb's handler is imported lazily by its verb file (src/commands/verbs/), and only the
 * worker runs one. Every other bundle resolves those imports to a module that refuses to load, so
 * the ingress, which needs every verb's grammar, carries none of their AWS clients, exec sessions
 * or workflows: neither at its cold start nor in its package.
 */
const withoutVerbHandlers: Plugin = {
  name: 'without-verb-handlers',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/[\w-]+$/ }, (args) =>
      args.kind === 'dynamic-import' && /[\\/]src[\\/]commands[\\/]verbs[\\/]/.test(args.importer) ? { path: args.path, namespace: 'verb-handler' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'verb-handler' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`the handler ${args.path} runs in the worker; it is not bundled here`)});`,
      loader: 'js',
    }));
  },
};

/**
 * A Lambda bundle embeds the configuration this build validated (`define` below), so the module that
 * reads and validates the YAML file in development is replaced by one that says so: the validator
 * (zod) stays out of every bundle.
 */
export const withoutConfigFile: Plugin = {
  name: 'without-config-file',
  setup(b) {
    b.onResolve({ filter: /^\.\/from-file$/ }, (args) =>
      /[\\/]src[\\/]config[\\/]load\.ts$/.test(args.importer) ? { path: args.path, namespace: 'embedded-config' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'embedded-config' }, () => ({
      contents: `export function configFromFile() { throw new Error('this bundle embeds its configuration; it reads no file'); }`,
      loader: 'js',
    }));
  },
};

const runsVerbHandlers = (entry: string): boolean => entry.endsWith('src/handlers/worker.ts');

/** Bundles one entry into `outdir/index.mjs` (+ lazily loaded chunks); returns the JavaScript bytes shipped. */
export async function buildBundle(entry: string, outdir: string, config: Config): Promise<number> {
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { index: entry },
    outdir,
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
    plugins: runsVerbHandlers(entry) ? [withoutConfigFile] : [withoutConfigFile, withoutVerbHandlers],
  });
  return javascriptBytes(result.metafile);
}

/** All JavaScript a bundle ships (entry and chunks), without source maps. */
function javascriptBytes(metafile: Metafile): number {
  return Object.entries(metafile.outputs)
    .filter(([file]) => file.endsWith('.mjs'))
    .reduce((sum, [, output]) => sum + output.bytes, 0);
}

export async function buildHandlers(options: { outdir?: string; quiet?: boolean } = {}): Promise<Record<string, number>> {
  const config = loadConfigFile();
  const outdir = options.outdir ?? 'dist';
  const sizes: Record<string, number> = {};
  for (const name of HANDLERS) sizes[name] = await buildBundle(`src/handlers/${name}.ts`, `${outdir}/${name}`, config);
  writeFileSync(`${outdir}/sizes.json`, `${JSON.stringify(sizes, null, 2)}\n`);
  if (!options.quiet) for (const [name, bytes] of Object.entries(sizes)) console.log(`${name}: ${(bytes / 1024).toFixed(1)} KiB`);
  return sizes;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // `npm run package` builds, then osls packages serverless.yml: its schedules must be the configuration's.
  const stale = schedulesProblem(readFileSync('serverless.yml', 'utf8'), loadConfigFile());
  if (stale) {
    console.error(stale);
    process.exit(1);
  }
  buildHandlers().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
