import { lookup } from '../config/records';
import type { Config, Job, Script } from '../config/schema';
import type { AllowlistEntry, Decision, Grant, Permission } from '../auth/roles';
import type { LabelsOf } from '../fleet/types';
import { UsageError } from '../platform/errors';
import { escapeText } from '../slack/format';
import { closest, type Words } from './grammar';
import type { AckAnswer, AckContext } from './types';
import type { SlackMessage } from '../slack/message';
import type { CommandResult, WorkerContext } from '../worker/context';

/** What a request touches, as the ingress (and the worker, again) authorises it. */
export interface RequestScope {
  target?: string;
  script?: string;
  /** The request acts on the service as a whole, not on a script of it (see roles.ts, Scope). */
  wholeService?: true;
  /** The person an admin verb is about. */
  subject?: string;
  /** The grant `/ecs allow` would add, as given. */
  grant?: Grant;
  /**
   * A fleet command's selector (`/ecs status env=prod`): the permission must be held in this
   * channel; the worker then keeps only the matching services the person holds it on.
   */
  selector?: string;
}

/**
 * The names a person may learn: services they hold a role on here, scripts they may run here.
 * Suggestions and lists of choices come only from these, and a name outside them is answered
 * exactly like a name that does not exist, so nobody learns what they cannot touch.
 */
export interface Visibility {
  services: readonly string[];
  scripts: readonly string[];
  /** One-off jobs they may start here (src/jobs/visible.ts); absent: none. */
  jobs?: readonly string[];
  /**
   * Aliases known only from the fleet's catalog (discovered, not declared), read for this request:
   * the one the command names, if the catalog has it. Among `services` only when the person may see it.
   */
  discovered?: readonly string[];
}

interface VerbBase<Args> {
  name: string;
  summary: string;
  usage: string;
  /** Extra lines for `/ecs help <verb>`. */
  details?: string[];
  /** null: anyone on the allowlist may use it (help and whoami: anyone in a configured workspace). */
  permission: Permission | null;
  /**
   * Against what `permission` is checked: `target`, the service (and script) that `scope()`
   * names; `itself`, the verb checks the thing it acts on (a run, a grant, a person) and the
   * ingress only checks that the permission is held in this channel.
   */
  checks?: 'target' | 'itself';
  /** Usable by people who are not on the allowlist (help, whoami). */
  public?: true;
  /**
   * Acts on a service known only from the fleet's catalog too (`status`, `verify`): the worker
   * resolves it there into a target with default settings; `allow` grants a role on one. Others
   * need a declared target.
   */
  onDiscovered?: true;
  flags?: { withValue: string[]; boolean: string[] };
  /**
   * The words after the verb, validated into the verb's arguments, defaults resolved: the one
   * place they are read. Bad input throws a UsageError; names outside `visible` are answered as
   * unknown. The arguments travel to the worker as JSON, so they are plain data.
   */
  parse(words: Words, config: Config, visible: Visibility): Args;
  /**
   * What the request touches, from its arguments and the configuration of the moment (a script
   * moved to another service is checked where it runs now). Absent: nothing in particular.
   */
  scope?(args: Args, config: Config): RequestScope;
  /**
   * With `checks: 'itself'`: what can be decided from the request alone, on the ack path (the
   * verb checks again, with fresh data, where it acts).
   */
  authorise?(entry: AllowlistEntry | undefined, scope: RequestScope, channelId: string, labelsOf?: LabelsOf): Decision;
}

/** Answered ephemerally within Slack's 3-second ack; touches nothing but the bot's own tables. */
export interface AckVerb<Args> extends VerbBase<Args> {
  runsIn: 'ack';
  answer(args: Args, ctx: AckContext): Promise<SlackMessage> | SlackMessage;
}

/**
 * `ready`: what the verb's private refusal read to decide (its verdict `{ ready }`), so the handler
 * need not read it again; absent when that check did not run (a request without a response_url:
 * the signed API, a webhook, a schedule) — the handler then reads it, and refuses, itself.
 */
export type WorkerHandler<Args, Ready = undefined> = (args: Args, ctx: WorkerContext, ready?: Ready) => Promise<CommandResult>;

/** Answered in a thread by the worker, with the arguments the ingress parsed. */
export interface WorkerVerb<Args, Ready = undefined> extends VerbBase<Args> {
  runsIn: 'worker';
  /** What the ack tells the person about where the answer will appear. */
  answeredWhere?: string;
  /**
   * The handler, imported when the worker first needs it: the ingress bundles the verb's grammar,
   * never its AWS clients, exec sessions or workflows, so its cold start does not grow with them.
   * A verb has either this (answered in a thread) or `privateAnswer`.
   */
  handler?(): Promise<WorkerHandler<Args, Ready>>;
  /**
   * Answered privately, not in a thread: the worker computes the answer (with what only it reads,
   * such as the fleet's catalog) and posts it to the command's response_url in place of the ack's
   * note. Nothing is posted in the channel. Imported lazily, like the handler.
   */
  privateAnswer?(): Promise<AckAnswer<Args>>;
  /**
   * A refusal that concerns only the requester (a deploy of a service another deploy holds, a
   * selector matching nothing of theirs), checked before anything is posted in the channel: the
   * worker answers it privately. Imported lazily, like the handler. The handler still checks for
   * itself (this is only a first look; it does not run without a response_url), unless given what
   * the check read (`ready`).
   */
  privateRefusal?(): Promise<PrivateRefusal<Args, Ready>>;
}

/**
 * What a private refusal may look at: the request, its service (and AWS access to it), the bot's
 * state, configuration and catalog, Slack, and the requester's allowlist entry as the worker has
 * just read it (fresh: the worker's own check).
 */
export type RefusalContext = Pick<WorkerContext, 'job' | 'target' | 'aws' | 'state' | 'slack' | 'config' | 'catalog'> & { entry: AllowlistEntry | undefined };
/**
 * The verdict of a private check: `refusal`, said privately, audited as `refused` with `refused` as
 * its decision (bad input: `invalid`) when given, as a failure otherwise; or `ready`, what it read,
 * handed to the handler (WorkerHandler's `ready`) so that it is not read twice.
 */
export type PrivateVerdict<Ready> = { refusal: string; refused?: 'denied' | 'invalid' } | { ready: Ready };
/** Slack text of the refusal (audited as a failure) or a verdict; undefined to go on. */
export type PrivateRefusal<Args, Ready = undefined> = (args: Args, ctx: RefusalContext) => Promise<string | PrivateVerdict<Ready> | undefined>;

export type Verb<Args, Ready = undefined> = AckVerb<Args> | WorkerVerb<Args, Ready>;

/** A verb of any arguments, as the registry lists them (each verb file keeps its own `Args`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyVerb = Verb<any, any>;

/** One verb as one typed object: its grammar, its arguments, what it is authorised against, its handler. */
export function defineVerb<Args>(verb: AckVerb<Args>): AckVerb<Args>;
export function defineVerb<Args, Ready = undefined>(verb: WorkerVerb<Args, Ready>): WorkerVerb<Args, Ready>;
export function defineVerb<Args, Ready>(verb: Verb<Args, Ready>): Verb<Args, Ready> {
  return verb;
}

/** An unknown script: the ingress answers with the scripts this person may run. */
export class UnknownScriptError extends UsageError {
  constructor(
    readonly input: string,
    readonly suggestion: string | undefined,
    /** The script exists but this person may not run it here (audited as a denial, answered as unknown). */
    readonly hidden = false,
  ) {
    super(`Unknown script \`${escapeText(input)}\`, or not one of yours.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}`);
  }
}

/** A name that does not exist, or that this person may not see: one answer for both. */
export class UnknownNameError extends UsageError {
  constructor(
    message: string,
    /** True when the name exists but is outside what the person may see (audited as a denial). */
    readonly hidden: boolean,
  ) {
    super(message);
  }
}

type Named = Pick<VerbBase<unknown>, 'name' | 'usage' | 'onDiscovered'>;

export function usageError(verb: Named, problem: string): UsageError {
  return new UsageError(`${problem}\nUsage: \`${escapeText(verb.usage)}\``);
}

export function expectCount(verb: Named, words: Words, min: number, max: number): void {
  const n = words.positional.length;
  if (n < min) throw usageError(verb, `\`${verb.name}\` needs more arguments.`);
  if (n > max) throw usageError(verb, `Unexpected \`${escapeText(words.positional.slice(max).join(' '))}\`.`);
}

/** The arguments of a verb that takes none. */
export type NoArgs = Record<string, never>;

/** For verbs that take no words. */
export function noWords(verb: Named, words: Words): NoArgs {
  expectCount(verb, words, 0, 0);
  return {};
}

/**
 * A service named in a command: declared, or (for a verb `onDiscovered`) known only from the
 * fleet's catalog; otherwise unknown, the same whether missing or hidden. A discovered service a
 * verb cannot act on (it needs what only a declaration holds) is refused with the fix.
 */
export function resolveTarget(verb: Named, alias: string | undefined, config: Config, visible: Visibility): string {
  const choices = visible.services;
  if (!alias)
    throw usageError(
      verb,
      choices.length ? `Which service? Choose one of ${choices.map((c) => `\`${c}\``).join(', ')}.` : 'Which service? You hold no role on any service here.',
    );
  const declared = lookup(config.targets, alias) !== undefined;
  const onlyDiscovered = !declared && (visible.discovered ?? []).includes(alias);
  if (!(declared || onlyDiscovered) || !choices.includes(alias)) throw unknownName('service', alias, choices, declared || onlyDiscovered);
  if (onlyDiscovered && !verb.onDiscovered) throw new UndeclaredServiceError(verb, alias);
  return alias;
}

/** A verb that needs a declared target (scripts, deploy rules, scaling limits) named a service only discovered. */
export class UndeclaredServiceError extends UsageError {
  constructor(verb: Pick<Named, 'name'>, alias: string) {
    super(
      `\`${escapeText(alias)}\` is discovered from the fleet, not declared: \`${verb.name}\` needs it declared under \`targets:\` in the bot's configuration (region, cluster, service, roleArn), since what it uses (scripts, deploy and scaling rules) attaches to declared targets. \`status\`, \`verify\` and \`logs\` work on it as it is.`,
    );
  }
}

/** A declared script this person may run here; otherwise answered as unknown, the same whether missing or hidden. */
/** A job named in a command: declared and one this person may start, or unknown (the same answer either way). */
export function resolveJob(name: string, config: Config, visible: Visibility): Job {
  const job = lookup(config.jobs, name);
  const mine = visible.jobs ?? [];
  // Patterns and usage are shown only to people who may start the job; the rest learn nothing.
  if (!job || !mine.includes(name)) throw unknownName('job', name, mine, job !== undefined);
  return job;
}

export function resolveScript(name: string, config: Config, visible: Visibility): Script {
  const script = lookup(config.scripts, name);
  // Patterns and usage are shown only to people who may run the script.
  if (!script || !visible.scripts.includes(name)) throw new UnknownScriptError(name, closest(name, visible.scripts), script !== undefined);
  return script;
}

/** "Unknown service `api`", the same whether it is missing or hidden, with suggestions from what is visible. */
export function unknownName(kind: 'service' | 'script' | 'job', input: string, visible: readonly string[], exists: boolean): UnknownNameError {
  const suggestion = closest(input, visible);
  const list = visible.length ? ` Yours here: ${visible.map((c) => `\`${c}\``).join(', ')}.` : '';
  return new UnknownNameError(
    `Unknown ${kind} \`${escapeText(input)}\`, or not one of yours.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''}${list}`,
    exists,
  );
}

/** The scope of a verb that acts on the one service it names. */
export const onTarget = ({ target }: { target: string }): RequestScope => ({ target });

/** An image reference or a bare tag, as people type them: no spaces, no shell characters. */
export const IMAGE_OR_TAG = /^[\w][\w./:@-]{0,254}$/;
