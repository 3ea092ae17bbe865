/**
 * What the dapp's payments keep in the browser (Web Storage, one origin, per session key): the signing
 * journal (the SDK's `storageJournal`: every transfer is written before it is signed and its signature
 * before it is released), the onion packet of each LOCK (written before the LOCK is signed), how far each
 * channel's chain is known to be on the log, the payments (history, and the ones in flight to resume) and
 * the invoices this wallet issued with their secrets. `localStorage.setItem` is synchronous: once it
 * returns, a reload or a crash of the tab finds the value.
 */
import type { Address } from "viem";
import {
  GENESIS_STATE,
  applyTransfer,
  storageJournal,
  type Hash,
  type Hex,
  type JournalStorage,
  type PayerIndex,
  type PayerState,
  type SigningJournal,
} from "../../../sdk/isomorphic";
import type { IssuedInvoice, PacketStore } from "../../../client";

/** A payment as the history shows it. Amounts are decimal strings in storage, bigint here. */
export interface PaymentRecord {
  readonly id: string;
  readonly direction: "sent" | "received";
  readonly kind: "direct" | "invoice";
  readonly status: "pending" | "done" | "failed";
  readonly channelId: Hash;
  /** The payee (sent) or the payer's channel counterparty (received). */
  readonly counterparty: Address;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly asset: Address;
  readonly description: string;
  /** The invoice text (sent by invoice): what a reopened tab pays again to resume. */
  readonly invoice?: string;
  readonly maxFee?: bigint;
  /** Node addresses of the route taken, payer first. */
  readonly route?: readonly Address[];
  readonly preimage?: Hash;
  /** Seq of the direct PAY. */
  readonly seq?: number;
  readonly reason?: string;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

/** An invoice this wallet issued, with what the Request screen shows. */
export interface StoredInvoice extends IssuedInvoice {
  readonly text: string;
  readonly description: string;
  readonly asset: Address;
  readonly createdAtMs: number;
  /** Set when the payee answered a lock of it with the secret. */
  readonly paidAtMs?: number;
  readonly paidVia?: Hash;
}

const BIG_FIELDS = new Set(["amount", "fee", "maxFee", "expiry"]);

function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

function decode<T>(text: string): T {
  return JSON.parse(text, (k, v: unknown) =>
    BIG_FIELDS.has(k) && typeof v === "string" && /^\d+$/.test(v) ? BigInt(v) : v,
  ) as T;
}

export interface PaymentStore {
  readonly journal: SigningJournal;
  readonly packets: PacketStore;
  /** The payer's state after its transfers known to be on the log (rebuilt from the journal). */
  sentState(channelId: Hash, payer: PayerIndex): Promise<PayerState>;
  markSent(channelId: Hash, payer: PayerIndex, seq: number): void;
  payments(): PaymentRecord[];
  putPayment(p: PaymentRecord): void;
  invoices(): StoredInvoice[];
  putInvoice(i: StoredInvoice): void;
  invoiceByHashlock(hashlock: Hash): StoredInvoice | undefined;
}

/** The store of session key `session` on one deployment (`scope`: chain id and contract). */
export function paymentStore(storage: JournalStorage, scope: string, session: Address): PaymentStore {
  const prefix = `parsec:${scope}:${session.toLowerCase()}:`;
  const journal = storageJournal(storage, `${prefix}journal:`);
  const list = <T>(name: string): T[] => {
    const text = storage.getItem(prefix + name);
    return text ? decode<T[]>(text) : [];
  };
  const putIn = <T extends object>(name: string, item: T, same: (a: T) => boolean): void => {
    const items = list<T>(name);
    const i = items.findIndex(same);
    if (i >= 0) items[i] = item;
    else items.push(item);
    storage.setItem(prefix + name, encode(items));
  };
  const sentKey = (channelId: Hash, payer: PayerIndex) => `${prefix}sent:${channelId.toLowerCase()}:${payer}`;
  return {
    journal,
    packets: {
      get: async (channelId, seq) =>
        (storage.getItem(`${prefix}packet:${channelId.toLowerCase()}:${seq}`) as Hex | null) ?? undefined,
      put: async (channelId, seq, packet) =>
        storage.setItem(`${prefix}packet:${channelId.toLowerCase()}:${seq}`, packet),
    },
    async sentState(channelId, payer) {
      const top = Number(storage.getItem(sentKey(channelId, payer)) ?? "0");
      let state = GENESIS_STATE;
      for (let seq = 1; seq <= top; seq++) {
        const entry = await journal.get(channelId, payer, seq);
        if (!entry) throw new Error(`the signing journal lost seq ${seq} of channel ${channelId}`);
        state = applyTransfer(state, entry.transfer);
      }
      return state;
    },
    markSent(channelId, payer, seq) {
      const top = Number(storage.getItem(sentKey(channelId, payer)) ?? "0");
      if (seq > top) storage.setItem(sentKey(channelId, payer), String(seq));
    },
    payments: () => list<PaymentRecord>("payments"),
    putPayment: (p) => putIn("payments", p, (x) => x.id === p.id),
    invoices: () => list<StoredInvoice>("invoices"),
    putInvoice: (i) => putIn("invoices", i, (x) => x.hashlock.toLowerCase() === i.hashlock.toLowerCase()),
    invoiceByHashlock: (hashlock) =>
      list<StoredInvoice>("invoices").find((x) => x.hashlock.toLowerCase() === hashlock.toLowerCase()),
  };
}
