import { configFromFile } from './from-file';
import { ownOnly } from './records';
import type { Config } from './schema';

/**
 * The build replaces this identifier with the configuration it validated (see scripts/build.ts),
 * so a deployed handler neither reads a file nor validates again. In development and tests it
 * stays undefined and the YAML file is read and validated instead.
 */
declare const __ECS_CHATOPS_CONFIG__: unknown;

let cached: Config | undefined;

export function getConfig(): Config {
  if (cached) return cached;
  cached = typeof __ECS_CHATOPS_CONFIG__ !== 'undefined' ? embeddedConfig(__ECS_CHATOPS_CONFIG__) : configFromFile();
  return cached;
}

/**
 * A configuration the build validated and wrote as JSON. JSON loses what validation gave the maps
 * people name things in: no prototype (see parseConfig), so they get it back here.
 */
export function embeddedConfig(validated: unknown): Config {
  const config = validated as Config;
  return { ...config, targets: ownOnly(config.targets), scripts: ownOnly(config.scripts) };
}

/** For tests and the local world: replace the configuration in force. */
export function setConfig(config: Config | undefined): void {
  cached = config;
}
