/**
 * Signing with a private key (ethers `SigningKey`/`Wallet`) or with any EIP-1193 wallet through
 * `eth_signTypedData_v4`, and signature normalization to what the contract accepts: 65 bytes
 * `r || s || v`, low-s, `v ∈ {27, 28}`. Isomorphic.
 */
import { SigningKey, computeAddress, keccak256 } from "ethers";
import { ecBackend } from "./crypto/ec";
import { fromHex, readUint, toAddress, toHex, writeUint } from "./bytes";
import {
  checkpointTypedData,
  cooperativeCloseTypedData,
  hashCheckpoint,
  hashCooperativeClose,
  hashTransfer,
  hashWithdraw,
  transferTypedData,
  typedDataDigest,
  withdrawTypedData,
  type TypedDataPayload,
} from "./eip712";
import { BadSignatureError, JournalError, JournalRequiredError, WalletError, isParsecError } from "./errors";
import { signWithJournal, type SigningJournal } from "./journal";
import type {
  Address,
  Checkpoint,
  CooperativeClose,
  Domain,
  Hash,
  Hex,
  SignedTransfer,
  Transfer,
  Withdraw,
} from "./types";

/** The order of secp256k1's group. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** `n / 2`: signatures with a larger `s` are rejected (protocol §2). */
export const SECP256K1_HALF_N = SECP256K1_N >> 1n;
/** Ethereum's offset of the recovery id in a signature's `v` byte. */
const V_OFFSET = 27;

/**
 * Normalizes a signature to 65-byte `r || s || v` with low s and `v ∈ {27, 28}`. Accepts `v ∈ {0, 1}`,
 * high s (flipped to `n − s` with the other v, the same signature) and 64-byte EIP-2098 compact
 * signatures. Throws `BadSignatureError` for anything else.
 */
export function normalizeSignature(signature: Hex | Uint8Array): Hex {
  let bytes: Uint8Array;
  try {
    bytes = typeof signature === "string" ? fromHex(signature, "signature") : signature;
  } catch {
    throw new BadSignatureError("not hex");
  }
  let r: bigint;
  let s: bigint;
  let v: number;
  if (bytes.length === 64) {
    r = readUint(bytes, 0, 32);
    const yParityAndS = readUint(bytes, 32, 32);
    v = 27 + Number(yParityAndS >> 255n);
    s = yParityAndS & ((1n << 255n) - 1n);
  } else if (bytes.length === 65) {
    r = readUint(bytes, 0, 32);
    s = readUint(bytes, 32, 32);
    v = bytes[64] < 27 ? bytes[64] + 27 : bytes[64];
  } else {
    throw new BadSignatureError(`a signature is 65 (or 64 compact) bytes, got ${bytes.length}`);
  }
  if (v !== 27 && v !== 28) throw new BadSignatureError(`v must be 27 or 28, got ${v}`);
  if (r === 0n || r >= SECP256K1_N) throw new BadSignatureError("r is out of range");
  if (s === 0n || s >= SECP256K1_N) throw new BadSignatureError("s is out of range");
  if (s > SECP256K1_HALF_N) {
    s = SECP256K1_N - s;
    v = v === 27 ? 28 : 27;
  }
  const out = new Uint8Array(65);
  writeUint(out, 0, 32, r);
  writeUint(out, 32, 32, s);
  out[64] = v;
  return toHex(out);
}

/** Whether a signature is already in the contract's form (65 bytes, low s, v 27/28, r and s in range). */
export function isCanonicalSignature(signature: Hex): boolean {
  try {
    return normalizeSignature(signature) === signature.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * The address of a 65-byte uncompressed public key the backend returned (a valid point): the last 20
 * bytes of keccak256(x || y). ethers' `computeAddress` would re-validate the point in JS, a third of a
 * recovery's cost.
 */
function addressOfPublicKey(publicKey: Uint8Array): Address {
  if (publicKey.length !== 65 || publicKey[0] !== 4)
    throw new BadSignatureError("no public key recovers from it");
  return toAddress(`0x${keccak256(publicKey.subarray(1)).slice(26)}`);
}

/**
 * The address that signed `digest` (through the SDK's secp256k1 backend, `crypto/ec.ts`). Rejects
 * non-canonical signatures exactly as the contract does.
 */
export function recoverSigner(digest: Hash, signature: Hex): Address {
  if (!isCanonicalSignature(signature))
    throw new BadSignatureError("not a canonical 65-byte low-s signature");
  try {
    const bytes = fromHex(signature, "signature", 65);
    const publicKey = ecBackend().recover(
      fromHex(digest, "digest", 32),
      bytes.subarray(0, 64),
      bytes[64] - 27,
    );
    return addressOfPublicKey(publicKey);
  } catch (e) {
    if (isParsecError(e)) throw e;
    throw new BadSignatureError("no public key recovers from it");
  }
}

/** Any EIP-1193 provider (MetaMask's `window.ethereum`, Hardhat's `network.provider`, viem transports…). */
export interface Eip1193Provider {
  request(args: { readonly method: string; readonly params?: readonly unknown[] }): Promise<unknown>;
}

/** A signer holding its key in process; signs synchronously. */
export interface LocalSigner {
  readonly type: "local";
  readonly address: Address;
  /** Signs a 32-byte digest (RFC 6979, low s). */
  signDigest(digest: Hash): Hex;
  /** The signing journal transfers go through (`journaledTransferSigner`); none by default. */
  readonly journal?: SigningJournal;
}

/** A browser (or remote) wallet reached through EIP-1193. */
export interface WalletSigner {
  readonly type: "eip1193";
  readonly address: Address;
  readonly provider: Eip1193Provider;
  /** The signing journal transfers go through (`journaledTransferSigner`); none by default. */
  readonly journal?: SigningJournal;
}

export type ParsecSigner = LocalSigner | WalletSigner;

/** A local signer from a private key, an ethers `SigningKey`, or anything with a `signingKey` (ethers `Wallet`). */
export function localSigner(key: Hex | SigningKey | { readonly signingKey: SigningKey }): LocalSigner {
  let signingKey: SigningKey;
  try {
    signingKey =
      typeof key === "string" ? new SigningKey(key) : key instanceof SigningKey ? key : key.signingKey;
  } catch {
    throw new BadSignatureError("the private key is not a valid secp256k1 key");
  }
  const address = toAddress(computeAddress(signingKey.publicKey));
  const privateKey = fromHex(signingKey.privateKey as Hex, "private key", 32);
  return {
    type: "local",
    address,
    signDigest(digest: Hash): Hex {
      const { signature, recid } = ecBackend().sign(fromHex(digest, "digest", 32), privateKey);
      const out = new Uint8Array(65);
      out.set(signature, 0);
      out[64] = V_OFFSET + recid;
      return toHex(out);
    },
  };
}

/** A signer that asks an EIP-1193 wallet for `eth_signTypedData_v4` signatures of `address`. */
export function walletSigner(provider: Eip1193Provider, address: string): WalletSigner {
  return { type: "eip1193", address: toAddress(address), provider };
}

/**
 * Signs typed data whose digest is `digest`. Wallet signatures are normalized and checked to recover
 * to the signer, so a wallet that signed something else is caught here, not by the contract.
 */
export async function signTypedPayload(
  signer: ParsecSigner,
  payload: TypedDataPayload,
  digest: Hash,
): Promise<Hex> {
  if (signer.type === "local") return signer.signDigest(digest);
  let raw: unknown;
  try {
    raw = await signer.provider.request({
      method: "eth_signTypedData_v4",
      params: [signer.address, JSON.stringify(payload)],
    });
  } catch (e) {
    const walletCode = (e as { code?: unknown } | null)?.code;
    throw new WalletError(
      e instanceof Error ? e.message : String(e),
      typeof walletCode === "number" ? { walletCode } : {},
      { cause: e },
    );
  }
  if (typeof raw !== "string") throw new WalletError("eth_signTypedData_v4 returned no signature");
  const signature = normalizeSignature(raw as Hex);
  const recovered = recoverSigner(digest, signature);
  if (recovered !== signer.address) {
    throw new BadSignatureError(`the wallet's signature recovers to ${recovered}, not ${signer.address}`);
  }
  return signature;
}

/**
 * Signs a transfer (as its payer) through the signer's journal (`journaledTransferSigner`): the transfer is
 * persisted before the wallet is asked and the signature before it is returned; signing the same
 * transfer again returns the recorded signature, and a different transfer for a recorded seq throws
 * `WouldEquivocateError` (see `signWithJournal`). A signer without a journal is refused
 * (`JournalRequiredError`): persist before you sign (protocol §10).
 */
export async function signTransfer(
  signer: ParsecSigner,
  domain: Domain,
  transfer: Transfer,
): Promise<SignedTransfer> {
  const digest = typedDataDigest(domain, hashTransfer(transfer));
  const sign = (): Promise<Hex> => signTypedPayload(signer, transferTypedData(domain, transfer), digest);
  if (!signer.journal) throw new JournalRequiredError(signer.address);
  const signature = await signWithJournal(signer.journal, transfer, sign, { local: signer.type === "local" });
  return { ...transfer, signature };
}

/**
 * Signs a transfer with a local key, synchronously and WITHOUT a journal: the raw primitive for keys that
 * never act as a wallet (load generators, tests that build equivocations on purpose). A wallet signs
 * through `signTransfer` with a journal. A journaled signer is refused with `JournalError`: a journal is
 * asynchronous, use `signTransfer`.
 */
export function signTransferUnjournaled(
  signer: LocalSigner,
  domain: Domain,
  transfer: Transfer,
): SignedTransfer {
  if (signer.journal) {
    throw new JournalError("a journaled signer signs transfers only through the asynchronous signTransfer");
  }
  return { ...transfer, signature: signer.signDigest(typedDataDigest(domain, hashTransfer(transfer))) };
}

/** Signs a checkpoint (each participant signs the same message). */
export function signCheckpoint(signer: ParsecSigner, domain: Domain, c: Checkpoint): Promise<Hex> {
  return signTypedPayload(signer, checkpointTypedData(domain, c), typedDataDigest(domain, hashCheckpoint(c)));
}

/** Signs a cooperative close. */
export function signCooperativeClose(
  signer: ParsecSigner,
  domain: Domain,
  c: CooperativeClose,
): Promise<Hex> {
  return signTypedPayload(
    signer,
    cooperativeCloseTypedData(domain, c),
    typedDataDigest(domain, hashCooperativeClose(c)),
  );
}

/** Signs a withdrawal. */
export function signWithdraw(signer: ParsecSigner, domain: Domain, w: Withdraw): Promise<Hex> {
  return signTypedPayload(signer, withdrawTypedData(domain, w), typedDataDigest(domain, hashWithdraw(w)));
}

/** The signer of a transfer (slow reference path). */
export function transferSigner(domain: Domain, t: SignedTransfer): Address {
  return recoverSigner(typedDataDigest(domain, hashTransfer(t)), t.signature);
}
