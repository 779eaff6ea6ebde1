import { jobUsage } from '../jobs/task';
import { jobsFor } from '../jobs/visible';
import { escapeText } from '../slack/format';
import { describeScriptArgs } from './script-args';
import type { AckAnswer } from './types';
import type { NoArgs } from './verb';

/** `/ecs jobs`: the one-off jobs you may start here, each with its usage and argument patterns. */
export const jobs: AckAnswer<NoArgs> = (_args, { config, entry, invocation }) => {
  const mine = jobsFor(config, entry, invocation.channelId);
  // Not even how many jobs exist: only what this person may start here.
  if (mine.length === 0) return { text: 'You may not start any job in this channel. An admin can grant the `operator` role (`/ecs allow`).' };
  const lines = mine.flatMap((name) => {
    const j = config.jobs[name]!;
    return [
      `• \`${escapeText(jobUsage(name, j))}\`${j.description ? `: ${escapeText(j.description)}` : ''} (a task of \`${j.target}\`${j.taskDefinition ? ` from \`${escapeText(j.taskDefinition)}\`` : ''}, stops after ${Math.round(j.timeoutSeconds / 60)} min${j.requiresApproval ? ', needs an approval' : ''}${j.allowOverlap ? '' : ', one run at a time'})`,
      ...describeScriptArgs(j).map((d) => `    ${d}`),
    ];
  });
  return { text: ['*Jobs you may start*', ...lines].join('\n') };
};
