/**
 * The check families planned from the task definition, apart from the roots (plan.ts), so the
 * task definition check that plans them and the families themselves import no cycle.
 */
import { execChecks } from './checks/exec';
import { imageChecks } from './checks/images';
import { loadBalancerChecks } from './checks/loadbalancing';
import { logChecks } from './checks/logs';
import { networkChecks } from './checks/network';
import { requiredPermissionChecks } from './checks/permissions';
import { roleChecks } from './checks/roles';
import { secretChecks } from './checks/secrets';
import type { Family, Planner } from './types';

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
