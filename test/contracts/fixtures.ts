// Shared fixtures for the contract tests: deployments, channels and signature tweaks.
import hre from "hardhat";
import {
  concat,
  getBytes,
  hexlify,
  parseEther,
  solidityPacked,
  toBeHex,
  toBigInt,
  zeroPadValue,
} from "ethers";
import type { Signer, TypedDataDomain } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  channelId,
  checkpointRecord,
  domain,
  packBody,
  packParams,
  PayerChain,
  signCooperativeClose,
  signWithdraw,
  ZERO32,
} from "../helpers/kit";
import type { CooperativeCloseTerms, Hex, Params } from "../helpers/kit";

export { signCooperativeClose };
import type { ParsecChannels, ParsecEncoding, TestToken } from "../../typechain-types";

const { ethers } = hre;

export const HOUR = 3_600;
export const DAY = 86_400;
/** secp256k1 group order. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** `SkipReason` of the contract. */
export const Skip = {
  None: 0,
  Malformed: 1,
  ChannelNotOpen: 2,
  BadSignature: 3,
  StaleState: 4,
  /** No longer produced: head proofs name no heads since issue 9 (the number stays reserved). */
  StateChanged: 5,
  NotPayee: 6,
} as const;
/** `ChannelStatus` of the contract. */
export const Status = { None: 0, Open: 1, Closing: 2, Settled: 3 } as const;
export const CHECKPOINT_RECORD_LENGTH = 274;
export const HEAD_PROOF_RECORD_LENGTH = 327;
export const SIGNED_TRANSFER_LENGTH = 254;
export const TRANSFER_BODY_LENGTH = 189;

export interface Base {
  channels: ParsecChannels;
  /** The pure encoding helpers (struct hashes, commitment, locks root), kept out of ParsecChannels. */
  encoding: ParsecEncoding;
  token: TestToken;
  alice: HardhatEthersSigner;
  bob: HardhatEthersSigner;
  carol: HardhatEthersSigner;
  dave: HardhatEthersSigner;
  chainId: bigint;
  address: string;
  dom: TypedDataDomain;
}

/** One ParsecChannels and one plain token; alice and bob hold and approved tokens. */
export async function deployBase(): Promise<Base> {
  const [alice, bob, carol, dave] = await ethers.getSigners();
  const channels = await ethers.deployContract("ParsecChannels");
  const token = await ethers.deployContract("TestToken", ["Test", "TST", 18]);
  const encoding = await ethers.deployContract("ParsecEncoding");
  const address = await channels.getAddress();
  const { chainId } = await ethers.provider.getNetwork();
  for (const s of [alice, bob]) {
    await token.mint(s.address, parseEther("1000"));
    await token.connect(s).approve(address, ethers.MaxUint256);
  }
  return {
    channels,
    encoding,
    token,
    alice,
    bob,
    carol,
    dave,
    chainId,
    address,
    dom: domain(chainId, address),
  };
}

export interface Channel {
  params: Params;
  id: Hex;
  c0: PayerChain;
  c1: PayerChain;
}

let nonceCounter = 1_000n;

/** Opens an ETH channel alice (P0) ↔ bob (P1) with the given deposits (bob tops up with `deposit`). */
export async function openEth(
  b: Base,
  deposit0 = parseEther("1"),
  deposit1 = parseEther("1"),
  challengePeriod = DAY,
  p0: HardhatEthersSigner = b.alice,
  p1: HardhatEthersSigner = b.bob,
): Promise<Channel> {
  const nonce = ++nonceCounter;
  await b.channels.connect(p0).openEth(p1.address, challengePeriod, nonce, { value: deposit0 });
  const params: Params = {
    participant0: p0.address,
    participant1: p1.address,
    asset: ethers.ZeroAddress,
    challengePeriod,
    nonce,
  };
  const id = channelId(b.chainId, b.address, params);
  if (deposit1 > 0n) await b.channels.connect(p1).deposit(id, 1, { value: deposit1 });
  return { params, id, c0: new PayerChain(p0, b.dom, id, 0), c1: new PayerChain(p1, b.dom, id, 1) };
}

/** Opens a token channel alice (P0) ↔ bob (P1) over `b.token` (or `token`). */
export async function openToken(
  b: Base,
  deposit0 = parseEther("10"),
  deposit1 = parseEther("10"),
  token: string | null = null,
): Promise<Channel> {
  const asset = token ?? (await b.token.getAddress());
  const nonce = ++nonceCounter;
  await b.channels.openToken(b.bob.address, asset, DAY, nonce, deposit0);
  const params: Params = {
    participant0: b.alice.address,
    participant1: b.bob.address,
    asset,
    challengePeriod: DAY,
    nonce,
  };
  const id = channelId(b.chainId, b.address, params);
  if (deposit1 > 0n) await b.channels.connect(b.bob).depositToken(params, 1, deposit1);
  return { params, id, c0: new PayerChain(b.alice, b.dom, id, 0), c1: new PayerChain(b.bob, b.dom, id, 1) };
}

/** A copy of a payer chain, so that a test can extend it without touching a cached fixture's. */
export function copyChain(chain: PayerChain): PayerChain {
  const c = new PayerChain(chain.wallet, chain.dom, chain.id, chain.payer);
  c.bodies.push(...chain.bodies);
  c.signed.push(...chain.signed);
  c.locks = [...chain.locks];
  c.paidTotal = chain.paidTotal;
  c.lockedTotal = chain.lockedTotal;
  return c;
}

/** A channel with copies of its chains (fixtures are cached across tests; their chains must not be shared). */
export function copyChannel(ch: Channel): Channel {
  return { ...ch, c0: copyChain(ch.c0), c1: copyChain(ch.c1) };
}

/** What the ecrecover precompile returns for a digest and a 65-byte `r || s || v` signature. */
export async function ecrecover(digest: string, sig: string): Promise<string> {
  const bytes = getBytes(sig);
  const input = concat([
    digest,
    zeroPadValue(toBeHex(bytes[64]), 32),
    bytes.slice(0, 32),
    bytes.slice(32, 64),
  ]);
  const out = await ethers.provider.call({ to: "0x0000000000000000000000000000000000000001", data: input });
  return out === "0x" ? ethers.ZeroAddress : ethers.getAddress(ethers.dataSlice(out, 12));
}

/** A co-signed checkpoint of both chains' current heads. */
/** Both participants' checkpoint of the chains at seqs `seq0`, `seq1` (an older state than the newest). */
export function checkpointAt(ch: Channel, seq0: number, seq1: number): Promise<Hex> {
  return checkpointRecord(
    ch.c0.wallet,
    ch.c1.wallet,
    ch.c0.dom,
    ch.params,
    ch.id,
    seq0,
    headAt(ch.c0, seq0),
    seq1,
    headAt(ch.c1, seq1),
  );
}

export async function checkpointOf(b: Base, ch: Channel, dom: TypedDataDomain = b.dom): Promise<Hex> {
  return checkpointRecord(
    ch.c0.wallet,
    ch.c1.wallet,
    dom,
    ch.params,
    ch.id,
    ch.c0.seq,
    ch.c0.head,
    ch.c1.seq,
    ch.c1.head,
  );
}

/** A `CheckpointRecord` from explicit parts (for tampered records). */
export function packCheckpoint(
  p: Params,
  seq0: number,
  head0: string,
  seq1: number,
  head1: string,
  sig0: string,
  sig1: string,
): Hex {
  return concat([
    packParams(p),
    solidityPacked(["uint32", "bytes32", "uint32", "bytes32"], [seq0, head0, seq1, head1]),
    sig0,
    sig1,
  ]) as Hex;
}

/** The terms of a `CooperativeClose` (issue 9: bound to the seqs it closes and to an expiry). */
export type CoopTerms = CooperativeCloseTerms;

/** Terms at the chains' current seqs, valid for an hour from the latest block (override any field). */
export async function coopTerms(
  ch: Channel,
  balance0: bigint,
  balance1: bigint,
  over: Partial<CoopTerms> = {},
): Promise<CoopTerms> {
  return {
    seq0: ch.c0.seq,
    seq1: ch.c1.seq,
    balance0,
    balance1,
    expiry: (await now()) + BigInt(HOUR),
    ...over,
  };
}

/** Both participants' signatures on a cooperative close. */
export async function coopSigs(
  b: Base,
  ch: Channel,
  terms: CoopTerms,
  dom: TypedDataDomain = b.dom,
): Promise<[Hex, Hex]> {
  return [
    await signCooperativeClose(ch.c0.wallet, dom, ch.id, terms),
    await signCooperativeClose(ch.c1.wallet, dom, ch.id, terms),
  ];
}

/** `cooperativeClose` arguments for a split at the chains' current seqs, co-signed by both. */
export async function coopArgs(
  b: Base,
  ch: Channel,
  balance0: bigint,
  balance1: bigint,
  over: Partial<CoopTerms> = {},
): Promise<[Params, CoopTerms, Hex, Hex]> {
  const terms = await coopTerms(ch, balance0, balance1, over);
  return [ch.params, terms, ...(await coopSigs(b, ch, terms))];
}

/** Both participants' signatures on a withdrawal. */
export async function withdrawSigs(
  b: Base,
  ch: Channel,
  nonce: number,
  amount0: bigint,
  amount1: bigint,
  expiry: bigint,
): Promise<[Hex, Hex]> {
  return [
    await signWithdraw(ch.c0.wallet, b.dom, ch.id, nonce, amount0, amount1, expiry),
    await signWithdraw(ch.c1.wallet, b.dom, ch.id, nonce, amount0, amount1, expiry),
  ];
}

/** The same signature with s replaced by n − s and v flipped: valid for ecrecover, but high-s. */
export function highS(sig: string): Hex {
  const bytes = getBytes(sig);
  const s = toBigInt(bytes.slice(32, 64));
  const v = bytes[64] === 27 ? 28 : 27;
  return concat([bytes.slice(0, 32), zeroPadValue(toBeHex(SECP256K1_N - s), 32), toBeHex(v, 1)]) as Hex;
}

/** The same signature with another `v` byte. */
export function withV(sig: string, v: number): Hex {
  const bytes = getBytes(sig);
  return concat([bytes.slice(0, 64), toBeHex(v, 1)]) as Hex;
}

/** Replaces the 65-byte signature at the end of a `SignedTransfer`. */
export function resign(signedTransfer: string, sig: string): Hex {
  return concat([getBytes(signedTransfer).slice(0, TRANSFER_BODY_LENGTH), sig]) as Hex;
}

/** The signature at the end of a `SignedTransfer`. */
export function sigOf(signedTransfer: string): Hex {
  return hexlify(getBytes(signedTransfer).slice(TRANSFER_BODY_LENGTH)) as Hex;
}

/** The head hash of a chain at `seq` (0 for the genesis). */
export function headAt(chain: PayerChain, seq: number): Hex {
  if (seq === 0) return ZERO32;
  const c = new PayerChain(chain.wallet, chain.dom, chain.id, chain.payer);
  c.bodies.push(...chain.bodies.slice(0, seq));
  return c.head;
}

/** The 192-bit state commitment of two heads, computed here (independently of the contract). */
export function commitment(head0: string, head1: string): bigint {
  return BigInt(ethers.keccak256(concat([head0, head1]))) & ((1n << 192n) - 1n);
}

export interface OnChain {
  status: number;
  deposit0: bigint;
  deposit1: bigint;
  closesAt: bigint;
  hasProofs: boolean;
  /** The checkpoint word: seqs and commitment of the last co-signed checkpoint. */
  seq0: number;
  seq1: number;
  commitment: bigint;
  /** The proven words (head proofs and chain extensions): seq and low 224 bits of the head. */
  proven0: { seq: number; head224: bigint };
  proven1: { seq: number; head224: bigint };
  /** Each payer's on-chain head seq: the higher of checkpoint and proven. */
  head0: number;
  head1: number;
}

/** A channel's record, checkpoint word and proven words, as plain values. */
export async function stateOf(channels: ParsecChannels, id: string): Promise<OnChain> {
  const [record, seq0, seq1, c] = await channels.channelState(id);
  const [p0, h0, p1, h1] = await channels.provenHeadsOf(id);
  return {
    status: Number(record.status),
    deposit0: record.deposit0,
    deposit1: record.deposit1,
    closesAt: record.closesAt,
    hasProofs: record.hasProofs,
    seq0: Number(seq0),
    seq1: Number(seq1),
    commitment: c,
    proven0: { seq: Number(p0), head224: h0 },
    proven1: { seq: Number(p1), head224: h1 },
    head0: Math.max(Number(seq0), Number(p0)),
    head1: Math.max(Number(seq1), Number(p1)),
  };
}

/** The low 224 bits of a head, as a proven word keeps it. */
export function head224(head: string): bigint {
  return BigInt(head) & ((1n << 224n) - 1n);
}

/** A `HeadProofRecord` (issue 9): params, payer, and the payer's signed transfer; it names no heads. */
export function headProofRecord(p: Params, payer: number, signedTransfer: string): Hex {
  return concat([packParams(p), toBeHex(payer, 1), signedTransfer]) as Hex;
}

/** A head proof of `payer`'s transfer `seq` in the channel. */
export function headProof(ch: Channel, payer: number, seq: number): Hex {
  return headProofRecord(ch.params, payer, (payer === 0 ? ch.c0 : ch.c1).signed[seq - 1]);
}

/**
 * `settle` arguments from the contract's words and the chains' transfers: the bodies of both on-chain heads
 * (empty at seq 0) and the two heads of the checkpoint word (zero without a checkpoint).
 */
export async function settleArgs(
  channels: ParsecChannels,
  ch: Channel,
  c0: PayerChain = ch.c0,
  c1: PayerChain = ch.c1,
): Promise<[Params, Hex, Hex, Hex, Hex]> {
  const s = await stateOf(channels, ch.id);
  const body = (c: PayerChain, seq: number): Hex => (seq === 0 ? "0x" : packBody(c.bodies[seq - 1]));
  const checkpointed = s.commitment !== 0n || s.seq0 !== 0 || s.seq1 !== 0;
  return [
    ch.params,
    body(c0, s.head0),
    body(c1, s.head1),
    checkpointed ? headAt(c0, s.seq0) : ZERO32,
    checkpointed ? headAt(c1, s.seq1) : ZERO32,
  ];
}

/** The latest block's timestamp. */
export async function now(): Promise<bigint> {
  const block = await ethers.provider.getBlock("latest");
  if (!block) throw new Error("no block");
  return BigInt(block.timestamp);
}

export type { Signer };

/** The two heads of the checkpoint word, for `settle` calls with explicit head bodies. */
export async function checkpointHeads(
  channels: ParsecChannels,
  ch: Channel,
  c0: PayerChain = ch.c0,
  c1: PayerChain = ch.c1,
): Promise<[Hex, Hex]> {
  const args = await settleArgs(channels, ch, c0, c1);
  return [args[3], args[4]];
}
