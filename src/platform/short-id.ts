import { randomBytes } from 'node:crypto';

/**
 * Six lowercase letters and digits: the id a person reads and types back (`/ecs cancel k3x9q2`,
 * a deploy's id in its thread). 36^6 ≈ 2·10^9 values; ids are only ever compared within one team's
 * runs or deploys in flight, and every record written under one is a conditional create.
 */
export const shortId = (): string =>
  randomBytes(6)
    .toString('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .padEnd(6, '0')
    .slice(0, 6);
