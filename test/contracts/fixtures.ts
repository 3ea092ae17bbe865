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
  packParams,
  PayerChain,
  signCooperativeClose,
  signWithdraw,
  ZERO32,
} from "../helpers/kit";
import type { Hex, Params } from "../helpers/kit";
import type { ParsecChannels, TestToken } from "../../typechain-types";

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
  StateChanged: 5,
  NotPayee: 6,
} as const;
/** `ChannelStatus` of the contract. */
export const Status = { None: 0, Open: 1, Closing: 2, Settled: 3 } as const;
export const CHECKPOINT_RECORD_LENGTH = 274;
export const HEAD_PROOF_RECORD_LENGTH = 391;
export const SIGNED_TRANSFER_LENGTH = 254;
export const TRANSFER_BODY_LENGTH = 189;

export interface Base {
  channels: ParsecChannels;
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
  const address = await channels.getAddress();
  const { chainId } = await ethers.provider.getNetwork();
  for (const s of [alice, bob]) {
    await token.mint(s.address, parseEther("1000"));
    await token.connect(s).approve(address, ethers.MaxUint256);
  }
  return { channels, token, alice, bob, carol, dave, chainId, address, dom: domain(chainId, address) };
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

/** Both participants' signatures on a cooperative close. */
export async function coopSigs(
  b: Base,
  ch: Channel,
  balance0: bigint,
  balance1: bigint,
  dom: TypedDataDomain = b.dom,
): Promise<[Hex, Hex]> {
  return [
    await signCooperativeClose(ch.c0.wallet, dom, ch.id, balance0, balance1),
    await signCooperativeClose(ch.c1.wallet, dom, ch.id, balance0, balance1),
  ];
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
  seq0: number;
  seq1: number;
  commitment: bigint;
}

/** A channel's record and state word, as plain values. */
export async function stateOf(channels: ParsecChannels, id: string): Promise<OnChain> {
  const [record, seq0, seq1, c] = await channels.channelState(id);
  return {
    status: Number(record.status),
    deposit0: record.deposit0,
    deposit1: record.deposit1,
    closesAt: record.closesAt,
    seq0: Number(seq0),
    seq1: Number(seq1),
    commitment: c,
  };
}

/** The latest block's timestamp. */
export async function now(): Promise<bigint> {
  const block = await ethers.provider.getBlock("latest");
  if (!block) throw new Error("no block");
  return BigInt(block.timestamp);
}

export type { Signer };
