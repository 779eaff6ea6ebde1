import { isSelector, parseSelector } from '../../fleet/selector';
import { escapeText } from '../../slack/format';
import { services, type ServicesArgs } from '../services';
import { defineVerb, expectCount, usageError } from '../verb';

export const servicesVerb = defineVerb<ServicesArgs>({
  name: 'services',
  summary: 'List the services this bot operates, or those a selector matches',
  usage: '/ecs services [selector] [--page N]',
  details: [
    'A selector is `*`, or `key=value` terms joined by `,` (all must hold), values joined by `|` (any of them): `env=prod`, `team=payments,env=prod|staging`, `account=123456789012`, `region=eu-west-1`, `cluster=main`.',
    'Labels come from a target’s `labels:` in the configuration (and from a discovered service’s tags); `account`, `region` and `cluster` are built in. Only services you hold a role on here are listed.',
  ],
  permission: 'read',
  checks: 'itself',
  runsIn: 'ack',
  flags: { withValue: ['page'], boolean: [] },
  parse(words) {
    expectCount(this, words, 0, 1);
    const word = words.positional[0];
    const pageText = words.flags.get('page');
    if (word === undefined) {
      if (pageText !== undefined) throw usageError(this, '`--page` pages the services a selector matches: give a selector (`*` for all of yours).');
      return {};
    }
    if (!isSelector(word))
      throw usageError(
        this,
        `\`${escapeText(word)}\` is not a selector (it has no \`=\`): \`/ecs services env=prod\`, or \`/ecs status ${escapeText(word)}\` for one service.`,
      );
    parseSelector(word);
    if (pageText === undefined) return { selector: word };
    if (typeof pageText !== 'string' || !/^[1-9]\d{0,3}$/.test(pageText)) throw usageError(this, '`--page` is a page number: 1, 2, …');
    return { selector: word, page: Number(pageText) };
  },
  answer: services,
});
