/**
 * The demo's chain: Hardhat's in-process network served over JSON-RPC on a free loopback port (so the
 * node processes reach it), one deployed ParsecChannels, and the chain's clock, which the demo moves
 * ahead to expire locks and end challenge periods.
 */
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import { parseEther } from "ethers";
import * as parsec from "../../sdk";
import type { ParsecChannels } from "../../typechain-types";

const MS_PER_SECOND = 1000;

export interface DemoChain {
  readonly rpcUrl: string;
  readonly channels: ParsecChannels;
  readonly address: parsec.Address;
  readonly chainId: bigint;
  readonly domain: parsec.Domain;
  /** Gives `address` 100 ETH (gas and deposits). */
  fund(address: string): Promise<void>;
  /** The chain's latest block time, Unix seconds. */
  latest(): Promise<bigint>;
  /** Moves chain time to at least `t` and mines a block there. */
  travelTo(t: bigint): Promise<void>;
  /** Wall-clock milliseconds shifted to the chain's clock (as of the last `syncClock`/`travelTo`). */
  nowMs(): number;
  /** Re-reads how far the chain runs ahead of the wall clock. */
  syncClock(): Promise<void>;
  close(): Promise<void>;
}

export async function startChain(): Promise<DemoChain> {
  const { ethers } = hre;
  const server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
  const { port } = await server.listen();
  const channels = (await (
    await ethers.getContractFactory("ParsecChannels")
  ).deploy()) as unknown as ParsecChannels;
  const address = parsec.toAddress(await channels.getAddress());
  const { chainId } = await ethers.provider.getNetwork();
  const latest = async (): Promise<bigint> =>
    BigInt((await ethers.provider.getBlock("latest"))?.timestamp ?? 0);
  // Earlier steps move the chain ahead of the wall clock: wallets and nodes must agree on the time.
  let skewMs = 0;
  const syncClock = async (): Promise<void> => {
    skewMs = Math.max(0, Number(await latest()) * MS_PER_SECOND - Date.now());
  };
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    channels,
    address,
    chainId,
    domain: parsec.parsecDomain(chainId, address),
    fund: async (a) => {
      await hre.network.provider.send("hardhat_setBalance", [a, "0x" + parseEther("100").toString(16)]);
    },
    latest,
    travelTo: async (t) => {
      const now = await latest();
      if (t > now) await hre.network.provider.send("evm_increaseTime", [Number(t - now)]);
      await hre.network.provider.send("evm_mine", []);
      await syncClock();
    },
    nowMs: () => Date.now() + skewMs,
    syncClock,
    close: async () => {
      await server.close().catch(() => undefined);
    },
  };
}
