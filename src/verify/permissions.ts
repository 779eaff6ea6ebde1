import type { ContextEntry } from '@aws-sdk/client-iam';
import { roleName } from '../aws/arn';
import type { VerifyContext, SimulationDenial } from './context';
import { describeCheckError } from './errors';
import type { CheckOutcome } from './types';
import { fail, unverified } from './types';

export interface PermissionQuestion {
  /** How people call the role: "execution role". */
  label: string;
  roleArn: string;
  actions: string[];
  resources: string[];
  context?: ContextEntry[];
  resourcePolicy?: string;
}

/**
 * Asks IAM's policy simulator whether the role (not the bot) may do the actions. Returns undefined
 * when everything is allowed; otherwise a FAIL that names what is denied and the fix, or, when
 * the simulation itself could not run, a WARN "not verified as the <role>" with what the bot needs.
 */
export async function checkPermission(ctx: VerifyContext, q: PermissionQuestion): Promise<CheckOutcome | undefined> {
  let denials: SimulationDenial[];
  try {
    // Both at once: the simulation does not wait for the role lookup (a missing role fails it anyway).
    const simulation = ctx.simulate(q.roleArn, q.actions, q.resources, {
      ...(q.context ? { context: q.context } : {}),
      ...(q.resourcePolicy ? { resourcePolicy: q.resourcePolicy } : {}),
    });
    simulation.catch(() => undefined);
    const role = await ctx.role(q.roleArn);
    if (!role) return fail(`the ${q.label} \`${roleName(q.roleArn)}\` does not exist`, `Create the role or fix the task definition's ${q.label} ARN.`);
    ({ denials } = await simulation);
  } catch (error) {
    const why = describeCheckError(error);
    return unverified(`not verified as the ${q.label}: ${why.message.replace(/^could not check: /, '')}`, why.fix);
  }
  if (denials.length === 0) return undefined;
  return fail(describeDenials(q.label, q.roleArn, denials), fixFor(q.roleArn, denials));
}

export function describeDenials(label: string, roleArn: string, denials: SimulationDenial[]): string {
  const parts = denials.map((d) => `\`${d.action}\` on \`${d.resource}\`${d.decision === 'explicitDeny' ? ' (explicitly denied)' : ''}`);
  return `the ${label} \`${roleName(roleArn)}\` may not ${parts.join(', ')}`;
}

export function fixFor(roleArn: string, denials: SimulationDenial[]): string {
  const explicit = denials.filter((d) => d.decision === 'explicitDeny');
  if (explicit.length) {
    return `A Deny statement in the policies of \`${roleName(roleArn)}\` (or the resource's policy) blocks ${[...new Set(explicit.map((d) => `\`${d.action}\``))].join(', ')}: remove or narrow it.`;
  }
  const statement = {
    Effect: 'Allow',
    Action: [...new Set(denials.map((d) => d.action))],
    Resource: [...new Set(denials.map((d) => d.resource))],
  };
  const document = JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
  return `Allow it on the role: \`aws iam put-role-policy --role-name ${roleName(roleArn)} --policy-name ecs-chatops-verify-fix --policy-document '${document}'\``;
}
