import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_ARGUMENT_LENGTH,
  argumentCount,
  buildExecCommand,
  checkArguments,
  exitMarker,
  newNonce,
  quoteForShlex,
  validateArguments,
  type ArgumentRules,
} from '../src/exec/command';
import { shlexSplit } from '../local/exec-agent/shlex';
import { OutputCleaner } from '../src/exec/output';
import { UsageError } from '../src/platform/errors';

/**
 * Test-only port of github.com/google/shlex Split (the version vendored by the SSM agent): what the
 * agent does to the ExecuteCommand string before exec'ing argv[0]. Space = " \t\r\n"; `"` escaping
 * quote; `'` literal quote; `\` escape; `#` at the start of a word starts a comment to end of line;
 * every other rune is a word character. Unterminated quotes or escapes are errors.
 */
function goShlexSplit(input: string): string[] {
  type S = 'start' | 'word' | 'escaping' | 'escapingQuoted' | 'quotingEscaping' | 'quoting' | 'comment';
  const words: string[] = [];
  let state: S = 'start';
  let value = '';
  let isWord = false;
  const space = (c: string) => c === ' ' || c === '\t' || c === '\r' || c === '\n';
  const finish = () => {
    if (isWord) words.push(value);
    value = '';
    isWord = false;
    state = 'start';
  };
  for (const c of input) {
    switch (state) {
      case 'start':
        if (space(c)) break;
        if (c === '#') state = 'comment';
        else {
          isWord = true;
          if (c === '"') state = 'quotingEscaping';
          else if (c === "'") state = 'quoting';
          else if (c === '\\') state = 'escaping';
          else {
            value += c;
            state = 'word';
          }
        }
        break;
      case 'word':
        if (space(c)) finish();
        else if (c === '"') state = 'quotingEscaping';
        else if (c === "'") state = 'quoting';
        else if (c === '\\') state = 'escaping';
        else value += c;
        break;
      case 'escaping':
        value += c;
        state = 'word';
        break;
      case 'escapingQuoted':
        value += c;
        state = 'quotingEscaping';
        break;
      case 'quotingEscaping':
        if (c === '"') state = 'word';
        else if (c === '\\') state = 'escapingQuoted';
        else value += c;
        break;
      case 'quoting':
        if (c === "'") state = 'word';
        else value += c;
        break;
      case 'comment':
        if (c === '\n') state = 'start';
        break;
    }
  }
  if (state === 'escaping' || state === 'escapingQuoted') throw new Error('EOF found after escape character');
  if (state === 'quoting' || state === 'quotingEscaping') throw new Error('EOF found when expecting closing quote');
  if (state === 'word') finish();
  return words;
}

/** Runs argv directly (no shell), as the agent does; resolves with stdout bytes and the exit code. */
function run(argv: string[], { timeoutMs = 10_000, stdinOpen = false } = {}): Promise<{ stdout: Buffer; code: number | null }> {
  return new Promise((resolve, reject) => {
    // stderr is left out: the pty would merge it, but these checks are about stdout.
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [stdinOpen ? 'pipe' : 'ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => chunks.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (stdinOpen) child.stdin!.destroy();
      resolve({ stdout: Buffer.concat(chunks), code });
    });
  });
}

const HOSTILE: Array<[string, string]> = [
  ['command separator', '; rm -rf /'],
  ['command substitution', '$(id)'],
  ['backticks', '`id`'],
  ['variable', '$HOME ${PATH}'],
  ['single quote', "it's"],
  ['lone single quotes', "'''"],
  ['double quotes', '"quoted" "'],
  ['backslashes', '\\ \\\\ \\n'],
  ['newline', 'line one\nline two'],
  ['trailing newline', 'ends with newline\n'],
  ['carriage return and tab', 'a\r\tb'],
  ['glob', '*'],
  ['glob with path', '/etc/*'],
  ['comment', '#not a comment'],
  ['redirection and pipe', '> /tmp/x | cat < /etc/passwd &'],
  ['leading dash', '--help'],
  ['empty', ''],
  ['spaces only', '   '],
  ['non-ASCII', 'データベース ✓ naïve — 🚀'],
  ['right-to-left text', 'שלום عربي'],
  ['very long', 'x'.repeat(MAX_ARGUMENT_LENGTH - 1) + "'"],
];

describe('quoteForShlex', () => {
  it.each(HOSTILE)('%s arrives as one word', (_name, value) => {
    expect(goShlexSplit(quoteForShlex(value))).toEqual([value]);
  });

  it('keeps an empty word (shlex drops unquoted emptiness)', () => {
    expect(goShlexSplit(`a ${quoteForShlex('')} b`)).toEqual(['a', '', 'b']);
  });

  it('refuses NUL, which exec cannot pass', () => {
    expect(() => quoteForShlex('a\0b')).toThrow(/NUL/);
  });

  it('the test splitter follows google/shlex on its own examples', () => {
    // Comments start only at the beginning of a word; backslash escapes anything inside "…".
    expect(goShlexSplit('one "two three" four')).toEqual(['one', 'two three', 'four']);
    expect(goShlexSplit('a#b #c d\ne')).toEqual(['a#b', 'e']);
    expect(goShlexSplit('"a\\"b" \'c\\d\' e\\ f')).toEqual(['a"b', 'c\\d', 'e f']);
    expect(() => goShlexSplit("'open")).toThrow(/closing quote/);
  });
});

describe('buildExecCommand', () => {
  const nonce = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';

  it('is /bin/sh -c with a constant wrapper; path and arguments follow as positional parameters', () => {
    const argv = goShlexSplit(buildExecCommand({ path: '/work/backup.sh', args: ['nightly', '$(id)'], nonce }));
    expect(argv.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(argv.slice(3)).toEqual(['sh', '/work/backup.sh', 'nightly', '$(id)']);
    const wrapper = argv[2]!;
    expect(wrapper).toBe(`"$@" </dev/null; printf "\\n%s:%s\\n" ${exitMarker(nonce)} "$?"`);
    expect(wrapper).not.toContain('backup.sh'); // nothing variable is ever parsed by sh
  });

  it('splits the same with the local exec agent’s shlex (an independent port)', () => {
    const command = buildExecCommand({ path: '/work/backup.sh', args: HOSTILE.map(([, v]) => v), nonce });
    expect(shlexSplit(command)).toEqual(goShlexSplit(command));
    expect(goShlexSplit(command).slice(5)).toEqual(HOSTILE.map(([, v]) => v));
  });

  it('refuses paths that are relative, not plain, or climb', () => {
    for (const path of ['backup.sh', '/work/my backup.sh', '/work/$(id)', '/work/../etc/x', "/work/a'b", '']) {
      expect(() => buildExecCommand({ path, args: [], nonce }), path).toThrow(/script path/);
    }
  });

  it('refuses a nonce that is not hex (it goes into the wrapper text)', () => {
    expect(() => buildExecCommand({ path: '/work/x.sh', args: [], nonce: 'abc; rm -rf /' })).toThrow(/nonce/);
    expect(() => buildExecCommand({ path: '/work/x.sh', args: [], nonce: 'ABCDEF0123456789' })).toThrow(/nonce/);
  });

  it('refuses NUL in an argument', () => {
    expect(() => buildExecCommand({ path: '/work/x.sh', args: ['a\0'], nonce })).toThrow(/NUL/);
  });

  it('newNonce is 128 random bits in hex', () => {
    const a = newNonce();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(newNonce()).not.toBe(a);
  });
});

describe('running the built command (spawned argv, no shell in between)', () => {
  let dir: string;
  let printArgs: string;
  const script = async (name: string, body: string) => {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'exec-command-'));
    expect(dir).toMatch(/^\/[\w./-]+$/); // usable as a script path
    // Prints $# on the first line, then each argument followed by a NUL (which no argument can hold).
    printArgs = await script('print-args.sh', `printf '%s\\n' "$#"\nfor a in "$@"; do printf '%s\\0' "$a"; done\nexit 3`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function runScript(path: string, args: string[], opts?: { stdinOpen?: boolean }) {
    const nonce = newNonce();
    const argv = goShlexSplit(buildExecCommand({ path, args, nonce }));
    const { stdout, code } = await run(argv, opts);
    const cleaner = new OutputCleaner({ nonce });
    const lines = [...cleaner.push(stdout), ...cleaner.end()];
    return { stdout, code, lines, exitCode: cleaner.exitCode, nonce };
  }

  function parseArgs(stdout: Buffer): { count: number; args: string[] } {
    const text = stdout.toString('utf8');
    const nl = text.indexOf('\n');
    const rest = text.slice(nl + 1);
    const end = rest.lastIndexOf('\0');
    return { count: Number(text.slice(0, nl)), args: end < 0 ? [] : rest.slice(0, end).split('\0') };
  }

  it.each(HOSTILE)('%s reaches the script as one literal argument', async (_name, value) => {
    const { stdout, exitCode } = await runScript(printArgs, ['before', value, 'after']);
    expect(parseArgs(stdout)).toEqual({ count: 3, args: ['before', value, 'after'] });
    expect(exitCode).toBe(3);
  });

  it('passes all hostile arguments at once, in order', async () => {
    const values = HOSTILE.map(([, v]) => v);
    const { stdout, exitCode } = await runScript(printArgs, values);
    expect(parseArgs(stdout)).toEqual({ count: values.length, args: values });
    expect(exitCode).toBe(3);
  });

  it('prints the marker on its own line even when the output does not end with a newline', async () => {
    const path = await script('no-newline.sh', `printf 'no newline'`);
    const { stdout, lines, exitCode, nonce } = await runScript(path, []);
    expect(stdout.toString()).toBe(`no newline\n${exitMarker(nonce)}:0\n`);
    expect(lines).toEqual(['no newline']);
    expect(exitCode).toBe(0);
  });

  it('gives the script /dev/null as stdin, so a prompt cannot hang the run', async () => {
    const path = await script('reads-stdin.sh', `if read answer; then echo "read: $answer"; else echo 'stdin at EOF'; fi`);
    // The pty keeps stdin open; an open pipe that nobody writes to behaves the same.
    const { lines, exitCode } = await runScript(path, [], { stdinOpen: true });
    expect(lines).toEqual(['stdin at EOF']);
    expect(exitCode).toBe(0);
  });

  it('reports 128+n for a script killed by a signal, and 127 for a missing script', async () => {
    const killed = await script('killed.sh', 'kill -TERM $$');
    expect((await runScript(killed, [])).exitCode).toBe(143);
    const missing = await runScript(join(dir, 'missing.sh'), []);
    expect(missing.exitCode).toBe(127);
  });

  it('an exit inside the script cannot skip the marker', async () => {
    const path = await script('exits.sh', 'echo bye\nexit 42\necho never');
    const { lines, exitCode } = await runScript(path, []);
    expect(lines).toEqual(['bye']);
    expect(exitCode).toBe(42);
  });
});

describe('argument validation', () => {
  const backup: ArgumentRules = { args: [{ name: 'label', pattern: '[a-z0-9][a-z0-9-]{0,31}' }] };
  const permissive: ArgumentRules = { args: [{ name: 'text', pattern: '[\\s\\S]*' }] };

  it.each(HOSTILE)('a strict pattern refuses %s', (_name, value) => {
    const problems = checkArguments(backup, [value]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ index: 0, name: 'label' });
  });

  it.each(HOSTILE)('a permissive pattern ([\\s\\S]*) accepts %s unchanged', (_name, value) => {
    expect(validateArguments(permissive, [value])).toEqual([value]);
  });

  it('matches the whole value, also with alternatives in the pattern', () => {
    expect(checkArguments({ args: [{ name: 'n', pattern: '[0-9]+' }] }, ['12abc'])).toHaveLength(1);
    expect(checkArguments({ args: [{ name: 'n', pattern: 'a|b' }] }, ['ab'])).toHaveLength(1);
    expect(checkArguments({ args: [{ name: 'n', pattern: 'a|b' }] }, ['b'])).toEqual([]);
  });

  it('counts required, optional and extra arguments', () => {
    const rules: ArgumentRules = {
      args: [
        { name: 'id', pattern: '[0-9]+' },
        { name: 'mode', pattern: 'fast|slow', optional: true },
      ],
      extraArgs: { pattern: '[a-z]+', max: 2 },
    };
    expect(argumentCount(rules)).toEqual({ min: 1, max: 4 });
    expect(checkArguments(rules, [])[0]!.message).toBe('Expected 1 to 4 arguments (&lt;id&gt; [mode]), got 0.');
    expect(checkArguments(rules, ['1'])).toEqual([]);
    expect(checkArguments(rules, ['1', 'fast', 'x', 'y'])).toEqual([]);
    expect(checkArguments(rules, ['1', 'fast', 'x', 'y', 'z'])[0]!.message).toBe('Expected 1 to 4 arguments (&lt;id&gt; [mode]), got 5.');
    expect(checkArguments(rules, ['1', 'fast', 'X'])[0]).toMatchObject({ index: 2, name: 'extra argument 1' });
    expect(checkArguments({ args: [] }, ['x'])[0]!.message).toBe('Expected 0 arguments, got 1.');
  });

  it('limits the length in characters, not UTF-16 units', () => {
    expect(checkArguments(permissive, ['x'.repeat(MAX_ARGUMENT_LENGTH)])).toEqual([]);
    expect(checkArguments(permissive, ['🚀'.repeat(MAX_ARGUMENT_LENGTH)])).toEqual([]);
    expect(checkArguments(permissive, ['x'.repeat(MAX_ARGUMENT_LENGTH + 1)])[0]!.message).toBe(
      `\`text\` is ${MAX_ARGUMENT_LENGTH + 1} characters long; at most ${MAX_ARGUMENT_LENGTH} are accepted.`,
    );
    expect(checkArguments({ ...permissive, maxLength: 10 }, ['x'.repeat(11)])).toHaveLength(1);
    // The length is checked before the pattern: a long value never reaches a slow regular expression.
    const slow: ArgumentRules = { args: [{ name: 'x', pattern: '(a+)+b' }] };
    expect(checkArguments(slow, ['a'.repeat(5000)])[0]!.message).toMatch(/5000 characters long/);
  });

  it('refuses NUL and unpaired surrogates whatever the pattern', () => {
    expect(checkArguments(permissive, ['a\0b'])[0]!.message).toMatch(/NUL/);
    expect(checkArguments(permissive, ['a\ud800b'])[0]!.message).toMatch(/unpaired surrogate/);
  });

  it('refuses control characters the pattern does not name', () => {
    const dot: ArgumentRules = { args: [{ name: 'v', pattern: '.+' }] };
    expect(checkArguments(dot, ['\u001b[31mred'])[0]!.message).toBe('`v` contains a control character (escape), which its pattern does not allow.');
    expect(checkArguments(dot, ['a\tb'])[0]!.message).toMatch(/\(tab\)/);
    expect(checkArguments(dot, ['a\u0085b'])[0]!.message).toMatch(/U\+0085/);
    // [\s\S] names the whitespace controls, not ESC.
    expect(checkArguments(permissive, ['a\nb\tc'])).toEqual([]);
    expect(checkArguments(permissive, ['\u001b[2J'])[0]!.message).toMatch(/escape/);
    // \n names line breaks only; an escaped backslash followed by n names nothing.
    expect(checkArguments({ args: [{ name: 'v', pattern: '[a-z\\n]+' }] }, ['a\nb'])).toEqual([]);
    expect(checkArguments({ args: [{ name: 'v', pattern: '[a-z\\n]+' }] }, ['a\rb'])).toHaveLength(1);
    expect(checkArguments({ args: [{ name: 'v', pattern: '[a-z\\\\n]+' }] }, ['a\nb'])).toHaveLength(1);
    // Raw code points: the pattern alone decides.
    expect(checkArguments({ args: [{ name: 'v', pattern: '[\\x01-\\x7e]+' }] }, ['\u001b[0m'])).toEqual([]);
    expect(checkArguments({ args: [{ name: 'v', pattern: '[\\p{Cc}a-z]+' }] }, ['a\u0007'])).toEqual([]);
  });

  it('refuses invisible formatting characters (bidi overrides, zero-width, BOM) the pattern does not name', () => {
    const dot: ArgumentRules = { args: [{ name: 'v', pattern: '.+' }] };
    for (const [ch, code] of [
      ['\u202e', '202E'],
      ['\u2066', '2066'],
      ['\u200b', '200B'],
      ['\u200d', '200D'],
      ['\u2060', '2060'],
      ['\ufeff', 'FEFF'],
    ] as const) {
      expect(checkArguments(dot, [`backup${ch}hs.exe`])[0]!.message).toBe(
        `\`v\` contains an invisible formatting character (U+${code}), which its pattern does not allow.`,
      );
    }
    expect(checkArguments(dot, ['plain café ☕'])).toEqual([]);
    // Named by code point, or literally: the pattern decides.
    expect(checkArguments({ args: [{ name: 'v', pattern: '[a-z\\u200d]+' }] }, ['a\u200db'])).toEqual([]);
    expect(checkArguments({ args: [{ name: 'v', pattern: '[a-z\u200d]+' }] }, ['a\u200db'])).toEqual([]);
  });

  it('explains every problem for Slack, escaping what was typed', () => {
    const rules: ArgumentRules = {
      args: [
        { name: 'label', pattern: '[a-z]+' },
        { name: 'other', pattern: '[a-z]+' },
      ],
    };
    const err = (() => {
      try {
        validateArguments(rules, ['<!channel> `x`', 'ok!']);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).userMessage).toBe(
      'The arguments were refused:\n• `label` `&lt;!channel&gt; \\u0060x\\u0060` does not match `[a-z]+`.\n• `other` `ok!` does not match `[a-z]+`.',
    );
    expect(() => validateArguments(rules, ['a'])).toThrow(new UsageError('Expected 2 arguments (&lt;label&gt; &lt;other&gt;), got 1.'));
    const long = (() => {
      try {
        validateArguments({ args: [{ name: 'v', pattern: '[a-z]{1,5}' }] }, ['y'.repeat(60)]);
      } catch (e) {
        return (e as UsageError).userMessage;
      }
    })();
    expect(long).toBe(`\`v\` \`${'y'.repeat(40)}…\` does not match \`[a-z]{1,5}\`.`);
  });
});
