/**
 * The Slack bot token scopes the bot needs, and why: one entry per Web API method the code calls,
 * with the bot scope Slack's method reference names as required for it. The app's manifest
 * (infra/slack-app-manifest.yaml, `oauth_config.scopes.bot`) asks for exactly the union of these,
 * plus the slash command's and the events' scopes below; test/slack-scopes.test.ts finds every
 * method called in src/ and holds the manifest to it. Calling a new method means a line here
 * (and, when it needs a new scope, a manifest change and a reinstall of the app).
 *
 * Methods the code does NOT call, and what they would need, for whoever adds one:
 * - Bolt's App (Socket Mode development, local/socket-mode.ts) calls auth.test, which needs no
 *   scope, and apps.connections.open with the app-level token (connections:write), which is not
 *   a bot scope.
 */
export const METHOD_SCOPES: Readonly<Record<string, readonly string[]>> = {
  'chat.postMessage': ['chat:write'], // thread output, approvals; only where the bot is a member (no chat:write.public)
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.getPermalink': [], // Slack: no scope required
  'reactions.add': ['reactions:write'], // the approval request's reaction choices
  'reactions.remove': ['reactions:write'], // …taken away once the request is decided
  'files.getUploadURLExternal': ['files:write'], // output too long for a message goes to the thread as a file
  'files.completeUploadExternal': ['files:write'],
  // The ack asks whether the bot can post where a command was typed (src/slack/channel-access.ts).
  // It needs the read scope of the conversation's type: channels:read (public), groups:read
  // (private). DMs are not asked (im:read, mpim:read are not requested).
  'conversations.info': ['channels:read', 'groups:read'],
  'users.info': ['users:read'], // `/ecs allow` grants roles only to human members of the workspace
};

/** The slash command (`/ecs`). */
export const SLASH_COMMAND_SCOPES: readonly string[] = ['commands'];

/** Bot events the app subscribes to (manifest `settings.event_subscriptions.bot_events`): approvals by reaction. */
export const EVENT_SCOPES: Readonly<Record<string, readonly string[]>> = {
  reaction_added: ['reactions:read'],
  reaction_removed: ['reactions:read'],
};

/** Every bot scope the app needs: what the manifest must ask for, no more. */
export function requiredBotScopes(): string[] {
  return [...new Set([...Object.values(METHOD_SCOPES).flat(), ...SLASH_COMMAND_SCOPES, ...Object.values(EVENT_SCOPES).flat()])].sort();
}
