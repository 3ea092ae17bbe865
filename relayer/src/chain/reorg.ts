/**
 * What the chain index needs to survive reorganisations: how deep a block must be before the node acts
 * on its events, and the recent blocks it indexed (number, hash, parent) with an undo journal, so that
 * when a block it read is no longer on the chain it can find the common ancestor and rewind to it.
 */
import type { Hash } from "../../../sdk";

/** Local development chains (Hardhat, Anvil and Ganache's 1337): one node mines, nothing reorganises. */
export const DEV_CHAIN_IDS: readonly bigint[] = [31337n, 1337n];

/**
 * Blocks below the head before the node acts on an event, when `chain.confirmations` is not set: 0 on a
 * local development chain, 12 elsewhere. Post-merge Ethereum reorganises one block now and then and two
 * rarely; 12 leaves a wide margin and costs 12 × 12 s = 2.4 min of reaction time on mainnet (24 s on a 2 s
 * L2), far below the contract's minimum challenge period of one hour. Chains with deeper reorganisations
 * (e.g. Polygon PoS) need a higher setting.
 */
export function defaultConfirmations(chainId: bigint): number {
  return DEV_CHAIN_IDS.includes(chainId) ? 0 : 12;
}

/**
 * Indexed blocks kept (beyond the confirmation depth) to rewind from. A reorganisation reaching deeper
 * than this makes the index rebuild from its start block: slower, same result. 128 covers Ethereum's
 * finality (two epochs, 64–95 blocks), after which blocks cannot change.
 */
export const DEFAULT_HISTORY_BLOCKS = 128;

/** A block the index read. */
export interface IndexedBlock {
  readonly number: number;
  readonly hash: Hash;
  readonly parentHash: Hash;
  /** Unix seconds (absent in records that do not need it). */
  readonly timestamp?: number;
}

/**
 * The last `depth` indexed blocks, contiguous, each with the undo records of what the index changed in
 * it. Every block after the oldest kept one is journaled, so the index can rewind to any kept block.
 */
export class BlockHistory<U> {
  private blocks: IndexedBlock[] = [];
  private readonly undo = new Map<number, U[]>();

  constructor(readonly depth: number) {
    if (!Number.isInteger(depth) || depth < 1) throw new RangeError(`history depth ${depth} < 1`);
  }

  /** The newest indexed block kept. */
  get tip(): IndexedBlock | undefined {
    return this.blocks[this.blocks.length - 1];
  }

  get size(): number {
    return this.blocks.length;
  }

  /** Kept blocks, newest first (the order to look for a common ancestor in). */
  newestFirst(): IndexedBlock[] {
    return [...this.blocks].reverse();
  }

  /** Whether `n` is a kept block (its changes can be undone, and those of every later block). */
  has(n: number): boolean {
    return this.blocks.length > 0 && n >= this.blocks[0].number && n <= (this.tip as IndexedBlock).number;
  }

  /**
   * Appends the next indexed block. A block that does not follow the tip (the index skipped blocks it
   * kept no record of) starts the history afresh: older blocks could not be rewound to correctly.
   * Returns false, and appends nothing, when `block` is the next height but not the tip's child.
   */
  push(block: IndexedBlock): boolean {
    const tip = this.tip;
    if (tip && block.number === tip.number + 1 && block.parentHash !== tip.hash) return false;
    if (tip && block.number !== tip.number + 1) this.clear();
    this.blocks.push(block);
    if (this.blocks.length > this.depth) {
      const dropped = this.blocks.splice(0, this.blocks.length - this.depth);
      for (const b of dropped) this.undo.delete(b.number);
    }
    return true;
  }

  /** Records how to undo a change the index made in kept block `n` (ignored for blocks not kept). */
  note(n: number, record: U): void {
    if (!this.has(n)) return;
    let list = this.undo.get(n);
    if (!list) this.undo.set(n, (list = []));
    list.push(record);
  }

  /**
   * Forgets the blocks after `n` and returns their undo records, newest change first (the order to apply
   * them in). `n` must be kept, or the tip's height or above.
   */
  rewindTo(n: number): U[] {
    const out: U[] = [];
    while (this.blocks.length > 0 && (this.tip as IndexedBlock).number > n) {
      const b = this.blocks.pop() as IndexedBlock;
      const list = this.undo.get(b.number);
      if (list) for (let i = list.length - 1; i >= 0; i--) out.push(list[i]);
      this.undo.delete(b.number);
    }
    return out;
  }

  clear(): void {
    this.blocks = [];
    this.undo.clear();
  }
}
