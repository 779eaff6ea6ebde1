import { scripts } from '../scripts';
import { defineVerb, noWords, type NoArgs } from '../verb';

export const scriptsVerb = defineVerb<NoArgs>({
  name: 'scripts',
  summary: 'List the maintenance scripts you may run, with their usage',
  usage: '/ecs scripts',
  permission: null,
  runsIn: 'ack',
  parse(words) {
    return noWords(this, words);
  },
  answer: scripts,
});
