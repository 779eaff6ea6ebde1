import { describe, expect, it } from 'vitest';
import type { AllowlistEntry, Grant } from '../src/auth/roles';
import { cancel } from '../src/commands/cancel';
import type { AckContext } from '../src/commands/types';
import { HiddenRefusalError, PermissionDeniedError } from '../src/platform/errors';
import { memoryAllowlist, memoryState } from './support/fakes';

/**
 * `/ecs cancel` of a `/ecs logs --follow` (src/commands/logs-follow.ts): its starter may always stop
 * it; anyone else needs `run` on the whole service, in the follow's channel: a scope with its
 * channel and service named, never a script it does not have.
 */
const follow = {
  runId: 'fol123',
  script: 'logs --follow',
  follow: true,
  target: 'web',
  teamId: 'T1',
  userId: 'U0STARTER',
  channelId: 'C0OPS',
  startedAt: '2026-01-01T00:00:00Z',
};
const entry = (userId: string, grants: Grant[]): AllowlistEntry => ({ teamId: 'T1', userId, grants, addedBy: 'U0ADMIN', updatedAt: '2026-01-01T00:00:00Z' });

async function cancelAs(userId: string, who: AllowlistEntry | undefined, channelId = 'C0OPS') {
  const state = memoryState();
  await state.claim('run#fol123', 3600, follow);
  try {
    const answer = await cancel(
      { runId: 'fol123' },
      {
        invocation: { teamId: 'T1', userId, channelId, command: '/ecs', text: 'cancel fol123' },
        config: { targets: {} } as unknown as AckContext['config'],
        entry: who,
        allowlist: memoryAllowlist(),
        state,
      },
    );
    return { text: answer.text, cancelled: await state.get('cancel#fol123') };
  } catch (error) {
    return { error, cancelled: await state.get('cancel#fol123') };
  }
}

describe('/ecs cancel of a follow', () => {
  it('its starter stops it, whatever their role covers', async () => {
    const { text, cancelled } = await cancelAs('U0STARTER', entry('U0STARTER', [{ role: 'operator', services: ['api'] }]));
    expect(text).toBe('🛑 Stopping `/ecs logs web --follow` (run `fol123`, started by <@U0STARTER>): it ends within seconds.');
    expect(cancelled).toMatchObject({ by: 'U0STARTER' });
  });

  it('someone else with run on the service stops it, even an operator limited to some scripts', async () => {
    const { text, cancelled } = await cancelAs('U0OP', entry('U0OP', [{ role: 'operator', services: ['web'], scripts: ['migrate.sh'] } as Grant]));
    expect(text).toContain('🛑 Stopping');
    expect(cancelled).toMatchObject({ by: 'U0OP' });
  });

  it('a viewer stops the follow they started (a follow is a read)', async () => {
    const { text, cancelled } = await cancelAs('U0STARTER', entry('U0STARTER', [{ role: 'viewer', services: ['web'] }]));
    expect(text).toContain('🛑 Stopping `/ecs logs web --follow`');
    expect(cancelled).toMatchObject({ by: 'U0STARTER' });
  });

  it('a viewer cannot stop anyone else’s follow: refused for the missing role, as for a run that does not exist', async () => {
    for (const runId of ['fol123', 'zzz999']) {
      const state = memoryState();
      await state.claim('run#fol123', 3600, follow);
      const viewer = entry('U0VIEWER', [{ role: 'viewer', services: ['*'] }]);
      const refusal = await Promise.resolve()
        .then(() =>
          cancel(
            { runId },
            {
              invocation: { teamId: 'T1', userId: 'U0VIEWER', channelId: 'C0OPS', command: '/ecs', text: `cancel ${runId}` },
              config: { targets: {} } as unknown as AckContext['config'],
              entry: viewer,
              allowlist: memoryAllowlist(),
              state,
            },
          ),
        )
        .catch((error: unknown) => error);
      expect(refusal).toBeInstanceOf(PermissionDeniedError);
      expect(refusal).not.toBeInstanceOf(HiddenRefusalError);
      expect((refusal as PermissionDeniedError).userMessage).toBe('you need the `operator` role');
      expect(await state.get(`cancel#${runId}`)).toBeUndefined();
    }
  });

  it('someone else without run on that service learns nothing, and nothing is stored', async () => {
    for (const grants of [[{ role: 'operator', services: ['api'] }]] as Grant[][]) {
      const { error, cancelled } = await cancelAs('U0OTHER', entry('U0OTHER', grants));
      expect(error).toBeInstanceOf(HiddenRefusalError);
      expect((error as HiddenRefusalError).publicText).toBe('No run `fol123` is in progress (it may have finished already).');
      expect((error as HiddenRefusalError).message).toMatch(
        /^may not cancel run fol123 of logs --follow in C0OPS: your `operator` role does not cover service `web`/,
      );
      expect(cancelled).toBeUndefined();
    }
  });
});
