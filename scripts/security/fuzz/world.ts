// The fuzz's world: the channels it opened and its store of everything signed in them (transfers accepted
// by the SDK ledger and "orphans" it refused, checkpoints), the lock secrets it made up and when each was
// revealed on-chain.
import {
  ChannelLedger,
  applyTransfer,
  buildTransfer,
  hashTransfer,
  isParsecError,
  signTransferUnjournaled,
} from "../../../sdk/isomorphic";
import type {
  ChannelParams,
  Hash,
  LocalSigner,
  Lock,
  PayerIndex,
  SignedTransfer,
  TransferOp,
} from "../../../sdk/isomorphic";
import type { Chain } from "./chain";
import { STATUS, type Chan, type Fate, type Signed } from "./model";

export class World {
  readonly chans: Chan[] = [];
  readonly byId = new Map<string, Chan>();
  /** Live channels and settled ones with unresolved pots: the ones read after every action. */
  readonly active = new Set<Chan>();
  /** Lock secrets by hashlock. */
  readonly secrets = new Map<Hash, Hash>();
  /** When each hashlock's secret was registered (block timestamp). */
  readonly revealedAt = new Map<Hash, bigint>();
  /** The last channel nonce used by an open. */
  nonce = 0n;

  constructor(private readonly chain: Chain) {}

  newChan(params: ChannelParams, token: boolean, parts: [number, number], fate: Fate): Chan {
    const ledger = new ChannelLedger({
      domain: this.chain.domain,
      params,
      deposit0: 0n,
      deposit1: 0n,
      verifySignature: "none",
      enforceFunds: true,
    });
    const ch: Chan = {
      n: this.chans.length,
      fate,
      id: ledger.channelId,
      params,
      token,
      parts,
      ledger,
      status: STATUS.none,
      deposits: [0n, 0n],
      withdrawNonce: 0,
      closesAt: 0n,
      deposited: 0n,
      paidOut: 0n,
      bySeq: [new Map(), new Map()],
      byHash: new Map(),
      top: [0, 0],
      conflicts: [],
      checkpoints: new Map(),
      view: null,
      honest: false,
      pots: [null, null],
    };
    this.chans.push(ch);
    this.byId.set(ch.id.toLowerCase(), ch);
    return ch;
  }

  /** Forgets the channel just made by `newChan` (its open reverted). */
  dropLast(ch: Chan): void {
    this.chans.pop();
    this.byId.delete(ch.id.toLowerCase());
  }

  signer(ch: Chan, side: PayerIndex): LocalSigner {
    return this.chain.accounts[ch.parts[side]].signer;
  }

  live(): Chan[] {
    return [...this.active].filter((c) => c.status === STATUS.open || c.status === STATUS.closing);
  }

  withStatus(status: number): Chan[] {
    return [...this.active].filter((c) => c.status === status);
  }

  withPots(): Chan[] {
    return [...this.active].filter((c) => c.status === STATUS.settled && (c.pots[0] || c.pots[1]));
  }

  revealedInTime = (lock: Lock): boolean => {
    const at = this.revealedAt.get(lock.hashlock);
    return at !== undefined && at <= lock.expiry;
  };

  /** Records a signed transfer: in the ledger if it accepts it, else as an orphan. */
  record(ch: Chan, signed: SignedTransfer): { accepted: boolean; code: string } {
    const payer = signed.payer;
    const before = ch.ledger.state(payer);
    let entry: Signed;
    let code = "";
    try {
      const applied = ch.ledger.apply(signed, { now: this.chain.clock, revealedInTime: this.revealedInTime });
      entry = { t: applied.transfer, state: applied.state, accepted: true };
    } catch (error) {
      if (!isParsecError(error)) throw error;
      code = error.code;
      const hash = hashTransfer(signed);
      entry = { t: { ...signed, hash }, state: applyTransfer(before, signed, { hash }), accepted: false };
    }
    if (ch.byHash.has(entry.t.hash)) return { accepted: entry.accepted, code }; // signed the same again
    const list = ch.bySeq[payer].get(signed.seq) ?? [];
    list.push(entry);
    ch.bySeq[payer].set(signed.seq, list);
    ch.byHash.set(entry.t.hash, entry);
    if (list.length === 2) ch.conflicts.push({ payer, seq: signed.seq });
    if (signed.seq > ch.top[payer]) ch.top[payer] = signed.seq;
    ch.honest = false;
    return { accepted: entry.accepted, code };
  }

  /** `op` built on the payer's ledger state and signed by the payer. */
  signOp(ch: Chan, payer: PayerIndex, op: TransferOp): SignedTransfer {
    const t = buildTransfer(ch.ledger.state(payer), { channelId: ch.id, payer }, op);
    return signTransferUnjournaled(this.signer(ch, payer), this.chain.domain, t);
  }

  /** The newest signed transfer of a payer: undefined at genesis, null when two share the top seq. */
  newest(ch: Chan, payer: PayerIndex): Signed | null | undefined {
    if (ch.top[payer] === 0) return undefined;
    const list = ch.bySeq[payer].get(ch.top[payer]) ?? [];
    return list.length === 1 ? list[0] : null;
  }

  /** Payer's seq on-chain as last read (the higher of its checkpoint and proven seqs). */
  onchainSeq(ch: Chan, payer: PayerIndex): number {
    const v = ch.view;
    if (!v) return 0;
    return Math.max(payer === 0 ? v.seq0 : v.seq1, v.proven[payer].seq);
  }

  available(ch: Chan, payer: PayerIndex): bigint {
    const b = ch.ledger.balances();
    return payer === 0 ? b.available0 : b.available1;
  }
}
