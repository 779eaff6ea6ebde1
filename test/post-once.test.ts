import { describe, expect, it } from 'vitest';
import { postOnce } from '../src/workflows/post-once';
import { memoryState } from './support/fakes';

describe('postOnce', () => {
  it('posts once however often the step runs again', async () => {
    const state = memoryState();
    let posts = 0;
    const post = async () => void posts++;
    expect(await postOnce(state, 'run#1#files', 60, post)).toBe(true);
    expect(await postOnce(state, 'run#1#files', 60, post)).toBe(false);
    expect(posts).toBe(1);
  });

  it('lets the retried step post when the post failed, and passes the failure on', async () => {
    const state = memoryState();
    const failing = async () => {
      throw new Error('slack refused');
    };
    await expect(postOnce(state, 'run#2#files', 60, failing)).rejects.toThrow('slack refused');
    let posts = 0;
    expect(await postOnce(state, 'run#2#files', 60, async () => void posts++)).toBe(true);
    expect(posts).toBe(1);
  });
});
