import { describe, expect, it } from 'vitest';
import { closest, parseChannelMention, parseUserMention, splitFlags, tokenize } from '../src/commands/grammar';
import { everything, parseRequest } from '../src/commands/registry';
import { parseConfig } from '../src/config/schema';
import { UsageError } from '../src/platform/errors';

const config = parseConfig({
  slack: { teams: ['T1'] },
  targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web' }, worker: { region: 'us-east-1', cluster: 'main', service: 'worker' } },
});

describe('tokenize', () => {
  it('splits on whitespace and groups quoted words, including Slack smart quotes', () => {
    expect(tokenize('  status   web ')).toEqual(['status', 'web']);
    expect(tokenize('run backup.sh "two words" \'x y\'')).toEqual(['run', 'backup.sh', 'two words', 'x y']);
    expect(tokenize('run a \u201Csmart quoted\u201D')).toEqual(['run', 'a', 'smart quoted']);
    expect(tokenize('run a ""')).toEqual(['run', 'a', '']);
  });
  it('refuses an unclosed quote', () => {
    expect(() => tokenize('run "oops')).toThrow(UsageError);
  });
});

describe('splitFlags', () => {
  it('separates known flags from positional words', () => {
    const words = splitFlags(['@bob', 'operator', '--scripts', 'a,b', '--channels=C1'], { withValue: ['scripts', 'channels'], boolean: [] });
    expect(words.positional).toEqual(['@bob', 'operator']);
    expect(words.flags.get('scripts')).toBe('a,b');
    expect(words.flags.get('channels')).toBe('C1');
  });
  it('refuses unknown flags and flags without values', () => {
    expect(() => splitFlags(['--force'], { withValue: [], boolean: [] })).toThrow(/Unknown option `--force`/);
    expect(() => splitFlags(['--scripts'], { withValue: ['scripts'], boolean: [] })).toThrow(/needs a value/);
  });
});

describe('closest', () => {
  it('suggests plausible typos and prefixes, not unrelated words', () => {
    expect(closest('stauts', ['help', 'status', 'services'])).toBe('status');
    expect(closest('serv', ['help', 'status', 'services'])).toBe('services');
    expect(closest('zzzzzz', ['help', 'status'])).toBeUndefined();
  });
});

describe('mentions', () => {
  it('accepts escaped mentions and ids', () => {
    expect(parseUserMention('<@U0BOB|bob>')).toBe('U0BOB');
    expect(parseUserMention('U0BOB')).toBe('U0BOB');
    expect(parseChannelMention('<#C0OPS|ops>')).toBe('C0OPS');
    expect(() => parseUserMention('@bob')).toThrow(/Type @ and pick/);
  });
});

describe('parseRequest', () => {
  it('defaults to help and resolves a service', () => {
    expect(parseRequest('', config, everything(config)).verb.name).toBe('help');
    const r = parseRequest('status web', config, everything(config));
    expect(r.verb.name).toBe('status');
    expect(r.scope.target).toBe('web');
  });
  it('names the closest verb and the valid choices for an unknown verb', () => {
    expect(() => parseRequest('stats web', config, everything(config))).toThrow(/Unknown command `stats`\. Did you mean `status`\?.*Valid commands: `help`/);
  });
  it('names the closest service and the choices for an unknown service', () => {
    expect(() => parseRequest('status wbe', config, everything(config))).toThrow(
      /Unknown service `wbe`, or not one of yours\. Did you mean `web`\? Yours here: `web`, `worker`\./,
    );
  });
  it('gives usage for a missing or extra argument', () => {
    expect(() => parseRequest('status', config, everything(config))).toThrow(/Which service\?.*\n.*Usage: `\/ecs status &lt;service&gt;`/s);
    expect(() => parseRequest('status web now', config, everything(config))).toThrow(/Unexpected `now`/);
  });
  it('validates allow: role, services and mention', () => {
    expect(parseRequest('allow <@U0BOB|bob> operator web', config, everything(config)).scope).toEqual({
      subject: 'U0BOB',
      grant: { role: 'operator', services: ['web'] },
    });
    // Only declared scripts: this configuration declares none.
    expect(() => parseRequest('allow <@U0BOB|bob> operator web --scripts backup.sh', config, everything(config))).toThrow(/Unknown script `backup.sh`/);
    expect(() => parseRequest('allow <@U0BOB|bob> superuser', config, everything(config))).toThrow(/Unknown role `superuser`/);
    expect(() => parseRequest('allow <@U0BOB|bob> operator nope', config, everything(config))).toThrow(/Unknown service `nope`/);
  });
});

describe('names people type', () => {
  it('are looked up as own properties only: `constructor` is not a service, `__proto__` not a script', () => {
    const withScripts = parseConfig({
      slack: { teams: ['T1'] },
      targets: { web: { region: 'us-east-1', cluster: 'main', service: 'web', manager: { container: 'app' } } },
      scripts: { 'backup.sh': { target: 'web', path: '/work/backup.sh' } },
    });
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => parseRequest(`status ${name}`, withScripts, everything(withScripts))).toThrow(`Unknown service \`${name}\``);
      expect(() => parseRequest(`run ${name}`, withScripts, everything(withScripts))).toThrow(`Unknown script \`${name}\``);
      expect(() => parseRequest(`allow U0BOB operator web --scripts ${name}`, withScripts, everything(withScripts))).toThrow(`Unknown script \`${name}\``);
    }
    expect(Object.getPrototypeOf(withScripts.targets)).toBeNull();
  });

  it('outside what a person may see are answered like unknown ones, with suggestions only from what they see', () => {
    const visible = { services: ['worker'], scripts: [] };
    expect(() => parseRequest('status web', config, visible)).toThrow('Unknown service `web`, or not one of yours. Yours here: `worker`.');
    expect(() => parseRequest('status wbe', config, visible)).toThrow('Unknown service `wbe`, or not one of yours. Yours here: `worker`.');
    const caught = (text: string): unknown => {
      try {
        parseRequest(text, config, visible);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    // Audited as a denial when the name exists, as invalid input when it does not.
    expect(caught('status web')).toMatchObject({ hidden: true });
    expect(caught('status wbe')).toMatchObject({ hidden: false });
  });
});

describe('Slack escaping', () => {
  it('decodes what Slack escaped in typed text, and escapes it again when echoing', () => {
    expect(tokenize('run a &lt;b&gt; &amp;c')).toEqual(['run', 'a', '<b>', '&c']);
    expect(() => parseRequest('status &lt;script&gt;', config, everything(config))).toThrow('Unknown service `&lt;script&gt;`, or not one of yours.');
  });
});
