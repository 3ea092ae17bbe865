/**
 * The chain of the chaos run: Hardhat's in-process chain served over JSON-RPC on a free loopback port
 * (as the relayer tests and the bench do), a deployed ParsecChannels, a funded pool of participants
 * whose keys the nodes sign checkpoints with, channels opened in bulk, and the contract's per-payer
 * on-chain seqs read through the SDK's `onchainSeqs`.
 */
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import { Wallet, parseEther, type Contract } from "ethers";
import { type Address, type Domain, type Hash, onchainSeqs, onchainStateOf } from "../../sdk";
import { parsecDomain } from "../../sdk/src/eip712";
import { openChannels } from "../simulator/chain";
import type { SimChannel } from "../simulator/generate";
import { onCleanup } from "./cleanup";

export const DEPOSIT = parseEther("100");

export interface ChaosChain {
  readonly rpcUrl: string;
  readonly address: Address;
  readonly domain: Domain;
  /** Participants of every channel (their keys go to the nodes' signers). */
  readonly participants: readonly Wallet[];
  /** Funded keys the nodes send transactions from, one per node. */
  readonly submitters: readonly Wallet[];
  /** Opens `count` channels with `DEPOSIT` on both sides. */
  open(count: number): Promise<SimChannel[]>;
  /** Each payer's on-chain seq (checkpoint word or proven head, whichever is higher). */
  seqs(id: Hash): Promise<{ seq0: number; seq1: number }>;
}

export async function startChain(participants: number, nodes: number): Promise<ChaosChain> {
  const provider = hre.network.provider;
  const server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider });
  const { port } = await server.listen();
  onCleanup("close the JSON-RPC server", () => server.close());
  const contract = await (await hre.ethers.getContractFactory("ParsecChannels")).deploy();
  await contract.waitForDeployment();
  const address = (await contract.getAddress()) as Address;
  const domain = parsecDomain((await hre.ethers.provider.getNetwork()).chainId, address);
  const pool = Array.from({ length: participants }, () => Wallet.createRandom());
  const submitters = Array.from({ length: nodes }, () => Wallet.createRandom());
  for (const w of [...pool, ...submitters])
    await provider.send("hardhat_setBalance", [w.address, `0x${parseEther("1000000").toString(16)}`]);
  const view = contract as unknown as Contract;
  let nonce = 1n;
  return {
    rpcUrl: `http://127.0.0.1:${port}`,
    address,
    domain,
    participants: pool.map((w) => new Wallet(w.privateKey)),
    submitters: submitters.map((w) => new Wallet(w.privateKey)),
    async open(count) {
      const opened = await openChannels(provider, {
        domain,
        wallets: pool.map((w) => new Wallet(w.privateKey)),
        count,
        deposit0: DEPOSIT,
        deposit1: DEPOSIT,
        challengePeriod: 3600,
        firstNonce: nonce,
      });
      nonce += BigInt(count);
      return opened;
    },
    async seqs(id) {
      const [state, proven] = await Promise.all([
        view.getFunction("channelState")(id),
        view.getFunction("provenHeadsOf")(id),
      ]);
      return onchainSeqs(
        onchainStateOf(
          state as unknown as [unknown, bigint, bigint, bigint],
          proven as unknown as [bigint, bigint, bigint, bigint],
        ),
      );
    },
  };
}
