/**
 * INTERIM, until the selector module (src/fleet/selector.ts) and the catalog land: the least the
 * fleet commands need to tell a selector from an alias, read one, and select the configuration's
 * declared targets. Replaced by those modules when they are merged; kept small on purpose.
 */
import type { Config } from '../config/schema';
import { UsageError } from '../platform/errors';
import { escapeText } from '../slack/format';
import type { CatalogReader, FleetService, Selector } from './types';

/** An alias never contains `=` or `*`: a word that does is a selector. */
export const looksLikeSelector = (word: string): boolean => word === '*' || word.includes('=');

const KEY = /^[a-z][a-z0-9_.:/-]{0,62}$/i;
const VALUE = /^[\w.:/@+-]{1,128}$/;

/** `*`, or `key=value[|value…]` terms joined by `,`. */
export function readSelector(text: string): Selector {
  if (text === '*') return { kind: 'all' };
  const terms = text.split(',').map((term) => {
    const [key, values, extra] = term.split('=');
    if (extra !== undefined || !key || !values || !KEY.test(key) || !values.split('|').every((v) => VALUE.test(v)))
      throw new UsageError(`\`${escapeText(term)}\` is not a selector term: write \`key=value\` (or \`key=v1|v2\`), terms joined by \`,\`, or \`*\`.`);
    return { key, values: values.split('|') };
  });
  return { kind: 'labels', terms };
}

const builtIn = (s: FleetService): Record<string, string> => ({ account: s.accountId, region: s.region, cluster: s.cluster });

export function matches(selector: Selector, service: FleetService): boolean {
  if (selector.kind === 'all') return true;
  const labels = { ...service.labels, ...builtIn(service) };
  return selector.terms.every((t) => labels[t.key] !== undefined && t.values.includes(labels[t.key]!));
}

/** The configuration's declared targets as fleet services (their account from their role, else the bot's own: `self`). */
export function declaredCatalog(config: Pick<Config, 'targets'>): CatalogReader {
  const services: FleetService[] = Object.entries(config.targets).map(([alias, t]) => {
    const accountId = t.roleArn?.split(':')[4] ?? 'self';
    return {
      alias,
      accountId,
      region: t.region,
      cluster: t.cluster,
      service: t.service,
      serviceArn: `arn:aws:ecs:${t.region}:${accountId}:service/${t.cluster}/${t.service}`,
      ...(t.roleArn ? { roleArn: t.roleArn } : {}),
      labels: { ...((t as { labels?: Record<string, string> }).labels ?? {}) },
      source: 'declared',
    };
  });
  return {
    get: async (alias) => services.find((s) => s.alias === alias),
    select: async (selector) => services.filter((s) => matches(selector, s)),
    labels: async () => {
      const all: Record<string, Record<string, number>> = {};
      for (const s of services)
        for (const [k, v] of Object.entries({ ...s.labels, ...builtIn(s) })) {
          all[k] ??= {};
          all[k][v] = (all[k][v] ?? 0) + 1;
        }
      return all;
    },
  };
}
