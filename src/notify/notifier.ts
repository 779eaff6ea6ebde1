/**
 * One delivered event → at most a few Slack writes: read it (events.ts), decide whether and where
 * it is told (routing.ts, mutes), then fold it into the target's incident (incidents.ts) — one
 * message per incident, edited at most once a minute, a diagnosis in its thread for each new way
 * of failing, closed when the service is steady again. Alarms get a message of their own that
 * their recovery edits. Exactly once per event (ledger.ts), whatever EventBridge and Lambda repeat.
 */
import type { Config, Target } from '../config/schema';
import type { AwsSession } from '../aws/session';
import type { Logger } from '../platform/logger';
import { escapeText } from '../slack/format';
import { alarmMessageKey, deployLockKey, notifiedEventKey, notifiedStopKey } from '../platform/state-keys';
import type { StateStore } from '../platform/state';
import type { DeployLock } from '../deploy/types';
import { readEvent, stopSignature, type DeploymentNotice, type Notice, type ServiceActionNotice, type TaskStopNotice } from './events';
import type { EventLedger } from './ledger';
import type { Incident, IncidentChange, IncidentStore } from './incidents';
import {
  actionKey,
  alarmMessage,
  deploymentMessage,
  incidentMessage,
  serviceActionMessage,
  stopDiagnosisMessage,
  unknownEventMessage,
  type BotDeploy,
  type ButtonsBlock,
  type SlackMessage,
} from './render';
import { decide, type Route, targetOf } from './routing';

/** The incident's message is edited at most this often (by default); its thread and its close are not held back. */
export const EDIT_INTERVAL_MS = 60_000;
/** The first message of an incident waits this long for the rest of a burst. */
const GATHER_MS = 1500;
/** An edit due within this long is waited for rather than left to the next event. */
const TRAILING_WAIT_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Alarm messages are remembered this long while the alarm stays in ALARM. */
const ALARM_KEEP_SECONDS = 14 * 86_400;

export interface NotifySlack {
  post(channel: string, message: SlackMessage, threadTs?: string): Promise<string>;
  update(channel: string, ts: string, message: SlackMessage): Promise<void>;
  permalink(channel: string, ts: string): Promise<string | undefined>;
}

export interface MuteLookup {
  mutedUntil(target: string, now?: number): Promise<{ until: string; by: string } | undefined>;
}

export interface NotifierDeps {
  config(): Config;
  state: StateStore;
  ledger: EventLedger;
  incidents: IncidentStore;
  mutes: MuteLookup;
  slack(): Promise<NotifySlack>;
  /** AWS access to a target, as the notifier (`ecs-chatops@notifier` in another account); loaded on first use. */
  session(target: Target): Promise<AwsSession>;
  buttons: ButtonsBlock;
  logger: Logger;
  /** Counts what happened to an event (the notifier's metrics). */
  count(outcome: string): void;
  now(): number;
  /** Edits of an incident's message at most this often (EDIT_INTERVAL_MS unless the deployment says otherwise). */
  editIntervalMs?: number;
  /** How long an incident's first message waits for the rest of a burst (GATHER_MS by default). */
  gatherMs?: number;
}

export type NotifyOutcome =
  | 'duplicate'
  | 'muted'
  | 'told'
  | `dropped:${'unknown-service' | 'not-configured' | 'kind-off' | 'below-severity' | 'quiet-hours' | 'no-news' | 'no-incident' | 'stale'}`;

interface Handling {
  notice: Notice;
  route: Route;
  /** The event's own time (EventBridge `time`), for ordering against the incident. */
  at: number;
  slack: NotifySlack;
}

const windowMs = (route: Route) => route.incidentWindowMinutes * 60_000;

const alarmKeyOf = (notice: Extract<Notice, { kind: 'alarm' }>) => alarmMessageKey(notice.alarmArn ?? `${notice.account}:${notice.region}:${notice.alarmName}`);

export function createNotifier(deps: NotifierDeps) {
  const { logger } = deps;

  /** The deploy the bot is running on this service, if any: its thread is linked from the diagnosis. */
  async function botDeploy(target: Target, slack: NotifySlack): Promise<BotDeploy | undefined> {
    const lock = await deps.state.get<DeployLock>(deployLockKey(target)).catch(() => undefined);
    if (!lock) return undefined;
    const link = await slack.permalink(lock.channelId, lock.threadTs);
    return { requester: lock.userId, commandText: lock.commandText, ...(link ? { permalink: link } : {}) };
  }

  /** The incident's message ts, waiting briefly for the invocation that is posting it. */
  async function threadOf(incident: Incident, h: Handling): Promise<string | undefined> {
    for (let i = 0; i < 10 && !incident.ts; i++) {
      await sleep(300);
      const now = await deps.incidents.open(incident.target, deps.now(), windowMs(h.route));
      if (now?.incidentId === incident.incidentId && now.ts) return now.ts;
    }
    return incident.ts;
  }

  async function ensurePosted(incident: Incident, h: Handling, where: TaskStopNotice['where']): Promise<Incident> {
    if (incident.ts || !(await deps.incidents.claimPost(incident.target, incident.incidentId, deps.now()))) return incident;
    // Tasks of a bad deploy crash together: a moment's wait lets the burst be counted in the first
    // message ("10 tasks stopped") rather than trickle in through edits.
    await sleep(deps.gatherMs ?? GATHER_MS);
    const gathered = (await deps.incidents.open(incident.target, deps.now(), windowMs(h.route))) ?? incident;
    const current = gathered.incidentId === incident.incidentId ? gathered : incident;
    let ts: string;
    try {
      ts = await h.slack.post(incident.channel, incidentMessage(current, where, deps.buttons));
    } catch (error) {
      await deps.incidents.releasePost(incident.target, incident.incidentId).catch(() => undefined);
      throw error;
    }
    return (await deps.incidents.attach(incident.target, incident.incidentId, ts)) ?? { ...incident, ts };
  }

  async function render(incident: Incident, h: Handling, where: TaskStopNotice['where'], force = false): Promise<void> {
    const interval = deps.editIntervalMs ?? EDIT_INTERVAL_MS;
    let current = await deps.incidents.claimRender(incident.target, incident.incidentId, deps.now(), interval, force);
    // Too soon, but due within moments: wait for it, so the last of a burst is not left unshown
    // until the next event (an edit at most `interval` stale otherwise; the close is exact).
    const dueIn = incident.renderedAt + interval - deps.now();
    if (!current && dueIn > 0 && dueIn <= TRAILING_WAIT_MS) {
      await sleep(dueIn + 50);
      current = await deps.incidents.claimRender(incident.target, incident.incidentId, deps.now(), interval);
    }
    if (current?.ts) await h.slack.update(current.channel, current.ts, incidentMessage(current, where, deps.buttons));
  }

  /** A reply in the incident's thread, once per `key`. */
  async function explainOnce(incident: Incident, h: Handling, key: string, message: () => Promise<SlackMessage>): Promise<void> {
    if (!(await deps.incidents.claimDiagnosis(incident.target, incident.incidentId, key))) return;
    const ts = await threadOf(incident, h);
    await h.slack.post(incident.channel, await message(), ts);
  }

  async function record(h: Handling, change: IncidentChange, ledgerKey: string, resume: boolean): Promise<Incident> {
    if (resume) {
      const open = await deps.incidents.open(h.route.target, deps.now(), windowMs(h.route));
      if (open) return open;
    }
    const { incident } = await deps.incidents.record(h.route.target, h.route.channel, change, deps.now(), windowMs(h.route), h.at);
    await deps.ledger.mark(ledgerKey, 'recorded');
    return incident;
  }

  async function taskStopped(notice: TaskStopNotice, h: Handling, ledgerKey: string, resume: boolean): Promise<void> {
    const target = deps.config().targets[h.route.target]!;
    const signature = stopSignature(notice);
    let incident = await record(h, { kind: 'stop', signature }, ledgerKey, resume);
    incident = await ensurePosted(incident, h, notice.where);
    await explainOnce(incident, h, signature, async () => {
      const session = await deps.session(target);
      try {
        const { diagnoseStop } = await import('./diagnose');
        const [diagnosis, deploy] = await Promise.all([diagnoseStop({ session }, notice), botDeploy(target, h.slack)]);
        return stopDiagnosisMessage(notice, diagnosis, { buttons: deps.buttons, target: h.route.target, ...(deploy ? { botDeploy: deploy } : {}) });
      } finally {
        session.destroy();
      }
    });
    await render(incident, h, notice.where);
  }

  async function deploymentChanged(notice: DeploymentNotice, h: Handling, ledgerKey: string, resume: boolean): Promise<NotifyOutcome> {
    const target = deps.config().targets[h.route.target]!;
    if (notice.eventName === 'SERVICE_DEPLOYMENT_COMPLETED')
      return closeIncident(h, notice.where, `Steady again: deployment ${notice.deploymentId ?? ''} completed`.trim());
    if (notice.eventName !== 'SERVICE_DEPLOYMENT_FAILED' && !notice.rollback) return 'dropped:no-news';
    const state = notice.rollback ? 'rolling back' : 'failed';
    let incident = await record(
      h,
      { kind: 'deployment', ...(notice.deploymentId ? { id: notice.deploymentId } : {}), state, ...(notice.reason ? { reason: notice.reason } : {}) },
      ledgerKey,
      resume,
    );
    incident = await ensurePosted(incident, h, notice.where);
    await explainOnce(incident, h, `${notice.eventName}:${notice.deploymentId ?? ''}:${notice.rollback}`, async () => {
      const deploy = await botDeploy(target, h.slack);
      return deploymentMessage(notice, deploy);
    });
    await render(incident, h, notice.where, true);
    return 'told';
  }

  async function serviceAction(notice: ServiceActionNotice, h: Handling, ledgerKey: string, resume: boolean): Promise<NotifyOutcome> {
    if (notice.eventName === 'SERVICE_STEADY_STATE' || notice.eventName === 'TASKSET_STEADY_STATE') return closeIncident(h, notice.where, 'Steady again');
    if (notice.eventType !== 'WARN' && notice.eventType !== 'ERROR') return 'dropped:no-news';
    const key = actionKey(notice);
    let incident = await record(h, { kind: 'action', key }, ledgerKey, resume);
    incident = await ensurePosted(incident, h, notice.where);
    await explainOnce(incident, h, key, async () => serviceActionMessage(notice));
    await render(incident, h, notice.where);
    return 'told';
  }

  async function closeIncident(h: Handling, where: TaskStopNotice['where'], resolution: string): Promise<NotifyOutcome> {
    const open = await deps.incidents.open(h.route.target, deps.now(), windowMs(h.route));
    // A steady state from before the incident began (events arrive out of order) closes nothing.
    if (!open || h.at < open.openedAt - 1000) return 'dropped:no-incident';
    const closed = await deps.incidents.close(h.route.target, open.incidentId, deps.now(), resolution);
    if (!closed) return 'duplicate';
    const ts = await threadOf(closed, h);
    if (ts) {
      await h.slack.update(closed.channel, ts, incidentMessage(closed, where, deps.buttons));
      await h.slack.post(closed.channel, { text: `✅ ${resolution}.` }, ts);
    }
    return 'told';
  }

  async function alarmChanged(notice: Extract<Notice, { kind: 'alarm' }>, h: Handling): Promise<NotifyOutcome> {
    const key = alarmKeyOf(notice);
    if (notice.state === 'ALARM') {
      // Claimed before posting: two ALARM events of one alarm arriving together make one message.
      if (await deps.state.claim(key, ALARM_KEEP_SECONDS, { channel: h.route.channel })) {
        const ts = await h.slack.post(h.route.channel, alarmMessage(notice, h.route.target, deps.buttons)).catch(async (error: unknown) => {
          // Not posted: the retry claims it again and posts.
          await deps.state.release(key).catch(() => undefined);
          throw error;
        });
        await deps.state.put(key, ALARM_KEEP_SECONDS, { channel: h.route.channel, ts });
        return 'told';
      }
      const current = await deps.state.get<{ channel: string; ts?: string }>(key);
      // No ts yet: another invocation is posting this alarm's message right now.
      if (!current?.ts) return 'duplicate';
      await h.slack.update(current.channel, current.ts, alarmMessage(notice, h.route.target, deps.buttons));
      return 'told';
    }
    const posted = await deps.state.get<{ channel: string; ts?: string }>(key);
    if (!posted?.ts) return 'dropped:below-severity';
    await h.slack.update(posted.channel, posted.ts, alarmMessage({ ...notice }, h.route.target, deps.buttons, new Date(h.at).toISOString()));
    await h.slack.post(
      posted.channel,
      { text: `${notice.state === 'OK' ? '✅' : '❔'} Now ${escapeText(notice.state)}: ${escapeText(notice.reason ?? 'no reason given')}` },
      posted.ts,
    );
    if (notice.state === 'OK') await deps.state.release(key);
    return 'told';
  }

  return async function notify(event: unknown, options: { botAccount?: string } = {}): Promise<NotifyOutcome> {
    const notice = readEvent(event);
    const envelope = (event ?? {}) as { time?: string };
    const at = Date.parse(envelope.time ?? '') || deps.now();
    // A task may tell its stop in more than one event: counted once per task, not per event.
    const ledgerKey = notice.kind === 'task-stopped' ? notifiedStopKey(notice.taskArn) : notifiedEventKey(notice.id || `noid-${deps.now()}`);
    const begun = await deps.ledger.begin(ledgerKey);
    if (begun === 'duplicate') {
      deps.count('duplicate');
      return 'duplicate';
    }
    const resume = begun === 'resume';
    try {
      const outcome = await handle(notice, at, ledgerKey, resume, options.botAccount);
      deps.count(outcome);
      if (outcome.startsWith('dropped:') || outcome === 'muted') logger.info('event not told', { outcome, id: notice.id, kind: notice.kind });
      await deps.ledger.mark(ledgerKey, 'done');
      return outcome;
    } catch (error) {
      // Not recorded yet: give the event back so the retry starts over. Recorded: the retry resumes.
      await deps.ledger.release(ledgerKey).catch(() => undefined);
      throw error;
    }
  };

  async function handle(notice: Notice, at: number, ledgerKey: string, resume: boolean, botAccount: string | undefined): Promise<NotifyOutcome> {
    const config = deps.config();
    const now = deps.now();
    // What belongs to an incident already in the channel is always told, so a thread never stops halfway.
    // Whether it is ongoing is known before routing: the target, and every route's incident window, come from the configuration alone.
    const target = targetOf(config, notice, botAccount);
    const routeWindow = (config.notifications?.incidentWindowMinutes ?? 15) * 60_000;
    const ongoing = !target
      ? false
      : notice.kind === 'alarm'
        ? !!(await deps.state.get(alarmKeyOf(notice)))
        : notice.kind !== 'unknown' && !!(await deps.incidents.open(target, now, routeWindow));
    const verdict = decide(config, notice, { botAccount, now, ongoing });
    if (notice.kind === 'unknown')
      logger.warn('an event the notifier does not know', { id: notice.id, source: notice.source, detailType: notice.detailType, why: notice.why });
    if (!verdict.tell) return `dropped:${verdict.why}`;
    const muted = await deps.mutes.mutedUntil(verdict.route.target, now);
    if (muted) return 'muted';
    const h: Handling = { notice, route: verdict.route, at, slack: await deps.slack() };
    switch (notice.kind) {
      case 'task-stopped':
        if (notice.stop === 'normal' || notice.stop === 'user') return 'dropped:no-news';
        await taskStopped(notice, h, ledgerKey, resume);
        return 'told';
      case 'deployment':
        return deploymentChanged(notice, h, ledgerKey, resume);
      case 'service-action':
        return serviceAction(notice, h, ledgerKey, resume);
      case 'alarm':
        return alarmChanged(notice, h);
      case 'unknown':
        await h.slack.post(h.route.channel, unknownEventMessage(notice));
        return 'told';
    }
  }
}
