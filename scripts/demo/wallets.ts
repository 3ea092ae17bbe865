/**
 * The parties' wallets, as the client library builds them: a payer pays a routed invoice with the SDK's
 * `pay()` over the client's `paymentTransport` (its own channel with the first hop), routing on the graph
 * the nodes announced; a payee answers its routed LOCKs with `receivePayments`. Both talk through the
 * Kafka payment log the tasks use. Two faults a story needs: a payer that withholds its UNLOCKs, and a
 * payee whose answers wait at a gate (so a payment stays in flight while a node is killed).
 */
import {
  ChannelGraph,
  GENESIS_STATE,
  MissionControl,
  codecs,
  createRoutedInvoice,
  localSigner,
  memoryJournal,
  onionPublicKey,
  pay,
  signChannelUpdate,
  signPaymentMessage,
  verifyPaymentMessage,
  TransferKind,
  type Hash,
  type Hex,
  type OpenChannel,
  type PayerState,
  type PaymentEvent,
  type PaymentResult,
} from "../../sdk";
import {
  paymentTransport,
  receivePayments,
  type IssuedInvoice,
  type PayeeEvent,
  type PaymentLog,
  type Subscription,
} from "../../client";
import type { LogClient } from "../../relayer";
import type { DemoChain } from "./chain";
import type { NetChannel, Network, Party } from "./network";
import type { SharedTopics } from "./nodes";
import { waitFor } from "./report";

const PAY_TIMEOUT_MS = 120_000;
const peer = { sign: signPaymentMessage, verify: verifyPaymentMessage };

/** Holds a payee's answers until released. */
export class Gate {
  private opened: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;

  hold(): void {
    this.opened = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open();
  }

  pass(): Promise<void> {
    return this.opened;
  }
}

/** What every wallet shares: the chain, the network, the payment log and where announcements are. */
export interface WalletContext {
  readonly chain: DemoChain;
  readonly net: Network;
  readonly log: PaymentLog;
  readonly client: LogClient;
  readonly topics: SharedTopics;
}

/** A payee: its invoices (with their secrets) and what it did with each LOCK. */
export class Payee {
  readonly invoices: IssuedInvoice[] = [];
  readonly events: PayeeEvent[] = [];
  readonly gate = new Gate();
  private readonly sub: Subscription;

  constructor(
    readonly party: Party,
    channels: readonly NetChannel[],
    private readonly ctx: WalletContext,
  ) {
    const gated: PaymentLog = {
      ...ctx.log,
      sendPeerMessage: async (m) => {
        await this.gate.pass();
        await ctx.log.sendPeerMessage(m);
      },
    };
    this.sub = receivePayments({
      signer: localSigner(party.key),
      onionKey: party.key,
      domain: ctx.chain.domain,
      channels: channels.map((c) => {
        const payer = ctx.net.indexOf(c, party.name) === 0 ? 1 : 0;
        return {
          channelId: c.id,
          payer,
          counterparty: c.parties[payer].address,
          counterpartyDeposit: c.deposits[payer],
        };
      }),
      invoices: {
        lookup: async (hl) => this.invoices.find((i) => i.hashlock.toLowerCase() === hl.toLowerCase()),
        markRevealed: async (hl) => {
          const i = this.invoices.findIndex((x) => x.hashlock.toLowerCase() === hl.toLowerCase());
          if (i >= 0) this.invoices[i] = { ...this.invoices[i], revealed: true };
        },
      },
      log: gated,
      peer,
      onEvent: (e) => this.events.push(e),
      now: ctx.chain.nowMs,
    });
  }

  /** A routed invoice for `amount`, kept in the payee's secret store. */
  async invoice(amount: bigint): Promise<{ text: string; hashlock: Hash }> {
    const { invoice, text, secret } = await createRoutedInvoice({
      domain: this.ctx.chain.domain,
      signer: localSigner(this.party.key),
      amount,
      now: BigInt(Math.floor(this.ctx.chain.nowMs() / 1000)),
    });
    this.invoices.push({
      invoiceId: invoice.invoiceId,
      hashlock: invoice.invoice.hashlock,
      secret,
      amount: invoice.invoice.amount,
      expiry: invoice.invoice.expiry,
      minFinalExpiryDelta: invoice.invoice.minFinalExpiryDelta,
    });
    return { text, hashlock: invoice.invoice.hashlock };
  }

  stop(): void {
    this.sub.stop();
  }
}

/** A payer with one channel to its first hop; `withholdUnlocks` makes it keep its UNLOCKs to itself. */
export class Payer {
  state: PayerState = GENESIS_STATE;
  withholdUnlocks = false;
  /** UNLOCKs it signed and never sent. */
  withheld = 0;
  private readonly journal = memoryJournal();
  private readonly packets = new Map<string, Hex>();
  private readonly missionControl = new MissionControl();

  constructor(
    readonly party: Party,
    readonly channel: NetChannel,
    private readonly graph: ChannelGraph,
    private readonly ctx: WalletContext,
  ) {}

  pay(text: string, events: PaymentEvent[] = []): Promise<PaymentResult> {
    const { chain, net, log } = this.ctx;
    const index = net.indexOf(this.channel, this.party.name);
    const sending: PaymentLog = {
      ...log,
      sendTransfer: async (t, route) => {
        if (this.withholdUnlocks && t.kind === TransferKind.Unlock) {
          this.withheld++;
          return;
        }
        await log.sendTransfer(t, route);
      },
    };
    const transport = paymentTransport({
      signer: localSigner(this.party.key),
      journal: this.journal,
      domain: chain.domain,
      channel: {
        channelId: this.channel.id,
        payer: index,
        counterparty: this.channel.parties[1 - index].address,
      },
      state: { get: async () => this.state, set: async (s) => void (this.state = s) },
      packets: {
        get: async (c, seq) => this.packets.get(`${c}:${seq}`),
        put: async (c, seq, p) => void this.packets.set(`${c}:${seq}`, p),
      },
      log: sending,
      peer,
      now: chain.nowMs,
    });
    const routingKeys = new Map(
      Object.values(net.parties).map((p) => [p.address.toLowerCase(), onionPublicKey(p.key)]),
    );
    return pay(
      text,
      { timeoutMs: PAY_TIMEOUT_MS, onStatus: (e) => events.push(e) },
      {
        graph: this.graph,
        missionControl: this.missionControl,
        source: this.party.address,
        domain: chain.domain,
        routingKeyOf: (n) => routingKeys.get(n.toLowerCase()),
        transport,
        now: chain.nowMs,
      },
    );
  }
}

/**
 * `payer`'s view of the network: the nodes' signed channel updates on the graph topic (waiting until
 * `announced` directions are all there), plus its own channel's direction, which it signs itself.
 */
export async function loadGraph(
  ctx: WalletContext,
  payer: Party,
  own: NetChannel,
  announced: readonly { channel: NetChannel; direction: 0 | 1 }[],
): Promise<ChannelGraph> {
  const { chain, net, client, topics } = ctx;
  const open = new Map<Hash, OpenChannel>(
    Object.values(net.channels).map((c) => [
      c.id,
      { participant0: c.params.participant0, participant1: c.params.participant1, asset: c.params.asset },
    ]),
  );
  const graph = new ChannelGraph({ domain: chain.domain });
  const now = (): bigint => BigInt(Math.floor(chain.nowMs() / 1000));
  const seen = new Set<string>();
  await waitFor("the mediators' channel updates on the graph topic", async () => {
    for (const [p, end] of await client.endOffsets(topics.channelGraph)) {
      await client.readPartition(topics.channelGraph, p, 0, end, (records) => {
        for (const r of records) {
          if (!r.value) continue;
          const m = codecs().channelUpdate.decode(r.value as Buffer);
          if (graph.applyUpdate(m.update, (id) => open.get(id), now()).applied)
            seen.add(`${m.update.channelId}:${m.update.direction}`);
        }
      });
    }
    return announced.every((a) => seen.has(`${a.channel.id}:${a.direction}`));
  });
  const direction = net.indexOf(own, payer.name);
  const capacity = own.deposits[direction];
  const update = await signChannelUpdate(localSigner(payer.key), chain.domain, {
    channelId: own.id,
    direction,
    timestamp: now(),
    capacity,
    feeBase: 0n,
    feePpm: 0,
    expiryDelta: 0,
    htlcMinimum: 1n,
    htlcMaximum: capacity,
    disabled: false,
  });
  const applied = graph.applyUpdate(update, (id) => open.get(id), now());
  if (!applied.applied) throw new Error(`${payer.name}'s own channel update was refused: ${applied.reason}`);
  return graph;
}
