/**
 * What a deploy, redeploy or rollback will change, worked out before anyone is asked to approve:
 * the service as it runs now, the task definition it would run, and every image that changes.
 * Bad input (an unknown tag, nothing to change, an external controller, a CodeDeploy service
 * without exactly one deployment group) stops here.
 */
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ListTaskDefinitionsCommand, type Service, type TaskDefinition } from '@aws-sdk/client-ecs';
import type { AwsSession } from '../aws/session';
import { explainAwsError } from '../aws/errors';
import type { Target } from '../config/schema';
import { registerInput, shortTaskDefinition, withImage, type ImageChange } from '../ecs/taskdef';
import { UserFacingError } from '../platform/errors';
import { code, escapeText } from '../slack/format';
import type { DeployHistoryEntry } from './history';
import { checkImage } from './image-check';
import type { DeployAction, DeployPlan } from './types';
import { planBasis, planHash, type PlanBasis } from './plan-hash';
import { describeStrategy } from './strategy';
import { codeDeployStrategy, codeDeployStrategyNow, deploymentUnderWay, describeCodeDeploy, findDeploymentGroup, type CodeDeployPlan } from './codedeploy';

export interface PlanInput {
  action: DeployAction;
  /** deploy: the tag or image typed. */
  image?: string;
  /** rollback: the revision typed (`42`, `web:42`, an ARN); absent: the previous one. */
  revision?: string;
  /** rollback: the service's deploy history, newest first (src/deploy/history.ts). */
  history?: DeployHistoryEntry[];
}

export interface PlannedDeploy {
  plan: DeployPlan;
  service: Service;
  /** The definition the service runs, and the one it would run (for the diff people approve). */
  from: TaskDefinition;
  to: TaskDefinition;
  /** Lines for the thread: what was checked and what is worth knowing before approving. */
  notes: string[];
}

const revisionOf = (arn: string): number => Number(arn.slice(arn.lastIndexOf(':') + 1));
const familyOf = (arn: string): string => shortTaskDefinition(arn).split(':')[0]!;

/** The target's service, which must be ACTIVE: otherwise a UserFacingError says there is nothing `toDo` (\`to deploy to\`). */
export async function describeActiveService(aws: AwsSession, target: { alias: string } & Target, toDo: string): Promise<Service> {
  const where = `${code(target.service)} in cluster ${code(target.cluster)} (${target.region})`;
  const described = await aws
    .ecs()
    .send(new DescribeServicesCommand({ cluster: target.cluster, services: [target.service] }))
    .catch((error) => {
      throw explainAwsError(error, `reading service ${where}`);
    });
  const service = described.services?.[0];
  if (!service || service.status !== 'ACTIVE') {
    throw new UserFacingError(
      `Service ${where} ${service ? `is ${escapeText(service.status ?? '?')}` : 'was not found'}, so there is nothing ${toDo}. Check \`targets.${target.alias}\` in the configuration.`,
    );
  }
  return service;
}

export async function planDeploy(aws: AwsSession, target: { alias: string } & Target, input: PlanInput): Promise<PlannedDeploy> {
  const service = await describeActiveService(aws, target, 'to deploy to');
  const controller = service.deploymentController?.type ?? 'ECS';
  if (controller !== 'ECS' && controller !== 'CODE_DEPLOY') {
    throw new UserFacingError(
      `\`${target.alias}\` uses an external deployment controller: its task sets are managed outside ECS's rolling updates, which this bot does not drive. Deploy it with the tool that owns it. Nothing was changed.`,
    );
  }
  // CodeDeploy owns the task sets and the traffic shift: the deploy goes through its deployment group.
  const codeDeploy = controller === 'CODE_DEPLOY' ? await findDeploymentGroup(aws, target, service) : undefined;
  const bound = (basisTarget: Parameters<typeof planBasis>[1], to: TaskDefinition, plan: DeployPlan) => bind(service, basisTarget, to, plan, codeDeploy);
  const current = service.taskDefinition!;
  const currentTd = await describeTaskDefinition(aws, current);
  const notes: string[] = [];
  const inProgress = (service.deployments ?? []).filter((d) => d.status !== 'PRIMARY' || d.rolloutState === 'IN_PROGRESS');
  const underWay = codeDeploy ? await deploymentUnderWay(aws, codeDeploy).catch(() => undefined) : undefined;
  if (underWay)
    notes.push(
      `⚠️ CodeDeploy deployment ${code(underWay)} is under way in ${code(`${codeDeploy!.application}/${codeDeploy!.deploymentGroup}`)}: CodeDeploy runs one at a time per group, so this one is refused until it ends.`,
    );
  if (inProgress.length) {
    const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
    notes.push(
      `⚠️ A deployment is still rolling out (${code(shortTaskDefinition(primary?.taskDefinition))}, ${primary?.runningCount ?? 0}/${primary?.desiredCount ?? 0} running); this one would replace it.`,
    );
  }

  if (input.action === 'redeploy') {
    return {
      service,
      notes,
      from: currentTd,
      to: currentTd,
      plan: bound({ existing: current }, currentTd, {
        action: 'redeploy',
        currentTaskDefinition: current,
        targetTaskDefinition: current,
        changes: [],
        imageNotes: imagesOf(currentTd).map((i) => `${code(i.container)}: ${code(i.image)} (pulled again)`),
      }),
    };
  }

  if (input.action === 'rollback') {
    const to = await rollbackTarget(aws, current, input.revision, input.history ?? []);
    const toTd = await describeTaskDefinition(aws, to);
    if (toTd.status !== 'ACTIVE')
      throw new UserFacingError(
        `${code(shortTaskDefinition(to))} is ${escapeText(toTd.status ?? '?')}: a deregistered revision cannot be deployed. \`/ecs rollback ${target.alias}\` picks the previous active one.`,
      );
    const changes = imageDiff(currentTd, toTd);
    return {
      service,
      notes,
      from: currentTd,
      to: toTd,
      plan: bound({ existing: toTd.taskDefinitionArn! }, toTd, {
        action: 'rollback',
        currentTaskDefinition: current,
        targetTaskDefinition: toTd.taskDefinitionArn!,
        changes,
        imageNotes: changeNotes(changes, currentTd, toTd),
      }),
    };
  }

  const image = input.image!;
  let changes: ImageChange[];
  try {
    changes = withImage(currentTd, image, target.appContainers).changes;
  } catch (error) {
    if (error instanceof UserFacingError) throw error;
    throw new UserFacingError(`${code(image)} is not an image I can deploy: ${escapeText((error as Error).message)}`);
  }
  const real = changes.filter((c) => c.from !== c.to);
  if (real.length === 0) {
    throw new UserFacingError(
      `\`${target.alias}\` already runs ${code(changes[0]?.to ?? image)} (${code(shortTaskDefinition(current))}). To start fresh tasks of it, use \`/ecs deploy ${target.alias} --redeploy\`.`,
    );
  }
  const checks = await Promise.all([...new Set(real.map((c) => c.to))].map(async (to) => ({ to, check: await checkImage(aws, to) })));
  const missing = checks.filter((c) => c.check.status === 'missing');
  if (missing.length) {
    throw new UserFacingError(
      `Cannot deploy: ${missing.map((m) => m.check.note).join('; ')}. Nobody was asked to approve; push the image or pick a tag that exists.`,
    );
  }
  for (const { check } of checks) notes.push(check.status === 'found' ? `✅ ${check.note}` : `⚠️ ${check.note}: ECS will find out when it pulls it.`);
  const to = registered(currentTd, real);
  return {
    service,
    notes,
    from: currentTd,
    to,
    plan: bound({ registeredFrom: current }, to, {
      action: 'deploy',
      currentTaskDefinition: current,
      changes: real,
      imageNotes: real.map(changeNote),
    }),
  };
}

/** The definition a deploy registers: the running one with the new images (as the deploy workflow registers it). */
export const registered = (current: TaskDefinition, changes: ImageChange[]): TaskDefinition => {
  const { tags: _tags, ...input } = registerInput(current, changes);
  return input as TaskDefinition;
};

/** The plan with what its approvals are bound to (a CODE_DEPLOY service: its deployment group and config too). */
function bind(service: Service, target: Parameters<typeof planBasis>[1], to: TaskDefinition, plan: DeployPlan, codeDeploy?: CodeDeployPlan): DeployPlan {
  const basis = { ...planBasis(service, target, to), ...(codeDeploy ? { strategy: codeDeployStrategy(codeDeploy) } : {}) };
  return {
    ...plan,
    basis,
    hash: planHash(basis),
    strategy: codeDeploy ? describeCodeDeploy(codeDeploy) : describeStrategy(service.deploymentConfiguration),
    ...(codeDeploy ? { codeDeploy } : {}),
  };
}

/** The strategy of the service now, as a plan's basis names it (a CODE_DEPLOY one: its deployment group, read again). */
async function strategyNow(aws: AwsSession, service: Service, plan: DeployPlan): Promise<Partial<PlanBasis>> {
  if (!plan.codeDeploy || service.deploymentController?.type !== 'CODE_DEPLOY') return {};
  return { strategy: await codeDeployStrategyNow(aws, plan.codeDeploy) };
}

/**
 * The facts an approved plan rests on, read again now (src/deploy/plan-hash.ts): the service's
 * revision, controller and strategy, and the content of the definition the deploy would run.
 */
export async function basisNow(aws: AwsSession, where: Pick<Target, 'cluster' | 'service'>, plan: DeployPlan): Promise<PlanBasis & { targetStatus?: string }> {
  const described = await aws.ecs().send(new DescribeServicesCommand({ cluster: where.cluster, services: [where.service] }));
  const service = described.services?.[0] ?? {};
  if (plan.action === 'deploy') {
    const current = await describeTaskDefinition(aws, plan.currentTaskDefinition);
    return {
      ...planBasis(service, { registeredFrom: plan.currentTaskDefinition }, registered(current, plan.changes)),
      ...(await strategyNow(aws, service, plan)),
    };
  }
  const target = await describeTaskDefinition(aws, plan.targetTaskDefinition ?? plan.currentTaskDefinition);
  return {
    ...planBasis(service, { existing: target.taskDefinitionArn! }, target),
    ...(await strategyNow(aws, service, plan)),
    ...(target.status ? { targetStatus: target.status } : {}),
  };
}

export async function describeTaskDefinition(
  aws: AwsSession,
  taskDefinition: string,
): Promise<TaskDefinition & { tags?: Array<{ key?: string; value?: string }> }> {
  const out = await aws
    .ecs()
    .send(new DescribeTaskDefinitionCommand({ taskDefinition, include: ['TAGS'] }))
    .catch((error) => {
      if ((error as { name?: string }).name === 'ClientException')
        throw new UserFacingError(`Task definition ${code(shortTaskDefinition(taskDefinition) || taskDefinition)} was not found.`);
      throw explainAwsError(error, `reading task definition ${code(taskDefinition)}`);
    });
  return { ...out.taskDefinition!, ...(out.tags?.length ? { tags: out.tags } : {}) };
}

/**
 * The revision a rollback goes to: the named one; else the last one that rolled out well before
 * the current one (deploy history); else the newest active older revision that did not fail.
 */
async function rollbackTarget(aws: AwsSession, current: string, revision: string | undefined, history: DeployHistoryEntry[]): Promise<string> {
  const family = familyOf(current);
  if (revision) {
    const named = revision.startsWith('arn:') ? revision : revision.includes(':') ? revision : `${family}:${revision}`;
    if (familyOf(named) !== family)
      throw new UserFacingError(`${code(shortTaskDefinition(named))} is not a revision of ${code(family)}, the family this service runs.`);
    if (revisionOf(named) === revisionOf(current)) throw new UserFacingError(`The service already runs ${code(shortTaskDefinition(current))}.`);
    return named;
  }
  // The newest revision that rolled out well and can still be deployed (not deregistered since).
  for (const entry of history) {
    if (entry.outcome !== 'success' || entry.taskDefinition === current || familyOf(entry.taskDefinition) !== family) continue;
    const td = await describeTaskDefinition(aws, entry.taskDefinition).catch(() => undefined);
    if (td?.status === 'ACTIVE') return entry.taskDefinition;
  }
  const failed = new Set(history.filter((h) => h.outcome === 'failure').map((h) => h.taskDefinition));
  const listed = await aws
    .ecs()
    .send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'DESC', maxResults: 100 }))
    .catch((error) => {
      throw explainAwsError(error, `listing revisions of ${code(family)}`);
    });
  const previous = (listed.taskDefinitionArns ?? []).find((arn) => familyOf(arn) === family && revisionOf(arn) < revisionOf(current) && !failed.has(arn));
  if (!previous) throw new UserFacingError(`There is no active revision of ${code(family)} older than ${code(shortTaskDefinition(current))} to roll back to.`);
  return previous;
}

const imagesOf = (td: TaskDefinition) => (td.containerDefinitions ?? []).map((c) => ({ container: c.name ?? '?', image: c.image ?? '?' }));

/** Container by container: the image now → the image after. */
function imageDiff(from: TaskDefinition, to: TaskDefinition): ImageChange[] {
  const after = new Map(imagesOf(to).map((i) => [i.container, i.image]));
  return imagesOf(from)
    .filter((i) => after.has(i.container) && after.get(i.container) !== i.image)
    .map((i) => ({ container: i.container, from: i.image, to: after.get(i.container)! }));
}

/** "`app`: `web:v1` → `web:v2`" (image notes are Slack text: kept in the request and shown as they are). */
const changeNote = (c: ImageChange) => `${code(c.container)}: ${code(c.from)} → ${code(c.to)}`;

function changeNotes(changes: ImageChange[], from: TaskDefinition, to: TaskDefinition): string[] {
  const notes = changes.map(changeNote);
  if (notes.length === 0) notes.push('same images; other settings of the task definition differ');
  const added = imagesOf(to).filter((i) => !imagesOf(from).some((f) => f.container === i.container));
  const removed = imagesOf(from).filter((i) => !imagesOf(to).some((t) => t.container === i.container));
  for (const a of added) notes.push(`${code(a.container)} comes back (${code(a.image)})`);
  for (const r of removed) notes.push(`${code(r.container)} goes away`);
  return notes;
}
