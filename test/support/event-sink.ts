/** An EventSink that keeps what the emulator emits, for tests to read (the buses are not involved). */
import type { EmittedEvent, EventSink } from '../../local/aws/events-contract';

export class CollectingSink implements EventSink {
  readonly events: EmittedEvent[] = [];

  emit(event: EmittedEvent): void {
    this.events.push(structuredClone(event));
  }

  of(detailType: string): EmittedEvent[] {
    return this.events.filter((e) => e['detail-type'] === detailType);
  }

  /** The task state changes of one task, in emission order. */
  task(taskArn: string): EmittedEvent[] {
    return this.of('ECS Task State Change').filter((e) => e.detail.taskArn === taskArn);
  }

  named(eventName: string): EmittedEvent[] {
    return this.events.filter((e) => e.detail.eventName === eventName);
  }
}

/** Keys of AWS's own examples (shared/reference/ecs-events.md), to compare field sets against. */
export const REFERENCE_KEYS = {
  envelope: ['account', 'detail', 'detail-type', 'region', 'resources', 'source', 'time'],
  fargateRunningTask: [
    'attachments',
    'availabilityZone',
    'clusterArn',
    'connectivity',
    'connectivityAt',
    'containers',
    'cpu',
    'createdAt',
    'desiredStatus',
    'group',
    'lastStatus',
    'launchType',
    'memory',
    'overrides',
    'platformVersion',
    'pullStartedAt',
    'pullStoppedAt',
    'startedAt',
    'taskArn',
    'taskDefinitionArn',
    'updatedAt',
    'version',
  ],
  runningContainer: ['containerArn', 'cpu', 'image', 'imageDigest', 'lastStatus', 'name', 'networkInterfaces', 'runtimeId', 'taskArn'],
  deployment: ['deploymentId', 'eventName', 'eventType', 'reason', 'updatedAt'],
  steadyState: ['clusterArn', 'createdAt', 'eventName', 'eventType'],
  placementFailureFargate: ['capacityProviderArns', 'clusterArn', 'createdAt', 'eventName', 'eventType', 'reason'],
  placementFailureCpu: ['clusterArn', 'containerInstanceArns', 'createdAt', 'eventName', 'eventType', 'reason'],
  alarm: ['alarmName', 'configuration', 'previousState', 'state'],
  alarmState: ['reason', 'reasonData', 'timestamp', 'value'],
};

export const keys = (o: object) => Object.keys(o).sort();
/** `time`: whole seconds, Z. */
export const SECONDS_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
/** ECS task and service detail timestamps: milliseconds, Z. */
export const MILLIS_Z = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/** CloudWatch: milliseconds, +0000. */
export const MILLIS_0000 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/;
