/** action_id of the "Refresh"/"Run again" button under an answer; its value is the command text after `/ecs`. */
export const RERUN_ACTION = 'ecs:rerun';

/** action_id of the Cancel button under a running script; its value is the run id. */
export const CANCEL_ACTION = 'ecs:cancel';
