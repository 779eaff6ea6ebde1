import { escapeText, readableMarkup } from '../../slack/format';
import { describeMinutes, parseMinutes } from '../duration';
import { defineVerb, expectCount, resolveTarget, usageError, type RequestScope } from '../verb';
import type { MuteArgs, UnmuteArgs } from './args';

/** Shorter would be noise (a mute that ends before anyone reads it); longer is forgetting a service. */
export const MIN_MUTE_MINUTES = 5;
export const MAX_MUTE_MINUTES = 7 * 24 * 60;
const MAX_REASON_CHARS = 300;
/** Nobody silences a service by accident, and everybody sees that it is silent: the answer goes to the channel. */
const ANNOUNCED = 'it will be announced in this channel';
/** Checked as `run` on the service itself: an operator of the service may silence it, whichever scripts they run. */
const onWholeService = ({ target }: { target: string }): RequestScope => ({ target, wholeService: true });

export const muteVerb = defineVerb<MuteArgs>({
  name: 'mute',
  summary: "Silence a service's notifications for a while (announced in the channel)",
  usage: '/ecs mute <service> <duration> [reason…]',
  details: [
    'A duration is like `30m`, `1h`, `2h30m` or `1d`: at least 5 minutes, at most 7 days. A new mute replaces the previous one; `/ecs unmute <service>` ends it early.',
    'Commands still work while a service is muted; only its notifications are held back. `/ecs status <service>` shows the mute.',
  ],
  permission: 'run',
  checks: 'target',
  runsIn: 'worker',
  answeredWhere: ANNOUNCED,
  parse(words, config, visible) {
    expectCount(this, words, 0, Number.MAX_SAFE_INTEGER);
    const [service, duration, ...reasonWords] = words.positional;
    const target = resolveTarget(this, service, config, visible);
    if (!duration) throw usageError(this, `For how long? For example \`/ecs mute ${target} 1h\`.`);
    const minutes = parseMinutes(duration);
    if (minutes === undefined) throw usageError(this, `\`${escapeText(duration)}\` is not a duration: write it like \`30m\`, \`1h\`, \`2h30m\` or \`1d\`.`);
    if (minutes < MIN_MUTE_MINUTES || minutes > MAX_MUTE_MINUTES)
      throw usageError(this, `A mute lasts from 5 minutes to 7 days, not ${describeMinutes(minutes)}.`);
    // The words are unescaped already: only Slack's own markup (mentions, @channel, links) is rewritten.
    const reason = readableMarkup(reasonWords.join(' ')).trim();
    if (reason.length > MAX_REASON_CHARS) throw usageError(this, `The reason is too long (${reason.length} characters, at most ${MAX_REASON_CHARS}).`);
    return { target, minutes, ...(reason ? { reason } : {}) };
  },
  scope: onWholeService,
  handler: () => import('../mute').then((m) => m.mute),
});

export const unmuteVerb = defineVerb<UnmuteArgs>({
  name: 'unmute',
  summary: "End a service's mute: its notifications resume at once (announced in the channel)",
  usage: '/ecs unmute <service>',
  permission: 'run',
  checks: 'target',
  runsIn: 'worker',
  answeredWhere: ANNOUNCED,
  parse(words, config, visible) {
    expectCount(this, words, 0, 1);
    return { target: resolveTarget(this, words.positional[0], config, visible) };
  },
  scope: onWholeService,
  handler: () => import('../mute').then((m) => m.unmute),
});
