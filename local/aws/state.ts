/**
 * The emulator's world: accounts → regions → service resources, IAM roles and issued credentials,
 * and the clock every timestamp comes from. No HTTP or wire-format knowledge lives here, so the
 * protocol layer, the service handlers, the seed and tests all manipulate the same plain objects.
 *
 * ECS resources are stored in the SDK's own output types (Dates for timestamps): what a handler
 * returns is exactly what the real API would, and the type checker keeps the seed honest.
 */
import { NO_EVENTS, type EventSink } from './events-contract';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Cluster, Service, Tag, Task, TaskDefinition } from '@aws-sdk/client-ecs';
import type { ClusterSchedule } from './rollout';
import { ServiceFaults, type CrashLoop, type CrashLoopSpec, type PlacementFailure, type PlacementFailureReason } from './ecs-faults';

export const DEFAULT_ACCOUNT = '111111111111';
export const DEFAULT_REGION = 'us-east-1';

export interface ClockOptions {
  /** Initial emulator time (default: now). */
  start?: number | Date;
  /**
   * Simulated milliseconds per real millisecond: 1 (default) follows real time, 10 runs a playground
   * at 10× (a 60 s rollout takes 6 s), 0 freezes time so it only moves with advance() (exact tests).
   */
  rate?: number;
}

/**
 * Simulated time. It ticks with real time × `rate` (so a playground feels alive) plus whatever tests
 * add with `advance()`; listeners let time-driven behaviour (deployments, expirations) catch up.
 */
export class Clock {
  /** Simulated time at `realAnchor`; re-anchored when the rate changes so time never jumps. */
  private simAnchor: number;
  private realAnchor = Date.now();
  private speed: number;
  private readonly listeners = new Set<(now: number) => void>();

  constructor(options?: number | Date | ClockOptions) {
    const { start, rate = 1 } = typeof options === 'object' && !(options instanceof Date) ? options : { start: options };
    this.simAnchor = start === undefined ? this.realAnchor : +start;
    this.speed = checkRate(rate);
  }
  /** Epoch milliseconds, like Date.now(). */
  now(): number {
    return Math.floor(this.simAnchor + (Date.now() - this.realAnchor) * this.speed);
  }
  date(offsetMs = 0): Date {
    return new Date(this.now() + offsetMs);
  }
  get rate(): number {
    return this.speed;
  }
  set rate(rate: number) {
    this.simAnchor = this.now();
    this.realAnchor = Date.now();
    this.speed = checkRate(rate);
  }
  advance(ms: number): void {
    if (ms < 0) throw new Error('the clock only moves forward');
    this.simAnchor += ms;
    for (const listener of this.listeners) listener(this.now());
  }
  onAdvance(listener: (now: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function checkRate(rate: number): number {
  if (!Number.isFinite(rate) || rate < 0) throw new Error(`clock rate must be a finite number >= 0, got ${rate}`);
  return rate;
}

/** Who is calling: what CloudTrail would put in `userIdentity`. */
export interface Identity {
  type: 'AssumedRole' | 'IAMUser';
  accountId: string;
  arn: string;
  /** `AROA…:session` for a role session, `AIDA…` for a user. */
  principalId: string;
  accessKeyId: string;
  roleArn?: string;
  sessionName?: string;
  sessionTags?: Record<string, string>;
  transitiveTagKeys?: string[];
  sourceIdentity?: string;
  /** ARN of the identity that called AssumeRole (role chaining is visible this way). */
  assumedBy?: string;
  issuedAt?: Date;
  expiration?: Date;
}

export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  identity: Identity;
}

export interface Role {
  arn: string;
  name: string;
  roleId: string;
  accountId: string;
  /** AssumeRole refuses longer DurationSeconds (AWS default 3600). */
  maxSessionDuration: number;
  createDate: Date;
}

export interface EcsClusterState {
  cluster: Cluster;
  services: Map<string, Service>;
  /** Keyed by task id (the 32-hex tail of the ARN). */
  tasks: Map<string, Task>;
  /** The simulated service scheduler's private bookkeeping (rollout.ts), created on first use. */
  scheduler?: ClusterSchedule;
}

/**
 * An image whose tasks fail, and how. Tasks are launched from task definitions naming images, so
 * "this image is broken" is the one knob tests and the seed need to make deployments fail.
 */
export interface ImageFailure {
  /** The exact image reference, or a pattern (e.g. any `:does-not-exist` tag). */
  image: string | RegExp;
  /**
   * `pull`: CannotPullContainerError, the task never starts (stopCode TaskFailedToStart);
   * `crash`: the task starts, then its essential container exits (EssentialContainerExited).
   */
  mode: 'pull' | 'crash';
  /** crash: the container's exit code (default 1) and the task's stoppedReason. */
  exitCode?: number;
  stoppedReason?: string;
  /** crash: the crashed container's `reason` (ECS sets one for an OOM kill). */
  containerReason?: string;
}

/** How long each step of a task's life takes in simulated time (see rollout.ts). */
export interface EcsTimings {
  /** PROVISIONING → PENDING (ENI attached). */
  provisionMs: number;
  /** PENDING → RUNNING (image pulled), or → STOPPED when the pull fails. */
  pullMs: number;
  /** RUNNING → passing health checks (counts as healthy for the rollout). */
  healthyMs: number;
  /** RUNNING → STOPPED for an image that crashes; shorter than healthyMs, so it never counts as healthy. */
  crashAfterMs: number;
  /** Load-balanced task: deregistration delay before it stops (ELB's default is 300 s; kept short). */
  drainMs: number;
  /** Task without a load balancer: STOPPING → STOPPED. */
  stopMs: number;
  /** Relaunch back-off after consecutive failures: base × 2^(failures-1), capped at max. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** ECS forgets stopped tasks after about an hour; so does the simulator, as the scheduler runs. */
  stoppedRetentionMs: number;
  /** Blue/green, linear and canary: one test or production traffic shift (and a rollback's shift back). */
  trafficShiftMs: number;
}

export const DEFAULT_ECS_TIMINGS: EcsTimings = {
  provisionMs: 15_000,
  pullMs: 15_000,
  healthyMs: 15_000,
  crashAfterMs: 5_000,
  drainMs: 15_000,
  stopMs: 15_000,
  retryBaseMs: 15_000,
  retryMaxMs: 15 * 60_000,
  stoppedRetentionMs: 60 * 60_000,
  trafficShiftMs: 15_000,
};

export interface TaskDefinitionRecord {
  taskDefinition: TaskDefinition;
  tags: Tag[];
}

export interface SsmParameterVersion {
  value: string;
  version: number;
  type: 'String' | 'StringList' | 'SecureString';
  lastModifiedDate: Date;
  keyId?: string;
  description?: string;
}

export interface SsmParameter {
  name: string;
  dataType: string;
  /** Oldest first; the last entry is the current value. */
  versions: SsmParameterVersion[];
}

export interface RegionState {
  accountId: string;
  region: string;
  ecs: {
    clusters: Map<string, EcsClusterState>;
    /** Keyed by `family:revision`. */
    taskDefinitions: Map<string, TaskDefinitionRecord>;
  };
  ssm: { parameters: Map<string, SsmParameter> };
}

export interface AccountState {
  id: string;
  iam: { roles: Map<string, Role> };
  regions: Map<string, RegionState>;
}

/** ARN builders in the formats AWS uses today (long ECS ARN format). */
export const arns = {
  cluster: (r: RegionState, name: string) => `arn:aws:ecs:${r.region}:${r.accountId}:cluster/${name}`,
  service: (r: RegionState, cluster: string, name: string) => `arn:aws:ecs:${r.region}:${r.accountId}:service/${cluster}/${name}`,
  task: (r: RegionState, cluster: string, id: string) => `arn:aws:ecs:${r.region}:${r.accountId}:task/${cluster}/${id}`,
  taskSet: (r: RegionState, cluster: string, service: string, id: string) => `arn:aws:ecs:${r.region}:${r.accountId}:task-set/${cluster}/${service}/${id}`,
  taskDefinition: (r: RegionState, familyRevision: string) => `arn:aws:ecs:${r.region}:${r.accountId}:task-definition/${familyRevision}`,
  container: (r: RegionState, cluster: string, taskId: string, id: string) => `arn:aws:ecs:${r.region}:${r.accountId}:container/${cluster}/${taskId}/${id}`,
  /** `/a/b` → `parameter/a/b`; `a` → `parameter/a`. */
  parameter: (r: RegionState, name: string) => `arn:aws:ssm:${r.region}:${r.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`,
  role: (accountId: string, name: string) => `arn:aws:iam::${accountId}:role/${name}`,
  assumedRole: (accountId: string, roleName: string, session: string) => `arn:aws:sts::${accountId}:assumed-role/${roleName}/${session}`,
  lambda: (accountId: string, region: string, name: string) => `arn:aws:lambda:${region}:${accountId}:function:${name}`,
};

/** Last path segment of an ARN or the name itself: `arn:…:service/main/web` → `web`. */
export function nameFromRef(ref: string): string {
  return ref.startsWith('arn:') ? ref.slice(ref.lastIndexOf('/') + 1) : ref;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** Stable pseudo-random ids for the seed, random ones otherwise, so seeded ARNs never change. */
export function hexId(label?: string, length = 32): string {
  const bytes = label ? createHash('sha256').update(label).digest() : randomBytes(32);
  return bytes.toString('hex').slice(0, length);
}
export function awsId(prefix: string, length: number, label?: string): string {
  const bytes = label ? createHash('sha256').update(label).digest() : randomBytes(32);
  let out = prefix;
  for (let i = 0; out.length < length; i++) out += ALNUM[bytes[i % bytes.length]! % ALNUM.length];
  return out;
}
export const uuid = (label?: string): string => (label ? hexId(label).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5') : randomUUID());

export class EmulatorState {
  readonly accounts = new Map<string, AccountState>();
  /** Every access key the emulator knows, long-term or issued by STS. */
  readonly credentials = new Map<string, IssuedCredentials>();
  /** Attributed to requests signed with a key the emulator never issued (tests often use `test`). */
  readonly defaultCredentials: IssuedCredentials;
  /** Images whose ECS tasks fail (seeded with a few; tests may add more). */
  readonly failingImages: ImageFailure[] = [];
  /** Task lifecycle delays of the simulated ECS scheduler; change before deploying to speed up or slow down. */
  readonly ecsTimings: EcsTimings = { ...DEFAULT_ECS_TIMINGS };
  /** Where AWS services' events go (EventBridge's default bus of the emitting account and region). */
  events: EventSink = NO_EVENTS;
  /** Services whose tasks keep crashing after they start (see crashLoop). */
  readonly crashLoops = new ServiceFaults<CrashLoop>();
  /** Services whose new tasks cannot be placed (see failPlacements). */
  readonly placementFailures = new ServiceFaults<PlacementFailure>();

  constructor(readonly clock: Clock = new Clock()) {
    // Stands in for the Lambda execution role's credentials the bot runs with in AWS.
    const role = this.addRole(DEFAULT_ACCOUNT, 'ecs-chatops-lambda');
    this.defaultCredentials = this.issueCredentials(role, 'ecs-chatops', {
      accessKeyId: 'AKIALOCAL00000000000',
      secretAccessKey: 'local',
    });
  }

  account(id: string): AccountState {
    let account = this.accounts.get(id);
    if (!account) {
      account = { id, iam: { roles: new Map() }, regions: new Map() };
      this.accounts.set(id, account);
    }
    return account;
  }

  /** Regional resources of an account, created empty on first use (as a fresh region looks). */
  region(accountId: string, region: string): RegionState {
    const account = this.account(accountId);
    let state = account.regions.get(region);
    if (!state) {
      state = {
        accountId,
        region,
        ecs: { clusters: new Map(), taskDefinitions: new Map() },
        ssm: { parameters: new Map() },
      };
      account.regions.set(region, state);
    }
    return state;
  }

  addRole(accountId: string, name: string, options: { maxSessionDuration?: number } = {}): Role {
    const role: Role = {
      arn: arns.role(accountId, name),
      name,
      roleId: awsId('AROA', 21, `${accountId}/${name}`),
      accountId,
      maxSessionDuration: options.maxSessionDuration ?? 3600,
      createDate: this.clock.date(-400 * 86_400_000),
    };
    this.account(accountId).iam.roles.set(name, role);
    return role;
  }

  findRole(roleArn: string): Role | undefined {
    const match = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
    return match ? this.accounts.get(match[1]!)?.iam.roles.get(match[2]!) : undefined;
  }

  /** Creates a role session (what STS AssumeRole does) and registers its access key. */
  issueCredentials(
    role: Role,
    sessionName: string,
    extra: Partial<Omit<Identity, 'type' | 'arn' | 'accountId' | 'principalId'>> & { secretAccessKey?: string } = {},
  ): IssuedCredentials {
    const { secretAccessKey, ...identityExtra } = extra;
    const accessKeyId = extra.accessKeyId ?? awsId('ASIA', 20);
    const credentials: IssuedCredentials = {
      accessKeyId,
      secretAccessKey: secretAccessKey ?? randomBytes(30).toString('base64'),
      ...(extra.expiration ? { sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(96).toString('base64')}` } : {}),
      identity: {
        type: 'AssumedRole',
        accountId: role.accountId,
        arn: arns.assumedRole(role.accountId, role.name, sessionName),
        principalId: `${role.roleId}:${sessionName}`,
        roleArn: role.arn,
        sessionName,
        ...identityExtra,
        accessKeyId,
      },
    };
    this.credentials.set(accessKeyId, credentials);
    return credentials;
  }

  /**
   * Makes a service's tasks crash (`service`: its ARN, or its name in any cluster): running ones
   * `crashAfterMs` from now, relaunched ones that long after they start, with ECS's back-off
   * between relaunches, until the returned function (or `crashLoops.clear`) ends the fault.
   */
  crashLoop(service: string, crash: CrashLoopSpec): () => void {
    return this.crashLoops.set(service, { ...crash, since: this.clock.now() });
  }

  /** The scheduler places no task of `service` while set; each attempt is a SERVICE_TASK_PLACEMENT_FAILURE. */
  failPlacements(service: string, reason: PlacementFailureReason): () => void {
    return this.placementFailures.set(service, { reason });
  }

  /** Role sessions issued for a role (newest last): lets tests assert who assumed what. */
  sessions(roleArn?: string): Identity[] {
    return [...this.credentials.values()].map((c) => c.identity).filter((i) => i.issuedAt && (!roleArn || i.roleArn === roleArn));
  }
}
