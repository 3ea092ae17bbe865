/**
 * The mediator inside a node (protocol §11.5): builds `MediationService`'s ports from the node's parts
 * (channel state, signer keys, producer, chain actions), turns applied transfers into RECEIVED /
 * upstream-resolved observations, reads the payment-messages topic, runs the service on the node's
 * tick, announces the node's `ChannelUpdate`s and reports payments and metrics. The node calls it; it
 * owns no partition and no timer.
 *
 * The node mediates only between channels where it holds exactly one participant key (payee of the
 * incoming lock, payer of the outgoing one). It needs the partitions of both channels: in a group of
 * several members, the members claim the partitions of these channels (`mediatedChannels`) and the group
 * keeps them on one member.
 */
import path from "node:path";
import { Interface, sha256 } from "ethers";
import {
  type Address,
  channelUpdateMessage,
  codecs,
  type Domain,
  forwardingFee,
  type Hash,
  type Hex,
  type LocalSigner,
  type PayerIndex,
  signChannelUpdate,
  signPaymentMessage,
  signTransferUnjournaled,
  toHex,
  transferMessage,
  TransferKind,
  channelUpdateKey,
  signCancelConsent,
  verifyCancelConsent,
} from "../../../sdk";
import type { ChainRegistry, OnchainChannel } from "../chain/registry";
import type { ChainActions } from "../commit/core/chain-actions";
import type { Sender } from "../commit/core/ports";
import type { RelayerConfig } from "../config";
import { messageOf } from "../errors";
import { M, type Metrics } from "../http/metrics";
import type { InRecord, LogProducer, OutRecord } from "../kafka/client";
import { channelKey } from "../kafka/topics";
import type { Logger } from "../log";
import type { Rpc } from "../chain/rpc";
import type { ChannelState, WindowItem } from "../state/channel";
import type { PartitionState } from "../state/partition";
import { inboxKey, type InboxEntry, type PaymentEntry } from "./entry";
import { mediationPolicy } from "./forward";
import { PaymentHistory, type PaymentReport, reportKey } from "./history";
import { isTerminal } from "./log";
import { Outbox } from "./outbox";
import { PaymentMessagePipeline } from "./messages";
import {
  DEFAULT_RETAIN_SECONDS,
  MediationService,
  outgoingOf,
  SendBatch,
  type PayerChannel,
  type PaymentBook,
  ROUTE_APP_KIND,
} from "./service";
import type { MediationPolicy } from "./types";

const registryInterface = new Interface([
  "function registerSecrets(bytes32[] secrets)",
  "function secretRevealedAt(bytes32 hashlock) view returns (uint256)",
]);
/** Re-announce an unchanged direction after this (a reader drops updates older than 14 days). */
const REANNOUNCE_SECONDS = 7n * 86_400n;
/** How often capacities are compared with what was announced. */
const ANNOUNCE_EVERY_MS = 2_000;
/** The kinds an inbox keeps (one message each per lock). */
const INBOX_KINDS: readonly InboxEntry["kind"][] = ["SECRET", "FAIL", "CONSENT"];

/** How often peer messages no payment needs are looked for (it reads every owned channel's inbox size). */
const PRUNE_EVERY_MS = 5_000;
/**
 * How long a finished payment stays in its channel's memory: long enough for a few inbox prunes to see
 * it finished. `GET /payments` lists it from the history file for a day; every round steps the payments
 * in memory, so keeping finished ones longer only costs time.
 */
const FINISHED_IN_MEMORY_SECONDS = 30n;

export interface NodeMediationDeps {
  readonly config: RelayerConfig;
  readonly domain: Domain;
  readonly registry: ChainRegistry;
  readonly rpc: Rpc;
  readonly producer: LogProducer;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly signers: ReadonlyMap<string, LocalSigner>;
  /** Private keys by lower-case address: a participant key is also the node's onion routing key. */
  readonly keys: ReadonlyMap<string, Hex>;
  readonly actions: ChainActions;
  /** Who sends `registerSecrets` (the submitter, else the payee's own key). */
  readonly sender: (payee: Address) => Sender | null;
  /** The channel's state when the node holds its partition (genesis state if it saw no input yet). */
  readonly view: (channelId: Hash) => { ps: PartitionState; ch: ChannelState } | null;
  readonly owned: () => PartitionState[];
}

export type { PaymentReport } from "./history";

function bookOf(ps: PartitionState, ch: ChannelState): PaymentBook {
  return {
    channelId: ch.channelId,
    entries: () => ch.payments.entries(),
    live: () => ch.live(),
    get: (k) => ch.payments.get(k),
    isDurable: (k, e) => ch.durablePayments.get(k) === e,
    put: (k, e) => {
      ch.putPayment(k, e);
      ps.markDirty(ch);
    },
    delete: (k) => {
      ch.deletePayment(k);
      ps.markDirty(ch);
    },
  };
}

export class NodeMediation {
  readonly service: MediationService;
  readonly messages: PaymentMessagePipeline;
  readonly policy: MediationPolicy;
  private readonly announced = new Map<string, { timestamp: bigint; capacity: bigint }>();
  private readonly outbox: Outbox;
  /** Finished payments, on the node's disk (the changelog journals only those in flight). */
  private readonly history: PaymentHistory;
  private ticking = false;
  private announcedAtMs = 0;
  private prunedAtMs = 0;

  constructor(private readonly deps: NodeMediationDeps) {
    this.policy = mediationPolicy(deps.config.mediation);
    this.outbox = new Outbox(deps.producer);
    this.history = new PaymentHistory(
      path.join(deps.config.state.dir, "payments-history.jsonl"),
      DEFAULT_RETAIN_SECONDS,
      deps.logger,
    );
    this.history.load(this.chainNow());
    const m = deps.metrics;
    this.service = new MediationService({
      policy: this.policy,
      logger: deps.logger,
      ports: {
        chainNow: () => this.chainNow(),
        nowMs: () => Date.now(),
        // The confirmed index: reveals are known through its block, not through the head.
        chainSeenThrough: () => BigInt(deps.registry.confirmedTimestamp),
        onchainReveal: (hashlock) => deps.registry.revealedSecret(hashlock) ?? null,
        channel: (id) => this.payerChannel(id),
        pending: (id) => {
          const onchain = deps.registry.get(id);
          return onchain !== undefined && this.ownIndex(onchain) !== null && deps.view(id) === null;
        },
        sendTransfer: (t, extra) => this.sendTransfer(t, extra),
        sendMessage: async (lock, body) => {
          const onchain = deps.registry.get(lock.channelId);
          const payee = onchain?.params[lock.payer === 0 ? "participant1" : "participant0"];
          const signer = payee ? deps.signers.get(payee.toLowerCase()) : undefined;
          if (!signer) throw new Error(`no key of the payee of ${lock.channelId}`);
          const msg = signPaymentMessage(signer, deps.domain, { ...lock, ...body }, Date.now());
          await this.outbox.send(deps.config.kafka.topics.paymentMessages, {
            key: channelKey(lock.channelId),
            value: codecs().paymentMessage.encode(msg),
          });
        },
        registerSecret: (channelId, secret) => this.registerSecret(channelId, secret),
        incomingState: (id, payer) => deps.view(id)?.ch.payers[payer].state ?? null,
        signCancelConsent: async (cancel) => {
          const onchain = deps.registry.get(cancel.channelId);
          const payee = onchain?.params[cancel.payer === 0 ? "participant1" : "participant0"];
          const signer = payee ? deps.signers.get(payee.toLowerCase()) : undefined;
          if (!signer) throw new Error(`no key of the payee of ${cancel.channelId}`);
          return (await signCancelConsent(signer, deps.domain, cancel)).signature;
        },
        secretRevealedAt: async (hashlock) => {
          const { rpc, registry } = deps;
          const out = await rpc.ethCall(
            registry.address,
            registryInterface.encodeFunctionData("secretRevealedAt", [hashlock]) as Hex,
          );
          return BigInt(registryInterface.decodeFunctionResult("secretRevealedAt", out)[0] as bigint);
        },
        validCancelConsent: (consent) => {
          const onchain = deps.registry.get(consent.channelId);
          if (!onchain) return false;
          try {
            verifyCancelConsent(deps.domain, onchain.params, consent);
            return true;
          } catch {
            return false;
          }
        },
      },
      metrics: {
        forwarded: () => m.inc(M.paymentsForwarded, "Routed payments forwarded (outgoing LOCK journaled)"),
        settled: (fee) => {
          m.inc(M.paymentsSettled, "Routed payments settled upstream");
          m.inc(M.feesEarned, "Fees earned by settled routed payments (base units)", {}, Number(fee));
        },
        failed: (reason) => m.inc(M.paymentsFailed, "Routed payments failed, by reason", { reason }),
      },
      retainSeconds: FINISHED_IN_MEMORY_SECONDS,
      // The changelog journals payments in flight only: a finished one is kept on disk for GET /payments.
      onFinished: (e) => {
        const row = reportOf(e);
        if (!this.history.has(reportKey(row))) this.history.record(row);
      },
    });
    this.messages = new PaymentMessagePipeline({
      domain: deps.domain,
      channel: (id) => deps.registry.get(id),
      holds: (a) => deps.signers.has(a.toLowerCase()),
      chainNow: () => this.chainNow(),
      metrics: deps.metrics,
      maxRecordBytes: deps.config.kafka.maxRecordBytes,
    });
    m.declare(M.paymentsForwarded, "Routed payments forwarded (outgoing LOCK journaled)", "counter");
    m.declare(M.paymentsSettled, "Routed payments settled upstream", "counter");
    m.declare(M.feesEarned, "Fees earned by settled routed payments (base units)", "counter");
    m.collect(() => {
      for (const [id] of this.announced) {
        const c = this.payerChannel(id.slice(0, 66) as Hash);
        if (c)
          m.set(
            M.liquidity,
            "What the node can still lock as payer, by channel (base units)",
            Number(c.view.available),
            {
              channel: c.view.channelId,
            },
          );
      }
    });
  }

  /** Chain time (the contract's clock), never behind the wall clock: as the transfer pipeline judges. */
  chainNow(): bigint {
    return BigInt(Math.max(this.deps.registry.latestTimestamp, Math.floor(Date.now() / 1000)));
  }

  /**
   * The channels the node forwards between (it holds exactly one key; not settled yet). A group keeps
   * their partitions on one member (`assignPartitions`), so the member that journals an incoming lock
   * also holds the outgoing channel it signs on.
   */
  mediatedChannels(): Hash[] {
    const ids = new Set<Hash>();
    for (const address of this.deps.signers.keys())
      for (const c of this.deps.registry.byParticipant(address))
        if (c.status !== "SETTLED" && this.ownIndex(c) !== null) ids.add(c.channelId);
    return [...ids];
  }

  /** The participant index whose key the node holds, when it holds exactly one. */
  private ownIndex(onchain: OnchainChannel): PayerIndex | null {
    const [a, b] = onchain.participantsLower.map((p) => this.deps.signers.has(p));
    return a === b ? null : a ? 0 : 1;
  }

  private payerChannel(id: Hash): PayerChannel | null {
    const onchain = this.deps.registry.get(id);
    if (!onchain) return null;
    const payer = this.ownIndex(onchain);
    const held = payer === null ? null : this.deps.view(id);
    if (payer === null || !held) return null;
    const { ch } = held;
    const state = ch.payers[payer].state;
    const other = ch.payers[payer === 0 ? 1 : 0].state;
    const deposit = payer === 0 ? onchain.deposit0 : onchain.deposit1;
    const available = deposit - state.paidTotal + other.paidTotal - state.lockedTotal;
    return {
      payer,
      state,
      durableSeq: ch.durableSeqs[payer],
      view: {
        channelId: id,
        asset: onchain.params.asset,
        status: onchain.status,
        disabled: false,
        available: available > 0n ? available : 0n,
        pendingLocks: state.locks.length,
      },
      // One message per kind and lock: direct lookups, not a scan of the channel's whole inbox.
      messages: (seq) =>
        INBOX_KINDS.map((kind) => ch.inbox.get(inboxKey(payer, seq, kind))).filter(
          (m): m is InboxEntry => m !== undefined,
        ),
    };
  }

  private async sendTransfer(
    t: Parameters<typeof signTransferUnjournaled>[2],
    extra: { readonly appKind?: string; readonly appData?: Hex },
  ): Promise<void> {
    const onchain = this.deps.registry.get(t.channelId);
    const address = onchain?.params[t.payer === 0 ? "participant0" : "participant1"];
    const signer = address ? this.deps.signers.get(address.toLowerCase()) : undefined;
    if (!signer) throw new Error(`no key of payer ${t.payer} of ${t.channelId}`);
    // The journal is the payment entry: its op (kind and seq) was committed before this (service.ts).
    const signed = signTransferUnjournaled(signer, this.deps.domain, t);
    const value = codecs().transfer.encode(
      transferMessage(this.deps.domain, signed, signer.address, { ...extra, sentAtMs: Date.now() }),
    );
    await this.outbox.send(this.deps.config.kafka.topics.transfers, { key: channelKey(t.channelId), value });
  }

  /** `registerSecrets([secret])` as the channel's one action, then its `secretRevealedAt`. */
  private async registerSecret(channelId: Hash, secret: Hash): Promise<bigint> {
    const { actions, rpc, registry } = this.deps;
    const onchain = registry.get(channelId);
    const payee = onchain && this.ownIndex(onchain);
    const sender =
      onchain && payee !== null && payee !== undefined
        ? this.deps.sender(onchain.params[payee === 0 ? "participant0" : "participant1"])
        : null;
    if (!sender) throw new Error(`no key to send registerSecrets for ${channelId}`);
    const data = registryInterface.encodeFunctionData("registerSecrets", [[secret]]) as Hex;
    // "evidence" priority: like a dispute's evidence, it must land before a deadline.
    const r = await actions.run(
      { channelId, kind: "evidence", label: "registerSecrets", duty: "registerSecret" },
      async (token) => {
        await actions.send(sender, { method: "registerSecrets", data, label: "registerSecrets", token });
      },
    );
    if (r !== "done") throw new Error(`registerSecrets ${r}`);
    const out = await rpc.ethCall(
      registry.address,
      registryInterface.encodeFunctionData("secretRevealedAt", [sha256(secret)]) as Hex,
    );
    const revealedAt = BigInt(registryInterface.decodeFunctionResult("secretRevealedAt", out)[0] as bigint);
    if (revealedAt === 0n) throw new Error("registerSecrets was mined but the secret is not registered");
    return revealedAt;
  }

  /**
   * A transfer applied to a channel (hook of the transfer pipeline, under the partition's lock): a
   * routed LOCK to a key the node holds starts a payment; an UNLOCK or CANCEL of an incoming lock
   * resolves one.
   */
  onApplied(ps: PartitionState, ch: ChannelState, onchain: OnchainChannel, item: WindowItem): void {
    if (item.kind === TransferKind.Lock) {
      if (this.ownIndex(onchain) !== (item.payer === 0 ? 1 : 0)) return;
      const payee = onchain.participantsLower[item.payer === 0 ? 1 : 0];
      const key = this.deps.keys.get(payee);
      if (!key || item.wire.length === 0) return;
      let appKind: unknown;
      let appData: unknown;
      try {
        ({ appKind, appData } = codecs().transfer.decodeRecord(item.wire));
      } catch {
        return;
      }
      if (appKind !== ROUTE_APP_KIND || !(appData instanceof Uint8Array)) return;
      this.service.receive(bookOf(ps, ch), {
        incoming: {
          channelId: ch.channelId,
          asset: onchain.params.asset,
          payerSeq: BigInt(item.seq),
          hashlock: item.hashlock,
          amount: item.amount,
          expiry: item.expiry,
        },
        upstream: item.payer,
        packet: toHex(appData),
        routingKey: key,
      });
    } else if (
      (item.kind === TransferKind.Unlock || item.kind === TransferKind.Cancel) &&
      ch.payments.size > 0
    ) {
      this.service.resolved(
        bookOf(ps, ch),
        item.payer,
        { amount: item.amount, expiry: item.expiry, hashlock: item.hashlock },
        item.kind === TransferKind.Unlock ? "UNLOCK" : "CANCEL",
      );
    }
  }

  /** Payment-message records of a partition (under its lock). */
  processMessages(ps: PartitionState, records: readonly InRecord[]): void {
    this.messages.process(ps, records);
  }

  /**
   * One round: steps every owned channel's payments (under each partition's lock), then produces the
   * round's sends while `whileSending` runs (the node's flush of what the steps journaled: the two round
   * trips overlap), then journals what each send achieved (made durable by the next flush; a send it
   * does not cover is repeated after a crash, as any unacknowledged one is), then announcements.
   * Resolves true when it journaled such outcomes: they wait for a flush.
   */
  async tick(whileSending?: () => Promise<void>): Promise<boolean> {
    if (this.ticking) return false;
    this.ticking = true;
    try {
      const books: [PartitionState, ChannelState][] = [];
      for (const ps of this.deps.owned())
        for (const ch of ps.channels.values()) if (ch.payments.size > 0) books.push([ps, ch]);
      this.service.setBooks(books.map(([ps, ch]) => bookOf(ps, ch)));
      // The round's sends are produced together; what each achieved is journaled under its book's lock.
      const sends = new SendBatch(this.deps.logger);
      for (const [ps, ch] of books) {
        if (ch.livePayments.size === 0) continue;
        await ps.lock.run(() => (ps.revoked ? undefined : this.service.step(bookOf(ps, ch), sends)));
      }
      const [afters] = await Promise.all([sends.settle(), whileSending?.()]);
      for (const [ps, ch] of books) {
        const journal = afters.get(ch.channelId);
        if (journal) await ps.lock.run(() => (ps.revoked ? undefined : journal.forEach((f) => f())));
      }
      const journaled = afters.size > 0;
      if (Date.now() - this.prunedAtMs >= PRUNE_EVERY_MS) {
        this.prunedAtMs = Date.now();
        await this.pruneInboxes(books);
        for (const [ps, ch] of books)
          await ps.lock.run(() => (ps.revoked ? undefined : this.service.pruneFinished(bookOf(ps, ch))));
      }
      if (Date.now() - this.announcedAtMs >= ANNOUNCE_EVERY_MS) {
        this.announcedAtMs = Date.now();
        await this.announce();
      }
      return journaled;
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Drops peer messages no payment in flight refers to: at once when the payment they were about is
   * finished (nothing reads them again), else once they are `DEFAULT_RETAIN_SECONDS` old (a record that
   * was pruned, or a lock the node never forwarded). Inboxes are journaled with their channel, so this
   * keeps each flush small.
   */
  private async pruneInboxes(books: readonly [PartitionState, ChannelState][]): Promise<void> {
    const live = new Set<string>();
    const finished = new Set<string>();
    for (const [, ch] of books) {
      for (const e of ch.payments.values()) {
        const out = outgoingOf(e.record);
        if (out) (isTerminal(e.record) ? finished : live).add(`${out.channelId}/${out.payerSeq}`);
      }
    }
    const now = this.chainNow();
    for (const ps of this.deps.owned()) {
      for (const ch of ps.channels.values()) {
        if (ch.inbox.size === 0) continue;
        const stale = [...ch.inbox].filter(([, m]) => {
          const ref = `${ch.channelId}/${m.seq}`;
          return !live.has(ref) && (finished.has(ref) || now - m.at >= DEFAULT_RETAIN_SECONDS);
        });
        if (stale.length === 0) continue;
        await ps.lock.run(() => {
          if (ps.revoked) return;
          for (const [k] of stale) ch.inbox.delete(k);
          ps.markDirty(ch);
        });
      }
    }
  }

  /**
   * Signs and produces the node's `ChannelUpdate` for each direction it forwards in (channels where it
   * holds one key and owns the partition): at start, when its capacity changes, and every 7 days.
   */
  private async announce(): Promise<void> {
    const { registry, signers, domain, producer, config } = this.deps;
    const now = this.chainNow();
    const out: OutRecord[] = [];
    const mine = new Map<Hash, OnchainChannel>();
    for (const address of signers.keys())
      for (const c of registry.byParticipant(address)) mine.set(c.channelId, c);
    for (const onchain of mine.values()) {
      if (onchain.status !== "OPEN") continue;
      const c = this.payerChannel(onchain.channelId);
      if (!c) continue;
      const k = `${onchain.channelId}/${c.payer}`;
      const last = this.announced.get(k);
      const capacity = c.view.available;
      if (last && last.capacity === capacity && now - last.timestamp < REANNOUNCE_SECONDS) continue;
      const timestamp = last && last.timestamp >= now ? last.timestamp + 1n : now;
      const signer = signers.get(onchain.participantsLower[c.payer]);
      if (!signer) continue;
      const update = await signChannelUpdate(signer, domain, {
        channelId: onchain.channelId,
        direction: c.payer,
        timestamp,
        capacity,
        feeBase: this.policy.feeBase,
        feePpm: this.policy.feePpm,
        expiryDelta: Number(this.policy.expiryDelta),
        htlcMinimum: 1n,
        htlcMaximum: capacity > forwardingFee(this.policy, 0n) ? capacity : 1n,
        disabled: false,
      });
      out.push({
        key: Buffer.from(channelUpdateKey(onchain.channelId, c.payer)),
        value: codecs().channelUpdate.encode(
          channelUpdateMessage(domain, update, signer.address, Date.now()),
        ),
      });
      this.announced.set(k, { timestamp, capacity });
    }
    if (out.length === 0) return;
    await producer.send(config.kafka.topics.channelGraph, out).catch((e) => {
      this.deps.logger.warn("announcing channel updates failed", { error: messageOf(e) });
      for (const r of out) {
        const key = r.key as Buffer;
        this.announced.delete(`${toHex(key.subarray(0, 32))}/${key[32]}`);
      }
    });
  }

  /** What `GET /payments` lists: payments in flight and recent (settled or failed, kept a day). */
  report(): PaymentReport[] {
    const rows = new Map<string, PaymentReport>();
    for (const r of this.history.list(this.chainNow())) rows.set(reportKey(r), r);
    for (const ps of this.deps.owned())
      for (const ch of ps.channels.values())
        for (const e of ch.payments.values()) {
          const r = reportOf(e);
          rows.set(reportKey(r), r);
        }
    return [...rows.values()].sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : -1));
  }
}

function reportOf(e: PaymentEntry): PaymentReport {
  const p = e.record;
  const out = outgoingOf(p);
  return {
    incomingChannel: p.incoming.channelId,
    incomingSeq: p.incoming.payerSeq.toString(),
    hashlock: p.incoming.hashlock,
    state: p.state,
    amountIn: p.incoming.amount.toString(),
    amountOut: p.instructions.amount.toString(),
    fee: (p.incoming.amount - p.instructions.amount).toString(),
    expiryIn: p.incoming.expiry.toString(),
    expiryOut: p.instructions.expiry.toString(),
    outgoingChannel: p.instructions.nextChannel,
    outgoingSeq: out ? out.payerSeq.toString() : null,
    failure: "failure" in p ? `${p.failure.code}: ${p.failure.reason}` : null,
    updatedAt: e.updatedAt.toString(),
  };
}
