import type { CheckSpec } from '../types';
import { fail, ok } from '../types';
import { quantity } from '../text';

/** The cluster exists and is ACTIVE. */
export function clusterCheck(): CheckSpec {
  return {
    id: 'cluster',
    family: 'cluster',
    title: 'Cluster',
    group: ['Cluster'],
    async run(ctx) {
      const { cluster: name } = ctx.target;
      const cluster = await ctx.cluster();
      if (!cluster)
        return fail(`cluster \`${name}\` does not exist in ${ctx.region}`, `Check \`targets.${ctx.alias}.cluster\` and \`region\` in the configuration.`);
      if (cluster.status !== 'ACTIVE')
        return fail(
          `cluster \`${name}\` is ${cluster.status}, not ACTIVE`,
          'An INACTIVE cluster was deleted: recreate it or point the target at another cluster.',
        );
      return ok(
        `cluster \`${name}\` is ACTIVE (${quantity(cluster.runningTasksCount ?? 0, 'running task')}, ${quantity(cluster.activeServicesCount ?? 0, 'service')})`,
      );
    },
  };
}
