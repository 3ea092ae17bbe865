// Lock and credit actions after a settle: secret registrations, lock resolutions by payer, payee and
// stranger with and without preimages (property (3): each pays what `resolveLocksOutcome` says), and credit
// withdrawals (the account is made to accept ETH for it now and then).
import { hashlockOf, resolveLocksArgs, resolveLocksOutcome } from "../../../../sdk/isomorphic";
import type { Hash, Lock, PayerIndex } from "../../../../sdk/isomorphic";
import { result, send, type FuzzContext } from "../context";
import { InvariantViolation, NAMES, STATUS, STRANGER, ZERO_ADDRESS, type Outcome } from "../model";
import { pickChan } from "./pick";

export async function registerSecret(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world } = ctx;
  const pending: Lock[] = [];
  for (const ch of world.active) {
    if (ch.status === STATUS.settled) {
      for (const pot of ch.pots) if (pot) pending.push(...pot.locks);
    } else {
      pending.push(...ch.ledger.state(0).locks, ...ch.ledger.state(1).locks);
    }
  }
  const useful = pending.filter((l) => l.expiry >= chain.clock && !world.revealedAt.has(l.hashlock));
  let secret: Hash;
  let note: string;
  if (useful.length > 0 && rng.chance(0.45)) {
    const lock = rng.pick(useful);
    secret = world.secrets.get(lock.hashlock)!;
    note = `of a pending lock expiring in ${lock.expiry - chain.clock}s`;
  } else if (world.secrets.size > 0 && rng.chance(0.8)) {
    secret = rng.pick([...world.secrets.values()]);
    note = "of some lock";
  } else {
    secret = rng.bytes32();
    note = "unknown to any lock";
  }
  const res = await send(ctx, rng.int(4), chain.iface.encodeFunctionData("registerSecrets", [[secret]]));
  if (res.ok) {
    const hashlock = hashlockOf(secret);
    if (!world.revealedAt.has(hashlock)) world.revealedAt.set(hashlock, res.ts);
  }
  return result(res, note);
}

export async function resolveLocks(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, world, stats } = ctx;
  const ch = pickChan(ctx, world.withPots(), 0.06);
  if (!ch) return { ok: null, note: "no channel" };
  const payers = ([0, 1] as const).filter((p) => ch.pots[p]);
  const payer: PayerIndex = payers.length > 0 ? rng.pick(payers) : (rng.int(2) as PayerIndex);
  const pot = ch.pots[payer];
  let locks: readonly Lock[] = pot?.locks ?? [];
  let note = "";
  const wrongList = rng.chance(0.06) && locks.length > 0;
  if (wrongList) {
    locks = locks.slice(1);
    note = ", wrong list";
  }
  const m = rng.float();
  // none; all; the one of a single unresolved lock (the payee reveals secrets one by one); or some
  const unresolved = locks.map((_, i) => i).filter((i) => !(((pot?.resolved ?? 0n) >> BigInt(i)) & 1n));
  const one = unresolved.length > 0 ? rng.pick(unresolved) : -1;
  const preimages: (Hash | null)[] =
    m < 0.3
      ? []
      : locks.map((l, i) =>
          m < 0.4 || (m < 0.8 ? i === one : rng.chance(0.3)) ? (world.secrets.get(l.hashlock) ?? null) : null,
        );
  const mode =
    m < 0.3
      ? "no preimages"
      : m < 0.4
        ? "all preimages"
        : m < 0.8
          ? `preimage of lock ${one}`
          : "some preimages";
  const s = rng.int(3);
  const sender = s === 2 ? STRANGER : ch.parts[s === 0 ? payer : payer === 0 ? 1 : 0];
  const ts = chain.clock;
  const expected =
    pot && !wrongList
      ? resolveLocksOutcome(
          locks,
          pot.pot,
          (lock, i) => {
            const pre = preimages[i];
            if (pre && ts <= lock.expiry && hashlockOf(pre) === lock.hashlock) return true;
            return world.revealedInTime(lock);
          },
          ts,
          pot.resolved,
        )
      : null;
  const args = resolveLocksArgs(ch.params, payer, locks, preimages);
  const res = await send(ctx, sender, chain.iface.encodeFunctionData("resolveLocks", [...args]));
  const shouldWork = expected !== null && (expected.resolved !== 0n || expected.uncovered !== 0n);
  if (res.ok) {
    if (!pot || !expected)
      throw new InvariantViolation(`ch${ch.n}: resolveLocks without a pot or with a wrong list succeeded`);
    const event = chain.findEvent(res, "LocksResolved");
    // (3) each lock is decided by its own outcome and share
    if (
      (event.resolved as bigint) !== expected.resolved ||
      (event.toPayee as bigint) !== expected.toPayee ||
      (event.toPayer as bigint) !== expected.toPayer
    ) {
      throw new InvariantViolation(
        `(3) ch${ch.n} resolveLocks paid ${event.toPayee}/${event.toPayer} (mask ${event.resolved}), expected ` +
          `${expected.toPayee}/${expected.toPayer} (mask ${expected.resolved})`,
      );
    }
    stats.resolveChecked++;
    const resolved = pot.resolved | expected.resolved;
    if (resolved === (1n << BigInt(pot.locks.length)) - 1n) ch.pots[payer] = null;
    else {
      pot.resolved = resolved;
      pot.pot -= expected.uncovered;
    }
  } else if (shouldWork) {
    throw new InvariantViolation(
      `ch${ch.n}: resolveLocks reverted (${res.reason}) although locks were resolvable`,
    );
  }
  return result(res, `ch${ch.n} payer ${payer} by ${NAMES[sender]} ${mode}${note}`);
}

export async function withdrawCredit(ctx: FuzzContext): Promise<Outcome> {
  const { rng, chain, books } = ctx;
  const owed = [0, 1, 2, 3].filter((i) => books.credits[i][0] > 0n || books.credits[i][1] > 0n);
  const who = owed.length > 0 && rng.chance(0.88) ? rng.pick(owed) : rng.int(4);
  const asset: 0 | 1 =
    books.credits[who][1] > 0n ? 1 : books.credits[who][0] > 0n ? 0 : rng.chance(0.8) ? 0 : 1;
  let note = `${NAMES[who]} ${asset === 0 ? "ETH" : "token"} credit ${books.credits[who][asset]}`;
  if (chain.blocked[who] && rng.chance(0.8)) {
    await chain.setBlocked(who, false);
    note += ", accepting ETH again";
  }
  const token = asset === 0 ? ZERO_ADDRESS : chain.tokenAddress;
  const res = await send(ctx, who, chain.iface.encodeFunctionData("withdrawCredit", [token]));
  if (note.endsWith("again") && rng.chance(0.85)) {
    await chain.setBlocked(who, true);
    note += ", then rejecting it again";
  }
  return result(res, note);
}
