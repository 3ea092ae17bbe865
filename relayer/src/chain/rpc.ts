/**
 * A thin typed JSON-RPC client over HTTP (Node's fetch) with retries on transport errors. Raw results
 * are parsed here once, so the rest of the node works with numbers and bigints. Not ethers'
 * JsonRpcProvider: it assembles large responses (eth_getLogs over thousands of channels) chunk by
 * chunk in quadratic time, which made a cold start take half a minute.
 */
import type { Address, Hash, Hex } from "../../../sdk";
import { ChainError, messageOf } from "../errors";

export interface RawLog {
  readonly address: Address;
  readonly topics: readonly Hash[];
  readonly data: Hex;
  readonly blockNumber: number;
  /** The block the log is in: a reorganisation gives the same height another hash. */
  readonly blockHash: Hash;
  readonly transactionHash: Hash;
  readonly logIndex: number;
}

export interface Receipt {
  readonly transactionHash: Hash;
  readonly status: "success" | "reverted";
  readonly blockNumber: number;
  readonly gasUsed: bigint;
  readonly effectiveGasPrice: bigint;
  readonly logs: readonly RawLog[];
}

export interface BlockHeader {
  readonly number: number;
  readonly hash: Hash;
  readonly parentHash: Hash;
  readonly timestamp: number;
  readonly baseFeePerGas: bigint | null;
}

interface JsonBlock {
  number: string;
  hash: string;
  parentHash: string;
  timestamp: string;
  baseFeePerGas?: string;
}

interface JsonLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  logIndex: string;
}

/** Header requests in flight at once when the index reads a range of blocks. */
const HEADER_CONCURRENCY = 16;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function parseLog(l: JsonLog): RawLog {
  return {
    address: l.address as Address,
    topics: l.topics as Hash[],
    data: l.data as Hex,
    blockNumber: Number(l.blockNumber),
    blockHash: l.blockHash as Hash,
    transactionHash: l.transactionHash as Hash,
    logIndex: Number(l.logIndex),
  };
}

/** Errors a node reports for a request that was understood and refused (not worth retrying). */
function isRpcRefusal(e: unknown): boolean {
  const m = messageOf(e).toLowerCase();
  return (
    m.includes("nonce") ||
    m.includes("underpriced") ||
    m.includes("already known") ||
    m.includes("revert") ||
    m.includes("insufficient funds") ||
    m.includes("invalid") ||
    m.includes("exceeds")
  );
}

/** An error object a JSON-RPC server returned. */
export class RpcError extends Error {
  constructor(
    readonly method: string,
    readonly rpcCode: number,
    message: string,
    readonly data: unknown,
  ) {
    super(`${method}: ${message}${typeof data === "string" ? ` (${data})` : ""}`);
  }
}

export class Rpc {
  private id = 0;

  private constructor(
    readonly url: string,
    readonly chainId: bigint,
  ) {}

  /** Connects and checks the chain id (when `expectedChainId` is given). */
  static async connect(url: string, expectedChainId: bigint | null): Promise<Rpc> {
    let chainId: bigint;
    try {
      chainId = BigInt(await new Rpc(url, 0n).call<string>("eth_chainId", []));
    } catch (e) {
      throw new ChainError(`cannot reach the JSON-RPC endpoint ${url}; check PARSEC_RPC_URL`, e);
    }
    if (expectedChainId !== null && chainId !== expectedChainId) {
      throw new ChainError(`${url} serves chain ${chainId}, the configuration expects ${expectedChainId}`);
    }
    return new Rpc(url, chainId);
  }

  private async post<T>(method: string, params: readonly unknown[]): Promise<T> {
    const res = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }),
      signal: AbortSignal.timeout(30_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status} from ${this.url}`);
    const body = (await res.json()) as {
      result?: T;
      error?: { code: number; message: string; data?: unknown };
    };
    if (body.error) throw new RpcError(method, body.error.code, body.error.message, body.error.data);
    return body.result as T;
  }

  /** One call; transport failures are retried a few times, refusals are thrown at once. */
  async call<T>(method: string, params: readonly unknown[]): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.post<T>(method, params);
      } catch (e) {
        if (e instanceof RpcError || isRpcRefusal(e) || attempt >= 5) throw e;
        await sleep(100 * attempt);
      }
    }
  }

  async blockNumber(): Promise<number> {
    return Number(await this.call<string>("eth_blockNumber", []));
  }

  async block(tag: number | "latest"): Promise<BlockHeader> {
    const b = await this.blockOrNull(tag);
    if (!b) throw new ChainError(`block ${tag} not found`);
    return b;
  }

  /** A block's header, or null when the chain has no block at that height (yet, or any more). */
  async blockOrNull(tag: number | "latest"): Promise<BlockHeader | null> {
    const b = await this.call<JsonBlock | null>("eth_getBlockByNumber", [
      typeof tag === "number" ? `0x${tag.toString(16)}` : tag,
      false,
    ]);
    if (!b) return null;
    return {
      number: Number(b.number),
      hash: b.hash as Hash,
      parentHash: b.parentHash as Hash,
      timestamp: Number(b.timestamp),
      baseFeePerGas: b.baseFeePerGas === undefined ? null : BigInt(b.baseFeePerGas),
    };
  }

  /** The headers of blocks `from`..`to` in order, a few requests at a time; null where a block is missing. */
  async blocks(from: number, to: number): Promise<(BlockHeader | null)[]> {
    const out: (BlockHeader | null)[] = [];
    for (let n = from; n <= to; n += HEADER_CONCURRENCY) {
      const last = Math.min(to, n + HEADER_CONCURRENCY - 1);
      const part = Array.from({ length: last - n + 1 }, (_, i) => this.blockOrNull(n + i));
      out.push(...(await Promise.all(part)));
    }
    return out;
  }

  async logs(address: Address, fromBlock: number, toBlock: number): Promise<RawLog[]> {
    const raw = await this.call<JsonLog[]>("eth_getLogs", [
      { address, fromBlock: `0x${fromBlock.toString(16)}`, toBlock: `0x${toBlock.toString(16)}` },
    ]);
    return raw.map(parseLog);
  }

  async ethCall(to: Address, data: Hex, from?: Address): Promise<Hex> {
    return this.call<Hex>("eth_call", [{ to, data, ...(from ? { from } : {}) }, "latest"]);
  }

  async estimateGas(tx: { from: Address; to: Address; data: Hex; value?: bigint }): Promise<bigint> {
    const v = await this.call<string>("eth_estimateGas", [
      {
        from: tx.from,
        to: tx.to,
        data: tx.data,
        ...(tx.value ? { value: `0x${tx.value.toString(16)}` } : {}),
      },
    ]);
    return BigInt(v);
  }

  async nonce(address: Address, tag: "latest" | "pending"): Promise<number> {
    return Number(await this.call<string>("eth_getTransactionCount", [address, tag]));
  }

  async balance(address: Address): Promise<bigint> {
    return BigInt(await this.call<string>("eth_getBalance", [address, "latest"]));
  }

  async sendRaw(signed: Hex): Promise<Hash> {
    return this.call<Hash>("eth_sendRawTransaction", [signed]);
  }

  async receipt(hash: Hash): Promise<Receipt | null> {
    const r = await this.call<{
      transactionHash: string;
      status: string;
      blockNumber: string;
      gasUsed: string;
      effectiveGasPrice?: string;
      logs: JsonLog[];
    } | null>("eth_getTransactionReceipt", [hash]);
    if (!r || r.blockNumber === null) return null;
    return {
      transactionHash: r.transactionHash as Hash,
      status: BigInt(r.status) === 1n ? "success" : "reverted",
      blockNumber: Number(r.blockNumber),
      gasUsed: BigInt(r.gasUsed),
      effectiveGasPrice: BigInt(r.effectiveGasPrice ?? 0),
      logs: r.logs.map(parseLog),
    };
  }

  close(): void {
    // Stateless over HTTP: nothing to release.
  }
}
