// What an action works with: the PRNG, the chain, the world, the books and the check counters.
import type { Books } from "./books";
import type { Chain } from "./chain";
import type { Outcome, TxResult } from "./model";
import type { Rng } from "./rng";
import type { World } from "./world";

/** How often the property checks inside actions ran (reported with the counts). */
export interface CheckStats {
  settleChecked: number;
  settleHonestChecked: number;
  settledWithPots: number;
  resolveChecked: number;
  fullChecks: number;
}

export interface FuzzContext {
  readonly rng: Rng;
  readonly chain: Chain;
  readonly world: World;
  readonly books: Books;
  readonly stats: CheckStats;
}

/** Sends a ParsecChannels call and, when it succeeds, applies its events to the books. */
export async function send(ctx: FuzzContext, from: number, data: string, value = 0n): Promise<TxResult> {
  const res = await ctx.chain.send(from, data, value);
  if (res.ok) res.events = ctx.books.apply(res.logs);
  return res;
}

/** A transaction's outcome, with the revert reason in the note. */
export function result(res: TxResult, note: string): Outcome {
  return { ok: res.ok, note: res.ok ? note : `${note}: reverted ${res.reason}` };
}
