/** Amounts typed by people ("0.5") to base units (bigint) and back; never through floating point. */
import { formatUnits, parseUnits } from "viem";
import { ClientError } from "./errors";

/** Input that is not a non-negative decimal amount with at most `decimals` fractional digits. */
export class AmountError extends ClientError {
  readonly code = "InvalidAmount" as const;
  constructor(input: string, why: string) {
    super(`"${input}" is not a valid amount: ${why}. Write a decimal number such as 0.5 or 1200.`);
  }
}

/** Parses a decimal amount like "0.5" into base units (`decimals` 18 for ETH, the token's otherwise). */
export function parseAmount(input: string, decimals: number, { allowZero = false } = {}): bigint {
  const text = input.trim().replace(/_/g, "");
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(text)) throw new AmountError(input, "only digits and one decimal point");
  const fraction = text.split(".")[1] ?? "";
  if (fraction.length > decimals) throw new AmountError(input, `at most ${decimals} decimals`);
  const value = parseUnits(text, decimals);
  if (value === 0n && !allowZero) throw new AmountError(input, "it must be greater than zero");
  return value;
}

/** Base units as a decimal string with the symbol, e.g. `1.5 ETH`. */
export function formatAmount(value: bigint, decimals: number, symbol: string): string {
  return `${formatUnits(value, decimals)} ${symbol}`;
}
