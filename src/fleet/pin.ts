import { createHash } from 'node:crypto';
import type { FleetService } from './types';

/**
 * A short fingerprint of the service an alias names (its ARN), ~12 bytes instead of a whole ARN.
 * Carried with a fleet run's aliases so the workflow runs only the services that were authorised,
 * and stored in an allowlist grant on a discovered alias (`Grant.pins`) so the grant stays with the
 * service it was given for when another service takes the alias. Kept apart from fanout.ts so the
 * ingress's authorisation imports only this.
 */
export const servicePin = (service: Pick<FleetService, 'serviceArn'>): string =>
  createHash('sha256').update(service.serviceArn).digest('base64url').slice(0, 12);
