import { expect } from "chai";
import fc from "fast-check";
import {
  RECORD_LENGTH,
  ZERO_HASH,
  decodeCheckpointRecord,
  decodeHeadProofRecord,
  decodeLocks,
  decodeParams,
  decodeSignedTransfer,
  decodeSignedTransfers,
  decodeTransferBody,
  encodeCheckpointRecord,
  encodeHeadProofRecord,
  encodeLocks,
  encodeParams,
  encodeSignedTransfer,
  encodeSignedTransfers,
  encodeTransferBody,
  extendChainArgs,
  hashlockOf,
  isParsecError,
  proveEquivocationArgs,
  resolveLocksArgs,
  checkpointBatchArgs,
  proveHeadsArgs,
  settleArgs,
  toHex,
  type Hash,
  type Lock,
} from "../../sdk";
import { expectCode, makeChannel, pays, signChain } from "./helpers";

const ch = makeChannel();
const preimage = ("0x" + "aa".repeat(32)) as Hash;
const lock: Lock = { amount: 5n, expiry: 2_000_000_000n, hashlock: hashlockOf(preimage) };
const chain = signChain(ch, 0, [...pays(2), { kind: "LOCK", ...lock }, { kind: "UNLOCK", lock }]).transfers;

describe("sdk/records: packed records of protocol §6", () => {
  it("TransferBody and SignedTransfer round-trip at their lengths", () => {
    for (const t of chain) {
      const body = encodeTransferBody(t);
      expect(body.length).to.equal(RECORD_LENGTH.transferBody);
      const back = decodeTransferBody(body);
      expect(back).to.deep.equal({
        seq: t.seq,
        kind: t.kind,
        amount: t.amount,
        paidTotal: t.paidTotal,
        lockedTotal: t.lockedTotal,
        locksRoot: t.locksRoot,
        hashlock: t.hashlock,
        expiry: t.expiry,
        invoiceId: t.invoiceId,
        prev: t.prev,
      });
      const signed = encodeSignedTransfer(t);
      expect(signed.length).to.equal(RECORD_LENGTH.signedTransfer);
      const { hash, ...plain } = t;
      void hash;
      expect(decodeSignedTransfer(signed, { channelId: t.channelId, payer: 0 })).to.deep.equal(plain);
    }
    const all = encodeSignedTransfers(chain);
    expect(all.length).to.equal(chain.length * 254);
    expect(decodeSignedTransfers(all, { channelId: ch.channelId, payer: 0 }).map((t) => t.seq)).to.deep.equal(
      [1, 2, 3, 4],
    );
  });

  it("params, locks, checkpoint and head-proof records round-trip", () => {
    const p = encodeParams(ch.params);
    expect(p.length).to.equal(RECORD_LENGTH.params);
    expect(decodeParams(p)).to.deep.equal(ch.params);
    const locks = [lock, { ...lock, amount: 7n }];
    expect(encodeLocks(locks).length).to.equal(112);
    expect(decodeLocks(encodeLocks(locks))).to.deep.equal(locks);
    const cp = {
      channelId: ch.channelId,
      seq0: 4,
      head0: chain[3].hash,
      seq1: 0,
      head1: ZERO_HASH,
      sig0: chain[0].signature,
      sig1: chain[1].signature,
    };
    const rec = encodeCheckpointRecord(ch.params, cp);
    expect(rec.length).to.equal(RECORD_LENGTH.checkpointRecord);
    expect(decodeCheckpointRecord(rec)).to.deep.equal({
      params: ch.params,
      seq0: 4,
      head0: cp.head0,
      seq1: 0,
      head1: ZERO_HASH,
      sig0: cp.sig0,
      sig1: cp.sig1,
    });
    const { hash, ...transfer } = chain[2];
    void hash;
    const hp = { params: ch.params, payer: 0 as const, transfer };
    const hpRec = encodeHeadProofRecord(hp);
    expect(hpRec.length).to.equal(RECORD_LENGTH.headProofRecord);
    expect(hpRec.length).to.equal(327);
    expect(decodeHeadProofRecord(hpRec, ch.channelId)).to.deep.equal(hp);
  });

  it("decoders reject bad records with typed errors", () => {
    const body = encodeTransferBody(chain[0]);
    expectCode(() => decodeTransferBody(body.subarray(0, 188)), "Malformed");
    const unknownKind = body.slice();
    unknownKind[4] = 9;
    expectCode(() => decodeTransferBody(unknownKind), "UnknownKind");
    const payWithLock = body.slice();
    payWithLock[100] = 1; // inside hashlock
    expectCode(() => decodeTransferBody(payWithLock), "InvalidTransferFields");
    const zeroAmount = body.slice();
    zeroAmount.fill(0, 5, 21);
    expectCode(() => decodeTransferBody(zeroAmount), "InvalidTransferFields");
    const seq0 = body.slice();
    seq0.fill(0, 0, 4);
    expectCode(() => decodeTransferBody(seq0), "Malformed");
    const lockBody = encodeTransferBody(chain[2]);
    lockBody.fill(0, 117, 125); // LOCK without expiry
    expectCode(() => decodeTransferBody(lockBody), "InvalidTransferFields");
    expectCode(() => decodeLocks(new Uint8Array(55)), "Malformed");
    expectCode(() => decodeLocks(new Uint8Array(56 * 65)), "Malformed");
    const hp = encodeHeadProofRecord({ params: ch.params, payer: 0, transfer: chain[0] });
    hp[72] = 2;
    expectCode(() => decodeHeadProofRecord(hp, ch.channelId), "Malformed");
    const params = encodeParams(ch.params);
    params.set(params.subarray(0, 20), 20); // participant1 = participant0
    expectCode(() => decodeParams(params), "Malformed");
  });

  it("encoders refuse values outside their uint ranges", () => {
    expectCode(() => encodeTransferBody({ ...chain[0], amount: 1n << 128n }), "Overflow");
    expectCode(() => encodeLocks([{ ...lock, expiry: 1n << 64n }]), "Overflow");
    expectCode(() => encodeParams({ ...ch.params, nonce: -1n }), "Overflow");
  });

  it("argument builders check what the contract would reject", () => {
    expectCode(
      () =>
        extendChainArgs({
          params: ch.params,
          payer: 0,
          startBody: null,
          startLocks: [],
          otherHead: ZERO_HASH,
          transfers: [],
        }),
      "Malformed",
    );
    const other = signChain(ch, 1, pays(1)).transfers;
    expectCode(
      () =>
        extendChainArgs({
          params: ch.params,
          payer: 0,
          startBody: null,
          startLocks: [],
          otherHead: ZERO_HASH,
          transfers: other,
        }),
      "Malformed",
    );
    expectCode(() => resolveLocksArgs(ch.params, 0, [lock, lock], [preimage]), "Malformed");
    expect(resolveLocksArgs(ch.params, 0, [lock, lock], [preimage, null])[3]).to.deep.equal([
      preimage,
      ZERO_HASH,
    ]);
    expectCode(() => proveEquivocationArgs(ch.params, chain[0], chain[0]), "Malformed");
    expectCode(() => proveEquivocationArgs(ch.params, chain[0], chain[1]), "Malformed");
    expectCode(() => checkpointBatchArgs([]), "Malformed");
    expectCode(() => proveHeadsArgs([]), "Malformed");
    const [, h0, h1, c0, c1] = settleArgs(ch.params, chain[1], null, {
      head0: chain[0].hash,
      head1: ZERO_HASH,
    });
    expect(h0).to.equal(toHex(encodeTransferBody(chain[1])));
    expect(h1).to.equal("0x");
    expect([c0, c1]).to.deep.equal([chain[0].hash, ZERO_HASH]);
    expectCode(() => settleArgs(ch.params, null, null, { head0: "0x01", head1: ZERO_HASH }), "Malformed");
  });

  it("decoding random bytes throws only ParsecErrors (fuzz)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 500 }), (bytes) => {
        const decoders = [
          () => decodeTransferBody(bytes),
          () => decodeSignedTransfers(bytes, { channelId: ch.channelId, payer: 1 }),
          () => decodeParams(bytes),
          () => decodeLocks(bytes),
          () => decodeCheckpointRecord(bytes),
          () => decodeHeadProofRecord(bytes, ch.channelId),
        ];
        for (const d of decoders) {
          try {
            d();
          } catch (e) {
            if (!isParsecError(e)) throw e;
          }
        }
      }),
      { numRuns: 400 },
    );
  });
});
