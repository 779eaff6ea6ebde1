/**
 * Binary framing of the Session Manager data channel ("ClientMessage"), used by ECS Exec.
 *
 * One WebSocket binary frame carries exactly one message. Layout (all integers big-endian):
 *
 *   0  u32  HeaderLength   116 normally (= offset of PayloadLength); 112 for the short form
 *                          seen on `channel_closed`, which has no PayloadType field
 *   4  32B  MessageType    ASCII, left-justified, space-padded
 *  36  u32  SchemaVersion  1
 *  40  u64  CreatedDate    epoch milliseconds, never 0
 *  48  i64  SequenceNumber per-direction stream sequence; 0 for acks / control messages
 *  56  u64  Flags          agent output: 1 on seq 0, else 0; acks: 3; client input: 0
 *  64  16B  MessageId      UUID bytes 8..15 followed by bytes 0..7 (the halves are swapped)
 *  80  32B  PayloadDigest  raw SHA-256 of the payload
 * 112  u32  PayloadType    only when HeaderLength >= 116
 *  HL  u32  PayloadLength
 * HL+4 ...  Payload
 *
 * This module is shared by the client (`session.ts`) and by the local fake agent, so it exports
 * encoders for both directions. It is written for throughput: no per-byte JS loops, native hex
 * and SHA-256, one allocation per encoded frame, and decoded payloads are zero-copy views.
 * Source of every rule: /work/shared/reference/ecs-exec-protocol.md §2.2–2.5, vectors in §4.
 */
import { createHash, hash as oneShotHash, randomFillSync, randomUUID } from 'node:crypto';

// ---------------------------------------------------------------------------------------------
// Constants

/** MessageType strings of the data channel (§2.3). */
export const MessageType = {
  InputStreamData: 'input_stream_data',
  OutputStreamData: 'output_stream_data',
  Acknowledge: 'acknowledge',
  ChannelClosed: 'channel_closed',
  StartPublication: 'start_publication',
  PausePublication: 'pause_publication',
} as const;
export type KnownMessageType = (typeof MessageType)[keyof typeof MessageType];

/** PayloadType values (§2.4). 0 ("undefined") is what acks and control messages carry. */
export const PayloadType = {
  Undefined: 0,
  Output: 1,
  Error: 2,
  Size: 3,
  Parameter: 4,
  HandshakeRequest: 5,
  HandshakeResponse: 6,
  HandshakeComplete: 7,
  EncChallengeRequest: 8,
  EncChallengeResponse: 9,
  Flag: 10,
  StdErr: 11,
  ExitCode: 12,
} as const;
export type PayloadTypeValue = (typeof PayloadType)[keyof typeof PayloadType];

/** Values of a Flag (payload type 10) payload, a big-endian uint32. */
export const PayloadFlag = {
  DisconnectToPort: 1,
  TerminateSession: 2,
  ConnectToPortError: 3,
} as const;

/** Flags field values that the official implementations actually write. */
export const MessageFlags = {
  /** Client input and agent output after the first message. */
  Data: 0,
  /** The agent's first output message (SYN). */
  Syn: 1,
  /** Acknowledgements (SYN|FIN). */
  Ack: 3,
} as const;

/** HeaderLength of a normal message: the offset of the PayloadLength field. */
export const HEADER_LENGTH = 116;
/** HeaderLength of the short form (no PayloadType field), observed on `channel_closed`. */
export const SHORT_HEADER_LENGTH = 112;
/** Bytes before the payload of a normal message (header + PayloadLength). */
const FRAME_OVERHEAD = HEADER_LENGTH + 4;
const SCHEMA_VERSION = 1;

const OFF_TYPE = 4;
const TYPE_LEN = 32;
const OFF_SCHEMA = 36;
const OFF_CREATED = 40;
const OFF_SEQ = 48;
const OFF_FLAGS = 56;
const OFF_ID = 64;
const OFF_DIGEST = 80;
const DIGEST_LEN = 32;
const OFF_PTYPE = 112;
const TWO_32 = 0x1_0000_0000;

// ---------------------------------------------------------------------------------------------
// Errors

export type ExecProtocolErrorCode =
  | 'FRAME_TOO_SHORT'
  | 'BAD_HEADER_LENGTH'
  | 'BAD_PAYLOAD_LENGTH'
  | 'EMPTY_MESSAGE_TYPE'
  | 'ZERO_CREATED_DATE'
  | 'BAD_DIGEST'
  | 'BAD_PAYLOAD'
  | 'BAD_ARGUMENT';

/** A frame or payload that breaks the protocol. `code` is stable; match on it, not on the text. */
export class ExecProtocolError extends Error {
  override readonly name: string = 'ExecProtocolError';
  constructor(
    readonly code: ExecProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The payload's SHA-256 does not match the header. The rest of the frame decoded fine and is
 * attached as `decoded`, so a tolerant caller can still inspect it (some agent versions and third
 * party encoders are known to write bad digests, §2.2 / vector D). The session drops such a
 * message WITHOUT acknowledging it, so a well-behaved agent retransmits it.
 */
export class PayloadDigestError extends ExecProtocolError {
  override readonly name = 'PayloadDigestError';
  constructor(readonly decoded: ClientMessage) {
    super('BAD_DIGEST', `payload digest mismatch on ${decoded.messageType} seq ${decoded.sequenceNumber}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Decoded form

export interface ClientMessage {
  headerLength: number;
  messageType: string;
  schemaVersion: number;
  /** Epoch milliseconds. */
  createdDate: number;
  sequenceNumber: number;
  flags: number;
  /** Canonical lowercase hyphenated UUID (halves already un-swapped). */
  messageId: string;
  /** View into the frame: do not keep it beyond the frame's lifetime if the frame is reused. */
  payloadDigest: Buffer;
  /** 0 when the header is the short (112-byte) form. */
  payloadType: number;
  payloadLength: number;
  /** Zero-copy view into the decoded frame. */
  payload: Buffer;
}

export interface DecodeOptions {
  /**
   * Check the SHA-256 of non-empty payloads (default true). start/pause_publication are never
   * checked, as in the official client.
   */
  verifyDigest?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Hashing / UUIDs

/** One-shot SHA-256 (`crypto.hash` is markedly cheaper than createHash for small inputs). */
const sha256: (data: Uint8Array) => Buffer =
  typeof oneShotHash === 'function' ? (data) => oneShotHash('sha256', data, 'buffer') as Buffer : (data) => createHash('sha256').update(data).digest();

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Writes a UUID in wire order (bytes 8..15, then 0..7) at `offset`. */
function writeUuid(buf: Buffer, offset: number, uuid: string): void {
  if (uuid.length !== 36 || !UUID_RE.test(uuid)) {
    throw new ExecProtocolError('BAD_ARGUMENT', `not a UUID: ${JSON.stringify(uuid)}`);
  }
  // Native hex writes; `uuid.slice(19, 23) + uuid.slice(24)` are bytes 8..15.
  buf.write(uuid.slice(19, 23) + uuid.slice(24), offset, 8, 'hex');
  buf.write(uuid.slice(0, 8) + uuid.slice(9, 13) + uuid.slice(14, 18), offset + 8, 8, 'hex');
}

/**
 * Writes a fresh random (v4) UUID in wire order straight from an entropy pool: an ack per output
 * frame makes this hot, and skipping the string form halves its cost. Pool bytes are used once.
 */
const ID_POOL_BYTES = 4096;
let idPool = Buffer.alloc(0);
let idPoolOffset = 0;
function writeRandomUuid(buf: Buffer, offset: number): void {
  if (idPoolOffset + 16 > idPool.length) {
    idPool = randomFillSync(Buffer.allocUnsafe(ID_POOL_BYTES));
    idPoolOffset = 0;
  }
  idPool.copy(buf, offset, idPoolOffset, idPoolOffset + 16);
  idPoolOffset += 16;
  // Wire order puts UUID byte 8 first and UUID byte 6 at +14: set the variant and version bits.
  buf[offset] = (buf[offset]! & 0x3f) | 0x80;
  buf[offset + 14] = (buf[offset + 14]! & 0x0f) | 0x40;
}

/** Reads a wire-order UUID at `offset` as a canonical lowercase string. */
function readUuid(buf: Buffer, offset: number): string {
  const h = buf.toString('hex', offset, offset + 16);
  // h[0..16) = UUID bytes 8..15, h[16..32) = UUID bytes 0..7.
  return `${h.slice(16, 24)}-${h.slice(24, 28)}-${h.slice(28, 32)}-${h.slice(0, 4)}-${h.slice(4, 16)}`;
}

// ---------------------------------------------------------------------------------------------
// Message type padding

const paddedTypes = new Map<string, Buffer>();
/** Known types, pre-padded: decode compares bytes natively instead of building a string. */
const knownPadded: Array<[string, Buffer]> = [];

function paddedType(type: string): Buffer {
  let padded = paddedTypes.get(type);
  if (padded) return padded;
  if (type.length === 0 || type.length > TYPE_LEN || !/^[\x21-\x7e]+$/.test(type)) {
    throw new ExecProtocolError('BAD_ARGUMENT', `invalid message type ${JSON.stringify(type)}`);
  }
  padded = Buffer.alloc(TYPE_LEN, 0x20);
  padded.write(type, 0, 'latin1');
  // Bound the cache: only the handful of real types are ever encoded.
  if (paddedTypes.size < 64) paddedTypes.set(type, padded);
  return padded;
}
for (const type of Object.values(MessageType)) knownPadded.push([type, paddedType(type)]);

function readMessageType(buf: Buffer): string {
  for (const [type, padded] of knownPadded) {
    if (buf.compare(padded, 0, TYPE_LEN, OFF_TYPE, OFF_TYPE + TYPE_LEN) === 0) return type;
  }
  // Unusual padding (NULs, leading padding, vector D) or an unknown type: trim like SMP's getString.
  return buf.toString('latin1', OFF_TYPE, OFF_TYPE + TYPE_LEN).replace(/^[\s\0]+|[\s\0]+$/g, '');
}

// ---------------------------------------------------------------------------------------------
// 64-bit fields as JS numbers (values in this protocol stay far below 2^53)

function writeU64(buf: Buffer, offset: number, value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ExecProtocolError('BAD_ARGUMENT', `${field} must be a non-negative safe integer, got ${value}`);
  }
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

function readI64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * TWO_32 + buf.readUInt32BE(offset + 4);
}

// ---------------------------------------------------------------------------------------------
// Encoding

export interface EncodeFields {
  messageType: string;
  sequenceNumber?: number;
  flags?: number;
  payloadType?: number;
  payload?: Uint8Array;
  /** Defaults to a fresh random UUID. */
  messageId?: string;
  /** Epoch ms; defaults to now. */
  createdDate?: number;
  schemaVersion?: number;
  /** 116 (default) or 112, the short form without PayloadType (`channel_closed` as sent by MGS). */
  headerLength?: typeof HEADER_LENGTH | typeof SHORT_HEADER_LENGTH;
}

const EMPTY = Buffer.alloc(0);

/**
 * Encodes one message. The returned Buffer is freshly allocated (small ones come from Node's
 * shared pool, so this is cheap) and owned by the caller: it is safe to hand to `ws.send`.
 */
export function encodeClientMessage(fields: EncodeFields): Buffer {
  const payload = fields.payload ?? EMPTY;
  const frame = allocFrame(fields, payload.length);
  frame.set(payload, frame.length - payload.length);
  finishFrame(frame, fields.headerLength ?? HEADER_LENGTH, payload.length);
  return frame;
}

/** Allocates a frame and writes every header field except the digest. */
function allocFrame(fields: EncodeFields, payloadLength: number): Buffer {
  const hl = fields.headerLength ?? HEADER_LENGTH;
  if (hl !== HEADER_LENGTH && hl !== SHORT_HEADER_LENGTH) {
    throw new ExecProtocolError('BAD_ARGUMENT', `headerLength must be 116 or 112, got ${hl}`);
  }
  const createdDate = fields.createdDate ?? Date.now();
  if (createdDate === 0) throw new ExecProtocolError('BAD_ARGUMENT', 'createdDate must not be 0');
  // allocUnsafe is fine: every byte below is written (type padding comes from a padded template).
  const frame = Buffer.allocUnsafe(hl + 4 + payloadLength);
  frame.writeUInt32BE(hl, 0);
  frame.set(paddedType(fields.messageType), OFF_TYPE);
  frame.writeUInt32BE(fields.schemaVersion ?? SCHEMA_VERSION, OFF_SCHEMA);
  writeU64(frame, OFF_CREATED, createdDate, 'createdDate');
  writeU64(frame, OFF_SEQ, fields.sequenceNumber ?? 0, 'sequenceNumber');
  writeU64(frame, OFF_FLAGS, fields.flags ?? 0, 'flags');
  if (fields.messageId === undefined) writeRandomUuid(frame, OFF_ID);
  else writeUuid(frame, OFF_ID, fields.messageId);
  if (hl === HEADER_LENGTH) frame.writeUInt32BE(fields.payloadType ?? 0, OFF_PTYPE);
  frame.writeUInt32BE(payloadLength, hl);
  return frame;
}

/** Writes the digest of the payload already in place. */
function finishFrame(frame: Buffer, hl: number, payloadLength: number): void {
  frame.set(sha256(frame.subarray(hl + 4, hl + 4 + payloadLength)), OFF_DIGEST);
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes and validates one frame. Throws ExecProtocolError on a malformed frame and
 * PayloadDigestError (carrying the decoded message) on a digest mismatch.
 */
export function decodeClientMessage(frame: Buffer, options: DecodeOptions = {}): ClientMessage {
  if (frame.length < SHORT_HEADER_LENGTH + 4) {
    throw new ExecProtocolError('FRAME_TOO_SHORT', `frame of ${frame.length} bytes is shorter than any header`);
  }
  const hl = frame.readUInt32BE(0);
  // Anything below 112 would overlap the digest; anything past the frame cannot hold PayloadLength.
  if (hl < SHORT_HEADER_LENGTH || hl + 4 > frame.length) {
    throw new ExecProtocolError('BAD_HEADER_LENGTH', `header length ${hl} invalid for a ${frame.length}-byte frame`);
  }
  const payloadLength = frame.readUInt32BE(hl);
  const start = hl + 4;
  // One frame is exactly one message (§2.2): a length that disagrees with the frame is corruption.
  if (start + payloadLength !== frame.length) {
    throw new ExecProtocolError('BAD_PAYLOAD_LENGTH', `payload length ${payloadLength} but ${frame.length - start} bytes follow the header`);
  }
  const messageType = readMessageType(frame);
  if (messageType === '') throw new ExecProtocolError('EMPTY_MESSAGE_TYPE', 'empty message type');
  const createdDate = readU64(frame, OFF_CREATED);
  if (createdDate === 0) throw new ExecProtocolError('ZERO_CREATED_DATE', `${messageType} has CreatedDate 0`);

  const message: ClientMessage = {
    headerLength: hl,
    messageType,
    schemaVersion: frame.readUInt32BE(OFF_SCHEMA),
    createdDate,
    sequenceNumber: readI64(frame, OFF_SEQ),
    flags: readU64(frame, OFF_FLAGS),
    messageId: readUuid(frame, OFF_ID),
    payloadDigest: frame.subarray(OFF_DIGEST, OFF_DIGEST + DIGEST_LEN),
    payloadType: hl >= HEADER_LENGTH ? frame.readUInt32BE(OFF_PTYPE) : 0,
    payloadLength,
    payload: frame.subarray(start),
  };

  if (options.verifyDigest !== false && payloadLength !== 0 && messageType !== MessageType.StartPublication && messageType !== MessageType.PausePublication) {
    const digest = sha256(message.payload);
    if (digest.compare(frame, OFF_DIGEST, OFF_DIGEST + DIGEST_LEN) !== 0) throw new PayloadDigestError(message);
  }
  return message;
}

// ---------------------------------------------------------------------------------------------
// Acknowledgements (§2.5)

export interface AcknowledgeContent {
  AcknowledgedMessageType: string;
  AcknowledgedMessageId: string;
  AcknowledgedMessageSequenceNumber: number;
  IsSequentialMessage: boolean;
}

/** What an ack refers to; a decoded ClientMessage satisfies it. */
export interface Acknowledgeable {
  messageType: string;
  messageId: string;
  sequenceNumber: number;
}

/**
 * Compact JSON in the field order of the official implementations (the agent's ack of an
 * input_stream_data is 175 bytes in real captures, which this reproduces).
 */
export function acknowledgePayloadJson(acked: Acknowledgeable): string {
  return (
    `{"AcknowledgedMessageType":${JSON.stringify(acked.messageType)},` +
    `"AcknowledgedMessageId":${JSON.stringify(acked.messageId)},` +
    `"AcknowledgedMessageSequenceNumber":${acked.sequenceNumber},"IsSequentialMessage":true}`
  );
}

/**
 * Encodes the `acknowledge` message for `acked` (seq 0, flags 3, payload type 0; acks do not
 * consume a sequence number). The JSON is written straight into the frame.
 */
export function encodeAcknowledge(acked: Acknowledgeable, opts: { messageId?: string; createdDate?: number } = {}): Buffer {
  const json = acknowledgePayloadJson(acked);
  const length = Buffer.byteLength(json);
  const frame = allocFrame({ messageType: MessageType.Acknowledge, sequenceNumber: 0, flags: MessageFlags.Ack, payloadType: 0, ...opts }, length);
  frame.write(json, FRAME_OVERHEAD, length, 'utf8');
  finishFrame(frame, HEADER_LENGTH, length);
  return frame;
}

/** Parses and validates an `acknowledge` payload. */
export function parseAcknowledgeContent(payload: Buffer): AcknowledgeContent {
  const value = parseJsonObject(payload, 'acknowledge');
  const seq = value.AcknowledgedMessageSequenceNumber;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) {
    throw new ExecProtocolError('BAD_PAYLOAD', 'acknowledge payload lacks AcknowledgedMessageSequenceNumber');
  }
  return {
    AcknowledgedMessageType: typeof value.AcknowledgedMessageType === 'string' ? value.AcknowledgedMessageType : '',
    AcknowledgedMessageId: typeof value.AcknowledgedMessageId === 'string' ? value.AcknowledgedMessageId : '',
    AcknowledgedMessageSequenceNumber: seq,
    IsSequentialMessage: value.IsSequentialMessage === true,
  };
}

// ---------------------------------------------------------------------------------------------
// Stream data

export interface StreamDataFields {
  sequenceNumber: number;
  payload: Uint8Array;
  /** Default Output (1). */
  payloadType?: number;
  /** Default: output seq 0 → 1 (as the agent does), everything else 0. */
  flags?: number;
  messageId?: string;
  createdDate?: number;
}

/** Agent → client data message. */
export function encodeOutputStreamData(fields: StreamDataFields): Buffer {
  return encodeClientMessage({
    messageType: MessageType.OutputStreamData,
    payloadType: PayloadType.Output,
    flags: fields.sequenceNumber === 0 ? MessageFlags.Syn : MessageFlags.Data,
    ...fields,
  });
}

/** Client → agent data message (stdin, size, handshake responses, flags). */
export function encodeInputStreamData(fields: StreamDataFields): Buffer {
  return encodeClientMessage({
    messageType: MessageType.InputStreamData,
    payloadType: PayloadType.Output,
    flags: MessageFlags.Data,
    ...fields,
  });
}

/** A Flag payload (payload type 10): big-endian uint32. */
export function flagPayload(flag: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(flag, 0);
  return b;
}

/** A Size payload (payload type 3). */
export function sizePayload(cols: number, rows: number): Buffer {
  return Buffer.from(JSON.stringify({ cols, rows }));
}

// ---------------------------------------------------------------------------------------------
// channel_closed (§2.6)

export interface ChannelClosedPayload {
  MessageId: string;
  /** A string in the JSON (SMP test payload), unlike the header's number. */
  CreatedDate: string;
  DestinationId?: string;
  SessionId: string;
  MessageType: 'channel_closed';
  SchemaVersion: number;
  Output: string;
}

export interface ChannelClosedFields {
  sessionId: string;
  output?: string;
  destinationId?: string;
  messageId?: string;
  createdDate?: number;
  /** Default true: MGS sends the 112-byte header without PayloadType (§2.2). */
  shortHeader?: boolean;
}

/** MGS → client `channel_closed`. Not sequenced and never acknowledged. */
export function encodeChannelClosed(fields: ChannelClosedFields): Buffer {
  const messageId = fields.messageId ?? randomUUID();
  const createdDate = fields.createdDate ?? Date.now();
  const body: ChannelClosedPayload = {
    MessageId: messageId,
    CreatedDate: String(createdDate),
    DestinationId: fields.destinationId ?? '',
    SessionId: fields.sessionId,
    MessageType: MessageType.ChannelClosed,
    SchemaVersion: SCHEMA_VERSION,
    Output: fields.output ?? '',
  };
  return encodeClientMessage({
    messageType: MessageType.ChannelClosed,
    messageId,
    createdDate,
    payload: Buffer.from(JSON.stringify(body)),
    headerLength: fields.shortHeader === false ? HEADER_LENGTH : SHORT_HEADER_LENGTH,
  });
}

/** Extracts what a client needs from a channel_closed payload; tolerant of an empty payload. */
export function parseChannelClosedPayload(payload: Buffer): { output: string; sessionId: string } {
  if (payload.length === 0) return { output: '', sessionId: '' };
  const value = parseJsonObject(payload, 'channel_closed');
  return {
    output: typeof value.Output === 'string' ? value.Output : '',
    sessionId: typeof value.SessionId === 'string' ? value.SessionId : '',
  };
}

// ---------------------------------------------------------------------------------------------
// Handshake payloads (§2.8) — JSON shapes shared by the client and the fake agent

export const ActionType = { SessionType: 'SessionType', KMSEncryption: 'KMSEncryption' } as const;
export const ActionStatus = { Success: 1, Failed: 2, Unsupported: 3 } as const;

export interface RequestedClientAction {
  ActionType: string;
  ActionParameters: unknown;
}
export interface KmsEncryptionActionParameters {
  KMSKeyId: string;
  /** Base64 of 16 random bytes (optional random-challenge extension, §2.9). */
  Challenge?: string;
}
export interface SessionTypeActionParameters {
  SessionType: string;
  Properties: unknown;
}
export interface HandshakeRequestPayload {
  AgentVersion: string;
  RequestedClientActions: RequestedClientAction[];
}
export interface ProcessedClientAction {
  ActionType: string;
  ActionStatus: number;
  ActionResult: unknown;
  Error: string;
}
export interface HandshakeResponsePayload {
  ClientVersion: string;
  ProcessedClientActions: ProcessedClientAction[];
  Errors: string[];
}
export interface KmsEncryptionActionResult {
  /** Base64 of the KMS CiphertextBlob. */
  KMSCipherTextKey: string;
  KMSCipherTextHash: string | null;
}
export interface EncryptionChallengePayload {
  /** Base64 of nonce || ciphertext || tag. */
  Challenge: string;
}
export interface HandshakeCompletePayload {
  /** Go time.Duration: integer nanoseconds. */
  HandshakeTimeToComplete: number;
  CustomerMessage: string;
}

/** Agent → client HandshakeRequest (output_stream_data, payload type 5). */
export function encodeHandshakeRequest(
  fields: { sequenceNumber: number; payload: HandshakeRequestPayload } & Omit<StreamDataFields, 'payload' | 'payloadType'>,
): Buffer {
  return encodeOutputStreamData({
    ...fields,
    payloadType: PayloadType.HandshakeRequest,
    payload: Buffer.from(JSON.stringify(fields.payload)),
  });
}

/** Parses a JSON object payload or throws BAD_PAYLOAD. */
export function parseJsonObject(payload: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new ExecProtocolError('BAD_PAYLOAD', `${what} payload is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ExecProtocolError('BAD_PAYLOAD', `${what} payload is not a JSON object`);
  }
  return value as Record<string, unknown>;
}
