/**
 * The Slack app asks for exactly the bot scopes the code needs: every Web API method called in
 * src/ is in src/slack/scopes.ts with its required scope, and the union of those scopes, the slash
 * command's and the reaction events' is the manifest's `oauth_config.scopes.bot`, no more, no less.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { WebClient } from '@slack/web-api';
import { describe, expect, it } from 'vitest';
import { EVENT_SCOPES, METHOD_SCOPES, requiredBotScopes, SLASH_COMMAND_SCOPES } from '../src/slack/scopes';
import { readYaml } from './support/cloudformation';

const manifest = readYaml('infra/slack-app-manifest.yaml');
const client = new WebClient(); // makes no call: only its method tree is read

/** Whether `chat.postMessage` (…) is a method of the Web API client. */
function isWebApiMethod(method: string): boolean {
  const node = method.split('.').reduce<any>((node, key) => (node && Object.hasOwn(node, key) ? node[key] : undefined), client);
  return typeof node === 'function';
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Every Web API method the code calls, wherever the client sits (`client.chat.postMessage(`,
 * `ctx.slack.users.info(`, `this.client.files.getUploadURLExternal(` …): the longest dotted tail of
 * a call that is a method of WebClient; also `apiCall('method', …)` and Bolt's `say(`, which posts
 * with chat.postMessage. Comments count too: a method merely mentioned as a call is over-counted,
 * never missed.
 */
function calledMethods(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (method: string, where: string) => found.set(method, [...(found.get(method) ?? []), where]);
  for (const file of sourceFiles('src')) {
    readFileSync(file, 'utf8')
      // A call chain the formatter broke over lines (`slack.reactions` ⏎ `.add(`) is one call.
      .replace(/\n\s+(?=\.[A-Za-z_$])/g, '')
      .split('\n')
      .forEach((line, i) => {
        const where = `${file}:${i + 1}`;
        for (const match of line.matchAll(/\.([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+)\s*\(/g)) {
          const parts = match[1]!.split('.');
          const method = parts.map((_, start) => parts.slice(start).join('.')).find((tail) => tail.includes('.') && isWebApiMethod(tail));
          if (method) add(method, where);
        }
        for (const match of line.matchAll(/\bapiCall\(\s*['"`]([\w.]+)['"`]/g)) add(match[1]!, where);
        if (/(^|[^\w.])say\(/.test(line)) add('chat.postMessage', where);
      });
  }
  return found;
}

describe('Slack bot scopes', () => {
  const called = calledMethods();

  it('finds the Web API calls in src/', () => {
    // The calls known to exist, to show the search works (the list may grow).
    expect([...called.keys()]).toEqual(
      expect.arrayContaining(['chat.postMessage', 'chat.update', 'files.getUploadURLExternal', 'users.info', 'reactions.add']),
    );
  });

  it('has a scope entry for every method called, and no entry for a method never called', () => {
    const missing = [...called.keys()].filter((m) => !(m in METHOD_SCOPES)).map((m) => `${m} (${called.get(m)!.join(', ')})`);
    expect(missing, 'add these to METHOD_SCOPES in src/slack/scopes.ts').toEqual([]);
    expect(
      Object.keys(METHOD_SCOPES).filter((m) => !called.has(m)),
      'not called any more: remove from METHOD_SCOPES',
    ).toEqual([]);
    for (const method of Object.keys(METHOD_SCOPES)) expect(isWebApiMethod(method), `${method} is not a Web API method`).toBe(true);
  });

  it('subscribes to exactly the events EVENT_SCOPES accounts for', () => {
    expect([...manifest.settings.event_subscriptions.bot_events].sort()).toEqual(Object.keys(EVENT_SCOPES).sort());
    expect(manifest.features.slash_commands.length > 0).toBe(SLASH_COMMAND_SCOPES.length > 0);
  });

  it('asks in the manifest for exactly the scopes the calls, the slash command and the events need', () => {
    const needed = requiredBotScopes();
    expect(needed).toEqual([...new Set([...called.keys()].flatMap((m) => METHOD_SCOPES[m] ?? []).concat(['commands', 'reactions:read']))].sort());
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(needed);
    expect(manifest.oauth_config.scopes.user ?? []).toEqual([]);
  });
});
