// Transfer actions: off-chain transfers built and signed with the SDK (PAY, LOCK with near and far expiries,
// UNLOCK, CANCEL), and overdrawn ones the SDK ledger refuses but which stay signed, to be used as evidence.
import { hashlockOf, signCancelConsent } from "../../../../sdk/isomorphic";
import type { Lock, PayerIndex, TransferOp } from "../../../../sdk/isomorphic";
import type { FuzzContext } from "../context";
import { InvariantViolation, STATUS, type Chan, type Outcome } from "../model";
import { transferChan } from "./pick";

const NEAR_EXPIRY = [30n, 1800n] as const;
const FAR_EXPIRY = 10n * 365n * 86_400n;

export async function payOrLock(ctx: FuzzContext, kind: "pay" | "lock"): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  // locks gather in channels meant to settle, so that settlements leave pots to resolve
  const settling = world.withStatus(STATUS.open).filter((c) => c.fate === "settle");
  const ch =
    kind === "lock" && settling.length > 0 && rng.chance(0.5) ? rng.pick(settling) : transferChan(ctx);
  if (!ch) return { ok: null, note: "no channel" };
  const payers = ([0, 1] as const).filter(
    (p) => world.available(ch, p) > 0n && (kind === "pay" || ch.ledger.state(p).locks.length < 60),
  );
  if (payers.length === 0) return { ok: null, note: `ch${ch.n}: nothing available` };
  // a payer who signed an overdrawn transfer signs another one at that seq: an equivocation
  const forked = payers.filter((p) => ch.top[p] > ch.ledger.state(p).seq);
  const payer = forked.length > 0 && rng.chance(0.7) ? rng.pick(forked) : rng.pick(payers);
  const available = world.available(ch, payer);
  const amount = rng.big(1n, available / BigInt(1 + rng.int(4)) || 1n);
  let op: TransferOp;
  let note = `ch${ch.n} payer ${payer} ${kind} ${amount}`;
  if (kind === "pay") {
    op = { kind: "PAY", amount };
  } else {
    const secret = rng.bytes32();
    const hashlock = hashlockOf(secret);
    world.secrets.set(hashlock, secret);
    const far = rng.chance(0.45);
    const expiry = chain.clock + (far ? FAR_EXPIRY : rng.big(...NEAR_EXPIRY));
    op = { kind: "LOCK", amount, hashlock, expiry };
    note += far ? " far expiry" : ` expiry +${expiry - chain.clock}s`;
  }
  const { accepted, code } = world.record(ch, world.signOp(ch, payer, op));
  return { ok: accepted, note: accepted ? note : `${note}: refused ${code}` };
}

export async function unlockOrCancel(ctx: FuzzContext, kind: "unlock" | "cancel"): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const expired = (l: Lock) => l.expiry < chain.clock && !world.revealedInTime(l);
  const fits = (c: Chan, p: PayerIndex) =>
    kind === "unlock" ? c.ledger.state(p).locks.length > 0 : c.ledger.state(p).locks.some(expired);
  const candidates = world.withStatus(STATUS.open).filter((c) => fits(c, 0) || fits(c, 1));
  // channels meant to settle keep most of their locks, for the settlement to leave pots
  const others = candidates.filter((c) => c.fate !== "settle");
  const pool = others.length > 0 && rng.chance(0.75) ? others : candidates;
  const ch = pool.length > 0 && rng.chance(0.85) ? rng.pick(pool) : transferChan(ctx);
  if (!ch) return { ok: null, note: "no channel" };
  const fitting = ([0, 1] as const).filter((p) => fits(ch, p));
  const payers =
    fitting.length > 0 && rng.chance(0.85)
      ? fitting
      : ([0, 1] as const).filter((p) => ch.ledger.state(p).locks.length > 0);
  if (payers.length === 0) return { ok: null, note: `ch${ch.n}: no pending lock` };
  const payer = rng.pick(payers);
  const locks = ch.ledger.state(payer).locks;
  let lock = rng.pick(locks);
  if (kind === "cancel") {
    const due = locks.filter(expired);
    if (due.length > 0 && rng.chance(0.85)) lock = rng.pick(due);
  }
  const op: TransferOp = kind === "unlock" ? { kind: "UNLOCK", lock } : { kind: "CANCEL", lock };
  const { accepted, code } = world.record(ch, world.signOp(ch, payer, op));
  const note = `ch${ch.n} payer ${payer} ${kind} ${lock.amount} (expiry ${lock.expiry - chain.clock}s from now)`;
  return { ok: accepted, note: accepted ? note : `${note}: refused ${code}` };
}

/**
 * Early release (protocol §4.5): a payer cancels a lock its payee can still claim (unexpired, or revealed in
 * time), with the payee's `CancelConsent`, which the ledger keeps so that disputes carry it on-chain.
 */
export async function cancelEarly(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const claimable = (l: Lock) => l.expiry >= chain.clock || world.revealedInTime(l);
  const fits = (c: Chan, p: PayerIndex) => c.ledger.state(p).locks.some(claimable);
  const candidates = world.withStatus(STATUS.open).filter((c) => fits(c, 0) || fits(c, 1));
  if (candidates.length === 0) return { ok: null, note: "no claimable lock" };
  const ch = rng.pick(candidates);
  const payer = rng.pick(([0, 1] as const).filter((p) => fits(ch, p)));
  const lock = rng.pick(ch.ledger.state(payer).locks.filter(claimable));
  const signed = world.signOp(ch, payer, { kind: "CANCEL", lock });
  ch.ledger.addCancelConsent(
    await signCancelConsent(world.signer(ch, payer === 0 ? 1 : 0), chain.domain, signed),
  );
  const { accepted, code } = world.record(ch, signed);
  const note = `ch${ch.n} payer ${payer} early cancel ${lock.amount} with consent (expiry ${lock.expiry - chain.clock}s from now)`;
  return { ok: accepted, note: accepted ? note : `${note}: refused ${code}` };
}

export async function overdraw(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const meant = world.withStatus(STATUS.open).filter((c) => c.fate === "equivocate");
  const ch = meant.length > 0 && rng.chance(0.6) ? rng.pick(meant) : transferChan(ctx);
  if (!ch) return { ok: null, note: "no channel" };
  const payer = rng.int(2) as PayerIndex;
  const available = world.available(ch, payer);
  const amount = (available > 0n ? available : 0n) + rng.big(1n, 1_000_000n);
  const lock = rng.chance(0.3) && ch.ledger.state(payer).locks.length < 60;
  let op: TransferOp = { kind: "PAY", amount };
  if (lock) {
    const secret = rng.bytes32();
    const hashlock = hashlockOf(secret);
    world.secrets.set(hashlock, secret);
    op = { kind: "LOCK", amount, hashlock, expiry: chain.clock + rng.big(...NEAR_EXPIRY) };
  }
  const { accepted, code } = world.record(ch, world.signOp(ch, payer, op));
  const note = `ch${ch.n} payer ${payer} ${lock ? "LOCK" : "PAY"} ${amount} with ${available} available`;
  if (accepted) throw new InvariantViolation(`the SDK ledger accepted an overdrawn transfer: ${note}`);
  return { ok: code === "InsufficientBalance", note: `${note}: refused ${code}` };
}
