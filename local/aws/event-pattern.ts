/**
 * EventBridge event patterns, matched as the EventBridge user guide documents them (EB-UG
 * `eb-event-patterns.md`, `eb-create-pattern-operators.md`, `eb-event-patterns-content-based-filtering.md`,
 * `eb-event-patterns-arrays.md`, `eb-event-patterns-null-values.md`):
 *  - a pattern has the event's shape; fields the pattern leaves out are ignored, fields it names
 *    must be in the event with the same nesting; keys AND, the values listed for a leaf OR;
 *  - a leaf's values are JSON literals (strings exactly, character by character; numbers; true,
 *    false, null) or comparison objects: prefix, suffix (each also with equals-ignore-case),
 *    anything-but (values, or one prefix/suffix/equals-ignore-case/wildcard), numeric, exists,
 *    equals-ignore-case, wildcard, cidr (IPv4 only here);
 *  - an event field that is an array matches when any of its elements does;
 *  - `$or` at any level: the object matches when its other keys do and one alternative does.
 *
 * Numbers: AWS compares their text (300 and 3.0e2 differ); JSON.parse has already made them equal,
 * so here they are compared as numbers. Not modelled: IPv6 cidr, the 1e9 numeric limit.
 */

export type EventPattern = { [field: string]: PatternValue };
type PatternValue = Leaf[] | EventPattern | EventPattern[];
type Leaf = string | number | boolean | null | Record<string, unknown>;

/** A pattern EventBridge refuses (PutRule's and TestEventPattern's InvalidEventPatternException). */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternException';
  constructor(reason: string) {
    // The prefix is AWS's; the reasons are the emulator's own wording (UNVERIFIED).
    super(`Event pattern is not valid. Reason: ${reason}`);
  }
}

const OR = '$or';
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);
const NUMERIC_OPERATORS = new Set(['=', '<', '<=', '>', '>=']);

/** The pattern, checked: what PutRule would refuse throws InvalidEventPatternError. */
export function parseEventPattern(input: string | Record<string, unknown>): EventPattern {
  let pattern: unknown;
  try {
    pattern = typeof input === 'string' ? JSON.parse(input) : input;
  } catch (err) {
    throw new InvalidEventPatternError(`not JSON: ${(err as Error).message}`);
  }
  if (!isObject(pattern)) throw new InvalidEventPatternError('the pattern must be a JSON object');
  checkObject(pattern, '');
  return pattern as EventPattern;
}

function checkObject(pattern: Record<string, unknown>, path: string): void {
  if (Object.keys(pattern).length === 0) throw new InvalidEventPatternError(`empty object at ${path || 'the top'}`);
  for (const [key, value] of Object.entries(pattern)) {
    const at = path ? `${path}.${key}` : key;
    if (key === OR) {
      if (!Array.isArray(value) || value.length < 2 || !value.every(isObject))
        throw new InvalidEventPatternError(`${at} must be an array of at least two objects`);
      value.forEach((alternative, index) => checkObject(alternative as Record<string, unknown>, `${at}[${index}]`));
    } else if (isObject(value)) checkObject(value, at);
    else if (Array.isArray(value)) {
      if (value.length === 0) throw new InvalidEventPatternError(`"${at}" must not be an empty array`);
      for (const leaf of value)
        if (isObject(leaf)) checkComparison(leaf, at);
        else if (Array.isArray(leaf)) throw new InvalidEventPatternError(`"${at}" must contain JSON values or comparison objects, not arrays`);
    } else throw new InvalidEventPatternError(`"${at}" must be an object or an array`);
  }
}

function checkComparison(comparison: Record<string, unknown>, at: string): void {
  const entries = Object.entries(comparison);
  if (entries.length !== 1) throw new InvalidEventPatternError(`a comparison at "${at}" must have exactly one operator`);
  const [operator, operand] = entries[0]!;
  const isString = typeof operand === 'string';
  const ok = (() => {
    switch (operator) {
      case 'prefix':
      case 'suffix':
        return isString || (isObject(operand) && typeof operand['equals-ignore-case'] === 'string' && Object.keys(operand).length === 1);
      case 'equals-ignore-case':
      case 'wildcard':
        return isString;
      case 'cidr':
        return isString && parseCidr(operand) !== undefined;
      case 'exists':
        return typeof operand === 'boolean';
      case 'numeric':
        return checkNumeric(operand);
      case 'anything-but':
        return checkAnythingBut(operand);
      default:
        return false;
    }
  })();
  if (!ok) throw new InvalidEventPatternError(`unsupported or malformed comparison ${JSON.stringify(comparison)} at "${at}"`);
}

function checkNumeric(operand: unknown): boolean {
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) return false;
  for (let i = 0; i < operand.length; i += 2) {
    if (!NUMERIC_OPERATORS.has(String(operand[i])) || typeof operand[i + 1] !== 'number') return false;
  }
  // A range is a lower bound then an upper bound ("=" stands alone).
  return operand.length === 2 || (['>', '>='].includes(operand[0]) && ['<', '<='].includes(operand[2]));
}

function checkAnythingBut(operand: unknown): boolean {
  if (typeof operand === 'string' || typeof operand === 'number') return true;
  if (Array.isArray(operand)) return operand.length > 0 && (operand.every((v) => typeof v === 'string') || operand.every((v) => typeof v === 'number'));
  if (!isObject(operand) || Object.keys(operand).length !== 1) return false;
  const [[kind, value]] = Object.entries(operand) as [[string, unknown]];
  // Only a single prefix or suffix (EB-UG: "only works with a single prefix, not a list").
  if (kind === 'prefix' || kind === 'suffix') return typeof value === 'string';
  if (kind === 'equals-ignore-case' || kind === 'wildcard')
    return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
  return false;
}

/** Does the event match the pattern? The pattern is assumed valid (parseEventPattern). */
export function matchesEventPattern(pattern: EventPattern, event: unknown): boolean {
  return matchObject(pattern, event);
}

function matchObject(pattern: EventPattern, value: unknown): boolean {
  // An array of objects in the event: the pattern matches when one element does.
  if (Array.isArray(value)) return value.some((element) => matchObject(pattern, element));
  const fields = isObject(value) ? value : {};
  return Object.entries(pattern).every(([key, expected]) => {
    if (key === OR) return (expected as EventPattern[]).some((alternative) => matchObject(alternative, value));
    if (Array.isArray(expected)) return matchLeaf(expected as Leaf[], fields[key]);
    return matchObject(expected as EventPattern, fields[key]);
  });
}

/** The leaf values a field holds: none when absent or an object (exists works on leaves only). */
function leafValues(value: unknown): unknown[] {
  if (value === undefined || isObject(value)) return [];
  if (Array.isArray(value)) return value.flatMap(leafValues);
  return [value];
}

function matchLeaf(expected: Leaf[], field: unknown): boolean {
  const values = leafValues(field);
  return expected.some((leaf) => {
    if (isObject(leaf) && 'exists' in leaf) return leaf.exists === values.length > 0;
    return values.some((value) => (isObject(leaf) ? matchComparison(leaf, value) : leaf === value));
  });
}

const lower = (s: string) => s.toLowerCase();

function matchComparison(comparison: Record<string, unknown>, value: unknown): boolean {
  const [[operator, operand]] = Object.entries(comparison) as [[string, unknown]];
  if (operator === 'numeric') return typeof value === 'number' && matchNumeric(operand as Array<string | number>, value);
  if (operator === 'anything-but') return matchAnythingBut(operand, value);
  if (typeof value !== 'string') return false;
  switch (operator) {
    case 'prefix':
    case 'suffix': {
      const ignoreCase = isObject(operand);
      const text = ignoreCase ? String(operand['equals-ignore-case']) : String(operand);
      const [subject, wanted] = ignoreCase ? [lower(value), lower(text)] : [value, text];
      return operator === 'prefix' ? subject.startsWith(wanted) : subject.endsWith(wanted);
    }
    case 'equals-ignore-case':
      return lower(value) === lower(String(operand));
    case 'wildcard':
      return wildcard(String(operand)).test(value);
    case 'cidr':
      return inCidr(String(operand), value);
    default:
      return false;
  }
}

function matchNumeric(operand: Array<string | number>, value: number): boolean {
  for (let i = 0; i < operand.length; i += 2) {
    const bound = operand[i + 1] as number;
    const holds = { '=': value === bound, '<': value < bound, '<=': value <= bound, '>': value > bound, '>=': value >= bound }[operand[i] as string];
    if (!holds) return false;
  }
  return true;
}

/** anything-but needs a value (an absent field matches nothing) that is none of the operand's. */
function matchAnythingBut(operand: unknown, value: unknown): boolean {
  if (!isObject(operand)) return !(Array.isArray(operand) ? operand : [operand]).includes(value);
  if (typeof value !== 'string') return false;
  const [[kind, excluded]] = Object.entries(operand) as [[string, unknown]];
  const list = (Array.isArray(excluded) ? excluded : [excluded]).map(String);
  switch (kind) {
    case 'prefix':
      return !value.startsWith(list[0]!);
    case 'suffix':
      return !value.endsWith(list[0]!);
    case 'equals-ignore-case':
      return !list.some((item) => lower(item) === lower(value));
    case 'wildcard':
      return !list.some((item) => wildcard(item).test(value));
    default:
      return false;
  }
}

/** `*` matches any run of characters; `\*` is a literal star (EB-UG wildcard matching). */
function wildcard(pattern: string): RegExp {
  let body = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && (pattern[i + 1] === '*' || pattern[i + 1] === '\\')) body += `\\${pattern[++i]}`;
    else if (c === '*') body += '.*';
    else body += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${body}$`, 's');
}

function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function parseCidr(text: string): { base: number; bits: number } | undefined {
  const [address, bits] = text.split('/');
  const base = parseIpv4(address ?? '');
  const size = Number(bits);
  return base === undefined || !Number.isInteger(size) || size < 0 || size > 32 ? undefined : { base, bits: size };
}

function inCidr(cidr: string, value: string): boolean {
  const range = parseCidr(cidr);
  const address = parseIpv4(value);
  if (!range || address === undefined) return false;
  const block = 2 ** (32 - range.bits);
  return Math.floor(address / block) === Math.floor(range.base / block);
}
