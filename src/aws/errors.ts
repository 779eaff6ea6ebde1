import { UserFacingError } from '../platform/errors';
import { code, escapeText } from '../slack/format';

interface AwsErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { requestId?: string; httpStatusCode?: number };
}

/** An AWS failure explained for the person in Slack, naming the missing permission where AWS does. */
class AwsOperationError extends UserFacingError {
  constructor(
    message: string,
    readonly awsErrorName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `doing` is the bot's own Slack text ("reading service `web` …"). Everything AWS wrote (the
 * message, the error name, the action and resource it names, the request id) is escaped here, so
 * an exception text such as `<!channel>` reaches Slack as text, not as a mention.
 */
export function explainAwsError(error: unknown, doing: string): UserFacingError {
  if (error instanceof UserFacingError) return error;
  const e = (error ?? {}) as AwsErrorLike;
  const rawName = e.name ?? e.code ?? 'Error';
  const rawMessage = e.message ?? String(error);
  const name = escapeText(rawName);
  const message = escapeText(rawMessage);
  const requestId = e.$metadata?.requestId ? ` (AWS request id ${escapeText(e.$metadata.requestId)})` : '';
  const wrap = (text: string) => new AwsOperationError(`${text}${requestId}`, rawName, { cause: error });

  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(rawName) || /not authorized to perform/i.test(rawMessage)) {
    const action = /perform: ([\w-]+:[\w-]+)/.exec(rawMessage)?.[1];
    const resource = /on resource: (\S+?)(?: because|$|\s)/.exec(rawMessage)?.[1];
    return wrap(
      action
        ? `AWS refused ${doing}: the bot's role may not call ${code(action)}${resource ? ` on ${code(resource)}` : ''}. Add ${code(action)} to its IAM policy (serverless.yml, or infra/cross-account-role.yaml for a role in another account).`
        : `AWS refused ${doing}: access denied. ${message}`,
    );
  }
  if (/Throttl|TooManyRequests|RequestLimitExceeded|SlowDown/i.test(rawName)) {
    return wrap(`AWS kept throttling ${doing} after several retries with backoff. Try again in a minute.`);
  }
  if (rawName === 'ClusterNotFoundException')
    return wrap(`The ECS cluster was not found while ${doing}. Check the target's \`cluster\` and \`region\` in the configuration.`);
  if (rawName === 'ServiceNotFoundException' || rawName === 'ServiceNotActiveException')
    return wrap(`The ECS service was not found (or is not active) while ${doing}.`);
  if (/ExpiredToken|InvalidClientTokenId|UnrecognizedClient|InvalidSignature/i.test(rawName)) {
    return wrap(
      `The bot's AWS credentials were rejected while ${doing} (${name}). If the target assumes a role, check that role's trust policy names the bot's role.`,
    );
  }
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|TimeoutError|socket hang up/i.test(`${rawName} ${rawMessage}`)) {
    return wrap(`Could not reach AWS while ${doing} (${name}). If the bot runs in a VPC, it needs a route or an endpoint for this service.`);
  }
  return wrap(`AWS returned ${name} while ${doing}: ${message}`);
}
