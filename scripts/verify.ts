/**
 * `ecs-chatops verify` (bin/ecs-chatops.js, also `npm run verify -- …`): `/ecs verify` in a
 * terminal, for people and CI pipelines, with your AWS credentials (and the target's roleArn, if
 * any), or against the running playground with --local. Results go to stdout (JSON only with
 * --json); everything else (usage, errors, notes) goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { playgroundEndpointsFile, readPlaygroundEndpoints } from '../local/playground/endpoints-file';
import { closest } from '../src/commands/grammar';
import { isSelector } from '../src/fleet/selector';
import { parseConfig, type Config } from '../src/config/schema';
import { unescapeText } from '../src/slack/format';
import type { Style } from '../src/verify/render';
import { summarize, type CheckResult } from '../src/verify/types';

export const EXIT = { ok: 0, failed: 1, notChecked: 2, usage: 2 } as const;

export const VERIFY_USAGE = `usage: ecs-chatops verify <service|selector> [options]

Checks everything an ECS service depends on, as /ecs verify does in Slack, with your AWS
credentials (and the target's roleArn, if any). With a selector (env=prod, team=payments,env=prod,
'*'): every matching declared service, at most 5 AWS calls in flight per account; one line per
service, worst first (--json: every result).

options:
  --image <tag|image>  check what a deploy of this image would leave behind
  --put-logs           prove logging by writing one line per log group
  --json               the results as JSON, alone on stdout (for CI)
  --strict             exit 1 on a WARN too
  --config <file>      the configuration (default: $ECS_CHATOPS_CONFIG or ecs-chatops.config.yaml)
  --local              check the running playground (npm start) instead of AWS; or ECS_CHATOPS_LOCAL=1
  -h, --help           this help

exit codes:
  0  every check OK (WARNs allowed without --strict)
  1  a check FAILED (with --strict, or WARNed)
  2  nothing could be checked (no credentials, AWS unreachable, no playground), or bad usage
`;

export interface CliIo {
  stdout: (s: string) => void;
  /** Usage, errors and notes; a caller that gives none gets them on stdout. */
  stderr?: (s: string) => void;
  isTTY: boolean;
}

class UsageError extends Error {}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const stderr = io.stderr ?? io.stdout;
  try {
    return await verify(argv, io, stderr);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    stderr(`ecs-chatops verify: ${error.message}\n`);
    return EXIT.usage;
  }
}

/** The terminal verify's flags, as node:util parses them. */
function parseVerifyArgs(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      image: { type: 'string' },
      'put-logs': { type: 'boolean' },
      json: { type: 'boolean' },
      strict: { type: 'boolean' },
      config: { type: 'string' },
      local: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function verify(argv: string[], io: CliIo, stderr: (s: string) => void): Promise<number> {
  let parsed: ReturnType<typeof parseVerifyArgs>;
  try {
    parsed = parseVerifyArgs(argv);
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${VERIFY_USAGE}`);
  }
  const { positionals, values } = parsed;
  if (values.help) {
    io.stdout(VERIFY_USAGE);
    return EXIT.ok;
  }
  let configPath = values.config;
  if (values.local || /^(1|true|yes)$/i.test(process.env.ECS_CHATOPS_LOCAL ?? '')) {
    const playground = await aimAtPlayground();
    configPath ??= playground.config;
    stderr(`Checking the playground at ${playground.url} (its simulated AWS account), not AWS.\n`);
  }
  const config = readConfig(configPath);
  const services = Object.keys(config.targets);
  const [alias] = positionals;
  if (alias && positionals.length === 1 && isSelector(alias)) return verifyFleet(alias, config, values, io, stderr);
  if (!alias || positionals.length > 1)
    throw new UsageError(`${alias ? 'one service at a time' : 'which service?'}\n\n${VERIFY_USAGE}services: ${services.join(', ')}`);
  const target = config.targets[alias];
  if (!target) {
    const suggestion = closest(alias, services);
    throw new UsageError(`unknown service ${alias}.${suggestion ? ` Did you mean ${suggestion}?` : ''} services: ${services.join(', ')}`);
  }

  // The engine, its checks and the AWS SDK load only now: a usage error is answered at once.
  const [{ AwsSession }, { verifyService }, { renderSummary, renderTree, resultLine, toJson }] = await Promise.all([
    import('../src/aws/session'),
    import('../src/verify/verify'),
    import('../src/verify/render'),
  ]);
  const style: Style = io.isTTY && !values.json && !process.env.NO_COLOR ? 'ansi' : 'plain';
  const aws = new AwsSession(target, { teamId: 'cli', userId: `cli-${userInfo().username}`.replace(/[^\w+=,.@-]/g, '-') });
  let results: CheckResult[];
  try {
    results = await verifyService(
      { alias, target, aws, ...(values.image ? { image: values.image } : {}), ...(values['put-logs'] ? { putLogs: true } : {}) },
      { onResult: (r) => void (!values.json && io.isTTY && io.stdout(`${resultLine(r, style)}\n`)) },
    );
  } finally {
    aws.destroy();
  }
  if (values.json) {
    const meta = { target: alias, cluster: target.cluster, service: target.service, region: target.region, ...(values.image ? { image: values.image } : {}) };
    io.stdout(`${JSON.stringify(toJson(meta, results), null, 2)}\n`);
  } else {
    if (io.isTTY) io.stdout('\n');
    io.stdout(`${renderTree(results, style)}\n\n${renderSummary(results, style)}\n`);
  }
  return exitCode(results, Boolean(values.strict), stderr);
}

/**
 * `verify <selector>`: the matching services of the configuration, fanned out as the fleet
 * workflow does (src/fleet/fanout.ts, the same per-service task). Exit 1 when a service FAILED or
 * could not be reached (with --strict, WARNed too); 0 otherwise.
 */
async function verifyFleet(
  text: string,
  config: Config,
  values: ReturnType<typeof parseVerifyArgs>['values'],
  io: CliIo,
  stderr: (s: string) => void,
): Promise<number> {
  if (values.image || values['put-logs']) throw new UsageError('--image and --put-logs are for one service, not a selector');
  const [{ parseSelector, SelectorError }, { memoryCatalog }, { FleetRunner }, { fleetTask }, { resultsJson, worstFirst, countVerdicts }] = await Promise.all([
    import('../src/fleet/selector'),
    import('../src/fleet/memory-catalog'),
    import('../src/fleet/fanout'),
    import('../src/fleet/tasks'),
    import('../src/fleet/summary'),
  ]);
  let selector: ReturnType<typeof parseSelector>;
  try {
    selector = parseSelector(text);
  } catch (error) {
    if (error instanceof SelectorError) throw new UsageError(unescapeText(error.userMessage));
    throw error;
  }
  const services = await memoryCatalog(config).select(selector);
  if (services.length === 0) throw new UsageError(`no declared service matches ${text}`);
  stderr(`Verifying ${services.length} service${services.length === 1 ? '' : 's'} matching ${text}.\n`);
  const actor = { teamId: 'cli', userId: `cli-${userInfo().username}`.replace(/[^\w+=,.@-]/g, '-') };
  const task = fleetTask('verify', config, actor);
  const results = await new FleetRunner().run(services, task.run).finally(() => task.close());
  if (values.json) io.stdout(resultsJson({ kind: 'verify', selector: text }, results));
  else
    for (const r of worstFirst(results))
      io.stdout(`${r.verdict.toUpperCase().padEnd(5)} ${r.alias} (${r.accountId || 'this account'} ${r.region}): ${r.summary}\n`);
  const counts = countVerdicts(results);
  return counts.fail || counts.error || (values.strict && counts.warn) ? EXIT.failed : EXIT.ok;
}

/**
 * 1 on a FAIL; 2 when nothing could be checked (every result a "could not check" WARN or a SKIP:
 * no credentials, AWS unreachable), which is not a pass even with no FAIL; 1 on a WARN with
 * --strict; 0 otherwise.
 */
export function exitCode(results: CheckResult[], strict: boolean, stderr: (s: string) => void = () => undefined): number {
  const s = summarize(results);
  if (s.fail) return EXIT.failed;
  if (results.every((r) => r.unverified || r.status === 'SKIP')) {
    const reason = results.find((r) => r.unverified)?.message ?? 'every check was skipped';
    stderr(`ecs-chatops verify: nothing could be checked (${reason}). Check the AWS credentials, region and network: aws sts get-caller-identity\n`);
    return EXIT.notChecked;
  }
  return strict && s.warn ? EXIT.failed : EXIT.ok;
}

function readConfig(path = process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml'): Config {
  try {
    return parseConfig(parse(readFileSync(path, 'utf8')));
  } catch (error) {
    throw new UsageError(`configuration ${path}: ${(error as Error).message}`);
  }
}

/**
 * Points this process's AWS SDK at the running playground: its endpoints and the emulator's
 * credentials replace whatever AWS settings the shell has, so nothing is sent to AWS.
 */
async function aimAtPlayground() {
  const notRunning = 'no playground is running: start the playground with npm start first (in another terminal), then run this again';
  const playground = readPlaygroundEndpoints();
  if (!playground) throw new UsageError(`${notRunning} (looked for ${playgroundEndpointsFile()})`);
  const answers = await fetch(playground.url, { signal: AbortSignal.timeout(3_000) }).then(
    () => true,
    () => false,
  );
  if (!answers) throw new UsageError(`the playground at ${playground.url} does not answer; ${notRunning}`);
  const endpoint = playground.env.AWS_ENDPOINT_URL;
  if (!endpoint || !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/.test(endpoint)) {
    throw new UsageError(`the playground file ${playgroundEndpointsFile()} names no local AWS endpoint (${endpoint ?? 'none'}); restart npm start`);
  }
  for (const key of Object.keys(process.env)) {
    if (
      /^AWS_(PROFILE|DEFAULT_PROFILE|ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|ROLE_|WEB_IDENTITY|CONTAINER_|ENDPOINT_URL|IGNORE_CONFIGURED_ENDPOINT|CONFIG_FILE|SHARED_CREDENTIALS_FILE|REGION|DEFAULT_REGION)/.test(
        key,
      )
    ) {
      delete process.env[key];
    }
  }
  Object.assign(process.env, playground.env);
  return playground;
}
