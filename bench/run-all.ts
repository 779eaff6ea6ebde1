/** `npm run bench`: every benchmark of the project, one after another. */
import { spawnSync } from 'node:child_process';

const BENCHES = ['ingress', 'start', 'verify', 'exec', 'run-thread', 'deploy', 'gates', 'notify', 'jobs', 'logs', 'history', 'api'];
let failed = false;
for (const name of BENCHES) {
  console.log(`# bench:${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', `bench/${name}.ts`], { stdio: 'inherit' });
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
