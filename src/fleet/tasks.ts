/**
 * The per-service tasks of the fleet commands: `status` (one DescribeServices, judged as
 * `/ecs status` judges it) and `verify` (the verify engine, as `/ecs verify` runs it), each
 * through an AwsSession whose every request passes the account's gate (src/fleet/fanout.ts).
 */
import { DescribeServicesCommand } from '@aws-sdk/client-ecs';
import type { Actor } from '../aws/credentials';
import { assumeRoleCredentials } from '../aws/credentials';
import { AwsSession } from '../aws/session';
import { DEPLOY_DEFAULTS, type Config, type Target } from '../config/schema';
import { lookup } from '../config/records';
import { assessService } from '../ecs/health';
import { summarize } from '../verify/types';
import { verifyService } from '../verify/verify';
import type { ServiceTask } from './fanout';
import type { FleetResult, FleetService } from './types';

export type FleetKind = 'status' | 'verify';

/**
 * The target a fleet service is: a declared one as configured (its verify settings included), a
 * discovered one with the defaults.
 */
export function fleetTarget(service: FleetService, config: Pick<Config, 'targets'>): Target {
  const declared = service.source === 'declared' ? lookup(config.targets, service.alias) : undefined;
  if (declared) return declared;
  return {
    region: service.region,
    cluster: service.cluster,
    service: service.service,
    ...(service.roleArn ? { roleArn: service.roleArn } : {}),
    deploy: DEPLOY_DEFAULTS as Target['deploy'],
    verify: { skip: [], putLogs: false, requiredPermissions: [] },
  };
}

const resultOf = (service: FleetService, verdict: FleetResult['verdict'], summary: string, detail?: FleetResult['detail']): FleetResult => ({
  alias: service.alias,
  accountId: service.accountId,
  region: service.region,
  verdict,
  summary,
  ...(detail ? { detail } : {}),
});

/** The task of one fleet run, and the end of its AWS clients. */
export interface FleetTask {
  run: ServiceTask;
  /** The run is over (in this invocation): every session's clients go. */
  close(): void;
}

/**
 * The task of one fleet run, as the person who asked: one AwsSession per account, region and role,
 * shared by the services there (its clients and connections too) and passing the account's gate.
 * The role is assumed first, once per role: an account without it is one clear error with its fix
 * for each of its services, not a verify whose every check "could not check".
 */
export function fleetTask(kind: FleetKind, config: Pick<Config, 'targets'>, actor: Actor): FleetTask {
  const assumed = new Map<string, Promise<unknown>>();
  const sessions = new Map<string, AwsSession>();
  const run: ServiceTask = async (service, gate) => {
    const target = fleetTarget(service, config);
    if (target.roleArn) {
      const roleArn = target.roleArn;
      if (!assumed.has(roleArn))
        assumed.set(
          roleArn,
          gate.run(() => assumeRoleCredentials(roleArn, target.region, actor)()),
        );
      await assumed.get(roleArn);
    }
    const key = `${service.accountId}|${target.region}|${target.roleArn ?? ''}`;
    let aws = sessions.get(key);
    if (!aws) {
      aws = new AwsSession(target, actor, gate);
      sessions.set(key, aws);
    }
    return kind === 'status' ? statusOf(service, target, aws) : verifyOf(service, target, aws);
  };
  return {
    run,
    close: () => {
      for (const aws of sessions.values()) aws.destroy();
      sessions.clear();
    },
  };
}

async function statusOf(service: FleetService, target: Target, aws: AwsSession): Promise<FleetResult> {
  const out = await aws.ecs().send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }));
  const found = out.services?.[0];
  if (!found || found.status === 'INACTIVE') {
    const reason = out.failures?.[0]?.reason;
    return resultOf(
      service,
      'fail',
      `service ${target.service} in cluster ${target.cluster} ${found ? 'is INACTIVE (deleted)' : `was not found${reason ? ` (${reason})` : ''}`}`,
    );
  }
  const { health, reason } = assessService(found);
  const verdict = health === 'healthy' ? 'ok' : health === 'degraded' ? 'warn' : 'fail';
  return resultOf(service, verdict, reason, {
    desired: found.desiredCount ?? 0,
    running: found.runningCount ?? 0,
    pending: found.pendingCount ?? 0,
    taskDefinition: found.taskDefinition?.split('/').pop() ?? '',
  });
}

async function verifyOf(service: FleetService, target: Target, aws: AwsSession): Promise<FleetResult> {
  // A fleet verify never writes: no put-logs line, whatever the target says (its role has no such grant).
  const results = await verifyService({ alias: service.alias, target, aws, putLogs: false });
  const counts = summarize(results);
  const worst = results.find((r) => r.status === 'FAIL') ?? results.find((r) => r.status === 'WARN');
  const verdict = counts.fail ? 'fail' : counts.warn ? 'warn' : 'ok';
  const summary = worst ? `${worst.title}: ${worst.message}${worst.fix ? ` — fix: ${worst.fix}` : ''}` : `${counts.ok} checks OK`;
  return resultOf(service, verdict, summary, { ok: counts.ok, warn: counts.warn, fail: counts.fail, skip: counts.skip, unverified: counts.unverified });
}
