// The fuzz step of `npm run security` (issue 9, "Security as a command"): an invariant fuzz of the deployed
// ParsecChannels on Hardhat's in-process chain.
//
// A seeded random sequence of actions runs over a handful of live channels (ETH and one plain TestToken)
// between three participants whose keys the fuzz holds, plus a stranger: opens, deposits on both sides,
// co-signed withdrawals (some overdrawing), transfers of every kind built with the SDK off-chain (PAY, LOCK
// with near and far expiries, UNLOCK, CANCEL, overdrawn PAY/LOCK and premature CANCEL, which the SDK ledger
// refuses but which stay signed and are used as evidence), co-signed checkpoints (newest or stale), head
// proofs (by the payee and by the wrong party), chain pieces (from the on-chain head or earlier, overdrawn
// ones, stale ones), closes, time travel, settles (right and wrong heads), cooperative closes (current,
// stale, expired), equivocation proofs, secret registrations, lock resolutions by payer, payee and stranger
// with and without preimages, and credit withdrawals (a participant's address is made to reject ETH now and
// then, so payouts to it become credits).
//
// After every action the fuzz checks, reading the chain (one call to contracts/test/FuzzLens.sol):
//   (1) the contract's ETH (and token) balance is exactly the live channels' deposits + the settled
//       channels' unresolved lock pots + the outstanding credits (`pendingLocksOf` keeps a pot as the basis
//       of its locks' shares, with a bitmap of resolved locks: what is unresolved is the pot less the shares
//       of the resolved locks, computed from the lock list, which must hash to the root it keeps);
//   (2) per channel, payouts never exceed deposits (and deposits − payouts is what the channel still holds);
//       per participant, what it received never exceeds what went into its channels; every account's
//       balance and credit is exactly what the events say it was paid;
//   (3) a settle pays `settlementOutcome` of the heads the contract holds (and, when the newest signed
//       state of both payers was on-chain and nothing was signed since, the newest state's outcome); a lock
//       resolution pays what `resolveLocksOutcome` says.
// Every action must succeed at least MIN_SUCCESSES times (generators are biased towards valid actions, and
// actions lagging behind their quota are chosen more often). Deterministic: block timestamps follow the
// fuzz's own clock (evm_setNextBlockTimestamp; "time travel" advances it) and gas is free, so a seed and a
// number of steps replay exactly. `FUZZ_SEED` changes the seed, `FUZZ_RUNS` the number of steps (default
// DEFAULT_STEPS); `FUZZ_LOG_FILE` writes the action log of a passing run. A failure throws with the seed,
// the step and the last actions; the whole action log goes to a file (FUZZ_FAILURE_FILE to choose it).
// Standalone: scripts/security/fuzz-main.ts.
import fs from "node:fs";
import path from "node:path";
import { HDNodeWallet, Interface, type Log } from "ethers";
import type { HardhatRuntimeEnvironment, HardhatNetworkHDAccountsConfig } from "hardhat/types";
import {
  ChannelLedger,
  ZERO_HASH,
  applyTransfer,
  buildTransfer,
  bytesArg,
  chainProof,
  checkpointArgs,
  checkpointBatchArgs,
  commitmentOf,
  cooperativeCloseArgs,
  cosignCheckpoint,
  encodeLocks,
  encodeSignedTransfer,
  encodeTransferBody,
  equivocationArgs,
  extendChainArgs,
  hashTransfer,
  hashlockOf,
  headProof,
  isParsecError,
  locksRootOf,
  onchainHeads,
  parsecDomain,
  proveHeadArgs,
  proveHeadsArgs,
  resolveLocksArgs,
  resolveLocksOutcome,
  settleArgs,
  settleArgsFromLedger,
  settlementOutcome,
  signCheckpoint,
  signCooperativeClose,
  signTransferSync,
  signWithdraw,
  toAddress,
  withdrawArgs,
} from "../../sdk/isomorphic";
import type {
  Address,
  ChannelParams,
  Checkpoint,
  CooperativeClose,
  Domain,
  Hash,
  HeadPair,
  Hex,
  LocalSigner,
  Lock,
  OnchainHeads,
  OnchainState,
  PayerIndex,
  PayerState,
  SettlementOutcome,
  SignedCheckpoint,
  SignedTransfer,
  TransferOp,
  VerifiedTransfer,
  Withdraw,
} from "../../sdk/isomorphic";
import { nativeSigner } from "../../sdk/src/verify/native-signer";

export interface FuzzOptions {
  /** Number of actions (default `FUZZ_RUNS` or DEFAULT_STEPS). */
  runs?: number;
  /** PRNG seed (default `FUZZ_SEED` or DEFAULT_SEED). */
  seed?: number;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
}

export interface FuzzResult {
  /** Per action: successes under its name, reverts under `<name>.reverted`; plus steps, seed, elapsedMs. */
  counts: Record<string, number>;
}

export const DEFAULT_SEED = 0x9a75ec;
export const DEFAULT_STEPS = 13_000;
export const MIN_SUCCESSES = 200;
/** Where a failing run's whole action log goes (override with FUZZ_FAILURE_FILE). */
const FAILURE_FILE = path.join(
  __dirname,
  "..",
  "..",
  "node_modules",
  ".cache",
  "parsec-security",
  "fuzz-failure.log",
);

const ACTIONS = [
  "open",
  "deposit",
  "withdraw",
  "pay",
  "lock",
  "unlock",
  "cancel",
  "overdraw",
  "checkpoint",
  "headProof",
  "extendChain",
  "close",
  "timeTravel",
  "settle",
  "cooperativeClose",
  "proveEquivocation",
  "registerSecret",
  "resolveLocks",
  "withdrawCredit",
] as const;
type ActionName = (typeof ACTIONS)[number];

const STATUS = { none: 0, open: 1, closing: 2, settled: 3 } as const;
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000" as Address;
/** PUSH1 0 PUSH1 0 REVERT: an address with this code rejects every ETH payout. */
const REJECTING_CODE = "0x60006000fd";
const GAS_LIMIT = "0xe4e1c0"; // 15M
const MAX_LIVE = 5;
const NEAR_EXPIRY = [30n, 1800n] as const;
const FAR_EXPIRY = 10n * 365n * 86_400n;
const LOW_224 = (1n << 224n) - 1n;
/** Words per channel in FuzzLens.snapshot's output. */
const LENS_CHANNEL_WORDS = 17;
const NAMES = ["alice", "bob", "carol", "dave"] as const;
const STRANGER = 3;

// ------------------------------------------------------------------ deterministic PRNG (xoshiro128**)

class Rng {
  private readonly s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  float(): number {
    return this.next() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from nothing");
    return items[this.int(items.length)];
  }

  /** Uniform-ish in [min, max] (ranges here are far below 2^64). */
  big(min: bigint, max: bigint): bigint {
    if (max <= min) return min;
    const r = (BigInt(this.next()) << 32n) | BigInt(this.next());
    return min + (r % (max - min + 1n));
  }

  bytes32(): Hash {
    let hex = "0x";
    for (let i = 0; i < 8; i++) hex += this.next().toString(16).padStart(8, "0");
    return hex as Hash;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ------------------------------------------------------------------ model

interface Signed {
  readonly t: VerifiedTransfer;
  /** The payer's state after `t`. */
  readonly state: PayerState;
  /** Whether the SDK ledger accepted it (else it is an "orphan": signed but refused). */
  readonly accepted: boolean;
}

interface Pot {
  pot: bigint;
  readonly locks: readonly Lock[];
  resolved: bigint;
}

interface ChainView {
  deposit0: bigint;
  deposit1: bigint;
  closesAt: bigint;
  status: number;
  seq0: number;
  seq1: number;
  commitment: bigint;
  proven: [{ seq: number; head224: bigint }, { seq: number; head224: bigint }];
  pot0: bigint;
  pot1: bigint;
  locksRoot0: string;
  locksRoot1: string;
  resolved0: bigint;
  resolved1: bigint;
}

/** How the fuzz means a channel to end (a bias only: any ending may still happen). */
type Fate = "settle" | "coop" | "equivocate";

interface Chan {
  readonly n: number;
  readonly fate: Fate;
  readonly id: Hash;
  readonly params: ChannelParams;
  readonly token: boolean;
  /** Account indexes of participant0 and participant1. */
  readonly parts: readonly [number, number];
  readonly ledger: ChannelLedger;
  status: number;
  deposits: [bigint, bigint];
  withdrawNonce: number;
  closesAt: bigint;
  /** Everything deposited into the channel, and everything paid out of it (credited payouts included). */
  deposited: bigint;
  paidOut: bigint;
  readonly bySeq: [Map<number, Signed[]>, Map<number, Signed[]>];
  readonly byHash: Map<Hash, Signed>;
  /** The highest seq each payer signed. */
  readonly top: [number, number];
  /** Seqs of a payer with two different signed transfers (equivocations). */
  readonly conflicts: { payer: PayerIndex; seq: number }[];
  /** Co-signed checkpoints by "seq0,seq1" (to open the on-chain commitment). */
  readonly checkpoints: Map<string, Checkpoint>;
  view: ChainView | null;
  /** Both payers' newest signed transfers were on-chain at some point and nothing was signed since. */
  honest: boolean;
  pots: [Pot | null, Pot | null];
}

interface Heads {
  readonly seq: readonly [number, number];
  readonly body: readonly [Signed | null, Signed | null];
  readonly checkpoint: HeadPair;
  /** The SDK's `onchainHeads` (null when it cannot: an orphan transfer is on-chain). */
  readonly sdk: OnchainHeads | null;
}

interface TxResult {
  ok: boolean;
  ts: bigint;
  logs: Log[];
  reason: string;
  events: string[];
}

interface Outcome {
  /** true: succeeded; false: reverted or refused; null: not applicable now (not counted). */
  ok: boolean | null;
  note: string;
}

class InvariantViolation extends Error {}

// ------------------------------------------------------------------ the fuzz

export async function runFuzz(options: FuzzOptions = {}): Promise<FuzzResult> {
  const steps = options.runs ?? envInt("FUZZ_RUNS") ?? DEFAULT_STEPS;
  const seed = options.seed ?? envInt("FUZZ_SEED") ?? DEFAULT_SEED;
  const log = options.log ?? ((line: string) => console.error(line));
  const hre = ((await import("hardhat")) as unknown as { default: HardhatRuntimeEnvironment }).default;
  const fuzz = new Fuzz(hre, seed, steps, log);
  return fuzz.run();
}

function envInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
}

class Fuzz {
  private readonly rng: Rng;
  private readonly iface: Interface;
  private readonly snapshotSelector: string;
  private readonly actionLog: string[] = [];
  private readonly ok = new Map<ActionName, number>();
  private readonly reverted = new Map<ActionName, number>();
  private readonly reasons = new Map<string, number>();
  private readonly stats = {
    settleChecked: 0,
    settleHonestChecked: 0,
    settledWithPots: 0,
    resolveChecked: 0,
    fullChecks: 0,
  };

  private accounts: { address: Address; signer: LocalSigner }[] = [];
  private channelsAddress = ZERO_ADDRESS;
  private tokenAddress = ZERO_ADDRESS;
  private lensAddress = ZERO_ADDRESS;
  private domain!: Domain;
  private clock = 0n;
  private nonce = 0n;
  /** Whether anything changed on-chain since the last snapshot (else the last one is reused). */
  private dirty = true;
  private lastSnapshot: Awaited<ReturnType<Fuzz["snapshot"]>> | null = null;

  private readonly chans: Chan[] = [];
  private readonly byId = new Map<string, Chan>();
  /** Live channels and settled ones with unresolved pots: the ones read after every action. */
  private readonly active = new Set<Chan>();
  private readonly secrets = new Map<Hash, Hash>();
  /** When each hashlock's secret was registered (block timestamp). */
  private readonly revealedAt = new Map<Hash, bigint>();
  private readonly blocked = [false, false, true, false];
  /** Per account, per asset (0 ETH, 1 token): expected balance, credit, received, deposited into its channels. */
  private readonly expected: [bigint, bigint][] = [];
  private readonly credits: [bigint, bigint][] = [];
  private readonly received: [bigint, bigint][] = [];
  private readonly intoChannels: [bigint, bigint][] = [];

  constructor(
    private readonly hre: HardhatRuntimeEnvironment,
    private readonly seed: number,
    private readonly steps: number,
    private readonly log: (line: string) => void,
  ) {
    this.rng = new Rng(seed);
    this.iface = new Interface(hre.artifacts.readArtifactSync("ParsecChannels").abi);
    this.snapshotSelector = new Interface(hre.artifacts.readArtifactSync("FuzzLens").abi).getFunction(
      "snapshot",
    )!.selector;
  }

  // ---------------------------------------------------------------- setup and chain access

  private rpc<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    return this.hre.network.provider.request({ method, params }) as Promise<T>;
  }

  private async setup(): Promise<void> {
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
    const snap = await this.snapshot([]);
    for (let i = 0; i < NAMES.length; i++) {
      this.expected.push([snap.perAccount[i].eth, snap.perAccount[i].token]);
      this.credits.push([0n, 0n]);
      this.received.push([0n, 0n]);
      this.intoChannels.push([0n, 0n]);
    }
  }

  private async setBlocked(account: number, on: boolean): Promise<void> {
    this.blocked[account] = on;
    this.dirty = true;
    await this.rpc("hardhat_setCode", [this.accounts[account].address, on ? REJECTING_CODE : "0x"]);
  }

  /** Sends a transaction from account `from` at the fuzz clock (zero gas price); never throws on a revert. */
  private async send(
    from: number,
    data: string,
    value = 0n,
    to: string = this.channelsAddress,
  ): Promise<TxResult> {
    const ts = this.clock;
    this.clock += 1n;
    this.dirty = true;
    await this.rpc("evm_setNextBlockTimestamp", [Number(ts)]);
    let hash: string;
    try {
      hash = await this.rpc<string>("eth_sendTransaction", [
        {
          from: this.accounts[from].address,
          to,
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
    const events = this.processLogs(receipt.logs);
    return { ok: true, ts, logs: receipt.logs, reason: "", events };
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

  private async snapshot(ids: readonly Hash[]) {
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

  // ---------------------------------------------------------------- events: the books

  /** Applies a successful transaction's events to the model and the books; returns the event names. */
  private processLogs(logs: readonly Log[]): string[] {
    const names: string[] = [];
    for (const entry of logs) {
      if (entry.address.toLowerCase() !== this.channelsAddress.toLowerCase()) continue;
      const event = this.iface.parseLog({ topics: [...entry.topics], data: entry.data });
      if (!event) continue;
      names.push(event.name);
      const a = event.args;
      const chan = (): Chan => {
        const ch = this.byId.get(String(a.channelId).toLowerCase());
        if (!ch) throw new InvariantViolation(`event ${event.name} for an unknown channel ${a.channelId}`);
        this.active.add(ch);
        return ch;
      };
      switch (event.name) {
        case "ChannelOpened": {
          const ch = chan();
          ch.status = STATUS.open;
          this.credit(ch, 0, a.deposit0 as bigint);
          break;
        }
        case "Deposited": {
          const ch = chan();
          const side = Number(a.side) as PayerIndex;
          this.credit(ch, side, (a.total as bigint) - ch.deposits[side]);
          break;
        }
        case "Withdrawn": {
          const ch = chan();
          ch.deposits = [ch.deposits[0] - (a.amount0 as bigint), ch.deposits[1] - (a.amount1 as bigint)];
          ch.withdrawNonce = Number(a.nonce) + 1;
          ch.ledger.setDeposits(ch.deposits[0], ch.deposits[1], ch.withdrawNonce);
          this.pay(ch, 0, a.amount0 as bigint);
          this.pay(ch, 1, a.amount1 as bigint);
          break;
        }
        case "ChannelClosing": {
          const ch = chan();
          ch.status = STATUS.closing;
          ch.closesAt = a.closesAt as bigint;
          break;
        }
        case "ChannelSettled": {
          const ch = chan();
          ch.status = STATUS.settled;
          this.pay(ch, 0, a.payout0 as bigint);
          this.pay(ch, 1, a.payout1 as bigint);
          break;
        }
        case "ChannelClosedCooperatively": {
          const ch = chan();
          ch.status = STATUS.settled;
          this.pay(ch, 0, a.payout0 as bigint);
          this.pay(ch, 1, a.payout1 as bigint);
          break;
        }
        case "EquivocationProved": {
          const ch = chan();
          ch.status = STATUS.settled;
          this.pay(ch, Number(a.equivocator) === 0 ? 1 : 0, a.forfeited as bigint);
          break;
        }
        case "LocksResolved": {
          const ch = chan();
          const payer = Number(a.payer) as PayerIndex;
          this.pay(ch, payer === 0 ? 1 : 0, a.toPayee as bigint);
          this.pay(ch, payer, a.toPayer as bigint);
          break;
        }
        case "PayoutCredited": {
          const who = this.accountOf(a.account as string);
          const asset = this.assetIndex(a.asset as string);
          this.expected[who][asset] -= a.amount as bigint;
          this.credits[who][asset] += a.amount as bigint;
          break;
        }
        case "CreditWithdrawn": {
          const who = this.accountOf(a.account as string);
          const asset = this.assetIndex(a.asset as string);
          this.expected[who][asset] += a.amount as bigint;
          this.credits[who][asset] -= a.amount as bigint;
          break;
        }
        case "TokenShortfallShared":
          throw new InvariantViolation("a plain token reported a shortfall: the contract lost tokens");
        default:
          break;
      }
    }
    return names;
  }

  private accountOf(address: string): number {
    const i = this.accounts.findIndex((acc) => acc.address.toLowerCase() === address.toLowerCase());
    if (i < 0) throw new InvariantViolation(`a payout went to ${address}, who is no participant`);
    return i;
  }

  private assetIndex(asset: string): 0 | 1 {
    if (asset.toLowerCase() === ZERO_ADDRESS) return 0;
    if (asset.toLowerCase() === this.tokenAddress.toLowerCase()) return 1;
    throw new InvariantViolation(`unknown asset ${asset}`);
  }

  private credit(ch: Chan, side: PayerIndex, amount: bigint): void {
    ch.deposits[side] += amount;
    ch.deposited += amount;
    ch.ledger.setDeposits(ch.deposits[0], ch.deposits[1], ch.withdrawNonce);
    const asset = ch.token ? 1 : 0;
    this.intoChannels[ch.parts[0]][asset] += amount;
    this.intoChannels[ch.parts[1]][asset] += amount;
  }

  private pay(ch: Chan, side: PayerIndex, amount: bigint): void {
    if (amount === 0n) return;
    const who = ch.parts[side];
    const asset = ch.token ? 1 : 0;
    ch.paidOut += amount;
    this.expected[who][asset] += amount;
    this.received[who][asset] += amount;
  }

  // ---------------------------------------------------------------- channel model helpers

  private newChan(params: ChannelParams, token: boolean, parts: [number, number], fate: Fate): Chan {
    const ledger = new ChannelLedger({
      domain: this.domain,
      params,
      deposit0: 0n,
      deposit1: 0n,
      verifySignature: "none",
      enforceFunds: true,
    });
    const ch: Chan = {
      n: this.chans.length,
      fate,
      id: ledger.channelId,
      params,
      token,
      parts,
      ledger,
      status: STATUS.none,
      deposits: [0n, 0n],
      withdrawNonce: 0,
      closesAt: 0n,
      deposited: 0n,
      paidOut: 0n,
      bySeq: [new Map(), new Map()],
      byHash: new Map(),
      top: [0, 0],
      conflicts: [],
      checkpoints: new Map(),
      view: null,
      honest: false,
      pots: [null, null],
    };
    this.chans.push(ch);
    this.byId.set(ch.id.toLowerCase(), ch);
    return ch;
  }

  private signer(ch: Chan, side: PayerIndex): LocalSigner {
    return this.accounts[ch.parts[side]].signer;
  }

  private live(): Chan[] {
    return [...this.active].filter((c) => c.status === STATUS.open || c.status === STATUS.closing);
  }

  private withStatus(status: number): Chan[] {
    return [...this.active].filter((c) => c.status === status);
  }

  private withPots(): Chan[] {
    return [...this.active].filter((c) => c.status === STATUS.settled && (c.pots[0] || c.pots[1]));
  }

  /** A channel of `preferred` most of the time, else any channel ever opened (mostly to provoke reverts). */
  private pickChan(preferred: Chan[], pAny = 0.08): Chan | null {
    if (preferred.length > 0 && !this.rng.chance(pAny)) return this.rng.pick(preferred);
    if (this.chans.length === 0) return null;
    return this.rng.pick(this.chans);
  }

  private revealedInTime = (lock: Lock): boolean => {
    const at = this.revealedAt.get(lock.hashlock);
    return at !== undefined && at <= lock.expiry;
  };

  /** Records a signed transfer: in the ledger if it accepts it, else as an orphan. */
  private record(ch: Chan, signed: SignedTransfer): { accepted: boolean; code: string } {
    const payer = signed.payer;
    const before = ch.ledger.state(payer);
    let entry: Signed;
    let code = "";
    try {
      const applied = ch.ledger.apply(signed, { now: this.clock, revealedInTime: this.revealedInTime });
      entry = { t: applied.transfer, state: applied.state, accepted: true };
    } catch (error) {
      if (!isParsecError(error)) throw error;
      code = error.code;
      const hash = hashTransfer(signed);
      entry = { t: { ...signed, hash }, state: applyTransfer(before, signed, { hash }), accepted: false };
    }
    if (ch.byHash.has(entry.t.hash)) return { accepted: entry.accepted, code }; // signed the same again
    const list = ch.bySeq[payer].get(signed.seq) ?? [];
    list.push(entry);
    ch.bySeq[payer].set(signed.seq, list);
    ch.byHash.set(entry.t.hash, entry);
    if (list.length === 2) ch.conflicts.push({ payer, seq: signed.seq });
    if (signed.seq > ch.top[payer]) ch.top[payer] = signed.seq;
    ch.honest = false;
    return { accepted: entry.accepted, code };
  }

  private signOp(ch: Chan, payer: PayerIndex, op: TransferOp): SignedTransfer {
    const t = buildTransfer(ch.ledger.state(payer), { channelId: ch.id, payer }, op);
    return signTransferSync(this.signer(ch, payer), this.domain, t);
  }

  /** The newest signed transfer of a payer: undefined at genesis, null when two share the top seq. */
  private newest(ch: Chan, payer: PayerIndex): Signed | null | undefined {
    if (ch.top[payer] === 0) return undefined;
    const list = ch.bySeq[payer].get(ch.top[payer]) ?? [];
    return list.length === 1 ? list[0] : null;
  }

  private onchainState(v: ChainView): OnchainState {
    return { seq0: v.seq0, seq1: v.seq1, commitment: v.commitment, proven: v.proven };
  }

  /** The heads the contract holds for a channel, found among everything signed for it. */
  private headsOf(ch: Chan, v: ChainView): Heads {
    let checkpoint: HeadPair = { seq0: 0, head0: ZERO_HASH, seq1: 0, head1: ZERO_HASH };
    if (v.commitment !== 0n || v.seq0 !== 0 || v.seq1 !== 0) {
      const c = ch.checkpoints.get(`${v.seq0},${v.seq1}`);
      if (!c || commitmentOf(c.head0, c.head1) !== v.commitment) {
        throw new InvariantViolation(`channel ${ch.n}: the checkpoint word opens no checkpoint both signed`);
      }
      checkpoint = { seq0: c.seq0, head0: c.head0, seq1: c.seq1, head1: c.head1 };
    }
    const side = (payer: PayerIndex): [number, Signed | null] => {
      const cpSeq = payer === 0 ? checkpoint.seq0 : checkpoint.seq1;
      const proven = v.proven[payer];
      if (proven.seq > cpSeq) {
        const found = (ch.bySeq[payer].get(proven.seq) ?? []).find(
          (s) => (BigInt(s.t.hash) & LOW_224) === proven.head224,
        );
        if (!found)
          throw new InvariantViolation(`channel ${ch.n}: proven head of payer ${payer} was never signed`);
        return [proven.seq, found];
      }
      if (cpSeq === 0) return [0, null];
      const found = ch.byHash.get(payer === 0 ? checkpoint.head0 : checkpoint.head1);
      if (!found) throw new InvariantViolation(`channel ${ch.n}: checkpoint head of payer ${payer} unknown`);
      return [cpSeq, found];
    };
    const [seq0, body0] = side(0);
    const [seq1, body1] = side(1);
    let sdk: OnchainHeads | null = null;
    try {
      sdk = onchainHeads(ch.ledger, this.onchainState(v));
    } catch (error) {
      if (!isParsecError(error)) throw error;
    }
    if (sdk) {
      const same =
        sdk.seq0 === seq0 &&
        sdk.seq1 === seq1 &&
        sdk.head0 === (body0?.t.hash ?? ZERO_HASH) &&
        sdk.head1 === (body1?.t.hash ?? ZERO_HASH);
      if (!same) throw new InvariantViolation(`channel ${ch.n}: SDK onchainHeads disagrees with the fuzz's`);
    }
    return { seq: [seq0, seq1], body: [body0, body1], checkpoint, sdk };
  }

  private outcomeOf(
    deposit0: bigint,
    deposit1: bigint,
    b0: Signed | null,
    b1: Signed | null,
  ): SettlementOutcome {
    return settlementOutcome({
      deposit0,
      deposit1,
      paid0: b0?.t.paidTotal ?? 0n,
      paid1: b1?.t.paidTotal ?? 0n,
      locked0: b0?.t.lockedTotal ?? 0n,
      locked1: b1?.t.lockedTotal ?? 0n,
    });
  }

  private randomSender(ch: Chan): number {
    const r = this.rng.int(3);
    return r === 2 ? STRANGER : ch.parts[r];
  }

  // ---------------------------------------------------------------- actions

  private async open(): Promise<Outcome> {
    const rng = this.rng;
    let a = rng.int(3);
    let b = (a + 1 + rng.int(2)) % 3;
    let token = rng.chance(0.4);
    let period = rng.chance(0.8) ? 3600 : 7200;
    let nonce = ++this.nonce;
    let variant = "";
    const r = rng.float();
    if (r < 0.02) {
      b = a;
      variant = " to itself";
    } else if (r < 0.04) {
      period = 60;
      variant = " with a too short period";
    } else if (r < 0.06 && this.chans.length > 0) {
      const old = rng.pick(this.chans);
      [a, b] = old.parts;
      token = old.token;
      period = old.params.challengePeriod;
      nonce = old.params.nonce;
      variant = ` reusing channel ${old.n}'s id`;
    }
    const amount = rng.chance(0.1) ? 0n : rng.big(1n, 2_000_000n);
    const params: ChannelParams = {
      participant0: this.accounts[a].address,
      participant1: this.accounts[b].address,
      asset: token ? this.tokenAddress : ZERO_ADDRESS,
      challengePeriod: period,
      nonce,
    };
    const data = token
      ? this.iface.encodeFunctionData("openToken", [
          params.participant1,
          this.tokenAddress,
          period,
          nonce,
          amount,
        ])
      : this.iface.encodeFunctionData("openEth", [params.participant1, period, nonce]);
    const r2 = rng.float();
    const fate: Fate = r2 < 0.4 ? "settle" : r2 < 0.73 ? "coop" : "equivocate";
    const fresh = variant === "" ? this.newChan(params, token, [a, b], fate) : null;
    const res = await this.send(a, data, token ? 0n : amount);
    if (res.ok) {
      if (!fresh) throw new InvariantViolation(`an open${variant} succeeded`);
      this.expected[a][token ? 1 : 0] -= amount;
      if (fresh.deposits[0] !== amount)
        throw new InvariantViolation(`open: deposit0 is not the ${amount} sent`);
    } else if (fresh) {
      this.chans.pop();
      this.byId.delete(fresh.id.toLowerCase());
      this.nonce--;
    }
    const note = `${NAMES[a]}→${NAMES[b]} ${token ? "token" : "eth"} ${amount} p${period}${variant}${fresh ? ` = ch${fresh.n} (${fate})` : ""}`;
    return this.result(res, note);
  }

  private async deposit(): Promise<Outcome> {
    const ch = this.pickChan(this.withStatus(STATUS.open));
    if (!ch) return { ok: null, note: "no channel" };
    const side = this.rng.int(2) as PayerIndex;
    const from = this.rng.int(4);
    const amount = this.rng.big(1n, 1_000_000n);
    const before = ch.deposits[side];
    const data = ch.token
      ? this.iface.encodeFunctionData("depositToken", [ch.params, side, amount])
      : this.iface.encodeFunctionData("deposit", [ch.id, side]);
    const res = await this.send(from, data, ch.token ? 0n : amount);
    if (res.ok) {
      this.expected[from][ch.token ? 1 : 0] -= amount;
      if (ch.deposits[side] !== before + amount) throw new InvariantViolation("deposit: the total is off");
    }
    return this.result(res, `ch${ch.n} side ${side} +${amount} by ${NAMES[from]}`);
  }

  private async withdraw(): Promise<Outcome> {
    const rng = this.rng;
    const ch = this.pickChan(this.withStatus(STATUS.open));
    if (!ch) return { ok: null, note: "no channel" };
    const b = ch.ledger.balances();
    const available: [bigint, bigint] = [b.available0, b.available1];
    const mode = rng.float();
    const amounts: [bigint, bigint] = [0n, 0n];
    for (const side of [0, 1] as const) {
      const d = ch.deposits[side];
      if (mode < 0.5) {
        const cap = available[side] < d ? available[side] : d;
        amounts[side] = cap > 0n && rng.chance(0.7) ? rng.big(0n, cap) : 0n;
      } else {
        amounts[side] = rng.chance(0.7) ? rng.big(0n, d) : 0n;
      }
    }
    let variant = mode < 0.5 ? "within available" : "up to the deposits";
    if (mode >= 0.85) {
      const side = rng.int(2) as PayerIndex;
      amounts[side] = ch.deposits[side] + rng.big(1n, 1000n);
      variant = `above deposit ${side}`;
    }
    let nonce = ch.withdrawNonce;
    let expiry = this.clock + 3600n;
    const odd = rng.float();
    if (odd < 0.04) {
      nonce += 1;
      variant += ", wrong nonce";
    } else if (odd < 0.08) {
      expiry = this.clock - 1n;
      variant += ", expired";
    }
    const w: Withdraw = { channelId: ch.id, nonce, amount0: amounts[0], amount1: amounts[1], expiry };
    const sig0 = await signWithdraw(this.signer(ch, 0), this.domain, w);
    const sig1 = await signWithdraw(this.signer(ch, 1), this.domain, w);
    const data = this.iface.encodeFunctionData("withdraw", [...withdrawArgs(ch.params, w, sig0, sig1)]);
    const res = await this.send(this.randomSender(ch), data);
    return this.result(res, `ch${ch.n} ${amounts[0]}/${amounts[1]} nonce ${nonce} (${variant})`);
  }

  /** A channel to bring evidence to: often a closing one, where it decides the payout. */
  private evidenceChan(useful: (ch: Chan) => boolean): Chan | null {
    const live = this.live();
    const closing = live.filter((c) => c.status === STATUS.closing);
    const disputed = closing.filter((c) => !c.honest);
    const pool =
      disputed.length > 0 && this.rng.chance(0.75)
        ? disputed
        : closing.length > 0 && this.rng.chance(0.4)
          ? closing
          : live;
    const good = pool.filter(useful);
    if (good.length > 0 && this.rng.chance(0.8)) return this.rng.pick(good);
    return this.pickChan(pool);
  }

  /** Payer's seq on-chain as last read (the higher of its checkpoint and proven seqs). */
  private onchainSeq(ch: Chan, payer: PayerIndex): number {
    const v = ch.view;
    if (!v) return 0;
    return Math.max(payer === 0 ? v.seq0 : v.seq1, v.proven[payer].seq);
  }

  /** A live channel to sign transfers in: mostly an open one. */
  private transferChan(): Chan | null {
    const open = this.withStatus(STATUS.open);
    const closing = this.withStatus(STATUS.closing);
    if (closing.length > 0 && (open.length === 0 || this.rng.chance(0.12))) return this.rng.pick(closing);
    return open.length > 0 ? this.rng.pick(open) : null;
  }

  private available(ch: Chan, payer: PayerIndex): bigint {
    const b = ch.ledger.balances();
    return payer === 0 ? b.available0 : b.available1;
  }

  private async payOrLock(kind: "pay" | "lock"): Promise<Outcome> {
    // locks gather in channels meant to settle, so that settlements leave pots to resolve
    const settling = this.withStatus(STATUS.open).filter((c) => c.fate === "settle");
    const ch =
      kind === "lock" && settling.length > 0 && this.rng.chance(0.5)
        ? this.rng.pick(settling)
        : this.transferChan();
    if (!ch) return { ok: null, note: "no channel" };
    const payers = ([0, 1] as const).filter(
      (p) => this.available(ch, p) > 0n && (kind === "pay" || ch.ledger.state(p).locks.length < 60),
    );
    if (payers.length === 0) return { ok: null, note: `ch${ch.n}: nothing available` };
    // a payer who signed an overdrawn transfer signs another one at that seq: an equivocation
    const forked = payers.filter((p) => ch.top[p] > ch.ledger.state(p).seq);
    const payer = forked.length > 0 && this.rng.chance(0.7) ? this.rng.pick(forked) : this.rng.pick(payers);
    const available = this.available(ch, payer);
    const amount = this.rng.big(1n, available / BigInt(1 + this.rng.int(4)) || 1n);
    let op: TransferOp;
    let note = `ch${ch.n} payer ${payer} ${kind} ${amount}`;
    if (kind === "pay") {
      op = { kind: "PAY", amount };
    } else {
      const secret = this.rng.bytes32();
      const hashlock = hashlockOf(secret);
      this.secrets.set(hashlock, secret);
      const far = this.rng.chance(0.45);
      const expiry = this.clock + (far ? FAR_EXPIRY : this.rng.big(...NEAR_EXPIRY));
      op = { kind: "LOCK", amount, hashlock, expiry };
      note += far ? " far expiry" : ` expiry +${expiry - this.clock}s`;
    }
    const { accepted, code } = this.record(ch, this.signOp(ch, payer, op));
    return { ok: accepted, note: accepted ? note : `${note}: refused ${code}` };
  }

  private async unlockOrCancel(kind: "unlock" | "cancel"): Promise<Outcome> {
    const expired = (l: Lock) => l.expiry < this.clock && !this.revealedInTime(l);
    const fits = (c: Chan, p: PayerIndex) =>
      kind === "unlock" ? c.ledger.state(p).locks.length > 0 : c.ledger.state(p).locks.some(expired);
    const candidates = this.withStatus(STATUS.open).filter((c) => fits(c, 0) || fits(c, 1));
    // channels meant to settle keep most of their locks, for the settlement to leave pots
    const others = candidates.filter((c) => c.fate !== "settle");
    const pool = others.length > 0 && this.rng.chance(0.75) ? others : candidates;
    const ch = pool.length > 0 && this.rng.chance(0.85) ? this.rng.pick(pool) : this.transferChan();
    if (!ch) return { ok: null, note: "no channel" };
    const fitting = ([0, 1] as const).filter((p) => fits(ch, p));
    const payers =
      fitting.length > 0 && this.rng.chance(0.85)
        ? fitting
        : ([0, 1] as const).filter((p) => ch.ledger.state(p).locks.length > 0);
    if (payers.length === 0) return { ok: null, note: `ch${ch.n}: no pending lock` };
    const payer = this.rng.pick(payers);
    const locks = ch.ledger.state(payer).locks;
    let lock = this.rng.pick(locks);
    if (kind === "cancel") {
      const due = locks.filter(expired);
      if (due.length > 0 && this.rng.chance(0.85)) lock = this.rng.pick(due);
    }
    const op: TransferOp = kind === "unlock" ? { kind: "UNLOCK", lock } : { kind: "CANCEL", lock };
    const { accepted, code } = this.record(ch, this.signOp(ch, payer, op));
    const note = `ch${ch.n} payer ${payer} ${kind} ${lock.amount} (expiry ${lock.expiry - this.clock}s from now)`;
    return { ok: accepted, note: accepted ? note : `${note}: refused ${code}` };
  }

  private async overdraw(): Promise<Outcome> {
    const meant = this.withStatus(STATUS.open).filter((c) => c.fate === "equivocate");
    const ch = meant.length > 0 && this.rng.chance(0.6) ? this.rng.pick(meant) : this.transferChan();
    if (!ch) return { ok: null, note: "no channel" };
    const payer = this.rng.int(2) as PayerIndex;
    const available = this.available(ch, payer);
    const amount = (available > 0n ? available : 0n) + this.rng.big(1n, 1_000_000n);
    const lock = this.rng.chance(0.3) && ch.ledger.state(payer).locks.length < 60;
    let op: TransferOp = { kind: "PAY", amount };
    if (lock) {
      const secret = this.rng.bytes32();
      const hashlock = hashlockOf(secret);
      this.secrets.set(hashlock, secret);
      op = { kind: "LOCK", amount, hashlock, expiry: this.clock + this.rng.big(...NEAR_EXPIRY) };
    }
    const { accepted, code } = this.record(ch, this.signOp(ch, payer, op));
    const note = `ch${ch.n} payer ${payer} ${lock ? "LOCK" : "PAY"} ${amount} with ${available} available`;
    if (accepted) throw new InvariantViolation(`the SDK ledger accepted an overdrawn transfer: ${note}`);
    return { ok: code === "InsufficientBalance", note: `${note}: refused ${code}` };
  }

  private async checkpoint(): Promise<Outcome> {
    const rng = this.rng;
    const ch = this.evidenceChan(
      (c) => !!c.view && (c.ledger.state(0).seq !== c.view.seq0 || c.ledger.state(1).seq !== c.view.seq1),
    );
    if (!ch) return { ok: null, note: "no channel" };
    const len0 = ch.ledger.state(0).seq;
    const len1 = ch.ledger.state(1).seq;
    const newest = rng.chance(0.6);
    const seq0 = newest ? len0 : rng.int(len0 + 1);
    const seq1 = newest ? len1 : rng.int(len1 + 1);
    const c: Checkpoint = {
      channelId: ch.id,
      seq0,
      head0: seq0 === 0 ? ZERO_HASH : ch.ledger.transfer(0, seq0).hash,
      seq1,
      head1: seq1 === 0 ? ZERO_HASH : ch.ledger.transfer(1, seq1).hash,
    };
    let signed: SignedCheckpoint;
    if (seq0 === len0 && seq1 === len1) {
      signed = await cosignCheckpoint(ch.ledger, this.signer(ch, 0), this.signer(ch, 1));
    } else {
      const sig0 = await signCheckpoint(this.signer(ch, 0), this.domain, c);
      const sig1 = await signCheckpoint(this.signer(ch, 1), this.domain, c);
      signed = { ...c, sig0, sig1 };
    }
    let variant = newest ? "newest" : "stale";
    if (rng.chance(0.04)) {
      signed = { ...signed, sig1: await signCheckpoint(this.accounts[STRANGER].signer, this.domain, c) };
      variant += ", signed by a stranger";
    } else {
      ch.checkpoints.set(`${seq0},${seq1}`, c);
    }
    const batch = rng.chance(0.25);
    const data = batch
      ? this.iface.encodeFunctionData("checkpointBatch", [
          ...checkpointBatchArgs([{ params: ch.params, checkpoint: signed }]),
        ])
      : this.iface.encodeFunctionData("checkpoint", [...checkpointArgs(ch.params, signed)]);
    const res = await this.send(this.randomSender(ch), data);
    if (res.ok && !res.events.includes("Checkpointed")) {
      res.ok = false;
      res.reason = "skipped in batch";
    }
    return this.result(res, `ch${ch.n} (${seq0}, ${seq1}) ${variant}${batch ? " batch" : ""}`);
  }

  private async headProof(): Promise<Outcome> {
    const rng = this.rng;
    const ch = this.evidenceChan((c) => ([0, 1] as const).some((p) => c.top[p] > this.onchainSeq(c, p)));
    if (!ch) return { ok: null, note: "no channel" };
    const fresh = ([0, 1] as const).filter((p) => ch.top[p] > this.onchainSeq(ch, p));
    const payer = fresh.length > 0 && rng.chance(0.8) ? rng.pick(fresh) : (rng.int(2) as PayerIndex);
    const all = [...ch.bySeq[payer].values()].flat();
    if (all.length === 0) return { ok: null, note: `ch${ch.n}: payer ${payer} signed nothing` };
    const r = rng.float();
    let target: Signed;
    const orphans = all.filter((s) => !s.accepted);
    if (r < 0.55) target = rng.pick(ch.bySeq[payer].get(ch.top[payer]) ?? all);
    else if (r < 0.7 && orphans.length > 0) target = rng.pick(orphans);
    else target = rng.pick(all);
    const s = rng.float();
    const payee = ch.parts[payer === 0 ? 1 : 0];
    const sender = s < 0.82 ? payee : s < 0.91 ? ch.parts[payer] : STRANGER;
    let record = { params: ch.params, payer, transfer: target.t as SignedTransfer };
    if (target.accepted && ch.view && ch.status !== STATUS.settled) {
      // The SDK's head proof, where it applies (a ledger transfer above the on-chain head).
      const heads = this.headsOf(ch, ch.view).sdk;
      const onchainSeq = heads ? (payer === 0 ? heads.seq0 : heads.seq1) : Infinity;
      if (heads && target.t.seq > onchainSeq) record = headProof(ch.ledger, payer, heads, target.t.seq);
    }
    const batch = rng.chance(0.25);
    const data = batch
      ? this.iface.encodeFunctionData("proveHeads", [...proveHeadsArgs([record])])
      : this.iface.encodeFunctionData("proveHead", [...proveHeadArgs(record)]);
    const res = await this.send(sender, data);
    if (res.ok && !res.events.includes("HeadProved")) {
      res.ok = false;
      res.reason = "skipped in batch";
    }
    const what = target.accepted ? "" : " (orphan)";
    return this.result(
      res,
      `ch${ch.n} payer ${payer} seq ${target.t.seq}${what} by ${NAMES[sender]}${batch ? " batch" : ""}`,
    );
  }

  private async extendChain(): Promise<Outcome> {
    const rng = this.rng;
    const ch = this.evidenceChan((c) =>
      ([0, 1] as const).some((p) => c.ledger.state(p).seq > this.onchainSeq(c, p)),
    );
    if (!ch) return { ok: null, note: "no channel" };
    const fresh = ([0, 1] as const).filter((p) => ch.ledger.state(p).seq > this.onchainSeq(ch, p));
    const payer = fresh.length > 0 && rng.chance(0.8) ? rng.pick(fresh) : (rng.int(2) as PayerIndex);
    const other: PayerIndex = payer === 0 ? 1 : 0;
    const v = ch.view;
    const heads = v && ch.status !== STATUS.settled ? this.headsOf(ch, v) : null;
    const onchainSeq = heads ? heads.seq[payer] : 0;
    const onLedger = heads ? !heads.body[payer] || heads.body[payer]!.accepted : true;
    const len = ch.ledger.state(payer).seq;
    const otherHead = heads ? (other === 0 ? heads.checkpoint.head0 : heads.checkpoint.head1) : ZERO_HASH;
    const sender = rng.chance(0.2) ? STRANGER : this.randomSender(ch);
    const r = rng.float();
    let pieces: (readonly unknown[])[] = [];
    let note: string;
    if (r < 0.62 && heads?.sdk && len > onchainSeq) {
      const toSeq = rng.chance(0.7) ? len : onchainSeq + 1 + rng.int(len - onchainSeq);
      const fromSeq = rng.chance(0.55) ? onchainSeq : rng.int(onchainSeq + 1);
      const maxTransfersPerPiece = rng.chance(0.2) ? 1 + rng.int(3) : 64;
      pieces = chainProof(ch.ledger, payer, heads.sdk, { toSeq, fromSeq, maxTransfersPerPiece });
      note = `honest ${fromSeq}..${toSeq} over on-chain ${onchainSeq} in ${pieces.length} piece(s)`;
    } else {
      const orphans = [...ch.bySeq[payer].values()].flat().filter((s) => !s.accepted);
      if (r < 0.85 && orphans.length > 0 && onLedger) {
        // an overdrawn (or premature CANCEL) transfer on top of the ledger chain, through the on-chain head
        const o = rng.pick(orphans);
        const startMax = Math.min(o.t.seq - 1, onchainSeq);
        const start = rng.int(startMax + 1);
        pieces = [this.piece(ch, payer, start, o.t.seq - 1, otherHead, [o.t])];
        note = `orphan seq ${o.t.seq} from ${start} over on-chain ${onchainSeq}`;
      } else if (len > 0) {
        // stale or broken: nothing beyond the on-chain head, a start above it, or a wrong other head
        const k = rng.int(3);
        if (k === 0 && onchainSeq > 0) {
          const start = rng.int(onchainSeq);
          pieces = [this.piece(ch, payer, start, Math.min(onchainSeq, len), otherHead)];
          note = `stale ${start}..${Math.min(onchainSeq, len)} over on-chain ${onchainSeq}`;
        } else if (k === 1 && len > onchainSeq + 1) {
          const start = onchainSeq + 1 + rng.int(len - onchainSeq - 1);
          pieces = [this.piece(ch, payer, start, len, otherHead)];
          note = `starting at ${start} above on-chain ${onchainSeq}`;
        } else {
          const start = onchainSeq <= len ? onchainSeq : 0;
          pieces = [this.piece(ch, payer, start, len, rng.bytes32())];
          note = `${start}..${len} with a wrong other head`;
        }
      } else {
        return { ok: null, note: `ch${ch.n}: payer ${payer} signed nothing` };
      }
    }
    let res: TxResult | null = null;
    for (const args of pieces) {
      res = await this.send(sender, this.iface.encodeFunctionData("extendChain", [...args]));
      if (!res.ok) break;
    }
    if (!res) return { ok: null, note: "no piece" };
    return this.result(res, `ch${ch.n} payer ${payer} ${note} by ${NAMES[sender]}`);
  }

  /** `extendChain` args for payer's ledger transfers (from, to], then `extra`. */
  private piece(
    ch: Chan,
    payer: PayerIndex,
    from: number,
    to: number,
    otherHead: Hash,
    extra: SignedTransfer[] = [],
  ) {
    const startBody = from === 0 ? null : ch.ledger.transfer(payer, from);
    const startLocks = ch.ledger.stateAt(payer, from).locks;
    const transfers = [...ch.ledger.transfers(payer, from, Math.max(from, to)), ...extra];
    if (transfers.length === 0) {
      // the SDK refuses to build an empty piece; the contract must refuse it too
      const body = bytesArg(startBody ? encodeTransferBody(startBody) : new Uint8Array(0));
      return [ch.params, payer, body, otherHead, bytesArg(encodeLocks(startLocks)), "0x"] as const;
    }
    return extendChainArgs({ params: ch.params, payer, startBody, startLocks, otherHead, transfers });
  }

  private async close(): Promise<Outcome> {
    const open = this.withStatus(STATUS.open);
    const meant = open.filter((c) => c.fate === "settle" && c.top[0] + c.top[1] >= 3);
    const locked = meant.filter((c) => c.ledger.state(0).locks.length + c.ledger.state(1).locks.length > 0);
    if (locked.length > 0 && this.rng.chance(0.7)) meant.splice(0, meant.length, ...locked);
    const ch = this.pickChan(meant.length > 0 && this.rng.chance(0.85) ? meant : open, 0.05);
    if (!ch) return { ok: null, note: "no channel" };
    const sender = this.rng.chance(0.93) ? ch.parts[this.rng.int(2)] : STRANGER;
    const res = await this.send(sender, this.iface.encodeFunctionData("close", [ch.params]));
    return this.result(res, `ch${ch.n} by ${NAMES[sender]}`);
  }

  private async timeTravel(): Promise<Outcome> {
    const r = this.rng.float();
    const delta =
      r < 0.6
        ? this.rng.big(600n, 4000n)
        : r < 0.92
          ? this.rng.big(3600n, 8000n)
          : this.rng.big(86_400n, 259_200n);
    this.clock += delta;
    let note = `+${delta}s`;
    if (this.rng.chance(0.35)) {
      // participants' addresses reject ETH most of the time, so that payouts become credits
      const who = this.rng.int(3);
      await this.setBlocked(who, this.rng.chance(0.7));
      note += `; ${NAMES[who]} ${this.blocked[who] ? "rejects" : "accepts"} ETH`;
    }
    return { ok: true, note };
  }

  private async settle(): Promise<Outcome> {
    const rng = this.rng;
    const closing = this.withStatus(STATUS.closing);
    const due = closing.filter((c) => c.closesAt <= this.clock);
    const ch = this.pickChan(due.length > 0 && rng.chance(0.9) ? due : closing, 0.06);
    if (!ch) return { ok: null, note: "no channel" };
    const v = ch.view;
    const heads = v && ch.status === STATUS.closing ? this.headsOf(ch, v) : null;
    let args: readonly unknown[];
    let expected: SettlementOutcome | null = null;
    let variant = "on-chain heads";
    if (heads && v) {
      args = heads.sdk
        ? settleArgsFromLedger(ch.ledger, heads.sdk)
        : settleArgs(ch.params, heads.body[0]?.t ?? null, heads.body[1]?.t ?? null, heads.checkpoint);
      expected = this.outcomeOf(v.deposit0, v.deposit1, heads.body[0], heads.body[1]);
      if (rng.chance(0.12)) {
        // wrong evidence: the newest ledger heads instead, or no checkpoint heads
        const n0 = ch.ledger.state(0).seq;
        const n1 = ch.ledger.state(1).seq;
        args = rng.chance(0.5)
          ? settleArgs(
              ch.params,
              n0 === 0 ? null : ch.ledger.transfer(0, n0),
              n1 === 0 ? null : ch.ledger.transfer(1, n1),
              heads.checkpoint,
            )
          : settleArgs(ch.params, heads.body[0]?.t ?? null, heads.body[1]?.t ?? null, {
              head0: rng.bytes32(),
              head1: heads.checkpoint.head1,
            });
        variant = "wrong heads";
      }
    } else {
      args = settleArgs(ch.params, null, null, { head0: ZERO_HASH, head1: ZERO_HASH });
      variant = "not closing";
    }
    const res = await this.send(rng.int(4), this.iface.encodeFunctionData("settle", [...args]));
    if (res.ok) {
      if (!heads || !v || !expected)
        throw new InvariantViolation(`settle of a channel not closing succeeded`);
      const event = this.findEvent(res, "ChannelSettled");
      const got = {
        payout0: event.payout0 as bigint,
        payout1: event.payout1 as bigint,
        pot0: event.pot0 as bigint,
        pot1: event.pot1 as bigint,
      };
      // (3) the heads the contract holds decide the payout
      if (!sameOutcome(got, expected)) {
        throw new InvariantViolation(
          `(3) ch${ch.n} settled ${fmtOutcome(got)}, the on-chain heads (seqs ${heads.seq}) give ${fmtOutcome(expected)}`,
        );
      }
      this.stats.settleChecked++;
      if (ch.honest) {
        // (3) the newest state was proven and nothing newer signed: it decides
        const n0 = this.newest(ch, 0) ?? null;
        const n1 = this.newest(ch, 1) ?? null;
        const newest = this.outcomeOf(v.deposit0, v.deposit1, n0, n1);
        if (!sameOutcome(got, newest)) {
          throw new InvariantViolation(
            `(3) ch${ch.n} settled ${fmtOutcome(got)} although its newest state (seqs ${ch.top}) was proven: ${fmtOutcome(newest)}`,
          );
        }
        this.stats.settleHonestChecked++;
      }
      if (got.pot0 > 0n || got.pot1 > 0n) this.stats.settledWithPots++;
      ch.pots = [
        got.pot0 > 0n ? { pot: got.pot0, locks: heads.body[0]!.state.locks, resolved: 0n } : null,
        got.pot1 > 0n ? { pot: got.pot1, locks: heads.body[1]!.state.locks, resolved: 0n } : null,
      ];
    }
    const honest =
      (ch.honest ? ", newest proven" : "") + (expected && res.ok ? `: ${fmtOutcome(expected)}` : "");
    return this.result(res, `ch${ch.n} ${variant}${heads ? ` seqs ${heads.seq}` : ""}${honest}`);
  }

  private async cooperativeClose(): Promise<Outcome> {
    const rng = this.rng;
    const live = this.live();
    const meant = live.filter((c) => c.fate === "coop" && c.top[0] + c.top[1] >= 3);
    const ch = this.pickChan(meant.length > 0 && rng.chance(0.85) ? meant : live);
    if (!ch) return { ok: null, note: "no channel" };
    const len0 = ch.ledger.state(0).seq;
    const len1 = ch.ledger.state(1).seq;
    const r = rng.float();
    const variant = r < 0.68 ? "current" : r < 0.88 ? "stale" : "expired";
    const seq0 = variant === "stale" ? rng.int(len0 + 1) : len0;
    const seq1 = variant === "stale" ? rng.int(len1 + 1) : len1;
    const s0 = ch.ledger.stateAt(0, seq0);
    const s1 = ch.ledger.stateAt(1, seq1);
    const o = settlementOutcome({
      deposit0: ch.deposits[0],
      deposit1: ch.deposits[1],
      paid0: s0.paidTotal,
      paid1: s1.paidTotal,
      locked0: s0.lockedTotal,
      locked1: s1.lockedTotal,
    });
    let balance0 = o.payout0 + o.pot0;
    const balance1 = o.payout1 + o.pot1;
    let note = variant;
    if (rng.chance(0.04)) {
      balance0 += 1n;
      note += ", balances off by one";
    }
    const expiry = variant === "expired" ? this.clock - rng.big(1n, 5000n) : this.clock + 3600n;
    const terms: CooperativeClose = { channelId: ch.id, seq0, seq1, balance0, balance1, expiry };
    const sig0 = await signCooperativeClose(this.signer(ch, 0), this.domain, terms);
    const sig1 = await signCooperativeClose(this.signer(ch, 1), this.domain, terms);
    const args = cooperativeCloseArgs(ch.params, terms, sig0, sig1);
    const res = await this.send(
      this.randomSender(ch),
      this.iface.encodeFunctionData("cooperativeClose", [...args]),
    );
    if (res.ok) {
      const event = this.findEvent(res, "ChannelClosedCooperatively");
      if (event.payout0 !== balance0 || event.payout1 !== balance1) {
        throw new InvariantViolation(`ch${ch.n}: a cooperative close paid other than both signed`);
      }
    }
    return this.result(
      res,
      `ch${ch.n} ${note} at (${seq0}, ${seq1}) of (${len0}, ${len1}) ${balance0}/${balance1}`,
    );
  }

  private async proveEquivocation(): Promise<Outcome> {
    const rng = this.rng;
    const withConflicts = this.live().filter((c) => c.conflicts.length > 0);
    const meant = withConflicts.filter((c) => c.fate === "equivocate");
    const ch =
      meant.length > 0 && rng.chance(0.85)
        ? rng.pick(meant)
        : withConflicts.length > 0 && rng.chance(0.5)
          ? rng.pick(withConflicts)
          : this.pickChan(this.live(), 0.3);
    if (!ch) return { ok: null, note: "no channel" };
    let args: readonly unknown[];
    let note: string;
    if (ch.conflicts.length > 0 && rng.chance(0.9)) {
      const { payer, seq } = rng.pick(ch.conflicts);
      const list = ch.bySeq[payer].get(seq)!;
      const i = rng.int(list.length);
      const j = (i + 1 + rng.int(list.length - 1)) % list.length;
      args = equivocationArgs(this.domain, ch.params, {
        channelId: ch.id,
        payer,
        seq,
        first: list[i].t,
        second: list[j].t,
      });
      note = `payer ${payer} seq ${seq}`;
    } else {
      const payer = rng.int(2) as PayerIndex;
      const all = [...ch.bySeq[payer].values()].flat();
      if (all.length === 0) return { ok: null, note: `ch${ch.n}: payer ${payer} signed nothing` };
      const a = rng.pick(all);
      const b = rng.pick(all);
      args = [ch.params, payer, bytesArg(encodeSignedTransfer(a.t)), bytesArg(encodeSignedTransfer(b.t))];
      note = `payer ${payer} seqs ${a.t.seq} and ${b.t.seq} (no equivocation unless different at one seq)`;
    }
    const res = await this.send(rng.int(4), this.iface.encodeFunctionData("proveEquivocation", [...args]));
    return this.result(res, `ch${ch.n} ${note}`);
  }

  private async registerSecret(): Promise<Outcome> {
    const rng = this.rng;
    const pending: Lock[] = [];
    for (const ch of this.active) {
      if (ch.status === STATUS.settled) {
        for (const pot of ch.pots) if (pot) pending.push(...pot.locks);
      } else {
        pending.push(...ch.ledger.state(0).locks, ...ch.ledger.state(1).locks);
      }
    }
    const useful = pending.filter((l) => l.expiry >= this.clock && !this.revealedAt.has(l.hashlock));
    let secret: Hash;
    let note: string;
    if (useful.length > 0 && rng.chance(0.45)) {
      const lock = rng.pick(useful);
      secret = this.secrets.get(lock.hashlock)!;
      note = `of a pending lock expiring in ${lock.expiry - this.clock}s`;
    } else if (this.secrets.size > 0 && rng.chance(0.8)) {
      secret = rng.pick([...this.secrets.values()]);
      note = "of some lock";
    } else {
      secret = rng.bytes32();
      note = "unknown to any lock";
    }
    const res = await this.send(rng.int(4), this.iface.encodeFunctionData("registerSecrets", [[secret]]));
    if (res.ok) {
      const hashlock = hashlockOf(secret);
      if (!this.revealedAt.has(hashlock)) this.revealedAt.set(hashlock, res.ts);
    }
    return this.result(res, note);
  }

  private async resolveLocks(): Promise<Outcome> {
    const rng = this.rng;
    const ch = this.pickChan(this.withPots(), 0.06);
    if (!ch) return { ok: null, note: "no channel" };
    const payers = ([0, 1] as const).filter((p) => ch.pots[p]);
    const payer: PayerIndex = payers.length > 0 ? rng.pick(payers) : (rng.int(2) as PayerIndex);
    const pot = ch.pots[payer];
    let locks: readonly Lock[] = pot?.locks ?? [];
    let note = "";
    const wrongList = rng.chance(0.06) && locks.length > 0;
    if (wrongList) {
      locks = locks.slice(1);
      note = ", wrong list";
    }
    const m = rng.float();
    // none; all; the one of a single unresolved lock (the payee reveals secrets one by one); or some
    const unresolved = locks.map((_, i) => i).filter((i) => !(((pot?.resolved ?? 0n) >> BigInt(i)) & 1n));
    const one = unresolved.length > 0 ? rng.pick(unresolved) : -1;
    const preimages: (Hash | null)[] =
      m < 0.3
        ? []
        : locks.map((l, i) =>
            m < 0.4 || (m < 0.8 ? i === one : rng.chance(0.3))
              ? (this.secrets.get(l.hashlock) ?? null)
              : null,
          );
    const mode =
      m < 0.3
        ? "no preimages"
        : m < 0.4
          ? "all preimages"
          : m < 0.8
            ? `preimage of lock ${one}`
            : "some preimages";
    const s = rng.int(3);
    const sender = s === 2 ? STRANGER : ch.parts[s === 0 ? payer : payer === 0 ? 1 : 0];
    const ts = this.clock;
    const expected =
      pot && !wrongList
        ? resolveLocksOutcome(
            locks,
            pot.pot,
            (lock, i) => {
              const pre = preimages[i];
              if (pre && ts <= lock.expiry && hashlockOf(pre) === lock.hashlock) return true;
              return this.revealedInTime(lock);
            },
            ts,
            pot.resolved,
          )
        : null;
    const args = resolveLocksArgs(ch.params, payer, locks, preimages);
    const res = await this.send(sender, this.iface.encodeFunctionData("resolveLocks", [...args]));
    const shouldWork = expected !== null && (expected.resolved !== 0n || expected.uncovered !== 0n);
    if (res.ok) {
      if (!pot || !expected)
        throw new InvariantViolation(`ch${ch.n}: resolveLocks without a pot or with a wrong list succeeded`);
      const event = this.findEvent(res, "LocksResolved");
      // (3) each lock is decided by its own outcome and share
      if (
        (event.resolved as bigint) !== expected.resolved ||
        (event.toPayee as bigint) !== expected.toPayee ||
        (event.toPayer as bigint) !== expected.toPayer
      ) {
        throw new InvariantViolation(
          `(3) ch${ch.n} resolveLocks paid ${event.toPayee}/${event.toPayer} (mask ${event.resolved}), expected ` +
            `${expected.toPayee}/${expected.toPayer} (mask ${expected.resolved})`,
        );
      }
      this.stats.resolveChecked++;
      const resolved = pot.resolved | expected.resolved;
      if (resolved === (1n << BigInt(pot.locks.length)) - 1n) ch.pots[payer] = null;
      else {
        pot.resolved = resolved;
        pot.pot -= expected.uncovered;
      }
    } else if (shouldWork) {
      throw new InvariantViolation(
        `ch${ch.n}: resolveLocks reverted (${res.reason}) although locks were resolvable`,
      );
    }
    return this.result(res, `ch${ch.n} payer ${payer} by ${NAMES[sender]} ${mode}${note}`);
  }

  private async withdrawCredit(): Promise<Outcome> {
    const rng = this.rng;
    const owed = [0, 1, 2, 3].filter((i) => this.credits[i][0] > 0n || this.credits[i][1] > 0n);
    const who = owed.length > 0 && rng.chance(0.88) ? rng.pick(owed) : rng.int(4);
    const asset: 0 | 1 =
      this.credits[who][1] > 0n ? 1 : this.credits[who][0] > 0n ? 0 : rng.chance(0.8) ? 0 : 1;
    let note = `${NAMES[who]} ${asset === 0 ? "ETH" : "token"} credit ${this.credits[who][asset]}`;
    if (this.blocked[who] && rng.chance(0.8)) {
      await this.setBlocked(who, false);
      note += ", accepting ETH again";
    }
    const token = asset === 0 ? ZERO_ADDRESS : this.tokenAddress;
    const res = await this.send(who, this.iface.encodeFunctionData("withdrawCredit", [token]));
    if (note.endsWith("again") && rng.chance(0.85)) {
      await this.setBlocked(who, true);
      note += ", then rejecting it again";
    }
    return this.result(res, note);
  }

  private findEvent(res: TxResult, name: string): Record<string, unknown> {
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

  private result(res: TxResult, note: string): Outcome {
    return { ok: res.ok, note: res.ok ? note : `${note}: reverted ${res.reason}` };
  }

  // ---------------------------------------------------------------- invariants

  /** Reads the channels in `ids` (default: the active ones) and checks (1) and (2); updates the views. */
  private async check(all = false): Promise<void> {
    const chans = all ? this.chans : [...this.active];
    let views: ChainView[] = [];
    let snap = this.lastSnapshot;
    if (this.dirty || all || !snap || snap.views.length !== chans.length) {
      for (let i = 0; i < Math.max(chans.length, 1); i += 200) {
        const part = await this.snapshot(chans.slice(i, i + 200).map((c) => c.id));
        views.push(...part.views);
        snap = part;
      }
      if (!snap) return;
      snap = { ...snap, views };
      this.lastSnapshot = snap;
      this.dirty = false;
    } else {
      // nothing was sent since the last reading: the chain is as read then
      views = snap.views;
    }
    const held: [bigint, bigint] = [0n, 0n];
    chans.forEach((ch, i) => {
      const v = views[i];
      ch.view = v;
      const claim =
        v.status === STATUS.open || v.status === STATUS.closing
          ? v.deposit0 + v.deposit1
          : v.status === STATUS.settled
            ? this.unresolved(ch, v)
            : 0n;
      held[ch.token ? 1 : 0] += claim;
      // the model follows the chain
      if (v.status !== ch.status) {
        throw new InvariantViolation(`ch${ch.n}: status ${v.status} on-chain, ${ch.status} by the events`);
      }
      if (
        (v.status === STATUS.open || v.status === STATUS.closing) &&
        (v.deposit0 !== ch.deposits[0] || v.deposit1 !== ch.deposits[1])
      ) {
        throw new InvariantViolation(
          `ch${ch.n}: deposits ${v.deposit0}/${v.deposit1} on-chain, ${ch.deposits[0]}/${ch.deposits[1]} by the events`,
        );
      }
      // (2) per channel: nothing paid beyond the deposits; what is not paid out is still held
      if (ch.paidOut > ch.deposited) {
        throw new InvariantViolation(`(2) ch${ch.n} paid out ${ch.paidOut} of ${ch.deposited} deposited`);
      }
      if (ch.deposited - ch.paidOut !== claim) {
        throw new InvariantViolation(
          `(2) ch${ch.n}: ${ch.deposited} deposited − ${ch.paidOut} paid out ≠ ${claim} still held (status ${v.status})`,
        );
      }
      if (v.status === STATUS.open || v.status === STATUS.closing) this.updateHonest(ch, v);
    });
    // (1) the contract holds exactly the live deposits + unresolved pots + credits (all of them when `all`)
    const credits: [bigint, bigint] = [0n, 0n];
    snap.perAccount.forEach((acc, i) => {
      credits[0] += acc.credit[0];
      credits[1] += acc.credit[1];
      for (const asset of [0, 1] as const) {
        if (acc.credit[asset] !== this.credits[i][asset]) {
          throw new InvariantViolation(
            `${NAMES[i]}'s credit is ${acc.credit[asset]}, the events say ${this.credits[i][asset]}`,
          );
        }
        const balance = asset === 0 ? acc.eth : acc.token;
        if (balance !== this.expected[i][asset]) {
          throw new InvariantViolation(
            `(2) ${NAMES[i]} holds ${balance} ${asset === 0 ? "wei" : "tokens"}, the events say ${this.expected[i][asset]}`,
          );
        }
        // (2) per participant: never more received than went into its channels
        if (this.received[i][asset] > this.intoChannels[i][asset]) {
          throw new InvariantViolation(
            `(2) ${NAMES[i]} received ${this.received[i][asset]}, more than the ${this.intoChannels[i][asset]} deposited into its channels`,
          );
        }
      }
    });
    const actual: [bigint, bigint] = [snap.ethHeld, snap.tokenHeld];
    for (const asset of [0, 1] as const) {
      const want = held[asset] + credits[asset];
      // Channels not read (settled, pots resolved) must hold nothing, so the equation covers them too.
      if (actual[asset] !== want) {
        throw new InvariantViolation(
          `(1) the contract holds ${actual[asset]} ${asset === 0 ? "wei" : "tokens"}, but live deposits + pots + credits = ` +
            `${held[asset]} + ${credits[asset]} = ${want}`,
        );
      }
    }
    for (const ch of chans) {
      const v = ch.view!;
      if (v.status === STATUS.settled && v.pot0 === 0n && v.pot1 === 0n) {
        this.active.delete(ch);
        this.lastSnapshot = null;
      }
    }
  }

  /**
   * What a settled channel still holds for its locks. `pendingLocksOf` keeps each payer's pot as the basis
   * of the lock shares (`min(amount_i, pot − amounts before i)`, fixed by the list) plus a bitmap of the
   * resolved locks, so what is left is the pot less the shares of the resolved locks. The list is the
   * fuzz's, checked against the root the contract keeps.
   */
  private unresolved(ch: Chan, v: ChainView): bigint {
    let left = 0n;
    for (const payer of [0, 1] as const) {
      const pot = payer === 0 ? v.pot0 : v.pot1;
      const root = payer === 0 ? v.locksRoot0 : v.locksRoot1;
      const resolved = payer === 0 ? v.resolved0 : v.resolved1;
      const model = ch.pots[payer];
      if (pot === 0n) {
        if (model)
          throw new InvariantViolation(`ch${ch.n}: payer ${payer}'s pot is gone on-chain, not in the model`);
        continue;
      }
      if (!model || model.pot !== pot || model.resolved !== resolved) {
        throw new InvariantViolation(
          `ch${ch.n}: payer ${payer}'s pot ${pot} (resolved ${resolved}) on-chain, ${model?.pot ?? 0n} (resolved ` +
            `${model?.resolved ?? 0n}) in the model`,
        );
      }
      if (locksRootOf(model.locks).toLowerCase() !== root.toLowerCase()) {
        throw new InvariantViolation(
          `ch${ch.n}: payer ${payer}'s pending lock list is not the settled head's`,
        );
      }
      const shares = resolveLocksOutcome(model.locks, pot, () => false, 0n).shares;
      let paid = 0n;
      shares.forEach((share, i) => {
        if ((resolved >> BigInt(i)) & 1n) paid += share;
      });
      left += pot - paid;
    }
    return left;
  }

  /** Marks a channel whose newest signed transfers (both payers) are the on-chain heads. */
  private updateHonest(ch: Chan, v: ChainView): void {
    if (ch.honest) return;
    const heads = this.headsOf(ch, v);
    for (const payer of [0, 1] as const) {
      const newest = this.newest(ch, payer);
      if (newest === null) return;
      const onchain = heads.body[payer];
      if ((newest?.t.hash ?? ZERO_HASH) !== (onchain?.t.hash ?? ZERO_HASH)) return;
    }
    ch.honest = true;
  }

  // ---------------------------------------------------------------- the loop

  private weights(): Record<ActionName, number> {
    const live = this.live();
    const open = live.filter((c) => c.status === STATUS.open);
    const closing = live.filter((c) => c.status === STATUS.closing);
    const due = closing.filter((c) => c.closesAt <= this.clock);
    const locks = live.some((c) => c.ledger.state(0).locks.length + c.ledger.state(1).locks.length > 0);
    const cancellable = live.some((c) =>
      [...c.ledger.state(0).locks, ...c.ledger.state(1).locks].some(
        (l) => l.expiry < this.clock && !this.revealedInTime(l),
      ),
    );
    const pots = this.withPots().length;
    const conflicts = live.some((c) => c.conflicts.length > 0);
    const credit = this.credits.some((c) => c[0] > 0n || c[1] > 0n);
    // a closing channel whose newest state is not on-chain yet: its honest side disputes
    const disputed = closing.some((c) => !c.honest) ? 3 : 1;
    const ready = (fate: Fate) => live.some((c) => c.fate === fate && c.top[0] + c.top[1] >= 3);
    const w: Record<ActionName, number> = {
      open: live.length === 0 ? 40 : live.length < MAX_LIVE ? 3 : 0.15,
      deposit: open.length > 0 ? 0.5 : 0.1,
      withdraw: open.length > 0 ? 0.55 : 0.1,
      pay: live.length > 0 ? 0.9 : 0,
      lock: live.length > 0 ? 1.6 : 0,
      unlock: locks ? 0.6 : 0,
      cancel: cancellable ? 3 : locks ? 0.2 : 0,
      overdraw: live.length > 0 ? 0.55 : 0,
      checkpoint: live.length > 0 ? 0.8 * disputed : 0.1,
      headProof: live.length > 0 ? 0.8 * disputed : 0.1,
      extendChain: live.length > 0 ? 0.9 * disputed : 0.1,
      close: open.some((c) => c.fate === "settle" && c.top[0] + c.top[1] >= 3) ? 1.5 : 0.1,
      timeTravel: closing.length > due.length ? 2 : 1,
      settle: due.length > 0 ? 4 : closing.length > 0 ? 0.3 : 0.1,
      cooperativeClose: ready("coop") ? 1 : 0.1,
      proveEquivocation: conflicts ? 1.5 : 0.1,
      registerSecret: locks || pots > 0 ? 0.4 : 0.1,
      resolveLocks: pots > 0 ? 3 : 0.1,
      withdrawCredit: credit ? 1.6 : 0.1,
    };
    return w;
  }

  /** An action by the weights of the state, lagging ones boosted so every action reaches its quota. */
  private choose(step: number): ActionName {
    const w = this.weights();
    const goal = (MIN_SUCCESSES * 1.3 * (step + 1)) / this.steps;
    for (const a of ACTIONS) {
      const ok = this.ok.get(a) ?? 0;
      if (ok < goal) w[a] *= 1 + (3 * (goal - ok)) / goal;
    }
    const total = ACTIONS.reduce((sum, a) => sum + w[a], 0);
    let r = this.rng.float() * total;
    for (const a of ACTIONS) {
      r -= w[a];
      if (r < 0) return a;
    }
    return "timeTravel";
  }

  private async act(name: ActionName): Promise<Outcome> {
    switch (name) {
      case "open":
        return this.open();
      case "deposit":
        return this.deposit();
      case "withdraw":
        return this.withdraw();
      case "pay":
        return this.payOrLock("pay");
      case "lock":
        return this.payOrLock("lock");
      case "unlock":
        return this.unlockOrCancel("unlock");
      case "cancel":
        return this.unlockOrCancel("cancel");
      case "overdraw":
        return this.overdraw();
      case "checkpoint":
        return this.checkpoint();
      case "headProof":
        return this.headProof();
      case "extendChain":
        return this.extendChain();
      case "close":
        return this.close();
      case "timeTravel":
        return this.timeTravel();
      case "settle":
        return this.settle();
      case "cooperativeClose":
        return this.cooperativeClose();
      case "proveEquivocation":
        return this.proveEquivocation();
      case "registerSecret":
        return this.registerSecret();
      case "resolveLocks":
        return this.resolveLocks();
      case "withdrawCredit":
        return this.withdrawCredit();
    }
  }

  async run(): Promise<FuzzResult> {
    const started = Date.now();
    this.log(`security: fuzz: seed ${this.seed}, ${this.steps} steps`);
    await this.setup();
    let step = 0;
    try {
      for (; step < this.steps; step++) {
        const name = this.choose(step);
        const outcome = await this.act(name);
        this.actionLog.push(
          `#${step} ${name} ${outcome.note}${outcome.ok === null ? " (not applicable)" : ""}`,
        );
        if (outcome.ok === true) this.ok.set(name, (this.ok.get(name) ?? 0) + 1);
        if (outcome.ok === false) {
          this.reverted.set(name, (this.reverted.get(name) ?? 0) + 1);
          const reason = /(?:reverted|refused) (.*)$/.exec(outcome.note)?.[1] ?? "?";
          const key = `${name}: ${reason}`;
          this.reasons.set(key, (this.reasons.get(key) ?? 0) + 1);
        }
        await this.check((step + 1) % 2000 === 0);
        if ((step + 1) % 2000 === 0) {
          this.stats.fullChecks++;
          this.log(
            `security: fuzz: ${step + 1}/${this.steps} steps, ${this.chans.length} channels, ${((Date.now() - started) / 1000).toFixed(0)}s`,
          );
        }
      }
      await this.check(true);
      this.stats.fullChecks++;
    } catch (error) {
      throw this.failure(error, step);
    }
    const elapsedMs = Date.now() - started;
    if (process.env.FUZZ_LOG_FILE)
      fs.writeFileSync(process.env.FUZZ_LOG_FILE, this.actionLog.join("\n") + "\n");
    const counts: Record<string, number> = {};
    for (const a of ACTIONS) {
      counts[a] = this.ok.get(a) ?? 0;
      counts[`${a}.reverted`] = this.reverted.get(a) ?? 0;
    }
    Object.assign(counts, {
      steps: this.steps,
      seed: this.seed,
      channels: this.chans.length,
      ...this.stats,
      elapsedMs,
      failed: 0,
    });
    const reasons = [...this.reasons.entries()].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ×${n}`);
    this.log(`security: fuzz: refusals and reverts by reason: ${reasons.join("; ")}`);
    const low = ACTIONS.filter((a) => counts[a] < MIN_SUCCESSES);
    if (low.length > 0) {
      throw new Error(
        `fuzz coverage too low (seed ${this.seed}, ${this.steps} steps): ` +
          low.map((a) => `${a} succeeded ${counts[a]} times`).join(", ") +
          `; every action must succeed at least ${MIN_SUCCESSES} times (raise FUZZ_RUNS). Counts: ` +
          JSON.stringify(counts),
      );
    }
    this.log(
      `security: fuzz: ${this.steps} steps, ${this.chans.length} channels, all invariants held, ` +
        `${(elapsedMs / 1000).toFixed(1)}s`,
    );
    return { counts };
  }

  private failure(error: unknown, step: number): Error {
    const what = error instanceof InvariantViolation ? "INVARIANT VIOLATED" : "the fuzz crashed";
    const message = error instanceof Error ? error.message : String(error);
    const file = process.env.FUZZ_FAILURE_FILE ?? FAILURE_FILE;
    const header =
      `${what} at step ${step} (seed ${this.seed}): ${message}\n` +
      `replay: FUZZ_SEED=${this.seed} FUZZ_RUNS=${this.steps} npx ts-node --transpile-only scripts/security/fuzz-main.ts\n`;
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(
        file,
        header +
          this.actionLog.join("\n") +
          "\n" +
          (error instanceof Error ? (error.stack ?? "") : "") +
          "\n",
      );
    } catch {
      // the message below still carries the tail of the log
    }
    const tail = this.actionLog.slice(-40).join("\n  ");
    return new Error(`${header}last actions (the whole sequence is in ${file}):\n  ${tail}`);
  }
}

function sameOutcome(a: SettlementOutcome, b: SettlementOutcome): boolean {
  return a.payout0 === b.payout0 && a.payout1 === b.payout1 && a.pot0 === b.pot0 && a.pot1 === b.pot1;
}

function fmtOutcome(o: SettlementOutcome): string {
  return `payouts ${o.payout0}/${o.payout1} pots ${o.pot0}/${o.pot1}`;
}
