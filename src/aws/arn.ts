/** `web-task-role` from `arn:aws:iam::111111111111:role/app/web-task-role` (or from a bare name). */
export const roleName = (arn: string): string => arn.split('/').pop()!;
