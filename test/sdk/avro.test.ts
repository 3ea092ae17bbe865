import { expect } from "chai";
import fc from "fast-check";
import fs from "node:fs";
import path from "node:path";
import avro from "avsc";
import {
  AvroCodec,
  DEFAULT_TOPICS,
  GENESIS_STATE,
  ReasonCode,
  SCHEMA_DIR,
  SCHEMA_FILES,
  SchemaRegistry,
  TransferVerifier,
  ZERO_HASH,
  assertFlatSchema,
  codecs,
  createCodecs,
  crc64Avro,
  deadLetterOf,
  fingerprintHex,
  frame,
  hashlockOf,
  isParsecError,
  readFrameFingerprint,
  schemaFingerprint,
  transferMessage,
  MalformedError,
  PREVIOUS_SCHEMA_FILES,
  type ChannelStateEntry,
  type CheckpointProposal,
  type CheckpointSignatureMessage,
  type ControlRequest,
  type DeadLetter,
  type Hash,
  type MessageMapping,
  type SettlementEvent,
  type TransferMessage,
} from "../../sdk";
import { expectCode, makeChannel, pays, signChain } from "./helpers";

const ch = makeChannel();
const { transfers, state } = signChain(ch, 0, [
  ...pays(2),
  { kind: "LOCK", amount: 4n, expiry: 99n, hashlock: hashlockOf(("0x" + "12".repeat(32)) as Hash) },
]);
const { hash: _hash, ...transfer } = transfers[2];
const transferHash = transfers[2].hash;
void _hash;
const fixture = (f: string): avro.Schema =>
  JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", f), "utf8")) as avro.Schema;

const samples = {
  transfer: transferMessage(ch.domain, transfer, ch.params.participant0, {
    appKind: "TIP",
    appData: "0xbeef",
    sentAtMs: 1_700_000_000_123,
  }),
  control: {
    schemaVersion: 1,
    requestId: "req-1",
    channelId: ch.channelId,
    action: "DISPUTE",
    requestedBy: ch.params.participant1,
    requestedAtMs: 1_700_000_000_000,
    reason: "counterparty closed with an old state",
  } satisfies ControlRequest,
  checkpointProposal: {
    schemaVersion: 1,
    proposalId: "p-9",
    domain: ch.domain,
    checkpoint: { channelId: ch.channelId, seq0: 3, head0: transferHash, seq1: 0, head1: ZERO_HASH },
    proposer: ch.params.participant0,
    proposedAtMs: 5,
  } satisfies CheckpointProposal,
  checkpointSignature: {
    schemaVersion: 1,
    proposalId: "p-9",
    checkpoint: { channelId: ch.channelId, seq0: 3, head0: transferHash, seq1: 0, head1: ZERO_HASH },
    signerIndex: 1,
    signer: ch.params.participant1,
    signature: transfer.signature,
    signedAtMs: 6,
  } satisfies CheckpointSignatureMessage,
  settlement: {
    schemaVersion: 1,
    eventId: "e-1",
    channelId: ch.channelId,
    action: "CHECKPOINT",
    status: "CONFIRMED",
    seq0: 3,
    seq1: 0,
    txHash: transferHash,
    gasUsed: 43_210,
    requestId: null,
    detail: null,
    atMs: 7,
  } satisfies SettlementEvent,
  stateChangelog: {
    schemaVersion: 1,
    domain: ch.domain,
    channelId: ch.channelId,
    params: ch.params,
    deposit0: 10n ** 20n,
    deposit1: 1n,
    payer0: state,
    payer1: GENESIS_STATE,
    onchain: { seq0: 2, head0: transfers[1].hash, seq1: 0, head1: ZERO_HASH },
    status: "CLOSING",
    lastOffset: 12_345,
    updatedAtMs: 8,
  } satisfies ChannelStateEntry,
  deadLetter: deadLetterOf(
    { code: "BadSignature", message: "Bad signature: …" },
    {
      original: new Uint8Array([1, 2, 3]),
      originalKey: new Uint8Array([9]),
      topic: DEFAULT_TOPICS.transfers,
      partition: 3,
      offset: 77,
    },
    ch.channelId,
    9,
  ) satisfies DeadLetter,
};

describe("sdk/avro: Kafka messages", () => {
  it("CRC-64-AVRO fingerprints match the Avro specification's vectors", () => {
    const signed = (v: bigint) => BigInt.asIntN(64, v);
    expect(signed(schemaFingerprint('"null"'))).to.equal(7195948357588979594n);
    expect(signed(schemaFingerprint('"boolean"'))).to.equal(-6970731678124411036n);
    expect(signed(schemaFingerprint('{"name":"foo","type":"fixed","size":15}'))).to.equal(
      1756455273707447556n,
    );
    expect(
      signed(schemaFingerprint('{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}')),
    ).to.equal(7843277075252814651n);
    expect(crc64Avro(new Uint8Array(0))).to.equal(0xc15d213aa4d7a795n);
  });

  it("has one flat .avsc per message, each with schemaVersion first", () => {
    const files = fs
      .readdirSync(SCHEMA_DIR)
      .filter((f) => f.endsWith(".avsc"))
      .sort();
    expect(files).to.deep.equal([...Object.values(SCHEMA_FILES), ...PREVIOUS_SCHEMA_FILES].sort());
    for (const f of files) {
      const schema = JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), "utf8"));
      const version = Number(/\.v(\d+)\.avsc$/.exec(f)?.[1]);
      expect(schema.fields[0]).to.include({ name: "schemaVersion", type: "int", default: version });
      assertFlatSchema(avro.Type.forSchema(schema));
    }
    expect(() =>
      assertFlatSchema(
        avro.Type.forSchema({
          type: "record",
          name: "X",
          fields: [{ name: "a", type: { type: "array", items: "int" } }],
        }),
      ),
    ).to.throw(/arrays/);
  });

  it("round-trips every message type, framed with its writer fingerprint", () => {
    const c = codecs();
    for (const [name, value] of Object.entries(samples)) {
      const codec = c[name as keyof typeof samples] as AvroCodec<unknown>;
      const bytes = codec.encode(value);
      expect([bytes[0], bytes[1]]).to.deep.equal([0xc3, 0x01]);
      expect(readFrameFingerprint(bytes)).to.equal(codec.reader.fingerprint);
      expect(codec.decode(bytes)).to.deep.equal(value, name);
      expect(codec.schemaVersion).to.equal((value as { schemaVersion: number }).schemaVersion);
    }
  });

  it("validates what it decodes", () => {
    const c = codecs();
    const reader = c.stateChangelog.reader;
    const record = reader.type.fromBuffer(c.stateChangelog.encode(samples.stateChangelog).subarray(10)) as {
      payer0: { locksRoot: Buffer };
    };
    record.payer0.locksRoot = Buffer.alloc(32, 7);
    expectCode(
      () => c.stateChangelog.decode(frame(reader.fingerprintBytes, reader.type.toBuffer(record))),
      "Malformed",
    );
    const t = c.transfer.reader;
    const raw = t.type.fromBuffer(c.transfer.encode(samples.transfer).subarray(10)) as Record<
      string,
      unknown
    >;
    raw.verifyingContract = Buffer.from("5fbdb2315678afecb367f032d93f642f64180aa3", "hex");
    expect(
      c.transfer.decode(frame(t.fingerprintBytes, t.type.toBuffer(raw))).domain.verifyingContract,
    ).to.equal("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    raw.kind = 9;
    expectCode(() => c.transfer.decode(frame(t.fingerprintBytes, t.type.toBuffer(raw))), "UnknownKind");
    expectCode(
      () => c.transfer.encode({ ...samples.transfer, transfer: { ...transfer, amount: 1n << 128n } }),
      "Overflow",
    );
    const unknown = Buffer.from(c.control.encode(samples.control));
    unknown[9] ^= 1;
    expectCode(() => c.control.decode(unknown), "UnknownSchema");
    expectCode(() => c.control.decode(new Uint8Array([0xc3, 0x02, 0, 0, 0, 0, 0, 0, 0, 0])), "Malformed");
    // A message of another type on the wrong topic.
    expectCode(() => c.transfer.decode(c.control.encode(samples.control)), "Malformed");
  });

  describe("schema evolution", () => {
    interface TransferV2 extends TransferMessage {
      readonly memo: string | null;
      readonly priority: number;
    }

    function v2Codecs() {
      const registry = new SchemaRegistry();
      const v1 = createCodecs(registry);
      // The newer reader maps the v1 fields through the v1 codec's logic plus its own.
      const base = v1.transfer;
      const mapping: MessageMapping<TransferV2> = {
        toAvro: (m) => ({ ...base.mapping.toAvro(m), memo: m.memo, priority: m.priority }),
        fromAvro: (r) => ({
          ...base.mapping.fromAvro(r),
          memo: r.memo as string | null,
          priority: r.priority as number,
        }),
      };
      const v2 = new AvroCodec<TransferV2>("Transfer", fixture("transfer.v2.avsc"), registry, mapping);
      return { v1, v2 };
    }

    it("a newer writer is read by an older reader, and an older writer by a newer reader", () => {
      const { v1, v2 } = v2Codecs();
      const newer: TransferV2 = {
        ...samples.transfer,
        schemaVersion: 2,
        memo: "for the coffee",
        priority: 3,
      };
      const fromNew = v1.transfer.decode(v2.encode(newer));
      expect(fromNew.transfer).to.deep.equal(samples.transfer.transfer);
      expect(fromNew.schemaVersion).to.equal(2);
      expect(fromNew).to.not.have.property("memo");
      const fromOld = v2.decode(v1.transfer.encode(samples.transfer));
      expect(fromOld).to.deep.equal({ ...samples.transfer, memo: null, priority: 0 });
      expect(v2.schemaVersion).to.equal(2);
      // And back: the v1 codec writes it as a v1 message (its fingerprint says v1, so must the field);
      // a message that claims version 2 under the v1 fingerprint is refused.
      expectCode(() => v1.transfer.encode(fromNew), "Malformed");
      expect(v2.decode(v1.transfer.encode({ ...fromNew, schemaVersion: 1 }))).to.deep.equal({
        ...samples.transfer,
        schemaVersion: 1,
        memo: null,
        priority: 0,
      });
    });

    it("an older reader sees an enum symbol it does not know as its default", () => {
      const registry = new SchemaRegistry();
      const v1 = createCodecs(registry);
      const v2type = avro.Type.forSchema(fixture("control.v2.avsc"));
      const v2 = registry.register(v2type);
      const record = {
        ...v1.control.reader.type.fromBuffer(v1.control.encode(samples.control).subarray(10)),
        schemaVersion: 2,
        action: "FORCE_CLOSE",
      };
      const bytes = frame(v2.fingerprintBytes, v2type.toBuffer(record));
      expect(v1.control.decode(bytes)).to.deep.equal({
        ...samples.control,
        schemaVersion: 2,
        action: "UNKNOWN",
      });
    });

    it("the verifier accepts a transfer written with a newer registered schema", () => {
      const v2type = avro.Type.forSchema(fixture("transfer.v2.avsc"));
      const v2 = codecs().registry.register(v2type);
      const v1bytes = codecs().transfer.encode(
        transferMessage(ch.domain, transfers[0], ch.params.participant0),
      );
      const record = {
        ...codecs().transfer.reader.type.fromBuffer(v1bytes.subarray(10)),
        schemaVersion: 2,
        memo: "hi",
        priority: 1,
      };
      const wire = frame(v2.fingerprintBytes, v2type.toBuffer(record));
      const verifier = new TransferVerifier({ domain: ch.domain });
      expect(verifier.check(wire)).to.equal(ReasonCode.Ok);
      expect(verifier.lastHash()).to.equal(transfers[0].hash);
      record.memo = null;
      const tampered = Buffer.from(frame(v2.fingerprintBytes, v2type.toBuffer({ ...record, seq: 2 })));
      expect(verifier.check(tampered)).to.equal(ReasonCode.BadSignature);
    });
  });

  it("decoding random bytes throws only ParsecErrors and stays fast (fuzz)", () => {
    const c = codecs();
    const all = Object.keys(samples).map((k) => c[k as keyof typeof samples] as AvroCodec<unknown>);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: all.length - 1 }),
        fc.uint8Array({ maxLength: 400 }),
        fc.boolean(),
        (i, body, framed) => {
          const codec = all[i];
          const bytes = framed
            ? Buffer.concat([codec.encode(Object.values(samples)[i]).subarray(0, 10), body])
            : body;
          const start = process.hrtime.bigint();
          try {
            codec.decode(bytes);
          } catch (e) {
            if (!isParsecError(e)) throw e;
          }
          // Generous (a shared machine pauses now and then); an unbounded decode would not finish at all.
          expect(Number(process.hrtime.bigint() - start) / 1e6).to.be.lessThan(1000);
        },
      ),
      { numRuns: 3000 },
    );
    // Truncations and bit flips of real messages.
    for (const [name, value] of Object.entries(samples)) {
      const codec = c[name as keyof typeof samples] as AvroCodec<unknown>;
      const bytes = codec.encode(value);
      for (let n = 0; n < bytes.length; n++) {
        for (const mutated of [bytes.subarray(0, n), Buffer.from(bytes).fill(0xff, n, n + 1)]) {
          try {
            codec.decode(mutated);
          } catch (e) {
            if (!isParsecError(e)) throw e;
          }
        }
      }
    }
    expect(new MalformedError("x").reason).to.equal(1);
    expect(fingerprintHex(1n)).to.equal("0000000000000001");
  });
});
