/**
 * Splits the locked pots of settled channels this node holds, lock by lock (lnd's htlc_timeout_resolver):
 * as soon as an unresolved lock has expired, `resolveLocks` gives each lock whose secret was registered in
 * time to the payee and returns each expired unrevealed one to the payer; locks still open stay for a
 * later call (the payee may still reveal them, and resolves revealed ones itself with the preimages).
 * Needs no preimages. Both payers' pots are looked at: an open lock of one payer blocks nothing of the other's.
 */
import { type Domain, type Hash, type Hex, type PayerIndex, resolveLocksArgs } from "../../../../sdk";
import { channelsInterface } from "../../chain/abi";
import type { ChainEvent, OnchainChannel } from "../../chain/registry";
import { messageOf } from "../../errors";
import { M, type Metrics } from "../../http/metrics";
import type { Logger } from "../../log";
import type { ChainActions } from "../core/chain-actions";
import type { Clock } from "../core/clock";
import type { OutcomeSink } from "../core/outcomes";
import type { ChainView, ChannelDirectory, Sender } from "../core/ports";
import { ledgerOf } from "../evidence";
import { payersWithPots, potDue, type PotLocks } from "./decide";

export interface LockResolverDeps {
  /** `watchtower.settle`: the node settles and resolves what it watches. */
  readonly enabled: boolean;
  readonly domain: Domain;
  readonly chain: ChainView;
  readonly channels: ChannelDirectory;
  readonly actions: ChainActions;
  readonly outcomes: OutcomeSink;
  readonly submitter: Sender | null;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: Clock;
}

const DUTY = "resolveLocks";

/** Whether a settlement held back a pot for pending locks that is not yet resolved. */
const hasLockPot = (ch: OnchainChannel): boolean => ch.lockPots[0] > 0n || ch.lockPots[1] > 0n;

export class LockResolver {
  /** Settled channels with a locked pot left, with each payer's lock list once read from the history. */
  private readonly locked = new Map<Hash, [PotLocks | null, PotLocks | null]>();

  constructor(private readonly deps: LockResolverDeps) {
    for (const ch of deps.chain.all()) if (hasLockPot(ch)) this.locked.set(ch.channelId, [null, null]);
    deps.chain.on((e) => this.onChainEvent(e));
  }

  private onChainEvent(e: ChainEvent): void {
    if (e.type === "settled" && hasLockPot(e.channel)) this.locked.set(e.channel.channelId, [null, null]);
  }

  tick(): void {
    const submitter = this.deps.submitter;
    if (!this.deps.enabled || !submitter) return;
    const chainNow = BigInt(this.deps.clock.chainNow());
    for (const [id, known] of this.locked) {
      const onchain = this.deps.chain.get(id);
      const payers = onchain ? payersWithPots(onchain.lockPots) : [];
      if (!onchain || payers.length === 0) {
        this.locked.delete(id);
        continue;
      }
      if (this.deps.actions.busy(id)) continue;
      const step = this.deps.actions.step(id, DUTY);
      if (step.kind === "wait") continue;
      if (step.kind === "give-up") {
        // Resolving later is harmless: report, and start a new round.
        this.deps.actions.gaveUp("resolveLocks");
        this.deps.outcomes.publish({
          channelId: id,
          action: "RESOLVE_LOCKS",
          status: "FAILED",
          detail: step.reason,
        });
        this.deps.actions.forget(id, DUTY);
      }
      for (const payer of payers) {
        const pot = known[payer] ?? this.potLocks(id, onchain, payer, known);
        if (!pot || !potDue(pot, onchain.locksResolved[payer], chainNow)) continue;
        void this.deps.actions.run(
          { channelId: id, kind: "resolveLocks", label: "resolveLocks" },
          async (token) => {
            const data = channelsInterface.encodeFunctionData(
              "resolveLocks",
              resolveLocksArgs(onchain.params, payer, pot.locks),
            ) as Hex;
            const r = await this.deps.actions.send(submitter, {
              method: "resolveLocks",
              data,
              label: `resolveLocks ${id.slice(0, 10)}`,
              token,
            });
            this.deps.metrics.inc(M.watchtower, "Watchtower and fraud-proof actions", {
              action: "resolveLocks",
            });
            this.deps.outcomes.publish({
              channelId: id,
              action: "RESOLVE_LOCKS",
              status: "CONFIRMED",
              txHash: r.transactionHash,
              gasUsed: r.gasUsed,
            });
            await this.deps.chain.sync();
          },
        );
        break; // one action per channel at a time; the other payer's pot is looked at next tick
      }
    }
  }

  /**
   * The settled head's pending locks of `payer`, remembered in `known`; no locks if this node cannot
   * tell (a participant resolves them then).
   */
  private potLocks(
    id: Hash,
    onchain: OnchainChannel,
    payer: PayerIndex,
    known: [PotLocks | null, PotLocks | null],
  ): PotLocks | null {
    const owned = this.deps.channels.locate(id);
    if (!owned) return null; // another node holds it, or its partition is not restored yet
    try {
      const seq = payer === 0 ? onchain.seq0 : onchain.seq1;
      const { locks } = ledgerOf(this.deps.domain, owned.ch, onchain).stateAt(payer, seq);
      known[payer] = { payer, locks };
    } catch (e) {
      // The node does not hold the settled head (it was never sent this chain): a participant resolves.
      this.deps.logger.warn("cannot resolve locks: settled head not held", {
        channelId: id,
        payer,
        error: messageOf(e),
      });
      known[payer] = { payer, locks: [] };
    }
    return known[payer];
  }
}
