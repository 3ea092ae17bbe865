// Which action comes next: weighted by the state (towards valid actions), with actions lagging behind
// their quota of MIN_SUCCESSES boosted.
import { ACTIONS, type ActionName } from "./actions";
import type { FuzzContext } from "./context";
import { STATUS, type Fate } from "./model";
import { MIN_SUCCESSES } from "./options";

const MAX_LIVE = 5;

function weights({ chain, world, books }: FuzzContext): Record<ActionName, number> {
  const live = world.live();
  const open = live.filter((c) => c.status === STATUS.open);
  const closing = live.filter((c) => c.status === STATUS.closing);
  const due = closing.filter((c) => c.closesAt <= chain.clock);
  const locks = live.some((c) => c.ledger.state(0).locks.length + c.ledger.state(1).locks.length > 0);
  const cancellable = live.some((c) =>
    [...c.ledger.state(0).locks, ...c.ledger.state(1).locks].some(
      (l) => l.expiry < chain.clock && !world.revealedInTime(l),
    ),
  );
  const pots = world.withPots().length;
  const conflicts = live.some((c) => c.conflicts.length > 0);
  const credit = books.credits.some((c) => c[0] > 0n || c[1] > 0n);
  // a closing channel whose newest state is not on-chain yet: its honest side disputes
  const disputed = closing.some((c) => !c.honest) ? 3 : 1;
  const ready = (fate: Fate) => live.some((c) => c.fate === fate && c.top[0] + c.top[1] >= 3);
  return {
    open: live.length === 0 ? 40 : live.length < MAX_LIVE ? 3 : 0.15,
    deposit: open.length > 0 ? 0.5 : 0.1,
    withdraw: open.length > 0 ? 0.55 : 0.1,
    pay: live.length > 0 ? 0.9 : 0,
    lock: live.length > 0 ? 1.6 : 0,
    unlock: locks ? 0.6 : 0,
    cancel: cancellable ? 3 : locks ? 0.2 : 0,
    cancelEarly: locks ? 0.5 : 0,
    overdraw: live.length > 0 ? 0.55 : 0,
    checkpoint: live.length > 0 ? 0.8 * disputed : 0.1,
    headProof: live.length > 0 ? 0.8 * disputed : 0.1,
    extendChain: live.length > 0 ? 0.9 * disputed : 0.1,
    close: open.some((c) => c.fate === "settle" && c.top[0] + c.top[1] >= 3) ? 1.5 : 0.1,
    timeTravel: closing.length > due.length ? 2 : 1,
    settle: due.length > 0 ? 4 : closing.length > 0 ? 0.3 : 0.1,
    cooperativeClose: ready("coop") ? 1 : 0.1,
    proveEquivocation: conflicts ? 1.5 : 0.1,
    registerSecret: locks || pots > 0 ? 0.4 : 0.1,
    resolveLocks: pots > 0 ? 3 : 0.1,
    withdrawCredit: credit ? 1.6 : 0.1,
  };
}

/** An action by the weights of the state, lagging ones boosted so every action reaches its quota. */
export function chooseAction(
  ctx: FuzzContext,
  step: number,
  steps: number,
  successes: (name: ActionName) => number,
): ActionName {
  const w = weights(ctx);
  const goal = (MIN_SUCCESSES * 1.3 * (step + 1)) / steps;
  for (const a of ACTIONS) {
    const ok = successes(a);
    if (ok < goal) w[a] *= 1 + (3 * (goal - ok)) / goal;
  }
  const total = ACTIONS.reduce((sum, a) => sum + w[a], 0);
  let r = ctx.rng.float() * total;
  for (const a of ACTIONS) {
    r -= w[a];
    if (r < 0) return a;
  }
  return "timeTravel";
}
