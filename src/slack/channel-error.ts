import { UserFacingError } from '../platform/errors';

const BOT_MENTION = '@ecs-chatops';

/** The bot cannot post in the channel: the message tells the person what to do about it. */
export class SlackChannelError extends UserFacingError {
  constructor(
    readonly slackError: string,
    readonly channel: string,
    options?: { cause?: unknown },
  ) {
    const where = `<#${channel}>`;
    const message =
      slackError === 'is_archived'
        ? `${where} is archived, so I can't post there. Run the command in an active channel.`
        : slackError === 'channel_not_found'
          ? `I can't see this channel. If it is private, invite me with \`/invite ${BOT_MENTION}\` and try again; direct messages with other people are not supported.`
          : `I'm not in ${where}. Invite me with \`/invite ${BOT_MENTION}\` and try again.`;
    super(message, options);
  }
}
