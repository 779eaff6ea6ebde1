/**
 * EventBridge Scheduler in the emulator (Scheduler user guide: schedule-types, managing-schedule,
 * setting-up execution role; the API reference and @aws-sdk/client-scheduler's model for the wire
 * shapes): schedules in groups, created from the stack as CloudFormation creates them, and run on
 * the emulator's clock. When the clock passes a schedule's time (src/schedules/expression.ts reads
 * Scheduler's cron and rate syntax, in the schedule's time zone, daylight saving time included),
 * Scheduler assumes the target's execution role (its trust policy must allow
 * scheduler.amazonaws.com, with aws:SourceAccount and aws:SourceArn as Scheduler sends them), and
 * with that role's identity policy invokes the Lambda target asynchronously
 * (lambda:InvokeFunction, judged by IAM as deployed), the Input with its context attributes
 * (`<aws.scheduler.scheduled-time>`, `…schedule-arn>`, `…execution-id>`, `…attempt-number>`)
 * filled in. Delivery is at least once: `deliver()` sends one scheduled time again, as a duplicate would.
 *
 * The API: GetSchedule, UpdateSchedule (replaces the whole schedule, passes the target's role:
 * iam:PassRole to scheduler.amazonaws.com), ListSchedules. Errors as the service answers them
 * (ResourceNotFoundException 404, ValidationException 400; rest-json, `x-amzn-ErrorType`).
 *
 * Not modelled: flexible time windows other than OFF (refused), start and end dates, one-time at()
 * schedules, targets other than Lambda, retries of a failed delivery and dead-letter queues, KMS keys.
 */
import { randomUUID } from 'node:crypto';
import { isTimeZone, parseScheduleExpression, runsBetween, ScheduleExpressionError, type ScheduleExpression } from '../../src/schedules/expression';
import type { Authority } from './authorization';
import { evaluate } from './policy';
import { AwsError, type CallContext, type Params, type ServiceDefinition } from './protocols';
import { roleDocuments } from './services/iam';
import type { LambdaRuntime } from './services/lambda';
import type { Clock, EmulatorState } from './state';

export const SCHEDULER_PRINCIPAL = 'scheduler.amazonaws.com';

export interface LocalScheduleInput {
  Name: string;
  GroupName?: string;
  Description?: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  State?: string;
  FlexibleTimeWindow: { Mode: string; MaximumWindowInMinutes?: number };
  Target: { Arn: string; RoleArn: string; Input?: string; RetryPolicy?: Record<string, number> };
  StartDate?: number;
  EndDate?: number;
  KmsKeyArn?: string;
  ActionAfterCompletion?: string;
}

interface LocalSchedule extends LocalScheduleInput {
  GroupName: string;
  State: 'ENABLED' | 'DISABLED';
  Arn: string;
  accountId: string;
  region: string;
  CreationDate: number;
  LastModificationDate: number;
  expression: ScheduleExpression;
  /** Runs up to this time have been played. */
  playedThrough: number;
}

/** One delivery Scheduler made (or could not make). */
export interface ScheduleDelivery {
  schedule: string;
  scheduledTime: string;
  functionArn: string;
  outcome: 'invoked' | 'refused';
  error?: string;
}

const key = (account: string, region: string, group: string, name: string) => `${account}/${region}/${group}/${name}`;
const scheduleArn = (account: string, region: string, group: string, name: string) => `arn:aws:scheduler:${region}:${account}:schedule/${group}/${name}`;
/** How Scheduler spells a time in its context attributes: seconds, Z. */
const schedulerTime = (t: number) => `${new Date(t).toISOString().slice(0, 19)}Z`;

export class LocalScheduler {
  private readonly schedules = new Map<string, LocalSchedule>();
  readonly deliveries: ScheduleDelivery[] = [];
  private readonly sessions = new Map<string, ReturnType<EmulatorState['issueCredentials']>['identity']>();

  /**
   * Whether runs are played as the clock passes them. Held, the schedules still exist and answer
   * Scheduler's API, time still passes them (nothing piles up for later), and `deliver` still
   * delivers: a world holds them unless it asks (local/world.ts `playSchedules`).
   */
  playing = true;

  constructor(private readonly deps: { state: EmulatorState; lambda: LambdaRuntime; authority: Authority; clock: Clock }) {}

  /** What CloudFormation's AWS::Scheduler::Schedule does: a new schedule, counting from now. */
  create(accountId: string, region: string, input: LocalScheduleInput): void {
    const group = input.GroupName ?? 'default';
    const now = this.deps.clock.now();
    const schedule = { ...this.validated(input), accountId, region, GroupName: group, Arn: scheduleArn(accountId, region, group, input.Name) };
    this.schedules.set(key(accountId, region, group, input.Name), { ...schedule, CreationDate: now, LastModificationDate: now, playedThrough: now });
  }

  /** Plays every run due up to `now`, in time order. */
  catchUp(now = this.deps.clock.now()): void {
    const due: Array<{ schedule: LocalSchedule; at: number }> = [];
    for (const schedule of this.schedules.values()) {
      if (now <= schedule.playedThrough) continue;
      if (schedule.State === 'ENABLED' && this.playing) {
        const zone = schedule.ScheduleExpressionTimezone ?? 'UTC';
        for (const at of runsBetween(schedule.expression, zone, schedule.playedThrough, now, schedule.CreationDate)) due.push({ schedule, at });
      }
      schedule.playedThrough = now;
    }
    due.sort((a, b) => a.at - b.at);
    for (const { schedule, at } of due) this.deliver(schedule.Name, at, schedule.GroupName, schedule.accountId, schedule.region);
  }

  /** Scheduler delivers the run of `name` scheduled for `at` (again, when it already did: at least once). */
  deliver(name: string, at: number, group?: string, accountId = '111111111111', region = 'us-east-1'): ScheduleDelivery {
    const schedule = [...this.schedules.values()].find(
      (s) => s.Name === name && (group === undefined || s.GroupName === group) && s.accountId === accountId && s.region === region,
    );
    if (!schedule) throw new Error(`no schedule ${name}`);
    const scheduledTime = schedulerTime(at);
    const refuse = (error: string): ScheduleDelivery => {
      const delivery: ScheduleDelivery = { schedule: name, scheduledTime, functionArn: schedule.Target.Arn, outcome: 'refused', error };
      this.deliveries.push(delivery);
      console.error(`[local scheduler] ${schedule.Arn} could not invoke ${schedule.Target.Arn} for ${scheduledTime}: ${error}`);
      return delivery;
    };
    const session = this.assume(schedule);
    if (!session) return refuse(`${SCHEDULER_PRINCIPAL} is not authorized to perform: sts:AssumeRole on resource: ${schedule.Target.RoleArn}`);
    this.deps.authority.enforce(schedule.Target.RoleArn);
    const decision = this.deps.authority.decide({ identity: session, action: 'lambda:InvokeFunction', resource: schedule.Target.Arn });
    if (decision !== undefined && decision !== 'allowed') {
      return refuse(`User: ${session.arn} is not authorized to perform: lambda:InvokeFunction on resource: ${schedule.Target.Arn}`);
    }
    const input = (schedule.Target.Input ?? '{}')
      .replaceAll('<aws.scheduler.scheduled-time>', scheduledTime)
      .replaceAll('<aws.scheduler.schedule-arn>', schedule.Arn)
      .replaceAll('<aws.scheduler.execution-id>', randomUUID())
      .replaceAll('<aws.scheduler.attempt-number>', '1');
    const functionName = schedule.Target.Arn.slice(schedule.Target.Arn.lastIndexOf(':') + 1);
    const delivery: ScheduleDelivery = { schedule: name, scheduledTime, functionArn: schedule.Target.Arn, outcome: 'invoked' };
    this.deliveries.push(delivery);
    void this.deps.lambda.invokeAsync(functionName, JSON.parse(input), session.arn).catch((error: unknown) => {
      console.error(`[local scheduler] invoking ${functionName} failed`, error);
    });
    return delivery;
  }

  /** Scheduler assumes the target's role: its trust policy must allow scheduler.amazonaws.com for this schedule. */
  private assume(schedule: LocalSchedule) {
    const role = this.deps.state.findRole(schedule.Target.RoleArn);
    const documents = roleDocuments(this.deps.state, schedule.Target.RoleArn);
    if (!role || !documents) return undefined;
    const trusted = evaluate(
      [],
      {
        action: 'sts:AssumeRole',
        resource: role.arn,
        principalArn: SCHEDULER_PRINCIPAL,
        principalService: SCHEDULER_PRINCIPAL,
        principalAccount: schedule.accountId,
        context: { 'aws:SourceArn': [schedule.Arn], 'aws:SourceAccount': [schedule.accountId] },
      },
      { resourcePolicy: documents.trust },
    );
    if (trusted.decision !== 'allowed') return undefined;
    let session = this.sessions.get(role.arn);
    if (!session) this.sessions.set(role.arn, (session = this.deps.state.issueCredentials(role, 'scheduler').identity));
    return session;
  }

  /** The checks CreateSchedule and UpdateSchedule share, as ValidationException. */
  private validated(
    input: LocalScheduleInput,
  ): Omit<LocalSchedule, 'GroupName' | 'Arn' | 'accountId' | 'region' | 'CreationDate' | 'LastModificationDate' | 'playedThrough'> {
    const invalid = (message: string) => new AwsError('ValidationException', message, 400);
    if (typeof input.Name !== 'string' || !/^[0-9a-zA-Z-_.]{1,64}$/.test(input.Name)) throw invalid('Invalid request provided: Name');
    if (typeof input.ScheduleExpression !== 'string') throw invalid('1 validation error detected: ScheduleExpression must not be null');
    if (!input.Target || typeof input.Target.Arn !== 'string' || typeof input.Target.RoleArn !== 'string') {
      throw invalid('1 validation error detected: Target must not be null');
    }
    if (!input.FlexibleTimeWindow || typeof input.FlexibleTimeWindow.Mode !== 'string') {
      throw invalid('1 validation error detected: FlexibleTimeWindow must not be null');
    }
    if (input.FlexibleTimeWindow.Mode !== 'OFF') throw invalid('Flexible time windows other than OFF are not modelled by the local Scheduler');
    if (input.State !== undefined && input.State !== 'ENABLED' && input.State !== 'DISABLED') {
      throw invalid(
        `1 validation error detected: Value '${input.State}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [DISABLED, ENABLED]`,
      );
    }
    if (input.ScheduleExpressionTimezone !== undefined && !isTimeZone(input.ScheduleExpressionTimezone)) {
      throw invalid(`Invalid request provided: Provided timezone is not supported: ${input.ScheduleExpressionTimezone}`);
    }
    let expression: ScheduleExpression;
    try {
      expression = parseScheduleExpression(input.ScheduleExpression);
    } catch (error) {
      if (error instanceof ScheduleExpressionError) throw invalid(`Invalid Schedule Expression ${input.ScheduleExpression}.`);
      throw error;
    }
    return { ...input, State: input.State === 'DISABLED' ? 'DISABLED' : 'ENABLED', expression };
  }

  private find(ctx: CallContext, name: unknown, group: unknown): LocalSchedule {
    const g = typeof group === 'string' && group ? group : 'default';
    const found = this.schedules.get(key(ctx.accountId, ctx.region, g, String(name)));
    if (!found) throw new AwsError('ResourceNotFoundException', `Schedule ${String(name)} does not exist.`, 404);
    return found;
  }

  private describe(s: LocalSchedule) {
    return {
      Arn: s.Arn,
      GroupName: s.GroupName,
      Name: s.Name,
      ScheduleExpression: s.ScheduleExpression,
      ...(s.ScheduleExpressionTimezone ? { ScheduleExpressionTimezone: s.ScheduleExpressionTimezone } : {}),
      ...(s.Description ? { Description: s.Description } : {}),
      State: s.State,
      CreationDate: new Date(s.CreationDate),
      LastModificationDate: new Date(s.LastModificationDate),
      Target: s.Target,
      FlexibleTimeWindow: s.FlexibleTimeWindow,
      ...(s.ActionAfterCompletion ? { ActionAfterCompletion: s.ActionAfterCompletion } : {}),
    };
  }

  readonly service: ServiceDefinition = {
    name: 'scheduler',
    protocol: 'rest-json',
    routes: [
      { method: 'GET', path: '/schedules/{Name}', action: 'GetSchedule', input: (r) => ({ Name: r.path.Name, GroupName: r.query.groupName }) },
      {
        method: 'PUT',
        path: '/schedules/{Name}',
        action: 'UpdateSchedule',
        input: (r) => ({ ...(r.body.length ? (JSON.parse(r.body.toString('utf8')) as Params) : {}), Name: r.path.Name }),
      },
      {
        method: 'GET',
        path: '/schedules',
        action: 'ListSchedules',
        input: (r) => ({ GroupName: r.query.ScheduleGroup, NamePrefix: r.query.NamePrefix, State: r.query.State }),
      },
    ],
    actions: {
      GetSchedule: {
        resources: (p, ctx) => [scheduleArn(ctx.accountId, ctx.region, String(p.GroupName || 'default'), String(p.Name))],
        handler: (p, ctx) => ({ body: this.describe(this.find(ctx, p.Name, p.GroupName)) }),
      },
      UpdateSchedule: {
        resources: (p, ctx) => [scheduleArn(ctx.accountId, ctx.region, String(p.GroupName || 'default'), String(p.Name))],
        handler: (p, ctx) => {
          const current = this.find(ctx, p.Name, p.GroupName);
          const input = p as unknown as LocalScheduleInput;
          const next = this.validated({ ...input, Name: current.Name });
          // The target's role is passed to Scheduler with the schedule.
          ctx.authorize('iam:PassRole', next.Target.RoleArn, { context: { 'iam:PassedToService': [SCHEDULER_PRINCIPAL] } });
          this.catchUp();
          // Replaces the whole schedule: what the request leaves out is gone (as UpdateSchedule does).
          const updated: LocalSchedule = {
            ...next,
            GroupName: current.GroupName,
            Arn: current.Arn,
            accountId: current.accountId,
            region: current.region,
            CreationDate: current.CreationDate,
            LastModificationDate: this.deps.clock.now(),
            playedThrough: Math.max(current.playedThrough, this.deps.clock.now()),
          };
          this.schedules.set(key(current.accountId, current.region, current.GroupName, current.Name), updated);
          return { body: { ScheduleArn: current.Arn } };
        },
      },
      ListSchedules: {
        handler: (p, ctx) => ({
          body: {
            Schedules: [...this.schedules.values()]
              .filter(
                (s) =>
                  s.accountId === ctx.accountId &&
                  s.region === ctx.region &&
                  (!p.GroupName || s.GroupName === p.GroupName) &&
                  (!p.NamePrefix || s.Name.startsWith(String(p.NamePrefix))) &&
                  (!p.State || s.State === p.State),
              )
              .map((s) => ({
                Arn: s.Arn,
                GroupName: s.GroupName,
                Name: s.Name,
                State: s.State,
                CreationDate: new Date(s.CreationDate),
                LastModificationDate: new Date(s.LastModificationDate),
                Target: { Arn: s.Target.Arn },
              })),
          },
        }),
      },
    },
  };
}
