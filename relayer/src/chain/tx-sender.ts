/**
 * Sends transactions from one key: local nonce assignment (resynced from the chain when a node says the
 * nonce is used), EIP-1559 fees capped by configuration, fee bumping of transactions that stay unmined,
 * and receipts. Every attempt of one nonce is remembered: whichever version gets mined is the result.
 */
import { Transaction, Wallet } from "ethers";
import type { Address, Hash, Hex } from "../../../sdk";
import type { FeeConfig } from "../config";
import { ChainError, TxRevertedError, messageOf } from "../errors";
import type { Logger } from "../log";
import type { Receipt, Rpc } from "./rpc";

export interface TxRequest {
  readonly to: Address;
  readonly data: Hex;
  /** What the transaction does, for logs and errors. */
  readonly label: string;
  readonly gasLimit?: bigint;
  /** Wei sent along (default 0). */
  readonly value?: bigint;
}

export interface TxResult extends Receipt {
  /** How many versions (fee bumps) were broadcast. */
  readonly attempts: number;
}

export interface TxSenderOptions {
  readonly rpc: Rpc;
  readonly key: Hex;
  readonly fees: FeeConfig;
  readonly logger: Logger;
  /** How often receipts are polled. */
  readonly pollMs: number;
  /** Give up waiting for a receipt after this long (the nonce may still be mined later). */
  readonly receiptTimeoutMs?: number;
  /** Called for every broadcast (for metrics and fault-injection tests). */
  readonly onBroadcast?: (label: string, hash: Hash, attempt: number) => void;
  /** Called when a transaction is mined, before its result is used (fault-injection tests). */
  readonly onMined?: (label: string, hash: Hash) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function refusal(e: unknown): "nonce-low" | "underpriced" | "known" | "other" {
  const m = messageOf(e).toLowerCase();
  if (
    m.includes("nonce too low") ||
    m.includes("nonce has already been used") ||
    m.includes("lower than the current")
  ) {
    return "nonce-low";
  }
  if (m.includes("underpriced") || m.includes("replacement")) return "underpriced";
  if (m.includes("already known") || m.includes("already imported") || m.includes("known transaction"))
    return "known";
  return "other";
}

interface Fees {
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
}

export class TxSender {
  readonly address: Address;
  private readonly wallet: Wallet;
  private nextNonce: number | null = null;
  /** Serializes nonce assignment and first broadcasts. */
  private lane: Promise<unknown> = Promise.resolve();
  private inFlight = 0;

  constructor(private readonly opts: TxSenderOptions) {
    this.wallet = new Wallet(opts.key);
    this.address = this.wallet.address as Address;
  }

  /** Transactions broadcast and not yet mined or abandoned. */
  get pending(): number {
    return this.inFlight;
  }

  private async initialFees(): Promise<Fees> {
    const { fees } = this.opts;
    const block = await this.opts.rpc.block("latest");
    const base = block.baseFeePerGas ?? 0n;
    let maxFeePerGas = base * 2n + fees.priorityFee;
    if (maxFeePerGas > fees.maxFeePerGas) maxFeePerGas = fees.maxFeePerGas;
    const maxPriorityFeePerGas = fees.priorityFee > maxFeePerGas ? maxFeePerGas : fees.priorityFee;
    if (maxFeePerGas < base) {
      this.opts.logger.warn("fee cap below the base fee: the transaction waits until fees fall", {
        baseFee: base,
        cap: fees.maxFeePerGas,
      });
    }
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  private bumped(f: Fees): Fees | null {
    const pct = BigInt(this.opts.fees.bumpPercent);
    const cap = this.opts.fees.maxFeePerGas;
    if (f.maxFeePerGas >= cap) return null;
    let maxFeePerGas = (f.maxFeePerGas * (100n + pct)) / 100n + 1n;
    let maxPriorityFeePerGas = (f.maxPriorityFeePerGas * (100n + pct)) / 100n + 1n;
    if (maxFeePerGas > cap) maxFeePerGas = cap;
    if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas;
    return { maxFeePerGas, maxPriorityFeePerGas };
  }

  private async sign(req: TxRequest, nonce: number, gasLimit: bigint, fees: Fees): Promise<Hex> {
    const tx = Transaction.from({
      type: 2,
      chainId: this.opts.rpc.chainId,
      nonce,
      to: req.to,
      data: req.data,
      value: req.value ?? 0n,
      gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    return (await this.wallet.signTransaction(tx)) as Hex;
  }

  /** Estimates gas; a revert here means the call would fail as is, so nothing is sent. */
  async estimate(req: TxRequest): Promise<bigint> {
    try {
      return await this.opts.rpc.estimateGas({
        from: this.address,
        to: req.to,
        data: req.data,
        value: req.value,
      });
    } catch (e) {
      throw new ChainError(`${req.label} would revert: ${messageOf(e)}`, e);
    }
  }

  /**
   * Sends a transaction and waits for it to be mined. Throws `ChainError` when it cannot be sent and
   * `TxRevertedError` when it was mined but reverted.
   */
  async send(req: TxRequest): Promise<TxResult> {
    const gasLimit = req.gasLimit ?? ((await this.estimate(req)) * 12n) / 10n + 10_000n;
    this.inFlight++;
    try {
      const first = await this.enqueue(() => this.broadcastNew(req, gasLimit));
      const receipt = await this.watch(req, gasLimit, first);
      if (receipt.status !== "success") throw new TxRevertedError(receipt.transactionHash, req.label);
      return receipt;
    } finally {
      this.inFlight--;
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lane.then(fn, fn);
    this.lane = run.catch(() => undefined);
    return run;
  }

  /** Assigns the next nonce and broadcasts the first version. */
  private async broadcastNew(
    req: TxRequest,
    gasLimit: bigint,
  ): Promise<{ nonce: number; fees: Fees; hashes: Hash[] }> {
    let fees = await this.initialFees();
    for (let tries = 0; tries < 8; tries++) {
      if (this.nextNonce === null) this.nextNonce = await this.opts.rpc.nonce(this.address, "pending");
      const nonce = this.nextNonce;
      const signed = await this.sign(req, nonce, gasLimit, fees);
      try {
        const hash = await this.opts.rpc.sendRaw(signed);
        this.nextNonce = nonce + 1;
        this.opts.onBroadcast?.(req.label, hash, 1);
        return { nonce, fees, hashes: [hash] };
      } catch (e) {
        const kind = refusal(e);
        if (kind === "nonce-low") {
          this.nextNonce = null; // another process or a crash used it: resync
        } else if (kind === "underpriced" || kind === "known") {
          // A transaction of ours from before a restart holds this nonce: replace it.
          const next = this.bumped(fees);
          if (!next)
            throw new ChainError(`${req.label}: nonce ${nonce} is held by a transaction at the fee cap`, e);
          fees = next;
        } else {
          throw new ChainError(`${req.label}: the node refused the transaction`, e);
        }
      }
    }
    throw new ChainError(`${req.label}: could not find a free nonce after 8 tries`);
  }

  /** Polls for a receipt of any version; re-broadcasts with higher fees while it stays unmined. */
  private async watch(
    req: TxRequest,
    gasLimit: bigint,
    sent: { nonce: number; fees: Fees; hashes: Hash[] },
  ): Promise<TxResult> {
    const { fees: cfg, logger } = this.opts;
    const started = Date.now();
    let lastBroadcast = started;
    let fees = sent.fees;
    let bumps = 0;
    let consumedPolls = 0;
    const timeout = this.opts.receiptTimeoutMs ?? Math.max(120_000, cfg.bumpAfterMs * (cfg.maxBumps + 2));
    for (;;) {
      await sleep(this.opts.pollMs);
      for (const h of sent.hashes) {
        const r = await this.opts.rpc.receipt(h).catch(() => null);
        if (r) {
          this.opts.onMined?.(req.label, r.transactionHash);
          return { ...r, attempts: sent.hashes.length };
        }
      }
      // None of our versions is mined, yet the nonce is used: something else took it.
      if ((await this.opts.rpc.nonce(this.address, "latest").catch(() => 0)) > sent.nonce) {
        if (++consumedPolls > 3) {
          this.nextNonce = null;
          throw new ChainError(`${req.label}: nonce ${sent.nonce} was used by another transaction`);
        }
        continue;
      }
      const now = Date.now();
      if (now - started > timeout)
        throw new ChainError(`${req.label}: no receipt after ${Math.round(timeout / 1000)} s`);
      if (now - lastBroadcast < cfg.bumpAfterMs || bumps >= cfg.maxBumps) continue;
      const next = this.bumped(fees);
      if (!next) continue;
      bumps++;
      lastBroadcast = now;
      const signed = await this.sign(req, sent.nonce, gasLimit, next);
      try {
        const hash = await this.opts.rpc.sendRaw(signed);
        fees = next;
        sent.hashes.push(hash);
        this.opts.onBroadcast?.(req.label, hash, sent.hashes.length);
        logger.info("fee bump", {
          label: req.label,
          nonce: sent.nonce,
          maxFeePerGas: next.maxFeePerGas,
          attempt: sent.hashes.length,
        });
      } catch (e) {
        const kind = refusal(e);
        if (kind === "underpriced")
          fees = next; // try a bigger step next time
        else if (kind !== "nonce-low" && kind !== "known")
          logger.warn("fee bump refused", { label: req.label, error: messageOf(e) });
      }
    }
  }
}
