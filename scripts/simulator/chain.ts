/**
 * Opens many channels quickly over JSON-RPC: raw EIP-1559 transactions signed with libsecp256k1,
 * nonces counted per sender, sent back to back; the caller decides how blocks are produced (a dev chain
 * mines on demand, a real chain in its own time) and the function waits for every receipt.
 */
import secp256k1 from "secp256k1";
import { Interface, Signature, Transaction, Wallet } from "ethers";
import { channelIdOf } from "../../sdk/src/eip712";
import { type Address, type Domain, fromHex, type Hex } from "../../sdk";
import type { SimChannel } from "./generate";

const channels = new Interface([
  "function openEth(address counterparty, uint32 challengePeriod, uint64 nonce) payable returns (bytes32)",
  "function deposit(bytes32 channelId, uint8 side) payable",
]);

/** The JSON-RPC surface needed here (ethers' `JsonRpcProvider.send` or Hardhat's `provider.send`). */
export interface RpcSend {
  send(method: string, params: unknown[]): Promise<unknown>;
}

export interface OpenOptions {
  readonly domain: Domain;
  /** Participants, funded; channel i pairs `wallets[i % n]` with another wallet of the pool. */
  readonly wallets: readonly Wallet[];
  readonly count: number;
  readonly deposit0: bigint;
  /** P1's deposit (0: none, P1 then only spends what it received). */
  readonly deposit1: bigint;
  readonly challengePeriod: number;
  /** Channel nonces start here (ids must be new). */
  readonly firstNonce: bigint;
  readonly maxFeePerGas?: bigint;
  /** Called after every `batch` transactions are sent (e.g. `evm_mine` on a dev chain without automine). */
  readonly afterBatch?: () => Promise<void>;
  readonly batch?: number;
}

function signRaw(key: Hex, tx: Transaction): Hex {
  const { signature, recid } = secp256k1.ecdsaSign(
    fromHex(tx.unsignedHash, "hash", 32),
    fromHex(key, "key", 32),
  );
  tx.signature = Signature.from({
    r: `0x${Buffer.from(signature.subarray(0, 32)).toString("hex")}`,
    s: `0x${Buffer.from(signature.subarray(32)).toString("hex")}`,
    v: 27 + recid,
  });
  return tx.serialized as Hex;
}

/** Opens `count` ETH channels; returns them once every transaction is mined. */
export async function openChannels(rpc: RpcSend, opts: OpenOptions): Promise<SimChannel[]> {
  const n = opts.wallets.length;
  if (n < 2) throw new Error("at least two wallets are needed");
  const nonces = await Promise.all(
    opts.wallets.map(async (w) => Number(await rpc.send("eth_getTransactionCount", [w.address, "pending"]))),
  );
  const out: SimChannel[] = [];
  const hashes: string[] = [];
  const fee = opts.maxFeePerGas ?? 100_000_000_000n;
  const batch = opts.batch ?? 1000;
  let mined = 0;
  const tx = (from: number, data: string, value: bigint): Hex =>
    signRaw(
      opts.wallets[from].privateKey as Hex,
      Transaction.from({
        type: 2,
        chainId: opts.domain.chainId,
        nonce: nonces[from]++,
        to: opts.domain.verifyingContract,
        data,
        value,
        gasLimit: 150_000n,
        maxFeePerGas: fee,
        maxPriorityFeePerGas: 1_000_000_000n,
      }),
    );
  for (let i = 0; i < opts.count; i++) {
    const a = i % n;
    const b = (a + 1 + (Math.floor(i / n) % (n - 1))) % n;
    const p0 = opts.wallets[a];
    const p1 = opts.wallets[b];
    const params = {
      participant0: p0.address as Address,
      participant1: p1.address as Address,
      asset: "0x0000000000000000000000000000000000000000" as Address,
      challengePeriod: opts.challengePeriod,
      nonce: opts.firstNonce + BigInt(i),
    };
    const id = channelIdOf(opts.domain, params);
    hashes.push(
      (await rpc.send("eth_sendRawTransaction", [
        tx(
          a,
          channels.encodeFunctionData("openEth", [params.participant1, params.challengePeriod, params.nonce]),
          opts.deposit0,
        ),
      ])) as string,
    );
    if (opts.deposit1 > 0n) {
      hashes.push(
        (await rpc.send("eth_sendRawTransaction", [
          tx(b, channels.encodeFunctionData("deposit", [id, 1]), opts.deposit1),
        ])) as string,
      );
    }
    out.push({
      params,
      id,
      keys: [p0.privateKey as Hex, p1.privateKey as Hex],
      deposits: [opts.deposit0, opts.deposit1],
    });
    if (opts.afterBatch && hashes.length - mined >= batch) {
      await opts.afterBatch();
      mined = hashes.length;
    }
  }
  if (opts.afterBatch) await opts.afterBatch();
  // Every transaction must be mined and must have succeeded.
  for (let i = hashes.length - 1; i >= 0; i--) {
    for (;;) {
      const r = (await rpc.send("eth_getTransactionReceipt", [hashes[i]])) as { status: string } | null;
      if (r) {
        if (BigInt(r.status) !== 1n) throw new Error(`opening a channel failed (tx ${hashes[i]})`);
        break;
      }
      if (opts.afterBatch) await opts.afterBatch();
      else await new Promise((res) => setTimeout(res, 500));
    }
  }
  return out;
}
