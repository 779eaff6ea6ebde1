/**
 * What the simulated AWS services emit to EventBridge, as EventBridge delivers it to a target
 * (the envelope AWS documents; see ../shared/reference/ecs-events.md §1). The emitters (the ECS
 * scheduler, CloudWatch alarms) call `state.events.emit`; the event buses (local/aws/eventbridge.ts)
 * route what is emitted in an account and region to the rules of its default bus.
 */
export interface AwsEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  /** `YYYY-MM-DDTHH:MM:SSZ`, whole seconds, set by the emitter. */
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** What an emitter gives: the envelope without the id and version the bus adds. */
export type EmittedEvent = Omit<AwsEvent, 'id' | 'version'>;

export interface EventSink {
  emit(event: EmittedEvent): void;
}

/** Until buses are attached, emitted events go nowhere (as in an account with no rules). */
export const NO_EVENTS: EventSink = { emit: () => undefined };
