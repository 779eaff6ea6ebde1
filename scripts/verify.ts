/**
 * The terminal front end of `/ecs verify`, for people and CI pipelines:
 *   npm run verify -- <service> [--image <tag|image>] [--put-logs] [--json] [--strict] [--config file]
 * Uses your AWS credentials (and the target's roleArn, if any). Exit code: 0 all good, 1 a check
 * FAILED (or, with --strict, WARNed), 2 bad usage or configuration.
 */
import { parseArgs } from 'node:util';
import { userInfo } from 'node:os';
import { AwsSession } from '../src/aws/session';
import { renderSummary, renderTree, resultLine, toJson, type Style } from '../src/verify/render';
import { summarize } from '../src/verify/types';
import { verifyService } from '../src/verify/verify';
import { loadConfigFile } from './build';

export async function main(argv: string[], io: { stdout: (s: string) => void; isTTY: boolean }): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      image: { type: 'string' },
      'put-logs': { type: 'boolean' },
      json: { type: 'boolean' },
      strict: { type: 'boolean' },
      config: { type: 'string' },
    },
  });
  const config = loadConfigFile(values.config);
  const [alias] = positionals;
  const choices = Object.keys(config.targets).join(', ');
  if (!alias || positionals.length > 1) {
    io.stdout(`usage: npm run verify -- <service> [--image <tag|image>] [--put-logs] [--json] [--strict]\nservices: ${choices}\n`);
    return 2;
  }
  const target = config.targets[alias];
  if (!target) {
    io.stdout(`unknown service ${alias}; services: ${choices}\n`);
    return 2;
  }
  const style: Style = io.isTTY && !process.env.NO_COLOR ? 'ansi' : 'plain';
  const aws = new AwsSession(target, { teamId: 'cli', userId: `cli-${userInfo().username}`.replace(/[^\w+=,.@-]/g, '-') });
  try {
    const results = await verifyService(
      { alias, target, aws, ...(values.image ? { image: values.image } : {}), ...(values['put-logs'] ? { putLogs: true } : {}) },
      { onResult: (r) => void (!values.json && io.isTTY && io.stdout(`${resultLine(r, style)}\n`)) },
    );
    if (values.json) {
      io.stdout(`${JSON.stringify(toJson({ target: alias, cluster: target.cluster, service: target.service, region: target.region, ...(values.image ? { image: values.image } : {}) }, results), null, 2)}\n`);
    } else {
      if (io.isTTY) io.stdout('\n');
      io.stdout(`${renderTree(results, style)}\n\n${renderSummary(results, style)}\n`);
    }
    const s = summarize(results);
    return s.fail || (values.strict && s.warn) ? 1 : 0;
  } finally {
    aws.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2), { stdout: (s) => process.stdout.write(s), isTTY: Boolean(process.stdout.isTTY) }).then(
    (code) => process.exit(code),
    (error: Error) => {
      console.error(error.message);
      process.exit(2);
    },
  );
}
