/**
 * The dapp's payments over the node's payments log, signed by the session key: balances of the session's
 * channels, a direct PAY to a counterparty, a routed invoice paid with the client's `paymentTransport`
 * and the SDK's `pay`, invoices issued and answered with the client's `receivePayments`, and the history.
 * Every transfer goes through the browser's signing journal (store.ts) before it is released; on start
 * the engine sends what the journal holds beyond the log and pays again each invoice payment left in
 * flight (the transport then re-sends the journaled LOCK with its kept packet, never a second one).
 */
import { SigningKey, computeAddress } from "ethers";
import type { Address } from "viem";
import {
  ChannelGraph,
  MissionControl,
  TransferKind,
  buildTransfer,
  channelBalances,
  createRoutedInvoice,
  describePaymentError,
  findRoutes,
  journaledTransferSigner,
  parseRoutedInvoice,
  routedInvoiceDigest,
  pay,
  signChannelUpdate,
  signPaymentMessage,
  signTransfer,
  transferSigner,
  verifyPaymentMessage,
  DEFAULT_FINAL_EXPIRY_MARGIN_SECONDS,
  type Domain,
  type GraphEntry,
  type Hash,
  type Hex,
  fromHex,
  type PayerIndex,
  type PayerState,
  type PaymentEvent,
  type Route,
  type RouteHintInput,
  type SignedRoutedInvoice,
} from "../../../sdk/isomorphic";
import {
  applyNodeGraph,
  nodePayerViews,
  paymentTransport,
  receivePayments,
  type PaymentLog,
  type PayerTransport,
  type Subscription,
} from "../../../client";
import type { ChannelView } from "../chain-data";
import type { SessionKey } from "./session";
import type { PaymentRecord, PaymentStore, StoredInvoice } from "./store";

/** What the dapp knows of the mediating node it routes through (until the node serves its graph). */
export interface NodeRouting {
  readonly address: Address;
  /** Its compressed public key: its onion routing key (§11.5). */
  readonly routingKey: Hex;
  readonly feeBase: bigint;
  readonly feePpm: number;
  readonly expiryDelta: number;
}

/** Checks that `routingKey` is `address`'s key (a key for another address could not open its layer). */
export function nodeRouting(
  routingKey: string,
  fee: { feeBase: bigint; feePpm: number; expiryDelta: number },
): NodeRouting {
  if (!/^0x0[23][0-9a-fA-F]{64}$/.test(routingKey))
    throw new PaymentError(
      `the node's routing key must be a compressed public key (0x02… or 0x03…, 33 bytes)`,
    );
  return { address: computeAddress(routingKey) as Address, routingKey: routingKey as Hex, ...fee };
}

/** A payment the user asked for cannot be made as asked; the message says what to change. */
export class PaymentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PaymentError";
  }
}

/** One channel's balances as the Balances screen shows them, base units. */
export interface ChannelBalance {
  readonly channelId: Hash;
  readonly counterparty: Address;
  readonly asset: Address;
  /** What the session can pay or lock now. */
  readonly canSend: bigint;
  /** What the counterparty can pay the session now. */
  readonly canReceive: bigint;
  /** The session's own pending locks (outgoing payments in flight). */
  readonly heldOut: bigint;
  /** The counterparty's pending locks to the session (incoming payments in flight). */
  readonly heldIn: bigint;
  readonly mySeq: number;
}

/** The invoice as the Pay screen previews it before the user confirms. */
export interface InvoicePreview {
  readonly invoice: SignedRoutedInvoice;
  readonly route: Route;
  readonly fee: bigint;
  /** When the first lock expires (the most the payment can stay pending), Unix seconds. */
  readonly lockExpiry: bigint;
}

export interface EngineDeps {
  readonly session: SessionKey;
  readonly domain: Domain;
  readonly log: PaymentLog;
  readonly store: PaymentStore;
  readonly routing: NodeRouting | null;
  /** Chain time, milliseconds (the node judges expiries in chain time). */
  readonly now: () => number;
  /**
   * The node's channel graph (`GET /graph`): the forwarders' signed announcements, re-checked here. With
   * it the dapp routes through any announced node; without it, only through `routing`.
   */
  readonly readGraph?: () => Promise<readonly GraphEntry[]>;
  /** The node's channel JSON (`GET /channels/:id`): a direct PAY is done once the node applied it. */
  readonly readNode: (channelId: Hash) => Promise<unknown>;
  /** Told whenever a payment or invoice record changes. */
  readonly onChange: () => void;
}

interface Open {
  readonly view: ChannelView;
  readonly payer: PayerIndex;
  readonly counterparty: Address;
  readonly transport: PayerTransport;
  state: PayerState;
}

/** How long a routed payment starts new attempts (pay()'s timeout), and a direct PAY waits for the node. */
const DEFAULT_TIMEOUT_MS = 60_000;
/** How often a direct PAY asks the node whether it applied it. */
const DIRECT_CONFIRM_POLL_MS = 500;

export interface PaymentEngine {
  /** Updates the session's channels (after each chain/node refresh); starts resuming on the first call. */
  update(views: readonly ChannelView[]): Promise<void>;
  balances(): ChannelBalance[];
  payDirect(channelId: Hash, amount: bigint): Promise<PaymentRecord>;
  preview(text: string, maxFee?: bigint): Promise<InvoicePreview>;
  payInvoice(text: string, maxFee?: bigint): Promise<PaymentRecord>;
  request(input: {
    amount: bigint;
    asset: Address;
    description: string;
    validitySeconds: number;
  }): Promise<StoredInvoice>;
  history(): PaymentRecord[];
  invoices(): StoredInvoice[];
  stop(): void;
}

export function paymentEngine(deps: EngineDeps): PaymentEngine {
  const { session, domain, log, store } = deps;
  const me = session.address.toLowerCase();
  const signer = journaledTransferSigner(session.signer, store.journal);
  const peer = { sign: signPaymentMessage, verify: verifyPaymentMessage };
  const channels = new Map<string, Open>();
  const missionControl = new MissionControl();
  let receiving: Subscription | null = null;
  let directPays: Subscription[] = [];
  let receivingKey = "";
  let resumed = false;
  // One chain of transfers per channel: direct PAYs and routed attempts take turns (the transport's own
  // turn covers its attempts; this one also covers direct PAYs).
  const turns = new Map<string, Promise<unknown>>();
  const inTurn = <T>(channelId: Hash, run: () => Promise<T>): Promise<T> => {
    const prev = turns.get(channelId) ?? Promise.resolve();
    const mine = prev.then(run, run);
    turns.set(
      channelId,
      mine.catch(() => undefined),
    );
    return mine;
  };
  const nowS = () => BigInt(Math.floor(deps.now() / 1000));
  const record = (p: PaymentRecord) => {
    store.putPayment(p);
    deps.onChange();
  };

  function nodeViewOf(o: Open, payer: PayerIndex): PayerState | null {
    return nodePayerViews(o.view.offchain?.raw)?.[payer] ?? null;
  }

  function balanceOf(o: Open): ChannelBalance {
    const node = nodeViewOf(o, o.payer);
    const mine = node && node.seq > o.state.seq ? node : o.state;
    const theirs = nodeViewOf(o, (1 - o.payer) as PayerIndex) ?? {
      ...o.state,
      seq: 0,
      paidTotal: 0n,
      lockedTotal: 0n,
    };
    const [s0, s1] = o.payer === 0 ? [mine, theirs] : [theirs, mine];
    const b = channelBalances(o.view.deposit0, o.view.deposit1, s0, s1);
    return {
      channelId: o.view.channelId,
      counterparty: o.counterparty,
      asset: o.view.params.asset as Address,
      canSend: o.payer === 0 ? b.available0 : b.available1,
      canReceive: o.payer === 0 ? b.available1 : b.available0,
      heldOut: mine.lockedTotal,
      heldIn: theirs.lockedTotal,
      mySeq: mine.seq,
    };
  }

  async function open(view: ChannelView): Promise<Open> {
    const payer = view.side as PayerIndex;
    const counterparty = (payer === 0 ? view.params.participant1 : view.params.participant0) as Address;
    const o: Open = {
      view,
      payer,
      counterparty,
      state: await store.sentState(view.channelId, payer),
      transport: null as unknown as PayerTransport,
    };
    (o as { transport: PayerTransport }).transport = paymentTransport({
      signer: session.signer,
      journal: store.journal,
      domain,
      channel: { channelId: view.channelId, payer, counterparty },
      state: {
        get: async () => o.state,
        set: async (next) => {
          // A LOCK counts as sent (for a reload) only once its outcome is in (see `sendAttempt` below):
          // a tab closed while waiting then finds it beyond the sent state and the transport sends it
          // again and awaits ITS answer, instead of locking the same invoice a second time.
          const locked = next.lockedTotal > o.state.lockedTotal;
          o.state = next;
          if (!locked) store.markSent(view.channelId, payer, next.seq);
        },
      },
      log,
      spendable: async () => balanceOf(o).canSend,
      packets: store.packets,
      peer,
      now: deps.now,
    });
    return o;
  }

  /**
   * Records the counterparty's direct PAYs to the session (History, received): its transfers on the log,
   * signed by it, that add to its paid total without a lock (a PAY, not an UNLOCK of a routed payment).
   */
  function followDirectPays(o: Open): Subscription {
    const them = (1 - o.payer) as PayerIndex;
    return log.transfers(o.view.channelId, (m) => {
      const t = m.transfer;
      if (t.payer !== them || t.kind !== TransferKind.Pay) return;
      const id = `in:pay:${o.view.channelId}:${t.seq}`;
      if (store.payments().some((p) => p.id === id)) return;
      try {
        if (transferSigner(domain, t).toLowerCase() !== o.counterparty.toLowerCase()) return;
      } catch {
        return; // not signed by the counterparty: the node refuses it too
      }
      const at = Date.now();
      record({
        id,
        direction: "received",
        kind: "direct",
        status: "done",
        channelId: o.view.channelId,
        counterparty: o.counterparty,
        amount: t.amount,
        fee: 0n,
        asset: o.view.params.asset as Address,
        description: "direct payment",
        seq: t.seq,
        createdAtMs: at,
        updatedAtMs: at,
      });
    });
  }

  function restartReceiving(): void {
    const list = [...channels.values()].filter((o) => o.view.status === "OPEN");
    const key = list.map((o) => `${o.view.channelId}:${o.view.deposit0}:${o.view.deposit1}`).join(",");
    if (key === receivingKey) return;
    receiving?.stop();
    directPays.forEach((s) => s.stop());
    directPays = list.map(followDirectPays);
    receivingKey = key;
    receiving = receivePayments({
      signer: session.signer,
      onionKey: session.privateKey,
      domain,
      channels: list.map((o) => ({
        channelId: o.view.channelId,
        payer: (1 - o.payer) as PayerIndex,
        counterparty: o.counterparty,
        counterpartyDeposit: o.payer === 0 ? o.view.deposit1 : o.view.deposit0,
      })),
      invoices: {
        lookup: async (hashlock) => store.invoiceByHashlock(hashlock),
        markRevealed: async (hashlock) => {
          const inv = store.invoiceByHashlock(hashlock);
          if (inv) store.putInvoice({ ...inv, revealed: true });
        },
      },
      log,
      peer,
      now: deps.now,
      onEvent: (e) => {
        if (e.kind !== "settling") return;
        const inv = store.invoices().find((i) => i.invoiceId.toLowerCase() === e.invoiceId.toLowerCase());
        if (!inv || inv.paidAtMs) return;
        const at = Date.now();
        store.putInvoice({ ...inv, paidAtMs: at, paidVia: e.channelId });
        const o = channels.get(e.channelId.toLowerCase());
        record({
          id: `in:${inv.invoiceId}`,
          direction: "received",
          kind: "invoice",
          status: "done",
          channelId: e.channelId,
          counterparty: o?.counterparty ?? (e.channelId as Address),
          amount: inv.amount,
          fee: 0n,
          asset: inv.asset,
          description: inv.description,
          preimage: inv.secret,
          createdAtMs: inv.createdAtMs,
          updatedAtMs: at,
        });
      },
    });
  }

  async function resume(): Promise<void> {
    for (const o of channels.values()) await inTurn(o.view.channelId, () => o.transport.resume());
    for (const p of store.payments()) {
      if (p.status !== "pending" || p.direction !== "sent") continue;
      if (p.kind === "invoice" && p.invoice) void runInvoice(p, p.invoice, p.maxFee);
      if (p.kind === "direct") void confirmDirect(p);
    }
  }

  /**
   * The graph a payment routes on: the session's own directions (signed locally with what it can lock
   * now, not published); the invoice's route hints add the mediator's channel into the payee.
   */
  /** Forwarders' routing keys learned from the node's graph (by lower-case address). */
  const announcedKeys = new Map<string, Uint8Array>();

  /** The node's graph taken into `graph` (re-checked, `applyNodeGraph`); unreachable: nothing added. */
  async function addNodeGraph(graph: ChannelGraph, asset: Address, now: bigint): Promise<void> {
    if (!deps.readGraph) return;
    const entries = await deps.readGraph().catch((e: unknown) => {
      console.warn(`the node's graph could not be read: ${e instanceof Error ? e.message : String(e)}`);
      return [];
    });
    for (const [address, key] of applyNodeGraph(graph, domain, entries, now, asset).routingKeys)
      announcedKeys.set(address, key);
  }

  async function graphFor(asset: Address): Promise<ChannelGraph> {
    const graph = new ChannelGraph({ domain });
    const now = nowS();
    await addNodeGraph(graph, asset, now);
    for (const o of channels.values()) {
      if (o.view.status !== "OPEN" || o.view.params.asset.toLowerCase() !== asset.toLowerCase()) continue;
      const can = balanceOf(o).canSend;
      if (can <= 0n) continue;
      const update = await signChannelUpdate(session.signer, domain, {
        channelId: o.view.channelId,
        direction: o.payer,
        timestamp: now,
        capacity: can,
        feeBase: 0n,
        feePpm: 0,
        expiryDelta: 0,
        htlcMinimum: 1n,
        htlcMaximum: can,
        disabled: true, // forwards nothing for others; the router still starts the session's routes here
      });
      const p = o.view.params;
      const open = {
        participant0: p.participant0 as Address,
        participant1: p.participant1 as Address,
        asset: p.asset as Address,
      };
      graph.applyUpdate(update, (id) => (id.toLowerCase() === o.view.channelId ? open : undefined), now);
    }
    return graph;
  }

  /** Routing keys: the configured node's, and the payee's (recovered from its signature on the invoice). */
  const routingKeysFor =
    (invoice: SignedRoutedInvoice) =>
    (node: Address): Uint8Array | undefined => {
      const announced = announcedKeys.get(node.toLowerCase());
      if (announced) return announced;
      const r = deps.routing;
      if (r && r.address.toLowerCase() === node.toLowerCase())
        return fromHex(r.routingKey, "routing key", 33);
      if (invoice.invoice.payeeNode.toLowerCase() === node.toLowerCase()) {
        const digest = routedInvoiceDigest(invoice.invoice);
        return fromHex(
          SigningKey.computePublicKey(SigningKey.recoverPublicKey(digest, invoice.signature), true),
        );
      }
      return undefined;
    };

  function parse(text: string): SignedRoutedInvoice {
    try {
      return parseRoutedInvoice(text.trim(), { domain, now: nowS() });
    } catch (e) {
      throw new PaymentError(`This invoice cannot be paid: ${describePaymentError(e)}`, { cause: e });
    }
  }

  async function runInvoice(rec: PaymentRecord, text: string, maxFee?: bigint): Promise<PaymentRecord> {
    const graph = await graphFor(rec.asset);
    let latest = rec;
    const onStatus = (e: PaymentEvent) => {
      // Shown in the browser's console: why an attempt failed before another route was tried.
      if (e.kind === "failed-attempt") console.warn(`payment ${rec.id}: attempt ${e.attempt} ${e.message}`);
      if (e.kind === "attempt") {
        latest = {
          ...latest,
          fee: e.fee,
          route: [e.route.hops[0].from, ...e.route.hops.map((h) => h.to)],
          channelId: e.route.hops[0].channelId,
          updatedAtMs: Date.now(),
        };
        record(latest);
      }
    };
    try {
      const result = await pay(
        text.trim(),
        { maxFee, timeoutMs: DEFAULT_TIMEOUT_MS, onStatus },
        {
          graph,
          missionControl,
          source: session.address,
          domain,
          routingKeyOf: routingKeysFor(parse(text)),
          transport: {
            sendAttempt: (a) => {
              const o = channels.get(a.firstHopLock.channelId.toLowerCase());
              if (!o)
                throw new PaymentError(
                  `the route starts on channel ${a.firstHopLock.channelId}, not one of yours`,
                );
              return inTurn(o.view.channelId, async () => {
                const outcome = await o.transport.sendAttempt(a);
                // Settled (UNLOCK sent) or failed back: the LOCK's outcome is known, it counts as sent.
                store.markSent(o.view.channelId, o.payer, o.state.seq);
                return outcome;
              });
            },
          },
          now: deps.now,
        },
      );
      latest = {
        ...latest,
        status: "done",
        fee: result.fee,
        preimage: result.preimage,
        route: [result.route.hops[0].from, ...result.route.hops.map((h) => h.to)],
        channelId: result.route.hops[0].channelId,
        updatedAtMs: Date.now(),
      };
    } catch (e) {
      latest = { ...latest, status: "failed", reason: failureWords(e), updatedAtMs: Date.now() };
    }
    record(latest);
    return latest;
  }

  async function confirmDirect(p: PaymentRecord): Promise<PaymentRecord> {
    // The node applied it when its view of the session's chain reaches the PAY's seq.
    const deadline = Date.now() + DEFAULT_TIMEOUT_MS;
    for (;;) {
      const o = channels.get(p.channelId.toLowerCase());
      const raw = o ? await deps.readNode(o.view.channelId).catch(() => null) : null;
      const seq = o ? (nodePayerViews(raw)?.[o.payer]?.seq ?? 0) : 0;
      if (p.seq !== undefined && seq >= p.seq) {
        const done: PaymentRecord = { ...p, status: "done", updatedAtMs: Date.now() };
        record(done);
        return done;
      }
      if (Date.now() >= deadline) return p; // still pending: the node has not applied it yet
      await new Promise((r) => setTimeout(r, DIRECT_CONFIRM_POLL_MS));
    }
  }

  return {
    async update(views) {
      for (const v of views) {
        const id = v.channelId.toLowerCase();
        const known = channels.get(id);
        if (known) (known as { view: ChannelView }).view = v;
        else channels.set(id, await open(v));
      }
      restartReceiving();
      if (!resumed) {
        resumed = true;
        await resume();
      }
    },
    balances: () => [...channels.values()].filter((o) => o.view.status === "OPEN").map(balanceOf),
    async payDirect(channelId, amount) {
      const o = channels.get(channelId.toLowerCase());
      if (!o) throw new PaymentError(`Channel ${channelId} is not one of this session's channels.`);
      if (o.view.status !== "OPEN") throw new PaymentError("Payments are made in an open channel only.");
      if (amount <= 0n) throw new PaymentError("Pay a positive amount.");
      const sent = await inTurn(o.view.channelId, async () => {
        await o.transport.resume();
        const next = await store.journal.get(o.view.channelId, o.payer, o.state.seq + 1);
        if (next && !next.abandoned && next.transfer.kind === TransferKind.Lock)
          throw new PaymentError(
            "A routed payment is in flight in this channel: wait until it settles or fails.",
          );
        const can = balanceOf(o).canSend;
        if (amount > can)
          throw new PaymentError(
            `You can send at most ${can} base units in this channel now; this payment is ${amount}.`,
          );
        const t = buildTransfer(
          o.state,
          { channelId: o.view.channelId, payer: o.payer },
          { kind: "PAY", amount },
        );
        const at = Date.now();
        const rec: PaymentRecord = {
          id: `pay:${o.view.channelId}:${t.seq}`,
          direction: "sent",
          kind: "direct",
          status: "pending",
          channelId: o.view.channelId,
          counterparty: o.counterparty,
          amount,
          fee: 0n,
          asset: o.view.params.asset as Address,
          description: "direct payment",
          route: [session.address, o.counterparty],
          seq: t.seq,
          createdAtMs: at,
          updatedAtMs: at,
        };
        // Journaled (written before signing, the signature before release), then recorded, then sent.
        const signed = await signTransfer(signer, domain, t);
        record(rec);
        await log.sendTransfer(signed);
        store.markSent(o.view.channelId, o.payer, t.seq);
        o.state = await store.sentState(o.view.channelId, o.payer);
        return rec;
      });
      return confirmDirect(sent);
    },
    async preview(text, maxFee) {
      const invoice = parse(text);
      const inv = invoice.invoice;
      let routes: Route[];
      try {
        routes = findRoutes(await graphFor(inv.asset), {
          source: session.address,
          target: inv.payeeNode,
          amount: inv.amount,
          asset: inv.asset,
          finalExpiryDelta: inv.minFinalExpiryDelta + DEFAULT_FINAL_EXPIRY_MARGIN_SECONDS,
          maxFee,
          now: nowS(),
          missionControl,
          routeHints: inv.hints,
          maxRoutes: 1,
        });
      } catch (e) {
        throw new PaymentError(failureWords(e), { cause: e });
      }
      const keyOf = routingKeysFor(invoice);
      const route = routes.find((r) => r.hops.every((h) => keyOf(h.to) !== undefined));
      if (!route)
        throw new PaymentError(
          "No route to the payee: every route passes a node whose routing key this dapp does not know.",
        );
      return { invoice, route, fee: route.fee, lockExpiry: route.expiry };
    },
    async payInvoice(text, maxFee) {
      const invoice = parse(text);
      const inv = invoice.invoice;
      if (inv.payee.toLowerCase() === me) throw new PaymentError("This is your own invoice.");
      const at = Date.now();
      const rec: PaymentRecord = {
        id: `out:${invoice.invoiceId}`,
        direction: "sent",
        kind: "invoice",
        status: "pending",
        channelId: "0x" as Hash,
        counterparty: inv.payee,
        amount: inv.amount,
        fee: 0n,
        asset: inv.asset,
        description: inv.description,
        invoice: text.trim(),
        maxFee,
        createdAtMs: at,
        updatedAtMs: at,
      };
      const earlier = store.payments().find((p) => p.id === rec.id);
      if (earlier?.status === "done") throw new PaymentError("This invoice is already paid (see History).");
      if (earlier?.status === "pending") throw new PaymentError("This invoice is being paid (see History).");
      record(rec);
      return runInvoice(rec, text, maxFee);
    },
    async request(input) {
      const hints: RouteHintInput[] = [];
      const r = deps.routing;
      // Each counterparty that announces forwarding into the session's channel is a hint, at its policy.
      const announced = new ChannelGraph({ domain });
      await addNodeGraph(announced, input.asset, nowS());
      for (const o of channels.values()) {
        if (o.view.status !== "OPEN" || o.view.params.asset.toLowerCase() !== input.asset.toLowerCase())
          continue;
        const edge = announced.edge(o.view.channelId.toLowerCase() as Hash, o.payer === 0 ? 1 : 0);
        if (!edge || edge.disabled) continue;
        hints.push({
          channelId: o.view.channelId,
          node: o.counterparty,
          feeBase: edge.feeBase,
          feePpm: edge.feePpm,
          expiryDelta: edge.expiryDelta,
        });
      }
      if (r && hints.length === 0) {
        for (const o of channels.values()) {
          if (o.view.status !== "OPEN" || o.counterparty.toLowerCase() !== r.address.toLowerCase()) continue;
          if (o.view.params.asset.toLowerCase() !== input.asset.toLowerCase()) continue;
          hints.push({
            channelId: o.view.channelId,
            node: r.address,
            feeBase: r.feeBase,
            feePpm: r.feePpm,
            expiryDelta: r.expiryDelta,
          });
        }
      }
      const { invoice, text, secret } = await createRoutedInvoice({
        domain,
        signer: session.signer,
        amount: input.amount,
        asset: input.asset,
        description: input.description,
        validity: input.validitySeconds,
        now: nowS(),
        hints,
      });
      const stored: StoredInvoice = {
        invoiceId: invoice.invoiceId,
        hashlock: invoice.invoice.hashlock,
        secret,
        amount: invoice.invoice.amount,
        expiry: invoice.invoice.expiry,
        minFinalExpiryDelta: invoice.invoice.minFinalExpiryDelta,
        text,
        description: input.description,
        asset: input.asset,
        createdAtMs: Date.now(),
      };
      store.putInvoice(stored);
      deps.onChange();
      return stored;
    },
    history: () => store.payments().sort((a, b) => b.createdAtMs - a.createdAtMs),
    invoices: () => store.invoices().sort((a, b) => b.createdAtMs - a.createdAtMs),
    stop() {
      receiving?.stop();
      directPays.forEach((x) => x.stop());
    },
  };
}

/** A failed payment's reason in words: no route, not enough capacity, fee above the limit, expired, hop k. */
export function failureWords(e: unknown): string {
  return describePaymentError(e);
}
