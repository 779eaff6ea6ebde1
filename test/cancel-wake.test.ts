import { describe, expect, it } from 'vitest';
import { cancel } from '../src/commands/cancel';
import type { AckContext } from '../src/commands/types';
import { memoryAllowlist, memoryState } from './support/fakes';

/** The cancel of a detached run wakes its workflow's wait (src/workflows/run-wake.ts), or says when it could not. */
const detachedRun = {
  runId: 'abc123',
  script: 'slow.sh',
  target: 'manager',
  teamId: 'T1',
  userId: 'U0ALICE',
  channelId: 'C0OPS',
  startedAt: '2026-01-01T00:00:00Z',
  checkedEverySeconds: 30,
};

async function cancelWith(wakeRun: AckContext['wakeRun'], record: Record<string, unknown> = { ...detachedRun, wakeId: 'cb-1' }) {
  const state = memoryState();
  await state.claim('run#abc123', 3600, record);
  const answer = await cancel(
    { runId: 'abc123' },
    {
      invocation: { teamId: 'T1', userId: 'U0ALICE', channelId: 'C0OPS', command: '/ecs', text: 'cancel abc123' },
      config: {} as AckContext['config'],
      entry: undefined,
      allowlist: memoryAllowlist(),
      state,
      ...(wakeRun ? { wakeRun } : {}),
    },
  );
  return { text: answer.text, cancelled: await state.get('cancel#abc123') };
}

describe('/ecs cancel of a detached run', () => {
  it('completes the wait recorded on the run record, after storing the cancel, and says it stops now', async () => {
    const woken: string[] = [];
    const { text, cancelled } = await cancelWith(async (id) => (woken.push(id), true));
    expect(woken).toEqual(['cb-1']);
    expect(cancelled).toMatchObject({ by: 'U0ALICE' });
    expect(text).toContain('it runs detached; its processes get Ctrl-C now, then they are killed');
  });

  it('a wake that fails leaves the cancel standing and says it stops at the next check', async () => {
    const { text, cancelled } = await cancelWith(async () => {
      throw new Error('Lambda did not answer in time');
    });
    expect(cancelled).toMatchObject({ by: 'U0ALICE' });
    expect(text).toContain('could not be woken just now, so it stops at its next check, within 30 s');
  });
});
