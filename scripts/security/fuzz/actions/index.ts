// The actions the fuzz chooses from, by name.
import type { FuzzContext } from "../context";
import type { Outcome } from "../model";
import { extendChain, checkpoint, headProof } from "./evidence";
import { deposit, open, withdraw } from "./funding";
import { close, cooperativeClose, proveEquivocation, settle, timeTravel } from "./lifecycle";
import { registerSecret, resolveLocks, withdrawCredit } from "./locks";
import { cancelEarly, overdraw, payOrLock, unlockOrCancel } from "./transfers";

/** In the order of the counts; the scheduler's weights are summed in this order. */
export const ACTIONS = [
  "open",
  "deposit",
  "withdraw",
  "pay",
  "lock",
  "unlock",
  "cancel",
  "cancelEarly",
  "overdraw",
  "checkpoint",
  "headProof",
  "extendChain",
  "close",
  "timeTravel",
  "settle",
  "cooperativeClose",
  "proveEquivocation",
  "registerSecret",
  "resolveLocks",
  "withdrawCredit",
] as const;
export type ActionName = (typeof ACTIONS)[number];

const RUN: Record<ActionName, (ctx: FuzzContext) => Promise<Outcome>> = {
  open,
  deposit,
  withdraw,
  pay: (ctx) => payOrLock(ctx, "pay"),
  lock: (ctx) => payOrLock(ctx, "lock"),
  unlock: (ctx) => unlockOrCancel(ctx, "unlock"),
  cancel: (ctx) => unlockOrCancel(ctx, "cancel"),
  cancelEarly,
  overdraw,
  checkpoint,
  headProof,
  extendChain,
  close,
  timeTravel,
  settle,
  cooperativeClose,
  proveEquivocation,
  registerSecret,
  resolveLocks,
  withdrawCredit,
};

export function act(ctx: FuzzContext, name: ActionName): Promise<Outcome> {
  return RUN[name](ctx);
}
