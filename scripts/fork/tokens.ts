/**
 * What the fork tests open channels in. On Ethereum mainnet (FORK_URL): real USDC and WBTC, funded by
 * impersonating well-known holders; the first candidate holding enough at the fork block is used, and
 * FORK_USDC_HOLDER / FORK_WBTC_HOLDER override the list if balances moved.
 */
import type { Address } from "viem";

export interface ForkToken {
  readonly symbol: string;
  readonly address: Address;
  readonly decimals: number;
  /** Accounts to impersonate for funds, in order of preference. */
  readonly holders: readonly Address[];
}

/** Circle's USD Coin (a proxy, with a blacklist) and Wrapped BTC on mainnet. */
export const MAINNET_TOKENS: readonly ForkToken[] = [
  {
    symbol: "USDC",
    address: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
    decimals: 6,
    holders: [
      "0x37305B1cD40574E4C5Ce33f8e8306Be057fD7341", // Sky (Maker) PSM's USDC pocket
      "0x28C6c06298d514Db089934071355E5743bf21d60", // Binance 14 hot wallet
      "0xF977814e90dA44bFA03b6295A0616a897441aceC", // Binance 8
    ],
  },
  {
    symbol: "WBTC",
    address: "0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599",
    decimals: 8,
    holders: [
      "0x5Ee5bf7ae06D1Be5997A1A72006FE6C607eC6DE8", // Aave v3 aEthWBTC (holds the pool's WBTC)
      "0x9ff58f4fFB29fA2266Ab25e75e2A8b3503311656", // Aave v2 aWBTC
      "0xF977814e90dA44bFA03b6295A0616a897441aceC", // Binance 8
    ],
  },
];

/** The holder overrides from the environment, by symbol. */
export function holderOverrides(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, Address> {
  const out: Record<string, Address> = {};
  if (env.FORK_USDC_HOLDER) out.USDC = env.FORK_USDC_HOLDER as Address;
  if (env.FORK_WBTC_HOLDER) out.WBTC = env.FORK_WBTC_HOLDER as Address;
  return out;
}
