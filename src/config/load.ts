import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { configPath } from './env';
import { parseConfig, type Config } from './schema';

/**
 * The build replaces this identifier with the validated configuration (see scripts/build.ts),
 * so a deployed handler never reads a file. In development and tests it stays undefined and
 * the YAML file named by ECS_CHATOPS_CONFIG (default ./ecs-chatops.config.yaml) is read instead.
 */
declare const __ECS_CHATOPS_CONFIG__: unknown;

let cached: Config | undefined;

export function getConfig(): Config {
  if (cached) return cached;
  const raw = typeof __ECS_CHATOPS_CONFIG__ !== 'undefined' ? __ECS_CHATOPS_CONFIG__ : readConfigFile();
  cached = parseConfig(raw);
  return cached;
}

/** For tests and the local world: replace the configuration in force. */
export function setConfig(config: Config | undefined): void {
  cached = config;
}

function readConfigFile(): unknown {
  // Only reached outside a build. A require made at run time keeps the YAML parser out of Lambda bundles.
  const requireFromProject = createRequire(join(process.cwd(), 'package.json'));
  const { parse } = requireFromProject('yaml') as typeof import('yaml');
  return parse(readFileSync(configPath(), 'utf8'));
}
