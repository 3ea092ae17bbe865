// Minimal protocol helpers for contract tests, written against docs/protocol.md.
import {
  AbiCoder,
  concat,
  keccak256,
  sha256,
  Signature,
  solidityPacked,
  toBeHex,
  TypedDataEncoder,
  zeroPadValue,
} from "ethers";
import type { BaseWallet, Signer, TypedDataDomain } from "ethers";
import { EIP712_TYPES } from "../../sdk/src/eip712";

export type Hex = `0x${string}`;
export const ZERO32 = ("0x" + "00".repeat(32)) as Hex;
export const Kind = { Pay: 0, Lock: 1, Unlock: 2, Cancel: 3 } as const;

export interface Params {
  participant0: string;
  participant1: string;
  asset: string;
  challengePeriod: number;
  nonce: bigint;
}

export interface Body {
  seq: number;
  kind: number;
  amount: bigint;
  paidTotal: bigint;
  lockedTotal: bigint;
  locksRoot: string;
  hashlock: string;
  expiry: bigint;
  invoiceId: string;
  prev: string;
}

// The field lists are the specification's (the SDK exports them); everything else here is an independent
// minimal encoder, so contract tests do not rest on the SDK they help to check.
export const types = {
  Transfer: [...EIP712_TYPES.Transfer],
  Checkpoint: [...EIP712_TYPES.Checkpoint],
  CooperativeClose: [...EIP712_TYPES.CooperativeClose],
  Withdraw: [...EIP712_TYPES.Withdraw],
};

export function domain(chainId: bigint, verifyingContract: string): TypedDataDomain {
  return { name: "Parsec", version: "1", chainId, verifyingContract };
}

export function channelId(chainId: bigint, contract: string, p: Params): Hex {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "address", "address", "address", "uint32", "uint64"],
      [chainId, contract, p.participant0, p.participant1, p.asset, p.challengePeriod, p.nonce],
    ),
  ) as Hex;
}

export function packBody(b: Body): Hex {
  return solidityPacked(
    [
      "uint32",
      "uint8",
      "uint128",
      "uint128",
      "uint128",
      "bytes32",
      "bytes32",
      "uint64",
      "bytes32",
      "bytes32",
    ],
    [
      b.seq,
      b.kind,
      b.amount,
      b.paidTotal,
      b.lockedTotal,
      b.locksRoot,
      b.hashlock,
      b.expiry,
      b.invoiceId,
      b.prev,
    ],
  ) as Hex;
}

export function packParams(p: Params): Hex {
  return solidityPacked(
    ["address", "address", "address", "uint32", "uint64"],
    [p.participant0, p.participant1, p.asset, p.challengePeriod, p.nonce],
  ) as Hex;
}

export function packLock(amount: bigint, expiry: bigint, hashlock: string): Hex {
  return solidityPacked(["uint128", "uint64", "bytes32"], [amount, expiry, hashlock]) as Hex;
}

export function locksRoot(locks: Hex[]): Hex {
  return locks.length === 0 ? ZERO32 : (keccak256(concat(locks)) as Hex);
}

export function sigBytes(sig: string): Hex {
  const s = Signature.from(sig);
  return concat([s.r, s.s, toBeHex(s.v, 1)]) as Hex;
}

export function transferValue(id: string, payer: number, b: Body) {
  return { channelId: id, payer, ...b };
}

export function transferHash(id: string, payer: number, b: Body): Hex {
  return TypedDataEncoder.hashStruct(
    "Transfer",
    { Transfer: types.Transfer },
    transferValue(id, payer, b),
  ) as Hex;
}

export async function signTransfer(
  w: Signer,
  d: TypedDataDomain,
  id: string,
  payer: number,
  b: Body,
): Promise<Hex> {
  return sigBytes(await w.signTypedData(d, { Transfer: types.Transfer }, transferValue(id, payer, b)));
}

export async function signCheckpoint(
  w: Signer,
  d: TypedDataDomain,
  id: string,
  seq0: number,
  head0: string,
  seq1: number,
  head1: string,
): Promise<Hex> {
  return sigBytes(
    await w.signTypedData(d, { Checkpoint: types.Checkpoint }, { channelId: id, seq0, head0, seq1, head1 }),
  );
}

export async function checkpointRecord(
  w0: Signer,
  w1: Signer,
  d: TypedDataDomain,
  p: Params,
  id: string,
  seq0: number,
  head0: string,
  seq1: number,
  head1: string,
): Promise<Hex> {
  const s0 = await signCheckpoint(w0, d, id, seq0, head0, seq1, head1);
  const s1 = await signCheckpoint(w1, d, id, seq0, head0, seq1, head1);
  return concat([
    packParams(p),
    solidityPacked(["uint32", "bytes32", "uint32", "bytes32"], [seq0, head0, seq1, head1]),
    s0,
    s1,
  ]) as Hex;
}

/** The terms a `CooperativeClose` binds (protocol §2): the seqs it settles, the split, an expiry. */
export interface CooperativeCloseTerms {
  seq0: number;
  seq1: number;
  balance0: bigint;
  balance1: bigint;
  expiry: bigint;
}

export async function signCooperativeClose(
  w: Signer,
  d: TypedDataDomain,
  id: string,
  terms: CooperativeCloseTerms,
): Promise<Hex> {
  return sigBytes(
    await w.signTypedData(d, { CooperativeClose: types.CooperativeClose }, { channelId: id, ...terms }),
  );
}

export async function signWithdraw(
  w: Signer,
  d: TypedDataDomain,
  id: string,
  nonce: number,
  amount0: bigint,
  amount1: bigint,
  expiry: bigint,
): Promise<Hex> {
  return sigBytes(
    await w.signTypedData(
      d,
      { Withdraw: types.Withdraw },
      { channelId: id, nonce, amount0, amount1, expiry },
    ),
  );
}

/** A `HeadProofRecord` (protocol §6): `params payer:u8 SignedTransfer` (327 bytes); only the payee may send it. */
export function headProofRecord(p: Params, payer: number, signedTransfer: string): Hex {
  return concat([packParams(p), toBeHex(payer, 1), signedTransfer]) as Hex;
}

/** A payer's chain built transfer by transfer, following protocol §3. */
export class PayerChain {
  readonly bodies: Body[] = [];
  readonly signed: Hex[] = [];
  locks: Hex[] = [];
  paidTotal = 0n;
  lockedTotal = 0n;
  constructor(
    readonly wallet: Signer,
    readonly dom: TypedDataDomain,
    readonly id: string,
    readonly payer: number,
  ) {}

  get seq(): number {
    return this.bodies.length;
  }
  get head(): Hex {
    const last = this.bodies.at(-1);
    return last ? transferHash(this.id, this.payer, last) : ZERO32;
  }
  get headBody(): Hex {
    const last = this.bodies.at(-1);
    return last ? packBody(last) : "0x";
  }

  async push(
    kind: number,
    amount: bigint,
    hashlock = ZERO32 as string,
    expiry = 0n,
    invoiceId = ZERO32 as string,
  ) {
    const lock = packLock(amount, expiry, hashlock);
    if (kind === Kind.Pay) this.paidTotal += amount;
    if (kind === Kind.Lock) {
      this.locks = [...this.locks, lock];
      this.lockedTotal += amount;
    }
    if (kind === Kind.Unlock || kind === Kind.Cancel) {
      const i = this.locks.indexOf(lock);
      if (i >= 0) this.locks = this.locks.filter((_, j) => j !== i);
      this.lockedTotal -= amount;
      if (kind === Kind.Unlock) this.paidTotal += amount;
    }
    const body: Body = {
      seq: this.seq + 1,
      kind,
      amount,
      paidTotal: this.paidTotal,
      lockedTotal: this.lockedTotal,
      locksRoot: locksRoot(this.locks),
      hashlock,
      expiry,
      invoiceId,
      prev: this.head,
    };
    const sig = await signTransfer(this.wallet, this.dom, this.id, this.payer, body);
    this.bodies.push(body);
    this.signed.push(concat([packBody(body), sig]) as Hex);
    return body;
  }

  async pay(amount: bigint) {
    return this.push(Kind.Pay, amount);
  }
}

export function hashlockOf(preimage: string): Hex {
  return sha256(preimage) as Hex;
}

export function word(n: bigint | number): Hex {
  return zeroPadValue(toBeHex(n), 32) as Hex;
}

export type { BaseWallet };
