// An injected EIP-1193 wallet (MetaMask-style `window.ethereum`) for the page, backed by a Hardhat node:
// the node holds the account's key and signs `eth_sendTransaction` and `eth_signTypedData_v4` itself.
// The wallet can start on another chain, to exercise the dapp's wrong-network warning.
import type { BrowserContext, Page } from "playwright-core";

export interface ShimWallet {
  /** The chain the wallet reports now. */
  chainId(): number;
  /** Every method the page called, in order. */
  readonly calls: string[];
}

interface RpcReply {
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Runs in the page before any of its scripts. */
function pageScript(): void {
  const listeners: Record<string, ((arg: unknown) => void)[]> = {};
  const w = globalThis as unknown as {
    ethereum: unknown;
    __walletRequest(json: string): Promise<string>;
    __walletEmit(event: string, arg: unknown): void;
  };
  w.__walletEmit = (event, arg) => (listeners[event] ?? []).forEach((fn) => fn(arg));
  w.ethereum = {
    isMetaMask: true,
    async request(args: { method: string; params?: unknown[] }) {
      const reply = JSON.parse(
        await w.__walletRequest(JSON.stringify({ method: args.method, params: args.params ?? [] })),
      ) as RpcReply;
      if (reply.error) {
        const error = new Error(reply.error.message) as Error & { code: number; data?: unknown };
        error.code = reply.error.code;
        error.data = reply.error.data;
        throw error;
      }
      return reply.result;
    },
    on(event: string, fn: (arg: unknown) => void) {
      (listeners[event] ??= []).push(fn);
    },
    removeListener(event: string, fn: (arg: unknown) => void) {
      listeners[event] = (listeners[event] ?? []).filter((f) => f !== fn);
    },
  };
}

export async function installWallet(
  context: BrowserContext,
  pages: () => readonly Page[],
  options: { rpcUrl: string; account: string; startChainId: number },
): Promise<ShimWallet> {
  let chainId = options.startChainId;
  const calls: string[] = [];
  const emit = async (event: string, arg: unknown) => {
    for (const page of pages())
      await page.evaluate(
        ([e, a]) =>
          (globalThis as unknown as { __walletEmit(e: string, a: unknown): void }).__walletEmit(e, a),
        [event, arg] as const,
      );
  };
  await context.exposeFunction("__walletRequest", async (json: string): Promise<string> => {
    const { method, params } = JSON.parse(json) as { method: string; params: unknown[] };
    calls.push(method);
    const reply = (value: unknown) => JSON.stringify({ result: value });
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return reply([options.account]);
      case "eth_chainId":
        return reply(`0x${chainId.toString(16)}`);
      case "net_version":
        return reply(String(chainId));
      case "wallet_requestPermissions":
      case "wallet_getPermissions":
        return reply([{ parentCapability: "eth_accounts" }]);
      case "wallet_revokePermissions":
        return reply(null);
      case "wallet_switchEthereumChain": {
        const wanted = Number.parseInt((params[0] as { chainId: string }).chainId, 16);
        const real = Number.parseInt(
          (await (
            await post(options.rpcUrl, "eth_chainId", [])
          ).result) as string,
          16,
        );
        if (wanted !== real)
          return JSON.stringify({ error: { code: 4902, message: `Unrecognized chain ${wanted}` } });
        chainId = wanted;
        setTimeout(() => void emit("chainChanged", `0x${wanted.toString(16)}`), 0);
        return reply(null);
      }
      default:
        return JSON.stringify(await post(options.rpcUrl, method, params));
    }
  });
  await context.addInitScript(pageScript);
  return { chainId: () => chainId, calls };
}

async function post(url: string, method: string, params: unknown[]): Promise<RpcReply> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return (await response.json()) as RpcReply;
}
