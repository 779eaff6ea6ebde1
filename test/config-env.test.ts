import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { configPath, logLevel, optionalEnv, requiredEnv, runWorkflowPollSeconds, slackApiUrl } from '../src/config/env';

const saved = { ...process.env };
afterEach(() => {
  for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
  Object.assign(process.env, saved);
});

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) =>
    statSync(join(dir, name)).isDirectory() ? tsFiles(join(dir, name)) : name.endsWith('.ts') ? [join(dir, name)] : [],
  );
}

describe('the environment, read in one place', () => {
  it('reads at call time, so a value set after import counts', () => {
    delete process.env.STATE_TABLE;
    expect(optionalEnv('STATE_TABLE')).toBeUndefined();
    process.env.STATE_TABLE = 'ecs-chatops-local-state';
    expect(requiredEnv('STATE_TABLE')).toBe('ecs-chatops-local-state');
  });

  it('takes an empty value as unset, and says which variable a deployment lacks', () => {
    process.env.WORKER_FUNCTION_NAME = '';
    expect(optionalEnv('WORKER_FUNCTION_NAME')).toBeUndefined();
    expect(() => requiredEnv('WORKER_FUNCTION_NAME')).toThrow('WORKER_FUNCTION_NAME is not set');
  });

  it('gives defaults where the bot has them', () => {
    delete process.env.LOG_LEVEL;
    delete process.env.ECS_CHATOPS_CONFIG;
    delete process.env.SLACK_API_URL;
    delete process.env.RUN_WORKFLOW_POLL_SECONDS;
    expect([logLevel(), configPath(), slackApiUrl(), runWorkflowPollSeconds()]).toEqual(['info', 'ecs-chatops.config.yaml', undefined, undefined]);
    Object.assign(process.env, {
      LOG_LEVEL: 'DEBUG',
      ECS_CHATOPS_CONFIG: 'other.yaml',
      SLACK_API_URL: 'http://127.0.0.1:1/api',
      RUN_WORKFLOW_POLL_SECONDS: '2',
    });
    expect([logLevel(), configPath(), slackApiUrl(), runWorkflowPollSeconds()]).toEqual(['debug', 'other.yaml', 'http://127.0.0.1:1/api', 2]);
    process.env.RUN_WORKFLOW_POLL_SECONDS = 'soon';
    expect(runWorkflowPollSeconds()).toBeUndefined();
  });

  it('is the only module of src that reads process.env (src/dev, a developer tool, aside)', () => {
    const readers = tsFiles('src').filter((file) => !file.startsWith(join('src', 'dev')) && readFileSync(file, 'utf8').includes('process.env'));
    expect(readers).toEqual([join('src', 'config', 'env.ts')]);
  });
});
