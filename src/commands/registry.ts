import { scriptsFor } from './scripts';
import { labelsWithDiscovered } from '../fleet/memory-catalog';
import type { FleetService } from '../fleet/types';
import { jobsFor } from '../jobs/visible';
import { jobsVerb, jobVerb } from './verbs/job';
import { ALL, visibleServices, type AllowlistEntry } from '../auth/roles';
import { lookup } from '../config/records';
import type { Config } from '../config/schema';
import { escapeText } from '../slack/format';
import { splitFlags, tokenize, unknownChoice } from './grammar';
import { defineVerb, expectCount, type AnyVerb, type RequestScope, type Visibility } from './verb';
import { allowVerb, denyVerb } from './verbs/admin';
import { allowlistFromCatalogVerb, allowlistVerb } from './verbs/allowlist';
import { cancelVerb } from './verbs/cancel';
import { deployVerb, rollbackVerb } from './verbs/deploy';
import { historyVerb } from './verbs/history';
import { logsVerb } from './verbs/logs';
import { muteVerb, unmuteVerb } from './verbs/mute';
import { runVerb } from './verbs/run';
import { scaleVerb } from './verbs/scale';
import { scriptsVerb } from './verbs/scripts';
import { schedulesVerb } from './verbs/schedules';
import { servicesFromCatalogVerb, servicesVerb } from './verbs/services';
import { servicesRefreshVerb } from './verbs/services-refresh';
import { statusVerb } from './verbs/status';
import { verifyVerb } from './verbs/verify';
import { whoamiVerb } from './verbs/whoami';

export { UnknownNameError, UnknownScriptError, type RequestScope, type Visibility } from './verb';
export { commandText, type Invocation } from '../slack/invocation';

/**
 * What this person may learn the names of, in this channel; `discovered`: the service the command
 * names when only the fleet's catalog has it (read for this request).
 */
export function visibilityOf(config: Config, entry: AllowlistEntry | undefined, channelId: string, discovered?: FleetService): Visibility {
  const extra = discovered && !config.targets[discovered.alias] ? [discovered.alias] : [];
  return {
    services: visibleServices(entry, channelId, [...Object.keys(config.targets), ...extra], labelsWithDiscovered(config, discovered)),
    scripts: scriptsFor(config, entry, channelId),
    jobs: jobsFor(config, entry, channelId),
    ...(extra.length ? { discovered: extra } : {}),
  };
}

/** Verbs whose first word is a service: where a discovered alias may be named. */
const NAMES_A_SERVICE_FIRST = new Set(['status', 'verify', 'logs', 'deploy', 'rollback', 'scale', 'mute', 'unmute']);

/**
 * The word a command names a service by, when it may be one the fleet's catalog knows and the
 * configuration does not: the first word after the verb, unless it is a flag, a selector or a
 * declared target; for `allow`, the first such word among the grant's services (one catalog read
 * per request: a grant names at most one discovered service). The ingress reads it from the
 * catalog beside the allowlist read.
 */
export function undeclaredAliasOf(text: string, config: Config): string | undefined {
  if (!config.fleet) return undefined;
  let words: string[];
  try {
    words = tokenize(text);
  } catch {
    return undefined;
  }
  let verb: AnyVerb;
  try {
    verb = verbOf(text);
  } catch {
    return undefined;
  }
  const mayBeDiscovered = (word: string | undefined): word is string =>
    word !== undefined &&
    !word.startsWith('-') &&
    !word.includes('=') &&
    word !== '*' &&
    !config.targets[word] &&
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(word);
  if (verb === allowVerb) return grantedServiceWords(words.slice(1)).find(mayBeDiscovered);
  if (!NAMES_A_SERVICE_FIRST.has(verb.name)) return undefined;
  return mayBeDiscovered(words[1]) ? words[1] : undefined;
}

/**
 * The service a parsed request names that the configuration does not declare (the fleet's catalog
 * may know it): its target, or the one service of a grant that is not declared.
 */
export function undeclaredServiceOf(scope: RequestScope, config: Config): string | undefined {
  const declared = (alias: string) => lookup(config.targets, alias) !== undefined;
  if (scope.target !== undefined) return declared(scope.target) ? undefined : scope.target;
  return scope.grant?.services.find((s) => s !== ALL && !declared(s));
}

/** The words of `/ecs allow <subject> <role> [services…] [--flags]` that name services (none if its flags do not parse). */
function grantedServiceWords(rest: string[]): string[] {
  try {
    return splitFlags(rest, allowVerb.flags ?? { withValue: [], boolean: [] }).positional.slice(2);
  } catch {
    return [];
  }
}

/** Everything declared: for trusted callers (tools, tests). */
export const everything = (config: Config): Visibility => ({
  services: Object.keys(config.targets),
  scripts: Object.keys(config.scripts),
  jobs: Object.keys(config.jobs),
});

export interface ParsedRequest {
  verb: AnyVerb;
  /** What `verb.parse` made of the words: the verb's own `Args`, plain JSON. */
  args: unknown;
  scope: RequestScope;
}

export type HelpArgs = { verb?: string };

/** Help describes the table it is part of, so it lives beside it. */
export const helpVerb = defineVerb<HelpArgs>({
  name: 'help',
  summary: 'List the commands, or explain one',
  usage: '/ecs help [command]',
  permission: null,
  public: true,
  runsIn: 'ack',
  parse(words) {
    expectCount(this, words, 0, 1);
    const [topic] = words.positional;
    return topic ? { verb: findVerb(topic).name } : {};
  },
  answer({ verb: topic }) {
    if (topic) {
      const verb = findVerb(topic);
      // Details name placeholders too (`/ecs cancel <run-id>`); they hold no markup of their own.
      return { text: [`*${escapeText(verb.usage)}*`, `${verb.summary}.`, ...(verb.details ?? []).map(escapeText)].join('\n') };
    }
    const lines = [...VERBS, ...FORMS].map((v) => `• \`${escapeText(v.usage)}\` — ${v.summary}`);
    return {
      text: [
        '*ecs-chatops* operates Amazon ECS services from Slack. Commands:',
        ...lines,
        'Answers appear in a thread under a message in this channel. `/ecs help &lt;command&gt;` explains one.',
      ].join('\n'),
    };
  },
});

/** Every verb, in the order `/ecs help` lists them. */
export const VERBS: readonly AnyVerb[] = [
  helpVerb,
  whoamiVerb,
  servicesVerb,
  statusVerb,
  logsVerb,
  verifyVerb,
  runVerb,
  jobVerb,
  deployVerb,
  rollbackVerb,
  scaleVerb,
  scriptsVerb,
  jobsVerb,
  historyVerb,
  // Schedules (EventBridge Scheduler, src/schedules/).
  schedulesVerb,
  cancelVerb,
  muteVerb,
  unmuteVerb,
  allowVerb,
  denyVerb,
  allowlistVerb,
];

const ALIASES: Record<string, string> = { '?': 'help', '-h': 'help', '--help': 'help', me: 'whoami', list: 'services' };

/**
 * Forms of a verb answered elsewhere, chosen by a flag (`services --refresh` is the worker's, plain
 * `services` the ingress's) or by the configuration (with `fleet:`, `services` lists the catalog,
 * in the worker, and `allowlist` judges discovered services by their labels there). Their names
 * hold a space: a job names them, nobody types them.
 */
const FORMS: readonly AnyVerb[] = [servicesRefreshVerb, servicesFromCatalogVerb, allowlistFromCatalogVerb];

/**
 * `config` absent: the form the words alone choose (whether the ack answers it privately is the same
 * for both forms of `services` and of `allowlist`: no channel check, nothing posted in the channel).
 */
function formOf(verb: AnyVerb, rest: readonly string[], config?: Config): AnyVerb {
  if (verb.name === 'services' && rest.some((w) => w.toLowerCase() === '--refresh')) return servicesRefreshVerb;
  if (verb.name === 'services' && config?.fleet) return servicesFromCatalogVerb;
  if (verb.name === 'allowlist' && config?.fleet) return allowlistFromCatalogVerb;
  return verb;
}

export function findVerb(word: string): AnyVerb {
  const name = ALIASES[word.toLowerCase()] ?? word.toLowerCase();
  const verb = VERBS.find((v) => v.name === name) ?? FORMS.find((v) => v.name === name);
  if (!verb)
    throw unknownChoice(
      'command',
      word,
      VERBS.map((v) => v.name),
    );
  return verb;
}

/** The verb named by the first word (`help` when there is none); an unknown verb throws a UsageError. */
export function verbOf(text: string): AnyVerb {
  const [first, ...rest] = tokenize(text);
  return formOf(findVerb(first ?? 'help'), rest);
}

/** What a request touches, from its verb's arguments and the configuration of the moment. */
export const scopeOf = (verb: AnyVerb, args: unknown, config: Config): RequestScope => verb.scope?.(args, config) ?? {};

/**
 * Parses `status web` into a verb, its typed arguments and its scope; bad input throws a
 * UsageError. Names outside `visible` are answered as unknown. Only the ingress parses: the
 * worker gets the arguments in its job.
 */
export function parseRequest(text: string, config: Config, visible: Visibility): ParsedRequest {
  const [first, ...rest] = tokenize(text);
  const verb = formOf(findVerb(first ?? 'help'), rest, config);
  const args: unknown = verb.parse(splitFlags(rest, verb.flags ?? { withValue: [], boolean: [] }), config, visible);
  return { verb, args, scope: scopeOf(verb, args, config) };
}
