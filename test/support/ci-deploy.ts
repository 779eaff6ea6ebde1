import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { registerInput } from '../../src/ecs/taskdef';

/**
 * What CI (or someone in the console) does behind the bot's back: registers a revision of the
 * service's task definition and deploys it. Returns the new revision's ARN.
 */
export async function deployFromCi(where: { cluster: string; service: string; region?: string }): Promise<string> {
  const ecs = new ECSClient({ region: where.region ?? 'us-east-1' });
  try {
    const { services } = await ecs.send(new DescribeServicesCommand({ cluster: where.cluster, services: [where.service] }));
    const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: services![0]!.taskDefinition! }));
    const registered = await ecs.send(new RegisterTaskDefinitionCommand(registerInput(taskDefinition!, [])));
    const arn = registered.taskDefinition!.taskDefinitionArn!;
    await ecs.send(new UpdateServiceCommand({ cluster: where.cluster, service: where.service, taskDefinition: arn }));
    return arn;
  } finally {
    ecs.destroy();
  }
}
