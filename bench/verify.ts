/**
 * `npm run bench:verify`: our concurrent verify against the same checks run one after another (as
 * ecspresso walks them), with 50 ms added to every AWS call, on a service with 3 containers,
 * 4 secrets, 2 target groups, ECS Exec and awsvpc networking; plus the time from the command
 * reaching the worker to the first result line in the Slack thread, and the AWS calls one run makes.
 * verify_critical_path_ratio: the concurrent time over its floor, the longest chain of AWS calls
 * that wait on one another (traced in an unbounded run, see support/critical-path.ts) × 50 ms.
 */
import { seedVerifyBench } from '../local/aws/seed-bench';
import { startWorld, type World } from '../local/world';
import { AwsSession } from '../src/aws/session';
import { parseConfig, type Config } from '../src/config/schema';
import { getConfig, setConfig } from '../src/config/load';
import { verifyService } from '../src/verify/verify';
import { CriticalPathTracer } from './support/critical-path';
import { median, report } from './support/report';

const LATENCY_MS = 50;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

async function timedRun(world: World, config: Config, concurrency: number): Promise<{ ms: number; calls: number; duplicates: number }> {
  const target = config.targets.bench!;
  const aws = new AwsSession(target, { teamId: world.teamId, userId: 'U0ALICE' });
  const before = world.aws.calls.length;
  const started = performance.now();
  const results = await verifyService({ alias: 'bench', target, aws }, { concurrency });
  const ms = performance.now() - started;
  aws.destroy();
  const problems = results.filter((r) => r.status === 'FAIL' || r.status === 'WARN');
  if (problems.length) throw new Error(`the bench service should pass every check:\n${problems.map((p) => `${p.id}: ${p.message}`).join('\n')}`);
  const calls = world.aws.calls.slice(before);
  const keys = calls.map((c) => `${c.service}:${c.action}:${JSON.stringify(c.params)}`);
  return { ms, calls: calls.length, duplicates: keys.length - new Set(keys).size };
}

/** An AWS session that lets every request through at once and traces each client's calls. */
class TracedSession extends AwsSession {
  constructor(
    target: ConstructorParameters<typeof AwsSession>[0],
    actor: ConstructorParameters<typeof AwsSession>[1],
    private readonly tracer: CriticalPathTracer,
  ) {
    super(target, actor, Number.POSITIVE_INFINITY);
  }

  override track<C extends object>(client: C): C {
    return this.tracer.trace(super.track(client));
  }
}

/**
 * The longest chain of dependent AWS calls of one verify, traced in a run without limits (engine
 * and session unbounded, so no request waits on an unrelated one), and that run's own time.
 */
async function criticalPath(world: World, config: Config): Promise<{ chain: string[]; ms: number }> {
  const target = config.targets.bench!;
  const tracer = new CriticalPathTracer().start();
  const aws = new TracedSession(target, { teamId: world.teamId, userId: 'U0ALICE' }, tracer);
  const started = performance.now();
  try {
    await verifyService({ alias: 'bench', target, aws }, { concurrency: Number.MAX_SAFE_INTEGER });
  } finally {
    tracer.stop();
    aws.destroy();
  }
  const ms = performance.now() - started;
  return { chain: tracer.longestChain().map((c) => c.name), ms };
}

/** From the worker's invocation to the first thread update that shows a check result. */
async function firstLineSeconds(world: World): Promise<number> {
  const invocationsBefore = world.aws.lambda.invocations.length;
  const callsBefore = world.slack.calls.length;
  await world.slash('U0ALICE', 'verify bench');
  await world.idle();
  const invocation = world.aws.lambda.invocations[invocationsBefore];
  if (!invocation) throw new Error('the worker was not invoked');
  const resultCall = world.slack.calls
    .slice(callsBefore)
    .find(
      (c) =>
        /^(chat\.postMessage|chat\.update)$/.test(c.method) &&
        /(?:✅|⚠️|❌|⏭️) Cluster|(?:✅|⚠️|❌|⏭️) Service|(?:✅|⚠️|❌|⏭️) Task definition/u.test(String(c.args.text ?? '')),
    );
  if (!resultCall) throw new Error('no result line reached Slack');
  return (resultCall.at - invocation.startedAt.getTime()) / 1000;
}

async function main(): Promise<void> {
  process.env.LOG_LEVEL = 'silent';
  const world = await startWorld();
  try {
    seedVerifyBench(world.aws.state);
    const base = getConfig();
    const config = parseConfig({ ...base, targets: { ...base.targets, bench: { region: 'us-east-1', cluster: 'main', service: 'bench' } } });
    setConfig(config);
    world.aws.faults.latency(LATENCY_MS);

    const concurrent: number[] = [];
    const sequential: number[] = [];
    let calls = 0;
    let duplicates = 0;
    for (let i = 0; i < RUNS; i++) {
      const c = await timedRun(world, config, Number(process.env.BENCH_CONCURRENCY ?? 16));
      concurrent.push(c.ms);
      calls = c.calls;
      duplicates = Math.max(duplicates, c.duplicates);
      sequential.push((await timedRun(world, config, 1)).ms);
    }
    const path = await criticalPath(world, config);
    const floorMs = path.chain.length * LATENCY_MS;
    const firsts: number[] = [];
    for (let i = 0; i < RUNS; i++) firsts.push(await firstLineSeconds(world));
    console.log(
      `# medians of ${RUNS}: concurrent ${median(concurrent).toFixed(0)} ms, one after another ${median(sequential).toFixed(0)} ms, ${calls} AWS calls per run (${duplicates} repeated), ${LATENCY_MS} ms added to each`,
    );
    console.log(
      `# longest chain of dependent AWS calls: ${path.chain.length} (${path.chain.join(' → ')}); floor ${floorMs} ms; an unbounded run took ${path.ms.toFixed(0)} ms`,
    );
    report('verify_speedup', median(sequential) / median(concurrent), 'x');
    report('verify_first_line_s', median(firsts), 's');
    report('verify_critical_path_ratio', median(concurrent) / floorMs, 'x');
    report('verify_aws_calls', calls, 'calls', 0);
    report('verify_repeated_calls', duplicates, 'calls', 0);
  } finally {
    await world.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
