import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  acknowledgePayloadJson,
  decodeClientMessage,
  encodeAcknowledge,
  encodeChannelClosed,
  encodeClientMessage,
  encodeHandshakeRequest,
  encodeInputStreamData,
  encodeOutputStreamData,
  ExecProtocolError,
  flagPayload,
  HEADER_LENGTH,
  MessageType,
  parseAcknowledgeContent,
  parseChannelClosedPayload,
  PayloadDigestError,
  PayloadType,
  SHORT_HEADER_LENGTH,
  sizePayload,
} from '../src/exec/codec';

/** Hex dump lines "0000: 00 11 …" (as in the protocol notes §4.2) → Buffer. */
function fromDump(dump: string): Buffer {
  return Buffer.from(
    dump
      .trim()
      .split('\n')
      .map((line) => line.replace(/^\s*[0-9a-f]{4}:/i, ''))
      .join('')
      .replace(/\s+/g, ''),
    'hex',
  );
}

const ID = 'dd01e56b-ff48-483e-a508-b5f073f31b16';
const CREATED = 1503434274948;

// Vectors A, B, S of the notes §4.2, byte for byte.
const VECTOR_A = fromDump(`
0000: 00 00 00 74 69 6e 70 75 74 5f 73 74 72 65 61 6d 5f 64 61 74 61 20 20 20 20 20 20 20 20 20 20 20
0020: 20 20 20 20 00 00 00 01 00 00 01 5e 0b aa 78 84 00 00 00 00 00 00 00 01 00 00 00 00 00 00 00 02
0040: a5 08 b5 f0 73 f3 1b 16 dd 01 e5 6b ff 48 48 3e 23 9f 59 ed 55 e7 37 c7 71 47 cf 55 ad 0c 1b 03
0060: 0b 6d 7e e7 48 a7 42 69 52 f9 b8 52 d5 a9 35 e5 00 00 00 00 00 00 00 07 70 61 79 6c 6f 61 64
`);
const VECTOR_B = fromDump(`
0000: 00 00 00 74 6f 75 74 70 75 74 5f 73 74 72 65 61 6d 5f 64 61 74 61 20 20 20 20 20 20 20 20 20 20
0020: 20 20 20 20 00 00 00 01 00 00 01 5e 0b aa 78 84 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 02
0040: a5 08 b5 f0 73 f3 1b 16 dd 01 e5 6b ff 48 48 3e e2 83 f7 8f bb a7 ce e0 83 74 c7 7d e5 49 73 ac
0060: a4 18 47 88 f3 76 0e a2 b8 05 17 c8 b6 34 3d 92 00 00 00 01 00 00 00 0c 74 65 73 74 50 61 79 6c
0080: 6f 61 64 30
`);
const VECTOR_S = fromDump(`
0000: 00 00 00 74 69 6e 70 75 74 5f 73 74 72 65 61 6d 5f 64 61 74 61 20 20 20 20 20 20 20 20 20 20 20
0020: 20 20 20 20 00 00 00 01 00 00 01 5e 0b aa 78 84 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0040: a5 08 b5 f0 73 f3 1b 16 dd 01 e5 6b ff 48 48 3e 10 2b 1e 10 bc 86 22 14 b2 9c 95 4a 65 e3 b6 b4
0060: 99 7a 29 04 c0 4f 65 ec 28 b4 60 21 50 d0 36 82 00 00 00 03 00 00 00 16 7b 22 63 6f 6c 73 22 3a
0080: 32 30 30 2c 22 72 6f 77 73 22 3a 35 30 7d
`);

/** Vector C: the ack of B, assembled from the values the notes give for each field. */
const ACK_ID = '11111111-2222-4333-8444-555555555555';
const ACK_JSON =
  '{"AcknowledgedMessageType":"output_stream_data","AcknowledgedMessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","AcknowledgedMessageSequenceNumber":0,"IsSequentialMessage":true}';
const VECTOR_C = Buffer.concat([
  Buffer.from('00000074', 'hex'),
  Buffer.from('acknowledge'.padEnd(32, ' ')),
  Buffer.from('00000001' + '0000015e0baa7884' + '0000000000000000' + '0000000000000003', 'hex'),
  Buffer.from('84445555555555551111111122224333', 'hex'),
  Buffer.from('713a0a17057de630213f7292907ce38462812ea213a29366f537f68c6ab60e85', 'hex'),
  Buffer.from('00000000000000b0', 'hex'),
  Buffer.from(ACK_JSON),
]);

/** Builds a frame by hand (no encoder) so decoder tests do not trust the encoder. */
function rawFrame(opts: {
  hl?: number;
  type?: Buffer;
  created?: bigint;
  seq?: bigint;
  flags?: bigint;
  idWire?: Buffer;
  digest?: Buffer;
  ptype?: number;
  payload: Buffer;
  declaredLength?: number;
}): Buffer {
  const hl = opts.hl ?? 116;
  const f = Buffer.alloc(hl + 4 + opts.payload.length);
  f.writeUInt32BE(hl, 0);
  (opts.type ?? Buffer.from('output_stream_data'.padEnd(32, ' '))).copy(f, 4);
  f.writeUInt32BE(1, 36);
  f.writeBigUInt64BE(opts.created ?? BigInt(CREATED), 40);
  f.writeBigInt64BE(opts.seq ?? 0n, 48);
  f.writeBigUInt64BE(opts.flags ?? 0n, 56);
  (opts.idWire ?? VECTOR_B.subarray(64, 80)).copy(f, 64);
  (opts.digest ?? createHash('sha256').update(opts.payload).digest()).copy(f, 80);
  if (hl >= 116) f.writeUInt32BE(opts.ptype ?? 1, 112);
  f.writeUInt32BE(opts.declaredLength ?? opts.payload.length, hl);
  opts.payload.copy(f, hl + 4);
  return f;
}

function protocolError(fn: () => unknown): ExecProtocolError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExecProtocolError) return err;
    throw err;
  }
  throw new Error('expected an ExecProtocolError');
}

describe('exec codec: byte-exact vectors (notes §4.2)', () => {
  it('encodes vector A (input_stream_data, seq 1, flags 2, payload type 0)', () => {
    const frame = encodeClientMessage({
      messageType: MessageType.InputStreamData,
      sequenceNumber: 1,
      flags: 2,
      createdDate: CREATED,
      messageId: ID,
      payload: Buffer.from('payload'),
    });
    expect(frame.length).toBe(127);
    expect(frame.toString('hex')).toBe(VECTOR_A.toString('hex'));
  });

  it('encodes vector B (output_stream_data, payload type Output)', () => {
    const frame = encodeClientMessage({
      messageType: MessageType.OutputStreamData,
      sequenceNumber: 0,
      flags: 2,
      createdDate: CREATED,
      messageId: ID,
      payloadType: PayloadType.Output,
      payload: Buffer.from('testPayload0'),
    });
    expect(frame.toString('hex')).toBe(VECTOR_B.toString('hex'));
  });

  it('encodes vector S (Size message) through the input_stream_data helper', () => {
    const frame = encodeInputStreamData({
      sequenceNumber: 0,
      payloadType: PayloadType.Size,
      payload: sizePayload(200, 50),
      createdDate: CREATED,
      messageId: ID,
    });
    expect(frame.length).toBe(142);
    expect(frame.toString('hex')).toBe(VECTOR_S.toString('hex'));
  });

  it('encodes vector C: the acknowledge of B', () => {
    const b = decodeClientMessage(VECTOR_B);
    const ack = encodeAcknowledge(b, { messageId: ACK_ID, createdDate: CREATED });
    expect(ack.length).toBe(296);
    expect(ack.toString('hex')).toBe(VECTOR_C.toString('hex'));
  });

  it('decodes vector A field by field', () => {
    expect(decodeClientMessage(VECTOR_A)).toMatchObject({
      headerLength: 116,
      messageType: 'input_stream_data',
      schemaVersion: 1,
      createdDate: CREATED,
      sequenceNumber: 1,
      flags: 2,
      messageId: ID,
      payloadType: 0,
      payloadLength: 7,
    });
    expect(decodeClientMessage(VECTOR_A).payload.toString()).toBe('payload');
  });

  it('decodes vectors B, S and C and parses the ack content', () => {
    const b = decodeClientMessage(VECTOR_B);
    expect([b.messageType, b.payloadType, b.payload.toString()]).toEqual(['output_stream_data', 1, 'testPayload0']);
    const s = decodeClientMessage(VECTOR_S);
    expect([s.payloadType, JSON.parse(s.payload.toString())]).toEqual([3, { cols: 200, rows: 50 }]);
    const c = decodeClientMessage(VECTOR_C);
    expect(c).toMatchObject({ messageType: 'acknowledge', messageId: ACK_ID, flags: 3, sequenceNumber: 0, payloadLength: 176 });
    expect(parseAcknowledgeContent(c.payload)).toEqual({
      AcknowledgedMessageType: 'output_stream_data',
      AcknowledgedMessageId: ID,
      AcknowledgedMessageSequenceNumber: 0,
      IsSequentialMessage: true,
    });
  });

  it('writes the ack JSON compactly: 175 bytes for input_stream_data, as in the agent capture', () => {
    const json = acknowledgePayloadJson({ messageType: 'input_stream_data', messageId: ID, sequenceNumber: 0 });
    expect(Buffer.byteLength(json)).toBe(175);
    expect(json).toBe(ACK_JSON.replace('output_stream_data', 'input_stream_data'));
  });

  it('writes 64-bit fields big-endian (SMP putLong / longToBytes vectors)', () => {
    const big = encodeClientMessage({ messageType: 'acknowledge', sequenceNumber: 4294967296, flags: 5747283, messageId: ID });
    expect(big.subarray(48, 56).toString('hex')).toBe('0000000100000000');
    expect(big.subarray(56, 64).toString('hex')).toBe('000000000057b253');
    expect(decodeClientMessage(big)).toMatchObject({ sequenceNumber: 4294967296, flags: 5747283 });
  });

  it('reads SequenceNumber as signed', () => {
    expect(decodeClientMessage(rawFrame({ seq: -1n, payload: Buffer.from('x') })).sequenceNumber).toBe(-1);
  });

  it('round-trips random message ids through the half swap', () => {
    for (let i = 0; i < 50; i++) {
      const id = crypto.randomUUID();
      const frame = encodeClientMessage({ messageType: 'acknowledge', messageId: id });
      const hex = id.replace(/-/g, '');
      expect(frame.subarray(64, 80).toString('hex')).toBe(hex.slice(16) + hex.slice(0, 16));
      expect(decodeClientMessage(frame).messageId).toBe(id);
    }
  });

  it('generates distinct v4 message ids by default, across entropy-pool refills', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const id = decodeClientMessage(encodeClientMessage({ messageType: 'acknowledge' })).messageId;
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(600);
  });

  it('writes an upper-case UUID and reads it back canonical lower-case', () => {
    const frame = encodeClientMessage({ messageType: 'acknowledge', messageId: ID.toUpperCase() });
    expect(decodeClientMessage(frame).messageId).toBe(ID);
  });
});

describe('exec codec: header forms and tolerant parsing', () => {
  it('encodes channel_closed in the short form (112-byte header, no PayloadType) and decodes it', () => {
    const frame = encodeChannelClosed({ sessionId: 'ecs-execute-command-1', output: 'Session timed out', messageId: ID, createdDate: CREATED });
    expect(frame.readUInt32BE(0)).toBe(SHORT_HEADER_LENGTH);
    const payloadLength = frame.readUInt32BE(112);
    expect(frame.length).toBe(116 + payloadLength);
    const decoded = decodeClientMessage(frame);
    expect(decoded).toMatchObject({ headerLength: 112, messageType: 'channel_closed', payloadType: 0, messageId: ID });
    expect(JSON.parse(decoded.payload.toString())).toEqual({
      MessageId: ID,
      CreatedDate: String(CREATED),
      DestinationId: '',
      SessionId: 'ecs-execute-command-1',
      MessageType: 'channel_closed',
      SchemaVersion: 1,
      Output: 'Session timed out',
    });
    expect(parseChannelClosedPayload(decoded.payload)).toEqual({ output: 'Session timed out', sessionId: 'ecs-execute-command-1' });
  });

  it('can also encode channel_closed with the normal header', () => {
    const frame = encodeChannelClosed({ sessionId: 's', shortHeader: false });
    expect(decodeClientMessage(frame)).toMatchObject({ headerLength: HEADER_LENGTH, messageType: 'channel_closed' });
  });

  it('decodes a hand-built NUL-padded 112-byte channel_closed with the SMP test payload', () => {
    const payload = Buffer.from(
      '{"MessageType":"channel_closed","MessageId":"dd01e56b-ff48-483e-a508-b5f073f31b16","CreatedDate":"1503434274948","SessionId":"sessionId_01234567890abcedf","SchemaVersion":1,"Output":"payload"}',
    );
    const type = Buffer.alloc(32);
    type.write('channel_closed');
    const decoded = decodeClientMessage(rawFrame({ hl: 112, type, payload }));
    expect(decoded.messageType).toBe('channel_closed');
    expect(parseChannelClosedPayload(decoded.payload).output).toBe('payload');
  });

  it('treats an empty channel_closed payload as no output', () => {
    expect(parseChannelClosedPayload(Buffer.alloc(0))).toEqual({ output: '', sessionId: '' });
  });

  it('vector D: strict decoding flags the hex-text digest, tolerant decoding still parses it', () => {
    const payload = Buffer.from('{"cols":202,"rows":18}');
    const type = Buffer.alloc(32);
    type.write('input_stream_data', 32 - 'input_stream_data'.length); // left-padded with NULs
    const frame = rawFrame({
      type,
      created: 509294562n,
      flags: 1n,
      digest: Buffer.from('e44365b951162eda64acefd27572209e'),
      ptype: 3,
      payload,
    });
    expect(frame.length).toBe(142);
    const err = protocolError(() => decodeClientMessage(frame));
    expect(err).toBeInstanceOf(PayloadDigestError);
    expect(err.code).toBe('BAD_DIGEST');
    expect((err as PayloadDigestError).decoded.messageType).toBe('input_stream_data');
    const tolerant = decodeClientMessage(frame, { verifyDigest: false });
    expect(tolerant).toMatchObject({ messageType: 'input_stream_data', payloadType: 3, flags: 1, createdDate: 509294562 });
    expect(tolerant.payload.toString()).toBe('{"cols":202,"rows":18}');
  });

  it('does not check digests of start/pause_publication (as the official client)', () => {
    for (const t of ['start_publication', 'pause_publication']) {
      const frame = rawFrame({ type: Buffer.from(t.padEnd(32, ' ')), digest: Buffer.alloc(32), ptype: 0, payload: Buffer.from('{}') });
      expect(decodeClientMessage(frame).messageType).toBe(t);
    }
  });

  it('accepts an all-zero digest on an empty payload', () => {
    expect(decodeClientMessage(rawFrame({ digest: Buffer.alloc(32), payload: Buffer.alloc(0) })).payloadLength).toBe(0);
  });

  it('trims unknown types padded with spaces or NULs', () => {
    const type = Buffer.alloc(32, 0x20);
    type.write('agent_session_state');
    expect(decodeClientMessage(rawFrame({ type, payload: Buffer.from('x') })).messageType).toBe('agent_session_state');
  });
});

describe('exec codec: validation errors', () => {
  const good = () => rawFrame({ payload: Buffer.from('abc') });

  it('rejects frames shorter than a header', () => {
    expect(protocolError(() => decodeClientMessage(good().subarray(0, 100))).code).toBe('FRAME_TOO_SHORT');
  });

  it('rejects a header length below 112 or past the frame', () => {
    const low = good();
    low.writeUInt32BE(100, 0);
    expect(protocolError(() => decodeClientMessage(low)).code).toBe('BAD_HEADER_LENGTH');
    const high = good();
    high.writeUInt32BE(1000, 0);
    expect(protocolError(() => decodeClientMessage(high)).code).toBe('BAD_HEADER_LENGTH');
  });

  it('rejects a payload length that disagrees with the frame, either way', () => {
    expect(protocolError(() => decodeClientMessage(rawFrame({ payload: Buffer.from('abc'), declaredLength: 4 }))).code).toBe('BAD_PAYLOAD_LENGTH');
    expect(protocolError(() => decodeClientMessage(rawFrame({ payload: Buffer.from('abc'), declaredLength: 2 }))).code).toBe('BAD_PAYLOAD_LENGTH');
  });

  it('rejects an empty message type', () => {
    expect(protocolError(() => decodeClientMessage(rawFrame({ type: Buffer.alloc(32), payload: Buffer.from('a') }))).code).toBe('EMPTY_MESSAGE_TYPE');
  });

  it('rejects CreatedDate 0', () => {
    expect(protocolError(() => decodeClientMessage(rawFrame({ created: 0n, payload: Buffer.from('a') }))).code).toBe('ZERO_CREATED_DATE');
  });

  it('rejects a payload altered after encoding with a typed digest error', () => {
    const frame = Buffer.from(VECTOR_B);
    frame[frame.length - 1] = 0x31; // testPayload0 → testPayload1
    const err = protocolError(() => decodeClientMessage(frame));
    expect(err).toBeInstanceOf(PayloadDigestError);
    expect((err as PayloadDigestError).decoded.sequenceNumber).toBe(0);
  });

  it('refuses to encode bad ids, types, sequence numbers, header lengths and dates', () => {
    expect(protocolError(() => encodeClientMessage({ messageType: 'acknowledge', messageId: 'nope' })).code).toBe('BAD_ARGUMENT');
    expect(protocolError(() => encodeClientMessage({ messageType: 'x'.repeat(33) })).code).toBe('BAD_ARGUMENT');
    expect(protocolError(() => encodeClientMessage({ messageType: '' })).code).toBe('BAD_ARGUMENT');
    expect(protocolError(() => encodeClientMessage({ messageType: 'has space' })).code).toBe('BAD_ARGUMENT');
    expect(protocolError(() => encodeClientMessage({ messageType: 'acknowledge', sequenceNumber: -1 })).code).toBe('BAD_ARGUMENT');
    expect(protocolError(() => encodeClientMessage({ messageType: 'acknowledge', sequenceNumber: 1.5 })).code).toBe('BAD_ARGUMENT');
    expect(protocolError(() => encodeClientMessage({ messageType: 'acknowledge', createdDate: 0 })).code).toBe('BAD_ARGUMENT');
    expect(protocolError(() => encodeClientMessage({ messageType: 'acknowledge', headerLength: 120 as 116 })).code).toBe('BAD_ARGUMENT');
  });

  it('rejects acknowledge payloads without a sequence number or not JSON', () => {
    expect(protocolError(() => parseAcknowledgeContent(Buffer.from('{"AcknowledgedMessageType":"x"}'))).code).toBe('BAD_PAYLOAD');
    expect(protocolError(() => parseAcknowledgeContent(Buffer.from('not json'))).code).toBe('BAD_PAYLOAD');
    expect(protocolError(() => parseAcknowledgeContent(Buffer.from('[1]'))).code).toBe('BAD_PAYLOAD');
  });
});

describe('exec codec: agent-side helpers', () => {
  it('output_stream_data gets flags 1 on seq 0 and 0 afterwards, payload type Output by default', () => {
    const first = decodeClientMessage(encodeOutputStreamData({ sequenceNumber: 0, payload: Buffer.from('a') }));
    const later = decodeClientMessage(encodeOutputStreamData({ sequenceNumber: 7, payload: Buffer.from('b') }));
    expect([first.flags, first.payloadType, later.flags, later.sequenceNumber]).toEqual([1, 1, 0, 7]);
  });

  it('input_stream_data uses flags 0 and the given payload type', () => {
    const m = decodeClientMessage(encodeInputStreamData({ sequenceNumber: 3, payloadType: PayloadType.Flag, payload: flagPayload(2) }));
    expect([m.messageType, m.flags, m.payloadType, m.payload.toString('hex')]).toEqual(['input_stream_data', 0, 10, '00000002']);
  });

  it('acks carry seq 0, flags 3, payload type 0 and a fresh id', () => {
    const b = decodeClientMessage(VECTOR_B);
    const one = decodeClientMessage(encodeAcknowledge(b));
    const two = decodeClientMessage(encodeAcknowledge(b));
    expect([one.sequenceNumber, one.flags, one.payloadType]).toEqual([0, 3, 0]);
    expect(one.messageId).not.toBe(two.messageId);
  });

  it('encodes a HandshakeRequest as output_stream_data payload type 5', () => {
    const payload = {
      AgentVersion: '3.3.0.0',
      RequestedClientActions: [{ ActionType: 'SessionType', ActionParameters: { SessionType: 'InteractiveCommands', Properties: null } }],
    };
    const m = decodeClientMessage(encodeHandshakeRequest({ sequenceNumber: 0, payload }));
    expect([m.messageType, m.payloadType, m.flags]).toEqual(['output_stream_data', 5, 1]);
    expect(JSON.parse(m.payload.toString())).toEqual(payload);
  });

  it('defaults CreatedDate to now', () => {
    const before = Date.now();
    const m = decodeClientMessage(encodeClientMessage({ messageType: 'acknowledge' }));
    expect(m.createdDate).toBeGreaterThanOrEqual(before);
    expect(m.createdDate).toBeLessThanOrEqual(Date.now());
  });
});
