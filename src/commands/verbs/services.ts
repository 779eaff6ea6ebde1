import { services } from '../services';
import { defineVerb, noWords, type NoArgs } from '../verb';

export const servicesVerb = defineVerb<NoArgs>({
  name: 'services',
  summary: 'List the services this bot operates',
  usage: '/ecs services',
  permission: 'read',
  checks: 'itself',
  runsIn: 'ack',
  parse(words) {
    return noWords(this, words);
  },
  answer: services,
});
