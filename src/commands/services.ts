import { visibleServices } from '../auth/roles';
import { declaredLabels, memoryCatalog } from '../fleet/memory-catalog';
import { NoServiceMatchesError, selectServices } from '../fleet/selection';
import { formatSelector, parseSelector } from '../fleet/selector';
import type { FleetService } from '../fleet/types';
import { escapeText } from '../slack/format';
import type { AckAnswer } from './types';

export type ServicesArgs = { selector?: string; page?: number };

/** Lines per page of a selector's listing: an ephemeral message stays readable and far below Slack's limits. */
export const SERVICES_PAGE_SIZE = 40;

/**
 * `/ecs services`: the services this person holds a role on here, and nothing about the others.
 * `/ecs services <selector>`: those of them the selector matches, with where they live and their
 * labels, a page at a time; a selector matching none says so with the closest labels.
 */
export const services: AckAnswer<ServicesArgs> = async (args, ctx) => {
  const { config, entry, invocation } = ctx;
  if (args.selector === undefined) {
    const mine = visibleServices(entry, invocation.channelId, Object.keys(config.targets), declaredLabels(config));
    const lines = mine.map((alias) => {
      const t = config.targets[alias]!;
      const where = `${t.cluster}/${t.service} in ${t.region}${t.roleArn ? ` (account ${t.roleArn.split(':')[4]})` : ''}`;
      return `• \`${alias}\` — ${t.description ? `${escapeText(t.description)}, ` : ''}${escapeText(where)}`;
    });
    return { text: lines.length ? ['*Your services here*', ...lines].join('\n') : 'You hold no role on any service in this channel.' };
  }
  const selector = parseSelector(args.selector);
  const shown = `\`${escapeText(formatSelector(selector))}\``;
  let matching: FleetService[];
  try {
    matching = await selectServices(ctx.catalog ?? memoryCatalog(config), selector, { entry, channelId: invocation.channelId });
  } catch (error) {
    if (error instanceof NoServiceMatchesError) return { text: error.userMessage };
    throw error;
  }
  const pages = Math.ceil(matching.length / SERVICES_PAGE_SIZE);
  const page = args.page ?? 1;
  if (page > pages)
    return { text: `${shown} matches ${matching.length} of your services here: ${pages === 1 ? 'one page' : `${pages} pages`}, no page ${page}.` };
  const lines = matching.slice((page - 1) * SERVICES_PAGE_SIZE, page * SERVICES_PAGE_SIZE).map(describeService);
  const next =
    page < pages
      ? [`Page ${page} of ${pages}: \`${invocation.command} services ${escapeText(formatSelector(selector))} --page ${page + 1}\` for the next.`]
      : [];
  return { text: [`*${matching.length} of your services here match ${shown}*`, ...lines, ...next].join('\n') };
};

/** One service: alias, account, region, cluster/service, then its labels (text from tags: escaped). */
function describeService(s: FleetService): string {
  const labels = Object.entries(s.labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const where = `${s.accountId ? `account ${s.accountId}, ` : ''}${s.region}, ${s.cluster}/${s.service}`;
  return `• \`${s.alias}\` — ${escapeText(where)}${labels ? ` · ${escapeText(labels)}` : ''}`;
}
