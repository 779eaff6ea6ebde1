/**
 * The bot's own ✅ and ❌ under a request for approval: added when it is shown (so approvers click
 * instead of searching for the emoji), removed once it is decided, expired or withdrawn, so what is
 * left counts people only ("✅ 1" for one approval, not 2) and offers no choice that is over.
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../platform/logger';
import type { ApprovalRequest } from './types';

type Shown = Pick<ApprovalRequest, 'channelId' | 'messageTs' | 'rule'>;

const emojiOf = (request: Shown) => [request.rule.approveEmoji, request.rule.rejectEmoji];

export async function addBotReactions(slack: WebClient, request: Shown, logger: Logger): Promise<void> {
  for (const name of emojiOf(request)) {
    await slack.reactions
      .add({ channel: request.channelId, timestamp: request.messageTs, name })
      .catch((error: unknown) => logger.warn('could not add reaction', { name, error }));
  }
}

/** Idempotent: a reaction already gone (`no_reaction`, a second caller, a person's click meanwhile) is fine. */
export async function removeBotReactions(slack: WebClient, request: Shown, logger: Logger): Promise<void> {
  await Promise.all(
    emojiOf(request).map((name) =>
      slack.reactions.remove({ channel: request.channelId, timestamp: request.messageTs, name }).catch((error: unknown) => {
        if ((error as { data?: { error?: string } }).data?.error !== 'no_reaction') logger.warn('could not remove reaction', { name, error });
      }),
    ),
  );
}
