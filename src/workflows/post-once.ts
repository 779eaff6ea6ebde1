import type { StateStore } from '../platform/state';

/**
 * Does `post` at most once per `key`, however often the step around it is replayed or retried:
 * the key is claimed first (a replay finds it taken and posts nothing), and released when `post`
 * throws, so the retried step can still post it. An invocation that dies between the claim and
 * the post loses that one message (at most once, never twice): the claim expires after `ttlSeconds`.
 * Returns whether this call posted.
 */
export async function postOnce(state: StateStore, key: string, ttlSeconds: number, post: () => Promise<void>): Promise<boolean> {
  if (!(await state.claim(key, ttlSeconds))) return false;
  try {
    await post();
    return true;
  } catch (error) {
    await state.release(key).catch(() => undefined);
    throw error;
  }
}
