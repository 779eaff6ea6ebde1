import { defineVerb, noWords, type NoArgs } from '../verb';
import { whoami } from '../whoami';

export const whoamiVerb = defineVerb<NoArgs>({
  name: 'whoami',
  summary: 'Show your roles and what you may do where',
  usage: '/ecs whoami',
  permission: null,
  public: true,
  runsIn: 'ack',
  parse(words) {
    return noWords(this, words);
  },
  answer: whoami,
});
