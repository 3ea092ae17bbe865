/**
 * What the buttons do: each user action as simulate → wallet → pending → confirmed, through `runTx`, with
 * signatures from the SDK (EIP-712 through the wallet) and evidence plans from the client package.
 */
import { getBlockNumber, readContract, simulateContract, writeContract, type Config } from "@wagmi/core";
import { parseEventLogs, type Address, type Hex, type TransactionReceipt } from "viem";
import { chainTime, type AssetInfo, type ChannelView, type EscrowView } from "./chain-data";
import {
  hashedTimelockAbi,
  parsecChannelsAbi,
  testTokenAbi,
  counterpartyOf,
  describeShortfall,
  toChannelViews,
  type ChannelViews,
  checkCloseTerms,
  closeRule,
  COOPERATIVE_CLOSE_WINDOW_SECONDS,
  parseSignedClose,
  type SignedCloseInput,
  type Deployment,
  planDisputeFor,
  settleArgsFor,
  type ChannelEvidence,
  type RelayerClient,
} from "../../client";
import {
  MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  cooperativeCloseArgs,
  hashCooperativeClose,
  normalizeSignature,
  parsecDomain,
  recoverSigner,
  signCooperativeClose,
  typedDataDigest,
  walletSigner,
  ZERO_ADDRESS,
  type CooperativeClose,
  type Hash,
} from "../../sdk/isomorphic";
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
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ActionError";
  }
}

/** The latest expiry the dapp accepts on a counterparty's close: a day (the relayer signs for an hour). */
const MAX_CLOSE_EXPIRY_AHEAD = MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS;

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

/** Shows each `TokenShortfallShared` of a payout transaction: the user was paid less than owed. */
function reportShortfalls(ctx: ActionContext, receipt: TransactionReceipt): void {
  const events = parseEventLogs({
    abi: parsecChannelsAbi,
    eventName: "TokenShortfallShared",
    logs: receipt.logs,
  });
  for (const e of events) ctx.activity.add("Token shortfall", "failed", describeShortfall(e.args));
}

/** Reads both views of a channel (`channelState`, `provenHeadsOf`) at one block into `ChannelViews`. */
async function readOnchain(ctx: ActionContext, channelId: Hash): Promise<ChannelViews> {
  // Uncached: viem keeps a block number for seconds, and a state read before the last transaction would
  // plan evidence on top of a state the chain already left.
  const blockNumber = await getBlockNumber(ctx.config, { cacheTime: 0 });
  const at = { ...channelsAt(ctx), args: [channelId], blockNumber } as const;
  const [state, proven] = await Promise.all([
    readContract(ctx.config, { ...at, functionName: "channelState" }),
    readContract(ctx.config, { ...at, functionName: "provenHeadsOf" }),
  ]);
  return toChannelViews(state, proven);
}

/**
 * Cooperative close: the counterparty's signed close from the relayer (or pasted as its JSON), checked
 * against the chain, the user's signature from the wallet (EIP-712 `CooperativeClose` on the same terms:
 * the split, the seqs of the state it settles, an expiry about an hour ahead), then one transaction that
 * pays both at once. After signing, the wallet rule holds until the expiry: no new transfer in the channel.
 */
export async function closeCooperatively(
  ctx: ActionContext,
  channel: ChannelView,
  balance0: bigint,
  balance1: bigint,
  pasted: string,
): Promise<void> {
  const total = channel.deposit0 + channel.deposit1;
  if (balance0 + balance1 !== total)
    throw new ActionError("The two balances must add up to the channel's deposits.");
  const domain = parsecDomain(ctx.deployment.chainId, ctx.deployment.ParsecChannels);
  const counterparty = counterpartyOf(channel.params, channel.side);
  let theirs: Hex;
  let terms: { seq0: number; seq1: number; expiry: bigint };
  if (pasted.trim()) {
    let signed: SignedCloseInput;
    try {
      signed = parseSignedClose(pasted);
    } catch (e) {
      throw new ActionError((e as Error).message, { cause: e });
    }
    if (signed.seq0 === undefined || signed.seq1 === undefined || signed.expiry === undefined) {
      throw new ActionError(
        'Paste the counterparty\'s whole signed close, {"signature", "seq0", "seq1", "expiry"}: a close is bound to the seqs and expiry it was signed for.',
      );
    }
    theirs = signed.signature;
    terms = { seq0: signed.seq0, seq1: signed.seq1, expiry: signed.expiry };
  } else if (ctx.relayer) {
    const relayer = ctx.relayer;
    const answer = await runStep(
      ctx.activity,
      "Counterparty signature (relayer)",
      () => relayer.cooperativeClose(channel.channelId, balance0, balance1, counterparty),
      "received",
    );
    theirs = answer.signature;
    terms = { seq0: answer.seq0, seq1: answer.seq1, expiry: answer.expiry };
  } else throw new ActionError("No relayer is configured: paste the counterparty's signed close.");
  const close: CooperativeClose = { channelId: channel.channelId, balance0, balance1, ...terms };
  const now = await chainTime(ctx.config);
  try {
    checkCloseTerms(close, await readOnchain(ctx, channel.channelId), now);
  } catch (e) {
    throw new ActionError((e as Error).message, { cause: e });
  }
  if (close.expiry > BigInt(now + MAX_CLOSE_EXPIRY_AHEAD)) {
    throw new ActionError(
      `The counterparty's close is valid until ${new Date(Number(close.expiry) * 1000).toISOString()}, more than a day ahead: ` +
        `you could not safely transfer in this channel until then. Ask for one that expires within ${COOPERATIVE_CLOSE_WINDOW_SECONDS / 3600} hour.`,
    );
  }
  let recovered: Address;
  try {
    theirs = normalizeSignature(theirs);
    recovered = recoverSigner(typedDataDigest(domain, hashCooperativeClose(close)), theirs);
  } catch {
    throw new ActionError("The counterparty's signature is malformed.");
  }
  if (recovered.toLowerCase() !== counterparty.toLowerCase()) {
    throw new ActionError(
      `The counterparty's signature is ${recovered}'s, not ${counterparty}'s, for this split at seqs (${close.seq0}, ${close.seq1}).`,
    );
  }
  const provider = await ctx.wallet.provider();
  const mine = await runStep(
    ctx.activity,
    "Your signature",
    () => signCooperativeClose(walletSigner(provider, ctx.account), domain, close),
    `signed at seqs (${close.seq0}, ${close.seq1}). ${closeRule(close.expiry)}`,
  );
  const [sig0, sig1] = channel.side === 0 ? [mine, theirs] : [theirs, mine];
  const receipt = await runTx(ctx.config, ctx.activity, "Cooperative close", async () => {
    const { request } = await simulateContract(ctx.config, {
      ...channelsAt(ctx),
      functionName: "cooperativeClose",
      args: cooperativeCloseArgs(channel.params, close, sig0, sig1),
    });
    return writeContract(ctx.config, request);
  });
  reportShortfalls(ctx, receipt);
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
  const onchain = await readOnchain(ctx, channel.channelId);
  const plan = planDisputeFor({ evidence, onchain: onchain.words, sender: ctx.account });
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
  const onchain = await readOnchain(ctx, channel.channelId);
  const args = settleArgsFor(evidence, channel.params, onchain.words);
  const receipt = await runTx(ctx.config, ctx.activity, "Settle", async () => {
    const { request } = await simulateContract(ctx.config, {
      ...channelsAt(ctx),
      functionName: "settle",
      args,
    });
    return writeContract(ctx.config, request);
  });
  reportShortfalls(ctx, receipt);
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
