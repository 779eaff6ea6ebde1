import { lookup } from '../../config/records';
import { validateScriptArgs } from '../script-args';
import { defineVerb, resolveScript, usageError } from '../verb';
import type { RunArgs } from './args';

export const runVerb = defineVerb<RunArgs>({
  name: 'run',
  summary: 'Run a declared maintenance script in the manager container (ECS Exec), output live in the thread',
  usage: '/ecs run <script> [args…]',
  details: [
    '`/ecs scripts` lists the scripts you may run and their arguments. `/ecs cancel <run-id>` or the Cancel button stops a run.',
    'A script declared `requiresApproval` waits for another person’s ✅ on its message (the deploy rules of its service), then runs.',
  ],
  permission: 'run',
  checks: 'target',
  runsIn: 'worker',
  parse(words, config, visible) {
    const [name, ...args] = words.positional;
    if (!name) throw usageError(this, `Which script? \`/ecs scripts\` lists yours.`);
    const script = resolveScript(name, config, visible);
    return { script: name, args: validateScriptArgs(name, script, args) };
  },
  // Where the script runs now: a script moved to another service since the ack is checked there.
  scope: ({ script }, config) => ({ ...(lookup(config.scripts, script) ? { target: config.scripts[script]!.target } : {}), script }),
  handler: () => import('../run').then((m) => m.run),
});
