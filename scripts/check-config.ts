/** `npm run check-config [file]`: validates the configuration; an error names the path and the problem. */
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError, parseConfig } from '../src/config/schema';
import { schedulesProblem } from './schedules';

const given = process.argv[2];
const path = given ?? process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml';
try {
  const config = parseConfig(parse(readFileSync(path, 'utf8')));
  // The configuration the build packages: its schedules must be serverless.yml's (scripts/schedules.ts).
  const stale = given === undefined && existsSync('serverless.yml') ? schedulesProblem(readFileSync('serverless.yml', 'utf8'), config) : undefined;
  if (stale) throw new Error(stale);
  console.log(`${path}: OK (${Object.keys(config.targets).length} targets: ${Object.keys(config.targets).join(', ')})`);
} catch (error) {
  console.error(error instanceof ConfigError ? `${path}: ${error.message}` : `${path}: ${(error as Error).message}`);
  process.exit(1);
}
