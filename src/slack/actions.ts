/** action_id of the "Refresh"/"Run again" button under an answer; its value is the command text after `/ecs`. */
export const RERUN_ACTION = 'ecs:rerun';

/** action_id of the Cancel button under a running script; its value is the run id. */
export const CANCEL_ACTION = 'ecs:cancel';

/** A button the bot puts under its messages: a click stands for a command, authorised like one. */
export interface ButtonAction {
  actionId: string;
  /** The command text (after `/ecs`) a click with this value stands for; undefined: nothing to do. */
  commandWords(value: string | undefined): string | undefined;
}

/** Every button, the one table that both the HTTP ingress and Socket Mode (src/ingress/bolt-listeners.ts) route by. */
export const BUTTON_ACTIONS: readonly ButtonAction[] = [
  { actionId: RERUN_ACTION, commandWords: (value) => value },
  { actionId: CANCEL_ACTION, commandWords: (value) => `cancel ${value ?? ''}` },
];

/** What a click on `actionId` with `value` asks for: the command words, or undefined for a button the bot does not know. */
export const clickedCommand = (actionId: string, value: string | undefined): string | undefined =>
  BUTTON_ACTIONS.find((a) => a.actionId === actionId)?.commandWords(value);
