/** The error every task throws: Hardhat prints a plugin error's message alone, without a stack trace. */
import { HardhatPluginError } from "hardhat/plugins";
import { describeError } from "../../app/src/core/revert";

export const PLUGIN_NAME = "parsec";

/** A task failure with an actionable message. */
export class TaskError extends HardhatPluginError {
  constructor(message: string, parent?: Error) {
    super(PLUGIN_NAME, message, parent);
  }
}

/** Wraps any error (a revert, a wallet or RPC failure) into a `TaskError` that says what went wrong. */
export function toTaskError(action: string, error: unknown): TaskError {
  if (error instanceof TaskError) return error;
  return new TaskError(
    `${action} failed. ${describeError(error)}`,
    error instanceof Error ? error : undefined,
  );
}
