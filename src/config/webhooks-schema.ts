import * as z from 'zod/mini';

/**
 * `webhooks:` of the configuration: ticket systems that start declared actions (src/webhooks/).
 * A ticket can only pick one of its source's declared actions and fill its declared argument
 * slots from named fields; it never names a command, a script or a service itself.
 */

const pattern = (re: RegExp, message: string) => z.string().check(z.regex(re, message));
const sourceName = pattern(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 40)');
/** A field of the ticket's `fields` object, by its key. */
const fieldName = pattern(/^[A-Za-z_][\w.-]{0,63}$/, 'must be a field name such as status or customfield_10010');

/** One argument slot: a field of the ticket, or a fixed value. */
const argumentSource = z.union([z.strictObject({ field: fieldName }), z.strictObject({ value: z.string().check(z.maxLength(500)) })]);

const actionSchema = z.strictObject({
  /** With the ticket id, the idempotency key: a ticket runs each action at most once. */
  name: pattern(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 40)'),
  /** Every field named must equal the value (or one of the values) given. */
  when: z
    .record(fieldName, z.union([z.string().check(z.maxLength(200)), z.array(z.string().check(z.maxLength(200))).check(z.minLength(1), z.maxLength(20))]))
    .check(z.refine((when) => Object.keys(when).length > 0, 'name at least one field: an action that matches every ticket is a mistake')),
  /** A declared script (`/ecs run`), a declared job (`/ecs job`) or a target to deploy (`/ecs deploy`): exactly one. */
  run: z.optional(pattern(/^[\w][\w.-]{0,63}$/, 'must be a script name such as backup.sh')),
  job: z.optional(sourceName),
  deploy: z.optional(sourceName),
  /** The script's or job's arguments, in order, each checked by its declared pattern. */
  args: z._default(z.array(argumentSource).check(z.maxLength(20)), []),
  /** For `deploy`: the image tag. */
  tag: z.optional(argumentSource),
});

export const webhookSourceSchema = z.strictObject({
  description: z.optional(z.string().check(z.maxLength(200))),
  /** SSM Parameter Store name (SecureString) of the shared secret; under the stage's webhookSecretsPath (serverless.yml). */
  secretParam: z.string().check(
    z.regex(/^\/[\w.-]+(\/[\w.-]+)+$/, 'must be an SSM parameter name such as /ecs-chatops/prod/webhooks/jira'),
    // `<secretParam>/previous` holds the secret a rotation replaces (src/webhooks/secrets.ts): no source's own.
    z.regex(/(?<!\/previous)$/, 'may not end in /previous: that name holds the secret being rotated out of another source’s parameter'),
  ),
  /** Where the thread opens. */
  channel: pattern(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C0123ABCD (channel details → About)'),
  /** The Slack workspace, when the bot serves more than one. */
  team: z.optional(pattern(/^T[A-Z0-9]+$/, 'must be a Slack team id such as T0123ABCD')),
  /** Tried in order: the first whose `when` matches runs. */
  actions: z.array(actionSchema).check(z.minLength(1, 'declare at least one action'), z.maxLength(50)),
});

export const webhooksSchema = z._default(z.record(sourceName, webhookSourceSchema), {});

export type WebhookSource = z.infer<typeof webhookSourceSchema>;
export type WebhookAction = z.infer<typeof actionSchema>;
export type ArgumentSource = z.infer<typeof argumentSource>;

interface Declared {
  slack: { teams: string[] };
  targets: Record<string, unknown>;
  scripts: Record<string, { args: unknown[]; extraArgs: { max: number } }>;
  jobs: Record<string, { args: unknown[] }>;
  webhooks: Record<string, WebhookSource>;
}

/** What zod cannot see: each action names something declared, with no more arguments than it takes. */
export function webhookProblems(config: Declared): string[] {
  const has = (record: Record<string, unknown>, key: string) => Object.hasOwn(record, key);
  return Object.entries(config.webhooks).flatMap(([source, hook]) => {
    const at = `webhooks.${source}`;
    const problems: string[] = [];
    if (hook.team && !config.slack.teams.includes(hook.team)) problems.push(`${at}.team: \`${hook.team}\` is not one of slack.teams`);
    if (!hook.team && config.slack.teams.length > 1) problems.push(`${at}.team: required, the bot serves several workspaces`);
    const names = new Set<string>();
    hook.actions.forEach((action, i) => {
      const here = `${at}.actions.${i}`;
      if (names.has(action.name)) problems.push(`${here}.name: \`${action.name}\` is used by another action of this source`);
      names.add(action.name);
      const kinds = [action.run, action.job, action.deploy].filter((k) => k !== undefined);
      if (kinds.length !== 1) {
        problems.push(`${here}: give exactly one of run (a script), job or deploy (a target)`);
        return;
      }
      if (action.deploy !== undefined) {
        if (!has(config.targets, action.deploy)) problems.push(`${here}.deploy: no target \`${action.deploy}\``);
        if (!action.tag) problems.push(`${here}.tag: a deploy needs the image tag (\`{ field: … }\`)`);
        if (action.args.length) problems.push(`${here}.args: a deploy takes a tag, not args`);
        return;
      }
      if (action.tag) problems.push(`${here}.tag: only a deploy takes a tag`);
      const isRun = action.run !== undefined;
      const name = (action.run ?? action.job)!;
      const kind = isRun ? `script \`${name}\`` : `job \`${name}\``;
      if (!has(isRun ? config.scripts : config.jobs, name)) {
        problems.push(`${here}.${isRun ? 'run' : 'job'}: no ${kind}`);
        return;
      }
      const most = isRun ? config.scripts[name]!.args.length + config.scripts[name]!.extraArgs.max : config.jobs[name]!.args.length;
      if (action.args.length > most) problems.push(`${here}.args: ${kind} takes at most ${most} arguments`);
    });
    return problems;
  });
}
