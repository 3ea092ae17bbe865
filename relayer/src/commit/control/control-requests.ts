/**
 * The control topic's SETTLE_NOW and DISPUTE requests (lnd's control tower): a request is kept in the
 * channel's snapshot until it completes or gives up, so a restart finishes it; each attempt is one
 * action on the channel; failures back off, and after `commit.retry.maxAttempts` the request gives up
 * and publishes a FAILED outcome with its reason (and its request id). CHECKPOINT_NOW is the commit
 * policy's (it only makes the channel due).
 */
import {
  DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  type Domain,
  type Hash,
  type Hex,
  type LocalSigner,
  cooperativeCloseArgs,
  signCooperativeClose,
} from "../../../../sdk";
import { channelsInterface } from "../../chain/abi";
import type { OnchainChannel } from "../../chain/registry";
import type { ChannelState } from "../../state/channel";
import type { PartitionState } from "../../state/partition";
import type { ChainActions } from "../core/chain-actions";
import type { OutcomeSink } from "../core/outcomes";
import type { ChainView, Sender } from "../core/ports";
import type { ActionToken } from "../core/slots";
import { type Evidence, ledgerOf } from "../evidence";
import { decideRequest, outcomeActionOf, type RequestAction } from "./decide";

export interface ControlRequestsDeps {
  readonly domain: Domain;
  readonly chain: ChainView & { readonly latestTimestamp: number };
  readonly actions: ChainActions;
  readonly evidence: Evidence;
  readonly outcomes: OutcomeSink;
  readonly submitter: Sender | null;
  /** Senders and signers of the participant keys the node holds, by lower-case address. */
  readonly senders: ReadonlyMap<string, Sender>;
  readonly signers: ReadonlyMap<string, LocalSigner>;
  readonly now: () => number;
}

/** A request's failures count against its own duty: a new request starts with a clean record. */
const dutyOf = (requestId: string): string => `control:${requestId}`;

export class ControlRequests {
  private readonly requests = new Map<Hash, PartitionState>();

  constructor(private readonly deps: ControlRequestsDeps) {}

  /** Takes a SETTLE_NOW or DISPUTE request. Call under the partition lock. */
  request(ps: PartitionState, ch: ChannelState, action: RequestAction, requestId: string): void {
    if (ch.control) this.deps.actions.forget(ch.channelId, dutyOf(ch.control.requestId));
    ch.control = { requestId, action, atMs: this.deps.now() };
    ps.markDirty(ch);
    this.requests.set(ch.channelId, ps);
    this.deps.actions.forget(ch.channelId, dutyOf(requestId));
  }

  /** Picks up the unfinished requests of a restored partition. */
  noteRestored(ps: PartitionState): void {
    for (const ch of ps.channels.values()) if (ch.control) this.requests.set(ch.channelId, ps);
  }

  /** Requests waiting or running. */
  get size(): number {
    return this.requests.size;
  }

  tick(): void {
    for (const [id, ps] of this.requests) {
      const ch = ps.channels.get(id);
      const onchain = this.deps.chain.get(id);
      const control = ch?.control ?? null;
      const d = decideRequest({
        held: !ps.revoked && ch !== undefined && control !== null && onchain !== undefined,
        status: onchain?.status ?? null,
        busy: this.deps.actions.busy(id),
        step: control ? this.deps.actions.step(id, dutyOf(control.requestId)) : { kind: "proceed" },
      });
      if (d.kind === "drop" || !ch || !control || !onchain) {
        this.requests.delete(id);
        continue;
      }
      const { action, requestId } = control;
      if (d.kind === "wait") continue;
      if (d.kind === "settled" || d.kind === "give-up") {
        if (d.kind === "give-up") this.deps.actions.gaveUp(action === "SETTLE_NOW" ? "settleNow" : "dispute");
        this.deps.outcomes.publish({
          channelId: id,
          action: outcomeActionOf(action),
          status: d.kind === "settled" ? "SKIPPED" : "FAILED",
          requestId,
          detail: d.kind === "settled" ? "the channel is settled" : d.reason,
        });
        this.finish(ps, ch, requestId);
        continue;
      }
      const run = this.deps.actions.run(
        {
          channelId: id,
          kind: action === "SETTLE_NOW" ? "settleNow" : "dispute",
          label: action === "SETTLE_NOW" ? "settleNow" : "dispute",
          duty: dutyOf(requestId),
        },
        (token) =>
          action === "SETTLE_NOW"
            ? this.settleNow(token, ch, onchain, requestId)
            : this.deps.evidence.bringOnChain(token, ch, onchain, { requestId, action: "CHAIN_EXTENSION" }),
      );
      void run.then((r) => (r === "done" ? this.finish(ps, ch, requestId) : undefined));
    }
  }

  private finish(ps: PartitionState, ch: ChannelState, requestId: string): Promise<void> {
    this.deps.actions.forget(ch.channelId, dutyOf(requestId));
    if (this.requests.get(ch.channelId) === ps && ch.control?.requestId === requestId)
      this.requests.delete(ch.channelId);
    return ps.lock.run(() => {
      if (ch.control?.requestId === requestId) {
        ch.control = null;
        ps.markDirty(ch);
      }
    });
  }

  /**
   * SETTLE_NOW: cooperative close when the node holds both keys and no lock is pending; else the newest
   * evidence on-chain and a unilateral close by a participant key the node holds.
   */
  private async settleNow(
    token: ActionToken,
    ch: ChannelState,
    onchain: OnchainChannel,
    requestId: string,
  ): Promise<void> {
    const { deps } = this;
    const id = ch.channelId;
    const s0 = deps.signers.get(onchain.participantsLower[0]);
    const s1 = deps.signers.get(onchain.participantsLower[1]);
    const ledger = ledgerOf(deps.domain, ch, onchain);
    const outcome = ledger.settlement();
    const submitter = deps.submitter;
    if (s0 && s1 && outcome.pot0 === 0n && outcome.pot1 === 0n && submitter) {
      const close = {
        channelId: id,
        seq0: ch.payers[0].state.seq,
        seq1: ch.payers[1].state.seq,
        balance0: outcome.payout0,
        balance1: outcome.payout1,
        // Submitted at once by this node; the expiry only bounds how long the signatures could be replayed.
        expiry: BigInt(deps.chain.latestTimestamp + DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS),
      };
      const [sig0, sig1] = await Promise.all([
        signCooperativeClose(s0, deps.domain, close),
        signCooperativeClose(s1, deps.domain, close),
      ]);
      const data = channelsInterface.encodeFunctionData(
        "cooperativeClose",
        cooperativeCloseArgs(onchain.params, close, sig0, sig1),
      ) as Hex;
      const r = await deps.actions.send(submitter, {
        method: "cooperativeClose",
        data,
        label: `cooperativeClose ${id.slice(0, 10)}`,
        token,
      });
      deps.outcomes.publish({
        channelId: id,
        action: "COOPERATIVE_CLOSE",
        status: "CONFIRMED",
        seq0: close.seq0,
        seq1: close.seq1,
        txHash: r.transactionHash,
        gasUsed: r.gasUsed,
        requestId,
        detail: `${outcome.payout0}/${outcome.payout1}`,
      });
      await deps.chain.sync();
      return;
    }
    const closer =
      deps.senders.get(onchain.participantsLower[0]) ?? deps.senders.get(onchain.participantsLower[1]);
    if (!closer) {
      deps.outcomes.publish({
        channelId: id,
        action: "CLOSE",
        status: "FAILED",
        requestId,
        detail: "the node holds no participant key: only a participant may close",
      });
      return;
    }
    if (submitter) {
      const steps = await deps.evidence.plan(ch, onchain, submitter);
      await deps.evidence.runSteps(token, submitter, id, steps, requestId);
    }
    if (deps.chain.get(id)?.status === "OPEN") {
      const data = channelsInterface.encodeFunctionData("close", [onchain.params]) as Hex;
      const r = await deps.actions.send(closer, {
        method: "close",
        data,
        label: `close ${id.slice(0, 10)}`,
        token,
      });
      deps.outcomes.publish({
        channelId: id,
        action: "CLOSE",
        status: "CONFIRMED",
        txHash: r.transactionHash,
        gasUsed: r.gasUsed,
        requestId,
      });
    }
    await deps.chain.sync();
  }
}
