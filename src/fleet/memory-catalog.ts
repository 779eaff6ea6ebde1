import { partitionOf } from '../aws/arn';
import type { Config, Target } from '../config/schema';
import { servicePin } from './pin';
import { labelsOf, matchesService, summariseLabels } from './selector';
import type { CatalogReader, FleetService, LabelsOf } from './types';

/**
 * The catalog of the services declared by hand in the configuration (`targets:`), read from
 * memory: what selectors match until services are discovered, and afterwards the declared part
 * that overrides discovered services of the same alias. Nothing here does I/O, so the ingress
 * can resolve a declared alias's labels without spending its one-read budget.
 */

/** The account of a target: its role's account; for a target in the bot's own account, `ownAccountId` if known. */
const accountOf = (target: Target, ownAccountId: string | undefined): string => target.roleArn?.split(':')[4] ?? ownAccountId ?? '';

/** A declared target as a FleetService (`source: 'declared'`, its `labels:` from the configuration). */
export function declaredService(alias: string, target: Target, ownAccountId?: string): FleetService {
  const accountId = accountOf(target, ownAccountId);
  return {
    alias,
    accountId,
    region: target.region,
    cluster: target.cluster,
    service: target.service,
    serviceArn: `arn:${partitionOf(target.region)}:ecs:${target.region}:${accountId}:service/${target.cluster}/${target.service}`,
    ...(target.roleArn ? { roleArn: target.roleArn } : {}),
    labels: { ...(target.labels ?? {}) },
    source: 'declared',
  };
}

export function declaredServices(config: Config, ownAccountId?: string): FleetService[] {
  return Object.entries(config.targets).map(([alias, target]) => declaredService(alias, target, ownAccountId));
}

export interface MemoryCatalogOptions {
  /** The bot's own account, for targets without a `roleArn` (unknown: they carry no `account` label). */
  ownAccountId?: string;
}

/** A CatalogReader over the declared targets. */
export function memoryCatalog(config: Config, options: MemoryCatalogOptions = {}): CatalogReader {
  const services = declaredServices(config, options.ownAccountId);
  const byAlias = new Map(services.map((s) => [s.alias, s]));
  return {
    get: async (alias) => byAlias.get(alias),
    getMany: async (aliases) => byAliasOrder(services.filter((s) => aliases.includes(s.alias))),
    select: async (selector) => services.filter((s) => matchesService(selector, s)),
    labels: async () => summariseLabels(services),
  };
}

/** Services sorted by alias, as every CatalogReader returns them. */
export const byAliasOrder = (services: FleetService[]): FleetService[] => services.sort((a, b) => a.alias.localeCompare(b.alias));

const declaredLabelCache = new WeakMap<Config, LabelsOf>();

/**
 * The labels of the declared targets, synchronously: what the authorisation evaluates a grant's
 * selectors against for a declared alias (src/auth/roles.ts). One map per configuration object.
 */
export function declaredLabels(config: Config): LabelsOf {
  let labels = declaredLabelCache.get(config);
  if (!labels) {
    const services = declaredServices(config);
    const map = new Map(services.map((s) => [s.alias, labelsOf(s)]));
    const pins = new Map(services.map((s) => [s.alias, servicePin(s)]));
    labels = Object.assign((alias: string) => map.get(alias), { pinOf: (alias: string) => pins.get(alias) });
    declaredLabelCache.set(config, labels);
  }
  return labels;
}

/**
 * The scope with the service's labels and pin when `labelsOf` knows them (for isAllowed and
 * holdsRole, src/auth/roles.ts): the pin is what a grant bound to one service is compared with.
 */
export function withLabels<S extends { service: string }>(
  scope: S,
  labelsOf: LabelsOf | undefined,
): S & { labels?: Readonly<Record<string, string>>; pin?: string; discovered?: boolean } {
  const labels = labelsOf?.(scope.service);
  const pin = labelsOf?.pinOf?.(scope.service);
  const discovered = labelsOf?.discovered?.(scope.service) === true;
  return { ...scope, ...(labels ? { labels } : {}), ...(pin ? { pin } : {}), ...(discovered ? { discovered } : {}) };
}

/**
 * The declared targets' labels, and those of the one service the request names when only the
 * catalog has it (read by the caller with one GetItem): a declared alias keeps its declared labels.
 */
export function labelsWithDiscovered(config: Config, discovered: FleetService | undefined): LabelsOf {
  const declared = declaredLabels(config);
  if (!discovered || config.targets[discovered.alias]) return declared;
  const labels = labelsOf(discovered);
  const pin = servicePin(discovered);
  return Object.assign((alias: string) => (alias === discovered.alias ? labels : declared(alias)), {
    pinOf: (alias: string) => (alias === discovered.alias ? pin : declared.pinOf?.(alias)),
    discovered: (alias: string) => alias === discovered.alias,
  });
}
