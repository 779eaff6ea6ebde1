import { allowlist } from '../allowlist';
import { defineVerb, noWords, type NoArgs } from '../verb';

const SUMMARY = 'List who may do what (admins: the part within their scope)';
const USAGE = '/ecs allowlist';

/** `/ecs allowlist` without a fleet: every grant names declared targets, judged from memory in the ack. */
export const allowlistVerb = defineVerb<NoArgs>({
  name: 'allowlist',
  summary: SUMMARY,
  usage: USAGE,
  permission: 'admin',
  checks: 'itself',
  runsIn: 'ack',
  parse(words) {
    return noWords(this, words);
  },
  answer: allowlist,
});

/**
 * `/ecs allowlist` with `fleet:` configured (chosen by the registry): grants may name discovered
 * services, whose labels (what an admin's selector grant covers) only the fleet's catalog holds,
 * read as a BatchGetItem per 100 of them. That grows with the allowlist, so it is the worker's,
 * answered privately through the response_url like `services (catalog)`: the ack stays one
 * allowlist read, and the ingress reads nothing of the catalog for it.
 */
export const allowlistFromCatalogVerb = defineVerb<NoArgs>({
  name: 'allowlist (catalog)',
  summary: 'List who may do what, discovered services judged by their labels in the fleet’s catalog (admins: the part within their scope)',
  usage: USAGE,
  permission: 'admin',
  checks: 'itself',
  runsIn: 'worker',
  answeredWhere: 'the list replaces this note in a moment, only for you',
  parse(words) {
    return noWords(this, words);
  },
  privateAnswer: async () => allowlist,
});
