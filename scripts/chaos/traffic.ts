/**
 * The signed transfers a scenario streams: payments on both sides of its channels, built and signed with
 * the SDK as they are sent (deposits are never exhausted, so every transfer is valid and fundable), at a
 * steady rate in ticks of 100 ms, with some neighbours swapped and some copies re-sent as a real network
 * delivers them. It keeps, per payer, every produced transfer's head and paid total (the independent
 * computation the nodes are compared with) and what the brokers acknowledged.
 */
import {
  applyTransfer,
  buildTransfer,
  codecs,
  type Domain,
  GENESIS_STATE,
  type Hash,
  type Hex,
  nativeSigner,
  type PayerIndex,
  type PayerState,
  signTransferUnjournaled,
  transferMessage,
} from "../../sdk";
import type { LogProducer, OutRecord } from "../../relayer/src/kafka/client";
import { channelKey } from "../../relayer/src/kafka/topics";
import type { SimChannel } from "../simulator/generate";
import { prng } from "../simulator/generate";

/** One payer's produced chain: index `seq` holds transfer `seq` (index 0: genesis). */
export interface PayerLog {
  readonly heads: Hash[];
  readonly paid: bigint[];
  readonly wires: string[];
  /** The highest seq whose transfer (and every earlier one) the brokers acknowledged. */
  acked: number;
}

export interface TrafficChannel {
  readonly channel: SimChannel;
  readonly key: Buffer;
  readonly payers: readonly [PayerLog, PayerLog];
}

const TICK_MS = 100;
const SEND_TIMEOUT_MS = 45_000;
const REOPEN_AFTER_MS = 20_000;

export class Traffic {
  readonly channels: TrafficChannel[];
  /** Hex of every message sent more than once on purpose (copies, batches re-sent after a failed send). */
  readonly resent = new Set<string>();
  sendFailures = 0;
  private readonly states: [PayerState, PayerState][];
  private readonly signers: (readonly [ReturnType<typeof nativeSigner>, ReturnType<typeof nativeSigner>])[];
  private readonly random: () => number;
  private readonly recent: OutRecord[] = [];
  private extra: OutRecord[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  sendTimeouts = 0;
  producerReopens = 0;
  private producer: LogProducer | null = null;

  constructor(
    private readonly domain: Domain,
    /** Opens a producer (the stream opens its own, and a new one when the old one stays wedged). */
    private readonly openProducer: () => Promise<LogProducer>,
    private readonly topic: string,
    channels: readonly SimChannel[],
    private readonly ratePerSecond: number,
    seed: number,
    private readonly log: (m: string) => void,
  ) {
    this.random = prng(seed);
    this.channels = channels.map((channel) => ({
      channel,
      key: channelKey(channel.id),
      payers: [
        { heads: [GENESIS_STATE.head], paid: [0n], wires: [""], acked: 0 },
        { heads: [GENESIS_STATE.head], paid: [0n], wires: [""], acked: 0 },
      ],
    }));
    this.states = channels.map(() => [GENESIS_STATE, GENESIS_STATE]);
    this.signers = channels.map(
      (c) => [nativeSigner(c.keys[0] as Hex), nativeSigner(c.keys[1] as Hex)] as const,
    );
  }

  /** Valid transfers produced so far. */
  get produced(): number {
    return this.channels.reduce((n, c) => n + c.payers[0].heads.length + c.payers[1].heads.length - 2, 0);
  }

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the tick in progress; resolves once everything generated was sent. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.producer?.close().catch(() => undefined);
    this.producer = null;
  }

  /** Adds records (junk, a poison message) to the next tick's send, among the transfers. */
  inject(records: readonly OutRecord[]): void {
    this.extra.push(...records);
  }

  /** Sends records now, outside the stream (retrying like the stream does). */
  async sendNow(records: readonly OutRecord[]): Promise<void> {
    await this.send(records);
  }

  /** A fresh transfer of a random channel that is never applied here (to truncate into junk). */
  spare(): { key: Buffer; wire: Buffer } {
    const i = Math.floor(this.random() * this.channels.length);
    const payer = (this.random() < 0.5 ? 0 : 1) as PayerIndex;
    const c = this.channels[i];
    const t = buildTransfer(
      this.states[i][payer],
      { channelId: c.channel.id, payer },
      { kind: "PAY", amount: 1n },
    );
    const signed = signTransferUnjournaled(this.signers[i][payer], this.domain, t);
    const wire = codecs().transfer.encode(
      transferMessage(this.domain, signed, this.signers[i][payer].address, { sentAtMs: Date.now() }),
    );
    return { key: c.key, wire };
  }

  private async run(): Promise<void> {
    const started = performance.now();
    let sent = 0;
    while (this.running) {
      const due = Math.floor(((performance.now() - started) / 1000) * this.ratePerSecond) - sent;
      if (due > 0) {
        const { records, acked } = this.generate(due);
        await this.send(records);
        for (const [c, payer, seq] of acked) c.payers[payer].acked = Math.max(c.payers[payer].acked, seq);
        sent += due;
      }
      await new Promise((r) => setTimeout(r, TICK_MS));
    }
  }

  private generate(count: number): { records: OutRecord[]; acked: [TrafficChannel, PayerIndex, number][] } {
    const records: OutRecord[] = [];
    for (let k = 0; k < count; k++) {
      const i = Math.floor(this.random() * this.channels.length);
      const payer = (this.random() < 0.5 ? 0 : 1) as PayerIndex;
      const c = this.channels[i];
      const amount = 1_000_000_000n + BigInt(Math.floor(this.random() * 1000));
      const t = buildTransfer(
        this.states[i][payer],
        { channelId: c.channel.id, payer },
        { kind: "PAY", amount },
      );
      const signed = signTransferUnjournaled(this.signers[i][payer], this.domain, t);
      const state = applyTransfer(this.states[i][payer], signed);
      this.states[i][payer] = state;
      const wire = codecs().transfer.encode(
        transferMessage(this.domain, signed, this.signers[i][payer].address, { sentAtMs: Date.now() }),
      );
      const log = c.payers[payer];
      log.heads.push(state.head);
      log.paid.push(state.paidTotal);
      log.wires.push(wire.toString("hex"));
      records.push({ key: c.key, value: wire });
    }
    // Neighbours swapped (~3 %) and copies of recent messages re-sent (~1 %).
    for (let k = 1; k < records.length; k++)
      if (this.random() < 0.03) [records[k - 1], records[k]] = [records[k], records[k - 1]];
    const out: OutRecord[] = [];
    for (const r of records) {
      out.push(r);
      if (this.recent.length > 0 && this.random() < 0.01) {
        const copy = this.recent[Math.floor(this.random() * this.recent.length)];
        this.resent.add((copy.value as Buffer).toString("hex"));
        out.push(copy);
      }
      this.recent.push(r);
      if (this.recent.length > 64) this.recent.shift();
    }
    out.push(...this.extra);
    this.extra = [];
    const acked = this.channels.flatMap((c, i) =>
      ([0, 1] as const).map((p): [TrafficChannel, PayerIndex, number] => [c, p, this.states[i][p].seq]),
    );
    return { records: out, acked };
  }

  /**
   * Sends until the brokers acknowledge. A failed (or timed out) send may have written some records: the
   * retry sends them again, so they are noted as re-sent (the nodes may rightly dead-letter those as
   * Duplicate). A producer that keeps failing for 20 s is replaced by a new one.
   */
  private async send(records: readonly OutRecord[]): Promise<void> {
    let failures = 0;
    let since = Date.now();
    for (;;) {
      try {
        this.producer ??= await this.openProducer();
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            this.sendTimeouts++;
            reject(new Error("no acknowledgement within 45 s"));
          }, SEND_TIMEOUT_MS);
        });
        try {
          await Promise.race([this.producer.send(this.topic, records), timeout]);
        } finally {
          clearTimeout(timer);
        }
        if (failures > 0) this.log(`  producing works again after ${failures} failed attempts`);
        return;
      } catch (e) {
        this.sendFailures++;
        failures++;
        for (const r of records) if (r.value) this.resent.add((r.value as Buffer).toString("hex"));
        if (failures === 1 || failures % 10 === 0)
          this.log(`  producing failed (${failures}×): ${e instanceof Error ? e.message : String(e)}`);
        if (Date.now() - since > REOPEN_AFTER_MS && this.producer) {
          const old = this.producer;
          this.producer = null;
          this.producerReopens++;
          since = Date.now();
          void old.close().catch(() => undefined);
          this.log("  replacing the stream's producer");
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}
