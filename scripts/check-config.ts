/** `npm run check-config [file]`: validates the configuration; an error names the path and the problem. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError, parseConfig } from '../src/config/schema';

const path = process.argv[2] ?? process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml';
try {
  const config = parseConfig(parse(readFileSync(path, 'utf8')));
  console.log(`${path}: OK (${Object.keys(config.targets).length} targets: ${Object.keys(config.targets).join(', ')})`);
} catch (error) {
  console.error(error instanceof ConfigError ? `${path}: ${error.message}` : `${path}: ${(error as Error).message}`);
  process.exit(1);
}
