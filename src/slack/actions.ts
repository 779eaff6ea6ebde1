import type { ActionsBlock, Button } from '@slack/web-api';

/** action_id of the "Refresh"/"Run again" button under an answer; its value is the command text after `/ecs`. */
export const RERUN_ACTION = 'ecs:rerun';

/** action_id of the Cancel button under a running script; its value is the run id. */
export const CANCEL_ACTION = 'ecs:cancel';

/**
 * The buttons under a notification (src/notify/): each stands for a command on the notified
 * target, authorised as the person who clicks, like the command typed. Their value is the target
 * (Logs: the target and, when the notification is about one task, its id).
 */
export const NOTIFY_STATUS_ACTION = 'ecs:notify-status';
export const NOTIFY_LOGS_ACTION = 'ecs:notify-logs';
export const NOTIFY_VERIFY_ACTION = 'ecs:notify-verify';
export const NOTIFY_ROLLBACK_ACTION = 'ecs:notify-rollback';
export const NOTIFY_MUTE_ACTION = 'ecs:notify-mute';
/** How long the Mute button silences a target. */
export const NOTIFY_MUTE_DURATION = '1h';

/** A button the bot puts under its messages: a click stands for a command, authorised like one. */
export interface ButtonAction {
  actionId: string;
  /** The command text (after `/ecs`) a click with this value stands for; undefined: nothing to do. */
  commandWords(value: string | undefined): string | undefined;
}

/** `web` → `logs web`; `web 0f2c…` → `logs web --task 0f2c…`. */
function logsWords(value: string | undefined): string {
  const [target = '', taskId] = (value ?? '').trim().split(/\s+/, 2);
  return taskId ? `logs ${target} --task ${taskId}` : `logs ${target}`;
}

/** Every button, the one table that both the HTTP ingress and Socket Mode (src/ingress/bolt-listeners.ts) route by. */
export const BUTTON_ACTIONS: readonly ButtonAction[] = [
  { actionId: RERUN_ACTION, commandWords: (value) => value },
  { actionId: CANCEL_ACTION, commandWords: (value) => `cancel ${value ?? ''}` },
  { actionId: NOTIFY_STATUS_ACTION, commandWords: (value) => `status ${value ?? ''}` },
  { actionId: NOTIFY_LOGS_ACTION, commandWords: logsWords },
  { actionId: NOTIFY_VERIFY_ACTION, commandWords: (value) => `verify ${value ?? ''}` },
  // Goes through the usual approval: the click only asks for it.
  { actionId: NOTIFY_ROLLBACK_ACTION, commandWords: (value) => `rollback ${value ?? ''}` },
  { actionId: NOTIFY_MUTE_ACTION, commandWords: (value) => `mute ${value ?? ''} ${NOTIFY_MUTE_DURATION}` },
];

/** What a click on `actionId` with `value` asks for: the command words, or undefined for a button the bot does not know. */
export const clickedCommand = (actionId: string, value: string | undefined): string | undefined =>
  BUTTON_ACTIONS.find((a) => a.actionId === actionId)?.commandWords(value);

/**
 * The buttons under a notification about `target` (and, when it concerns one task, `taskId`):
 * Status, Logs, Verify, Rollback, Mute 1 h. Each click runs as the command would, for the person
 * who clicks. Values are the target and task id only (Slack allows 2,000 characters; names are far
 * shorter), five elements of Slack's 25.
 */
export function notificationButtons(target: string, taskId?: string): ActionsBlock {
  const button = (actionId: string, text: string, value: string, style?: 'danger'): Button => ({
    type: 'button',
    action_id: actionId,
    text: { type: 'plain_text', text, emoji: true },
    value,
    ...(style ? { style } : {}),
  });
  return {
    type: 'actions',
    elements: [
      button(NOTIFY_STATUS_ACTION, 'Status', target),
      button(NOTIFY_LOGS_ACTION, 'Logs', taskId ? `${target} ${taskId}` : target),
      button(NOTIFY_VERIFY_ACTION, 'Verify', target),
      button(NOTIFY_ROLLBACK_ACTION, 'Rollback', target, 'danger'),
      button(NOTIFY_MUTE_ACTION, '🔕 Mute 1 h', target),
    ],
  };
}
