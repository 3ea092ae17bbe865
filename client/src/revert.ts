/**
 * Turns a failed call or transaction into the contract's custom error in words: the error's name, its
 * NatSpec notice and its arguments. Works on viem/wagmi errors (the dapp) and ethers/Hardhat errors (the
 * tasks), so both tell a user the same thing.
 */
import { decodeErrorResult, type Abi, type Hex } from "viem";
import { errorNotices, hashedTimelockAbi, parsecChannelsAbi, testTokenAbi } from "./abi";
import { ClientError, isUserRejection } from "./errors";

/** Every custom error of the contracts the project calls, once each. */
const ERROR_ABI: Abi = (() => {
  const seen = new Set<string>();
  const out: Abi[number][] = [];
  for (const item of [...parsecChannelsAbi, ...hashedTimelockAbi, ...testTokenAbi]) {
    if (item.type !== "error") continue;
    const key = `${item.name}(${item.inputs.map((i) => i.type).join(",")})`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
})();

/** Words for errors whose contracts carry no NatSpec notice (OpenZeppelin's ERC-20 and helpers). */
const FALLBACK_NOTICES: Readonly<Record<string, string>> = {
  ERC20InsufficientBalance: "The sender's token balance is too low.",
  ERC20InsufficientAllowance: "The token allowance is too low: approve the contract first.",
  ERC20InvalidSender: "The token sender is not valid.",
  ERC20InvalidReceiver: "The token receiver is not valid.",
  ERC20InvalidApprover: "The approver is not valid.",
  ERC20InvalidSpender: "The spender is not valid.",
  SafeERC20FailedOperation: "The token refused the transfer.",
  FailedCall: "A call to another contract failed.",
  InsufficientBalance: "The contract's balance is too low for this payment.",
  ReentrancyGuardReentrantCall: "A guarded function was entered again before it returned.",
};

/**
 * What to do about an error, after its notice: the words a user acts on. The notice says what happened;
 * this says what to do next.
 */
const ADVICE: Readonly<Record<string, string>> = {
  CooperativeCloseExpired:
    "Both sides sign a new cooperative close with a later expiry, or close unilaterally and settle after the challenge period.",
  CooperativeCloseStale:
    "The chain holds a newer state of that payer than the close names: both sign a close at the current seqs, or close unilaterally and settle from the on-chain state.",
  NoLockResolvable:
    "Every unresolved lock is still open: reveal its preimage (in this call, or registered on-chain) before its expiry, or call again after it expires to return it to the payer.",
  NoPendingLocks: "Nothing is left to resolve for this payer.",
  ChallengePeriodActive: "Settle after closesAt; until then either side may bring newer evidence.",
  StateMismatch:
    "Read the channel's on-chain state again and build the call from it; if the chain moved past your evidence, fetch newer evidence.",
  BalancesMismatch: "Sign a split whose two balances add up to the channel's deposits.",
};

/** `EntryRejected`'s `reason`, the contract's `SkipReason`, in words. */
const SKIP_REASONS: Readonly<Record<number, string>> = {
  0: "none",
  1: "Malformed: the record is not well-formed",
  2: "ChannelNotOpen: the channel is not open or closing",
  3: "BadSignature: a signature is not the expected signer's",
  4: "StaleState: the chain already holds this state or a newer one (nothing to do)",
  5: "StateChanged",
  6: "NotPayee: only the payee of that chain may prove its head",
};

/** Argument names that hold unix times: shown with their date as well. */
const TIME_ARGS = new Set(["closesAt", "timelock", "expiry"]);

const PANICS: Readonly<Record<number, string>> = {
  0x01: "assertion failed",
  0x11: "arithmetic overflow or underflow",
  0x12: "division by zero",
  0x21: "invalid enum value",
  0x32: "array index out of bounds",
  0x41: "out of memory",
};

/** A revert decoded against the project's ABIs. */
export interface DecodedRevert {
  /** The custom error's name, `Error` for `require` strings, `Panic` for panics. */
  readonly name: string;
  /** Argument name → value, as decoded. */
  readonly args: Readonly<Record<string, unknown>>;
  /** The error in words: `Name: notice (arg = value, …)`. */
  readonly message: string;
}

/**
 * A transaction or call the contract rejected; `message` says which custom error, in words, `cause` is the
 * library's error it was decoded from.
 */
export class ContractRevertError extends ClientError {
  readonly code = "ContractRevert" as const;
  readonly revert: DecodedRevert;
  constructor(action: string, revert: DecodedRevert, options?: ErrorOptions) {
    super(`${action} reverted with ${revert.message}`, options);
    this.revert = revert;
  }
}

function formatArg(name: string, value: unknown): string {
  if (name === "reason" && (typeof value === "number" || typeof value === "bigint")) {
    const words = SKIP_REASONS[Number(value)];
    if (words) return `${value} (${words})`;
  }
  if (typeof value === "bigint" || typeof value === "number") {
    const text = value.toString();
    if (TIME_ARGS.has(name) && BigInt(value) > 0n && BigInt(value) < 1n << 40n) {
      return `${text} (${new Date(Number(value) * 1000).toISOString()})`;
    }
    return text;
  }
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/** Decodes revert data (`0x` + selector + arguments) against the project's ABIs; `null` if unknown. */
export function decodeRevertData(data: Hex): DecodedRevert | null {
  if (data.length < 10) return null;
  let decoded: { errorName: string; args?: readonly unknown[]; abiItem: Abi[number] };
  try {
    decoded = decodeErrorResult({ abi: ERROR_ABI, data }) as typeof decoded;
  } catch {
    return null;
  }
  const inputs = decoded.abiItem.type === "error" ? decoded.abiItem.inputs : [];
  const values = decoded.args ?? [];
  const args: Record<string, unknown> = {};
  inputs.forEach((input, i) => (args[input.name || `arg${i}`] = values[i]));
  const name = decoded.errorName;
  if (name === "Error") return { name, args, message: `Error: "${String(values[0])}"` };
  if (name === "Panic") {
    const code = Number(values[0]);
    return { name, args, message: `Panic 0x${code.toString(16)}: ${PANICS[code] ?? "unknown panic"}` };
  }
  const signature = `${name}(${inputs.map((i) => i.type).join(",")})`;
  const notice = errorNotices[signature] ?? FALLBACK_NOTICES[name] ?? "";
  const shown = Object.entries(args).map(([k, v]) => `${k} = ${formatArg(k, v)}`);
  const advice = ADVICE[name];
  const message =
    `${name}${notice ? `: ${notice.replace(/`/g, "")}` : ""}${shown.length ? ` (${shown.join(", ")})` : ""}` +
    (advice ? ` ${advice}` : "");
  return { name, args, message };
}

function isRevertHex(value: unknown): value is Hex {
  return typeof value === "string" && /^0x[0-9a-fA-F]{8}([0-9a-fA-F]{64})*$/.test(value);
}

/**
 * Finds revert data anywhere in an error from viem, wagmi, ethers, Hardhat or an EIP-1193 wallet: they
 * nest it under `data`, `raw`, `error`, `info.error` or `cause`, at varying depths.
 */
export function findRevertData(error: unknown): Hex | null {
  const queue: unknown[] = [error];
  const seen = new Set<unknown>();
  while (queue.length > 0 && seen.size < 64) {
    const current = queue.shift();
    if (current === null || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    const record = current as Record<string, unknown>;
    for (const key of ["raw", "data"]) if (isRevertHex(record[key])) return record[key] as Hex;
    for (const key of ["data", "error", "info", "cause", "originalError"]) queue.push(record[key]);
  }
  return null;
}

/** The decoded revert inside `error`, if it carries one the project's ABIs know. */
export function decodeRevert(error: unknown): DecodedRevert | null {
  if (error instanceof ContractRevertError) return error.revert;
  const data = findRevertData(error);
  return data ? decodeRevertData(data) : null;
}

/** One line a user can act on: the custom error in words, a wallet refusal, or the error's first line. */
export function describeError(error: unknown): string {
  const revert = decodeRevert(error);
  if (revert) return `Reverted: ${revert.message}`;
  if (isUserRejection(error)) return "You rejected the request in your wallet.";
  const viemShort = (error as { shortMessage?: unknown } | null)?.shortMessage;
  if (typeof viemShort === "string" && viemShort) return viemShort;
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}
