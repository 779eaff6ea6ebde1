import { isAllowed, type AllowlistEntry } from '../auth/roles';
import { declaredLabels, withLabels } from '../fleet/memory-catalog';
import type { LabelsOf } from '../fleet/types';
import type { Config, Job } from '../config/schema';

/**
 * May this person start `job` here? `operator` (the default): the run permission on the job's
 * target, covering the job's name when their grant lists scripts; `admin`: admins only.
 */
export function mayStartJob(entry: AllowlistEntry | undefined, channelId: string, name: string, job: Job, labelsOf?: LabelsOf): boolean {
  const scope = withLabels({ channelId, service: job.target }, labelsOf);
  if (job.permission === 'admin') return isAllowed(entry, 'admin', scope).allowed;
  return isAllowed(entry, 'run', { ...scope, script: name }).allowed;
}

/** Names of the jobs this person may start in this channel. */
export function jobsFor(config: Config, entry: AllowlistEntry | undefined, channelId: string): string[] {
  return Object.entries(config.jobs)
    .filter(([name, job]) => mayStartJob(entry, channelId, name, job, declaredLabels(config)))
    .map(([name]) => name);
}
