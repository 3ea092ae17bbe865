/**
 * What a node keeps per channel for mediation (protocol §11.5): the payments whose INCOMING lock is in
 * the channel (`PaymentEntry`: the pure core's record plus what the node needs to act on it), each a
 * changelog record of its own (`encodePaymentEntry`), and the peer messages received about the node's own
 * locks in the channel (`InboxEntry`), in the snapshot's `mediation` bytes (`encodeMediation`). Both are
 * written in the partition's flush transaction, so restore and fencing cover them like the rest of the
 * channel.
 */
import type { Hash, Hex, PayerIndex } from "../../../sdk";
import type { CancelConsentRef } from "../../../sdk/src/routing/payment-message";
import { MalformedError } from "../../../sdk";
import { isTerminal } from "./log";
import type { ForwardedPayment } from "./types";

/** The mediator's own transfer in the outgoing channel, journaled (with its seq) before it is signed. */
export interface OutgoingOp {
  readonly kind: "LOCK" | "UNLOCK" | "CANCEL";
  readonly seq: number;
  /** A CANCEL journaled before the lock's expiry on the downstream's consent (it carries it). */
  readonly consented?: boolean;
}

/** One payment the node mediates, keyed by its incoming lock (`paymentKey`). */
export interface PaymentEntry {
  readonly record: ForwardedPayment;
  /** The upstream payer's index in the incoming channel (the node is the other participant). */
  readonly upstream: PayerIndex;
  /** How the upstream resolved the incoming lock, as applied to the channel; null while it is pending. */
  readonly upstreamResolved: "UNLOCK" | "CANCEL" | null;
  /** This hop's onion shared secret (the key of the failures it sends upstream); zero: the onion did not open. */
  readonly sharedSecret: Hex;
  /** The packet for the next hop, kept until the outgoing LOCK is applied. */
  readonly next: Hex | null;
  /** The journaled outgoing transfer not yet seen applied. */
  readonly op: OutgoingOp | null;
  /** Chain time of the last change (settled and failed entries are pruned some time after it). */
  readonly updatedAt: bigint;
}

/** A verified peer message about the node's own LOCK `seq` in the channel. */
export type InboxEntry =
  | { readonly kind: "SECRET"; readonly seq: number; readonly secret: Hash; readonly at: bigint }
  | { readonly kind: "FAIL"; readonly seq: number; readonly failure: Hex; readonly at: bigint }
  /** The payee's consent to the CANCEL of the LOCK at `consent.seq` (checked when the node uses it). */
  | {
      readonly kind: "CONSENT";
      readonly seq: number;
      readonly consent: CancelConsentRef;
      readonly at: bigint;
    };

/**
 * Whether a payer waits on this change of an entry being journaled (`durable`: the entry as the last
 * committed flush holds it). A new outgoing op is signed only once durable, and with it every op after
 * it in the outgoing channel, a routed LOCK among them; a failure goes upstream only once journaled.
 * The mediator flushes such a change at once; every other one (an op seen applied, the UNLOCK owed
 * downstream already journaled, the upstream's UNLOCK) can share a flush a little later.
 */
export function awaitsFlush(e: PaymentEntry, durable: PaymentEntry | undefined): boolean {
  if (e.op && (durable?.op?.seq !== e.op.seq || durable.op.kind !== e.op.kind)) return true;
  const p = e.record;
  return (
    p.state === "FAILED_DOWNSTREAM" &&
    p.failureSentAt === null &&
    durable?.record.state !== "FAILED_DOWNSTREAM"
  );
}

/** The key of an incoming lock's entry: the upstream payer and its seq. */
export function paymentKey(upstream: PayerIndex, payerSeq: bigint): string {
  return `${upstream}/${payerSeq}`;
}

/** The key of an inbox entry: one message per kind and lock. */
export function inboxKey(payer: PayerIndex, seq: number, kind: InboxEntry["kind"]): string {
  return `${payer}/${seq}/${kind}`;
}

export interface MediationState {
  readonly payments: ReadonlyMap<string, PaymentEntry>;
  readonly inbox: ReadonlyMap<string, InboxEntry>;
}

const EMPTY = new Uint8Array(0);

/**
 * The snapshot's `mediation` bytes: UTF-8 JSON `{v: 1, payments: [[key, entry]…] (in flight only), inbox: [[key, entry]…]}`
 * with bigints as `{"$n": "<decimal>"}`; empty when the channel has neither (the common case costs
 * one byte of Avro). The node writes its payments as records of their own (`snapshotOf` leaves them
 * out); `payments` is read from snapshots written before.
 */
export function encodeMediation(s: MediationState): Uint8Array {
  // Finished payments are not journaled: nothing can change them, so a restore does not need them (they
  // stay listed in memory until pruned), and each flush writes only the payments still in flight.
  const live = [...s.payments].filter(([, e]) => !isTerminal(e.record));
  if (live.length === 0 && s.inbox.size === 0) return EMPTY;
  // The same text as JSON.stringify of the whole object, built from each entry's memoised text: entries
  // are immutable (a change replaces the object), and a channel's flush re-writes every entry in flight.
  const pair = ([key, entry]: readonly [string, object]): string =>
    `[${JSON.stringify(key)},${jsonOf(entry)}]`;
  const json = `{"v":1,"payments":[${live.map(pair).join(",")}],"inbox":[${[...s.inbox].map(pair).join(",")}]}`;
  return Buffer.from(json, "utf8");
}

const bigintAsObject = (_: string, v: unknown): unknown => (typeof v === "bigint" ? { $n: v.toString() } : v);
const texts = new WeakMap<object, string>();

/** An entry's JSON (bigints as `{"$n": …}`), computed once per entry object. */
function jsonOf(entry: object): string {
  let text = texts.get(entry);
  if (text === undefined) texts.set(entry, (text = JSON.stringify(entry, bigintAsObject)));
  return text;
}

/** Parses JSON with bigints as `{"$n": "<decimal>"}` (`Malformed` when it is not). */
function parseTagged(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString("utf8"), (_, v: unknown) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const n = (v as { $n?: unknown }).$n;
        if (typeof n === "string" && Object.keys(v).length === 1) {
          if (!/^-?\d{1,80}$/.test(n)) throw new Error(`bad integer ${n}`);
          return BigInt(n);
        }
      }
      return v;
    });
  } catch (e) {
    throw new MalformedError(`${what} is not readable (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Reads `encodeMediation`'s bytes (`Malformed` when they are not). */
export function decodeMediation(bytes: Uint8Array): MediationState {
  if (bytes.length === 0) return { payments: new Map(), inbox: new Map() };
  const o = parseTagged(bytes, "mediation state") as { v?: unknown; payments?: unknown; inbox?: unknown };
  if (o?.v !== 1 || !Array.isArray(o.payments) || !Array.isArray(o.inbox))
    throw new MalformedError("mediation state has an unknown layout");
  return {
    payments: new Map(o.payments as [string, PaymentEntry][]),
    inbox: new Map(o.inbox as [string, InboxEntry][]),
  };
}

/** One payment's changelog value: its entry as `encodeMediation` writes it (UTF-8 JSON). */
export function encodePaymentEntry(entry: PaymentEntry): Buffer {
  return Buffer.from(jsonOf(entry), "utf8");
}

/** Reads `encodePaymentEntry`'s bytes (`Malformed` when they are not an entry). */
export function decodePaymentEntry(bytes: Uint8Array): PaymentEntry {
  const e = parseTagged(bytes, "payment entry") as Partial<PaymentEntry> | null;
  if (e === null || typeof e !== "object" || typeof e.record !== "object" || e.record === null)
    throw new MalformedError("payment entry has an unknown layout");
  return e as PaymentEntry;
}
