/**
 * What the mediator's unit tests share: Bob mediates a routed payment from IN_CH (Alice pays) onto
 * OUT_CH (Bob pays Carol) under one policy; the payer's onion for that route; an in-memory book whose
 * entries are durable only as of its last flush.
 */
import { sha256 } from "ethers";
import {
  type Address,
  createOnion,
  forwardingFee,
  type Hash,
  type Hex,
  onionPublicKey,
  toHex,
} from "../../sdk";
import type { PaymentEntry } from "../../relayer/src/mediate/entry";
import { isTerminal } from "../../relayer/src/mediate/log";
import type { PaymentBook } from "../../relayer/src/mediate/service";
import type { MediationPolicy } from "../../relayer/src/mediate";

export const SECRET = `0x${"42".repeat(32)}` as Hash;
export const HASHLOCK = sha256(SECRET) as Hash;
export const IN_CH = `0x${"a0".repeat(32)}` as Hash;
export const OUT_CH = `0x${"a1".repeat(32)}` as Hash;
export const ASSET = `0x${"00".repeat(20)}` as Address;
export const BOB_KEY = `0x${"12".repeat(32)}` as Hex;
export const CAROL_KEY = `0x${"13".repeat(32)}` as Hex;
/** The tests' chain time. */
export const T0 = 1_700_000_000n;

export const POLICY: MediationPolicy = {
  feeBase: 1_000n,
  feePpm: 1_000,
  expiryDelta: 3_600n,
  maxPendingLocks: 16,
  minConfirmationMarginSeconds: 600n,
  maxExpiryAheadSeconds: 1_209_600n,
};
export const OUT_AMOUNT = 1_000_000n;
/** Bob's fee on OUT_AMOUNT: 1,000 + 1,000. */
export const FEE = forwardingFee(POLICY, OUT_AMOUNT);
export const IN_AMOUNT = OUT_AMOUNT + FEE;
export const OUT_EXPIRY = T0 + 7_200n;
export const IN_EXPIRY = OUT_EXPIRY + POLICY.expiryDelta;

/**
 * The payer's onion for Alice → Bob → Carol under `hashlock`: Bob forwards `amount` onto `nextChannel`
 * with `expiry`; Carol is the payee.
 */
export function twoHopOnion(
  o: {
    readonly hashlock?: Hash;
    readonly bobKey?: Hex;
    readonly carolKey?: Hex;
    readonly nextChannel?: Hash;
    readonly amount?: bigint;
    readonly expiry?: bigint;
    readonly paymentSecret?: Hash;
  } = {},
): { packet: Hex; sharedSecrets: readonly Uint8Array[] } {
  const amount = o.amount ?? OUT_AMOUNT;
  const expiry = o.expiry ?? OUT_EXPIRY;
  const { packet, sharedSecrets } = createOnion({
    hops: [
      {
        nodePublicKey: onionPublicKey(o.bobKey ?? BOB_KEY),
        payload: { final: false, nextChannel: o.nextChannel ?? OUT_CH, amount, expiry },
      },
      {
        nodePublicKey: onionPublicKey(o.carolKey ?? CAROL_KEY),
        payload: {
          final: true,
          amount,
          expiry,
          totalAmount: amount,
          paymentSecret: o.paymentSecret ?? (`0x${"5e".repeat(32)}` as Hash),
        },
      },
    ],
    associatedData: o.hashlock ?? HASHLOCK,
  });
  return { packet: toHex(packet), sharedSecrets };
}

/** One incoming channel's book, durable only as of its last `flush` (as a partition's changelog). */
export class MemoryBook implements PaymentBook {
  readonly map = new Map<string, PaymentEntry>();
  durable = new Map<string, PaymentEntry>();
  constructor(readonly channelId: Hash) {}
  entries(): Iterable<[string, PaymentEntry]> {
    return this.map.entries();
  }
  live(): Iterable<[string, PaymentEntry]> {
    return [...this.map].filter(([, e]) => !isTerminal(e.record));
  }
  get(k: string): PaymentEntry | undefined {
    return this.map.get(k);
  }
  isDurable(k: string, e: PaymentEntry): boolean {
    return this.durable.get(k) === e;
  }
  put(k: string, e: PaymentEntry): void {
    this.map.set(k, e);
  }
  delete(k: string): void {
    this.map.delete(k);
  }
  flush(): void {
    this.durable = new Map(this.map);
  }
  /** A crash: what was not flushed is gone. */
  crash(): void {
    this.map.clear();
    for (const [k, e] of this.durable) this.map.set(k, e);
  }
}
