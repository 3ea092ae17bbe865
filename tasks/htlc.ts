// HashedTimelock tasks (lock, claim, refund) and secret registration on ParsecChannels.
import { randomBytes } from "node:crypto";
import { task, types } from "hardhat/config";
import { hashlockOf, ZERO_ADDRESS, type Hash } from "../sdk/isomorphic";
import {
  amountArg,
  assetInfo,
  ensureAllowance,
  formatAmount,
  parsecContext,
  send,
  tokenAt,
  type TxReport,
} from "./lib/context";
import { TaskError } from "./lib/errors";
import { print } from "./lib/output";
import { withCommonParams, type CommonArgs } from "./lib/params";

function bytes32Arg(name: string, value: string): Hash {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value))
    throw new TaskError(`--${name} must be 32 bytes of 0x hex, got ${value}`);
  return value.toLowerCase() as Hash;
}

interface LockArgs extends CommonArgs {
  receiver: string;
  amount: string;
  token: string;
  hashlock: string;
  preimage: string;
  timelock: number;
}

export interface LockResult {
  readonly id: Hash;
  readonly hashlock: Hash;
  /** Set when the task made the secret: keep it, it is what claims the escrow. */
  readonly preimage: Hash | null;
  readonly timelock: bigint;
  readonly txs: readonly TxReport[];
}

withCommonParams(
  task("htlc:lock", "Escrows ETH or an ERC-20 for a receiver under a sha256 hashlock until a timelock"),
)
  .addParam("receiver", "Who may claim with the preimage", undefined, types.string)
  .addParam("amount", "Amount in ETH or token units", undefined, types.string)
  .addOptionalParam("token", "ERC-20 address or TST; ETH if omitted", "", types.string)
  .addOptionalParam(
    "hashlock",
    "sha256 of the secret (default: a new secret is made and printed)",
    "",
    types.string,
  )
  .addOptionalParam(
    "preimage",
    "The 32-byte secret to lock under (its sha256 becomes the hashlock)",
    "",
    types.string,
  )
  .addOptionalParam("timelock", "Seconds from now until the sender may refund", 3_600, types.int)
  .setAction(async (args: LockArgs, hre): Promise<LockResult> => {
    const ctx = await parsecContext(hre, args);
    if (!hre.ethers.isAddress(args.receiver))
      throw new TaskError(`--receiver must be an address, got ${args.receiver}`);
    if (args.hashlock && args.preimage) throw new TaskError("give --hashlock or --preimage, not both");
    if (args.timelock <= 0) throw new TaskError("--timelock must be a positive number of seconds");
    let preimage: Hash | null = args.preimage ? bytes32Arg("preimage", args.preimage) : null;
    if (!preimage && !args.hashlock) preimage = `0x${randomBytes(32).toString("hex")}` as Hash;
    const hashlock = preimage ? hashlockOf(preimage) : bytes32Arg("hashlock", args.hashlock);
    const now = (await hre.ethers.provider.getBlock("latest"))?.timestamp ?? Math.floor(Date.now() / 1000);
    const timelock = BigInt(now + args.timelock);
    const txs: TxReport[] = [];
    const asset = args.token ? await (await tokenAt(ctx, args.token)).getAddress() : ZERO_ADDRESS;
    const { decimals, symbol } = await assetInfo(ctx, asset);
    const amount = amountArg("amount", args.amount, decimals);
    print(
      `locking ${formatAmount(amount, decimals, symbol)} for ${args.receiver} until ${new Date(Number(timelock) * 1000).toISOString()}`,
    );
    if (asset !== ZERO_ADDRESS) {
      const approve = await ensureAllowance(
        await tokenAt(ctx, asset),
        ctx.signer.address,
        ctx.deployment.HashedTimelock,
        amount,
      );
      if (approve) txs.push(approve);
    }
    const value = asset === ZERO_ADDRESS ? amount : 0n;
    const locked = await send("lock", () =>
      ctx.htlc.lock(args.receiver, asset, amount, hashlock, timelock, { value }),
    );
    txs.push(locked);
    const event = locked.receipt.logs
      .map((l) => ctx.htlc.interface.parseLog(l))
      .find((p) => p?.name === "Locked");
    if (!event) throw new TaskError("lock emitted no Locked event");
    const id = (event.args.id as string).toLowerCase() as Hash;
    print(`escrow ${id}, hashlock ${hashlock}`);
    if (preimage && !args.preimage) print(`  secret (keep it; it claims the escrow): ${preimage}`);
    return { id, hashlock, preimage, timelock, txs };
  });

interface ClaimArgs extends CommonArgs {
  id: string;
  preimage: string;
}

withCommonParams(task("htlc:claim", "Pays an escrow to its receiver with the preimage, before the timelock"))
  .addParam("id", "Escrow id", undefined, types.string)
  .addParam("preimage", "The 32-byte secret", undefined, types.string)
  .setAction(async (args: ClaimArgs, hre): Promise<TxReport> => {
    const ctx = await parsecContext(hre, args);
    const id = bytes32Arg("id", args.id);
    print(`claiming escrow ${id}`);
    return send("claim", () => ctx.htlc.claim(id, bytes32Arg("preimage", args.preimage)));
  });

interface RefundArgs extends CommonArgs {
  id: string;
}

withCommonParams(task("htlc:refund", "Returns an escrow to its sender after the timelock"))
  .addParam("id", "Escrow id", undefined, types.string)
  .setAction(async (args: RefundArgs, hre): Promise<TxReport> => {
    const ctx = await parsecContext(hre, args);
    const id = bytes32Arg("id", args.id);
    print(`refunding escrow ${id}`);
    return send("refund", () => ctx.htlc.refund(id));
  });

interface RegisterArgs extends CommonArgs {
  preimages: string;
}

withCommonParams(
  task("secret:register", "Reveals HTLC preimages on-chain so channel locks resolve to their payees"),
)
  .addParam("preimages", "Comma-separated 32-byte secrets", undefined, types.string)
  .setAction(async (args: RegisterArgs, hre): Promise<TxReport> => {
    const ctx = await parsecContext(hre, args);
    const secrets = args.preimages
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "")
      .map((s, i) => bytes32Arg(`preimages[${i}]`, s));
    if (secrets.length === 0) throw new TaskError("--preimages needs at least one secret");
    for (const s of secrets) print(`  revealing the secret of hashlock ${hashlockOf(s)}`);
    return send("registerSecrets", () => ctx.channels.registerSecrets(secrets));
  });
