import type { Service, TaskDefinition } from '@aws-sdk/client-ecs';
import { clusterCheck } from './checks/cluster';
import { execChecks } from './checks/exec';
import { imageChecks } from './checks/images';
import { loadBalancerChecks } from './checks/loadbalancing';
import { logChecks } from './checks/logs';
import { networkChecks } from './checks/network';
import { requiredPermissionChecks } from './checks/permissions';
import { roleChecks } from './checks/roles';
import { secretChecks } from './checks/secrets';
import { serviceCheck } from './checks/service';
import { taskDefinitionCheck } from './checks/taskdef';
import type { VerifyContext } from './context';
import type { CheckSpec, Family } from './types';
import { skip } from './types';

export interface PlanInput {
  ctx: VerifyContext;
  taskDefinition: TaskDefinition;
  service: Service;
}

export type Planner = (input: PlanInput) => CheckSpec[];

/** Check families planned once the task definition is known, in display order. */
export const PLANNERS: Partial<Record<Family, Planner>> = {
  roles: roleChecks,
  images: imageChecks,
  logs: logChecks,
  secrets: secretChecks,
  loadbalancing: loadBalancerChecks,
  exec: execChecks,
  network: networkChecks,
  permissions: requiredPermissionChecks,
};

/** The roots of a verify run; families skipped by configuration appear as SKIP with their reason. */
export function rootChecks(ctx: VerifyContext): CheckSpec[] {
  const skipped = ctx.options.skip.map(
    (s): CheckSpec => ({
      id: `skipped:${s.family}`,
      family: s.family as Family,
      title: `${s.family} checks`,
      group: ['Skipped by configuration'],
      run: async () => skip(`skipped by configuration: ${s.reason}`),
    }),
  );
  return [clusterCheck(), serviceCheck(), taskDefinitionCheck(), ...skipped];
}
