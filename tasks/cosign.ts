// channel:cosign-close: the counterparty's cooperative-close signature, from its key or keystore, in the
// JSON `channel:close --cooperative --signature` takes. The other side proposes (channel:close prints "your
// signed close: {…}"); this side checks the terms against the chain and signs the same CooperativeClose.
import fs from "node:fs";
import { task, types } from "hardhat/config";
import { Wallet, formatUnits } from "ethers";
import {
  counterpartyOf,
  sideOf,
  STATUS_NAMES,
  type ChannelWithViews,
  checkCloseTerms,
  closeRule,
  signedCloseJson,
} from "../client";
import {
  DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  hashCooperativeClose,
  normalizeSignature,
  recoverSigner,
  signCooperativeClose,
  typedDataDigest,
  type CooperativeClose,
  type Hex,
} from "../sdk/isomorphic";
import { localSigner } from "../sdk/isomorphic";
import { amountArg, assetInfo, findChannel, formatAmount, readContext } from "./lib/context";
import { TaskError } from "./lib/errors";
import { print } from "./lib/output";

interface CosignArgs {
  deployment: string;
  channel: string;
  close: string;
  balance0: string;
  balance1: string;
  seq0: string;
  seq1: string;
  expiry: string;
  validity: number;
  key: string;
  keystore: string;
  passwordEnv: string;
  out: string;
}

export interface CosignResult {
  readonly close: CooperativeClose;
  /** The address whose key signed. */
  readonly signer: string;
  readonly signature: Hex;
  /** `{"channelId", "seq0", "seq1", "balance0", "balance1", "expiry", "signature"}`: what channel:close takes. */
  readonly json: string;
}

/** The signing key: `--key 0x…`, or `--keystore <file>` decrypted with the password in `--password-env`. */
async function keyArg(args: CosignArgs, env = process.env): Promise<Hex> {
  if (args.key && args.keystore) throw new TaskError("give --key or --keystore, not both");
  if (args.key) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(args.key)) throw new TaskError("--key must be 0x and 64 hex digits");
    return args.key as Hex;
  }
  if (!args.keystore) {
    throw new TaskError(
      "whose signature? give --keystore <file> (its password in the variable --password-env names, default PARSEC_KEYSTORE_PASSWORD) or --key 0x…",
    );
  }
  const variable = args.passwordEnv || "PARSEC_KEYSTORE_PASSWORD";
  const password = env[variable];
  if (password === undefined)
    throw new TaskError(
      `set ${variable} to the keystore's password (or name another variable with --password-env)`,
    );
  let json: string;
  try {
    json = fs.readFileSync(args.keystore, "utf8");
  } catch (e) {
    throw new TaskError(`cannot read the keystore ${args.keystore}: ${(e as Error).message}`, e);
  }
  try {
    return (await Wallet.fromEncryptedJson(json, password)).privateKey as Hex;
  } catch {
    throw new TaskError(
      `cannot decrypt ${args.keystore}: wrong password in ${variable}, or not a JSON keystore (geth/ethers/MetaMask export)`,
    );
  }
}

/** The proposer's signed close: JSON text or a file holding it (what channel:close prints). */
function proposedClose(input: string): Record<string, unknown> {
  let text = input.trim();
  if (!text.startsWith("{")) {
    try {
      text = fs.readFileSync(input, "utf8");
    } catch {
      throw new TaskError(
        `--close must be the proposer's signed close JSON {…} or a file holding it; cannot read ${input}`,
      );
    }
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value !== null && typeof value === "object" && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new TaskError(
    '--close must be JSON {"channelId", "seq0", "seq1", "balance0", "balance1", "expiry", "signature"} as channel:close prints it',
  );
}

function uintField(value: unknown, name: string, bits: number): bigint | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== "string" || !/^\d+$/.test(text) || BigInt(text) >= 1n << BigInt(bits))
    throw new TaskError(`${name} must be an integer below 2^${bits}, got ${JSON.stringify(value)}`);
  return BigInt(text);
}

/** Checks that `signature` is `expected`'s on exactly `close`. */
function checkProposerSignature(
  domain: Parameters<typeof typedDataDigest>[0],
  close: CooperativeClose,
  signature: unknown,
  expected: string,
): void {
  let recovered: string;
  try {
    recovered = recoverSigner(
      typedDataDigest(domain, hashCooperativeClose(close)),
      normalizeSignature(signature as Hex),
    );
  } catch (e) {
    throw new TaskError(`the proposer's signature in --close is malformed: ${(e as Error).message}`, e);
  }
  if (recovered.toLowerCase() !== expected.toLowerCase()) {
    throw new TaskError(
      `the signature in --close is ${recovered}'s, not the other participant ${expected}'s, on these terms: do not co-sign; ask for its signed close again`,
    );
  }
}

task(
  "channel:cosign-close",
  "Signs a cooperative close as the counterparty (key or keystore): prints the signed close JSON channel:close --cooperative --signature takes",
)
  .addOptionalParam("deployment", "Deployment JSON (default deployments/<network>.json)", "", types.string)
  .addOptionalParam("channel", "Channel id (or the channelId of --close)", "", types.string)
  .addOptionalParam(
    "close",
    "The other participant's signed close (JSON or a file), as channel:close prints it: its terms are co-signed after checking its signature",
    "",
    types.string,
  )
  .addOptionalParam(
    "balance0",
    "P0's final balance in ETH or token units (without --close)",
    "",
    types.string,
  )
  .addOptionalParam("balance1", "P1's final balance (default: the rest of the deposits)", "", types.string)
  .addOptionalParam("seq0", "P0's seq of the state the close settles (default: on-chain)", "", types.string)
  .addOptionalParam("seq1", "P1's seq of the state the close settles (default: on-chain)", "", types.string)
  .addOptionalParam(
    "expiry",
    "Unix seconds the close expires (default: chain time + --validity)",
    "",
    types.string,
  )
  .addOptionalParam(
    "validity",
    `Seconds the close stays valid (at most ${MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS})`,
    DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
    types.int,
  )
  .addOptionalParam("key", "The signing participant's private key 0x… (or --keystore)", "", types.string)
  .addOptionalParam("keystore", "The signing participant's JSON keystore file", "", types.string)
  .addOptionalParam(
    "passwordEnv",
    "Environment variable holding the keystore password",
    "PARSEC_KEYSTORE_PASSWORD",
    types.string,
  )
  .addOptionalParam("out", "Also write the signed close JSON to this file", "", types.string)
  .setAction(async (args: CosignArgs, hre): Promise<CosignResult> => {
    const key = await keyArg(args);
    const signer = localSigner(key);
    const proposal = args.close ? proposedClose(args.close) : null;
    if (proposal && (args.balance0 || args.balance1 || args.seq0 || args.seq1 || args.expiry)) {
      throw new TaskError("--close names the terms: leave out --balance0/--balance1/--seq0/--seq1/--expiry");
    }
    const id = args.channel || (typeof proposal?.channelId === "string" ? proposal.channelId : "");
    if (!id) throw new TaskError("give --channel <id> (or --close with its channelId)");
    if (
      proposal &&
      typeof proposal.channelId === "string" &&
      proposal.channelId.toLowerCase() !== id.toLowerCase()
    )
      throw new TaskError(`--close is for channel ${String(proposal.channelId)}, not ${id}`);
    if (
      !Number.isInteger(args.validity) ||
      args.validity <= 0 ||
      args.validity > MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS
    ) {
      throw new TaskError(
        `--validity must be 1 … ${MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS} seconds (a co-signed close can settle the channel until it expires), got ${args.validity}`,
      );
    }

    const ctx = await readContext(hre, args);
    const channel: ChannelWithViews = await findChannel(ctx, id);
    if (channel.status !== "OPEN" && channel.status !== "CLOSING") {
      throw new TaskError(
        `channel ${channel.channelId} is ${STATUS_NAMES[channel.status]}: only an open or closing channel closes cooperatively`,
      );
    }
    const side = sideOf(channel.params, signer.address);
    if (side === null) {
      throw new TaskError(
        `the key is ${signer.address}'s, not a participant's of ${channel.channelId} (P0 ${channel.params.participant0}, P1 ${channel.params.participant1})`,
      );
    }
    const { decimals, symbol } = await assetInfo(ctx, channel.params.asset);
    const total = channel.deposit0 + channel.deposit1;
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))?.timestamp ?? 0);

    let close: CooperativeClose;
    if (proposal) {
      const need = (name: string, bits: number): bigint => {
        const v = uintField(proposal[name], `"${name}" of --close`, bits);
        if (v === undefined)
          throw new TaskError(`--close holds no "${name}": pass the whole JSON channel:close printed`);
        return v;
      };
      close = {
        channelId: channel.channelId,
        seq0: Number(need("seq0", 32)),
        seq1: Number(need("seq1", 32)),
        balance0: need("balance0", 128),
        balance1: need("balance1", 128),
        expiry: need("expiry", 64),
      };
      checkProposerSignature(ctx.domain, close, proposal.signature, counterpartyOf(channel.params, side));
      print(`  the other participant's signature on these terms checks out`);
    } else {
      if (!args.balance0 && !args.balance1)
        throw new TaskError("give --close (the other side's signed close) or --balance0 (and --balance1)");
      const balance0 = args.balance0
        ? amountArg("balance0", args.balance0, decimals, true)
        : total - amountArg("balance1", args.balance1, decimals, true);
      const balance1 = args.balance1
        ? amountArg("balance1", args.balance1, decimals, true)
        : total - balance0;
      const expiry = uintField(args.expiry, "--expiry", 64) ?? now + BigInt(args.validity);
      close = {
        channelId: channel.channelId,
        seq0: Number(uintField(args.seq0, "--seq0", 32) ?? BigInt(channel.seq0)),
        seq1: Number(uintField(args.seq1, "--seq1", 32) ?? BigInt(channel.seq1)),
        balance0,
        balance1,
        expiry,
      };
    }
    if (close.balance0 < 0n || close.balance1 < 0n || close.balance0 + close.balance1 !== total) {
      throw new TaskError(
        `the balances (${formatAmount(close.balance0, decimals, symbol)}, ${formatAmount(close.balance1, decimals, symbol)}) must sum to the deposits, ${formatAmount(total, decimals, symbol)}`,
      );
    }
    try {
      checkCloseTerms(close, channel, now);
    } catch (e) {
      throw new TaskError((e as Error).message, e);
    }
    if (close.expiry > now + BigInt(MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS)) {
      throw new TaskError(
        `the close stays valid until ${new Date(Number(close.expiry) * 1000).toISOString()}, more than ${MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS} s ahead: ask for a close with an earlier expiry`,
      );
    }

    print(
      `co-signing the close of ${channel.channelId} as P${side} ${signer.address}: P0 ${formatAmount(close.balance0, decimals, symbol)}, ` +
        `P1 ${formatAmount(close.balance1, decimals, symbol)}, at seqs (${close.seq0}, ${close.seq1}), valid until ${new Date(Number(close.expiry) * 1000).toISOString()}`,
    );
    print(`  wallet rule: ${closeRule(close.expiry)}`);
    const signature = await signCooperativeClose(signer, ctx.domain, close);
    const json = signedCloseJson(close, signature);
    print(`signed close: ${json}`);
    if (args.out) {
      fs.writeFileSync(args.out, json + "\n");
      print(`  wrote ${args.out}`);
    }
    const network = hre.network.name === "hardhat" ? "" : ` --network ${hre.network.name}`;
    print(
      `  P${1 - side} closes with: npx hardhat channel:close${network} --channel ${channel.channelId} --cooperative ` +
        `--balance0 ${formatUnits(close.balance0, decimals)} --balance1 ${formatUnits(close.balance1, decimals)} ` +
        `--signature${args.out ? `-file ${args.out}` : ` '${json}'`}`,
    );
    return { close, signer: signer.address, signature, json };
  });
