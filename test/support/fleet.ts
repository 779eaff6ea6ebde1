import type { FleetService } from '../../src/fleet/types';

/** A discovered fleet service in `accountId` (cluster `main`, eu-west-1 unless overridden). */
export const fleetService = (alias: string, accountId: string, overrides: Partial<FleetService> = {}): FleetService => {
  const region = overrides.region ?? 'eu-west-1';
  return {
    alias,
    accountId,
    region,
    cluster: 'main',
    service: alias,
    serviceArn: `arn:aws:ecs:${region}:${accountId}:service/main/${alias}`,
    labels: {},
    source: 'discovered',
    ...overrides,
  };
};
