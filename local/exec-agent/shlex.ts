/**
 * Word splitting as github.com/google/shlex `Split` does it, which is what the SSM agent applies to
 * an ECS Exec `command` before exec'ing argv[0] directly (no shell; protocol notes §1.7, §2.14).
 * The local agent must split exactly like the real one, or a client that quotes correctly for AWS
 * could pass here and fail there (or the reverse).
 *
 * The rules, as google/shlex's tokenizer state machine implements them:
 *  - space, tab, CR and LF separate words; nothing else does;
 *  - `'…'` is literal (no escapes inside);
 *  - `"…"` is quoted, and a backslash inside it escapes ANY next character, the backslash being
 *    dropped (`"a\nb"` is `anb`, unlike POSIX sh);
 *  - an unquoted backslash escapes the next character (a backslash-newline is a literal newline,
 *    not a line continuation);
 *  - quotes may start or end in the middle of a word (`a'b c'd` is one word `ab cd`), and a word
 *    made only of quotes is an empty word (`''` yields `""`);
 *  - `#` starts a comment only where a word would start (`a#b` is a word), and the comment runs
 *    to the next LF;
 *  - an unterminated quote or a trailing backslash is an error ("EOF found when expecting closing
 *    quote", "EOF found after escape character"); Go's Split then returns the words before the
 *    broken one together with the error, which callers treat as a failure.
 *
 * Input is processed by code point, as Go's ReadRune does.
 */

export class ShlexError extends Error {
  override readonly name = 'ShlexError';
  constructor(
    message: string,
    /** The words completed before the error (what Go's Split returns next to the error). */
    readonly words: string[],
  ) {
    super(message);
  }
}

const SPACE = new Set([' ', '\t', '\r', '\n']);

type State = 'start' | 'word' | 'escaping' | 'escapingQuoted' | 'quotingEscaping' | 'quoting' | 'comment';

/** Splits `input` into argv like google/shlex.Split; throws ShlexError where Split returns an error. */
export function shlexSplit(input: string): string[] {
  const words: string[] = [];
  let state: State = 'start';
  let value = '';
  let isComment = false;

  const finish = () => {
    if (!isComment) words.push(value);
    value = '';
    isComment = false;
    state = 'start';
  };

  for (const ch of input) {
    switch (state) {
      case 'start':
        if (SPACE.has(ch)) break;
        if (ch === '"') state = 'quotingEscaping';
        else if (ch === "'") state = 'quoting';
        else if (ch === '\\') state = 'escaping';
        else if (ch === '#') {
          isComment = true;
          state = 'comment';
        } else {
          value += ch;
          state = 'word';
        }
        break;
      case 'word':
        if (SPACE.has(ch)) finish();
        else if (ch === '"') state = 'quotingEscaping';
        else if (ch === "'") state = 'quoting';
        else if (ch === '\\') state = 'escaping';
        else value += ch;
        break;
      case 'escaping':
        value += ch;
        state = 'word';
        break;
      case 'escapingQuoted':
        value += ch;
        state = 'quotingEscaping';
        break;
      case 'quotingEscaping':
        if (ch === '"') state = 'word';
        else if (ch === '\\') state = 'escapingQuoted';
        else value += ch;
        break;
      case 'quoting':
        if (ch === "'") state = 'word';
        else value += ch;
        break;
      case 'comment':
        // Only a newline ends a comment; other whitespace belongs to it.
        if (ch === '\n') finish();
        break;
    }
  }

  switch (state) {
    case 'start':
      break;
    case 'word':
    case 'comment':
      finish();
      break;
    case 'escaping':
    case 'escapingQuoted':
      throw new ShlexError('EOF found after escape character', words);
    case 'quoting':
    case 'quotingEscaping':
      throw new ShlexError('EOF found when expecting closing quote', words);
  }
  return words;
}
