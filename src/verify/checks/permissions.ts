import { checkPermission } from '../permissions';
import type { CheckSpec, Planner } from '../types';
import { fail, ok } from '../types';
import { marks } from '../text';

/** Permissions the configuration says a role must have (`verify.requiredPermissions`), simulated as that role. */
export const requiredPermissionChecks: Planner = ({ ctx, taskDefinition }) =>
  ctx.target.verify.requiredPermissions.map((required, i): CheckSpec => {
    const label = required.role === 'task' ? 'task role' : 'execution role';
    return {
      id: `permissions:${i}`,
      family: 'permissions',
      title: `Required permission ${i + 1}`,
      group: ['Required permissions'],
      async run() {
        const roleArn = required.role === 'task' ? taskDefinition.taskRoleArn : taskDefinition.executionRoleArn;
        if (!roleArn)
          return fail(
            `the task definition has no ${label}, but the configuration requires one with ${required.actions.join(', ')}`,
            `Set the ${label} in the task definition.`,
          );
        const problem = await checkPermission(ctx, { label, roleArn, actions: required.actions, resources: required.resources });
        return problem ?? ok(`the ${label} may ${marks(required.actions)} on ${marks(required.resources)}`);
      },
    };
  });
