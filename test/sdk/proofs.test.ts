import { expect } from "chai";
import fc from "fast-check";
import {
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
  parseEvidence,
  planDispute,
  serializeEvidence,
  verifyCheckpoint,
  type EvidenceFile,
  type Hash,
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
    const heads = { seq0: 2, head0: ledger.transfer(0, 2).hash, seq1: 1, head1: ledger.transfer(1, 1).hash };
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
    expect(chainProof(ledger, 1, { seq0: 0, head0: ZERO_HASH, seq1: 0, head1: ZERO_HASH })[0][2]).to.equal(
      "0x",
    );
    expectCode(() => chainProof(ledger, 0, { ...heads, seq0: 8, head0: ledger.state(0).head }), "Stale");
    expectCode(() => chainProof(ledger, 0, { ...heads, head0: ledger.transfer(0, 3).hash }), "StateMismatch");
    expectCode(() => headProof(ledger, 1, { ...heads, seq1: 3 }), "Stale");
  });

  it("finds the on-chain heads by seq and checks them against the commitment", () => {
    const ledger = setup();
    const h0 = ledger.transfer(0, 4).hash;
    const h1 = ledger.transfer(1, 2).hash;
    expect(onchainHeads(ledger, { seq0: 4, seq1: 2, commitment: commitmentOf(h0, h1) })).to.deep.equal({
      seq0: 4,
      head0: h0,
      seq1: 2,
      head1: h1,
    });
    expectCode(() => onchainHeads(ledger, { seq0: 4, seq1: 2, commitment: 5n }), "StateMismatch");
    expectCode(() => onchainHeads(ledger, { seq0: 40, seq1: 2, commitment: 5n }), "StateMismatch");
  });

  it("plans nothing when the contract is up to date and skips an older checkpoint", async () => {
    const ledger = setup();
    const old = await cosignCheckpoint(ledger, ch.signers[0], ch.signers[1]);
    const h0 = ledger.state(0).head;
    const h1 = ledger.state(1).head;
    expect(
      planDispute({ ledger, checkpoint: old }, { seq0: 8, seq1: 3, commitment: commitmentOf(h0, h1) }),
    ).to.deep.equal([]);
    const onlyOther = planDispute(
      { ledger, checkpoint: null },
      { seq0: 0, seq1: 0, commitment: 0n },
      { payers: [1] },
    );
    expect(onlyOther.map((s) => s.method)).to.deep.equal(["extendChain"]);
  });
});
