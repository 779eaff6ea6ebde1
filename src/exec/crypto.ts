/**
 * KMS handshake and AES-256-GCM payload encryption of ECS Exec sessions on clusters whose
 * `executeCommandConfiguration.kmsKeyId` is set (protocol notes §2.8–2.9).
 *
 * - The client asks KMS for a 64-byte data key with the encryption context
 *   {"aws:ssm:SessionId": sessionId, "aws:ssm:TargetId": "ecs:<cluster>_<taskId>_<runtimeId>"}
 *   and returns the CiphertextBlob to the agent, which decrypts it with kms:Decrypt.
 * - Key split: bytes 0..31 encrypt agent→client, bytes 32..63 encrypt client→agent. So the client
 *   decrypts with the first half and encrypts with the second; the agent the other way round.
 * - Wire payload: nonce(12) || ciphertext || tag(16), no AAD.
 *
 * KMS is reached through an injected function so this module needs no SDK client (the bot passes
 * `kmsDataKeyGenerator(new KMSClient(...))`; tests pass a fake).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ActionStatus, ActionType, ExecProtocolError, type KmsEncryptionActionParameters, type ProcessedClientAction } from './codec';

export const DATA_KEY_BYTES = 64;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** Encryption-context keys the agent uses when it decrypts the data key. */
const ENCRYPTION_CONTEXT_SESSION_ID = 'aws:ssm:SessionId';
const ENCRYPTION_CONTEXT_TARGET_ID = 'aws:ssm:TargetId';
const ENCRYPTION_CONTEXT_RANDOM_CHALLENGE = 'aws:ssm:RandomChallenge';

export interface GenerateDataKeyRequest {
  /** The key the agent asked for (the cluster's kmsKeyId). */
  keyId: string;
  numberOfBytes: typeof DATA_KEY_BYTES;
  encryptionContext: Record<string, string>;
}
export interface GeneratedDataKey {
  plaintext: Uint8Array;
  ciphertext: Uint8Array;
}
export type GenerateDataKey = (request: GenerateDataKeyRequest) => Promise<GeneratedDataKey>;

/** Just the part of `KMSClient` we call, so callers can pass the real client or a stub. */
export interface KmsSendClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/**
 * Adapts an `@aws-sdk/client-kms` client. The SDK module is imported on first use so that
 * loading this file costs nothing on the cold-start path of commands that never exec.
 */
export function kmsDataKeyGenerator(client: KmsSendClient): GenerateDataKey {
  return async (request) => {
    const { GenerateDataKeyCommand } = await import('@aws-sdk/client-kms');
    const out = (await client.send(
      new GenerateDataKeyCommand({
        KeyId: request.keyId,
        NumberOfBytes: request.numberOfBytes,
        EncryptionContext: request.encryptionContext,
      }),
    )) as { Plaintext?: Uint8Array; CiphertextBlob?: Uint8Array };
    if (!out.Plaintext || !out.CiphertextBlob) throw new ExecCryptoError('KMS GenerateDataKey returned no key material');
    return { plaintext: out.Plaintext, ciphertext: out.CiphertextBlob };
  };
}

export class ExecCryptoError extends Error {
  override readonly name = 'ExecCryptoError';
}

/** Splits a 64-byte data key into the two direction keys. */
export function splitDataKey(dataKey: Uint8Array): { agentToClient: Buffer; clientToAgent: Buffer } {
  if (dataKey.length !== DATA_KEY_BYTES) {
    throw new ExecCryptoError(`data key must be ${DATA_KEY_BYTES} bytes, got ${dataKey.length}`);
  }
  const key = Buffer.from(dataKey.buffer, dataKey.byteOffset, dataKey.byteLength);
  // Copies, so that zeroing or reusing the caller's buffer cannot change our keys.
  return { agentToClient: Buffer.from(key.subarray(0, KEY_BYTES)), clientToAgent: Buffer.from(key.subarray(KEY_BYTES)) };
}

/** AES-256-GCM with the session's wire layout: nonce || ciphertext || tag. */
export function sealPayload(key: Buffer, plaintext: Uint8Array, nonce: Buffer = randomBytes(NONCE_BYTES)): Buffer {
  if (nonce.length !== NONCE_BYTES) throw new ExecCryptoError(`nonce must be ${NONCE_BYTES} bytes`);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  const out = Buffer.allocUnsafe(NONCE_BYTES + plaintext.length + TAG_BYTES);
  nonce.copy(out, 0);
  // GCM is a stream mode: update() returns exactly as many bytes as it was given.
  cipher.update(plaintext).copy(out, NONCE_BYTES);
  cipher.final();
  cipher.getAuthTag().copy(out, NONCE_BYTES + plaintext.length);
  return out;
}

/** Inverse of sealPayload; throws ExecCryptoError when the tag does not verify. */
export function openPayload(key: Buffer, sealed: Uint8Array): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new ExecCryptoError(`encrypted payload of ${sealed.length} bytes is too short`);
  const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  const plain = decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    throw new ExecCryptoError('payload authentication failed (wrong key or corrupted data)');
  }
  return plain;
}

/** The pair of keys one side of a session uses. */
export class SessionCipher {
  private constructor(
    private readonly encryptKey: Buffer,
    private readonly decryptKey: Buffer,
  ) {}

  /** The client decrypts agent output with bytes 0..31 and encrypts its input with 32..63. */
  static forClient(dataKey: Uint8Array): SessionCipher {
    const { agentToClient, clientToAgent } = splitDataKey(dataKey);
    return new SessionCipher(clientToAgent, agentToClient);
  }

  /** The agent's view (used by the local fake agent and tests). */
  static forAgent(dataKey: Uint8Array): SessionCipher {
    const { agentToClient, clientToAgent } = splitDataKey(dataKey);
    return new SessionCipher(agentToClient, clientToAgent);
  }

  encrypt(plaintext: Uint8Array, nonce?: Buffer): Buffer {
    return sealPayload(this.encryptKey, plaintext, nonce);
  }

  decrypt(sealed: Uint8Array): Buffer {
    return openPayload(this.decryptKey, sealed);
  }
}

export interface KmsHandshakeOptions {
  generateDataKey: GenerateDataKey;
  /** `session.sessionId` from ExecuteCommand. */
  sessionId: string;
  /**
   * The SSM target `ecs:<clusterName>_<taskId>_<containerRuntimeId>` (§1.6). A function is called
   * only when the agent actually requests encryption, so the DescribeTasks it needs can be lazy.
   */
  target: string | (() => Promise<string>);
  /**
   * Opt in to the agent's random-challenge extension (§2.9): bind the data key to the agent's
   * challenge. Off by default, as in the official plugin; only agents configured with
   * RequireKMSChallengeResponse need it.
   */
  acknowledgeChallenge?: boolean;
}

/**
 * Runs the client side of the KMSEncryption handshake action: GenerateDataKey with the session's
 * encryption context, then returns the action entry for the HandshakeResponse and the cipher.
 */
export async function processKmsEncryptionAction(
  parameters: unknown,
  options: KmsHandshakeOptions,
): Promise<{ action: ProcessedClientAction; cipher: SessionCipher }> {
  const params = parameters as Partial<KmsEncryptionActionParameters> | null;
  if (!params || typeof params.KMSKeyId !== 'string' || params.KMSKeyId === '') {
    throw new ExecProtocolError('BAD_PAYLOAD', 'KMSEncryption action without KMSKeyId');
  }
  const target = typeof options.target === 'function' ? await options.target() : options.target;
  const encryptionContext: Record<string, string> = {
    [ENCRYPTION_CONTEXT_SESSION_ID]: options.sessionId,
    [ENCRYPTION_CONTEXT_TARGET_ID]: target,
  };
  const useChallenge = options.acknowledgeChallenge === true && typeof params.Challenge === 'string' && params.Challenge !== '';
  if (useChallenge) encryptionContext[ENCRYPTION_CONTEXT_RANDOM_CHALLENGE] = params.Challenge!;

  const key = await options.generateDataKey({ keyId: params.KMSKeyId, numberOfBytes: DATA_KEY_BYTES, encryptionContext });
  const cipher = SessionCipher.forClient(key.plaintext);
  const result: Record<string, unknown> = {
    KMSCipherTextKey: Buffer.from(key.ciphertext).toString('base64'),
    KMSCipherTextHash: null,
  };
  if (useChallenge) result.ChallengeAcknowledgement = true;
  return {
    action: { ActionType: ActionType.KMSEncryption, ActionStatus: ActionStatus.Success, ActionResult: result, Error: '' },
    cipher,
  };
}

/**
 * Answers the agent's EncChallengeRequest: decrypt with the agent→client key, re-encrypt with the
 * client→agent key. Proves to the agent that both sides hold the same data key.
 */
export function answerEncryptionChallenge(cipher: SessionCipher, challengeBase64: string): string {
  return cipher.encrypt(cipher.decrypt(Buffer.from(challengeBase64, 'base64'))).toString('base64');
}
