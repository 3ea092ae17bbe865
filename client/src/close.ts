/**
 * Cooperative close terms (protocol: a `CooperativeClose` binds to the state it settles and expires): what
 * a wallet signs, the checks before it signs, and the rule it keeps afterwards. Shared by the dapp and the
 * `channel:close` task.
 */
import { isHex, type Hex } from "viem";
import {
  DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  type CooperativeClose,
  type Hash,
} from "../../sdk/isomorphic";
import { ClientError } from "./errors";

/** How long a cooperative close stays usable by default: the dapp and the relayer use the SDK's hour. */
export const COOPERATIVE_CLOSE_WINDOW_SECONDS = DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS;

/** The wallet rule after co-signing a close, for the user to read, with the expiry as a date. */
export function closeRule(expiry: bigint): string {
  return (
    `After co-signing this close, sign and accept no transfer in this channel until it expired ` +
    `(${new Date(Number(expiry) * 1000).toISOString()}): until then the close can settle the channel at seqs ` +
    `it names, and a transfer made after them would be lost.`
  );
}

/** Terms a wallet refuses to sign, or a counterparty's signed close that cannot be used; says what to do. */
export class CloseTermsError extends ClientError {
  readonly code = "CloseTerms" as const;
  constructor(why: string) {
    super(why);
  }
}

/**
 * The close to sign for `balance0`/`balance1` at seqs `seq0`/`seq1` (the ledger's current seqs of both
 * payers), usable until `now + window` seconds.
 */
export function closeTerms(input: {
  readonly channelId: Hash;
  readonly balance0: bigint;
  readonly balance1: bigint;
  readonly seq0: number;
  readonly seq1: number;
  readonly now: number | bigint;
  readonly window?: number;
}): CooperativeClose {
  const window = input.window ?? COOPERATIVE_CLOSE_WINDOW_SECONDS;
  if (!Number.isInteger(window) || window <= 0)
    throw new CloseTermsError(`the close window must be a positive number of seconds, got ${window}`);
  return {
    channelId: input.channelId,
    seq0: input.seq0,
    seq1: input.seq1,
    balance0: input.balance0,
    balance1: input.balance1,
    expiry: BigInt(input.now) + BigInt(window),
  };
}

/**
 * Refuses terms the contract would refuse: an expiry already past at chain time `now`
 * (`CooperativeCloseExpired`), or a seq below that payer's on-chain seq (`CooperativeCloseStale`).
 */
export function checkCloseTerms(
  close: CooperativeClose,
  onchain: { readonly seq0: number; readonly seq1: number },
  now: number | bigint,
): void {
  if (close.expiry <= BigInt(now)) {
    throw new CloseTermsError(
      `The close expired at ${new Date(Number(close.expiry) * 1000).toISOString()}: both sides sign a new one with a later expiry`,
    );
  }
  for (const payer of [0, 1] as const) {
    const signed = payer === 0 ? close.seq0 : close.seq1;
    const held = payer === 0 ? onchain.seq0 : onchain.seq1;
    if (signed < held) {
      throw new CloseTermsError(
        `The close names seq ${signed} of payer ${payer}, but the chain holds seq ${held}: sign a close for the ` +
          `current state, or settle from the on-chain state (close unilaterally, dispute, settle)`,
      );
    }
  }
}

/** A counterparty's signed close as passed around: a signature and the seqs and expiry it signed. */
export interface SignedCloseInput {
  readonly signature: Hex;
  readonly seq0?: number;
  readonly seq1?: number;
  readonly expiry?: bigint;
}

function intField(value: unknown, name: string, max: bigint): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) ||
    (typeof value === "string" && /^\d+$/.test(value))
  ) {
    const big = BigInt(value);
    if (big <= max) return big;
  }
  throw new CloseTermsError(
    `"${name}" of the signed close must be an integer in [0, ${max}], got ${String(value)}`,
  );
}

/**
 * Reads a counterparty's signed close: `{"signature": "0x…", "seq0": n, "seq1": n, "expiry": n}` (what
 * `channel:close` prints and the relayer returns), or a bare `0x…` signature (its terms must come from
 * elsewhere).
 */
export function parseSignedClose(input: string | unknown): SignedCloseInput {
  let value: unknown = input;
  if (typeof input === "string") {
    const text = input.trim();
    if (isHex(text)) return { signature: text };
    try {
      value = JSON.parse(text);
    } catch {
      throw new CloseTermsError(
        'The counterparty\'s close must be its JSON {"signature", "seq0", "seq1", "expiry"} or a 0x signature',
      );
    }
  }
  if (value === null || typeof value !== "object")
    throw new CloseTermsError('The counterparty\'s close holds no "signature"');
  const v = value as Record<string, unknown>;
  if (typeof v.signature !== "string" || !isHex(v.signature))
    throw new CloseTermsError('The counterparty\'s close holds no 0x "signature"');
  const seq0 = intField(v.seq0, "seq0", (1n << 32n) - 1n);
  const seq1 = intField(v.seq1, "seq1", (1n << 32n) - 1n);
  const expiry = intField(v.expiry, "expiry", (1n << 64n) - 1n);
  return {
    signature: v.signature,
    ...(seq0 === undefined ? {} : { seq0: Number(seq0) }),
    ...(seq1 === undefined ? {} : { seq1: Number(seq1) }),
    ...(expiry === undefined ? {} : { expiry }),
  };
}

/** The JSON a wallet hands its counterparty with its signature on `close`. */
export function signedCloseJson(close: CooperativeClose, signature: Hex): string {
  return JSON.stringify({
    channelId: close.channelId,
    seq0: close.seq0,
    seq1: close.seq1,
    balance0: close.balance0.toString(),
    balance1: close.balance1.toString(),
    expiry: close.expiry.toString(),
    signature,
  });
}
