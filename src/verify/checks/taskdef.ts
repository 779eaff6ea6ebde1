import { PLANNERS } from '../planners';
import type { CheckSpec } from '../types';
import { ok } from '../types';
import { quantity } from '../text';

/** Reads the task definition once; every container-level check is planned from it. */
export function taskDefinitionCheck(): CheckSpec {
  return {
    id: 'taskdef',
    family: 'taskdef',
    title: 'Task definition',
    group: ['TaskDefinition'],
    needs: ['service'],
    async run(ctx) {
      const td = await ctx.taskDefinition();
      const family = `${td.family}:${td.revision}`;
      const what = ctx.options.image ? `the task definition a deploy of \`${ctx.options.image}\` would register (from \`${family}\`)` : `\`${family}\``;
      return ok(
        `${what}: ${quantity(td.containerDefinitions?.length ?? 0, 'container')}, ${td.requiresCompatibilities?.join('/') || 'EC2'}, network mode ${td.networkMode ?? 'bridge'}`,
      );
    },
    async then(ctx) {
      const input = { ctx, taskDefinition: await ctx.taskDefinition(), service: (await ctx.service())! };
      const skipped = new Set(ctx.options.skip.map((s) => s.family));
      return Object.entries(PLANNERS).flatMap(([family, plan]) => (skipped.has(family) ? [] : plan(input)));
    },
  };
}
