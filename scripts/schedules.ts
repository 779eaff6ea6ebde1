/**
 * The configuration's schedules as EventBridge Scheduler resources of serverless.yml.
 *
 * serverless.yml stays a static file that osls packages as it is (and the local world reads as it
 * is): the schedules are written into it, between two marker lines, from ecs-chatops.config.yaml.
 * `npm run schedules` rewrites that block; `npm run check-config` (and test/packaging.test.ts)
 * refuse a serverless.yml whose block differs from the configuration, so a schedule removed or
 * changed in the configuration cannot be deployed stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseConfig, type Config } from '../src/config/schema';
import { CATALOG_SCHEDULE, catalogSchedule } from '../src/fleet/schedule';

export const BEGIN = '    # BEGIN schedules: generated from the configuration by `npm run schedules` (check-config checks it); do not edit';
export const END = '    # END schedules';

/** `nightly-backup` → `ScheduleNightlyBackup`. */
export const scheduleLogicalId = (name: string): string =>
  `Schedule${name
    .split('-')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('')}`;

/** YAML's single-quoted scalar: every value is the configuration's text, quoted so nothing in it is YAML syntax. */
const quoted = (text: string): string => `'${text.replace(/'/g, "''")}'`;

/** The resources of every schedule, in the configuration's order, as lines of serverless.yml (under `Resources:`). */
export function scheduleResources(config: Config): string[] {
  // The catalog's refresh (src/fleet/schedule.ts) is one more schedule of the same kind, after the configuration's.
  const catalog = catalogSchedule(config);
  const all = [...Object.entries(config.schedules), ...(catalog ? [[CATALOG_SCHEDULE, { ...catalog, enabled: true }] as const] : [])];
  return all.flatMap(([name, s]) => [
    `    ${scheduleLogicalId(name)}:`,
    '      Type: AWS::Scheduler::Schedule',
    '      Properties:',
    `        Name: ${quoted(name)}`,
    '        GroupName: !Ref ScheduleGroup',
    ...(s.description ? [`        Description: ${quoted(s.description)}`] : []),
    `        ScheduleExpression: ${quoted(s.expression)}`,
    `        ScheduleExpressionTimezone: ${quoted(s.timezone)}`,
    `        State: ${s.enabled ? 'ENABLED' : 'DISABLED'}`,
    "        FlexibleTimeWindow: { Mode: 'OFF' }",
    '        Target:',
    '          Arn: !GetAtt ScheduledLambdaFunction.Arn',
    '          RoleArn: !GetAtt SchedulerRole.Arn',
    // Scheduler fills in the time this invocation was scheduled for: with the name, the idempotency key.
    `          Input: ${quoted(JSON.stringify({ schedule: name, scheduledTime: '<aws.scheduler.scheduled-time>' }))}`,
    '          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 }',
  ]);
}

/** serverless.yml with its schedules block made from `config`. */
export function withSchedules(serverlessYml: string, config: Config): string {
  const lines = serverlessYml.split('\n');
  const begin = lines.indexOf(BEGIN);
  const end = lines.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`serverless.yml has no schedules block (the lines "${BEGIN.trim()}" … "${END.trim()}")`);
  return [...lines.slice(0, begin + 1), ...scheduleResources(config), ...lines.slice(end)].join('\n');
}

/** Undefined when serverless.yml's schedules are the configuration's; else what to do. */
export function schedulesProblem(serverlessYml: string, config: Config): string | undefined {
  return withSchedules(serverlessYml, config) === serverlessYml
    ? undefined
    : "serverless.yml's schedules differ from the configuration's `schedules:`: run `npm run schedules` and commit serverless.yml";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = readFileSync('serverless.yml', 'utf8');
  const next = withSchedules(text, parseConfig(parse(readFileSync(process.env.ECS_CHATOPS_CONFIG ?? 'ecs-chatops.config.yaml', 'utf8'))));
  if (next !== text) writeFileSync('serverless.yml', next);
  console.log(next === text ? 'serverless.yml: schedules up to date' : 'serverless.yml: schedules rewritten from the configuration');
}
