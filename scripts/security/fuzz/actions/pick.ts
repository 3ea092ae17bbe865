// Which channel (and sender) an action goes to: biased towards where it can succeed, sometimes anywhere.
import type { PayerIndex } from "../../../../sdk/isomorphic";
import type { FuzzContext } from "../context";
import { STATUS, STRANGER, type Chan } from "../model";

/** A channel of `preferred` most of the time, else any channel ever opened (mostly to provoke reverts). */
export function pickChan({ rng, world }: FuzzContext, preferred: Chan[], pAny = 0.08): Chan | null {
  if (preferred.length > 0 && !rng.chance(pAny)) return rng.pick(preferred);
  if (world.chans.length === 0) return null;
  return rng.pick(world.chans);
}

/** A channel to bring evidence to: often a closing one, where it decides the payout. */
export function evidenceChan(ctx: FuzzContext, useful: (ch: Chan) => boolean): Chan | null {
  const { rng, world } = ctx;
  const live = world.live();
  const closing = live.filter((c) => c.status === STATUS.closing);
  const disputed = closing.filter((c) => !c.honest);
  const pool =
    disputed.length > 0 && rng.chance(0.75)
      ? disputed
      : closing.length > 0 && rng.chance(0.4)
        ? closing
        : live;
  const good = pool.filter(useful);
  if (good.length > 0 && rng.chance(0.8)) return rng.pick(good);
  return pickChan(ctx, pool);
}

/** A live channel to sign transfers in: mostly an open one. */
export function transferChan({ rng, world }: FuzzContext): Chan | null {
  const open = world.withStatus(STATUS.open);
  const closing = world.withStatus(STATUS.closing);
  if (closing.length > 0 && (open.length === 0 || rng.chance(0.12))) return rng.pick(closing);
  return open.length > 0 ? rng.pick(open) : null;
}

/** Either participant of the channel or the stranger. */
export function randomSender({ rng }: FuzzContext, ch: Chan): number {
  const r = rng.int(3);
  return r === 2 ? STRANGER : ch.parts[r as PayerIndex];
}
