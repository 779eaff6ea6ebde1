/** An error whose message is written for the person in Slack, not for a developer. */
export class UserFacingError extends Error {
  constructor(
    readonly userMessage: string,
    options?: { cause?: unknown },
  ) {
    super(userMessage, options);
    this.name = new.target.name;
  }
}

/** The request is not one the bot understands: unknown verb, service or bad arguments. */
export class UsageError extends UserFacingError {}

/** The user may not do this; the message names what is missing. */
export class PermissionDeniedError extends UserFacingError {}

/**
 * A refusal answered exactly like "no such thing" (the person may not learn that it exists), but
 * audited as the denial it is, with the real reason.
 */
export class HiddenRefusalError extends PermissionDeniedError {
  constructor(
    /** What the person is told: the answer for a thing that does not exist. */
    readonly publicText: string,
    /** Why, for the audit record. */
    reason: string,
  ) {
    super(reason);
  }
}
