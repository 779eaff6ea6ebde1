import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { configPath } from './env';
import { parseConfig, type Config } from './schema';

/**
 * Development and tests: the YAML file named by ECS_CHATOPS_CONFIG (default
 * ./ecs-chatops.config.yaml), validated. A built bundle never comes here: the build validated
 * the file and embedded the result, and replaces this module (scripts/build.ts) so neither the
 * validator nor the YAML parser is part of a Lambda's cold start.
 */
export function configFromFile(): Config {
  // A require made at run time keeps the YAML parser out of Lambda bundles.
  const requireFromProject = createRequire(join(process.cwd(), 'package.json'));
  const { parse } = requireFromProject('yaml') as typeof import('yaml');
  return parseConfig(parse(readFileSync(configPath(), 'utf8')));
}
