/**
 * The network's parties and channels. Five parties: Alice, Carol and Erin are wallets; Bob and Dave
 * also run mediating nodes. Channels (first named is participant 0):
 *
 *   Alice ── Bob ── Carol          ab, bc (Bob–Carol deliberately small: a payment too big fails back)
 *             │       │
 *            Dave ── Erin ── Carol bd, de, ce (Carol pays Erin directly: a one-hop payment)
 */
import hre from "hardhat";
import { Wallet, parseEther } from "ethers";
import * as parsec from "../../sdk";
import type { DemoChain } from "./chain";

export const PARTIES = ["alice", "bob", "carol", "dave", "erin"] as const;
export type PartyName = (typeof PARTIES)[number];

export const CHANNEL_NAMES = ["ab", "bc", "bd", "de", "ce"] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

const CHALLENGE_PERIOD = 3600;
/** Channel nonces start here so the network never reuses a channel id of the first act. */
const FIRST_NONCE = 1_000n;

/** Who opens which channel, and what each side deposits. */
const LAYOUT: Record<ChannelName, { parties: [PartyName, PartyName]; deposits: [string, string] }> = {
  ab: { parties: ["alice", "bob"], deposits: ["1", "1"] },
  bc: { parties: ["bob", "carol"], deposits: ["0.01", "0.01"] },
  bd: { parties: ["bob", "dave"], deposits: ["1", "1"] },
  de: { parties: ["dave", "erin"], deposits: ["1", "0.1"] },
  ce: { parties: ["carol", "erin"], deposits: ["0.05", "0.05"] },
};

export interface Party {
  readonly name: PartyName;
  /** Connected to the demo's chain (it sends its own opens, deposits and closes). */
  readonly wallet: Wallet;
  readonly address: parsec.Address;
  readonly key: parsec.Hex;
}

export interface NetChannel {
  readonly name: ChannelName;
  readonly id: parsec.Hash;
  readonly params: parsec.ChannelParams;
  readonly parties: readonly [Party, Party];
  readonly deposits: readonly [bigint, bigint];
}

export interface Network {
  readonly parties: Record<PartyName, Party>;
  readonly channels: Record<ChannelName, NetChannel>;
  /** `party`'s index in `channel` (0 or 1). */
  indexOf(channel: NetChannel, party: PartyName): parsec.PayerIndex;
}

/** Creates the parties (fresh keys, funded) and opens and funds every channel on-chain. */
export async function openNetwork(chain: DemoChain): Promise<Network> {
  const parties = {} as Record<PartyName, Party>;
  for (const name of PARTIES) {
    const wallet = new Wallet(Wallet.createRandom().privateKey, hre.ethers.provider);
    await chain.fund(wallet.address);
    parties[name] = {
      name,
      wallet,
      address: parsec.toAddress(wallet.address),
      key: wallet.privateKey as parsec.Hex,
    };
  }
  const channels = {} as Record<ChannelName, NetChannel>;
  let nonce = FIRST_NONCE;
  for (const name of CHANNEL_NAMES) {
    const layout = LAYOUT[name];
    const [p0, p1] = [parties[layout.parties[0]], parties[layout.parties[1]]];
    const deposits = [parseEther(layout.deposits[0]), parseEther(layout.deposits[1])] as const;
    const params: parsec.ChannelParams = {
      participant0: p0.address,
      participant1: p1.address,
      asset: parsec.ZERO_ADDRESS,
      challengePeriod: CHALLENGE_PERIOD,
      nonce: nonce++,
    };
    const id = parsec.channelIdOf(chain.domain, params);
    await (
      await chain.channels
        .connect(p0.wallet)
        .openEth(p1.address, CHALLENGE_PERIOD, params.nonce, { value: deposits[0] })
    ).wait();
    await (await chain.channels.connect(p1.wallet).deposit(id, 1, { value: deposits[1] })).wait();
    channels[name] = { name, id, params, parties: [p0, p1], deposits };
  }
  return {
    parties,
    channels,
    indexOf: (channel, party) => {
      if (channel.parties[0].name === party) return 0;
      if (channel.parties[1].name === party) return 1;
      throw new Error(`${party} is not in channel ${channel.name}`);
    },
  };
}
