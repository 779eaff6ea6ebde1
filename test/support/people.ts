/**
 * People of the local Slack workspace for end-to-end tests, and the answers the worker gives them
 * privately (through the command's response_url, in place of the ack's note).
 */
import { randomUUID } from 'node:crypto';
import type { World } from '../../local/world';
import { dynamoAudit } from '../../src/audit/audit';
import type { CommandJob } from '../../src/platform/jobs';
import { ephemeral } from './channel';

/** A person of the workspace, in its channels; on the allowlist with `grants` if given. */
export async function addPerson(world: World, id: string, grants?: unknown[]): Promise<void> {
  const ws = world.slack.workspace;
  ws.users.push({ id, name: id.toLowerCase(), realName: id, isBot: false });
  for (const channel of ws.channels) if (!channel.members.includes(id)) channel.members.push(id);
  if (!grants) return;
  const { dynamoAllowlist } = await import('../../src/auth/allowlist');
  await dynamoAllowlist.put({ teamId: world.teamId, userId: id, grants: grants as never, addedBy: 'test', updatedAt: new Date().toISOString() }, null);
}

/** A slash command answered privately by the worker: its ack, then what replaced it (the response_url's post). */
export async function answeredPrivately(world: World, user: string, text: string) {
  const before = world.slack.workspace.responses.length;
  const ack = ephemeral(await world.slash(user, text));
  const answer = await world.slack.waitFor(() => world.slack.workspace.responses.slice(before).find((r) => r.text !== undefined), 20_000);
  await world.idle();
  return { ack, answer };
}

/**
 * A command as the ingress hands it to the worker (its audit record written, `accepted`), to send
 * to the worker directly: what the worker decides on its own, whatever the ack decided.
 */
export async function acceptedCommand(
  world: World,
  request: { userId: string; channelId: string; text: string } & Pick<CommandJob, 'verb' | 'args'>,
): Promise<CommandJob> {
  const { userId, channelId, text, verb, args } = request;
  const id = randomUUID();
  const audit = await dynamoAudit(30).record({
    id,
    at: new Date().toISOString(),
    teamId: world.teamId,
    userId,
    channelId,
    commandText: `/ecs ${text}`,
    decision: 'allowed',
    outcome: 'accepted',
  });
  const responseUrl = world.slack.responseUrl(`job-${id}`, { channel: channelId, user: userId });
  return {
    kind: 'command',
    id,
    verb,
    args,
    audit,
    receivedAt: Date.now(),
    invocation: { teamId: world.teamId, userId, channelId, command: '/ecs', text, responseUrl },
  };
}
