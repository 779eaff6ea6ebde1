import { UserFacingError } from '../platform/errors';
import { unescapeText } from '../slack/format';
import type { CheckOutcome } from './types';
import { unverified } from './types';

/**
 * A check that threw could not be carried out: say why, and what the bot needs, never OK.
 * AccessDenied names the action and resource AWS refused, so the fix is the IAM statement.
 */
export function describeCheckError(error: unknown): CheckOutcome {
  // Its message is Slack text; check texts are plain (the renderer escapes them).
  if (error instanceof UserFacingError) return unverified(`could not check: ${unescapeText(error.userMessage)}`);
  const e = (error ?? {}) as { name?: string; message?: string };
  const name = e.name ?? 'Error';
  const message = e.message ?? String(error);
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized|AuthorizationError/i.test(name) || /not authorized to perform/i.test(message)) {
    const action = /perform: ([\w-]+:[\w-]+)/.exec(message)?.[1];
    const resource = /on resource: (\S+?)(?: because|$|\s)/.exec(message)?.[1];
    // AWS's wording when the resource's own policy is what refuses (a KMS key policy is
    // authoritative): no grant on the bot's role can fix that, the resource policy must name it.
    if (action && /because no resource-based policy allows/i.test(message)) {
      const principal = /^User: (\S+) is not authorized/.exec(message)?.[1];
      const role = principal ? /^arn:aws[\w-]*:sts::(\d{12}):assumed-role\/([^/]+)\//.exec(principal) : null;
      const who = role ? `arn:aws:iam::${role[1]}:role/${role[2]}` : (principal ?? "the bot's role");
      return unverified(
        `could not check: the policy of \`${resource ?? 'the resource'}\` does not let the bot \`${action}\``,
        `Add to that resource's policy (for a KMS key, its key policy): {"Effect":"Allow","Principal":{"AWS":"${who}"},"Action":"${action}","Resource":"*"}`,
      );
    }
    if (action) {
      return unverified(
        `could not check: the bot needs \`${action}\`${resource ? ` on \`${resource}\`` : ''}`,
        `Add to the bot's role: {"Effect":"Allow","Action":"${action}","Resource":"${resource ?? '*'}"}`,
      );
    }
    return unverified(`could not check: AWS denied the bot (${name}): ${message}`);
  }
  if (/Throttl|TooManyRequests|RequestLimitExceeded/i.test(name)) return unverified('could not check: AWS kept throttling the bot after several retries');
  return unverified(`could not check: ${name}: ${message}`);
}
