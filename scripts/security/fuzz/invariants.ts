// The properties checked after every action, reading the chain (one FuzzLens call):
//   (1) the contract holds exactly the live deposits + the settled channels' unresolved pots + the credits;
//   (2) per channel, payouts never exceed deposits (and deposits − payouts is what it still holds); per
//       participant, what it received never exceeds what went into its channels; every balance and credit
//       is what the events say;
// and the model follows the chain. ((3), on what a settle or a lock resolution pays, is checked by those
// actions.)
import { ZERO_HASH, locksRootOf, resolveLocksOutcome } from "../../../sdk/isomorphic";
import type { Books } from "./books";
import type { Chain, Snapshot } from "./chain";
import { headsOf } from "./heads";
import { InvariantViolation, NAMES, STATUS, type ChainView, type Chan } from "./model";
import type { World } from "./world";

export class Invariants {
  /** The last reading, reused while nothing was sent. */
  private lastSnapshot: Snapshot | null = null;

  constructor(
    private readonly chain: Chain,
    private readonly world: World,
    private readonly books: Books,
  ) {}

  /** Reads the active channels (every channel when `all`) and checks (1) and (2); updates the views. */
  async check(all = false): Promise<void> {
    const { chain, world, books } = this;
    const chans = all ? world.chans : [...world.active];
    let views: ChainView[] = [];
    let snap = this.lastSnapshot;
    if (chain.dirty || all || !snap || snap.views.length !== chans.length) {
      for (let i = 0; i < Math.max(chans.length, 1); i += 200) {
        const part = await chain.snapshot(chans.slice(i, i + 200).map((c) => c.id));
        views.push(...part.views);
        snap = part;
      }
      if (!snap) return;
      snap = { ...snap, views };
      this.lastSnapshot = snap;
      chain.dirty = false;
    } else {
      // nothing was sent since the last reading: the chain is as read then
      views = snap.views;
    }
    const held: [bigint, bigint] = [0n, 0n];
    chans.forEach((ch, i) => {
      const v = views[i];
      ch.view = v;
      const claim =
        v.status === STATUS.open || v.status === STATUS.closing
          ? v.deposit0 + v.deposit1
          : v.status === STATUS.settled
            ? this.unresolved(ch, v)
            : 0n;
      held[ch.token ? 1 : 0] += claim;
      // the model follows the chain
      if (v.status !== ch.status) {
        throw new InvariantViolation(`ch${ch.n}: status ${v.status} on-chain, ${ch.status} by the events`);
      }
      if (
        (v.status === STATUS.open || v.status === STATUS.closing) &&
        (v.deposit0 !== ch.deposits[0] || v.deposit1 !== ch.deposits[1])
      ) {
        throw new InvariantViolation(
          `ch${ch.n}: deposits ${v.deposit0}/${v.deposit1} on-chain, ${ch.deposits[0]}/${ch.deposits[1]} by the events`,
        );
      }
      // (2) per channel: nothing paid beyond the deposits; what is not paid out is still held
      if (ch.paidOut > ch.deposited) {
        throw new InvariantViolation(`(2) ch${ch.n} paid out ${ch.paidOut} of ${ch.deposited} deposited`);
      }
      if (ch.deposited - ch.paidOut !== claim) {
        throw new InvariantViolation(
          `(2) ch${ch.n}: ${ch.deposited} deposited − ${ch.paidOut} paid out ≠ ${claim} still held (status ${v.status})`,
        );
      }
      if (v.status === STATUS.open || v.status === STATUS.closing) this.updateHonest(ch, v);
    });
    // (1) the contract holds exactly the live deposits + unresolved pots + credits (all of them when `all`)
    const credits: [bigint, bigint] = [0n, 0n];
    snap.perAccount.forEach((acc, i) => {
      credits[0] += acc.credit[0];
      credits[1] += acc.credit[1];
      for (const asset of [0, 1] as const) {
        if (acc.credit[asset] !== books.credits[i][asset]) {
          throw new InvariantViolation(
            `${NAMES[i]}'s credit is ${acc.credit[asset]}, the events say ${books.credits[i][asset]}`,
          );
        }
        const balance = asset === 0 ? acc.eth : acc.token;
        if (balance !== books.expected[i][asset]) {
          throw new InvariantViolation(
            `(2) ${NAMES[i]} holds ${balance} ${asset === 0 ? "wei" : "tokens"}, the events say ${books.expected[i][asset]}`,
          );
        }
        // (2) per participant: never more received than went into its channels
        if (books.received[i][asset] > books.intoChannels[i][asset]) {
          throw new InvariantViolation(
            `(2) ${NAMES[i]} received ${books.received[i][asset]}, more than the ${books.intoChannels[i][asset]} deposited into its channels`,
          );
        }
      }
    });
    const actual: [bigint, bigint] = [snap.ethHeld, snap.tokenHeld];
    for (const asset of [0, 1] as const) {
      const want = held[asset] + credits[asset];
      // Channels not read (settled, pots resolved) must hold nothing, so the equation covers them too.
      if (actual[asset] !== want) {
        throw new InvariantViolation(
          `(1) the contract holds ${actual[asset]} ${asset === 0 ? "wei" : "tokens"}, but live deposits + pots + credits = ` +
            `${held[asset]} + ${credits[asset]} = ${want}`,
        );
      }
    }
    for (const ch of chans) {
      const v = ch.view!;
      if (v.status === STATUS.settled && v.pot0 === 0n && v.pot1 === 0n) {
        world.active.delete(ch);
        this.lastSnapshot = null;
      }
    }
  }

  /**
   * What a settled channel still holds for its locks. `pendingLocksOf` keeps each payer's pot as the basis
   * of the lock shares (`min(amount_i, pot − amounts before i)`, fixed by the list) plus a bitmap of the
   * resolved locks, so what is left is the pot less the shares of the resolved locks. The list is the
   * fuzz's, checked against the root the contract keeps.
   */
  private unresolved(ch: Chan, v: ChainView): bigint {
    let left = 0n;
    for (const payer of [0, 1] as const) {
      const pot = payer === 0 ? v.pot0 : v.pot1;
      const root = payer === 0 ? v.locksRoot0 : v.locksRoot1;
      const resolved = payer === 0 ? v.resolved0 : v.resolved1;
      const model = ch.pots[payer];
      if (pot === 0n) {
        if (model)
          throw new InvariantViolation(`ch${ch.n}: payer ${payer}'s pot is gone on-chain, not in the model`);
        continue;
      }
      if (!model || model.pot !== pot || model.resolved !== resolved) {
        throw new InvariantViolation(
          `ch${ch.n}: payer ${payer}'s pot ${pot} (resolved ${resolved}) on-chain, ${model?.pot ?? 0n} (resolved ` +
            `${model?.resolved ?? 0n}) in the model`,
        );
      }
      if (locksRootOf(model.locks).toLowerCase() !== root.toLowerCase()) {
        throw new InvariantViolation(
          `ch${ch.n}: payer ${payer}'s pending lock list is not the settled head's`,
        );
      }
      const shares = resolveLocksOutcome(model.locks, pot, () => false, 0n).shares;
      let paid = 0n;
      shares.forEach((share, i) => {
        if ((resolved >> BigInt(i)) & 1n) paid += share;
      });
      left += pot - paid;
    }
    return left;
  }

  /** Marks a channel whose newest signed transfers (both payers) are the on-chain heads. */
  private updateHonest(ch: Chan, v: ChainView): void {
    if (ch.honest) return;
    const heads = headsOf(ch, v);
    for (const payer of [0, 1] as const) {
      const newest = this.world.newest(ch, payer);
      if (newest === null) return;
      const onchain = heads.body[payer];
      if ((newest?.t.hash ?? ZERO_HASH) !== (onchain?.t.hash ?? ZERO_HASH)) return;
    }
    ch.honest = true;
  }
}
