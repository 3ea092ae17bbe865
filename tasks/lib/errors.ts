/** The error every task throws: Hardhat prints a plugin error's message alone, without a stack trace. */
import { inspect } from "node:util";
import { HardhatPluginError } from "hardhat/plugins";
import { describeError, toWalletError } from "../../client";

export const PLUGIN_NAME = "parsec";

/**
 * A task failure with an actionable message. What it wraps is both Hardhat's `parent` and the standard
 * `cause`, so an SDK or client error under it stays reachable (`parsecErrorOf(e)?.code` for the SDK's).
 */
export class TaskError extends HardhatPluginError {
  constructor(message: string, cause?: unknown) {
    super(PLUGIN_NAME, message, cause instanceof Error ? cause : undefined);
    // Hardhat's constructor resets the prototype to its own class, so `instanceof TaskError` was always false.
    Object.setPrototypeOf(this, new.target.prototype);
    // Hardhat's error base predates ES2022 `cause`; set it as `new Error(message, { cause })` would.
    if (cause !== undefined)
      Object.defineProperty(this, "cause", { value: cause, configurable: true, writable: true });
  }

  /**
   * Hardhat prints the message ("Error in plugin parsec: …"), then, on CI and on Linux without a display,
   * the error object itself: the message is what to fix, so the stack only when asked for.
   */
  [inspect.custom](): string {
    if (process.argv.includes("--show-stack-traces") || process.env.PARSEC_DEBUG) {
      // Hardhat's own rendering: the stack, then what it wraps.
      const hardhat = HardhatPluginError.prototype as unknown as Record<symbol, (this: TaskError) => string>;
      return hardhat[inspect.custom].call(this);
    }
    return "(for the stack trace run the task again with --show-stack-traces)";
  }
}

/**
 * Wraps any error (a revert, a wallet or RPC failure) into a `TaskError` that says what went wrong; a
 * refusal in the wallet is kept as a `WalletRejectedError`.
 */
export function toTaskError(action: string, error: unknown): TaskError {
  if (error instanceof TaskError) return error;
  const cause = toWalletError(error);
  return new TaskError(`${action} failed. ${describeError(cause)}`, cause);
}
