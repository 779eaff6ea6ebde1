import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { previousSecretParam, SECRET_CACHE_MS, ssmWebhookSecrets, type ReadParameters } from '../src/webhooks/secrets';
import { matchingSecret, signatureOf } from '../src/webhooks/signature';

vi.mock('node:crypto', async (actual) => {
  const real = await actual<typeof import('node:crypto')>();
  return { ...real, createHmac: vi.fn(real.createHmac), timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

/** A source's current and previous secrets (rotation without refused webhooks): which one matched, and how they are read and kept. */
const TS = '1796558400';
const BODY = '{"ticket":{"id":"CHG-1"}}';

describe('matchingSecret: the current or the previous secret, never which one by a shortcut', () => {
  it('names the secret that signed the request; a signature of neither matches nothing', () => {
    const rotating = { current: 'new-secret', previous: 'old-secret' };
    expect(matchingSecret(rotating, TS, BODY, signatureOf('new-secret', TS, BODY))).toBe('current');
    expect(matchingSecret(rotating, TS, BODY, signatureOf('old-secret', TS, BODY))).toBe('previous');
    expect(matchingSecret(rotating, TS, BODY, signatureOf('other', TS, BODY))).toBeUndefined();
    // The previous secret's signature of another body or time is still no match.
    expect(matchingSecret(rotating, TS, `${BODY} `, signatureOf('old-secret', TS, BODY))).toBeUndefined();
    expect(matchingSecret(rotating, String(Number(TS) + 1), BODY, signatureOf('old-secret', TS, BODY))).toBeUndefined();
  });

  it('always computes and compares both candidates, whichever matches and whether or not there is a previous one (no early exit)', () => {
    const cases: [Parameters<typeof matchingSecret>[0], string][] = [
      [{ current: 'new-secret', previous: 'old-secret' }, 'new-secret'],
      [{ current: 'new-secret', previous: 'old-secret' }, 'old-secret'],
      [{ current: 'new-secret', previous: 'old-secret' }, 'other'],
      [{ current: 'new-secret' }, 'new-secret'],
      [{ current: 'new-secret' }, 'other'],
    ];
    for (const [secrets, signer] of cases) {
      const signature = signatureOf(signer, TS, BODY);
      vi.mocked(crypto.createHmac).mockClear();
      vi.mocked(crypto.timingSafeEqual).mockClear();
      matchingSecret(secrets, TS, BODY, signature);
      expect([vi.mocked(crypto.createHmac).mock.calls.length, vi.mocked(crypto.timingSafeEqual).mock.calls.length]).toEqual([2, 2]);
    }
  });

  it('without a previous secret only the current one matches (the stand-in is never a match); the same value in both is the current one', () => {
    expect(matchingSecret({ current: 'new-secret' }, TS, BODY, signatureOf('old-secret', TS, BODY))).toBeUndefined();
    expect(matchingSecret({ current: 'new-secret' }, TS, BODY, signatureOf('new-secret', TS, BODY))).toBe('current');
    expect(matchingSecret({ current: 'same', previous: 'same' }, TS, BODY, signatureOf('same', TS, BODY))).toBe('current');
  });
});

describe('ssmWebhookSecrets: both parameters in one read, kept five minutes', () => {
  const NAME = '/ecs-chatops/webhooks/jira';
  /** SSM as a map the test edits between reads; each read's names are kept. */
  const parameters = (initial: Record<string, string>) => {
    const stored = new Map(Object.entries(initial));
    const reads: string[][] = [];
    const read: ReadParameters = async (names) => {
      reads.push(names);
      return new Map(names.flatMap((n) => (stored.has(n) ? [[n, stored.get(n)!] as const] : [])));
    };
    return { stored, reads, read };
  };

  it('reads `<name>` and `<name>/previous` together; the previous one is optional', async () => {
    expect(previousSecretParam(NAME)).toBe(`${NAME}/previous`);
    const ssm = parameters({ [NAME]: 'new', [`${NAME}/previous`]: 'old' });
    expect(await ssmWebhookSecrets(() => 0, ssm.read).get(NAME)).toEqual({ current: 'new', previous: 'old' });
    expect(ssm.reads).toEqual([[NAME, `${NAME}/previous`]]);
    const plain = parameters({ [NAME]: 'only' });
    expect(await ssmWebhookSecrets(() => 0, plain.read).get(NAME)).toEqual({ current: 'only' });
    // Only a previous one (the current deleted by mistake): the source has no secret, as before.
    const orphan = parameters({ [`${NAME}/previous`]: 'old' });
    expect(await ssmWebhookSecrets(() => 0, orphan.read).get(NAME)).toBeUndefined();
  });

  it('keeps a rotation step unseen until the cache expires, then sees it: the previous secret added, then removed', async () => {
    let now = 0;
    const ssm = parameters({ [NAME]: 'old' });
    const secrets = ssmWebhookSecrets(() => now, ssm.read);
    expect(await secrets.get(NAME)).toEqual({ current: 'old' });

    ssm.stored.set(`${NAME}/previous`, 'old');
    ssm.stored.set(NAME, 'new');
    now += SECRET_CACHE_MS - 1;
    expect(await secrets.get(NAME)).toEqual({ current: 'old' });
    now += 1;
    expect(await secrets.get(NAME)).toEqual({ current: 'new', previous: 'old' });

    ssm.stored.delete(`${NAME}/previous`);
    now += SECRET_CACHE_MS;
    expect(await secrets.get(NAME)).toEqual({ current: 'new' });
    expect(ssm.reads).toHaveLength(3);
  });

  it('does not remember a missing current secret or a failed read: the next request reads again', async () => {
    const ssm = parameters({});
    const secrets = ssmWebhookSecrets(() => 0, ssm.read);
    expect(await secrets.get(NAME)).toBeUndefined();
    ssm.stored.set(NAME, 'created');
    expect(await secrets.get(NAME)).toEqual({ current: 'created' });

    let fail = true;
    const flaky = ssmWebhookSecrets(
      () => 0,
      async (names) => {
        if (fail) throw new Error('ThrottlingException');
        return ssm.read(names);
      },
    );
    await expect(flaky.get(NAME)).rejects.toThrow('ThrottlingException');
    fail = false;
    expect(await flaky.get(NAME)).toEqual({ current: 'created' });
  });
});
