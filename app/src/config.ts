/**
 * Where the dapp finds its chain, contracts and relayer. Query parameters win (so one build serves any
 * deployment: `?chainId=…&rpc=…&channels=…&htlc=…&token=…&relayer=…&fromBlock=…`), then the build's
 * VITE_PARSEC_* variables, then `deployments/<VITE_PARSEC_NETWORK or localhost>.json` from the repo.
 */
import { parseDeployment, type Deployment } from "../../client";

export interface AppConfig {
  readonly deployment: Deployment;
  readonly rpcUrl: string;
  readonly relayerUrl: string | null;
  readonly networkName: string;
  /** The mediating node payments route through: its routing key and fee policy (docs/dapp.md). */
  readonly node: NodeRoutingConfig | null;
}

export interface NodeRoutingConfig {
  readonly routingKey: string;
  readonly feeBase: bigint;
  readonly feePpm: number;
  readonly expiryDelta: number;
}

/** No deployment could be found: the dapp shows this message instead of the UI. */
export class ConfigError extends Error {
  constructor(why: string) {
    super(
      `${why}. Deploy with \`npx hardhat run scripts/deploy.ts --network localhost\`, or open the dapp with ?chainId=…&channels=…&htlc=…`,
    );
    this.name = "ConfigError";
  }
}

const deploymentFiles = import.meta.glob<unknown>("../../deployments/*.json", {
  eager: true,
  import: "default",
});

function fromFiles(network: string): unknown {
  const entry = Object.entries(deploymentFiles).find(([file]) => file.endsWith(`/${network}.json`));
  return entry?.[1];
}

export function loadConfig(search: string = window.location.search): AppConfig {
  const query = new URLSearchParams(search);
  const env = import.meta.env;
  const networkName = query.get("network") ?? env.VITE_PARSEC_NETWORK ?? "localhost";
  const base = (fromFiles(networkName) ?? {}) as Record<string, unknown>;
  const num = (value: string | null | undefined): number | undefined => (value ? Number(value) : undefined);
  const raw = {
    ...base,
    ...(query.get("chainId") || env.VITE_PARSEC_CHAIN_ID
      ? { chainId: num(query.get("chainId") ?? env.VITE_PARSEC_CHAIN_ID) }
      : {}),
    ...(query.get("channels") || env.VITE_PARSEC_CHANNELS
      ? { ParsecChannels: query.get("channels") ?? env.VITE_PARSEC_CHANNELS }
      : {}),
    ...(query.get("htlc") || env.VITE_PARSEC_HTLC
      ? { HashedTimelock: query.get("htlc") ?? env.VITE_PARSEC_HTLC }
      : {}),
    ...(query.get("token") || env.VITE_PARSEC_TOKEN
      ? { TestToken: query.get("token") ?? env.VITE_PARSEC_TOKEN }
      : {}),
    ...(query.get("fromBlock") ? { blockNumber: num(query.get("fromBlock")) } : {}),
  };
  if (raw.ParsecChannels === undefined) throw new ConfigError(`No deployment for network "${networkName}"`);
  let deployment: Deployment;
  try {
    deployment = parseDeployment(raw, `for "${networkName}"`);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const nodeKey = query.get("nodeKey") ?? env.VITE_PARSEC_NODE_KEY;
  const whole = (name: string, value: string | null | undefined): string => {
    if (!value || !/^\d+$/.test(value))
      throw new ConfigError(`${name} must be a whole number, got "${value ?? ""}"`);
    return value;
  };
  const node: NodeRoutingConfig | null = nodeKey
    ? {
        routingKey: nodeKey,
        feeBase: BigInt(
          whole("nodeFeeBase", query.get("nodeFeeBase") ?? env.VITE_PARSEC_NODE_FEE_BASE ?? "0"),
        ),
        feePpm: Number(whole("nodeFeePpm", query.get("nodeFeePpm") ?? env.VITE_PARSEC_NODE_FEE_PPM ?? "0")),
        expiryDelta: Number(
          whole("nodeExpiryDelta", query.get("nodeExpiryDelta") ?? env.VITE_PARSEC_NODE_EXPIRY_DELTA ?? "0"),
        ),
      }
    : null;
  return {
    node,
    deployment,
    rpcUrl: query.get("rpc") ?? env.VITE_PARSEC_RPC_URL ?? "http://127.0.0.1:8545",
    relayerUrl: query.get("relayer") ?? env.VITE_PARSEC_RELAYER_URL ?? null,
    networkName,
  };
}
