/**
 * Peer messages of routed payments (protocol §11.5): the Avro codec, the payee's signature and how a
 * reader refuses forged, unsigned, re-addressed or oversized messages; and the snapshot's mediation
 * state (version 2) next to version 1 snapshots that must still read.
 */
import { expect } from "chai";
import { Wallet, sha256 } from "ethers";
import {
  type Address,
  codecs,
  type Hash,
  type Hex,
  localSigner,
  MAX_PAYMENT_MESSAGE_BYTES,
  type PaymentMessage,
  paymentMessageDigest,
  screenPaymentMessage,
  signPaymentMessage,
  type UnsignedPaymentMessage,
  verifyPaymentMessage,
  ONION_FAILURE_SIZE,
  SchemaRegistry,
} from "../../sdk";
import { parsecDomain } from "../../sdk/src/eip712";
import { loadSchemaFile } from "../../sdk/src/avro/codec";
import { frame } from "../../sdk/src/avro/framing";
import { paymentMessageMapping } from "../../sdk/src/routing/payment-message-avro";
import {
  decodeMediation,
  decodePaymentEntry,
  encodeMediation,
  encodePaymentEntry,
  type PaymentEntry,
} from "../../relayer/src/mediate/entry";
import { startPayment } from "../../relayer/src/mediate";
import {
  PROGRESS_KEY,
  encodeSnapshot,
  paymentChangelogKey,
  paymentOfChangelogKey,
  snapshotOf,
  stateCodecs,
} from "../../relayer/src/state/snapshot";
import { channelKey } from "../../relayer/src/kafka/topics";
import { ChannelState } from "../../relayer/src/state/channel";
import type { PartitionState } from "../../relayer/src/state/partition";
import type { OnchainChannel } from "../../relayer/src/chain/registry";
import type { OutRecord } from "../../relayer/src/kafka/client";
import { Metrics } from "../../relayer/src/http/metrics";
import { PaymentMessagePipeline } from "../../relayer/src/mediate/messages";
import avro from "avsc";
import fs from "node:fs";
import path from "node:path";

const domain = parsecDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address);
const payee = new Wallet(`0x${"22".repeat(32)}`);
const stranger = new Wallet(`0x${"33".repeat(32)}`);
const SECRET = `0x${"42".repeat(32)}` as Hash;
const HASHLOCK = sha256(SECRET) as Hash;
const CHANNEL = `0x${"a1".repeat(32)}` as Hash;
const lock = { channelId: CHANNEL, payer: 0 as const, seq: 7n, hashlock: HASHLOCK };
const FAILURE = `0x${"5a".repeat(ONION_FAILURE_SIZE)}` as Hex;

function signed(m: UnsignedPaymentMessage, by: Wallet = payee): PaymentMessage {
  return signPaymentMessage(localSigner(by.privateKey as Hex), domain, m, 1234);
}

describe("relayer unit: mediation peer messages", () => {
  describe("codec and signature", () => {
    const kinds: [string, UnsignedPaymentMessage][] = [
      ["SECRET", { ...lock, kind: "SECRET", secret: SECRET }],
      ["FAIL", { ...lock, kind: "FAIL", failure: FAILURE }],
      ["ACK", { ...lock, kind: "ACK" }],
      [
        "CONSENT",
        {
          ...lock,
          kind: "CONSENT",
          consent: {
            seq: 9,
            transfer: `0x${"c9".repeat(32)}` as Hash,
            signature: `0x${"1b".repeat(65)}` as Hex,
          },
        },
      ],
    ];
    for (const [name, m] of kinds) {
      it(`${name}: round-trips, stays small and verifies as the payee's`, () => {
        const msg = signed(m);
        const wire = codecs().paymentMessage.encode(msg);
        expect(wire.length).to.be.at.most(MAX_PAYMENT_MESSAGE_BYTES);
        const back = codecs().paymentMessage.decode(wire);
        expect(back).to.deep.equal(msg);
        verifyPaymentMessage(back, domain, payee.address as Address);
      });
    }

    type Forgery = [string, (m: PaymentMessage) => PaymentMessage, string];
    const forgeries: Forgery[] = [
      [
        "signed by someone else",
        () => signed({ ...lock, kind: "FAIL", failure: FAILURE }, stranger),
        "BadSignature",
      ],
      [
        "someone else's signature claiming the payee",
        () => ({
          ...signed({ ...lock, kind: "FAIL", failure: FAILURE }, stranger),
          sender: payee.address as Address,
        }),
        "BadSignature",
      ],
      [
        "unsigned (zero signature)",
        (m) => ({ ...m, signature: `0x${"00".repeat(65)}` as Hex }),
        "BadSignature",
      ],
      ["moved to another lock seq", (m) => ({ ...m, seq: 8n }), "BadSignature"],
      [
        "moved to another channel",
        (m) => ({ ...m, channelId: `0x${"a2".repeat(32)}` as Hash }),
        "BadSignature",
      ],
      [
        "failure bytes altered",
        (m) => ({ ...m, failure: `0x${"5b".repeat(ONION_FAILURE_SIZE)}` as Hex }) as PaymentMessage,
        "BadSignature",
      ],
      [
        "another deployment",
        (m) => ({ ...m, domain: parsecDomain(1n, domain.verifyingContract) }),
        "BadSignature",
      ],
    ];
    for (const [name, forge, code] of forgeries) {
      it(`a FAIL ${name} is refused (${code})`, () => {
        const forged = forge(signed({ ...lock, kind: "FAIL", failure: FAILURE }));
        expect(() => verifyPaymentMessage(forged, domain, payee.address as Address))
          .to.throw()
          .with.property("code", code);
      });
    }

    it("a CONSENT's consent is signed over too: changing its seq, hash or signature breaks the message", () => {
      const msg = signed(kinds[3][1]) as Extract<PaymentMessage, { kind: "CONSENT" }>;
      for (const consent of [
        { ...msg.consent, seq: 10 },
        { ...msg.consent, transfer: `0x${"c8".repeat(32)}` as Hash },
        { ...msg.consent, signature: `0x${"1c".repeat(65)}` as Hex },
      ])
        expect(() => verifyPaymentMessage({ ...msg, consent }, domain, payee.address as Address)).to.throw(
          /recovers to/,
        );
    });

    it("a version 1 message (written before CONSENT) still reads with the version 2 codec", () => {
      const v1 = codecs().registry.register(loadSchemaFile("payment-message.v1.avsc"));
      const msg = { ...signed({ ...lock, kind: "FAIL", failure: FAILURE }), schemaVersion: 1 };
      const record = { ...paymentMessageMapping.toAvro(msg) } as Record<string, unknown>;
      delete record.consent;
      const wire = frame(v1.fingerprintBytes, v1.type.toBuffer(record));
      expect(codecs().paymentMessage.decode(wire)).to.deep.equal(msg);
    });

    it("a SECRET that does not open the hashlock is malformed (cannot even be signed)", () => {
      expect(() =>
        paymentMessageDigest(domain, { ...lock, kind: "SECRET", secret: `0x${"43".repeat(32)}` as Hash }),
      )
        .to.throw()
        .with.property("code", "Malformed");
    });

    it("oversized input is screened out before decoding; junk and truncations are Malformed", () => {
      const wire = codecs().paymentMessage.encode(signed({ ...lock, kind: "FAIL", failure: FAILURE }));
      const big = Buffer.concat([wire, Buffer.alloc(MAX_PAYMENT_MESSAGE_BYTES)]);
      expect(screenPaymentMessage(big)?.code).to.equal("Malformed");
      expect(screenPaymentMessage(wire)).to.equal(null);
      for (const bad of [
        wire.subarray(0, wire.length - 1),
        Buffer.from("junk"),
        Buffer.concat([wire, Buffer.of(0)]),
      ]) {
        expect(() => codecs().paymentMessage.decode(bad))
          .to.throw()
          .with.property("code");
      }
    });
  });

  describe("the node's reader (PaymentMessagePipeline)", () => {
    const payerKey = new Wallet(`0x${"11".repeat(32)}`);
    const onchain = {
      params: { participant0: payerKey.address, participant1: payee.address },
    } as unknown as OnchainChannel;
    /** A reader for a node holding `held` (lower-case), and what it kept and dead-lettered. */
    function reader(held: string) {
      const metrics = new Metrics();
      const ch = new ChannelState(CHANNEL);
      const deadLetters: OutRecord[] = [];
      const ps = {
        skip: { payments: -1 },
        progress: { payments: -1 },
        channel: () => ch,
        markDirty: () => undefined,
        deadLetter: (r: OutRecord) => deadLetters.push(r),
      } as unknown as PartitionState;
      const pipeline = new PaymentMessagePipeline({
        domain,
        channel: (id) => (id === CHANNEL ? onchain : undefined),
        holds: (a) => a.toLowerCase() === held,
        chainNow: () => 1_700_000_000n,
        metrics,
        maxRecordBytes: 1_000_000,
      });
      let offset = 0;
      const read = (m: PaymentMessage): void =>
        pipeline.process(ps, [
          {
            topic: "payment-messages",
            partition: 0,
            offset: offset++,
            key: channelKey(CHANNEL),
            value: codecs().paymentMessage.encode(m),
            timestampMs: 0,
          },
        ]);
      return { read, ch, deadLetters, metrics: () => metrics.render() };
    }
    const secret = (by: Wallet): PaymentMessage => signed({ ...lock, kind: "SECRET", secret: SECRET }, by);

    it("the payer's node keeps the payee's SECRET and dead-letters a forged one", () => {
      const r = reader(payerKey.address.toLowerCase());
      r.read(secret(stranger));
      expect(r.deadLetters).to.have.length(1);
      expect(r.ch.inbox.size).to.equal(0);
      r.read(secret(payee));
      expect([...r.ch.inbox.values()].map((m) => m.kind)).to.deep.equal(["SECRET"]);
    });

    it("another node's mail is counted notForUs, unverified (its own node checks it)", () => {
      const r = reader(stranger.address.toLowerCase());
      r.read(secret(stranger));
      r.read(secret(payee));
      expect(r.deadLetters).to.have.length(0);
      expect(r.ch.inbox.size).to.equal(0);
      expect(r.metrics()).to.match(/parsec_payment_messages_total\{outcome="notForUs"\} 2/);
    });
  });

  describe("snapshot version 2", () => {
    const entry: PaymentEntry = {
      record: startPayment({
        type: "RECEIVED",
        incoming: {
          channelId: CHANNEL,
          asset: "0x0000000000000000000000000000000000000000" as Address,
          payerSeq: 7n,
          hashlock: HASHLOCK,
          amount: 1_002_000n,
          expiry: 1_700_007_200n,
        },
        instructions: {
          nextChannel: `0x${"a2".repeat(32)}` as Hash,
          amount: 1_000_000n,
          expiry: 1_700_003_600n,
        },
        at: 1_700_000_000n,
      }),
      upstream: 0,
      upstreamResolved: null,
      sharedSecret: `0x${"11".repeat(32)}` as Hex,
      next: null,
      op: { kind: "LOCK", seq: 3 },
      updatedAt: 1_700_000_000n,
    };

    it("mediation state round-trips through the snapshot (hand encoder = codec); payments are records of their own", () => {
      const ch = new ChannelState(CHANNEL);
      ch.putPayment("0/7", entry);
      ch.inbox.set("1/3/SECRET", { kind: "SECRET", seq: 3, secret: SECRET, at: 1_700_000_100n });
      const snap = snapshotOf(ch);
      expect(snap.mediation.payments.size).to.equal(0);
      const wire = encodeSnapshot(snap);
      expect(wire.equals(stateCodecs().snapshot.encode(snap))).to.equal(true);
      const back = stateCodecs().snapshot.decode(wire);
      expect(back.mediation.inbox.get("1/3/SECRET")).to.deep.equal(ch.inbox.get("1/3/SECRET"));
      expect(decodePaymentEntry(encodePaymentEntry(entry))).to.deep.equal(entry);
      expect(paymentOfChangelogKey(paymentChangelogKey(CHANNEL, "0/7"))).to.deep.equal({
        channelId: CHANNEL,
        key: "0/7",
      });
      expect(paymentOfChangelogKey(channelKey(CHANNEL))).to.equal(null);
      expect(paymentOfChangelogKey(PROGRESS_KEY)).to.equal(null);
      expect(() => decodePaymentEntry(Buffer.from("[1]"))).to.throw(/unknown layout/);
      // A snapshot written before payments had records of their own still carries them.
      const legacy = encodeSnapshot({
        ...snap,
        mediation: { payments: new Map([["0/7", entry]]), inbox: new Map() },
      });
      expect(stateCodecs().snapshot.decode(legacy).mediation.payments.get("0/7")).to.deep.equal(entry);
      expect(
        decodeMediation(encodeMediation({ payments: new Map(), inbox: new Map() })).payments.size,
      ).to.equal(0);
    });

    it("a version 1 snapshot and progress marker still read (no payments, payments offset -1)", () => {
      const dir = path.join(__dirname, "../../relayer/src/state/schemas");
      const v1 = avro.Type.forSchema(
        JSON.parse(fs.readFileSync(path.join(dir, "channel-snapshot.v1.avsc"), "utf8")),
      );
      const p1 = avro.Type.forSchema(
        JSON.parse(fs.readFileSync(path.join(dir, "partition-progress.v1.avsc"), "utf8")),
      );
      const ch = new ChannelState(CHANNEL);
      const record = stateCodecs().snapshot.mapping.toAvro(snapshotOf(ch));
      delete record.mediation;
      const fp = new SchemaRegistry().register(v1).fingerprintBytes;
      const wire = Buffer.concat([Buffer.of(0xc3, 0x01), fp, v1.toBuffer({ ...record, schemaVersion: 1 })]);
      const back = stateCodecs().snapshot.decode(wire);
      expect(back.channelId).to.equal(CHANNEL);
      expect(back.mediation.payments.size).to.equal(0);
      const pfp = new SchemaRegistry().register(p1).fingerprintBytes;
      const pwire = Buffer.concat([
        Buffer.of(0xc3, 0x01),
        pfp,
        p1.toBuffer({ schemaVersion: 1, transfers: 5, control: 2, signatures: 1, writer: "n", atMs: 9 }),
      ]);
      expect(stateCodecs().progress.decode(pwire)).to.deep.include({ transfers: 5, payments: -1 });
    });
  });
});
