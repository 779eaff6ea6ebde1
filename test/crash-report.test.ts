import { describe, expect, it } from 'vitest';
import { whyItStopped } from '../src/worker/crash-report';

describe('why a worker stopped, from its invocation record', () => {
  it('names each way Lambda ends an invocation in plain words', () => {
    expect(whyItStopped({ responsePayload: { errorMessage: '2026-12-04T12:00:00.000Z abc Task timed out after 900.00 seconds' } })).toBe(
      'the worker reached its time limit (900.00 s) and was stopped',
    );
    expect(
      whyItStopped({ responsePayload: { errorType: 'Runtime.ExitError', errorMessage: 'RequestId: x Error: Runtime exited with error: signal: killed' } }),
    ).toBe('the worker was killed (most often: it ran out of memory)');
    expect(whyItStopped({ requestContext: { condition: 'EventAgeExceeded' }, responsePayload: null })).toBe(
      'AWS Lambda could not start the worker in time (it was throttled or busy), so it never ran',
    );
    expect(whyItStopped({ responsePayload: { errorType: 'TypeError', errorMessage: "Cannot read properties of undefined (reading '<x>')" } })).toBe(
      "the worker failed with an error it did not handle (TypeError: Cannot read properties of undefined (reading '&lt;x&gt;'))",
    );
  });
});

describe('what to check after a crash', () => {
  it('reads the verb as the registry does (case, quotes), so a deploy is never told "it changed nothing"', async () => {
    const { checkAfterCrash } = await import('../src/worker/crash-report');
    expect(checkAfterCrash('Deploy web v1')).toContain('`/ecs status web`');
    expect(checkAfterCrash('"run" migrate.sh')).toContain('The script may have started');
    expect(checkAfterCrash('status web')).toBe('It changed nothing; try again in a minute.');
  });
});
