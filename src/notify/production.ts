/** The notifier's collaborators as deployed: built once per cold start, nothing loaded before the first event. */
import { notifyEditIntervalSeconds } from '../config/env';
import { getConfig } from '../config/load';
import { log } from '../platform/logger';
import { countMetric } from '../platform/metrics';
import { getSlackBotToken } from '../platform/secrets';
import { dynamoState } from '../platform/state';
import { notificationButtons } from '../slack/actions';
import { dynamoIncidents } from './incidents';
import { stateLedger } from './ledger';
import { stateMuteStore } from './mute';
import type { NotifierDeps, NotifySlack } from './notifier';

/** One line in CloudWatch's embedded metric format per event: what happened to it, by outcome. */
const countOutcome = (outcome: string): void => countMetric('NotifierEvents', 'outcome', outcome);

export function productionNotifierDeps(remainingMs: () => number): NotifierDeps {
  let slack: Promise<NotifySlack> | undefined;
  const editSeconds = notifyEditIntervalSeconds();
  return {
    ...(editSeconds !== undefined ? { editIntervalMs: editSeconds * 1000 } : {}),
    config: getConfig,
    state: dynamoState,
    ledger: stateLedger(dynamoState),
    incidents: dynamoIncidents,
    mutes: stateMuteStore(dynamoState),
    slack: () =>
      (slack ??= Promise.all([getSlackBotToken(), import('../slack/client'), import('./slack')]).then(([token, { createSlackClient }, { slackNotifier }]) =>
        slackNotifier(createSlackClient(token), remainingMs),
      )).catch((error: unknown) => {
        slack = undefined;
        throw error;
      }),
    // The SDK's ECS client and credentials are loaded on the first diagnosis, not at cold start.
    session: async (target) => new (await import('../aws/session')).AwsSession(target, { teamId: 'events', userId: 'notifier' }),
    buttons: notificationButtons,
    logger: log,
    count: countOutcome,
    now: Date.now,
  };
}
