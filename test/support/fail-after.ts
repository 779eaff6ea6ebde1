import type { World } from '../../local/world';

/**
 * Makes Slack refuse the first post after AWS answered `action` successfully, so the workflow
 * step that made that call throws after its work and is retried (what a Lambda dying between the
 * call and its checkpoint looks like), the first `times` such calls only when given. Returns the undo.
 */
export function failSlackPostAfter(world: World, action: string, options: { times?: number } = {}): () => void {
  const calls = world.aws.calls;
  const push = calls.push.bind(calls);
  let left = options.times ?? Infinity;
  calls.push = (...records) => {
    if (left > 0 && records.some((r) => r.action === action && r.status === 200)) {
      left--;
      world.slack.faults.fail('chat.postMessage', 'internal_error', 1);
    }
    return push(...records);
  };
  return () => {
    delete (calls as { push?: unknown }).push;
  };
}

/**
 * Makes AWS refuse `failing` (`service:Action`) `times` times once AWS answered `action`
 * successfully: the step that made that call fails after its work, beyond the SDK's retries when
 * `times` ≥ 5. Returns the undo.
 */
export function failAwsAfter(
  world: World,
  action: string,
  failing: string,
  error: { code: string; message?: string; status?: number },
  times: number,
): () => void {
  const calls = world.aws.calls;
  const push = calls.push.bind(calls);
  let lift = () => {};
  calls.push = (...records) => {
    if (records.some((r) => r.action === action && r.status === 200)) {
      lift = world.aws.faults.fail(failing, error, times);
      delete (calls as { push?: unknown }).push;
    }
    return push(...records);
  };
  return () => {
    delete (calls as { push?: unknown }).push;
    lift();
  };
}
