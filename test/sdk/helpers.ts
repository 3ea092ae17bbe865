/** Shared fixtures of the SDK tests. */
import { Wallet } from "ethers";
import {
  ChannelLedger,
  GENESIS_STATE,
  ZERO_ADDRESS,
  applyTransfer,
  buildTransfer,
  channelIdOf,
  localSigner,
  parsecDomain,
  signTransferUnjournaled,
  type ChannelParams,
  type Domain,
  type Hash,
  type Hex,
  type LocalSigner,
  type PayerIndex,
  type PayerState,
  type SignedTransfer,
  type TransferOp,
  type VerifiedTransfer,
} from "../../sdk";
import { hashTransfer } from "../../sdk";

/** Hardhat's well-known test keys #0 and #1 (funded on the in-process chain). */
export const KEY0: Hex = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const KEY1: Hex = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

export const DOMAIN: Domain = parsecDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3");

export interface Channel {
  readonly domain: Domain;
  readonly params: ChannelParams;
  readonly channelId: Hash;
  readonly signers: readonly [LocalSigner, LocalSigner];
}

/** A channel between two signers (Hardhat keys by default, random ones on request). */
export function makeChannel(
  opts: { domain?: Domain; nonce?: bigint; random?: boolean; asset?: Hex } = {},
): Channel {
  const domain = opts.domain ?? DOMAIN;
  const s0 = localSigner(opts.random ? (Wallet.createRandom().privateKey as Hex) : KEY0);
  const s1 = localSigner(opts.random ? (Wallet.createRandom().privateKey as Hex) : KEY1);
  const params: ChannelParams = {
    participant0: s0.address,
    participant1: s1.address,
    asset: opts.asset ?? ZERO_ADDRESS,
    challengePeriod: 3600,
    nonce: opts.nonce ?? 1n,
  };
  return { domain, params, channelId: channelIdOf(domain, params), signers: [s0, s1] };
}

/** Signs the ops as payer's chain from `state`; returns the signed transfers (with hashes) and the final state. */
export function signChain(
  ch: Channel,
  payer: PayerIndex,
  ops: readonly TransferOp[],
  state: PayerState = GENESIS_STATE,
): { transfers: VerifiedTransfer[]; state: PayerState } {
  const out: VerifiedTransfer[] = [];
  let s = state;
  for (const op of ops) {
    const t = buildTransfer(s, { channelId: ch.channelId, payer }, op);
    const signed: SignedTransfer = signTransferUnjournaled(ch.signers[payer], ch.domain, t);
    s = applyTransfer(s, t);
    out.push({ ...signed, hash: hashTransfer(t) });
  }
  return { transfers: out, state: s };
}

/** `n` PAY ops of 1, 2, 3, … base units. */
export function pays(n: number, unit = 1n): TransferOp[] {
  return Array.from({ length: n }, (_, i) => ({ kind: "PAY" as const, amount: unit * BigInt(i + 1) }));
}

/** A ledger over `ch` with deposits. */
export function ledgerOf(ch: Channel, deposit0 = 10n ** 18n, deposit1 = 10n ** 18n): ChannelLedger {
  return new ChannelLedger({ domain: ch.domain, params: ch.params, deposit0, deposit1 });
}

/** Deterministic pseudo-random numbers (xorshift32) for reproducible shuffles. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/** Expects `fn` to throw a ParsecError with `code`; returns it. */
export function expectCode(fn: () => unknown, code: string): Error {
  try {
    fn();
  } catch (e) {
    const c = (e as { code?: string }).code;
    if (c !== code) throw new Error(`expected error code ${code}, got ${String(c)}: ${(e as Error).message}`);
    return e as Error;
  }
  throw new Error(`expected error code ${code}, nothing was thrown`);
}

/** Async variant of `expectCode`. */
export async function expectCodeAsync(fn: () => Promise<unknown>, code: string): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    const c = (e as { code?: string }).code;
    if (c !== code) throw new Error(`expected error code ${code}, got ${String(c)}: ${(e as Error).message}`);
    return e as Error;
  }
  throw new Error(`expected error code ${code}, nothing was thrown`);
}
