/**
 * The network of an RPC URL and a key from the environment, never from the repo:
 *   PARSEC_RPC_URL          the JSON-RPC endpoint
 *   PARSEC_NETWORK          the network's name for `--network` and deployments/<name>.json (default "parsec")
 *   PARSEC_PRIVATE_KEY      a 0x-prefixed 32-byte key, or
 *   PARSEC_KEYSTORE + PARSEC_KEYSTORE_PASSWORD   an encrypted JSON keystore (geth/ethers/MetaMask export)
 * Without a key the node's own accounts are used (`eth_accounts`).
 * Spread into hardhat.config.ts: `networks: { hardhat: { … }, ...parsecNetworks() }`.
 */
import fs from "node:fs";
import { Wallet } from "ethers";
import type { HttpNetworkUserConfig } from "hardhat/types";

/** An environment that names a network but cannot configure it; the message says which variable to fix. */
export class NetworkConfigError extends Error {
  constructor(why: string) {
    super(`Parsec network configuration: ${why}.`);
    this.name = "NetworkConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function accountsFrom(env: Env): string[] | undefined {
  const key = env.PARSEC_PRIVATE_KEY;
  const keystore = env.PARSEC_KEYSTORE;
  if (key && keystore) throw new NetworkConfigError("set PARSEC_PRIVATE_KEY or PARSEC_KEYSTORE, not both");
  if (key) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(key))
      throw new NetworkConfigError("PARSEC_PRIVATE_KEY must be 0x and 64 hex digits");
    return [key];
  }
  if (!keystore) return undefined;
  const password = env.PARSEC_KEYSTORE_PASSWORD;
  if (password === undefined) throw new NetworkConfigError("PARSEC_KEYSTORE needs PARSEC_KEYSTORE_PASSWORD");
  let json: string;
  try {
    json = fs.readFileSync(keystore, "utf8");
  } catch {
    throw new NetworkConfigError(`cannot read the keystore file ${keystore}`);
  }
  try {
    return [Wallet.fromEncryptedJsonSync(json, password).privateKey];
  } catch {
    throw new NetworkConfigError(
      `cannot decrypt ${keystore}: wrong PARSEC_KEYSTORE_PASSWORD or not a JSON keystore`,
    );
  }
}

/** `{ [PARSEC_NETWORK]: { url, accounts } }` when PARSEC_RPC_URL is set, else `{}`. */
export function parsecNetworks(env: Env = process.env): Record<string, HttpNetworkUserConfig> {
  const url = env.PARSEC_RPC_URL;
  if (!url) return {};
  if (!/^https?:\/\//.test(url)) throw new NetworkConfigError("PARSEC_RPC_URL must be an http(s) URL");
  const name = env.PARSEC_NETWORK ?? "parsec";
  if (name === "hardhat" || name === "localhost") {
    throw new NetworkConfigError(`PARSEC_NETWORK cannot be "${name}", a built-in network`);
  }
  const accounts = accountsFrom(env);
  return { [name]: { url, ...(accounts ? { accounts } : {}) } };
}
