/**
 * What Slack checks in a message before it takes it: the Block Kit limits of Slack's reference
 * (docs.slack.dev/reference/block-kit) and the message limits of chat.postMessage, chat.update,
 * chat.postEphemeral, response_url posts and slash-command answers, refused with Slack's error codes
 * and Slack's `response_metadata.messages` ("[ERROR] must be less than 3001 characters
 * [json-pointer:/blocks/0/text/text]").
 *
 * Lengths are counted in characters (code points), as Slack counts them; JavaScript's `.length`
 * counts UTF-16 units, so a sender that keeps `.length` within a limit is always within it here.
 */

/** A refusal: `{ok:false, error, ...extra}`. */
export class SlackRefusal extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

export const LIMITS = {
  /** chat.postMessage, chat.postEphemeral, response_url, slash answers: longer text is truncated (2018-04 changelog). */
  postText: 40_000,
  /** chat.update: `msg_too_long`, "The `text` field cannot exceed 4,000 characters". */
  updateText: 4_000,
  blocks: 50,
  attachments: 100,
  headerText: 150,
  sectionText: 3_000,
  sectionFields: 10,
  fieldText: 2_000,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2_000,
  url: 3_000,
  id: 255,
  markdownText: 12_000,
  altText: 2_000,
  plainTextInputLabel: 2_000,
} as const;

/** Block types Slack documents for messages (docs.slack.dev/reference/block-kit/blocks). */
const BLOCK_TYPES = new Set([
  'actions',
  'context',
  'context_actions',
  'divider',
  'file',
  'header',
  'image',
  'input',
  'markdown',
  'rich_text',
  'section',
  'table',
  'video',
]);
/** Interactive elements (docs.slack.dev/reference/block-kit/block-elements). */
const INTERACTIVE = new Set([
  'button',
  'checkboxes',
  'datepicker',
  'datetimepicker',
  'email_text_input',
  'feedback_buttons',
  'file_input',
  'icon_button',
  'number_input',
  'overflow',
  'plain_text_input',
  'radio_buttons',
  'rich_text_input',
  'static_select',
  'external_select',
  'users_select',
  'conversations_select',
  'channels_select',
  'multi_static_select',
  'multi_external_select',
  'multi_users_select',
  'multi_conversations_select',
  'multi_channels_select',
  'timepicker',
  'url_text_input',
  'workflow_button',
]);
/** What a section's accessory may be. */
const ACCESSORIES = new Set(
  [...INTERACTIVE]
    .filter(
      (t) =>
        ![
          'email_text_input',
          'file_input',
          'number_input',
          'plain_text_input',
          'rich_text_input',
          'url_text_input',
          'feedback_buttons',
          'icon_button',
        ].includes(t),
    )
    .concat('image'),
);
const TEXT_TYPES = new Set(['plain_text', 'mrkdwn']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Characters as Slack counts them. */
export const chars = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** Collects the errors of one message, each with its JSON pointer, as Slack reports them. */
class Judge {
  readonly errors: string[] = [];
  private readonly blockIds = new Set<string>();
  private readonly actionIds = new Set<string>();

  fail(message: string, pointer: string): void {
    this.errors.push(`${message} [json-pointer:${pointer}]`);
  }

  maxChars(value: unknown, max: number, pointer: string): void {
    if (typeof value === 'string' && chars(value) > max) this.fail(`must be less than ${max + 1} characters`, pointer);
  }

  string(value: unknown, pointer: string, { max, required = false }: { max: number; required?: boolean }): void {
    if (value === undefined) {
      if (required) this.fail(`missing required field: ${pointer.split('/').pop()}`, pointer.split('/').slice(0, -1).join('/'));
      return;
    }
    if (typeof value !== 'string') return this.fail('must provide a string', pointer);
    this.maxChars(value, max, pointer);
  }

  /** A text object: plain_text or mrkdwn (or only `only`), 1 to `max` characters. */
  text(value: unknown, pointer: string, max: number, only?: 'plain_text'): void {
    if (!isObject(value)) return this.fail('must provide an object', pointer);
    if (typeof value.type !== 'string' || !TEXT_TYPES.has(value.type)) return this.fail(`must be one of: ${only ?? 'plain_text, mrkdwn'}`, `${pointer}/type`);
    if (only && value.type !== only) return this.fail(`must be one of: ${only}`, `${pointer}/type`);
    if (typeof value.text !== 'string') return this.fail('must provide a string', `${pointer}/text`);
    if (value.text.length === 0) return this.fail('must be more than 0 characters', `${pointer}/text`);
    this.maxChars(value.text, max, `${pointer}/text`);
  }

  items(value: unknown, pointer: string, max: number, required = true): unknown[] {
    if (value === undefined && !required) return [];
    if (!Array.isArray(value)) {
      this.fail(
        value === undefined ? `missing required field: ${pointer.split('/').pop()}` : 'must provide an array',
        value === undefined ? pointer.split('/').slice(0, -1).join('/') : pointer,
      );
      return [];
    }
    if (value.length === 0 && required) this.fail('must provide at least 1 items', pointer);
    if (value.length > max) this.fail(`no more than ${max} items allowed`, pointer);
    return value;
  }

  /** block_id and action_id: at most 255 characters and unique within the message. */
  id(value: unknown, kind: 'block_id' | 'action_id', pointer: string): void {
    if (value === undefined) return;
    if (typeof value !== 'string') return this.fail('must provide a string', pointer);
    if (value.length === 0) return this.fail('must be more than 0 characters', pointer);
    this.maxChars(value, LIMITS.id, pointer);
    const seen = kind === 'block_id' ? this.blockIds : this.actionIds;
    if (seen.has(value)) this.fail(`duplicate ${kind}: ${value}`, pointer);
    seen.add(value);
  }

  block(block: unknown, pointer: string): void {
    if (!isObject(block)) return this.fail('must provide an object', pointer);
    if (typeof block.type !== 'string') return this.fail('missing required field: type', pointer);
    if (!BLOCK_TYPES.has(block.type)) return this.fail(`unsupported type: ${block.type}`, `${pointer}/type`);
    this.id(block.block_id, 'block_id', `${pointer}/block_id`);
    switch (block.type) {
      case 'header':
        if (block.text === undefined) return this.fail('missing required field: text', pointer);
        return this.text(block.text, `${pointer}/text`, LIMITS.headerText, 'plain_text');
      case 'section': {
        if (block.text === undefined && block.fields === undefined) return this.fail('must provide either text or fields', pointer);
        if (block.text !== undefined) this.text(block.text, `${pointer}/text`, LIMITS.sectionText);
        this.items(block.fields, `${pointer}/fields`, LIMITS.sectionFields, false).forEach((f, i) => this.text(f, `${pointer}/fields/${i}`, LIMITS.fieldText));
        if (block.accessory !== undefined) this.element(block.accessory, `${pointer}/accessory`, ACCESSORIES);
        return;
      }
      case 'context':
        this.items(block.elements, `${pointer}/elements`, LIMITS.contextElements).forEach((e, i) => {
          const at = `${pointer}/elements/${i}`;
          if (isObject(e) && e.type === 'image') return this.image(e, at);
          if (isObject(e) && typeof e.type === 'string' && !TEXT_TYPES.has(e.type)) return this.fail(`unsupported type: ${e.type}`, `${at}/type`);
          this.text(e, at, LIMITS.sectionText);
        });
        return;
      case 'actions':
        this.items(block.elements, `${pointer}/elements`, LIMITS.actionsElements).forEach((e, i) => this.element(e, `${pointer}/elements/${i}`, INTERACTIVE));
        return;
      case 'image':
        return this.image(block, pointer);
      case 'markdown':
        if (typeof block.text !== 'string')
          return this.fail(
            block.text === undefined ? 'missing required field: text' : 'must provide a string',
            block.text === undefined ? pointer : `${pointer}/text`,
          );
        return this.maxChars(block.text, LIMITS.markdownText, `${pointer}/text`);
      case 'rich_text':
        this.items(block.elements, `${pointer}/elements`, Number.MAX_SAFE_INTEGER);
        return;
      default:
        return; // divider, file, input, table, video, context_actions: no limit this bot could reach
    }
  }

  image(image: Record<string, unknown>, pointer: string): void {
    if (image.image_url === undefined && image.slack_file === undefined) this.fail('missing required field: image_url', pointer);
    this.maxChars(image.image_url, LIMITS.url, `${pointer}/image_url`);
    this.string(image.alt_text, `${pointer}/alt_text`, { max: LIMITS.altText, required: true });
  }

  element(element: unknown, pointer: string, allowed: Set<string>): void {
    if (!isObject(element)) return this.fail('must provide an object', pointer);
    if (typeof element.type !== 'string') return this.fail('missing required field: type', pointer);
    if (!allowed.has(element.type)) return this.fail(`unsupported type: ${element.type}`, `${pointer}/type`);
    if (element.type === 'image') return this.image(element, pointer);
    this.id(element.action_id, 'action_id', `${pointer}/action_id`);
    if (element.type !== 'button') return;
    if (element.text === undefined) this.fail('missing required field: text', pointer);
    else this.text(element.text, `${pointer}/text`, LIMITS.buttonText, 'plain_text');
    this.string(element.value, `${pointer}/value`, { max: LIMITS.buttonValue });
    this.string(element.url, `${pointer}/url`, { max: LIMITS.url });
    if (element.style !== undefined && element.style !== 'primary' && element.style !== 'danger')
      this.fail('must be one of: primary, danger', `${pointer}/style`);
  }
}

/** Form bodies carry arrays as JSON strings; JSON bodies carry them as arrays. */
function parseArray(value: unknown, formatError: string): unknown[] | undefined {
  if (value === undefined || value === '') return undefined;
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new SlackRefusal(formatError);
    }
  }
  if (!Array.isArray(parsed)) throw new SlackRefusal(formatError);
  return parsed;
}

/** The blocks of a message, or a refusal with Slack's error code and messages. */
export function judgeBlocks(blocks: unknown[]): void {
  if (blocks.length > LIMITS.blocks) {
    const message = `no more than ${LIMITS.blocks} items allowed [json-pointer:/blocks]`;
    throw new SlackRefusal('msg_blocks_too_many', { response_metadata: { messages: [`[ERROR] ${message}`] } });
  }
  const judge = new Judge();
  blocks.forEach((b, i) => judge.block(b, `/blocks/${i}`));
  // Same shape as Slack's reply (`errors` and `response_metadata.messages`), which the WebClient logs.
  if (judge.errors.length)
    throw new SlackRefusal('invalid_blocks', { errors: judge.errors, response_metadata: { messages: judge.errors.map((e) => `[ERROR] ${e}`) } });
}

export interface JudgedMessage {
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  /** Set when Slack took the message but cut its text: the reply's `warning` and `response_metadata`. */
  warning?: { warning: string; response_metadata: { warnings: string[]; messages: string[] } };
}

export type MessageKind = 'post' | 'update' | 'response_url';

/**
 * Judges a message as Slack does. `post` (chat.postMessage, chat.postEphemeral, a slash command's
 * answer) and `response_url` truncate text over 40,000 characters and say so in a warning; `update`
 * (chat.update) refuses text over 4,000 with `msg_too_long`. A message with no text, no blocks and no
 * attachments is `no_text` (a response_url post that deletes the original needs none).
 */
export function judgeMessage(args: Record<string, unknown>, kind: MessageKind): JudgedMessage {
  let text = typeof args.text === 'string' ? args.text : args.text === undefined || args.text === null ? undefined : String(args.text);
  const blocks = parseArray(args.blocks, 'invalid_blocks_format');
  const attachments = parseArray(args.attachments, 'invalid_attachments');
  const deleting = kind === 'response_url' && (args.delete_original === true || args.delete_original === 'true');
  if (!text && !blocks?.length && !attachments?.length && !deleting) throw new SlackRefusal('no_text');
  if (attachments && attachments.length > LIMITS.attachments) throw new SlackRefusal('too_many_attachments');
  if (blocks) judgeBlocks(blocks);
  let warning: JudgedMessage['warning'];
  if (text !== undefined) {
    const limit = kind === 'update' ? LIMITS.updateText : LIMITS.postText;
    if (chars(text) > limit) {
      if (kind === 'update') throw new SlackRefusal('msg_too_long');
      text = [...text].slice(0, limit).join('');
      warning = {
        warning: 'message_truncated',
        response_metadata: {
          warnings: ['message_truncated'],
          messages: ['[WARN] Your message was truncated but still posted. The `text` field accepts up to 40,000 characters.'],
        },
      };
    }
  }
  return { ...(text !== undefined ? { text } : {}), ...(blocks ? { blocks } : {}), ...(attachments ? { attachments } : {}), ...(warning ? { warning } : {}) };
}
