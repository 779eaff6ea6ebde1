/**
 * The command string sent to ECS ExecuteCommand for `/ecs run`, and the checks on what people type.
 *
 * ECS Exec gives the SSM agent a single string, which it splits with Go's google/shlex and execs
 * directly: no shell, and no exit code ever comes back. So we run `/bin/sh -c <wrapper>` ourselves:
 * the wrapper runs the script with stdin from /dev/null and then prints a marker line carrying `$?`
 * and a per-run random nonce, which the output reader (output.ts) removes and reads.
 *
 * Nothing typed by a person is ever parsed by a shell. The wrapper text is a constant apart from
 * the hex nonce; the script path and the arguments follow it as `sh -c` positional parameters
 * (`"$@"` runs them), and each is quoted for shlex so that it reaches the script as one literal
 * argument whatever it contains (quotes, `$(…)`, backticks, newlines, `*`, non-ASCII).
 */
import { randomBytes } from 'node:crypto';
import { UsageError } from '../platform/errors';
import { escapeText } from '../slack/format';

/** The marker line is `ECSCHATOPS_EXIT_<nonce>:<exit code>`. */
export const EXIT_MARKER_PREFIX = 'ECSCHATOPS_EXIT_';
/** Longest argument accepted from Slack, in characters (code points). */
export const MAX_ARGUMENT_LENGTH = 256;

const NONCE = /^[0-9a-f]{16,64}$/;
/** Absolute and plain: with a slash, `"$@"` can only run that file (never a builtin or function). */
const SCRIPT_PATH = /^\/[\w./-]+$/;

/** A fresh nonce per run (128 random bits, hex): output cannot forge a marker it never saw. */
export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

/** The marker text before `:<code>` for this nonce. */
export function exitMarker(nonce: string): string {
  assertNonce(nonce);
  return `${EXIT_MARKER_PREFIX}${nonce}`;
}

/**
 * Quotes one word for google/shlex (what the SSM agent splits the command with): single quotes keep
 * everything literal, including whitespace, newlines, `"`, `\` and `#`; a `'` closes the quote, is
 * added escaped (`\'`) and the quote reopens. An empty word becomes `''`, which shlex keeps as an
 * empty argument.
 */
export function quoteForShlex(word: string): string {
  if (word.includes('\0')) throw new RangeError('a command word cannot contain NUL (exec arguments are C strings)');
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * `/bin/sh -c '<wrapper>' sh '<path>' '<arg>'…` for ExecuteCommand.
 *
 * Inside the wrapper, `"$@"` is the path followed by the arguments, so sh never parses them; the
 * marker is printed after a newline so it starts a line even when the script's output does not end
 * with one (output.ts drops that extra empty line). A script killed by a signal reports 128+n; a
 * missing marker means the run's end was not seen and must be reported as a failure, not success.
 */
export function buildExecCommand({ path, args, nonce }: { path: string; args: readonly string[]; nonce: string }): string {
  if (!SCRIPT_PATH.test(path) || path.split('/').includes('..')) {
    throw new RangeError(`script path must be absolute and plain (letters, digits, _ . - /): ${JSON.stringify(path)}`);
  }
  const wrapper = `"$@" </dev/null; printf "\\n%s:%s\\n" ${exitMarker(nonce)} "$?"`;
  return ['/bin/sh', '-c', wrapper, 'sh', path, ...args].map(quoteForShlex).join(' ');
}

function assertNonce(nonce: string): void {
  if (!NONCE.test(nonce)) throw new RangeError('nonce must be 16 to 64 lowercase hex digits (use newNonce())');
}

// ---- arguments typed in Slack ---------------------------------------------------------------

/** One declared positional argument (the config's `scripts.<name>.args[]`). */
export interface ArgumentSpec {
  name: string;
  /** Regular expression (Unicode mode) the whole value must match. */
  pattern: string;
  optional?: boolean;
}

/** What a script accepts (the config's `args` and `extraArgs`). */
export interface ArgumentRules {
  args: readonly ArgumentSpec[];
  /** Arguments beyond the declared ones: each must match `pattern`; at most `max` of them. */
  extraArgs?: { pattern: string; max: number };
  /** Default MAX_ARGUMENT_LENGTH. */
  maxLength?: number;
}

export interface ArgumentProblem {
  /** 0-based position, or -1 for a problem with the count. */
  index: number;
  /** The declared name, or `extra argument N`. */
  name: string;
  /** Written for people; any value shown is escaped for Slack. */
  message: string;
}

/** How many arguments a script takes: required ones up to the last non-optional, plus extras. */
export function argumentCount(rules: ArgumentRules): { min: number; max: number } {
  let min = 0;
  rules.args.forEach((a, i) => {
    if (!a.optional) min = i + 1;
  });
  return { min, max: rules.args.length + Math.max(0, rules.extraArgs?.max ?? 0) };
}

/**
 * Every problem with `values` (empty when they are acceptable). Checks, in order: the count, then
 * per value its length, NUL and unpaired surrogates (which cannot reach the script unchanged),
 * control characters (refused unless the pattern names them), and finally the anchored pattern.
 */
export function checkArguments(rules: ArgumentRules, values: readonly string[]): ArgumentProblem[] {
  const problems: ArgumentProblem[] = [];
  const { min, max } = argumentCount(rules);
  if (values.length < min || values.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    const usage = rules.args.map((a) => (a.optional ? `[${a.name}]` : `<${a.name}>`)).join(' ');
    problems.push({
      index: -1,
      name: 'arguments',
      message: `Expected ${expected} argument${max === 1 ? '' : 's'}${usage ? ` (${escapeText(usage)})` : ''}, got ${values.length}.`,
    });
    if (values.length > max) return problems;
  }
  const maxLength = rules.maxLength ?? MAX_ARGUMENT_LENGTH;
  values.forEach((value, index) => {
    const declared = rules.args[index];
    const name = declared?.name ?? `extra argument ${index - rules.args.length + 1}`;
    const pattern = declared?.pattern ?? rules.extraArgs?.pattern;
    const problem = (message: string) => problems.push({ index, name, message: `\`${name}\` ${message}` });
    if (pattern === undefined) return problem('is not accepted.');
    const length = countCodePoints(value);
    if (length > maxLength) return problem(`is ${length} characters long; at most ${maxLength} are accepted.`);
    if (value.includes('\0')) return problem('contains a NUL character, which cannot be passed to a script.');
    if (/\p{Cs}/u.test(value)) return problem('contains an incomplete character (an unpaired surrogate).');
    const allowed = controlsNamedBy(pattern);
    for (const m of value.matchAll(CONTROL_CHARS)) {
      if (!allowed.has(m[0].codePointAt(0)!)) return problem(`contains a control character (${controlName(m[0])}), which its pattern does not allow.`);
    }
    // Invisible characters that change how text reads (bidi overrides, zero-width, BOM) make what
    // an approver sees differ from what the script gets: refused unless the pattern names them.
    if (!namesRawCodePoints(pattern)) {
      for (const m of value.matchAll(FORMAT_CHARS)) {
        if (!pattern.includes(m[0]))
          return problem(
            `contains an invisible formatting character (U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}), which its pattern does not allow.`,
          );
      }
    }
    if (!compile(pattern).test(value)) return problem(`${show(value)} does not match \`${escapeText(pattern).replaceAll('`', "'")}\`.`);
  });
  return problems;
}

/** The values if acceptable; otherwise a UsageError listing every problem, for Slack. */
export function validateArguments(rules: ArgumentRules, values: readonly string[]): string[] {
  const problems = checkArguments(rules, values);
  if (!problems.length) return [...values];
  if (problems.length === 1) throw new UsageError(problems[0]!.message);
  throw new UsageError(`The arguments were refused:\n${problems.map((p) => `• ${p.message}`).join('\n')}`);
}

// ---- helpers --------------------------------------------------------------------------------

/** C0, DEL and C1 controls. */
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/gu;
/** Unicode format characters (general category Cf): bidi controls, zero-width characters, BOM. */
const FORMAT_CHARS = /\p{Cf}/gu;
/** `\xHH`, `\uHHHH`, `\u{…}` or `\p{…}`: the author deals in code points, so the pattern alone decides. */
const namesRawCodePoints = (pattern: string): boolean => /\\[xu]|\\[pP]\{/.test(pattern);
function allControls(): Set<number> {
  const all = new Set<number>();
  for (let c = 1; c <= 0x1f; c++) all.add(c);
  for (let c = 0x7f; c <= 0x9f; c++) all.add(c);
  return all;
}

/**
 * Control characters the pattern names explicitly, so that a permissive-looking `.+` does not let
 * terminal escapes or line breaks through by accident. `\t \n \r \v \f` name themselves, `\s` names
 * all five, a literal control character names itself, and `\xHH`, `\uHHHH`, `\u{…}`, `\cX` or
 * `\p{Cc}`-style classes mean the author deals in raw code points: then the pattern alone decides.
 */
function controlsNamedBy(pattern: string): Set<number> {
  const named = new Set<number>();
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch !== '\\') {
      const code = ch.charCodeAt(0);
      if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) named.add(code);
      continue;
    }
    const next = pattern[++i];
    if (next === undefined) break;
    const simple: Record<string, number[]> = { t: [9], n: [10], v: [11], f: [12], r: [13], s: [9, 10, 11, 12, 13] };
    if (simple[next]) for (const c of simple[next]) named.add(c);
    else if (
      next === 'x' ||
      next === 'u' ||
      next === 'c' ||
      ((next === 'p' || next === 'P') && /^\{(?:General_Category=|gc=)?(?:C|Cc|Control|Other)\}/.test(pattern.slice(i + 1)))
    )
      return allControls();
  }
  return named;
}

const compiled = new Map<string, RegExp>();
function compile(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern})$`, 'u');
    if (compiled.size > 500) compiled.clear(); // patterns come from config: a handful
    compiled.set(pattern, re);
  }
  return re;
}

function countCodePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

function controlName(ch: string): string {
  const names: Record<number, string> = { 9: 'tab', 10: 'line break', 13: 'carriage return', 27: 'escape', 127: 'delete' };
  const code = ch.charCodeAt(0);
  return names[code] ?? `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A value as people see it in Slack: clipped, control characters visible, markup escaped. */
function show(value: string): string {
  const clipped = countCodePoints(value) > 40 ? `${[...value].slice(0, 40).join('')}…` : value;
  return `\`${escapeText(JSON.stringify(clipped).slice(1, -1)).replaceAll('`', '\\u0060')}\``;
}
