/**
 * Fund & open: the wallet sends the session address the deposit plus a gas allowance (one wallet
 * confirmation), then the session key opens an ETH channel to the counterparty itself (signed locally).
 */
import { sendTransaction, type Config } from "@wagmi/core";
import { createWalletClient, http, parseEther, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { parsecChannelsAbi, type Deployment } from "../../../client";
import { runTx } from "../tx";
import type { Activity } from "../ui/activity";
import type { SessionKey } from "./session";

/** What the session keeps for the gas of opening (and later closing) its channel. */
export const SESSION_GAS_ALLOWANCE = parseEther("0.01");

export interface FundAndOpen {
  readonly counterparty: Address;
  readonly deposit: bigint;
  readonly challengePeriod: number;
}

export async function fundAndOpen(
  config: Config,
  deployment: Deployment,
  rpcUrl: string,
  activity: Activity,
  session: SessionKey,
  input: FundAndOpen,
): Promise<void> {
  await runTx(config, activity, "Fund payment key", () =>
    sendTransaction(config, {
      account: session.owner,
      to: session.address,
      value: input.deposit + SESSION_GAS_ALLOWANCE,
    }),
  );
  const client = createWalletClient({
    account: privateKeyToAccount(session.privateKey),
    chain: config.chains[0],
    transport: http(rpcUrl),
  });
  await runTx(config, activity, "Open payment channel (payment key)", () =>
    client.writeContract({
      address: deployment.ParsecChannels,
      abi: parsecChannelsAbi,
      functionName: "openEth",
      args: [input.counterparty, input.challengePeriod, BigInt(Date.now())],
      value: input.deposit,
    }),
  );
}
