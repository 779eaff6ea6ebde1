import type { Job } from '../platform/jobs';
import { productionWorkerDeps } from '../worker/production';
import { createWorker, type LambdaContextLike } from '../worker/worker';

/** Invoked asynchronously by the ingress with one job; never retried automatically (see serverless.yml). */
const runJob = createWorker(productionWorkerDeps());

export async function handler(job: Job, context: LambdaContextLike): Promise<void> {
  await runJob(job, context);
}
