/**
 * What the buttons do: each user action as simulate → wallet → pending → confirmed, through `runTx`, with
 * signatures from the SDK (EIP-712 through the wallet) and evidence plans from `core/dispute`.
 */
import { readContract, simulateContract, writeContract, type Config } from "@wagmi/core";
import type { Address, Hex } from "viem";
import type { AssetInfo, ChannelView, EscrowView } from "./chain-data";
import { hashedTimelockAbi, parsecChannelsAbi, testTokenAbi } from "./core/abi";
import { counterpartyOf, toOnchainState } from "./core/channel";
import type { Deployment } from "./core/deployment";
import { planDispute, settleArgsFor } from "./core/dispute";
import type { ChannelEvidence } from "./core/evidence";
import type { RelayerClient } from "./core/relayer";
import {
  cooperativeCloseArgs,
  hashCooperativeClose,
  normalizeSignature,
  parsecDomain,
  recoverSigner,
  signCooperativeClose,
  typedDataDigest,
  walletSigner,
  ZERO_ADDRESS,
  type Hash,
} from "./core/sdk";
import { runStep, runTx } from "./tx";
import type { Activity } from "./ui/activity";
import type { Wallet } from "./wallet";

export interface ActionContext {
  readonly config: Config;
  readonly deployment: Deployment;
  readonly account: Address;
  readonly activity: Activity;
  readonly relayer: RelayerClient | null;
  readonly wallet: Wallet;
}

/** A user input or precondition that stops an action before any transaction; the message says what to fix. */
export class ActionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ActionError";
  }
}

const channelsAt = (ctx: ActionContext) =>
  ({ address: ctx.deployment.ParsecChannels, abi: parsecChannelsAbi, account: ctx.account }) as const;

/** Approves the channels contract for `amount` of a token if the allowance is short (a visible step). */
async function ensureAllowance(
  ctx: ActionContext,
  token: AssetInfo,
  spender: Address,
  amount: bigint,
): Promise<void> {
  const allowance = await readContract(ctx.config, {
    address: token.address,
    abi: testTokenAbi,
    functionName: "allowance",
    args: [ctx.account, spender],
  });
  if (allowance >= amount) return;
  await runTx(ctx.config, ctx.activity, `Approve ${token.symbol}`, async () => {
    const { request } = await simulateContract(ctx.config, {
      address: token.address,
      abi: testTokenAbi,
      functionName: "approve",
      args: [spender, amount],
      account: ctx.account,
    });
    return writeContract(ctx.config, request);
  });
}

export interface OpenInput {
  readonly counterparty: Address;
  readonly asset: AssetInfo;
  readonly amount: bigint;
  readonly challengePeriod: number;
  readonly nonce: bigint;
}

export async function openChannel(ctx: ActionContext, input: OpenInput): Promise<void> {
  if (input.asset.address === ZERO_ADDRESS) {
    await runTx(ctx.config, ctx.activity, "Open ETH channel", async () => {
      const { request } = await simulateContract(ctx.config, {
        ...channelsAt(ctx),
        functionName: "openEth",
        args: [input.counterparty, input.challengePeriod, input.nonce],
        value: input.amount,
      });
      return writeContract(ctx.config, request);
    });
    return;
  }
  await ensureAllowance(ctx, input.asset, ctx.deployment.ParsecChannels, input.amount);
  await runTx(ctx.config, ctx.activity, `Open ${input.asset.symbol} channel`, async () => {
    const { request } = await simulateContract(ctx.config, {
      ...channelsAt(ctx),
      functionName: "openToken",
      args: [input.counterparty, input.asset.address, input.challengePeriod, input.nonce, input.amount],
    });
    return writeContract(ctx.config, request);
  });
}

export async function deposit(ctx: ActionContext, channel: ChannelView, amount: bigint): Promise<void> {
  const label = `Deposit ${channel.asset.symbol}`;
  if (channel.params.asset === ZERO_ADDRESS) {
    await runTx(ctx.config, ctx.activity, label, async () => {
      const { request } = await simulateContract(ctx.config, {
        ...channelsAt(ctx),
        functionName: "deposit",
        args: [channel.channelId, channel.side],
        value: amount,
      });
      return writeContract(ctx.config, request);
    });
    return;
  }
  await ensureAllowance(ctx, channel.asset, ctx.deployment.ParsecChannels, amount);
  await runTx(ctx.config, ctx.activity, label, async () => {
    const { request } = await simulateContract(ctx.config, {
      ...channelsAt(ctx),
      functionName: "depositToken",
      args: [channel.params, channel.side, amount],
    });
    return writeContract(ctx.config, request);
  });
}

/**
 * Cooperative close: the counterparty's signature from the relayer (or pasted), the user's from the
 * wallet (EIP-712 `CooperativeClose`), then one transaction that pays both at once.
 */
export async function closeCooperatively(
  ctx: ActionContext,
  channel: ChannelView,
  balance0: bigint,
  balance1: bigint,
  pastedSignature: string,
): Promise<void> {
  const total = channel.deposit0 + channel.deposit1;
  if (balance0 + balance1 !== total)
    throw new ActionError("The two balances must add up to the channel's deposits.");
  const domain = parsecDomain(ctx.deployment.chainId, ctx.deployment.ParsecChannels);
  const close = { channelId: channel.channelId, balance0, balance1 };
  const counterparty = counterpartyOf(channel.params, channel.side);
  let theirs: Hex;
  if (pastedSignature.trim()) theirs = pastedSignature.trim() as Hex;
  else if (ctx.relayer) {
    const relayer = ctx.relayer;
    theirs = await runStep(
      ctx.activity,
      "Counterparty signature (relayer)",
      async () => (await relayer.cooperativeClose(channel.channelId, balance0, balance1)).signature,
      "received",
    );
  } else throw new ActionError("No relayer is configured: paste the counterparty's signature.");
  let recovered: Address;
  try {
    theirs = normalizeSignature(theirs);
    recovered = recoverSigner(typedDataDigest(domain, hashCooperativeClose(close)), theirs);
  } catch {
    throw new ActionError("The counterparty's signature is malformed.");
  }
  if (recovered.toLowerCase() !== counterparty.toLowerCase()) {
    throw new ActionError(
      `The counterparty's signature is ${recovered}'s, not ${counterparty}'s, for this split.`,
    );
  }
  const provider = await ctx.wallet.provider();
  const mine = await runStep(
    ctx.activity,
    "Your signature",
    () => signCooperativeClose(walletSigner(provider, ctx.account), domain, close),
    "signed",
  );
  const [sig0, sig1] = channel.side === 0 ? [mine, theirs] : [theirs, mine];
  await runTx(ctx.config, ctx.activity, "Cooperative close", async () => {
    const { request } = await simulateContract(ctx.config, {
      ...channelsAt(ctx),
      functionName: "cooperativeClose",
      args: cooperativeCloseArgs(channel.params, close, sig0, sig1),
    });
    return writeContract(ctx.config, request);
  });
}

export async function closeUnilaterally(ctx: ActionContext, channel: ChannelView): Promise<void> {
  await runTx(ctx.config, ctx.activity, "Close (start challenge period)", async () => {
    const { request } = await simulateContract(ctx.config, {
      ...channelsAt(ctx),
      functionName: "close",
      args: [channel.params],
    });
    return writeContract(ctx.config, request);
  });
}

/** Puts the newest state of the evidence on-chain; returns how many transactions it took. */
export async function dispute(
  ctx: ActionContext,
  channel: ChannelView,
  evidence: ChannelEvidence,
): Promise<number> {
  if (evidence.channelId !== channel.channelId)
    throw new ActionError(`The evidence is for channel ${evidence.channelId}, not this one.`);
  const [record, seq0, seq1, commitment] = await readContract(ctx.config, {
    ...channelsAt(ctx),
    functionName: "channelState",
    args: [channel.channelId],
  });
  const onchain = toOnchainState({ record, seq0, seq1, commitment });
  const plan = planDispute({ evidence, onchain, sender: ctx.account });
  if (plan.steps.length === 0) {
    ctx.activity.add(
      "Dispute",
      "confirmed",
      `the chain already holds the newest state (${onchain.seq0}, ${onchain.seq1})`,
    );
    return 0;
  }
  for (const step of plan.steps) {
    await runTx(ctx.config, ctx.activity, `Dispute: ${step.description}`, async () => {
      if (step.method === "checkpoint") {
        const { request } = await simulateContract(ctx.config, {
          ...channelsAt(ctx),
          functionName: "checkpoint",
          args: step.args,
        });
        return writeContract(ctx.config, request);
      }
      if (step.method === "proveHead") {
        const { request } = await simulateContract(ctx.config, {
          ...channelsAt(ctx),
          functionName: "proveHead",
          args: step.args,
        });
        return writeContract(ctx.config, request);
      }
      const { request } = await simulateContract(ctx.config, {
        ...channelsAt(ctx),
        functionName: "extendChain",
        args: [...step.args],
      });
      return writeContract(ctx.config, request);
    });
  }
  return plan.steps.length;
}

export async function settle(
  ctx: ActionContext,
  channel: ChannelView,
  evidence: ChannelEvidence | null,
): Promise<void> {
  const args = settleArgsFor(evidence, channel.params, channel);
  await runTx(ctx.config, ctx.activity, "Settle", async () => {
    const { request } = await simulateContract(ctx.config, {
      ...channelsAt(ctx),
      functionName: "settle",
      args,
    });
    return writeContract(ctx.config, request);
  });
}

export async function claimEscrow(ctx: ActionContext, escrow: EscrowView, preimage: string): Promise<void> {
  if (!/^0x[0-9a-fA-F]{64}$/.test(preimage.trim()))
    throw new ActionError("The preimage must be 32 bytes of 0x hex (66 characters).");
  await runTx(ctx.config, ctx.activity, "Claim HTLC", async () => {
    const { request } = await simulateContract(ctx.config, {
      address: ctx.deployment.HashedTimelock,
      abi: hashedTimelockAbi,
      account: ctx.account,
      functionName: "claim",
      args: [escrow.id, preimage.trim() as Hash],
    });
    return writeContract(ctx.config, request);
  });
}
