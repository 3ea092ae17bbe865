/**
 * The client package's errors. Every failure it reports is a `ClientError`: a stable `code`, a message
 * that says what to do, and the standard ES2022 `cause` holding what it wraps (an SDK `ParsecError`, a
 * wallet's refusal, a failed `fetch`), so nothing below is lost by wrapping. A caller reads the SDK's
 * code through any number of wraps with `parsecErrorOf(e)?.code`.
 */
import { isParsecError, type ParsecError } from "../../sdk/isomorphic";

/** Stable codes of the client's errors; never rename one, only add. */
export type ClientErrorCode =
  | "InvalidAmount"
  | "CloseTerms"
  | "EvidenceUnusable"
  | "EvidenceMismatch"
  | "NodeApi"
  | "ContractRevert"
  | "WalletRejected";

/** The base of every client error. */
export abstract class ClientError extends Error {
  abstract readonly code: ClientErrorCode;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Whether `e` is one of the client package's errors. */
export function isClientError(e: unknown): e is ClientError {
  return e instanceof ClientError;
}

/** Causes are followed this deep at most (a chain is a few links; this bounds a cycle's cost). */
const MAX_CAUSE_DEPTH = 16;

/**
 * `error` and what it wraps, outermost first: each error's `cause` (ES2022), and the `error` / `info.error`
 * fields ethers and EIP-1193 wallets nest their originals under.
 */
export function causeChain(error: unknown): readonly unknown[] {
  const out: unknown[] = [];
  let current: unknown = error;
  while (
    current !== undefined &&
    current !== null &&
    out.length < MAX_CAUSE_DEPTH &&
    !out.includes(current)
  ) {
    out.push(current);
    if (typeof current !== "object") break;
    const record = current as { cause?: unknown; error?: unknown; info?: { error?: unknown } };
    current = record.cause ?? record.error ?? record.info?.error;
  }
  return out;
}

/** The first SDK error in `error`'s cause chain (itself included): `parsecErrorOf(e)?.code` is the SDK's code. */
export function parsecErrorOf(error: unknown): ParsecError | undefined {
  return causeChain(error).find(isParsecError);
}

/** Whether the user refused the request in the wallet: EIP-1193 code 4001, ethers' `ACTION_REJECTED`, viem's name. */
export function isUserRejection(error: unknown): boolean {
  return causeChain(error).some((e) => {
    if (typeof e !== "object" || e === null) return false;
    const { code, name } = e as { code?: unknown; name?: unknown };
    return code === 4001 || code === "ACTION_REJECTED" || name === "UserRejectedRequestError";
  });
}

/** The user refused a request (a signature, a transaction, a connection) in the wallet; `cause` is the wallet's error. */
export class WalletRejectedError extends ClientError {
  readonly code = "WalletRejected" as const;
  constructor(options?: ErrorOptions) {
    super("You rejected the request in your wallet.", options);
  }
}

/**
 * Where a wallet is called (the dapp's transactions and signatures, a task's signer): a refusal becomes a
 * `WalletRejectedError` with the original as `cause`; anything else is returned as it is.
 */
export function toWalletError(error: unknown): unknown {
  if (error instanceof WalletRejectedError || !isUserRejection(error)) return error;
  return new WalletRejectedError({ cause: error });
}
