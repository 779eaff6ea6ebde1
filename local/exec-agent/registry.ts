/**
 * What ECS `ExecuteCommand` (local/aws/services/ecs.ts) and the local agent (server.ts) share: the
 * address the agent's data channel listens on, and the sessions ECS has granted. In AWS the same
 * hand-off happens between ECS, SSM and the Message Gateway Service; here it is a map hung off the
 * emulator's state, so several emulators in one process (tests) never see each other's sessions.
 */
import type { EmulatorState } from '../aws/state';

/** One session ECS granted: everything the agent needs to accept the client and run the command. */
export interface ExecGrant {
  sessionId: string;
  /** The `tokenValue` the client must present in its opening frame, once. */
  token: string;
  /** Set when a client presented the token; a second connection with it is refused. */
  usedAt?: number;
  /** Real time (ms) of the grant: the token is only good for a short while (ExecAgentOptions.tokenTtlMs). */
  grantedAt: number;
  accountId: string;
  region: string;
  clusterName: string;
  clusterArn: string;
  taskId: string;
  taskArn: string;
  containerName: string;
  containerArn: string;
  /** The container's runtime id: part of the SSM target, hence of the KMS encryption context. */
  runtimeId: string;
  /** `ecs:<cluster>_<taskId>_<runtimeId>`, as the agent computes its identity (notes §1.6). */
  targetId: string;
  /** The command string exactly as given to ExecuteCommand; the agent splits it with Go shlex. */
  command: string;
  /** The cluster's `executeCommandConfiguration.kmsKeyId`: the agent then performs the KMS handshake. */
  kmsKeyId?: string;
  /** The task's role (what the agent calls KMS Decrypt as). */
  taskRoleArn?: string;
  /** The container's plain environment from its task definition. */
  environment: Record<string, string>;
}

export interface ExecRegistry {
  /** `ws://127.0.0.1:<port>` while an agent serves this emulator; ExecuteCommand refuses without one. */
  endpoint?: string;
  sessions: Map<string, ExecGrant>;
}

const registries = new WeakMap<EmulatorState, ExecRegistry>();

export function execRegistry(state: EmulatorState): ExecRegistry {
  let registry = registries.get(state);
  if (!registry) {
    registry = { sessions: new Map() };
    registries.set(state, registry);
  }
  return registry;
}
