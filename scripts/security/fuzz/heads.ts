// What the contract holds for a channel (its heads, found among everything signed) and what heads pay.
import {
  ZERO_HASH,
  commitmentOf,
  isParsecError,
  onchainHeads,
  settlementOutcome,
} from "../../../sdk/isomorphic";
import type { HeadPair, OnchainHeads, PayerIndex, SettlementOutcome } from "../../../sdk/isomorphic";
import { InvariantViolation, type ChainView, type Chan, type Heads, type Signed } from "./model";

const LOW_224 = (1n << 224n) - 1n;

/** The heads the contract holds for a channel, found among everything signed for it. */
export function headsOf(ch: Chan, v: ChainView): Heads {
  let checkpoint: HeadPair = { seq0: 0, head0: ZERO_HASH, seq1: 0, head1: ZERO_HASH };
  if (v.commitment !== 0n || v.seq0 !== 0 || v.seq1 !== 0) {
    const c = ch.checkpoints.get(`${v.seq0},${v.seq1}`);
    if (!c || commitmentOf(c.head0, c.head1) !== v.commitment) {
      throw new InvariantViolation(`channel ${ch.n}: the checkpoint word opens no checkpoint both signed`);
    }
    checkpoint = { seq0: c.seq0, head0: c.head0, seq1: c.seq1, head1: c.head1 };
  }
  const side = (payer: PayerIndex): [number, Signed | null] => {
    const cpSeq = payer === 0 ? checkpoint.seq0 : checkpoint.seq1;
    const proven = v.proven[payer];
    if (proven.seq > cpSeq) {
      const found = (ch.bySeq[payer].get(proven.seq) ?? []).find(
        (s) => (BigInt(s.t.hash) & LOW_224) === proven.head224,
      );
      if (!found)
        throw new InvariantViolation(`channel ${ch.n}: proven head of payer ${payer} was never signed`);
      return [proven.seq, found];
    }
    if (cpSeq === 0) return [0, null];
    const found = ch.byHash.get(payer === 0 ? checkpoint.head0 : checkpoint.head1);
    if (!found) throw new InvariantViolation(`channel ${ch.n}: checkpoint head of payer ${payer} unknown`);
    return [cpSeq, found];
  };
  const [seq0, body0] = side(0);
  const [seq1, body1] = side(1);
  let sdk: OnchainHeads | null = null;
  try {
    sdk = onchainHeads(ch.ledger, { seq0: v.seq0, seq1: v.seq1, commitment: v.commitment, proven: v.proven });
  } catch (error) {
    if (!isParsecError(error)) throw error;
  }
  if (sdk) {
    const same =
      sdk.seq0 === seq0 &&
      sdk.seq1 === seq1 &&
      sdk.head0 === (body0?.t.hash ?? ZERO_HASH) &&
      sdk.head1 === (body1?.t.hash ?? ZERO_HASH);
    if (!same) throw new InvariantViolation(`channel ${ch.n}: SDK onchainHeads disagrees with the fuzz's`);
  }
  return { seq: [seq0, seq1], body: [body0, body1], checkpoint, sdk };
}

/** What a settle with these deposits and heads pays. */
export function outcomeOf(
  deposit0: bigint,
  deposit1: bigint,
  b0: Signed | null,
  b1: Signed | null,
): SettlementOutcome {
  return settlementOutcome({
    deposit0,
    deposit1,
    paid0: b0?.t.paidTotal ?? 0n,
    paid1: b1?.t.paidTotal ?? 0n,
    locked0: b0?.t.lockedTotal ?? 0n,
    locked1: b1?.t.lockedTotal ?? 0n,
  });
}

export function sameOutcome(a: SettlementOutcome, b: SettlementOutcome): boolean {
  return a.payout0 === b.payout0 && a.payout1 === b.payout1 && a.pot0 === b.pot0 && a.pot1 === b.pot1;
}

export function fmtOutcome(o: SettlementOutcome): string {
  return `payouts ${o.payout0}/${o.payout1} pots ${o.pot0}/${o.pot1}`;
}
