import { closest } from '../commands/grammar';
import { UsageError } from '../platform/errors';
import { escapeText } from '../slack/format';
import type { FleetService, Selector } from './types';

/**
 * Selectors (issue 19): `*`, or `key=value` terms joined by `,` that must all hold, a term's
 * values joined by `|` (any of them): `team=payments,env=prod|staging`, `account=123456789012`.
 * The grammar is strict, since a selector decides what a command acts on or what a grant covers:
 * no wildcards inside values, no empty parts, no key twice, bounded in size.
 */

/** Beyond these, a selector is a paste gone wrong rather than a choice. */
export const MAX_SELECTOR_LENGTH = 256;
export const MAX_SELECTOR_TERMS = 8;
export const MAX_SELECTOR_VALUES = 20;

/** Label keys as AWS tag keys allow them, less the characters a selector uses (`= , | *`) and spaces. */
const KEY = /^[A-Za-z][A-Za-z0-9_.:/+@-]{0,127}$/;
/** Label values likewise (a tag value of spaces cannot be typed in one word). */
const VALUE = /^[A-Za-z0-9_.:/+@-]{1,256}$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** A selector the grammar refuses: each kind says what is wrong and how it should look. */
export class SelectorError extends UsageError {
  constructor(
    readonly input: string,
    problem: string,
  ) {
    super(
      `\`${escapeText(input)}\` is not a valid selector: ${problem}. A selector is \`*\` or \`key=value\` terms joined by \`,\`, values joined by \`|\`: \`team=payments,env=prod|staging\`.`,
    );
  }
}
export class SelectorTooLongError extends SelectorError {}
export class SelectorEmptyPartError extends SelectorError {}
export class SelectorKeyError extends SelectorError {}
export class SelectorValueError extends SelectorError {}
export class SelectorDuplicateKeyError extends SelectorError {}

/** A word is a selector, not an alias: aliases never contain `=` or `*`. */
export const isSelector = (word: string): boolean => word.includes('=') || word.includes('*');

const shown = (text: string): string => `\`${escapeText(text.length > 40 ? `${text.slice(0, 40)}…` : text)}\``;

export function parseSelector(input: string): Selector {
  if (input.length > MAX_SELECTOR_LENGTH)
    throw new SelectorTooLongError(input.slice(0, 40), `it is ${input.length} characters long, more than ${MAX_SELECTOR_LENGTH}`);
  if (input === '*') return { kind: 'all' };
  if (input.trim() === '') throw new SelectorEmptyPartError(input, 'it is empty');
  const parts = input.split(',');
  if (parts.length > MAX_SELECTOR_TERMS) throw new SelectorTooLongError(input, `it has ${parts.length} terms, more than ${MAX_SELECTOR_TERMS}`);
  const terms: Array<{ key: string; values: string[] }> = [];
  for (const part of parts) {
    if (part === '') throw new SelectorEmptyPartError(input, 'it has an empty term (two commas, or one at an end)');
    if (part === '*') throw new SelectorEmptyPartError(input, '`*` stands alone: it already selects every service');
    const eq = part.indexOf('=');
    if (eq < 0) throw new SelectorEmptyPartError(input, `the term ${shown(part)} has no \`=\` (write \`key=value\`)`);
    const key = part.slice(0, eq);
    const valueText = part.slice(eq + 1);
    if (key === '') throw new SelectorKeyError(input, `the term ${shown(part)} has no key before \`=\``);
    if (!KEY.test(key))
      throw new SelectorKeyError(input, `the key ${shown(key)} must start with a letter, then letters, digits or \`_ . : / + @ -\` (at most 128)`);
    if (terms.some((t) => t.key === key))
      throw new SelectorDuplicateKeyError(input, `the key ${shown(key)} appears twice (write \`${key}=a|b\` for either value)`);
    if (valueText === '') throw new SelectorValueError(input, `the key ${shown(key)} has an empty value`);
    const values = valueText.split('|');
    if (values.length > MAX_SELECTOR_VALUES)
      throw new SelectorTooLongError(input, `the key ${shown(key)} has ${values.length} values, more than ${MAX_SELECTOR_VALUES}`);
    for (const value of values) {
      if (value === '') throw new SelectorValueError(input, `the key ${shown(key)} has an empty value (a \`|\` with nothing beside it)`);
      if (value.includes('*')) throw new SelectorValueError(input, 'values take no wildcards (`*` alone selects every service)');
      if (!VALUE.test(value)) throw new SelectorValueError(input, `the value ${shown(value)} may hold only letters, digits and \`_ . : / + @ -\``);
      if (key === 'account' && !ACCOUNT.test(value)) throw new SelectorValueError(input, `an account is 12 digits, not ${shown(value)}`);
      if (key === 'region' && !REGION.test(value)) throw new SelectorValueError(input, `${shown(value)} is not an AWS region such as eu-west-1`);
    }
    terms.push({ key, values: [...new Set(values)] });
  }
  return { kind: 'labels', terms };
}

/** One spelling of a selector: terms by key, values sorted. Grants store this form. */
export function formatSelector(selector: Selector): string {
  if (selector.kind === 'all') return '*';
  return [...selector.terms]
    .sort((a, b) => a.key.localeCompare(b.key))
    .map((t) => `${t.key}=${[...t.values].sort().join('|')}`)
    .join(',');
}

/** A service's labels with the built-ins (`account`, `region`, `cluster`), which win over tags of the same name. */
export function labelsOf(service: Pick<FleetService, 'labels' | 'accountId' | 'region' | 'cluster'>): Record<string, string> {
  return {
    ...service.labels,
    ...(service.accountId ? { account: service.accountId } : {}),
    region: service.region,
    cluster: service.cluster,
  };
}

/** Every term holds: the label is present and has one of the term's values. */
export function matchesLabels(selector: Selector, labels: Readonly<Record<string, string>>): boolean {
  if (selector.kind === 'all') return true;
  return selector.terms.every((t) => Object.hasOwn(labels, t.key) && t.values.includes(labels[t.key]!));
}

export const matchesService = (selector: Selector, service: FleetService): boolean => matchesLabels(selector, labelsOf(service));

/**
 * `inner` is within `outer` when whatever `inner` matches, `outer` matches too, whatever the
 * labels: every term of `outer` is in `inner`, with a subset of its values. `*` is within `*` only.
 * (`team=payments,env=prod` is within `team=payments`; `env=prod` is not.)
 */
export function isWithin(inner: Selector, outer: Selector): boolean {
  if (outer.kind === 'all') return true;
  if (inner.kind === 'all') return false;
  return outer.terms.every((o) => {
    const i = inner.terms.find((t) => t.key === o.key);
    return i?.values.every((v) => o.values.includes(v)) ?? false;
  });
}

/** Label key → value → how many services carry it (the shape of CatalogReader.labels()), built-ins included. */
export type LabelSummary = Record<string, Record<string, number>>;

export function summariseLabels(services: readonly FleetService[]): LabelSummary {
  const summary: LabelSummary = {};
  for (const service of services) {
    for (const [key, value] of Object.entries(labelsOf(service))) {
      const values = (summary[key] ??= {});
      values[value] = (values[value] ?? 0) + 1;
    }
  }
  return summary;
}

/** How many values of a key a "nothing matches" answer lists, most common first. */
const VALUES_SHOWN = 5;

/**
 * Why a selector matched nothing, for the person who typed it: per term, the closest key or value
 * among the labels they may see (the verbs' "did you mean" helper), or that each term matches
 * something but no service has them all.
 */
export function explainNoMatch(selector: Selector, summary: LabelSummary): string {
  const text = formatSelector(selector);
  if (selector.kind === 'all') return 'You hold no role on any service here.';
  const keys = Object.keys(summary).sort();
  const hints: string[] = [];
  for (const term of selector.terms) {
    const values = summary[term.key];
    if (!values) {
      const key = closest(term.key, keys);
      hints.push(`no service has the label \`${escapeText(term.key)}\`${key ? ` (did you mean \`${escapeText(key)}\`?)` : ''}`);
      continue;
    }
    const known = Object.keys(values);
    for (const value of term.values.filter((v) => !Object.hasOwn(values, v))) {
      const near = closest(value, known);
      const common = known.sort((a, b) => values[b]! - values[a]! || a.localeCompare(b)).slice(0, VALUES_SHOWN);
      hints.push(
        `no service has \`${escapeText(term.key)}=${escapeText(value)}\`${near ? ` (did you mean \`${escapeText(term.key)}=${escapeText(near)}\`?)` : ''}; its values: ${common.map((v) => `\`${escapeText(v)}\``).join(', ')}${known.length > VALUES_SHOWN ? ', …' : ''}`,
      );
    }
  }
  if (hints.length === 0) hints.push('each term matches some service, but no service matches them all');
  const labelKeys = keys.length ? ` Labels of your services: ${keys.map((k) => `\`${escapeText(k)}\``).join(', ')}.` : '';
  return `No service of yours here matches \`${escapeText(text)}\`: ${hints.join('; ')}.${labelKeys}`;
}

/** The default of `selectors.maxSelection`: beyond it, a selection must be narrowed, or confirmed by an admin with `--all`. */
export const DEFAULT_MAX_SELECTION = 200;

/** A selection larger than `selectors.maxSelection`, without a permitted `--all`. */
export class SelectionTooLargeError extends UsageError {}

/**
 * The size rule for any command acting on a selection. Beyond `max` services, the person narrows
 * the selector, or adds `--all` — which only counts from someone whose `admin` permission covers
 * every selected service in this channel (`mayActOnAll`, checked by the caller with the same
 * isAllowed as any command, permission `admin`).
 */
export function checkSelectionSize(
  selector: Selector,
  selected: readonly FleetService[],
  options: { max: number; all: boolean; mayActOnAll: (services: readonly FleetService[]) => boolean },
): void {
  if (selected.length <= options.max) return;
  const text = `\`${escapeText(formatSelector(selector))}\``;
  const count = `${text} matches ${selected.length} services, more than ${options.max} (\`selectors.maxSelection\` in the configuration)`;
  if (!options.all) {
    throw new SelectionTooLargeError(
      `${count}. Narrow it (add a term such as \`,region=…\` or \`,team=…\`), or, if you are an admin of all of them, add \`--all\`.`,
    );
  }
  if (!options.mayActOnAll(selected))
    throw new SelectionTooLargeError(`${count}, and \`--all\` needs the \`admin\` role on every one of them in this channel. Narrow the selector.`);
}
