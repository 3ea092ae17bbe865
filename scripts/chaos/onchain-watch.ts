/**
 * Polls the contract's per-payer on-chain seqs of every watched channel during the whole run and records
 * any decrease (the contract must only ever move them forward).
 */
import type { Hash } from "../../sdk";
import type { ChaosChain } from "./chain";

export interface SeqDecrease {
  readonly channelId: Hash;
  readonly payer: 0 | 1;
  readonly from: number;
  readonly to: number;
  readonly atMs: number;
}

export class OnchainWatch {
  private readonly last = new Map<Hash, [number, number]>();
  readonly decreases: SeqDecrease[] = [];
  polls = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(private readonly chain: ChaosChain) {}

  watch(ids: readonly Hash[]): void {
    for (const id of ids) if (!this.last.has(id)) this.last.set(id, [0, 0]);
  }

  start(everyMs = 1000): void {
    this.timer = setInterval(() => void this.poll(), everyMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 50));
    await this.poll();
  }

  /** The on-chain seqs of a channel at the last poll. */
  seen(id: Hash): readonly [number, number] {
    return this.last.get(id) ?? [0, 0];
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const [id, prev] of this.last) {
        const { seq0, seq1 } = await this.chain.seqs(id);
        const now = [seq0, seq1];
        for (const payer of [0, 1] as const) {
          if (now[payer] < prev[payer])
            this.decreases.push({
              channelId: id,
              payer,
              from: prev[payer],
              to: now[payer],
              atMs: Date.now(),
            });
          prev[payer] = now[payer];
        }
      }
      this.polls++;
    } catch {
      // The chain is in-process: a failed read is a read during shutdown; the next poll retries.
    } finally {
      this.busy = false;
    }
  }
}
