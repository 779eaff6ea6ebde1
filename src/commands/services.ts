import { memoryCatalog } from '../fleet/memory-catalog';
import { NoServiceMatchesError, selectServices, visibleFleet } from '../fleet/selection';
import { formatSelector, parseSelector } from '../fleet/selector';
import type { FleetService } from '../fleet/types';
import { escapeText } from '../slack/format';
import type { AckAnswer } from './types';

export type ServicesArgs = { selector?: string; page?: number };

/** Lines per page of a listing: an ephemeral message stays readable and far below Slack's limits. */
export const SERVICES_PAGE_SIZE = 40;

/**
 * `/ecs services`: the services this person holds a role on here, and nothing about the others.
 * `/ecs services <selector>`: those of them the selector matches, with where they live and their
 * labels; a selector matching none says so with the closest labels. Both a page at a time, from
 * the catalog in the context (the fleet's, declared over discovered) or the declared targets.
 */
export const services: AckAnswer<ServicesArgs> = async (args, ctx) => {
  const { config, entry, invocation } = ctx;
  const catalog = ctx.catalog ?? memoryCatalog(config);
  const page = args.page ?? 1;
  const pageOf = (all: readonly FleetService[]) => all.slice((page - 1) * SERVICES_PAGE_SIZE, page * SERVICES_PAGE_SIZE);
  const pages = (all: readonly FleetService[]) => Math.ceil(all.length / SERVICES_PAGE_SIZE);
  const nextPage = (all: readonly FleetService[], words: string) =>
    page < pages(all) ? [`Page ${page} of ${pages(all)}: \`${invocation.command} services ${words}--page ${page + 1}\` for the next.`] : [];
  const noSuchPage = (all: readonly FleetService[], what: string) =>
    `${what} ${all.length} of your services here: ${pages(all) === 1 ? 'one page' : `${pages(all)} pages`}, no page ${page}.`;

  if (args.selector === undefined) {
    // In the catalog's order: the configuration's for the declared targets alone, by alias for the fleet's.
    const mine = visibleFleet(entry, invocation.channelId, await catalog.select({ kind: 'all' }));
    if (mine.length === 0) return { text: 'You hold no role on any service in this channel.' };
    if (page > pages(mine)) return { text: noSuchPage(mine, 'You hold a role on') };
    const lines = pageOf(mine).map((s) => (s.source === 'declared' ? describeDeclared(s, config.targets[s.alias]?.description) : describeService(s)));
    return { text: ['*Your services here*', ...lines, ...nextPage(mine, '')].join('\n') };
  }
  const selector = parseSelector(args.selector);
  const shown = `\`${escapeText(formatSelector(selector))}\``;
  let matching: FleetService[];
  try {
    matching = await selectServices(catalog, selector, { entry, channelId: invocation.channelId });
  } catch (error) {
    if (error instanceof NoServiceMatchesError) return { text: error.userMessage };
    throw error;
  }
  if (page > pages(matching)) return { text: noSuchPage(matching, `${shown} matches`) };
  const lines = pageOf(matching).map(describeService);
  const next = nextPage(matching, `${escapeText(formatSelector(selector))} `);
  return { text: [`*${matching.length} of your services here match ${shown}*`, ...lines, ...next].join('\n') };
};

/** A declared target as the plain listing always showed it: its description, then where it lives. */
function describeDeclared(s: FleetService, description: string | undefined): string {
  const where = `${s.cluster}/${s.service} in ${s.region}${s.roleArn ? ` (account ${s.roleArn.split(':')[4]})` : ''}`;
  return `• \`${s.alias}\` — ${description ? `${escapeText(description)}, ` : ''}${escapeText(where)}`;
}

/** One service: alias, account, region, cluster/service, then its labels (text from tags: escaped). */
function describeService(s: FleetService): string {
  const labels = Object.entries(s.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const where = `${s.accountId ? `account ${s.accountId}, ` : ''}${s.region}, ${s.cluster}/${s.service}`;
  return `• \`${s.alias}\` — ${escapeText(where)}${labels ? ` · ${escapeText(labels)}` : ''}`;
}
