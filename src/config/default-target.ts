import { DEPLOY_DEFAULTS, VERIFY_DEFAULTS } from './defaults';
import type { Target } from './schema';

/**
 * A discovered service as a target with every setting at its default (what the schema would give
 * a declared target that names only where it lives). Built without the validator: the worker's
 * bundle does not carry the configuration schema.
 */
export function defaultTarget(where: { region: string; cluster: string; service: string; roleArn?: string }): Target {
  return {
    region: where.region,
    cluster: where.cluster,
    service: where.service,
    ...(where.roleArn ? { roleArn: where.roleArn } : {}),
    deploy: { ...DEPLOY_DEFAULTS, gates: [...DEPLOY_DEFAULTS.gates] },
    verify: { skip: [...VERIFY_DEFAULTS.skip], putLogs: VERIFY_DEFAULTS.putLogs, requiredPermissions: [...VERIFY_DEFAULTS.requiredPermissions] },
  };
}
