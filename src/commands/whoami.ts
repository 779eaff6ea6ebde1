import { describeGrant, ROLE_FOR } from '../auth/roles';
import type { AckAnswer } from './types';
import type { NoArgs } from './verb';

export const whoami: AckAnswer<NoArgs> = (_args, { invocation, entry }) => {
  if (!entry || entry.grants.length === 0) {
    return {
      text: `You are <@${invocation.userId}> (\`${invocation.userId}\`) and you are not on the allowlist, so you may use \`/ecs help\` and \`/ecs whoami\` only. Ask an admin to run \`/ecs allow <@${invocation.userId}> ${ROLE_FOR.read} <service>\`.`,
    };
  }
  return {
    text: [
      `You are <@${invocation.userId}> (\`${invocation.userId}\`). Your grants:`,
      ...entry.grants.map((g) => `• ${describeGrant(g)}`),
      `Last changed ${entry.updatedAt} by <@${entry.addedBy}>.`,
    ].join('\n'),
  };
};
