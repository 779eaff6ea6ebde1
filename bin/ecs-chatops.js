#!/usr/bin/env node
/**
 * ecs-chatops: the project's command line, e.g. `npx ecs-chatops verify web --json` in the repository.
 *
 * npx (npm 7+) finds a command named in the project's own package.json "bin": it links the project
 * into its npx cache and runs this file through that link. Node follows the link, so `tsx` and the
 * TypeScript subcommands resolve from the project itself; they run in this process through tsx's
 * loader, as `npm run` scripts do with `tsx`. A subcommand module exports
 * `main(argv, io) → exit code` (argv starting with the command's name for a module serving several).
 */
import { register } from 'tsx/esm/api';

const COMMANDS = {
  verify: { module: '../scripts/verify.ts', summary: 'check everything an ECS service depends on (/ecs verify in a terminal)' },
  // The signed API's commands: one module, told which command it is (its argv starts with it).
  run: { module: '../scripts/api-cli.ts', withName: true, summary: 'run a maintenance script through the bot (its thread, approvals, audit)' },
  job: { module: '../scripts/api-cli.ts', withName: true, summary: 'run a one-off job through the bot' },
  deploy: { module: '../scripts/api-cli.ts', withName: true, summary: 'deploy an image or tag through the bot (approved in the channel)' },
  status: { module: '../scripts/api-cli.ts', withName: true, summary: 'the state, thread and exit code of a request (--wait follows it)' },
};

const USAGE = `usage: ecs-chatops <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(8)} ${summary}`)
  .join('\n')}

ecs-chatops <command> --help shows a command's options.
`;

/** Exits once what was written has been flushed (a pipe may be asynchronous), whatever is still open. */
function exit(code) {
  process.exitCode = code;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

const [command, ...args] = process.argv.slice(2);
if (command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(USAGE);
  exit(0);
} else if (!command || !Object.hasOwn(COMMANDS, command)) {
  process.stderr.write(`${command ? `ecs-chatops: unknown command ${command}\n\n` : ''}${USAGE}`);
  exit(2);
} else {
  register();
  try {
    const { main } = await import(new URL(COMMANDS[command].module, import.meta.url).href);
    const io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s), isTTY: Boolean(process.stdout.isTTY) };
    exit(await main(COMMANDS[command].withName ? [command, ...args] : args, io));
  } catch (error) {
    process.stderr.write(`ecs-chatops ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    exit(2);
  }
}
