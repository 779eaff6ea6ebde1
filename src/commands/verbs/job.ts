import { lookup } from '../../config/records';
import { validateJobArgs } from '../../jobs/task';
import { jobs } from '../jobs';
import { defineVerb, noWords, resolveJob, usageError, type NoArgs } from '../verb';
import type { JobArgs } from './args';

export const jobVerb = defineVerb<JobArgs>({
  name: 'job',
  summary: 'Start a declared one-off job in a dedicated ECS task (RunTask), its log live in the thread',
  usage: '/ecs job <job> [args…]',
  details: [
    '`/ecs jobs` lists the jobs you may start and their arguments. The thread shows the task starting, its log lines as they come, then each container’s exit code and the stop code.',
    'A task that never starts, a missing exit code or a non-zero one is a failure. `/ecs cancel <run-id>` or the Cancel button stops the task (StopTask).',
    'A job that may run longer than one Lambda, or that asks for an approval first (by reaction, as deploys), is followed by a durable workflow: its new lines show at each poll.',
  ],
  permission: 'run',
  checks: 'target',
  runsIn: 'worker',
  parse(words, config, visible) {
    const [name, ...args] = words.positional;
    if (!name) throw usageError(this, 'Which job? `/ecs jobs` lists yours.');
    const job = resolveJob(name, config, visible);
    return { job: name, args: validateJobArgs(name, job, args) };
  },
  // Checked where the job runs now. An operator's grant limited to scripts must name the job.
  scope: ({ job }, config) => ({ ...(lookup(config.jobs, job) ? { target: config.jobs[job]!.target } : {}), script: job }),
  handler: () => import('../job').then((m) => m.job),
});

export const jobsVerb = defineVerb<NoArgs>({
  name: 'jobs',
  summary: 'List the one-off jobs you may start, with their usage',
  usage: '/ecs jobs',
  permission: null,
  runsIn: 'ack',
  parse(words) {
    return noWords(this, words);
  },
  answer: jobs,
});
