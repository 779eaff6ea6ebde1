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
