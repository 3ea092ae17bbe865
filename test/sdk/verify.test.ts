import { expect } from "chai";
import fc from "fast-check";
import {
  ChannelLedger,
  KeccakWasm,
  ReasonCode,
  TransferVerifier,
  VerifierPool,
  ZERO_HASH,
  codecs,
  decodeVerifiedItem,
  decodeVerifiedTransfer,
  frame,
  nativeKeccak256,
  parsecDomain,
  prevOf,
  signTransferUnjournaled,
  buildTransfer,
  GENESIS_STATE,
  toTransfer,
  transferMessage,
  verifyWithEthers,
  type Hash,
  type TransferMessage,
  type VerifiedTransfer,
} from "../../sdk";
import { keccak256 } from "ethers";
import { expectCode, makeChannel, pays, signChain } from "./helpers";

const ch = makeChannel({ random: true });
const stranger = makeChannel({ random: true });
const { transfers } = signChain(ch, 0, [
  ...pays(5),
  { kind: "LOCK", amount: 9n, expiry: 77n, hashlock: ("0x" + "ab".repeat(32)) as Hash },
  ...pays(2),
]);
const message = (t: VerifiedTransfer, signer = ch.params.participant0, extra = {}): TransferMessage =>
  transferMessage(ch.domain, t, signer, extra);
const wires = transfers.map((t) =>
  codecs().transfer.encode(
    message(t, ch.params.participant0, { appKind: "TIP", appData: "0x0102", sentAtMs: 1_700_000_000_000 }),
  ),
);

/** A framed v1 Transfer from a raw Avro record (to craft what typed encoders refuse). */
function rawWire(edit: (r: Record<string, unknown>) => void): Buffer {
  const reader = codecs().transfer.reader;
  const record = reader.type.fromBuffer(wires[0].subarray(10)) as Record<string, unknown>;
  edit(record);
  return frame(reader.fingerprintBytes, reader.type.toBuffer(record));
}

describe("sdk/verify: the native hot path", () => {
  const verifier = new TransferVerifier({ domain: ch.domain });

  it("the WebAssembly keccak equals ethers' keccak256 for every length (and the native one)", () => {
    const k = new KeccakWasm();
    const native = nativeKeccak256();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1200 }), (data) => {
        const want = keccak256(data);
        expect("0x" + Buffer.from(k.keccak256(data)).toString("hex")).to.equal(want);
        expect("0x" + Buffer.from(native(data)).toString("hex")).to.equal(want);
      }),
      { numRuns: 300 },
    );
  });

  it("accepts valid transfers and computes their transfer hash", () => {
    wires.forEach((w, i) => {
      expect(verifier.check(w)).to.equal(ReasonCode.Ok);
      expect(verifier.lastHash()).to.equal(transfers[i].hash);
      const ref = verifyWithEthers(ch.domain, w);
      expect(ref.code).to.equal(ReasonCode.Ok);
      expect(ref.hash).to.equal(transfers[i].hash);
    });
    const v = verifier.verify(wires[5]);
    expect(v.hash).to.equal(transfers[5].hash);
    expect(v.message.transfer.kind).to.equal(1);
    expect(v.message.appKind).to.equal("TIP");
    const batch = verifier.checkBatch(wires);
    expect([...batch.codes]).to.deep.equal(wires.map(() => 0));
    expect(Buffer.from(batch.hashes.subarray(32, 64)).toString("hex")).to.equal(transfers[1].hash.slice(2));
  });

  it("rejects with the right reason: wrong domain, wrong signer, high s, bad v, bad fields, malformed", () => {
    const otherChain = codecs().transfer.encode({
      ...message(transfers[0]),
      domain: parsecDomain(1n, ch.domain.verifyingContract),
    });
    expect(verifier.check(otherChain)).to.equal(ReasonCode.WrongDomain);
    const otherContract = codecs().transfer.encode({
      ...message(transfers[0]),
      domain: parsecDomain(ch.domain.chainId, stranger.params.participant0),
    });
    expect(verifier.check(otherContract)).to.equal(ReasonCode.WrongDomain);
    expect(verifier.check(codecs().transfer.encode(message(transfers[0], ch.params.participant1)))).to.equal(
      ReasonCode.BadSignature,
    );
    const signedElsewhere = signTransferUnjournaled(
      ch.signers[0],
      parsecDomain(1n, ch.domain.verifyingContract),
      transfers[0],
    );
    expect(
      verifier.check(codecs().transfer.encode(message({ ...signedElsewhere, hash: ZERO_HASH }))),
    ).to.equal(ReasonCode.BadSignature);
    const highS = rawWire((r) => {
      const sig = Buffer.from(r.signature as Buffer);
      const n = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
      const s = n - BigInt("0x" + sig.subarray(32, 64).toString("hex"));
      Buffer.from(s.toString(16).padStart(64, "0"), "hex").copy(sig, 32);
      sig[64] = sig[64] === 27 ? 28 : 27;
      r.signature = sig;
    });
    expect(verifier.check(highS)).to.equal(ReasonCode.BadSignature);
    expect(verifyWithEthers(ch.domain, highS).code).to.equal(ReasonCode.BadSignature);
    const badV = rawWire((r) => {
      const sig = Buffer.from(r.signature as Buffer);
      sig[64] = 1;
      r.signature = sig;
    });
    expect(verifier.check(badV)).to.equal(ReasonCode.BadSignature);
    const payWithHashlock = rawWire((r) => {
      r.hashlock = Buffer.alloc(32, 1);
    });
    expect(verifier.check(payWithHashlock)).to.equal(ReasonCode.InvalidTransferFields);
    expect(verifier.check(rawWire((r) => (r.kind = 7)))).to.equal(ReasonCode.UnknownKind);
    expect(verifier.check(rawWire((r) => (r.seq = 0)))).to.equal(ReasonCode.Malformed);
    expect(verifier.check(rawWire((r) => (r.payer = 2)))).to.equal(ReasonCode.Malformed);
    expect(verifier.check(wires[0].subarray(0, wires[0].length - 1))).to.equal(ReasonCode.Malformed);
    expect(verifier.check(Buffer.concat([wires[0], Buffer.from([0])]))).to.equal(ReasonCode.Malformed);
    expect(verifier.check(new Uint8Array(3))).to.equal(ReasonCode.Malformed);
    const unknownSchema = Buffer.from(wires[0]);
    unknownSchema[5] ^= 0xff;
    expect(verifier.check(unknownSchema)).to.equal(ReasonCode.UnknownSchema);
    expectCode(() => verifier.verify(otherChain), "WrongDomain");
    expectCode(
      () => verifier.verify(codecs().transfer.encode(message(transfers[0], ch.params.participant1))),
      "BadSignature",
    );
  });

  it("checks the payer against the channel's participants when given a lookup", () => {
    const known = new Map([[ch.channelId, [ch.params.participant0, ch.params.participant1] as const]]);
    const strict = new TransferVerifier({ domain: ch.domain, participants: (id) => known.get(id) });
    expect(strict.check(wires[0])).to.equal(ReasonCode.Ok);
    // A valid signature by someone who is not payer 0 of this channel.
    const t = buildTransfer(
      GENESIS_STATE,
      { channelId: ch.channelId, payer: 0 },
      { kind: "PAY", amount: 1n },
    );
    const byStranger = signTransferUnjournaled(stranger.signers[0], ch.domain, t);
    const w = codecs().transfer.encode(transferMessage(ch.domain, byStranger, stranger.params.participant0));
    expect(verifier.check(w)).to.equal(ReasonCode.Ok);
    expect(strict.check(w)).to.equal(ReasonCode.BadSignature);
    const elsewhere = signChain(stranger, 0, pays(1)).transfers[0];
    expect(
      strict.check(
        codecs().transfer.encode(transferMessage(ch.domain, elsewhere, stranger.params.participant0)),
      ),
    ).to.equal(ReasonCode.WrongChannel);
  });

  it("agrees with the ethers reference on every single-byte corruption (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: wires.length - 1 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (i, at, xor) => {
          const w = Buffer.from(wires[i]);
          w[at % w.length] ^= xor;
          const code = verifier.check(w);
          const ref = verifyWithEthers(ch.domain, w);
          expect(code === 0).to.equal(ref.code === 0, `native ${code}, reference ${ref.code}`);
          if (code === 0) expect(verifier.lastHash()).to.equal(ref.hash);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("never throws on random bytes (fuzz)", () => {
    const codes = new Set<number>(Object.values(ReasonCode));
    const header = wires[0].subarray(0, 10);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, framed) => {
        const w = framed ? Buffer.concat([header, bytes]) : bytes;
        const code = verifier.check(w);
        expect(codes.has(code)).to.equal(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("is the ledger's fast signature check", () => {
    const ledger = new ChannelLedger({
      domain: ch.domain,
      params: ch.params,
      verifySignature: (t, signer) => verifier.verifySigned(t, signer),
    });
    for (const t of transfers) expect(ledger.apply(t).transfer.hash).to.equal(t.hash);
    const forged = toTransfer({ ...transfers[0], seq: 1 });
    expectCode(
      () => verifier.verifySigned({ ...forged, signature: transfers[1].signature }, ch.params.participant0),
      "BadSignature",
    );
  });
});

describe("sdk/avro: fast reads of verified transfer messages", () => {
  const verifier = new TransferVerifier({ domain: ch.domain });

  it("read in place, equal the full decode field by field, with the verifier's hash and the log offset", () => {
    wires.forEach((wire, i) => {
      expect(verifier.check(wire)).to.equal(0);
      const hash = verifier.lastHash();
      const full = codecs().transfer.decode(wire);
      const { item, channelIdBytes, signer } = decodeVerifiedItem(Buffer.from(wire), hash, 100 + i);
      for (const key of Object.keys(transfers[i]) as (keyof VerifiedTransfer)[])
        expect(item[key], key).to.deep.equal(transfers[i][key]);
      expect(item.hash).to.equal(hash);
      expect(item.offset).to.equal(100 + i);
      expect(item.sentAtMs).to.equal(full.sentAtMs);
      expect("0x" + channelIdBytes.toString("hex")).to.equal(ch.channelId);
      expect("0x" + signer.toString("hex")).to.equal(ch.params.participant0.toLowerCase());
      expect(prevOf(Buffer.from(wire))).to.equal(transfers[i].prev);
      expect(decodeVerifiedTransfer(wire).transfer).to.deep.equal(full.transfer);
    });
  });

  it("an in-place item refuses to read its signature once its bytes were let go", () => {
    const { item } = decodeVerifiedItem(Buffer.from(wires[0]), verifier.lastHash(), 0);
    item.wire = Buffer.alloc(0);
    expect(item.seq).to.equal(1);
    expect(() => item.signature).to.throw(/no longer holds its bytes/);
  });
});

describe("sdk/verify: VerifierPool on all cores", function () {
  this.timeout(120_000);
  let pool: VerifierPool;
  before(async () => {
    pool = await VerifierPool.create({ domain: ch.domain, threads: 2, chunkSize: 3 });
  });
  after(async () => {
    await pool.close();
  });

  it("returns the same codes and hashes as the single-thread verifier, in input order", async () => {
    const mixed: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const w = Buffer.from(wires[i % wires.length]);
      if (i % 5 === 3) w[w.length - 30] ^= 1;
      if (i % 7 === 6) mixed.push(new Uint8Array([1, 2, 3]));
      else mixed.push(w);
    }
    const local = new TransferVerifier({ domain: ch.domain }).checkBatch(mixed);
    const [a, b] = await Promise.all([pool.verifyBatch(mixed), pool.verifyBatch(mixed.slice().reverse())]);
    expect([...a.codes]).to.deep.equal([...local.codes]);
    expect(Buffer.from(a.hashes).equals(Buffer.from(local.hashes))).to.equal(true);
    expect([...b.codes]).to.deep.equal([...local.codes].reverse());
    expect(a.codes.filter((c) => c !== 0).length).to.be.greaterThan(0);
    expect(pool.threads).to.equal(2);
    expect((await pool.verifyBatch([])).codes.length).to.equal(0);
  });

  it("verifies a small batch on the calling thread (inlineMax), with the same codes and hashes", async () => {
    const few = [wires[0], new Uint8Array([1, 2, 3]), wires[1]];
    const local = new TransferVerifier({ domain: ch.domain }).checkBatch(few);
    const before = pool.inlined;
    const got = await pool.verifyBatch(few);
    expect(pool.inlined, "three messages, inlineMax 8: not handed to a thread").to.equal(before + 1);
    expect([...got.codes]).to.deep.equal([...local.codes]);
    expect(Buffer.from(got.hashes).equals(Buffer.from(local.hashes))).to.equal(true);
    const threadsOnly = await VerifierPool.create({ domain: ch.domain, threads: 1, inlineMax: 0 });
    try {
      const viaThread = await threadsOnly.verifyBatch(few);
      expect(threadsOnly.inlined).to.equal(0);
      expect([...viaThread.codes]).to.deep.equal([...local.codes]);
    } finally {
      await threadsOnly.close();
    }
  });

  it("refuses work after close", async () => {
    const p = await VerifierPool.create({ domain: ch.domain, threads: 1 });
    await p.close();
    let failed = false;
    await p.verifyBatch(wires).catch(() => (failed = true));
    expect(failed).to.equal(true);
  });
});
