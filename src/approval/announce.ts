/** Turning a command's message into a request for approval, and taking it back. */
import type { WebClient } from '@slack/web-api';
import type { Logger } from '../platform/logger';
import { WITHDRAWN_BY_BOT } from './await-approval';
import type { Approvals } from './approvals';
import { addBotReactions } from './bot-reactions';
import { approvalMessage } from '../deploy/render';
import type { ApprovalRequest } from './types';

/** The message becomes the request; the bot adds both emoji so approvers click instead of searching (the ingress ignores the bot's own reactions; they are removed once it is decided). */
export async function announceRequest(slack: WebClient, request: ApprovalRequest, logger: Logger): Promise<void> {
  await slack.chat.update({ channel: request.channelId, ts: request.messageTs, text: approvalMessage(request) });
  await addBotReactions(slack, request, logger);
}

/**
 * The request could not be shown after its workflow started: withdraw it, so the workflow ends now
 * (releasing its lock) instead of waiting for approvals nobody was asked for.
 */
export async function abandonRequest(approvals: Approvals, logger: Logger, key: string, now: number): Promise<void> {
  const decided = await approvals.requests.decide(key, 'cancelled', WITHDRAWN_BY_BOT, now);
  if (decided?.callbackId) await approvals.sendDecision(decided.callbackId, { status: 'cancelled', by: WITHDRAWN_BY_BOT }, logger);
}
