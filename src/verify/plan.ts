import { clusterCheck } from './checks/cluster';
import { serviceCheck } from './checks/service';
import { taskDefinitionCheck } from './checks/taskdef';
import type { VerifyContext } from './context';
import type { CheckSpec, Family } from './types';
import { skip } from './types';

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
