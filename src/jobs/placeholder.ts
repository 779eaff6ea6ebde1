/** `{name}` as a whole argv item of a job's command stands for the job argument of that name. */
export const JOB_PLACEHOLDER = /^\{([a-z][a-z0-9-]{0,30})\}$/;
