/**
 * The network's end: every channel is closed on-chain by one of its parties with no evidence of its own;
 * the nodes' watchtowers bring the newest chains they hold, settle once the challenge period is over and
 * resolve the lock pots (to the payee where the secret was registered in time, else back to the payer).
 * What each party was paid is read from the contract's events: `ChannelSettled` and `LocksResolved`.
 */
import * as parsec from "../../sdk";
import type { DemoChain } from "./chain";
import { CHANNEL_NAMES, type ChannelName, type NetChannel, type Network, type PartyName } from "./network";
import type { MediatorNode } from "./nodes";
import { log, waitFor } from "./report";

/** Far enough ahead that every challenge period and every lock of the demo has run out. */
const SETTLE_AFTER_SECONDS = 86_400n;
const SETTLE_TIMEOUT_MS = 120_000;

export interface Outcome {
  /** What each party's address was paid by the contract for the network's channels. */
  readonly paid: Map<PartyName, bigint>;
  /** What each party deposited. */
  readonly deposited: Map<PartyName, bigint>;
  /** Sums over the network: deposits in, payouts out (settlement payouts plus resolved pots). */
  readonly totalIn: bigint;
  readonly totalOut: bigint;
  /** Pots (locked amounts) at settlement, and how they went. */
  readonly pots: bigint;
  readonly potsToPayee: bigint;
  readonly potsToPayer: bigint;
}

async function onchainSeqs(chain: DemoChain, c: NetChannel): Promise<{ seq0: number; seq1: number }> {
  return parsec.onchainSeqs(
    parsec.onchainStateOf(await chain.channels.channelState(c.id), await chain.channels.provenHeadsOf(c.id)),
  );
}

/** Closes every channel (by `closers`), waits for the watchtowers' evidence, settlement and pots. */
export async function closeAndSettle(
  chain: DemoChain,
  net: Network,
  closers: Record<ChannelName, PartyName>,
  watcher: MediatorNode,
): Promise<Outcome> {
  const { channels } = chain;
  const all = CHANNEL_NAMES.map((n) => net.channels[n]);
  for (const c of all) {
    await (await channels.connect(net.parties[closers[c.name]].wallet).close(c.params)).wait();
  }
  log(`network: every channel closed by one party with no evidence (${CHANNEL_NAMES.join(", ")})`);
  // The node holds every transfer of the network: its heads are what the chain must end up with.
  const held = async (c: NetChannel) =>
    (await watcher.get<{ payers: { seq: number }[] }>(`/channels/${c.id}`)).payers.map((p) => p.seq);
  await waitFor("the watchtowers' evidence of every channel on-chain", async () => {
    for (const c of all) {
      const [want0, want1] = await held(c);
      const { seq0, seq1 } = await onchainSeqs(chain, c);
      if (seq0 !== want0 || seq1 !== want1) return false;
    }
    return true;
  });
  log("network: the watchtowers proved every channel's newest heads; moving a day ahead");
  await chain.travelTo((await chain.latest()) + SETTLE_AFTER_SECONDS);

  let pots = 0n;
  let toPayee = 0n;
  let toPayer = 0n;
  const paid = new Map<PartyName, bigint>();
  const credit = (name: PartyName, amount: bigint) => paid.set(name, (paid.get(name) ?? 0n) + amount);
  await waitFor(
    "every channel settled and every pot resolved",
    async () => {
      pots = toPayee = toPayer = 0n;
      paid.clear();
      for (const c of all) {
        const [settled] = await channels.queryFilter(channels.filters.ChannelSettled(c.id));
        if (!settled) return false;
        const { payout0, payout1, pot0, pot1 } = settled.args;
        credit(c.parties[0].name, payout0);
        credit(c.parties[1].name, payout1);
        pots += pot0 + pot1;
        const resolved = [0n, 0n];
        for (const e of await channels.queryFilter(channels.filters.LocksResolved(c.id))) {
          const payer = Number(e.args.payer);
          resolved[payer] += e.args.toPayee + e.args.toPayer;
          credit(c.parties[payer].name, e.args.toPayer);
          credit(c.parties[1 - payer].name, e.args.toPayee);
          toPayee += e.args.toPayee;
          toPayer += e.args.toPayer;
        }
        if (resolved[0] !== pot0 || resolved[1] !== pot1) return false;
      }
      return true;
    },
    SETTLE_TIMEOUT_MS,
    500,
  );
  const deposited = new Map<PartyName, bigint>();
  let totalIn = 0n;
  for (const c of all) {
    for (const i of [0, 1] as const) {
      const name = c.parties[i].name;
      deposited.set(name, (deposited.get(name) ?? 0n) + c.deposits[i]);
      totalIn += c.deposits[i];
    }
  }
  const totalOut = [...paid.values()].reduce((a, b) => a + b, 0n);
  return { paid, deposited, totalIn, totalOut, pots, potsToPayee: toPayee, potsToPayer: toPayer };
}
