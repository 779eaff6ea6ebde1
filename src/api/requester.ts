import type { AuditRecord } from '../audit/audit';
import type { Invocation } from '../slack/invocation';

/**
 * Who submits work from outside Slack, as `submit` needs it: an IAM principal of the signed API
 * (made from its `Principal` in api.ts), a ticket webhook's source (src/webhooks/), or a schedule (src/schedules/).
 * Apart from api.ts so that what builds one never imports the API itself.
 */
export interface Requester {
  /** The synthetic user id it is authorised and audited under (`iam:<ARN>`, `webhook:<source>`). */
  userId: string;
  /** How `/ecs allow` names it, and the scope of its idempotency keys. */
  name: string;
  userName?: string;
  /** What the worker shows as its parent's "who" (src/slack/invocation.ts, requesterText). */
  origin: NonNullable<Invocation['origin']>;
  /** The audit record's fields naming it. */
  audit: Pick<AuditRecord, 'via' | 'principal' | 'ticket' | 'ticketUrl' | 'signedWith'>;
  /** Why it has no entry, when "not on the allowlist" would mislead (a schedule no longer declared). */
  notAllowed?: string;
}
