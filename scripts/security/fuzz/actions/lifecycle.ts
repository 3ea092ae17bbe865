// Lifecycle actions: closes, time travel (and accounts starting or stopping to reject ETH), settles (right
// and wrong heads), cooperative closes (current, stale, expired) and equivocation proofs. A settle checks
// property (3): it pays what the heads the contract holds give.
import {
  ZERO_HASH,
  bytesArg,
  cooperativeCloseArgs,
  encodeSignedTransfer,
  equivocationArgs,
  settleArgs,
  settleArgsFromLedger,
  settlementOutcome,
  signCooperativeClose,
} from "../../../../sdk/isomorphic";
import type { CooperativeClose, PayerIndex, SettlementOutcome } from "../../../../sdk/isomorphic";
import { result, send, type FuzzContext } from "../context";
import { fmtOutcome, headsOf, outcomeOf, sameOutcome } from "../heads";
import { InvariantViolation, NAMES, STATUS, STRANGER, type Outcome } from "../model";
import { pickChan, randomSender } from "./pick";

export async function close(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const open = world.withStatus(STATUS.open);
  const meant = open.filter((c) => c.fate === "settle" && c.top[0] + c.top[1] >= 3);
  const locked = meant.filter((c) => c.ledger.state(0).locks.length + c.ledger.state(1).locks.length > 0);
  if (locked.length > 0 && rng.chance(0.7)) meant.splice(0, meant.length, ...locked);
  const ch = pickChan(ctx, meant.length > 0 && rng.chance(0.85) ? meant : open, 0.05);
  if (!ch) return { ok: null, note: "no channel" };
  const sender = rng.chance(0.93) ? ch.parts[rng.int(2)] : STRANGER;
  const res = await send(ctx, sender, chain.iface.encodeFunctionData("close", [ch.params]));
  return result(res, `ch${ch.n} by ${NAMES[sender]}`);
}

export async function timeTravel({ rng, chain }: FuzzContext): Promise<Outcome> {
  const r = rng.float();
  const delta =
    r < 0.6 ? rng.big(600n, 4000n) : r < 0.92 ? rng.big(3600n, 8000n) : rng.big(86_400n, 259_200n);
  chain.clock += delta;
  let note = `+${delta}s`;
  if (rng.chance(0.35)) {
    // participants' addresses reject ETH most of the time, so that payouts become credits
    const who = rng.int(3);
    await chain.setBlocked(who, rng.chance(0.7));
    note += `; ${NAMES[who]} ${chain.blocked[who] ? "rejects" : "accepts"} ETH`;
  }
  return { ok: true, note };
}

export async function settle(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world, stats } = ctx;
  const closing = world.withStatus(STATUS.closing);
  const due = closing.filter((c) => c.closesAt <= chain.clock);
  const ch = pickChan(ctx, due.length > 0 && rng.chance(0.9) ? due : closing, 0.06);
  if (!ch) return { ok: null, note: "no channel" };
  const v = ch.view;
  const heads = v && ch.status === STATUS.closing ? headsOf(ch, v) : null;
  let args: readonly unknown[];
  let expected: SettlementOutcome | null = null;
  let variant = "on-chain heads";
  if (heads && v) {
    args = heads.sdk
      ? settleArgsFromLedger(ch.ledger, heads.sdk)
      : settleArgs(ch.params, heads.body[0]?.t ?? null, heads.body[1]?.t ?? null, heads.checkpoint);
    expected = outcomeOf(v.deposit0, v.deposit1, heads.body[0], heads.body[1]);
    if (rng.chance(0.12)) {
      // wrong evidence: the newest ledger heads instead, or no checkpoint heads
      const n0 = ch.ledger.state(0).seq;
      const n1 = ch.ledger.state(1).seq;
      args = rng.chance(0.5)
        ? settleArgs(
            ch.params,
            n0 === 0 ? null : ch.ledger.transfer(0, n0),
            n1 === 0 ? null : ch.ledger.transfer(1, n1),
            heads.checkpoint,
          )
        : settleArgs(ch.params, heads.body[0]?.t ?? null, heads.body[1]?.t ?? null, {
            head0: rng.bytes32(),
            head1: heads.checkpoint.head1,
          });
      variant = "wrong heads";
    }
  } else {
    args = settleArgs(ch.params, null, null, { head0: ZERO_HASH, head1: ZERO_HASH });
    variant = "not closing";
  }
  const res = await send(ctx, rng.int(4), chain.iface.encodeFunctionData("settle", [...args]));
  if (res.ok) {
    if (!heads || !v || !expected) throw new InvariantViolation(`settle of a channel not closing succeeded`);
    const event = chain.findEvent(res, "ChannelSettled");
    const got = {
      payout0: event.payout0 as bigint,
      payout1: event.payout1 as bigint,
      pot0: event.pot0 as bigint,
      pot1: event.pot1 as bigint,
    };
    // (3) the heads the contract holds decide the payout
    if (!sameOutcome(got, expected)) {
      throw new InvariantViolation(
        `(3) ch${ch.n} settled ${fmtOutcome(got)}, the on-chain heads (seqs ${heads.seq}) give ${fmtOutcome(expected)}`,
      );
    }
    stats.settleChecked++;
    if (ch.honest) {
      // (3) the newest state was proven and nothing newer signed: it decides
      const n0 = world.newest(ch, 0) ?? null;
      const n1 = world.newest(ch, 1) ?? null;
      const newest = outcomeOf(v.deposit0, v.deposit1, n0, n1);
      if (!sameOutcome(got, newest)) {
        throw new InvariantViolation(
          `(3) ch${ch.n} settled ${fmtOutcome(got)} although its newest state (seqs ${ch.top}) was proven: ${fmtOutcome(newest)}`,
        );
      }
      stats.settleHonestChecked++;
    }
    if (got.pot0 > 0n || got.pot1 > 0n) stats.settledWithPots++;
    ch.pots = [
      got.pot0 > 0n ? { pot: got.pot0, locks: heads.body[0]!.state.locks, resolved: 0n } : null,
      got.pot1 > 0n ? { pot: got.pot1, locks: heads.body[1]!.state.locks, resolved: 0n } : null,
    ];
  }
  const honest =
    (ch.honest ? ", newest proven" : "") + (expected && res.ok ? `: ${fmtOutcome(expected)}` : "");
  return result(res, `ch${ch.n} ${variant}${heads ? ` seqs ${heads.seq}` : ""}${honest}`);
}

export async function cooperativeClose(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const live = world.live();
  const meant = live.filter((c) => c.fate === "coop" && c.top[0] + c.top[1] >= 3);
  const ch = pickChan(ctx, meant.length > 0 && rng.chance(0.85) ? meant : live);
  if (!ch) return { ok: null, note: "no channel" };
  const len0 = ch.ledger.state(0).seq;
  const len1 = ch.ledger.state(1).seq;
  const r = rng.float();
  const variant = r < 0.68 ? "current" : r < 0.88 ? "stale" : "expired";
  const seq0 = variant === "stale" ? rng.int(len0 + 1) : len0;
  const seq1 = variant === "stale" ? rng.int(len1 + 1) : len1;
  const s0 = ch.ledger.stateAt(0, seq0);
  const s1 = ch.ledger.stateAt(1, seq1);
  const o = settlementOutcome({
    deposit0: ch.deposits[0],
    deposit1: ch.deposits[1],
    paid0: s0.paidTotal,
    paid1: s1.paidTotal,
    locked0: s0.lockedTotal,
    locked1: s1.lockedTotal,
  });
  let balance0 = o.payout0 + o.pot0;
  const balance1 = o.payout1 + o.pot1;
  let note = variant;
  if (rng.chance(0.04)) {
    balance0 += 1n;
    note += ", balances off by one";
  }
  const expiry = variant === "expired" ? chain.clock - rng.big(1n, 5000n) : chain.clock + 3600n;
  const terms: CooperativeClose = { channelId: ch.id, seq0, seq1, balance0, balance1, expiry };
  const sig0 = await signCooperativeClose(world.signer(ch, 0), chain.domain, terms);
  const sig1 = await signCooperativeClose(world.signer(ch, 1), chain.domain, terms);
  const args = cooperativeCloseArgs(ch.params, terms, sig0, sig1);
  const res = await send(
    ctx,
    randomSender(ctx, ch),
    chain.iface.encodeFunctionData("cooperativeClose", [...args]),
  );
  if (res.ok) {
    const event = chain.findEvent(res, "ChannelClosedCooperatively");
    if (event.payout0 !== balance0 || event.payout1 !== balance1) {
      throw new InvariantViolation(`ch${ch.n}: a cooperative close paid other than both signed`);
    }
  }
  return result(res, `ch${ch.n} ${note} at (${seq0}, ${seq1}) of (${len0}, ${len1}) ${balance0}/${balance1}`);
}

export async function proveEquivocation(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const withConflicts = world.live().filter((c) => c.conflicts.length > 0);
  const meant = withConflicts.filter((c) => c.fate === "equivocate");
  const ch =
    meant.length > 0 && rng.chance(0.85)
      ? rng.pick(meant)
      : withConflicts.length > 0 && rng.chance(0.5)
        ? rng.pick(withConflicts)
        : pickChan(ctx, world.live(), 0.3);
  if (!ch) return { ok: null, note: "no channel" };
  let args: readonly unknown[];
  let note: string;
  if (ch.conflicts.length > 0 && rng.chance(0.9)) {
    const { payer, seq } = rng.pick(ch.conflicts);
    const list = ch.bySeq[payer].get(seq)!;
    const i = rng.int(list.length);
    const j = (i + 1 + rng.int(list.length - 1)) % list.length;
    args = equivocationArgs(chain.domain, ch.params, {
      channelId: ch.id,
      payer,
      seq,
      first: list[i].t,
      second: list[j].t,
    });
    note = `payer ${payer} seq ${seq}`;
  } else {
    const payer = rng.int(2) as PayerIndex;
    const all = [...ch.bySeq[payer].values()].flat();
    if (all.length === 0) return { ok: null, note: `ch${ch.n}: payer ${payer} signed nothing` };
    const a = rng.pick(all);
    const b = rng.pick(all);
    args = [ch.params, payer, bytesArg(encodeSignedTransfer(a.t)), bytesArg(encodeSignedTransfer(b.t))];
    note = `payer ${payer} seqs ${a.t.seq} and ${b.t.seq} (no equivocation unless different at one seq)`;
  }
  const res = await send(ctx, rng.int(4), chain.iface.encodeFunctionData("proveEquivocation", [...args]));
  return result(res, `ch${ch.n} ${note}`);
}
