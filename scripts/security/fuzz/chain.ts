// The fuzz's access to Hardhat's in-process chain: deploys the contracts, sends transactions at the fuzz's own
// clock (so a seed replays exactly), makes accounts reject ETH, and reads everything in one FuzzLens call.
import { HDNodeWallet, Interface, type Log } from "ethers";
import type { HardhatRuntimeEnvironment, HardhatNetworkHDAccountsConfig } from "hardhat/types";
import { parsecDomain, toAddress } from "../../../sdk/isomorphic";
import type { Address, Domain, Hash, Hex, LocalSigner } from "../../../sdk/isomorphic";
import { nativeSigner } from "../../../sdk/src/verify/native-signer";
import { InvariantViolation, NAMES, ZERO_ADDRESS, type ChainView, type TxResult } from "./model";

/** PUSH1 0 PUSH1 0 REVERT: an address with this code rejects every ETH payout. */
const REJECTING_CODE = "0x60006000fd";
const GAS_LIMIT = "0xe4e1c0"; // 15M
/** Words per channel in FuzzLens.snapshot's output. */
const LENS_CHANNEL_WORDS = 17;

export interface Account {
  address: Address;
  signer: LocalSigner;
}

export interface AccountReading {
  eth: bigint;
  token: bigint;
  credit: [bigint, bigint];
}

/** One FuzzLens reading: what the contract holds, the channels asked for, and every account. */
export interface Snapshot {
  ethHeld: bigint;
  tokenHeld: bigint;
  views: ChainView[];
  perAccount: AccountReading[];
}

export class Chain {
  readonly iface: Interface;
  private readonly snapshotSelector: string;
  accounts: Account[] = [];
  channelsAddress = ZERO_ADDRESS;
  tokenAddress = ZERO_ADDRESS;
  private lensAddress = ZERO_ADDRESS;
  domain!: Domain;
  /** The timestamp of the next transaction's block. */
  clock = 0n;
  /** Whether anything changed on-chain since the last snapshot (else the last one may be reused). */
  dirty = true;
  /** Per account: whether its address rejects ETH. */
  readonly blocked = [false, false, true, false];

  constructor(private readonly hre: HardhatRuntimeEnvironment) {
    this.iface = new Interface(hre.artifacts.readArtifactSync("ParsecChannels").abi);
    this.snapshotSelector = new Interface(hre.artifacts.readArtifactSync("FuzzLens").abi).getFunction(
      "snapshot",
    )!.selector;
  }

  private rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    return this.hre.network.provider.request({ method, params }) as Promise<T>;
  }

  /** Resets the chain, derives the accounts' keys, deploys ParsecChannels, a TestToken and FuzzLens. */
  async setup(): Promise<void> {
    const { ethers } = this.hre;
    await this.rpc("hardhat_reset");
    const config = this.hre.config.networks.hardhat.accounts as HardhatNetworkHDAccountsConfig;
    const addresses = (await this.rpc<string[]>("eth_accounts")).slice(0, NAMES.length);
    this.accounts = addresses.map((address, i) => {
      const wallet = HDNodeWallet.fromPhrase(
        config.mnemonic,
        config.passphrase,
        `${config.path}/${(config.initialIndex ?? 0) + i}`,
      );
      if (wallet.address.toLowerCase() !== address.toLowerCase()) {
        throw new Error(`cannot derive the key of Hardhat account ${i}`);
      }
      return { address: toAddress(address), signer: nativeSigner(wallet.privateKey as Hex) };
    });
    const signers = await ethers.getSigners();
    const channels = await ethers.deployContract("ParsecChannels");
    const token = await ethers.deployContract("TestToken", ["Fuzz", "FZZ", 18]);
    const lens = await ethers.deployContract("FuzzLens");
    this.channelsAddress = toAddress(await channels.getAddress());
    this.tokenAddress = toAddress(await token.getAddress());
    this.lensAddress = toAddress(await lens.getAddress());
    for (let i = 0; i < NAMES.length; i++) {
      await (await token.getFunction("mint")(this.accounts[i].address, 10n ** 30n)).wait();
      await (
        await token.connect(signers[i]).getFunction("approve")(this.channelsAddress, ethers.MaxUint256)
      ).wait();
    }
    const { chainId } = await ethers.provider.getNetwork();
    this.domain = parsecDomain(chainId, this.channelsAddress);
    for (let i = 0; i < NAMES.length; i++) await this.setBlocked(i, this.blocked[i]);
    // Blocks stay far below the gas target, so a zero base fee stays zero: transactions cost nothing.
    await this.rpc("hardhat_setNextBlockBaseFeePerGas", ["0x0"]);
    await this.rpc("evm_mine");
    const latest = await this.rpc<{ timestamp: string }>("eth_getBlockByNumber", ["latest", false]);
    this.clock = BigInt(latest.timestamp) + 1n;
  }

  async setBlocked(account: number, on: boolean): Promise<void> {
    this.blocked[account] = on;
    this.dirty = true;
    await this.rpc("hardhat_setCode", [this.accounts[account].address, on ? REJECTING_CODE : "0x"]);
  }

  /**
   * Sends a transaction from account `from` to ParsecChannels at the fuzz clock (zero gas price); never
   * throws on a revert. `events` is left empty: the books read the logs.
   */
  async send(from: number, data: string, value = 0n): Promise<TxResult> {
    const ts = this.clock;
    this.clock += 1n;
    this.dirty = true;
    await this.rpc("evm_setNextBlockTimestamp", [Number(ts)]);
    let hash: string;
    try {
      hash = await this.rpc<string>("eth_sendTransaction", [
        {
          from: this.accounts[from].address,
          to: this.channelsAddress,
          data,
          value: "0x" + value.toString(16),
          gas: GAS_LIMIT,
          maxFeePerGas: "0x0",
          maxPriorityFeePerGas: "0x0",
        },
      ]);
    } catch (error) {
      return { ok: false, ts, logs: [], reason: this.revertReason(error), events: [] };
    }
    const receipt = await this.rpc<{ status: string; logs: Log[]; effectiveGasPrice: string } | null>(
      "eth_getTransactionReceipt",
      [hash],
    );
    if (!receipt) throw new Error(`no receipt for ${hash}`);
    if (BigInt(receipt.effectiveGasPrice) !== 0n)
      throw new Error("a transaction paid gas; the books assume none");
    if (receipt.status !== "0x1") return { ok: false, ts, logs: [], reason: "reverted", events: [] };
    return { ok: true, ts, logs: receipt.logs, reason: "", events: [] };
  }

  private revertReason(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    const custom = /custom error '([A-Za-z0-9_]+)/.exec(message);
    if (custom) return custom[1];
    const data = (error as { data?: unknown }).data;
    if (typeof data === "string" && data.startsWith("0x")) {
      try {
        const parsed = this.iface.parseError(data);
        if (parsed) return parsed.name;
      } catch {
        // not one of ours
      }
    }
    if (/reverted without a reason/.test(message)) return "no reason";
    if (/out of gas/i.test(message)) return "out of gas";
    throw new Error(`unexpected error sending a transaction: ${message}`);
  }

  /** The ParsecChannels event `name` of a successful transaction, by argument name. */
  findEvent(res: TxResult, name: string): Record<string, unknown> {
    for (const entry of res.logs) {
      if (entry.address.toLowerCase() !== this.channelsAddress.toLowerCase()) continue;
      const event = this.iface.parseLog({ topics: [...entry.topics], data: entry.data });
      if (event?.name === name) {
        const out: Record<string, unknown> = {};
        event.fragment.inputs.forEach((input, i) => (out[input.name] = event.args[i]));
        return out;
      }
    }
    throw new InvariantViolation(`the transaction emitted no ${name}`);
  }

  /** Reads the channels `ids`, the contract's holdings and every account's balances and credits. */
  async snapshot(ids: readonly Hash[]): Promise<Snapshot> {
    // ABI-encoded by hand: ethers' encoder is a noticeable part of a step
    const pad = (hex: string) => hex.slice(2).toLowerCase().padStart(64, "0");
    const num = (n: number) => n.toString(16).padStart(64, "0");
    const accounts = this.accounts.map((a) => pad(a.address));
    const data =
      this.snapshotSelector +
      pad(this.channelsAddress) +
      pad(this.tokenAddress) +
      num(4 * 32) +
      num(4 * 32 + 32 * (ids.length + 1)) +
      num(ids.length) +
      ids.map(pad).join("") +
      num(accounts.length) +
      accounts.join("");
    const raw = await this.rpc<string>("eth_call", [{ to: this.lensAddress, data }, "latest"]);
    // one uint256[]: skip its offset and length words
    const word = (i: number): bigint => BigInt("0x" + raw.slice(2 + 64 * (i + 2), 2 + 64 * (i + 3)));
    const hash = (i: number): string => "0x" + raw.slice(2 + 64 * (i + 2), 2 + 64 * (i + 3));
    const views: ChainView[] = [];
    let at = 2;
    for (let i = 0; i < ids.length; i++, at += LENS_CHANNEL_WORDS) {
      views.push({
        deposit0: word(at),
        deposit1: word(at + 1),
        closesAt: word(at + 2),
        status: Number(word(at + 3)),
        seq0: Number(word(at + 4)),
        seq1: Number(word(at + 5)),
        commitment: word(at + 6),
        proven: [
          { seq: Number(word(at + 7)), head224: word(at + 8) },
          { seq: Number(word(at + 9)), head224: word(at + 10) },
        ],
        locksRoot0: hash(at + 11),
        locksRoot1: hash(at + 12),
        pot0: word(at + 13),
        pot1: word(at + 14),
        resolved0: word(at + 15),
        resolved1: word(at + 16),
      });
    }
    const perAccount = this.accounts.map((_, i) => ({
      eth: word(at + 4 * i),
      token: word(at + 4 * i + 1),
      credit: [word(at + 4 * i + 2), word(at + 4 * i + 3)] as [bigint, bigint],
    }));
    return { ethHeld: word(0), tokenHeld: word(1), views, perAccount };
  }
}
