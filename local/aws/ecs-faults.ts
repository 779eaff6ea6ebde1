/**
 * ECS faults the emulator can inject into a running service, beyond broken images
 * (`state.failingImages`): a crash loop (its tasks keep dying after they start, e.g. out of memory)
 * and placement failures (the scheduler cannot find capacity for new tasks). The scheduler
 * (rollout.ts) consults them on every pass, so setting or clearing one takes effect at the next
 * scheduler run, at the emulator time it was set.
 */
import type { Service } from '@aws-sdk/client-ecs';

export interface CrashLoopSpec {
  /** The essential container's exit code (137: killed, as by the OOM killer). */
  exitCode: number;
  /** The container's `reason`, e.g. `OutOfMemoryError: Container killed due to memory usage`. */
  reason?: string;
}

export interface CrashLoop extends CrashLoopSpec {
  /** Emulator time the fault was set: running tasks crash `crashAfterMs` after this. */
  since: number;
}

/** The `reason` of ECS's SERVICE_TASK_PLACEMENT_FAILURE event. */
export type PlacementFailureReason = 'RESOURCE:CPU' | 'RESOURCE:MEMORY' | 'RESOURCE:FARGATE';

export interface PlacementFailure {
  reason: PlacementFailureReason;
}

/**
 * Faults keyed by what the caller named: a service ARN, or a service name (any cluster's service
 * of that name). Each setter returns the function that clears what it set.
 */
export class ServiceFaults<T> {
  private readonly byRef = new Map<string, T>();

  set(serviceRef: string, fault: T): () => void {
    this.byRef.set(serviceRef, fault);
    return () => void (this.byRef.get(serviceRef) === fault && this.byRef.delete(serviceRef));
  }

  clear(serviceRef?: string): void {
    if (serviceRef === undefined) this.byRef.clear();
    else this.byRef.delete(serviceRef);
  }

  for(service: Service): T | undefined {
    return this.byRef.get(service.serviceArn ?? '') ?? this.byRef.get(service.serviceName ?? '');
  }

  /** Still in force: the very fault a task was doomed with has not been cleared or replaced. */
  has(fault: T): boolean {
    return [...this.byRef.values()].includes(fault);
  }

  get size(): number {
    return this.byRef.size;
  }
}
