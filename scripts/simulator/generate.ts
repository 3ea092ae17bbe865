/**
 * Protocol message generation for the simulator (the paper's "simulator that generates protocol
 * messages into a Kafka cluster") and the relayer benchmark: signed transfers of many channels —
 * payments, some paying an invoice, some hashed-timelock LOCK/UNLOCK pairs — built and signed with the
 * SDK, encoded with its Avro codec, then mixed into one stream with some neighbours swapped and some
 * copies re-sent, as a real network delivers them. Deterministic for a seed.
 */
import {
  applyTransfer,
  buildTransfer,
  type ChannelParams,
  codecs,
  createInvoice,
  Currency,
  type Domain,
  GENESIS_STATE,
  type Hash,
  hashlockOf,
  type Hex,
  invoiceIdOf,
  InvoiceType,
  type LocalSigner,
  type PayerIndex,
  type PayerState,
  type SignedTransfer,
  signTransferUnjournaled,
  transferMessage,
} from "../../sdk";

/** A channel the simulator drives: its parameters, id, and both participants' keys. */
export interface SimChannel {
  readonly params: ChannelParams;
  readonly id: Hash;
  readonly keys: readonly [Hex, Hex];
  /** What each side deposited (payments never overdraw it). */
  readonly deposits: readonly [bigint, bigint];
}

/** The final state a channel must reach (the benchmark's independent computation). */
export interface ChannelOutcome {
  readonly id: Hash;
  readonly seq: readonly [number, number];
  readonly paidTotal: readonly [bigint, bigint];
}

export interface GenerateOptions {
  readonly domain: Domain;
  /** Transfers per channel (both payers together). */
  readonly perChannel: number;
  readonly seed: number;
  /** Share of transfers that are LOCK then UNLOCK pairs (default 0.05). */
  readonly lockShare?: number;
  /** Share of payments that pay a signed invoice of the payee (default 0.1). */
  readonly invoiceShare?: number;
  /** `sentAtMs` written into every message (0: unknown; the node then skips its latency). */
  readonly sentAtMs?: number;
  readonly signerOf: (key: Hex) => LocalSigner;
}

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomHash(random: () => number): Hash {
  let s = "0x";
  for (let i = 0; i < 8; i++)
    s += Math.floor(random() * 2 ** 32)
      .toString(16)
      .padStart(8, "0");
  return s as Hash;
}

/**
 * A channel's transfers in chain order per payer, interleaved. Payer 1 only spends what payer 0 paid
 * it earlier in the stream, so no transfer overdraws even when the two chains arrive in another order.
 */
export function generateChannel(
  ch: SimChannel,
  opts: GenerateOptions,
  index: number,
): { wires: Buffer[]; outcome: ChannelOutcome; signed: SignedTransfer[] } {
  const random = prng(opts.seed * 1_000_003 + index);
  const signers = [opts.signerOf(ch.keys[0]), opts.signerOf(ch.keys[1])] as const;
  const states: [PayerState, PayerState] = [GENESIS_STATE, GENESIS_STATE];
  const lockShare = opts.lockShare ?? 0.05;
  const invoiceShare = opts.invoiceShare ?? 0.1;
  const wires: Buffer[] = [];
  const signed: SignedTransfer[] = [];
  const unit = ch.deposits[0] / BigInt(opts.perChannel * 4 + 1) || 1n;
  const emit = (payer: PayerIndex, t: SignedTransfer): void => {
    states[payer] = applyTransfer(states[payer], t);
    signed.push(t);
    wires.push(
      codecs().transfer.encode(
        transferMessage(opts.domain, t, signers[payer].address, { sentAtMs: opts.sentAtMs ?? 0 }),
      ),
    );
  };
  const origin = (payer: PayerIndex) => ({ channelId: ch.id, payer });
  while (signed.length < opts.perChannel) {
    const p1Budget = states[0].paidTotal / 2n - states[1].paidTotal - states[1].lockedTotal;
    const payer: PayerIndex = random() < 0.3 && p1Budget > unit ? 1 : 0;
    const amount = payer === 1 ? unit / 2n + 1n : unit + BigInt(Math.floor(random() * 1000));
    const r = random();
    if (r < lockShare && signed.length + 2 <= opts.perChannel) {
      // An HTLC: lock, then unlock once the payee showed the preimage.
      const preimage = randomHash(random);
      const lock = { amount, expiry: 4_000_000_000n, hashlock: hashlockOf(preimage) };
      emit(
        payer,
        signTransferUnjournaled(
          signers[payer],
          opts.domain,
          buildTransfer(states[payer], origin(payer), { kind: "LOCK", ...lock }),
        ),
      );
      emit(
        payer,
        signTransferUnjournaled(
          signers[payer],
          opts.domain,
          buildTransfer(states[payer], origin(payer), { kind: "UNLOCK", lock }),
        ),
      );
    } else if (r < lockShare + invoiceShare) {
      // The paper's invoice flow: the payee issues a signed invoice, the payer pays exactly its price.
      const payee = signers[payer === 0 ? 1 : 0];
      const invoice = createInvoice({
        supplier: payee.address,
        price: amount,
        currency: Currency.ETH,
        invoiceType: InvoiceType.OneOff,
        nonce: randomHash(random),
      });
      emit(
        payer,
        signTransferUnjournaled(
          signers[payer],
          opts.domain,
          buildTransfer(states[payer], origin(payer), {
            kind: "PAY",
            amount,
            invoiceId: invoiceIdOf(invoice),
          }),
        ),
      );
    } else {
      emit(
        payer,
        signTransferUnjournaled(
          signers[payer],
          opts.domain,
          buildTransfer(states[payer], origin(payer), { kind: "PAY", amount }),
        ),
      );
    }
  }
  return {
    wires,
    signed,
    outcome: {
      id: ch.id,
      seq: [states[0].seq, states[1].seq],
      paidTotal: [states[0].paidTotal, states[1].paidTotal],
    },
  };
}

export interface Keyed {
  readonly channel: number;
  readonly wire: Buffer;
}

/**
 * Mixes per-channel streams into one: channels interleaved at random (each keeps its own order), then
 * `reorder` of neighbours swapped and `duplicate` copies re-sent a little later.
 */
export function mix(
  perChannel: readonly (readonly Buffer[])[],
  opts: { readonly seed: number; readonly reorder: number; readonly duplicate: number },
): { stream: Keyed[]; duplicates: number } {
  const random = prng(opts.seed ^ 0x5eed);
  const cursors = perChannel.map(() => 0);
  const live = perChannel.map((_, i) => i).filter((i) => perChannel[i].length > 0);
  const stream: Keyed[] = [];
  while (live.length > 0) {
    const k = Math.floor(random() * live.length);
    const c = live[k];
    stream.push({ channel: c, wire: perChannel[c][cursors[c]++] });
    if (cursors[c] === perChannel[c].length) {
      live[k] = live[live.length - 1];
      live.pop();
    }
  }
  for (let i = 1; i < stream.length; i++) {
    if (random() < opts.reorder) [stream[i - 1], stream[i]] = [stream[i], stream[i - 1]];
  }
  let duplicates = 0;
  const out: Keyed[] = [];
  for (let i = 0; i < stream.length; i++) {
    out.push(stream[i]);
    if (i > 8 && random() < opts.duplicate) {
      out.push(stream[i - 1 - Math.floor(random() * 8)]);
      duplicates++;
    }
  }
  return { stream: out, duplicates };
}
