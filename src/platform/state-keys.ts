/**
 * Every key of the state table (pk), in one place: each kind of item has its own prefix, and only
 * this module spells them. One function per kind, so a key is never written by hand.
 */

/** A message the bot tracks, routed to on reactions: a request for approval (src/approval/types.ts). */
export const trackedKey = (channelId: string, messageTs: string): string => `tracked#${channelId}#${messageTs}`;

/** A Slack event delivered (and retried) under one event_id: claimed once by the ingress. */
export const eventKey = (eventId: string): string => `event#${eventId}`;

/** A signed request seen once within the replay window (the signature identifies it). */
export const replayKey = (signature: string): string => `request#${signature}`;

/** A job the worker claims, so an asynchronous invocation delivered twice runs once. */
export const jobKey = (jobId: string): string => `job#${jobId}`;

/** A script's run while it runs (src/commands/cancel.ts, RunRecord). */
export const runKey = (runId: string): string => `run#${runId}`;

/** A request to cancel a run, polled by whoever follows it. */
export const cancelKey = (runId: string): string => `cancel#${runId}`;

/** One catalog refresh at a time (src/commands/services-refresh.ts): two would interleave the catalog's index items. */
export const catalogRefreshLockKey = (): string => 'lock#catalog-refresh';

/** One run of a script on a target at a time (unless it allows overlap). */
export const runLockKey = (script: string, target: string): string => `lock#run#${script}#${target}`;

/** One deploy per ECS service at a time: per service, not per alias, so two aliases of one service share it. */
export const deployLockKey = (where: { region: string; cluster: string; service: string }): string =>
  `lock#deploy#${where.region}#${where.cluster}#${where.service}`;

/** A target's deploy history (src/deploy/history.ts). */
export const deployHistoryKey = (target: string): string => `history#deploy#${target}`;

/** A post of the run workflow, claimed so a retried step does not post it again. */
export const runPostKey = (runId: string, post: string): string => `runpost#${runId}#${post}`;

/** A post of the deploy workflow, claimed so a retried step does not post it again. */
export const deployPostKey = (deployId: string, post: string): string => `deploypost#${deployId}#${post}`;

/** The deploy workflow's UpdateService, recorded so a retried step recognises its own. */
export const deployUpdateKey = (deployId: string): string => `deployupdate#${deployId}`;

/** The scalable target's SuspendedState before a deploy suspended it (`suspendAutoscaling`), put back at its end. */
export const deploySuspendKey = (deployId: string): string => `deploysuspend#${deployId}`;

/** An ECS or alarm event the notifier has handled (EventBridge delivers at least once). */
export const notifiedEventKey = (eventId: string): string => `notified#${eventId}`;

/** A stopped task the notifier has counted: ECS may tell its stop in more than one event. */
export const notifiedStopKey = (taskArn: string): string => `notified#stop#${taskArn}`;

/** A target's open incident: its message, counters and who may edit it next (src/notify/incidents.ts). */
export const incidentKey = (target: string): string => `incident#${target}`;

/** A CloudWatch alarm's message while it is in ALARM, so its recovery edits the same message. */
export const alarmMessageKey = (alarmArnOrName: string): string => `alarm#${alarmArnOrName}`;

/** A target's notifications silenced until a time (src/notify/mute.ts): one per target, a new mute replaces it. */
export const muteKey = (target: string): string => `mute#${target}`;

/** A signed API caller's idempotency key (src/api/api.ts): the first request's id and body hash. */
export const apiIdempotencyKey = (principalArn: string, key: string): string => `api#idem#${principalArn}#${key}`;

/** A request accepted from the signed API, for `GET /api/runs/{id}` (who asked, where, its audit record). */
export const apiRequestKey = (id: string): string => `api#request#${id}`;

/** A signed API caller's token bucket (src/api/rate-limit.ts). */
export const apiRateKey = (principalArn: string): string => `api#rate#${principalArn}`;

/** A signed ticket webhook seen once within its replay window (src/webhooks/): its source and signature. */
export const webhookReplayKey = (source: string, signature: string): string => `webhook#replay#${source}#${signature}`;
