// zod/mini: the same validation as zod with a tree-shakable API, a small part of the bundle size.
import { DEPLOY_DEFAULTS, SCALE_DEFAULTS, VERIFY_DEFAULTS } from './defaults';
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { NOTICE_KINDS, SEVERITIES } from './notify-levels';
import { ownOnly } from './records';
import { BUILT_IN_LABELS } from '../fleet/types';
import { JOB_PLACEHOLDER } from '../jobs/placeholder';
import { PAUSABLE_STAGES } from '../deploy/strategy';
import { webhookProblems, webhooksSchema } from './webhooks-schema';
import { fleetSchema } from './fleet-schema';
import { CATALOG_SCHEDULE } from '../fleet/names';
import { checkArguments } from '../exec/command';
import { isTimeZone, parseScheduleExpression, ScheduleExpressionError } from '../schedules/expression';

z.config(en());

const pattern = (re: RegExp, message: string) => z.string().check(z.regex(re, message));

/** Check families of `/ecs verify` that a target may skip (kept in step with src/verify/types.ts by a test). */
export const VERIFY_FAMILIES = ['roles', 'images', 'logs', 'secrets', 'loadbalancing', 'exec', 'network', 'permissions'] as const;

/** Short names people type in Slack: `web`, `api-internal`. */
const alias = pattern(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 40)');
const region = pattern(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1');
const roleArn = pattern(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');
const name = z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(255));

/** A Slack emoji name as reactions carry it: `white_check_mark`, `+1`, `shipit`. */
const emoji = pattern(/^[a-z0-9_+'-]{1,64}$/, 'must be a Slack emoji name without colons, such as white_check_mark');

const deploySchema = z.strictObject({
  /** Distinct people (never the requester) who must approve. */
  approvals: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(5)), DEPLOY_DEFAULTS.approvals),
  /** The role an approver needs on this service (admins always qualify). */
  approverRole: z._default(z.enum(['approver', 'deployer', 'admin']), DEPLOY_DEFAULTS.approverRole),
  /** Seconds a request waits for its approvals before it expires (default 30 minutes). */
  expirySeconds: z._default(z.number().check(z.int(), z.minimum(5), z.maximum(7 * 86_400)), DEPLOY_DEFAULTS.expirySeconds),
  approveEmoji: z._default(emoji, DEPLOY_DEFAULTS.approveEmoji),
  rejectEmoji: z._default(emoji, DEPLOY_DEFAULTS.rejectEmoji),
  /** Roll back to the previous task definition when a rollout fails (false: leave it to people). */
  rollback: z._default(z.boolean(), DEPLOY_DEFAULTS.rollback),
  /** Seconds a rollout may take before it counts as failed (default 30 minutes). */
  timeoutSeconds: z._default(z.number().check(z.int(), z.minimum(60), z.maximum(6 * 3600)), DEPLOY_DEFAULTS.timeoutSeconds),
  /**
   * Lifecycle stages of a BLUE_GREEN, LINEAR or CANARY deployment where people decide by reaction
   * (continue or roll back); each needs a PAUSE hook in the service's deployment configuration.
   */
  gates: z._default(z.array(z.enum(PAUSABLE_STAGES)), DEPLOY_DEFAULTS.gates),
  /** Show the values of plain environment variables in a request's change list (names only by default; secrets never). */
  showEnvironmentValues: z._default(z.boolean(), DEPLOY_DEFAULTS.showEnvironmentValues),
});

export { DEPLOY_DEFAULTS, SCALE_DEFAULTS };
/** How `/ecs scale` is approved and bounded, per target. */
const scaleSchema = z.strictObject({
  /** A scale waits for approvals as a deploy does (`deploy`'s rules); false: it starts at once. */
  requiresApproval: z._default(z.boolean(), SCALE_DEFAULTS.requiresApproval),
  /** The largest desired count `/ecs scale` accepts (a bigger one is a usage error). */
  maxCount: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(5000)), SCALE_DEFAULTS.maxCount),
});

export { NOTICE_KINDS, SEVERITIES };

const channelId = pattern(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C0123ABCD (channel details → About)');
const clockTime = pattern(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day such as 22:00');
const timeZone = z.string().check(
  z.refine((zone) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: zone });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as Europe/Paris or UTC'),
);

/** Hours when only what is at least `minSeverity` is told (the rest is counted, not posted). */
const quietHoursSchema = z.strictObject({
  start: clockTime,
  end: clockTime,
  timeZone: z._default(timeZone, 'UTC'),
  minSeverity: z._default(z.enum(SEVERITIES), 'critical'),
});

/** Where and what the notifier tells, for every target (`notifications`) or one (`targets.<alias>.notify`). */
const routeFields = {
  channel: z.optional(channelId),
  minSeverity: z.optional(z.enum(SEVERITIES)),
  kinds: z.optional(z.array(z.enum(NOTICE_KINDS))),
  /** `false` turns the default's quiet hours off for a target. */
  quietHours: z.optional(z.union([quietHoursSchema, z.literal(false)])),
};

const targetSchema = z.strictObject({
  description: z.optional(z.string().check(z.maxLength(200))),
  region,
  cluster: name,
  service: name,
  /** Role assumed in the target account; omit to use the bot's own role (same account). */
  roleArn: z.optional(roleArn),
  /**
   * Labels selectors match (`env: prod`, `team: payments`; src/fleet/selector.ts), as a discovered
   * service's tags are. `account`, `region` and `cluster` are built in and cannot be declared.
   */
  labels: z.optional(
    z
      .record(
        pattern(/^[A-Za-z][A-Za-z0-9_.:/+@-]{0,127}$/, 'must be a label key: a letter, then letters, digits or _ . : / + @ - (max 128)'),
        pattern(/^[A-Za-z0-9_.:/+@-]{1,256}$/, 'must be a label value: letters, digits or _ . : / + @ - (1 to 256)'),
      )
      .check(
        z.refine(
          (labels) => !Object.keys(labels).some((k) => (BUILT_IN_LABELS as readonly string[]).includes(k)),
          'account, region and cluster are built-in labels',
        ),
        z.refine((labels) => Object.keys(labels).length <= 50, 'at most 50 labels'),
      ),
  ),
  /** Long-running container that maintenance scripts run in (used by `/ecs run`). */
  manager: z.optional(z.strictObject({ service: z.optional(name), container: name })),
  /** Containers whose image a deploy replaces; default: those whose repository matches the new image. */
  appContainers: z.optional(z.array(name).check(z.minLength(1))),
  /** A CODE_DEPLOY service's CodeDeploy application and deployment group (ecspresso's `codedeploy`); absent: discovered from the service. */
  codeDeploy: z.optional(z.strictObject({ application: name, deploymentGroup: name })),
  /** How `/ecs deploy` and `/ecs rollback` are approved and watched. */
  deploy: z._default(deploySchema, DEPLOY_DEFAULTS),
  /** How `/ecs scale` is approved (by `deploy`'s rules unless `requiresApproval: false`) and its largest count; absent: SCALE_DEFAULTS. */
  scale: z.optional(scaleSchema),
  /**
   * Suspend Application Auto Scaling's scaling activities (scale-in, scale-out, scheduled) of the
   * service's scalable target while a deploy or rollback runs, and put them back as they were when
   * it ends (ecspresso's `--suspend-auto-scaling`).
   */
  suspendAutoscaling: z.optional(z.boolean()),
  /** This target's notifications: overrides of `notifications`, and the CloudWatch alarms that are its own. */
  notify: z.optional(
    z.strictObject({
      ...routeFields,
      /** Alarm names (in the target's account and region) whose state changes are this target's. */
      alarms: z._default(z.array(name).check(z.maxLength(50)), []),
    }),
  ),
  verify: z._default(
    z.strictObject({
      /** Check families to leave out, each with the reason shown in the output. */
      skip: z._default(z.array(z.strictObject({ family: z.enum(VERIFY_FAMILIES), reason: z.string().check(z.minLength(3), z.maxLength(200)) })), []),
      /** Prove logging by writing one verify line to each awslogs group (needs logs:PutLogEvents for the bot). */
      putLogs: z._default(z.boolean(), false),
      /** Further permissions a role must have, checked by policy simulation. */
      requiredPermissions: z._default(
        z.array(
          z.strictObject({
            role: z.enum(['task', 'execution']),
            actions: z.array(pattern(/^[a-z0-9-]+:[A-Za-z0-9*]+$/, 'must be an IAM action such as s3:GetObject')).check(z.minLength(1)),
            resources: z._default(z.array(z.string().check(z.minLength(1))), ['*']),
          }),
        ),
        [],
      ),
    }),
    { skip: [...VERIFY_DEFAULTS.skip], putLogs: VERIFY_DEFAULTS.putLogs, requiredPermissions: [...VERIFY_DEFAULTS.requiredPermissions] },
  ),
});

/** A positional argument of a script: its value must match `pattern` as a whole. */
const scriptArgument = z.strictObject({
  name: pattern(/^[a-z][a-z0-9-]{0,30}$/, 'must be a short lowercase name'),
  pattern: z.string().check(
    z.minLength(1),
    z.refine((p) => {
      try {
        new RegExp(p, 'u');
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression'),
  ),
  description: z.optional(z.string().check(z.maxLength(200))),
  optional: z._default(z.boolean(), false),
});

const scriptSchema = z.strictObject({
  description: z.optional(z.string().check(z.maxLength(200))),
  /** The target (alias) whose manager container runs it. */
  target: alias,
  /** Absolute path inside the container. */
  path: pattern(/^\/[\w./-]+$/, 'must be an absolute path of letters, digits, dots, dashes and slashes'),
  args: z._default(z.array(scriptArgument).check(z.maxLength(10)), []),
  /** Further arguments beyond the declared ones are refused unless `extraArgs` allows them. */
  extraArgs: z._default(z.strictObject({ pattern: z.string(), max: z.number().check(z.int(), z.minimum(0), z.maximum(20)) }), { pattern: '^$', max: 0 }),
  /** Seconds before the run is stopped. Runs longer than ~12 minutes run detached under a durable workflow. */
  timeoutSeconds: z._default(z.number().check(z.int(), z.minimum(10), z.maximum(6 * 3600)), 600),
  /** May two runs of this script on this target overlap? Default: no (a DynamoDB lock). */
  allowOverlap: z._default(z.boolean(), false),
  /** A run needs another person's approval (the deploy approval flow). */
  requiresApproval: z._default(z.boolean(), false),
});

/**
 * A one-off job (`/ecs job <name>`): a dedicated ECS task started with RunTask, from the task
 * definition, cluster, network configuration and launch type of its target's service unless it
 * names its own task definition. The command is a fixed argv (never a shell) whose items may be
 * `{arg}` placeholders, filled with arguments checked exactly as script arguments are.
 */
const jobSchema = z.strictObject({
  description: z.optional(z.string().check(z.maxLength(200))),
  target: alias,
  /** Family (latest ACTIVE revision) or `family:revision`; default: the service's task definition. */
  taskDefinition: z.optional(pattern(/^[A-Za-z0-9_-]{1,255}(:\d+)?$/, 'must be a task definition family or family:revision')),
  /** The container whose command is replaced. */
  container: name,
  command: z.array(z.string().check(z.minLength(1), z.maxLength(1024))).check(z.minLength(1), z.maxLength(50)),
  args: z._default(z.array(scriptArgument).check(z.maxLength(10)), []),
  /** Task-level CPU units and memory (MiB) overrides. */
  cpu: z.optional(z.number().check(z.int(), z.minimum(128), z.maximum(16384))),
  memory: z.optional(z.number().check(z.int(), z.minimum(128), z.maximum(122880))),
  environment: z._default(z.record(pattern(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name'), z.string().check(z.maxLength(4096))), {}),
  /** Seconds before the task is stopped. Jobs longer than a Lambda can follow run under the durable workflow. */
  timeoutSeconds: z._default(z.number().check(z.int(), z.minimum(10), z.maximum(6 * 3600)), 600),
  allowOverlap: z._default(z.boolean(), false),
  requiresApproval: z._default(z.boolean(), false),
  /** Who may start it: operators of the target (whose grant names it, if theirs lists scripts), or admins only. */
  permission: z._default(z.enum(['operator', 'admin']), 'operator'),
});

// ---- schedules (EventBridge Scheduler) -------------------------------------------------------
/**
 * A schedule: a declared script or job, with fixed arguments, run by EventBridge Scheduler at the
 * times of its expression in its time zone, its thread in `channel`. Each one becomes an
 * AWS::Scheduler::Schedule (scripts/schedule-events.cjs, read by serverless.yml).
 */
const scheduleSchema = z.strictObject({
  description: z.optional(z.string().check(z.maxLength(200))),
  /** `cron(minutes hours day-of-month month day-of-week year)` or `rate(value unit)`, in Scheduler's syntax. */
  expression: z.string().check(z.minLength(1), z.maxLength(256)),
  /** IANA time zone the cron expression is read in (Scheduler's ScheduleExpressionTimezone). */
  timezone: z._default(z.string(), 'UTC'),
  /** Exactly one of script and job. */
  script: z.optional(z.string()),
  job: z.optional(z.string()),
  /** The arguments, checked against the script's or job's declared args. */
  args: z._default(z.array(z.string().check(z.maxLength(256))).check(z.maxLength(30)), []),
  channel: channelId,
  /** Created DISABLED (`/ecs schedules resume` enables it). */
  enabled: z._default(z.boolean(), true),
});
/** Scheduler's schedule names: letters, digits, `.`, `-`, `_`, at most 64; ours are config keys, shorter. */
const scheduleName = pattern(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 40)');

/** A schedule names a script or job that exists, with arguments it accepts, a valid expression and time zone. */
function scheduleProblems(config: Config): string[] {
  const catalog: string[] = [];
  if (config.fleet?.refreshChannel) {
    if (Object.hasOwn(config.schedules, CATALOG_SCHEDULE))
      catalog.push(`schedules.${CATALOG_SCHEDULE}: the name is the catalog's scheduled refresh (fleet.refreshSchedule); choose another`);
    try {
      parseScheduleExpression(config.fleet.refreshSchedule);
    } catch (e) {
      if (!(e instanceof ScheduleExpressionError)) throw e;
      catalog.push(`fleet.refreshSchedule: ${e.userMessage}`);
    }
  }
  return [...catalog, ...ownSchedulesProblems(config)];
}

function ownSchedulesProblems(config: Config): string[] {
  return Object.entries(config.schedules).flatMap(([name, s]) => {
    const problems: string[] = [];
    try {
      parseScheduleExpression(s.expression);
    } catch (e) {
      if (!(e instanceof ScheduleExpressionError)) throw e;
      problems.push(`schedules.${name}.expression: ${e.userMessage}`);
    }
    if (!isTimeZone(s.timezone)) problems.push(`schedules.${name}.timezone: \`${s.timezone}\` is not an IANA time zone (such as Europe/Paris or UTC)`);
    if ((s.script === undefined) === (s.job === undefined)) return [...problems, `schedules.${name}: name exactly one of script and job`];
    const kind = s.script !== undefined ? 'script' : 'job';
    const what = (s.script ?? s.job)!;
    const declared = kind === 'script' ? Object.hasOwn(config.scripts, what) && config.scripts[what] : Object.hasOwn(config.jobs, what) && config.jobs[what];
    if (!declared) {
      const names = Object.keys(kind === 'script' ? config.scripts : config.jobs);
      return [...problems, `schedules.${name}.${kind}: no ${kind} \`${what}\` is declared (${kind}s: ${names.join(', ') || 'none'})`];
    }
    problems.push(...checkArguments(declared, s.args).map((p) => `schedules.${name}.args: ${p.message}`));
    return problems;
  });
}

const configSchema = z.strictObject({
  /** Slack workspace(s) this deployment answers; requests from any other team are refused. */
  slack: z.strictObject({
    teams: z.array(pattern(/^T[A-Z0-9]+$/, 'must be a Slack team id such as T0123ABCD')).check(z.minLength(1, 'name at least one team')),
    command: z._default(pattern(/^\/[a-z0-9_-]+$/, 'must be a slash command such as /ecs'), '/ecs'),
  }),
  targets: z.record(alias, targetSchema).check(z.refine((targets) => Object.keys(targets).length > 0, 'declare at least one target')),
  /** Maintenance scripts people may run with `/ecs run`, by name. */
  scripts: z._default(z.record(pattern(/^[\w][\w.-]{0,63}$/, 'must be a script name such as backup.sh'), scriptSchema), {}),
  /** One-off jobs people may start with `/ecs job`, by name. */
  jobs: z._default(z.record(alias, jobSchema), {}),
  /** Scripts and jobs EventBridge Scheduler runs (src/schedules/), by name. */
  schedules: z._default(z.record(scheduleName, scheduleSchema), {}),
  /**
   * ECS and alarm events told in Slack (src/notify/). Without this section nothing is posted:
   * events are counted and dropped. Events of services no target declares are always dropped.
   */
  notifications: z.optional(
    z.strictObject({
      ...routeFields,
      channel: channelId,
      /** Stops of one service closer together than this form one incident (one message, edited). */
      incidentWindowMinutes: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(24 * 60)), 15),
    }),
  ),
  /** Ticket systems that start declared actions through signed webhooks (src/webhooks/). */
  webhooks: webhooksSchema,
  /** Commands acting on a selector (`env=prod`): beyond `maxSelection` services, narrow it or (admins) add `--all`. */
  selectors: z._default(z.strictObject({ maxSelection: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(10_000)), 200) }), { maxSelection: 200 }),
  /** Services discovered across accounts and regions into the catalog (src/fleet/, config/fleet-schema.ts). */
  fleet: fleetSchema,
  audit: z._default(
    z.strictObject({
      /** Days an audit record is kept before DynamoDB expires it; 0 keeps it forever. */
      retentionDays: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(3650)), 400),
    }),
    { retentionDays: 400 },
  ),
});

export type Config = z.infer<typeof configSchema>;
export type Target = z.infer<typeof targetSchema>;

/**
 * A target with every setting at its default, for a service known only from the fleet's catalog
 * (`/ecs status|verify <discovered alias>`): where it lives and the role to reach it, nothing declared.
 */
export type Script = z.infer<typeof scriptSchema>;
export type Job = z.infer<typeof jobSchema>;
export type Schedule = z.infer<typeof scheduleSchema>;
export type Severity = (typeof SEVERITIES)[number];
export type NoticeKind = (typeof NOTICE_KINDS)[number];
export type QuietHours = z.infer<typeof quietHoursSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid ecs-chatops configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates raw configuration, naming each problem by its path (`targets.web.region: must be …`). */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) {
    // Cross-references zod cannot see: a script's target must exist and have a manager container.
    const problems = Object.entries(result.data.targets).flatMap(([alias, target]) =>
      target.deploy.approveEmoji === target.deploy.rejectEmoji ? [`targets.${alias}.deploy.rejectEmoji: must differ from approveEmoji`] : [],
    );
    problems.push(
      ...Object.entries(result.data.targets).flatMap(([alias, target]) =>
        target.notify && !target.notify.channel && !result.data.notifications
          ? [`targets.${alias}.notify.channel: no channel to tell (set it here, or notifications.channel for every target)`]
          : [],
      ),
    );
    problems.push(
      ...Object.entries(result.data.scripts).flatMap(([name, script]) => {
        const target = result.data.targets[script.target];
        if (!target) return [`scripts.${name}.target: no target \`${script.target}\` (targets: ${Object.keys(result.data.targets).join(', ')})`];
        if (!target.manager) return [`scripts.${name}.target: target \`${script.target}\` declares no manager container (targets.${script.target}.manager)`];
        return [];
      }),
    );
    problems.push(...jobProblems(result.data));
    problems.push(...webhookProblems(result.data));
    problems.push(...scheduleProblems(result.data));
    if (problems.length) throw new ConfigError(problems);
    // Names people type are looked up in these maps: without a prototype, `constructor` or
    // `__proto__` is just an unknown name, never an inherited property.
    return {
      ...result.data,
      targets: ownOnly(result.data.targets),
      scripts: ownOnly(result.data.scripts),
      jobs: ownOnly(result.data.jobs),
      webhooks: ownOnly(result.data.webhooks),
      schedules: ownOnly(result.data.schedules),
    };
  }
  throw new ConfigError(
    result.error.issues.flatMap((issue) => {
      const path = issue.path.length ? issue.path.join('.') : '(root)';
      // A bad record key (a target alias) carries its real reason one level down.
      if (issue.code === 'invalid_key') return issue.issues.map((inner) => `${path} (the name): ${inner.message}`);
      return [`${path}: ${issue.message}`];
    }),
  );
}

/** A job's target must exist, and each `{placeholder}` of its command must be a declared argument (used once). */
function jobProblems(config: Config): string[] {
  return Object.entries(config.jobs).flatMap(([name, job]) => {
    if (!config.targets[job.target]) return [`jobs.${name}.target: no target \`${job.target}\` (targets: ${Object.keys(config.targets).join(', ')})`];
    const declared = new Set(job.args.map((a) => a.name));
    const used = job.command.flatMap((item) => JOB_PLACEHOLDER.exec(item)?.[1] ?? []);
    return [
      ...used.filter((u) => !declared.has(u)).map((u) => `jobs.${name}.command: \`{${u}}\` is not a declared argument (args)`),
      ...[...declared]
        .filter((d) => used.filter((u) => u === d).length !== 1)
        .map((d) => `jobs.${name}.args: \`${d}\` must appear exactly once in the command as \`{${d}}\``),
    ];
  });
}
