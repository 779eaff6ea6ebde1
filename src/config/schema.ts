import { z } from 'zod';

/** Short names people type in Slack: `web`, `api-internal`. */
const alias = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes, starting with a letter (max 40)');

const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1');

const roleArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+$/, 'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)');

export const targetSchema = z
  .object({
    description: z.string().max(200).optional(),
    region,
    cluster: z.string().min(1).max(255),
    service: z.string().min(1).max(255),
    /** Role assumed in the target account; omit to use the bot's own role (same account). */
    roleArn: roleArn.optional(),
    /** Long-running container that maintenance scripts run in (used by `/ecs run`). */
    manager: z
      .object({
        service: z.string().min(1).max(255).optional(),
        container: z.string().min(1).max(255),
      })
      .strict()
      .optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /** Slack workspace(s) this deployment answers; requests from any other team are refused. */
    slack: z
      .object({
        teams: z.array(z.string().regex(/^T[A-Z0-9]+$/, 'must be a Slack team id such as T0123ABCD')).min(1),
        command: z.string().regex(/^\/[a-z0-9_-]+$/, 'must be a slash command such as /ecs').default('/ecs'),
      })
      .strict(),
    targets: z
      .record(alias, targetSchema)
      .refine((targets) => Object.keys(targets).length > 0, 'declare at least one target'),
    audit: z
      .object({
        /** Days an audit record is kept before DynamoDB expires it; 0 keeps it forever. */
        retentionDays: z.number().int().min(0).max(3650).default(400),
      })
      .strict()
      .default({ retentionDays: 400 }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type Target = z.infer<typeof targetSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid ecs-chatops configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates raw configuration, naming each problem by its path (`targets.web.region: must be …`). */
export function parseConfig(raw: unknown): Config {
  const result = configSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`),
  );
}
