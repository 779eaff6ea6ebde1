import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { localStack, LOCAL_STACK_OPTIONS } from '../local/iam/enforce';
import { readStack, type StackModel } from '../local/iam/stack';
import { INGRESS_FUNCTION, startWorld, WORKER_FUNCTION, type World } from '../local/world';

/**
 * The local world runs each function as its role from serverless.yml: a grant missing there is a
 * call refused here, exactly as AWS refuses it (and the rest of the suite proves the real grants
 * suffice). Each case takes one statement away and watches the refusal land where AWS would put it.
 */
let world: World | undefined;
// Each world is a fresh deployment: its handlers start cold (module-level clients and caches anew).
beforeEach(() => vi.resetModules());
afterEach(async () => {
  await world?.close();
  world = undefined;
});

/** A copy of the local stack whose `fn` role lacks statement `sid` (or has it replaced). */
function stackWith(fn: string, sid: string, replacement?: Record<string, unknown>): StackModel {
  const stack = structuredClone(localStack());
  const role = stack.functions[fn]!;
  for (const doc of Object.values(role.inline)) {
    const statements = [doc.Statement].flat();
    const index = statements.findIndex((s) => s.Sid === sid);
    if (index < 0) continue;
    if (replacement) statements[index] = { ...statements[index]!, ...replacement };
    else statements.splice(index, 1);
    doc.Statement = statements;
    return stack;
  }
  throw new Error(`${fn} has no statement ${sid}`);
}

const deniedCalls = (w: World) => w.aws.authority.decisions.filter((d) => d.decision !== 'allowed');

describe('IAM enforced per function', () => {
  it('a deployment without verifyPutLogs: `--put-logs` is refused by IAM, and verify says the line could not be written', async () => {
    world = await startWorld({ stack: readStack({ ...LOCAL_STACK_OPTIONS, params: { ...LOCAL_STACK_OPTIONS.params, verifyPutLogs: 'false' } }) });
    await world.slash('U0ALICE', 'verify web --put-logs');
    await world.idle();
    expect(deniedCalls(world)).toContainEqual(expect.objectContaining({ functionName: WORKER_FUNCTION, action: 'logs:CreateLogStream' }));
    const parent = world.slack.workspace.messages.C0OPS!.find((m) => m.text.includes('verify web --put-logs'))!;
    const thread = world.slack
      .replies('C0OPS', parent.ts)
      .map((r) => r.text)
      .join('\n');
    expect(thread).toMatch(/but the test line could not be written: the bot needs `logs:CreateLogStream`/);
  });

  it('every call of a normal command is made as the calling function’s role and allowed', async () => {
    world = await startWorld();
    await world.slash('U0ALICE', 'status web');
    await world.idle();
    const decisions = world.aws.authority.decisions;
    const byWorker = decisions.filter((d) => d.functionName === WORKER_FUNCTION);
    const byIngress = decisions.filter((d) => d.functionName === INGRESS_FUNCTION);
    expect(byIngress.map((d) => d.action)).toEqual(
      expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'lambda:InvokeFunction', 'ssm:GetParameters']),
    );
    expect(byWorker.map((d) => d.action)).toEqual(expect.arrayContaining(['ecs:DescribeServices', 'dynamodb:UpdateItem']));
    expect(new Set(byIngress.map((d) => d.roleArn))).toEqual(new Set([localStack().functions.ingress!.roleArn]));
    expect(new Set(byWorker.map((d) => d.roleArn))).toEqual(new Set([localStack().functions.worker!.roleArn]));
    expect(deniedCalls(world)).toEqual([]);
  });

  it('a DynamoDB write the role does not grant is refused: the ingress without PutItem on the audit table', async () => {
    world = await startWorld({ stack: stackWith('ingress', 'AuditRecord') });
    await world.slash('U0ALICE', 'status web');
    await world.idle();
    expect(deniedCalls(world)).toContainEqual(
      expect.objectContaining({
        functionName: INGRESS_FUNCTION,
        action: 'dynamodb:PutItem',
        resource: expect.stringMatching(/:table\/ecs-chatops-local-audit$/),
      }),
    );
  });

  it('an AWS call the role does not grant fails with AccessDeniedException naming the action and resource', async () => {
    world = await startWorld({ stack: stackWith('worker', 'EcsReadScoped', { Action: ['ecs:DescribeTasks', 'ecs:DescribeClusters'] }) });
    await world.slash('U0ALICE', 'status web');
    await world.idle();
    const refused = world.aws.calls.find((c) => c.action === 'DescribeServices' && c.error);
    expect(refused?.error).toMatchObject({
      code: 'AccessDeniedException',
      message: expect.stringMatching(
        new RegExp(
          `^User: arn:aws:sts::111111111111:assumed-role/${localStack().functions.worker!.roleName}/${WORKER_FUNCTION} is not authorized to perform: ecs:DescribeServices on resource: arn:aws:ecs:us-east-1:111111111111:service/main/web because no identity-based policy allows the ecs:DescribeServices action$`,
        ),
      ),
    });
  });
});
