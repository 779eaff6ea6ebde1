/** `npm run bench:start`: how long `npm start` takes until the page is served and the handlers are warm. */
import { startPlaygroundProcess } from '../local/start-process';
import { median, report } from './support/report';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function main(): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = await startPlaygroundProcess({ PORT: '0' });
    const page = await fetch(started.url);
    if (!page.ok) throw new Error(`page answered ${page.status}`);
    times.push(started.readySeconds);
    await started.stop();
  }
  report('start_ready_s', median(times), 's');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
