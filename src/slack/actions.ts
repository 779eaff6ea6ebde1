/** action_id of the "Refresh"/"Run again" button under an answer; its value is the command text after `/ecs`. */
export const RERUN_ACTION = 'ecs:rerun';
