import { escapeText } from '../slack/format';
import { findVerb, VERBS } from './registry';
import type { AckCommand } from './types';

export const help: AckCommand = ({ request }) => {
  const [topic] = request.words.positional;
  if (topic) {
    const verb = findVerb(topic);
    // Details name placeholders too (`/ecs cancel <run-id>`); they hold no markup of their own.
    return { text: [`*${escapeText(verb.usage)}*`, verb.summary + '.', ...(verb.details ?? []).map(escapeText)].join('\n') };
  }
  const lines = VERBS.map((v) => `• \`${escapeText(v.usage)}\` — ${v.summary}`);
  return {
    text: ['*ecs-chatops* operates Amazon ECS services from Slack. Commands:', ...lines, 'Answers appear in a thread under a message in this channel. `/ecs help &lt;command&gt;` explains one.'].join('\n'),
  };
};
