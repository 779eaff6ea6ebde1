/**
 * Slack reads `<…>` as markup (mentions, links) and `&` as the start of an entity, so text that
 * is not meant as markup (usage strings, what a person typed, messages from AWS) is escaped.
 */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
