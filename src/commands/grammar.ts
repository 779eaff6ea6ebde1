import { UsageError } from '../platform/errors';
import { escapeText, unescapeText } from '../slack/format';

/**
 * Splits what follows `/ecs` into words. Quotes group words ("a b" or 'a b'); Slack's
 * smart quotes count as quotes, since Slack clients often substitute them as people type.
 */
export function tokenize(text: string): string[] {
  const normalized = text.replace(/[\u201C\u201D]/g, '"').replace(/[\u2018\u2019]/g, "'");
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (const ch of normalized) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) throw new UsageError(`A quote (${quote}) is not closed.`);
  if (inWord) words.push(current);
  // Slack escapes &, < and > in what people type; the words are what they meant.
  return words.map(unescapeText);
}

export interface Words {
  positional: string[];
  flags: Map<string, string | true>;
}

/** Separates `--name value` and `--switch` from positional words; `boolean` names take no value. */
export function splitFlags(words: string[], known: { withValue: string[]; boolean: string[] }): Words {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!word.startsWith('--') || word === '--') {
      positional.push(word);
      continue;
    }
    const [name, inline] = word.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (known.boolean.includes(name)) {
      flags.set(name, true);
    } else if (known.withValue.includes(name)) {
      const value = inline ?? words[++i];
      if (value === undefined || value === '') throw new UsageError(`\`--${name}\` needs a value.`);
      flags.set(name, value);
    } else {
      const all = [...known.withValue, ...known.boolean];
      throw new UsageError(`Unknown option \`--${escapeText(name)}\`.${all.length ? ` Options: ${all.map((f) => `\`--${f}\``).join(', ')}.` : ''}`);
    }
  }
  return { positional, flags };
}

/** Edit distance, for "did you mean" suggestions. */
export function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The closest choice, if it is close enough to be a plausible typo. */
export function closest(input: string, choices: readonly string[]): string | undefined {
  const lower = input.toLowerCase();
  let best: { choice: string; d: number } | undefined;
  for (const choice of choices) {
    const d = choice.startsWith(lower) && lower.length >= 2 ? 0.5 : distance(lower, choice);
    if (!best || d < best.d) best = { choice, d };
  }
  return best && best.d <= Math.max(2, Math.floor(best.choice.length / 3)) ? best.choice : undefined;
}

export function unknownChoice(kind: string, input: string, choices: readonly string[]): UsageError {
  const suggestion = closest(input, choices);
  const list = choices.map((c) => `\`${c}\``).join(', ');
  return new UsageError(
    `Unknown ${kind} \`${escapeText(input)}\`.${suggestion ? ` Did you mean \`${suggestion}\`?` : ''} Valid ${kind}s: ${list || '(none)'}.`,
  );
}

/** `<@U123|alice>` (Slack's escaped mention) or a bare user id. */
export function parseUserMention(word: string): string {
  const match = /^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(word) ?? /^([UW][A-Z0-9]{2,})$/.exec(word);
  if (!match) {
    throw new UsageError(`\`${escapeText(word)}\` is not a user mention. Type @ and pick the person from the list, so Slack sends their user id.`);
  }
  return match[1]!;
}

/** `<#C123|ops>` or a bare channel id. */
export function parseChannelMention(word: string): string {
  const match = /^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$/.exec(word) ?? /^([CG][A-Z0-9]{2,})$/.exec(word);
  if (!match) throw new UsageError(`\`${escapeText(word)}\` is not a channel. Type # and pick the channel from the list.`);
  return match[1]!;
}
