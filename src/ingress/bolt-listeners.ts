import type { App } from '@slack/bolt';
import type { Invocation } from '../slack/invocation';
import type { createIngress } from './ingress';
import { BUTTON_ACTIONS } from '../slack/actions';

type IngressCore = ReturnType<typeof createIngress>;

/**
 * The bot as Bolt listeners, over the same core the Lambda ack path uses. Socket Mode
 * development runs this; the Lambda ingress skips constructing an App on every cold start
 * (see ARCHITECTURE.md and `npm run bench:ingress`, which measures both).
 */
export function registerListeners(app: App, core: IngressCore, command = '/ecs'): void {
  app.command(command, async ({ command: c, ack }) => {
    const invocation: Invocation = {
      teamId: c.team_id,
      userId: c.user_id,
      userName: c.user_name,
      channelId: c.channel_id,
      channelName: c.channel_name,
      command: c.command,
      text: (c.text ?? '').trim(),
      responseUrl: c.response_url,
      triggerId: c.trigger_id,
    };
    const answer = await core.handleInvocation(invocation, undefined, 'command');
    await ack({ response_type: 'ephemeral', ...answer } as never);
  });
  for (const type of ['reaction_added', 'reaction_removed'] as const) {
    app.event(type, async ({ body }) => {
      await core.handleEventEnvelope(body);
    });
  }
  // Every button the bot puts under its messages, from the table the HTTP ingress routes by.
  for (const { actionId } of BUTTON_ACTIONS) {
    app.action(actionId, async ({ ack, body }) => {
      await ack();
      await core.handleInteraction(body);
    });
  }
}
