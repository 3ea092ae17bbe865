/** The wagmi configuration: one chain (the deployment's), an injected EIP-1193 wallet, reads over HTTP. */
import {
  connect,
  createConfig,
  disconnect,
  getAccount,
  getConnectorClient,
  http,
  injected,
  switchChain,
  watchAccount,
  type Config,
} from "@wagmi/core";
import { defineChain, type Address } from "viem";
import { toWalletError } from "../../client";
import type { AppConfig } from "./config";
import type { Eip1193Provider } from "../../sdk/isomorphic";

export interface WalletState {
  readonly address: Address | null;
  /** The chain the wallet is on (may differ from the deployment's). */
  readonly chainId: number | null;
  readonly wrongNetwork: boolean;
}

export interface Wallet {
  readonly config: Config;
  state(): WalletState;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  switchToDeployment(): Promise<void>;
  /** The wallet as an EIP-1193 provider, for the SDK's `eth_signTypedData_v4` signing. */
  provider(): Promise<Eip1193Provider>;
  onChange(listener: (state: WalletState) => void): () => void;
}

/** No injected wallet (MetaMask or another EIP-1193 extension) in this browser. */
export class NoWalletError extends Error {
  constructor() {
    super("No browser wallet found: install MetaMask (or another EIP-1193 wallet) and reload.");
    this.name = "NoWalletError";
  }
}

export function createWallet(app: AppConfig): Wallet {
  const chain = defineChain({
    id: app.deployment.chainId,
    name: app.networkName === "localhost" ? "Localhost" : app.networkName,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [app.rpcUrl] } },
  });
  const connector = injected({ shimDisconnect: true });
  const config = createConfig({
    chains: [chain],
    connectors: [connector],
    transports: { [chain.id]: http(app.rpcUrl) },
    // A fresh page must not find a stale connection: the user connects explicitly.
    storage: null,
  });
  const state = (): WalletState => {
    const account = getAccount(config);
    const address = account.status === "connected" ? account.address : null;
    const chainId = account.status === "connected" ? account.chainId : null;
    return { address, chainId, wrongNetwork: address !== null && chainId !== app.deployment.chainId };
  };
  return {
    config,
    state,
    async connect() {
      if (typeof window === "undefined" || !("ethereum" in window) || !window.ethereum)
        throw new NoWalletError();
      const connectorInstance = config.connectors[0];
      await connect(config, { connector: connectorInstance }).catch((e: unknown) => {
        throw toWalletError(e);
      });
    },
    async disconnect() {
      await disconnect(config);
    },
    async switchToDeployment() {
      await switchChain(config, { chainId: app.deployment.chainId });
    },
    async provider() {
      // The connector client is a viem WalletClient; its `request` is EIP-1193's.
      const client = await getConnectorClient(config, { assertChainId: false });
      return { request: (args) => client.request(args as Parameters<typeof client.request>[0]) };
    },
    onChange(listener) {
      return watchAccount(config, { onChange: () => listener(state()) });
    },
  };
}

declare global {
  interface Window {
    ethereum?: unknown;
  }
}
