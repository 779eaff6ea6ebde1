/**
 * Slack reads `<…>` as markup (mentions, links) and `&` as the start of an entity, so text that
 * is not meant as markup (usage strings, what a person typed, messages from AWS, script output,
 * names of AWS resources) is escaped, exactly once, before it reaches Slack. Mentions, channel
 * links and URLs are only ever built by the bot's own code around escaped text.
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The inverse of escapeText: Slack text (a UserFacingError's message) wanted as plain text again. */
export function unescapeText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A backtick inside inline code would end the span early: it is shown as this look-alike (ˋ) instead. */
const LOOKALIKE_BACKTICK = '\u02cb';

/** Outside text as inline code: escaped, its backticks replaced by a look-alike so the span holds. */
export function code(text: string): string {
  return `\`${escapeText(text).replaceAll('`', LOOKALIKE_BACKTICK)}\``;
}

/**
 * What a person typed, as Slack sent it, shown inertly as inline code. Slack sends mentions,
 * channels, broadcasts and links as markup (`<@U…|name>`, `<#C…|name>`, `<!channel>`,
 * `<https://…|…>`) and escapes the rest; echoed back, they would be live again (a typed @channel
 * would ping the channel from the bot's message). They are shown as the words people read.
 */
export function typedCode(slackText: string): string {
  return code(typedPlain(slackText));
}

/**
 * What a person typed, as the words people read (plain text, not Slack markup): mentions, channels,
 * broadcasts and links become their labels, entities their characters. Escape it to show it again.
 */
export function typedPlain(slackText: string): string {
  return unescapeText(readableMarkup(slackText));
}

/**
 * Slack's markup in words already unescaped (the command's words, src/commands/grammar.ts) as the
 * words people read. Only what Slack itself sends as markup is read as such (`<@U…>`, `<#C…>`,
 * `<!…>`, `<scheme:…>`): a typed `<b>` stays as typed.
 */
export function readableMarkup(text: string): string {
  return text.replace(/<([@#!][^<>]*|[a-z][a-z0-9+.-]*:[^<>]*)>/gi, (_, inner: string) => {
    const bar = inner.indexOf('|');
    const target = bar < 0 ? inner : inner.slice(0, bar);
    const label = bar < 0 ? undefined : inner.slice(bar + 1);
    if (target.startsWith('@') || target.startsWith('#')) return `${target[0]}${label ?? target.slice(1)}`;
    if (target.startsWith('!')) return label ?? `@${target.slice(1).split('^')[0]}`;
    return label && label !== target ? `${label} (${target})` : target;
  });
}

/**
 * Text placed inside a ``` block cannot close it: every run of three or more backticks is broken
 * into pairs by zero-width spaces. Applying it again changes nothing, so text can be appended to
 * a block and the whole broken again (a fence may arrive in two pieces).
 */
export function breakFences(text: string): string {
  return text.includes('```') ? text.replace(/`{3,}/g, (run) => run.match(/`{1,2}/g)!.join('\u200b')) : text;
}

/** `12.3 s`, `4 min 5 s`, `1 h 2 min`. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${s % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** `512 B`, `1.5 KiB`, `3.2 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** `1 task`, `3 tasks`: a count with its noun agreeing. */
export function quantity(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/**
 * Outside lines (logs, output) as a code block of at most `room` characters, keeping the END: a
 * crash is at the bottom. Escaped, fences broken, trailing spaces trimmed.
 */
export function codeBlockTail(lines: string[], room: number): string {
  const body = breakFences(escapeText(lines.map((l) => l.replace(/\s+$/, '')).join('\n')));
  const fitted = body.length > room ? `…${body.slice(body.length - room + 1)}` : body;
  return `\`\`\`${fitted}\`\`\``;
}
