/**
 * What the node's own transactions got applied on-chain, remembered until the chain index shows it: the
 * index follows the chain by polling, so right after a batch is mined it still shows the old seqs, and an
 * entry re-queued meanwhile (or after a restart) would be sent again and skipped by the contract at a
 * cost. Entries are checked against the higher of the index and this memo.
 */
import { type Checkpoint, type Hash, isNewerCheckpoint, type PayerIndex } from "../../../../sdk";

export interface Seqs {
  readonly seq0: number;
  readonly seq1: number;
}

/** The on-chain view an entry must be newer than: the index's, raised by what our transactions applied. */
export interface CommitView {
  /** Each payer's on-chain head seq (checkpoint word or proven head). */
  readonly heads: Seqs;
  /** The checkpoint word's seqs. */
  readonly checkpoint: Seqs;
}

const max = (a: Seqs, b: Seqs): Seqs => ({ seq0: Math.max(a.seq0, b.seq0), seq1: Math.max(a.seq1, b.seq1) });

/** Whether a co-signed checkpoint still raises the chain's checkpoint word (pure). */
export const checkpointNeeded = (cp: Checkpoint, view: CommitView): boolean =>
  isNewerCheckpoint(cp, view.checkpoint);

/** Whether a head proof of `payer` at `seq` still raises the chain's head (pure). */
export const headNeeded = (payer: PayerIndex, seq: number, view: CommitView): boolean =>
  seq > (payer === 0 ? view.heads.seq0 : view.heads.seq1);

export class MinedCommits {
  private readonly applied = new Map<Hash, CommitView>();

  /** Our checkpoint was applied: it raised the checkpoint word and both heads. */
  checkpoint(channelId: Hash, cp: Seqs): void {
    const v = this.applied.get(channelId) ?? {
      heads: { seq0: 0, seq1: 0 },
      checkpoint: { seq0: 0, seq1: 0 },
    };
    this.applied.set(channelId, { heads: max(v.heads, cp), checkpoint: max(v.checkpoint, cp) });
  }

  /** Our head proof (or chain extension) was applied: it raised one payer's head. */
  head(channelId: Hash, payer: PayerIndex, seq: number): void {
    const v = this.applied.get(channelId) ?? {
      heads: { seq0: 0, seq1: 0 },
      checkpoint: { seq0: 0, seq1: 0 },
    };
    const raised = payer === 0 ? { seq0: seq, seq1: 0 } : { seq0: 0, seq1: seq };
    this.applied.set(channelId, { heads: max(v.heads, raised), checkpoint: v.checkpoint });
  }

  /** The index's view raised by what our transactions applied. */
  view(
    channelId: Hash,
    index: { readonly seq0: number; readonly seq1: number; readonly checkpoint: Seqs },
  ): CommitView {
    const v = this.applied.get(channelId);
    const heads = { seq0: index.seq0, seq1: index.seq1 };
    return v
      ? { heads: max(heads, v.heads), checkpoint: max(index.checkpoint, v.checkpoint) }
      : { heads, checkpoint: index.checkpoint };
  }

  /** The index caught up (or the channel settled): the memo has nothing more to add. */
  forgetIfCovered(
    channelId: Hash,
    index: { readonly seq0: number; readonly seq1: number; readonly checkpoint: Seqs },
  ): void {
    const v = this.applied.get(channelId);
    if (!v) return;
    const covered =
      index.seq0 >= v.heads.seq0 &&
      index.seq1 >= v.heads.seq1 &&
      index.checkpoint.seq0 >= v.checkpoint.seq0 &&
      index.checkpoint.seq1 >= v.checkpoint.seq1;
    if (covered) this.applied.delete(channelId);
  }

  forget(channelId: Hash): void {
    this.applied.delete(channelId);
  }

  /** A reorg may have undone our transactions: trust only the (rewound) index again. */
  clear(): void {
    this.applied.clear();
  }
}
