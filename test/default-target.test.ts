import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defaultTarget } from '../src/config/default-target';
import { parseConfig } from '../src/config/schema';

describe('a discovered service’s default target', () => {
  it('is what the configuration schema gives a declared target that names only where it lives', () => {
    const raw = parse(readFileSync('ecs-chatops.config.yaml', 'utf8'));
    const where = { region: 'eu-west-1', cluster: 'fleet', service: 'api', roleArn: 'arn:aws:iam::300000000001:role/ecs-chatops-target' };
    raw.targets.plain = { ...where };
    expect(defaultTarget(where)).toEqual(parseConfig(raw).targets.plain);
    const { roleArn: _, ...ownAccount } = where;
    expect(defaultTarget(ownAccount)).not.toHaveProperty('roleArn');
  });
});
