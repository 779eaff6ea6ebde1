import { isSelector, parseSelector } from '../../fleet/selector';
import { escapeText } from '../../slack/format';
import { services, type ServicesArgs } from '../services';
import { defineVerb, expectCount, usageError } from '../verb';
import type { Words } from '../grammar';

const USAGE = '/ecs services [selector] [--page N]';
const DETAILS = [
  'A selector is `*`, or `key=value` terms joined by `,` (all must hold), values joined by `|` (any of them): `env=prod`, `team=payments,env=prod|staging`, `account=123456789012`, `region=eu-west-1`, `cluster=main`.',
  'Labels come from a target’s `labels:` in the configuration (and from a discovered service’s tags); `account`, `region` and `cluster` are built in. Only services you hold a role on here are listed, 40 a page.',
  'With a fleet (`fleet:` in the configuration) the list comes from the fleet’s catalog, discovered services included: it replaces the "Working on" note a moment later, still only for you.',
];

/** The words of `services`, shared by both of its forms. */
function parseServices(verb: { name: string; usage: string }, words: Words): ServicesArgs {
  expectCount(verb, words, 0, 1);
  const word = words.positional[0];
  const pageText = words.flags.get('page');
  if (word !== undefined && !isSelector(word))
    throw usageError(
      verb,
      `\`${escapeText(word)}\` is not a selector (it has no \`=\`): \`/ecs services env=prod\`, or \`/ecs status ${escapeText(word)}\` for one service.`,
    );
  if (word !== undefined) parseSelector(word);
  const selector = word === undefined ? {} : { selector: word };
  if (pageText === undefined) return selector;
  if (typeof pageText !== 'string' || !/^[1-9]\d{0,3}$/.test(pageText)) throw usageError(verb, '`--page` is a page number: 1, 2, …');
  return { ...selector, page: Number(pageText) };
}

/** `/ecs services` without a fleet: the declared targets, from memory, answered in the ack. */
export const servicesVerb = defineVerb<ServicesArgs>({
  name: 'services',
  summary: 'List the services this bot operates, or those a selector matches',
  usage: USAGE,
  details: DETAILS,
  permission: 'read',
  checks: 'itself',
  runsIn: 'ack',
  flags: { withValue: ['page'], boolean: [] },
  parse(words) {
    return parseServices(this, words);
  },
  answer: services,
});

/**
 * `/ecs services` with `fleet:` configured (chosen by the registry): the list is read from the
 * fleet's catalog, which may take a GetItem per selector term and a BatchGetItem per 100 services
 * (and every service the person may see, for the closest labels of a selector matching none).
 * That grows with the fleet, so it is the worker's, answered privately through the response_url:
 * the ack stays one allowlist read whatever the catalog's size, and the ingress reads no more of
 * the catalog than the one GetItem of a service a command names.
 */
export const servicesFromCatalogVerb = defineVerb<ServicesArgs>({
  name: 'services (catalog)',
  summary: 'List the services of the fleet’s catalog this person may see, or those a selector matches',
  usage: USAGE,
  details: DETAILS,
  permission: 'read',
  checks: 'itself',
  runsIn: 'worker',
  answeredWhere: 'your list replaces this note in a moment, only for you',
  flags: { withValue: ['page'], boolean: [] },
  parse(words) {
    return parseServices(this, words);
  },
  privateAnswer: async () => services,
});
