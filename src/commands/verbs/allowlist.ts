import { allowlist } from '../allowlist';
import { defineVerb, noWords, type NoArgs } from '../verb';

export const allowlistVerb = defineVerb<NoArgs>({
  name: 'allowlist',
  summary: 'List who may do what (admins: the part within their scope)',
  usage: '/ecs allowlist',
  permission: 'admin',
  checks: 'itself',
  runsIn: 'ack',
  parse(words) {
    return noWords(this, words);
  },
  answer: allowlist,
});
