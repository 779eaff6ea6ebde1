import { UserFacingError } from '../platform/errors';

interface AwsErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { requestId?: string; httpStatusCode?: number };
}

/** An AWS failure explained for the person in Slack, naming the missing permission where AWS does. */
export class AwsOperationError extends UserFacingError {
  constructor(
    message: string,
    readonly awsErrorName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function explainAwsError(error: unknown, doing: string): UserFacingError {
  if (error instanceof UserFacingError) return error;
  const e = (error ?? {}) as AwsErrorLike;
  const name = e.name ?? e.code ?? 'Error';
  const message = e.message ?? String(error);
  const requestId = e.$metadata?.requestId ? ` (AWS request id ${e.$metadata.requestId})` : '';
  const wrap = (text: string) => new AwsOperationError(`${text}${requestId}`, name, { cause: error });

  if (/AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(name) || /not authorized to perform/i.test(message)) {
    const action = /perform: ([\w-]+:[\w-]+)/.exec(message)?.[1];
    const resource = /on resource: (\S+?)(?: because|$|\s)/.exec(message)?.[1];
    return wrap(
      action
        ? `AWS refused ${doing}: the bot's role may not call \`${action}\`${resource ? ` on \`${resource}\`` : ''}. Add \`${action}\` to its IAM policy (serverless.yml, or infra/cross-account-role.yaml for a role in another account).`
        : `AWS refused ${doing}: access denied. ${message}`,
    );
  }
  if (/Throttl|TooManyRequests|RequestLimitExceeded|SlowDown/i.test(name)) {
    return wrap(`AWS kept throttling ${doing} after several retries with backoff. Try again in a minute.`);
  }
  if (name === 'ClusterNotFoundException') return wrap(`The ECS cluster was not found while ${doing}. Check the target's \`cluster\` and \`region\` in the configuration.`);
  if (name === 'ServiceNotFoundException' || name === 'ServiceNotActiveException') return wrap(`The ECS service was not found (or is not active) while ${doing}.`);
  if (/ExpiredToken|InvalidClientTokenId|UnrecognizedClient|InvalidSignature/i.test(name)) {
    return wrap(`The bot's AWS credentials were rejected while ${doing} (${name}). If the target assumes a role, check that role's trust policy names the bot's role.`);
  }
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|TimeoutError|socket hang up/i.test(`${name} ${message}`)) {
    return wrap(`Could not reach AWS while ${doing} (${name}). If the bot runs in a VPC, it needs a route or an endpoint for this service.`);
  }
  return wrap(`AWS returned ${name} while ${doing}: ${message}`);
}
