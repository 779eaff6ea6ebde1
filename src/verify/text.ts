/**
 * Words for check texts. These are plain text with `code` marks that the renderer escapes for
 * Slack once (render.ts), so a mark here is bare backticks: Slack's own `code` (slack/format.ts)
 * escapes as it quotes and would escape AWS values twice.
 */

/** One value marked as code: `web`. */
export const mark = (text: string): string => `\`${text}\``;

/** Values marked as code, comma-separated: `a`, `b`, `c`. */
export const marks = (items: string[]): string => items.map(mark).join(', ');

/** "a", "a and b", "a, b and c". */
export function listWords(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

export { quantity } from '../slack/format';
