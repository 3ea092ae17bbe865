// Channel tasks: open, deposit, show, checkpoint, close (cooperative or unilateral), dispute, settle,
// resolve-locks.
import fs from "node:fs";
import { task, types } from "hardhat/config";
import {
  countdown,
  counterpartyOf,
  describeShortfall,
  sideOf,
  STATUS_NAMES,
  type ChannelWithViews,
  checkCloseTerms,
  closeRule,
  closeTerms,
  CloseTermsError,
  parseSignedClose,
  signedCloseJson,
  type SignedCloseInput,
  isEmptyOnchainState,
  planDisputeFor,
  settleArgsFor,
  relayerClient,
} from "../client";
import {
  DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  cooperativeCloseArgs,
  checkpointArgs,
  hashCooperativeClose,
  hashlockOf,
  resolveLocksArgs,
  normalizeSignature,
  recoverSigner,
  signCooperativeClose,
  typedDataDigest,
  walletSigner,
  ZERO_ADDRESS,
  resolveLocksOutcome,
  type CooperativeClose,
  type DisputeStep,
  type Eip1193Provider,
  type Hash,
  type Hex,
  type Lock,
} from "../sdk/isomorphic";
import {
  amountArg,
  assetInfo,
  ensureAllowance,
  findChannel,
  formatAmount,
  parsecContext,
  send,
  tokenAt,
  type ParsecContext,
  type TxReport,
} from "./lib/context";
import { TaskError, toTaskError } from "./lib/errors";
import { print } from "./lib/output";
import { withCommonParams, type CommonArgs } from "./lib/params";
import { loadEvidence } from "./lib/sources";

/** Prints each `TokenShortfallShared` of a payout transaction: a payout the contract cut pro rata. */
function printShortfalls(ctx: ParsecContext, tx: TxReport): void {
  for (const log of tx.receipt.logs) {
    const parsed = ctx.channels.interface.parseLog(log);
    if (parsed?.name !== "TokenShortfallShared") continue;
    const [token, account, owed, paid] = parsed.args as unknown as [string, string, bigint, bigint];
    print(`  ${describeShortfall({ token, account, owed, paid })}`);
  }
}

function sideArg(side: string, channel: ChannelWithViews, sender: string): 0 | 1 {
  if (side === "0" || side === "1") return Number(side) as 0 | 1;
  if (side !== "") throw new TaskError(`--side must be 0 or 1, got ${side}`);
  const own = sideOf(channel.params, sender);
  if (own === null)
    throw new TaskError(`${sender} is not a participant of ${channel.channelId}: name the --side to credit`);
  return own;
}

async function describeChannel(ctx: ParsecContext, c: ChannelWithViews): Promise<void> {
  const { decimals, symbol } = await assetInfo(ctx, c.params.asset);
  const now = Number((await ctx.hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0);
  print(`channel ${c.channelId}`);
  print(`  participants P0 ${c.params.participant0}, P1 ${c.params.participant1}`);
  print(
    `  asset ${c.params.asset === ZERO_ADDRESS ? "ETH" : `${symbol} ${c.params.asset}`}, challenge period ${c.params.challengePeriod} s, nonce ${c.params.nonce}`,
  );
  print(`  status ${STATUS_NAMES[c.status]}`);
  print(
    `  deposits P0 ${formatAmount(c.deposit0, decimals, symbol)}, P1 ${formatAmount(c.deposit1, decimals, symbol)}`,
  );
  const w = c.words;
  const proven = w.proven[0].seq > w.seq0 || w.proven[1].seq > w.seq1;
  print(
    `  on-chain seqs P0 ${c.seq0}, P1 ${c.seq1}` +
      (proven ? ` (checkpoint ${w.seq0}/${w.seq1}, proven ${w.proven[0].seq}/${w.proven[1].seq})` : ""),
  );
  if (c.status === "CLOSING") {
    const left = countdown(c.closesAt, now);
    print(
      `  closes at ${new Date(c.closesAt * 1000).toISOString()} — ${left ? `settle in ${left}` : "settle now"}`,
    );
  }
}

// ---------------------------------------------------------------- open

interface OpenArgs extends CommonArgs {
  counterparty: string;
  amount: string;
  token: string;
  period: number;
  nonce: string;
}

export interface OpenResult {
  readonly channelId: Hash;
  readonly txs: readonly TxReport[];
}

withCommonParams(
  task("channel:open", "Opens a channel (ETH, or an ERC-20 with --token) with your first deposit"),
)
  .addParam("counterparty", "The other participant (P1)", undefined, types.string)
  .addParam("amount", 'Your deposit, in ETH or token units (e.g. "0.5")', undefined, types.string)
  .addOptionalParam(
    "token",
    "ERC-20 address (or TST for the deployment's TestToken); ETH if omitted",
    "",
    types.string,
  )
  .addOptionalParam("period", "Challenge period in seconds (1 hour … 30 days)", 86_400, types.int)
  .addOptionalParam("nonce", "Channel nonce (default: the current time in ms)", "", types.string)
  .setAction(async (args: OpenArgs, hre): Promise<OpenResult> => {
    const ctx = await parsecContext(hre, args);
    if (!hre.ethers.isAddress(args.counterparty))
      throw new TaskError(`--counterparty must be an address, got ${args.counterparty}`);
    if (!/^\d*$/.test(args.nonce))
      throw new TaskError(`--nonce must be a non-negative integer, got ${args.nonce}`);
    const nonce = args.nonce === "" ? BigInt(Date.now()) : BigInt(args.nonce);
    const txs: TxReport[] = [];
    let opened: TxReport;
    if (args.token) {
      const token = await tokenAt(ctx, args.token);
      const { decimals, symbol } = await assetInfo(ctx, await token.getAddress());
      const amount = amountArg("amount", args.amount, decimals);
      print(
        `opening a ${symbol} channel with ${args.counterparty}, depositing ${formatAmount(amount, decimals, symbol)}`,
      );
      const approve = await ensureAllowance(token, ctx.signer.address, ctx.deployment.ParsecChannels, amount);
      if (approve) txs.push(approve);
      opened = await send("openToken", () =>
        ctx.channels.openToken(args.counterparty, token.getAddress(), args.period, nonce, amount),
      );
    } else {
      const amount = amountArg("amount", args.amount, 18);
      print(
        `opening an ETH channel with ${args.counterparty}, depositing ${formatAmount(amount, 18, "ETH")}`,
      );
      opened = await send("openEth", () =>
        ctx.channels.openEth(args.counterparty, args.period, nonce, { value: amount }),
      );
    }
    txs.push(opened);
    const event = opened.receipt.logs
      .map((log) => ctx.channels.interface.parseLog(log))
      .find((parsed) => parsed?.name === "ChannelOpened");
    if (!event) throw new TaskError("the open transaction emitted no ChannelOpened event");
    const channelId = (event.args.channelId as string).toLowerCase() as Hash;
    print(`opened channel ${channelId} (nonce ${nonce})`);
    return { channelId, txs };
  });

// ---------------------------------------------------------------- deposit

interface DepositArgs extends CommonArgs {
  channel: string;
  amount: string;
  side: string;
}

withCommonParams(
  task("channel:deposit", "Adds to a side's deposit of an open channel (your side by default)"),
)
  .addParam("channel", "Channel id", undefined, types.string)
  .addParam("amount", "Amount in ETH or token units", undefined, types.string)
  .addOptionalParam("side", "0 or 1 (default: the sender's side)", "", types.string)
  .setAction(async (args: DepositArgs, hre): Promise<readonly TxReport[]> => {
    const ctx = await parsecContext(hre, args);
    const channel = await findChannel(ctx, args.channel);
    const side = sideArg(args.side, channel, ctx.signer.address);
    const { decimals, symbol } = await assetInfo(ctx, channel.params.asset);
    const amount = amountArg("amount", args.amount, decimals);
    print(`depositing ${formatAmount(amount, decimals, symbol)} for P${side} into ${channel.channelId}`);
    if (channel.params.asset === ZERO_ADDRESS) {
      return [await send("deposit", () => ctx.channels.deposit(channel.channelId, side, { value: amount }))];
    }
    const token = await tokenAt(ctx, channel.params.asset);
    const approve = await ensureAllowance(token, ctx.signer.address, ctx.deployment.ParsecChannels, amount);
    const deposit = await send("depositToken", () => ctx.channels.depositToken(channel.params, side, amount));
    return approve ? [approve, deposit] : [deposit];
  });

// ---------------------------------------------------------------- show

interface ShowArgs extends CommonArgs {
  channel: string;
  participant: string;
  relayer: string;
}

withCommonParams(
  task("channel:show", "Shows a channel, or every channel of a participant (default: the sender)"),
)
  .addOptionalParam("channel", "Channel id", "", types.string)
  .addOptionalParam("participant", "List this participant's channels", "", types.string)
  .addOptionalParam("relayer", "Relayer URL: adds the off-chain balances", "", types.string)
  .setAction(async (args: ShowArgs, hre): Promise<readonly ChannelWithViews[]> => {
    const ctx = await parsecContext(hre, args);
    let ids: string[];
    if (args.channel) ids = [args.channel];
    else {
      const who = args.participant || ctx.signer.address;
      const filters = [
        ctx.channels.filters.ChannelOpened(undefined, who),
        ctx.channels.filters.ChannelOpened(undefined, undefined, who),
      ];
      const logs = (
        await Promise.all(filters.map((f) => ctx.channels.queryFilter(f, ctx.deployment.blockNumber)))
      ).flat();
      ids = [...new Set(logs.map((l) => l.args.channelId as string))];
      print(`${ids.length} channel(s) of ${who}`);
    }
    const out: ChannelWithViews[] = [];
    const relayer = args.relayer ? relayerClient(args.relayer) : null;
    for (const id of ids) {
      const channel = await findChannel(ctx, id);
      out.push(channel);
      await describeChannel(ctx, channel);
      if (relayer) {
        try {
          const off = await relayer.channel(channel.channelId);
          const { decimals, symbol } = await assetInfo(ctx, channel.params.asset);
          if (!off) print("  relayer: does not know this channel");
          else if (off.balance0 !== null && off.balance1 !== null) {
            print(
              `  off-chain (relayer): P0 ${formatAmount(off.balance0, decimals, symbol)}, P1 ${formatAmount(off.balance1, decimals, symbol)}, seqs ${off.seq0 ?? "?"}/${off.seq1 ?? "?"}`,
            );
          }
        } catch (e) {
          print(`  relayer: ${(e as Error).message}`);
        }
      }
    }
    return out;
  });

// ---------------------------------------------------------------- checkpoint

interface EvidenceTaskArgs extends CommonArgs {
  channel: string;
  evidence: string;
  relayer: string;
}

withCommonParams(
  task(
    "channel:checkpoint",
    "Submits the co-signed checkpoint of some evidence if it is newer than the chain's",
  ),
)
  .addParam("channel", "Channel id", undefined, types.string)
  .addOptionalParam("evidence", "Evidence JSON file", "", types.string)
  .addOptionalParam("relayer", "Relayer URL to fetch the evidence from", "", types.string)
  .setAction(async (args: EvidenceTaskArgs, hre): Promise<TxReport | null> => {
    const ctx = await parsecContext(hre, args);
    const channel = await findChannel(ctx, args.channel);
    const evidence = await loadEvidence(args, ctx.domain, channel.channelId);
    if (!evidence) throw new TaskError("give --evidence <file> or --relayer <url>");
    const c = evidence.checkpoint;
    if (!c) throw new TaskError("the evidence holds no co-signed checkpoint");
    // A checkpoint replaces the checkpoint word only (proven heads above it stay the on-chain heads).
    const held = channel.words;
    if (c.seq0 < held.seq0 || c.seq1 < held.seq1 || (c.seq0 === held.seq0 && c.seq1 === held.seq1)) {
      print(
        `the chain's checkpoint is (${held.seq0}, ${held.seq1}); the checkpoint (${c.seq0}, ${c.seq1}) is not newer: nothing to do`,
      );
      return null;
    }
    print(`checkpointing ${channel.channelId} at seqs (${c.seq0}, ${c.seq1})`);
    return send("checkpoint", () => ctx.channels.checkpoint(...checkpointArgs(evidence.ledger.params, c)));
  });

// ---------------------------------------------------------------- close

interface CloseArgs extends CommonArgs {
  channel: string;
  cooperative: boolean;
  balance0: string;
  balance1: string;
  signature: string;
  signatureFile: string;
  relayer: string;
  evidence: string;
  seq0: string;
  seq1: string;
  expiry: string;
  closeExpiry: number;
}

/** Signs a cooperative close as `address` through the network's provider (local or configured accounts). */
async function signAs(ctx: ParsecContext, address: string, close: CooperativeClose): Promise<Hex> {
  const provider = ctx.hre.network.provider as Eip1193Provider;
  try {
    return await signCooperativeClose(walletSigner(provider, address), ctx.domain, close);
  } catch (e) {
    throw toTaskError(`signing the cooperative close as ${address}`, e);
  }
}

/** The counterparty's signature on `close`, checked to be its signature on exactly these terms. */
function checkCounterpartySignature(
  ctx: ParsecContext,
  counterparty: string,
  close: CooperativeClose,
  signature: Hex,
): Hex {
  let normalized: Hex;
  let recovered: string;
  try {
    normalized = normalizeSignature(signature);
    recovered = recoverSigner(typedDataDigest(ctx.domain, hashCooperativeClose(close)), normalized);
  } catch (e) {
    throw new TaskError(`the counterparty signature is malformed: ${(e as Error).message}`, e);
  }
  if (recovered.toLowerCase() !== counterparty.toLowerCase()) {
    throw new TaskError(
      `the counterparty signature is ${recovered}'s, not ${counterparty}'s, for balances (${close.balance0}, ${close.balance1}) at seqs (${close.seq0}, ${close.seq1}) until ${close.expiry}: check the terms it signed (--seq0/--seq1/--expiry, or its signed close JSON)`,
    );
  }
  return normalized;
}

/** A pasted counterparty close: `--signature` (0x… or its JSON) or `--signature-file` (its JSON). */
function pastedClose(args: CloseArgs): SignedCloseInput | null {
  try {
    if (args.signature) return parseSignedClose(args.signature);
    if (args.signatureFile) {
      let text: string;
      try {
        text = fs.readFileSync(args.signatureFile, "utf8");
      } catch (e) {
        throw new TaskError(`cannot read ${args.signatureFile}: ${(e as Error).message}`, e);
      }
      return parseSignedClose(text);
    }
  } catch (e) {
    if (e instanceof CloseTermsError) throw new TaskError(e.message, e);
    throw e;
  }
  return null;
}

function uintArg(name: string, value: string, bits: number): bigint | undefined {
  if (value === "") return undefined;
  if (!/^\d+$/.test(value) || BigInt(value) >= 1n << BigInt(bits))
    throw new TaskError(`--${name} must be an integer below 2^${bits}, got ${value}`);
  return BigInt(value);
}

withCommonParams(
  task(
    "channel:close",
    "Closes a channel: cooperatively (both sign the split of the current state, paid at once) or unilaterally",
  ),
)
  .addParam("channel", "Channel id", undefined, types.string)
  .addFlag("cooperative", "Close with both signatures on --balance0/--balance1")
  .addOptionalParam("balance0", "P0's final balance (cooperative; default: the relayer's)", "", types.string)
  .addOptionalParam("balance1", "P1's final balance (cooperative; default: the rest)", "", types.string)
  .addOptionalParam(
    "signature",
    'The counterparty\'s CooperativeClose signature (0x…) or its signed close JSON {"signature","seq0","seq1","expiry"}',
    "",
    types.string,
  )
  .addOptionalParam(
    "signatureFile",
    'JSON file with the counterparty\'s signed close {"signature": "0x…", "seq0", "seq1", "expiry"}',
    "",
    types.string,
  )
  .addOptionalParam(
    "relayer",
    "Relayer URL: POST /channels/:id/cooperative-close for the signature (it names its ledger's seqs and an expiry)",
    "",
    types.string,
  )
  .addOptionalParam(
    "evidence",
    "Evidence JSON file: the close names its latest seqs (default: the on-chain seqs)",
    "",
    types.string,
  )
  .addOptionalParam(
    "seq0",
    "P0's seq of the state the close settles (default: evidence, else on-chain)",
    "",
    types.string,
  )
  .addOptionalParam(
    "seq1",
    "P1's seq of the state the close settles (default: evidence, else on-chain)",
    "",
    types.string,
  )
  .addOptionalParam(
    "expiry",
    "Unix seconds the close expires, as the counterparty signed it (default: now + --close-expiry)",
    "",
    types.string,
  )
  .addOptionalParam(
    "closeExpiry",
    "Seconds from now the close you sign stays valid (no transfers in the channel until then)",
    DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
    types.int,
  )
  .setAction(async (args: CloseArgs, hre): Promise<TxReport> => {
    const ctx = await parsecContext(hre, args);
    const channel = await findChannel(ctx, args.channel);
    const own = sideOf(channel.params, ctx.signer.address);
    if (!args.cooperative) {
      print(
        `closing ${channel.channelId} unilaterally: the challenge period of ${channel.params.challengePeriod} s starts`,
      );
      const report = await send("close", () => ctx.channels.close(channel.params));
      const closing = await findChannel(ctx, channel.channelId);
      print(
        `  settle after ${new Date(closing.closesAt * 1000).toISOString()}; bring evidence with channel:dispute before then`,
      );
      return report;
    }
    if (own === null)
      throw new TaskError(`${ctx.signer.address} is not a participant: use --from with a participant`);
    if (!Number.isInteger(args.closeExpiry) || args.closeExpiry <= 0)
      throw new TaskError(`--close-expiry must be a positive number of seconds, got ${args.closeExpiry}`);
    const { decimals, symbol } = await assetInfo(ctx, channel.params.asset);
    const total = channel.deposit0 + channel.deposit1;
    let balance0: bigint;
    let balance1: bigint;
    if (args.balance0 || args.balance1) {
      balance0 = args.balance0
        ? amountArg("balance0", args.balance0, decimals, true)
        : total - amountArg("balance1", args.balance1, decimals, true);
      balance1 = args.balance1 ? amountArg("balance1", args.balance1, decimals, true) : total - balance0;
    } else if (args.relayer) {
      const off = await relayerClient(args.relayer)
        .channel(channel.channelId)
        .catch((e: Error) => {
          throw new TaskError(e.message, e);
        });
      if (!off || off.balance0 === null || off.balance1 === null)
        throw new TaskError("the relayer has no balances for this channel: give --balance0");
      balance0 = off.balance0;
      balance1 = off.balance1;
    } else throw new TaskError("a cooperative close needs --balance0 (and --balance1) or --relayer");
    if (balance0 < 0n || balance1 < 0n || balance0 + balance1 !== total) {
      throw new TaskError(`the balances must sum to the deposits, ${formatAmount(total, decimals, symbol)}`);
    }
    const counterparty = counterpartyOf(channel.params, own);
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0);

    // The terms: the seqs of the state the split settles and an expiry. The relayer, or a pasted close,
    // fixes them when the counterparty signed first; else the evidence's (or the chain's) seqs and now + window.
    let close: CooperativeClose;
    let theirs: Hex | null = null;
    const pasted = pastedClose(args);
    const seqArg = (i: 0 | 1) => {
      const v = uintArg(`seq${i}`, i === 0 ? args.seq0 : args.seq1, 32);
      return v === undefined ? undefined : Number(v);
    };
    if (!pasted && args.relayer) {
      print(`  asking the relayer ${args.relayer} for ${counterparty}'s signature`);
      let answer;
      try {
        answer = await relayerClient(args.relayer).cooperativeClose(
          channel.channelId,
          balance0,
          balance1,
          counterparty,
        );
      } catch (e) {
        throw new TaskError((e as Error).message, e);
      }
      theirs = answer.signature;
      close = {
        channelId: channel.channelId,
        balance0,
        balance1,
        seq0: answer.seq0,
        seq1: answer.seq1,
        expiry: answer.expiry,
      };
    } else {
      const evidence = args.evidence
        ? await loadEvidence({ evidence: args.evidence }, ctx.domain, channel.channelId)
        : null;
      const seqOf = (i: 0 | 1): number =>
        (i === 0 ? pasted?.seq0 : pasted?.seq1) ??
        seqArg(i) ??
        (evidence ? evidence.ledger.state(i).seq : i === 0 ? channel.seq0 : channel.seq1);
      const expiry = pasted?.expiry ?? uintArg("expiry", args.expiry, 64);
      if (expiry === undefined && pasted) {
        throw new TaskError(
          "the counterparty signed its close for an expiry: give --expiry (and --seq0/--seq1), or its signed close JSON",
        );
      }
      if (pasted) theirs = pasted.signature;
      const terms = { channelId: channel.channelId, balance0, balance1, seq0: seqOf(0), seq1: seqOf(1) };
      close =
        expiry === undefined ? closeTerms({ ...terms, now, window: args.closeExpiry }) : { ...terms, expiry };
    }
    try {
      checkCloseTerms(close, channel, now);
    } catch (e) {
      throw new TaskError((e as Error).message, e);
    }
    print(
      `closing ${channel.channelId} cooperatively: P0 ${formatAmount(balance0, decimals, symbol)}, P1 ${formatAmount(balance1, decimals, symbol)}, at seqs (${close.seq0}, ${close.seq1}), valid until ${new Date(Number(close.expiry) * 1000).toISOString()}`,
    );
    print(`  wallet rule: ${closeRule(close.expiry)}`);
    if (theirs) theirs = checkCounterpartySignature(ctx, counterparty, close, theirs);
    const mine = await signAs(ctx, ctx.signer.address, close);
    print(`  your signed close: ${signedCloseJson(close, mine)}`);
    if (!theirs) {
      const accounts = (await ctx.hre.network.provider.request({ method: "eth_accounts" })) as string[];
      if (!accounts.some((a) => a.toLowerCase() === counterparty.toLowerCase())) {
        throw new TaskError(
          `${counterparty}'s signature is needed: give --signature, --signature-file or --relayer (or pass it your signed close above)`,
        );
      }
      print(`  signing as the counterparty ${counterparty} (an account of this network)`);
      theirs = await signAs(ctx, counterparty, close);
    }
    const [sig0, sig1] = own === 0 ? [mine, theirs] : [theirs, mine];
    const tx = await send("cooperativeClose", () =>
      ctx.channels.cooperativeClose(...cooperativeCloseArgs(channel.params, close, sig0, sig1)),
    );
    printShortfalls(ctx, tx);
    return tx;
  });

// ---------------------------------------------------------------- dispute

interface DisputeArgs extends EvidenceTaskArgs {
  mode: string;
  chunk: number;
}

async function runStep(ctx: ParsecContext, step: DisputeStep): Promise<TxReport> {
  switch (step.method) {
    case "checkpoint":
      return send(step.description, () => ctx.channels.checkpoint(...step.args));
    case "proveHead":
      return send(step.description, () => ctx.channels.proveHead(...step.args));
    case "extendChain":
      return send(step.description, () => ctx.channels.extendChain(...step.args));
  }
}

withCommonParams(
  task(
    "channel:dispute",
    "Puts the newest state of some evidence on-chain (checkpoint, head proof, chain pieces)",
  ),
)
  .addParam("channel", "Channel id", undefined, types.string)
  .addOptionalParam("evidence", "Evidence JSON file", "", types.string)
  .addOptionalParam("relayer", "Relayer URL to fetch the evidence from", "", types.string)
  .addOptionalParam(
    "mode",
    "auto (head proofs where you are the payee) or chain (verify every transfer)",
    "auto",
    types.string,
  )
  .addOptionalParam("chunk", "Transfers per extendChain transaction", 50, types.int)
  .setAction(async (args: DisputeArgs, hre): Promise<readonly TxReport[]> => {
    if (args.mode !== "auto" && args.mode !== "chain")
      throw new TaskError(`--mode must be auto or chain, got ${args.mode}`);
    const ctx = await parsecContext(hre, args);
    const channel = await findChannel(ctx, args.channel);
    if (channel.status !== "OPEN" && channel.status !== "CLOSING") {
      throw new TaskError(
        `channel ${channel.channelId} is ${STATUS_NAMES[channel.status]}: evidence is taken only while open or closing`,
      );
    }
    const evidence = await loadEvidence(args, ctx.domain, channel.channelId);
    if (!evidence) throw new TaskError("give --evidence <file> or --relayer <url>");
    let plan;
    try {
      plan = planDisputeFor({
        evidence,
        onchain: channel.words,
        sender: ctx.signer.address,
        mode: args.mode,
        chunkSize: args.chunk,
      });
    } catch (e) {
      throw new TaskError((e as Error).message, e);
    }
    if (plan.steps.length === 0) {
      print(
        `the chain already holds the newest state of the evidence (${channel.seq0}, ${channel.seq1}): nothing to do`,
      );
      return [];
    }
    const target = [evidence.ledger.state(0).seq, evidence.ledger.state(1).seq];
    print(
      `disputing ${channel.channelId}: on-chain (${channel.seq0}, ${channel.seq1}) → (${target.join(", ")}) in ${plan.steps.length} transaction(s)`,
    );
    const reports: TxReport[] = [];
    for (const step of plan.steps) reports.push(await runStep(ctx, step));
    const total = reports.reduce((sum, r) => sum + r.gasUsed, 0n);
    print(`done: total gas ${total}`);
    return reports;
  });

// ---------------------------------------------------------------- settle

interface SettleResult {
  readonly tx: TxReport;
  readonly payout0: bigint;
  readonly payout1: bigint;
  readonly pot0: bigint;
  readonly pot1: bigint;
}

withCommonParams(task("channel:settle", "Pays out a closing channel after its challenge period"))
  .addParam("channel", "Channel id", undefined, types.string)
  .addOptionalParam("evidence", "Evidence JSON file with the on-chain head transfers", "", types.string)
  .addOptionalParam("relayer", "Relayer URL to fetch the evidence from", "", types.string)
  .setAction(async (args: EvidenceTaskArgs, hre): Promise<SettleResult> => {
    const ctx = await parsecContext(hre, args);
    const channel = await findChannel(ctx, args.channel);
    if (channel.status !== "CLOSING") {
      throw new TaskError(
        `channel ${channel.channelId} is ${STATUS_NAMES[channel.status]}; only a closing channel settles (channel:close first)`,
      );
    }
    const now = Number((await hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0);
    const left = countdown(channel.closesAt, now);
    if (left) print(`  the challenge period ends in ${left}; the contract will refuse until then`);
    const evidence = isEmptyOnchainState(channel.words)
      ? null
      : await loadEvidence(args, ctx.domain, channel.channelId);
    let settleArgs;
    try {
      settleArgs = settleArgsFor(evidence, channel.params, channel.words);
    } catch (e) {
      throw new TaskError(`${(e as Error).message} (--evidence or --relayer)`, e);
    }
    const tx = await send("settle", () => ctx.channels.settle(...settleArgs));
    const event = tx.receipt.logs
      .map((l) => ctx.channels.interface.parseLog(l))
      .find((p) => p?.name === "ChannelSettled");
    if (!event) throw new TaskError("settle emitted no ChannelSettled event");
    const [, payout0, payout1, pot0, pot1] = event.args as unknown as [
      string,
      bigint,
      bigint,
      bigint,
      bigint,
    ];
    const { decimals, symbol } = await assetInfo(ctx, channel.params.asset);
    print(
      `settled: P0 ${formatAmount(payout0, decimals, symbol)}, P1 ${formatAmount(payout1, decimals, symbol)}`,
    );
    if (pot0 > 0n || pot1 > 0n) {
      print(
        `  held for pending locks: P0's ${pot0}, P1's ${pot1}; channel:resolve-locks pays each lock once its outcome is known (revealed in time: payee; expired: payer)`,
      );
    }
    printShortfalls(ctx, tx);
    return { tx, payout0, payout1, pot0, pot1 };
  });

interface ResolveLocksArgs extends CommonArgs {
  channel: string;
  payer: string;
  evidence: string;
  relayer: string;
  preimages: string;
}

export interface ResolveLocksResult {
  readonly tx: TxReport;
  readonly toPayee: bigint;
  readonly toPayer: bigint;
  /** Indexes (in the pending list) of the locks this call resolved. */
  readonly resolved: readonly number[];
  /** Indexes of the locks that stay open: unrevealed and not expired. */
  readonly open: readonly number[];
}

/** The pending locks of `payer` whose list hashes to `root`: the settled head's, found in the evidence. */
function locksWithRoot(ledger: ChannelEvidenceLedger, payer: 0 | 1, root: Hash): readonly Lock[] | null {
  for (let seq = ledger.state(payer).seq; seq >= ledger.baseSeq(payer); seq--) {
    const state = ledger.stateAt(payer, seq);
    if (state.locksRoot === root) return state.locks;
  }
  return null;
}

type ChannelEvidenceLedger = NonNullable<Awaited<ReturnType<typeof loadEvidence>>>["ledger"];

withCommonParams(
  task(
    "channel:resolve-locks",
    "Resolves each lock of a settled channel's pot of one payer whose outcome is known (revealed in time: payee; expired: payer); open ones stay",
  ),
)
  .addParam("channel", "Channel id", undefined, types.string)
  .addParam("payer", "Whose locks: 0 (P0's) or 1 (P1's)", undefined, types.string)
  .addOptionalParam("evidence", "Evidence JSON file with the payer's pending locks", "", types.string)
  .addOptionalParam("relayer", "Relayer URL to fetch the evidence from", "", types.string)
  .addOptionalParam(
    "preimages",
    "Comma-separated 0x preimages to reveal in this call (they count before their lock's expiry)",
    "",
    types.string,
  )
  .setAction(async (args: ResolveLocksArgs, hre): Promise<ResolveLocksResult> => {
    if (args.payer !== "0" && args.payer !== "1")
      throw new TaskError(`--payer must be 0 or 1, got "${args.payer}"`);
    const payer = args.payer === "0" ? 0 : 1;
    const ctx = await parsecContext(hre, args);
    const channel = await findChannel(ctx, args.channel);
    if (channel.status !== "SETTLED") {
      throw new TaskError(
        `channel ${channel.channelId} is ${STATUS_NAMES[channel.status]}; locks are resolved after it settles (channel:settle)`,
      );
    }
    const pending = await ctx.channels.pendingLocksOf(channel.channelId);
    const [root, pot] = payer === 0 ? [pending.locksRoot0, pending.pot0] : [pending.locksRoot1, pending.pot1];
    if (pot === 0n)
      throw new TaskError(`payer ${payer} has no locks left to resolve in ${channel.channelId}`);
    const evidence = await loadEvidence(args, ctx.domain, channel.channelId);
    if (!evidence)
      throw new TaskError("the payer's pending lock list is needed: give --evidence or --relayer");
    const locks = locksWithRoot(evidence.ledger, payer, root as Hash);
    if (!locks) {
      throw new TaskError(
        `the evidence holds no state of payer ${payer} whose pending locks hash to the settled root ${root}; fetch newer evidence`,
      );
    }
    const byHashlock = new Map<string, Hash>();
    for (const raw of args.preimages
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (!/^0x[0-9a-fA-F]{64}$/.test(raw))
        throw new TaskError(`a preimage is 0x and 64 hex digits, got "${raw}"`);
      byHashlock.set(hashlockOf(raw.toLowerCase() as Hash), raw.toLowerCase() as Hash);
    }
    const preimages = byHashlock.size === 0 ? [] : locks.map((l) => byHashlock.get(l.hashlock) ?? null);
    const before = BigInt(payer === 0 ? pending.resolved0 : pending.resolved1);
    const { decimals, symbol } = await assetInfo(ctx, channel.params.asset);
    const fmt = (v: bigint) => formatAmount(v, decimals, symbol);
    const until = (l: Lock) => new Date(Number(l.expiry) * 1000).toISOString();
    const describeLock = (i: number) => `lock ${i} (${fmt(locks[i].amount)}, hashlock ${locks[i].hashlock})`;
    const isResolved = (mask: bigint, i: number) => (mask & (1n << BigInt(i))) !== 0n;
    const alreadyDone = locks.map((_l, i) => i).filter((i) => isResolved(before, i));
    print(
      `  ${locks.length} pending lock(s) of payer ${payer}, pot ${fmt(pot)}` +
        (alreadyDone.length > 0 ? ` (locks ${alreadyDone.join(", ")} resolved before)` : "") +
        `; ${byHashlock.size} preimage(s) shown`,
    );
    // When a preimage was registered on-chain (0: never): a lock revealed by its expiry goes to the payee.
    const registered = await Promise.all(
      locks.map(async (l) => BigInt(await ctx.channels.secretRevealedAt(l.hashlock))),
    );
    let tx: TxReport;
    try {
      tx = await send("resolveLocks", () =>
        ctx.channels.resolveLocks(...resolveLocksArgs(channel.params, payer, locks, preimages)),
      );
    } catch (e) {
      const open = locks.map((_l, i) => i).filter((i) => !isResolved(before, i));
      const detail = open.map((i) => `${describeLock(i)} open until ${until(locks[i])}`).join("; ");
      throw new TaskError(`${(e as Error).message}${detail ? ` Still open: ${detail}.` : ""}`, e);
    }
    const event = tx.receipt.logs
      .map((l) => ctx.channels.interface.parseLog(l))
      .find((p) => p?.name === "LocksResolved");
    if (!event) throw new TaskError("resolveLocks emitted no LocksResolved event");
    const toPayee = event.args.toPayee as bigint;
    const toPayer = event.args.toPayer as bigint;
    const mask = BigInt(event.args.resolved as bigint);
    const minedAt = BigInt((await hre.ethers.provider.getBlock(tx.blockNumber))?.timestamp ?? 0);
    // Each lock's share and side, as the contract decided them in that block.
    const revealedInTime = (l: Lock, i: number): boolean =>
      (preimages[i] !== undefined && preimages[i] !== null && minedAt <= l.expiry) ||
      (registered[i] !== 0n && registered[i] <= l.expiry);
    const outcome = resolveLocksOutcome(locks, pot, revealedInTime, minedAt, before);
    const resolved = locks.map((_l, i) => i).filter((i) => isResolved(mask, i));
    const open = locks.map((_l, i) => i).filter((i) => !isResolved(before | mask, i));
    print(`resolved: to the payee ${fmt(toPayee)}, back to the payer ${fmt(toPayer)}`);
    for (const i of resolved) {
      const share = outcome.shares[i];
      const side =
        share === 0n
          ? "no share of the pot left"
          : revealedInTime(locks[i], i)
            ? `${fmt(share)} to the payee (revealed in time)`
            : `${fmt(share)} back to the payer (expired unrevealed)`;
      print(`  resolved ${describeLock(i)}: ${side}`);
    }
    if (outcome.uncovered > 0n) print(`  ${fmt(outcome.uncovered)} no lock covers went back to the payer`);
    for (const i of open) {
      print(
        `  still open: ${describeLock(i)} until ${until(locks[i])}: reveal its preimage by then (payee), or call again after it (payer)`,
      );
    }
    if (open.length === 0) print(`  every lock of payer ${payer} is resolved`);
    printShortfalls(ctx, tx);
    return { tx, toPayee, toPayer, resolved, open };
  });
