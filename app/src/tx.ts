/**
 * Every transaction the dapp sends goes through `runTx`: it shows the step as "waiting for the wallet",
 * then "pending" with its hash, then "confirmed" with block and gas, or the revert in words.
 */
import { waitForTransactionReceipt, type Config } from "@wagmi/core";
import type { Hex, TransactionReceipt } from "viem";
import { describeError, toWalletError } from "../../client";
import type { Activity } from "./ui/activity";

/** A transaction that was mined but reverted (simulation passed, the chain changed in between). */
export class RevertedOnChainError extends Error {
  constructor(hash: Hex) {
    super(`Transaction ${hash} was mined but reverted; refresh and try again.`);
    this.name = "RevertedOnChainError";
  }
}

/**
 * Runs `submit` (which simulates, so reverts surface before the wallet opens, and returns the hash) and
 * tracks the transaction in `activity`. Rethrows after showing the error.
 */
export async function runTx(
  config: Config,
  activity: Activity,
  label: string,
  submit: () => Promise<Hex>,
): Promise<TransactionReceipt> {
  const entry = activity.add(label, "waiting", "confirm in your wallet…");
  try {
    const hash = await submit();
    entry.update("pending", `tx ${hash}`, hash);
    const receipt = await waitForTransactionReceipt(config, { hash });
    if (receipt.status !== "success") throw new RevertedOnChainError(hash);
    entry.update("confirmed", `in block ${receipt.blockNumber}, gas ${receipt.gasUsed}`, hash);
    return receipt;
  } catch (e) {
    // A refusal in the wallet leaves here typed (`WalletRejectedError`, the wallet's error as `cause`).
    const error = toWalletError(e);
    entry.update("failed", describeError(error));
    throw error;
  }
}

/** Runs a step that is not a transaction (a signature, a relayer call) with the same feedback. */
export async function runStep<T>(
  activity: Activity,
  label: string,
  work: () => Promise<T>,
  done = "done",
): Promise<T> {
  const entry = activity.add(label, "waiting", "…");
  try {
    const result = await work();
    entry.update("confirmed", done);
    return result;
  } catch (e) {
    const error = toWalletError(e);
    entry.update("failed", describeError(error));
    throw error;
  }
}
