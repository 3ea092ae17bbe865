import { expect } from "chai";
import fc from "fast-check";
import {
  EMPTY_ONCHAIN_STATE,
  ZERO_HASH,
  chainProof,
  commitmentOf,
  cosignCheckpoint,
  decodeSignedTransfers,
  decodeTransferBody,
  exportEvidence,
  fromHex,
  hashlockOf,
  headProof,
  isParsecError,
  ledgerFromEvidence,
  onchainHeads,
  onchainSeqs,
  onchainStateOf,
  parseEvidence,
  planDispute,
  serializeEvidence,
  verifyCheckpoint,
  type EvidenceFile,
  type Hash,
  type HeadPair,
  type OnchainHeads,
} from "../../sdk";
import { expectCode, ledgerOf, makeChannel, pays, signChain } from "./helpers";

const ch = makeChannel();

/** A parsed evidence file loose enough to tamper with. */
interface EvidenceDraft {
  version: number;
  channel: { nonce: string; participant0: string };
  checkpoint: unknown;
  chains: { payer: number; transfers: { amount: string; prev: string; signature: string }[] }[];
}

function setup() {
  const ledger = ledgerOf(ch);
  const lock = { amount: 3n, expiry: 10n ** 12n, hashlock: hashlockOf(("0x" + "05".repeat(32)) as Hash) };
  signChain(ch, 0, [...pays(4), { kind: "LOCK", ...lock }, ...pays(3)]).transfers.forEach((t) =>
    ledger.apply(t),
  );
  signChain(ch, 1, pays(3)).transfers.forEach((t) => ledger.apply(t));
  return ledger;
}

describe("sdk/proofs: on-chain proofs and the evidence file", () => {
  it("evidence round-trips through JSON and re-verifies to the same ledger", async () => {
    const ledger = setup();
    const cp = await cosignCheckpoint(ledger, ch.signers[0], ch.signers[1]);
    verifyCheckpoint(ch.domain, ch.params, cp);
    const text = serializeEvidence(
      exportEvidence(ledger, { exportedBy: "relayer", checkpoint: cp, exportedAtMs: 1 }),
    );
    const parsed = parseEvidence(text);
    expect(parsed.format).to.equal("parsec-evidence");
    expect(parsed.chains[0].transfers).to.have.length(8);
    const { ledger: back, checkpoint } = ledgerFromEvidence(parsed);
    expect(back.state(0)).to.deep.equal(ledger.state(0));
    expect(back.state(1)).to.deep.equal(ledger.state(1));
    expect(back.balances()).to.deep.equal(ledger.balances());
    expect(checkpoint).to.deep.equal(cp);
    // From a base transfer (what a relayer that pruned its history exports).
    const partial = ledgerFromEvidence(
      parseEvidence(serializeEvidence(exportEvidence(ledger, { exportedBy: "relayer", fromSeq: [5, 2] }))),
    );
    expect(partial.ledger.baseSeq(0)).to.equal(5);
    expect(partial.ledger.state(0)).to.deep.equal(ledger.state(0));
    expect(partial.ledger.stateAt(0, 5).locks).to.have.length(1);
  });

  it("rejects tampered or malformed evidence with typed errors", () => {
    const ledger = setup();
    const good = JSON.parse(
      serializeEvidence(exportEvidence(ledger, { exportedBy: "wallet" })),
    ) as EvidenceFile;
    const edit = (f: (e: EvidenceDraft) => void): string => {
      const e = JSON.parse(JSON.stringify(good)) as EvidenceDraft;
      f(e);
      return JSON.stringify(e);
    };
    expectCode(
      () => ledgerFromEvidence(parseEvidence(edit((e) => (e.chains[0].transfers[1].amount = "3")))),
      "BadSignature",
    );
    expectCode(
      () => ledgerFromEvidence(parseEvidence(edit((e) => e.chains[0].transfers.splice(2, 1)))),
      "SeqGap",
    );
    expectCode(() => parseEvidence(edit((e) => (e.channel.nonce = "2"))), "Malformed");
    expectCode(() => parseEvidence(edit((e) => (e.version = 2))), "Malformed");
    expectCode(() => parseEvidence(edit((e) => (e.chains[1].payer = 0))), "Malformed");
    expectCode(() => parseEvidence(edit((e) => (e.chains[0].transfers[0].amount = "-1"))), "Malformed");
    expectCode(
      () => parseEvidence(edit((e) => (e.chains[0].transfers[0].amount = String(1n << 128n)))),
      "Overflow",
    );
    expectCode(
      () =>
        parseEvidence(
          edit((e) => (e.channel.participant0 = e.channel.participant0.toLowerCase().replace("f", "F"))),
        ),
      "Malformed",
    );
    expectCode(() => parseEvidence("{not json"), "Malformed");
    expectCode(
      () =>
        ledgerFromEvidence(
          parseEvidence(
            edit((e) => {
              e.checkpoint = {
                seq0: 1,
                head0: e.chains[0].transfers[1].prev,
                seq1: 0,
                head1: ZERO_HASH,
                sig0: e.chains[0].transfers[0].signature,
                sig1: e.chains[0].transfers[0].signature,
              };
            }),
          ),
        ),
      "BadSignature",
    );
  });

  it("parsing any JSON value throws only ParsecErrors (fuzz)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parseEvidence(v);
        } catch (e) {
          if (!isParsecError(e)) throw e;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("chain proofs continue piece by piece from the on-chain head", () => {
    const ledger = setup();
    const pair: HeadPair = {
      seq0: 2,
      head0: ledger.transfer(0, 2).hash,
      seq1: 1,
      head1: ledger.transfer(1, 1).hash,
    };
    const heads: OnchainHeads = { ...pair, checkpoint: pair };
    const pieces = chainProof(ledger, 0, heads, { maxTransfersPerPiece: 4 });
    expect(pieces).to.have.length(2);
    const [params, payer, startBody, otherHead, startLocks, transfers] = pieces[0];
    expect(params).to.equal(ch.params);
    expect(payer).to.equal(0);
    expect(decodeTransferBody(fromHex(startBody)).seq).to.equal(2);
    expect(otherHead).to.equal(heads.head1);
    expect(startLocks).to.equal("0x");
    expect(
      decodeSignedTransfers(fromHex(transfers), { channelId: ch.channelId, payer: 0 }).map((t) => t.seq),
    ).to.deep.equal([3, 4, 5, 6]);
    // The second piece starts at seq 6 with the lock taken at seq 5 pending.
    expect(decodeTransferBody(fromHex(pieces[1][2])).seq).to.equal(6);
    expect(fromHex(pieces[1][4]).length).to.equal(56);
    const none: HeadPair = { seq0: 0, head0: ZERO_HASH, seq1: 0, head1: ZERO_HASH };
    expect(chainProof(ledger, 1, { ...none, checkpoint: none })[0][2]).to.equal("0x");
    expectCode(() => chainProof(ledger, 0, { ...heads, seq0: 8, head0: ledger.state(0).head }), "Stale");
    expectCode(() => chainProof(ledger, 0, { ...heads, head0: ledger.transfer(0, 3).hash }), "StateMismatch");
    expectCode(() => headProof(ledger, 1, { ...heads, seq1: 3 }), "Stale");
  });

  it("chain proofs may start below the on-chain head and name the checkpoint's other head", () => {
    const ledger = setup();
    // Payer 0's on-chain head is a proven seq 4; the checkpoint word holds (1, 2).
    const checkpoint: HeadPair = {
      seq0: 1,
      head0: ledger.transfer(0, 1).hash,
      seq1: 2,
      head1: ledger.transfer(1, 2).hash,
    };
    const heads: OnchainHeads = { ...checkpoint, seq0: 4, head0: ledger.transfer(0, 4).hash, checkpoint };
    // From genesis: the first piece re-derives seqs 1..4 and adds up to 3 new transfers.
    const pieces = chainProof(ledger, 0, heads, { maxTransfersPerPiece: 3, fromSeq: 0 });
    expect(pieces).to.have.length(2);
    expect(pieces[0][2]).to.equal("0x");
    expect(pieces[0][3]).to.equal(checkpoint.head1);
    const seqs = (hex: string) =>
      decodeSignedTransfers(fromHex(hex), { channelId: ch.channelId, payer: 0 }).map((t) => t.seq);
    expect(seqs(pieces[0][5])).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
    expect(decodeTransferBody(fromHex(pieces[1][2])).seq).to.equal(7);
    expect(seqs(pieces[1][5])).to.deep.equal([8]);
    // From seq 3: starts at transfer 3 (below the head), runs through 4.
    const fromThree = chainProof(ledger, 0, heads, { fromSeq: 3 });
    expect(fromThree).to.have.length(1);
    expect(decodeTransferBody(fromHex(fromThree[0][2])).seq).to.equal(3);
    expect(seqs(fromThree[0][5])).to.deep.equal([4, 5, 6, 7, 8]);
    // Above the on-chain seq is refused; a payer whose chain is not beyond the head is stale.
    expect(() => chainProof(ledger, 0, heads, { fromSeq: 5 })).to.throw(RangeError);
    expectCode(() => chainProof(ledger, 1, { ...heads, seq1: 3, head1: ledger.state(1).head }), "Stale");
  });

  it("reads each payer's on-chain seq as the higher of the checkpoint's and the proven one", () => {
    const state = onchainStateOf(
      [{}, 4n, 7n, 123n],
      [9n, 1n, 3n, 2n], // proven seq 9 for payer 0, seq 3 (below the checkpoint's 7) for payer 1
    );
    expect(state.proven).to.deep.equal([
      { seq: 9, head224: 1n },
      { seq: 3, head224: 2n },
    ]);
    expect(onchainSeqs(state)).to.deep.equal({ seq0: 9, seq1: 7 });
    expect(onchainSeqs(EMPTY_ONCHAIN_STATE)).to.deep.equal({ seq0: 0, seq1: 0 });
  });

  it("finds the on-chain heads by seq and checks them against the commitment and proven words", () => {
    const ledger = setup();
    const h0 = ledger.transfer(0, 4).hash;
    const h1 = ledger.transfer(1, 2).hash;
    const state = { ...EMPTY_ONCHAIN_STATE, seq0: 4, seq1: 2, commitment: commitmentOf(h0, h1) };
    const pair: HeadPair = { seq0: 4, head0: h0, seq1: 2, head1: h1 };
    expect(onchainHeads(ledger, state)).to.deep.equal({ ...pair, checkpoint: pair });
    expectCode(() => onchainHeads(ledger, { ...state, commitment: 5n }), "StateMismatch");
    expectCode(() => onchainHeads(ledger, { ...state, seq0: 40, commitment: 5n }), "StateMismatch");
    expect(onchainHeads(ledger, EMPTY_ONCHAIN_STATE)).to.deep.equal({
      seq0: 0,
      head0: ZERO_HASH,
      seq1: 0,
      head1: ZERO_HASH,
      checkpoint: { seq0: 0, head0: ZERO_HASH, seq1: 0, head1: ZERO_HASH },
    });

    // A proven word above the checkpoint's seq is payer 0's on-chain head; one below it is not.
    const low224 = (h: Hash) => BigInt(h) & ((1n << 224n) - 1n);
    const h6 = ledger.transfer(0, 6).hash;
    const proven = {
      ...state,
      proven: [
        { seq: 6, head224: low224(h6) },
        { seq: 1, head224: low224(ledger.transfer(1, 1).hash) },
      ] as const,
    };
    expect(onchainHeads(ledger, proven)).to.deep.equal({ ...pair, seq0: 6, head0: h6, checkpoint: pair });
    // Proven words alone (no checkpoint).
    expect(onchainHeads(ledger, { ...EMPTY_ONCHAIN_STATE, proven: proven.proven })).to.deep.equal({
      seq0: 6,
      head0: h6,
      seq1: 1,
      head1: ledger.transfer(1, 1).hash,
      checkpoint: { seq0: 0, head0: ZERO_HASH, seq1: 0, head1: ZERO_HASH },
    });
    // A proven word the ledger's transfer does not match, or a seq the ledger lacks.
    const wrong = { ...state, proven: [{ seq: 6, head224: low224(h0) }, proven.proven[1]] as const };
    expectCode(() => onchainHeads(ledger, wrong), "StateMismatch");
    const missing = { ...state, proven: [{ seq: 60, head224: 1n }, proven.proven[1]] as const };
    expectCode(() => onchainHeads(ledger, missing), "StateMismatch");
  });

  it("plans nothing when the contract is up to date and skips an older checkpoint", async () => {
    const ledger = setup();
    const old = await cosignCheckpoint(ledger, ch.signers[0], ch.signers[1]);
    const h0 = ledger.state(0).head;
    const h1 = ledger.state(1).head;
    expect(
      planDispute(
        { ledger, checkpoint: old },
        { ...EMPTY_ONCHAIN_STATE, seq0: 8, seq1: 3, commitment: commitmentOf(h0, h1) },
      ),
    ).to.deep.equal([]);
    // Proven words at the ledger's heads over an older checkpoint word: the newest checkpoint adds nothing.
    const low224 = (h: Hash) => BigInt(h) & ((1n << 224n) - 1n);
    const c0 = ledger.transfer(0, 2).hash;
    const c1 = ledger.transfer(1, 1).hash;
    expect(
      planDispute(
        { ledger, checkpoint: old },
        {
          seq0: 2,
          seq1: 1,
          commitment: commitmentOf(c0, c1),
          proven: [
            { seq: 8, head224: low224(h0) },
            { seq: 3, head224: low224(h1) },
          ],
        },
      ),
    ).to.deep.equal([]);
    const onlyOther = planDispute({ ledger, checkpoint: null }, EMPTY_ONCHAIN_STATE, { payers: [1] });
    expect(onlyOther.map((s) => s.method)).to.deep.equal(["extendChain"]);
  });
});
