/**
 * EIP-712 hashing byte-identical to `contracts/libraries/ParsecHashing.sol` and OpenZeppelin's EIP712
 * (protocol §2). Isomorphic: only ethers' JS keccak, so the browser dapp can import it. The Node hot path
 * (`verify/`) hashes the same bytes natively and is tested against this module.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { addressWord, concatBytes, fromHex, toHex, uintWord } from "./bytes";
import type {
  Address,
  CancelConsent,
  ChannelParams,
  Checkpoint,
  CooperativeClose,
  Domain,
  Hash,
  Lock,
  Transfer,
  Withdraw,
} from "./types";
import { encodeLocks } from "./records";
import { transferBodyJson } from "./validate";

/** The type strings, identical to the contract's (protocol §2). */
export const TYPE_STRINGS = {
  EIP712Domain: "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
  Transfer:
    "Transfer(bytes32 channelId,uint8 payer,uint32 seq,uint8 kind,uint128 amount,uint128 paidTotal," +
    "uint128 lockedTotal,bytes32 locksRoot,bytes32 hashlock,uint64 expiry,bytes32 invoiceId,bytes32 prev)",
  Checkpoint: "Checkpoint(bytes32 channelId,uint32 seq0,bytes32 head0,uint32 seq1,bytes32 head1)",
  CooperativeClose:
    "CooperativeClose(bytes32 channelId,uint32 seq0,uint32 seq1,uint128 balance0,uint128 balance1,uint64 expiry)",
  Withdraw: "Withdraw(bytes32 channelId,uint32 nonce,uint128 amount0,uint128 amount1,uint64 expiry)",
  CancelConsent:
    "CancelConsent(bytes32 channelId,uint8 payer,uint32 seq,uint128 amount,uint64 expiry,bytes32 hashlock," +
    "bytes32 transfer)",
  Invoice: "Invoice(address supplier,uint128 price,uint8 currency,uint8 invoiceType,bytes32 nonce)",
  ChannelUpdate:
    "ChannelUpdate(bytes32 channelId,uint8 direction,uint64 timestamp,uint128 capacity,uint128 feeBase," +
    "uint32 feePpm,uint32 expiryDelta,uint128 htlcMinimum,uint128 htlcMaximum,bool disabled)",
} as const;

export type PrimaryType = Exclude<keyof typeof TYPE_STRINGS, "EIP712Domain">;

function typeHash(s: string): Hash {
  return keccak256(toUtf8Bytes(s)) as Hash;
}

/** `keccak256` of each type string. */
export const TYPE_HASHES: { readonly [K in keyof typeof TYPE_STRINGS]: Hash } = {
  EIP712Domain: typeHash(TYPE_STRINGS.EIP712Domain),
  Transfer: typeHash(TYPE_STRINGS.Transfer),
  Checkpoint: typeHash(TYPE_STRINGS.Checkpoint),
  CooperativeClose: typeHash(TYPE_STRINGS.CooperativeClose),
  Withdraw: typeHash(TYPE_STRINGS.Withdraw),
  CancelConsent: typeHash(TYPE_STRINGS.CancelConsent),
  Invoice: typeHash(TYPE_STRINGS.Invoice),
  ChannelUpdate: typeHash(TYPE_STRINGS.ChannelUpdate),
};

/** The field lists of each type, for `eth_signTypedData_v4` and ethers' `TypedDataEncoder`. */
export const EIP712_TYPES = {
  EIP712Domain: [
    { name: "name", type: "string" },
    { name: "version", type: "string" },
    { name: "chainId", type: "uint256" },
    { name: "verifyingContract", type: "address" },
  ],
  Transfer: [
    { name: "channelId", type: "bytes32" },
    { name: "payer", type: "uint8" },
    { name: "seq", type: "uint32" },
    { name: "kind", type: "uint8" },
    { name: "amount", type: "uint128" },
    { name: "paidTotal", type: "uint128" },
    { name: "lockedTotal", type: "uint128" },
    { name: "locksRoot", type: "bytes32" },
    { name: "hashlock", type: "bytes32" },
    { name: "expiry", type: "uint64" },
    { name: "invoiceId", type: "bytes32" },
    { name: "prev", type: "bytes32" },
  ],
  Checkpoint: [
    { name: "channelId", type: "bytes32" },
    { name: "seq0", type: "uint32" },
    { name: "head0", type: "bytes32" },
    { name: "seq1", type: "uint32" },
    { name: "head1", type: "bytes32" },
  ],
  CooperativeClose: [
    { name: "channelId", type: "bytes32" },
    { name: "seq0", type: "uint32" },
    { name: "seq1", type: "uint32" },
    { name: "balance0", type: "uint128" },
    { name: "balance1", type: "uint128" },
    { name: "expiry", type: "uint64" },
  ],
  Withdraw: [
    { name: "channelId", type: "bytes32" },
    { name: "nonce", type: "uint32" },
    { name: "amount0", type: "uint128" },
    { name: "amount1", type: "uint128" },
    { name: "expiry", type: "uint64" },
  ],
  CancelConsent: [
    { name: "channelId", type: "bytes32" },
    { name: "payer", type: "uint8" },
    { name: "seq", type: "uint32" },
    { name: "amount", type: "uint128" },
    { name: "expiry", type: "uint64" },
    { name: "hashlock", type: "bytes32" },
    { name: "transfer", type: "bytes32" },
  ],
  Invoice: [
    { name: "supplier", type: "address" },
    { name: "price", type: "uint128" },
    { name: "currency", type: "uint8" },
    { name: "invoiceType", type: "uint8" },
    { name: "nonce", type: "bytes32" },
  ],
  ChannelUpdate: [
    { name: "channelId", type: "bytes32" },
    { name: "direction", type: "uint8" },
    { name: "timestamp", type: "uint64" },
    { name: "capacity", type: "uint128" },
    { name: "feeBase", type: "uint128" },
    { name: "feePpm", type: "uint32" },
    { name: "expiryDelta", type: "uint32" },
    { name: "htlcMinimum", type: "uint128" },
    { name: "htlcMaximum", type: "uint128" },
    { name: "disabled", type: "bool" },
  ],
} as const;

/** The Parsec domain on a chain and contract. */
export function parsecDomain(chainId: bigint | number, verifyingContract: Address): Domain {
  return { name: "Parsec", version: "1", chainId: BigInt(chainId), verifyingContract };
}

/** Separators by domain (a node or wallet uses one or two; each costs three keccaks to compute). */
const separators = new Map<string, Hash>();
const MAX_SEPARATORS = 64;

/** `hashStruct(EIP712Domain)`, the domain separator (memoised). */
export function domainSeparator(domain: Domain): Hash {
  const key = `${domain.name}\u0000${domain.version}\u0000${domain.chainId}\u0000${domain.verifyingContract.toLowerCase()}`;
  let separator = separators.get(key);
  if (separator === undefined) {
    separator = computeDomainSeparator(domain);
    if (separators.size >= MAX_SEPARATORS) separators.clear();
    separators.set(key, separator);
  }
  return separator;
}

function computeDomainSeparator(domain: Domain): Hash {
  return keccak256(
    concatBytes(
      fromHex(TYPE_HASHES.EIP712Domain),
      fromHex(keccak256(toUtf8Bytes(domain.name))),
      fromHex(keccak256(toUtf8Bytes(domain.version))),
      uintWord(domain.chainId),
      addressWord(domain.verifyingContract),
    ),
  ) as Hash;
}

/** The digest a signer signs: `keccak256(0x1901 || domainSeparator || structHash)`. */
export function typedDataDigest(domain: Domain | Hash, structHash: Hash): Hash {
  const separator = typeof domain === "string" ? domain : domainSeparator(domain);
  return keccak256(
    concatBytes(new Uint8Array([0x19, 0x01]), fromHex(separator), fromHex(structHash)),
  ) as Hash;
}

function hashWords(words: readonly Uint8Array[]): Hash {
  return keccak256(concatBytes(...words)) as Hash;
}

/** The transfer hash: the EIP-712 struct hash of a `Transfer` (not the 0x1901 digest). */
export function hashTransfer(t: Transfer): Hash {
  return hashWords([
    fromHex(TYPE_HASHES.Transfer),
    fromHex(t.channelId),
    uintWord(t.payer),
    uintWord(t.seq),
    uintWord(t.kind),
    uintWord(t.amount),
    uintWord(t.paidTotal),
    uintWord(t.lockedTotal),
    fromHex(t.locksRoot),
    fromHex(t.hashlock),
    uintWord(t.expiry),
    fromHex(t.invoiceId),
    fromHex(t.prev),
  ]);
}

/** The struct hash of a `Checkpoint`. */
export function hashCheckpoint(c: Checkpoint): Hash {
  return hashWords([
    fromHex(TYPE_HASHES.Checkpoint),
    fromHex(c.channelId),
    uintWord(c.seq0),
    fromHex(c.head0),
    uintWord(c.seq1),
    fromHex(c.head1),
  ]);
}

/** The struct hash of a `CooperativeClose`. */
export function hashCooperativeClose(c: CooperativeClose): Hash {
  return hashWords([
    fromHex(TYPE_HASHES.CooperativeClose),
    fromHex(c.channelId),
    uintWord(c.seq0),
    uintWord(c.seq1),
    uintWord(c.balance0),
    uintWord(c.balance1),
    uintWord(c.expiry),
  ]);
}

/** The struct hash of a `Withdraw`. */
export function hashWithdraw(w: Withdraw): Hash {
  return hashWords([
    fromHex(TYPE_HASHES.Withdraw),
    fromHex(w.channelId),
    uintWord(w.nonce),
    uintWord(w.amount0),
    uintWord(w.amount1),
    uintWord(w.expiry),
  ]);
}

/** The struct hash of a `CancelConsent`. */
export function hashCancelConsent(c: CancelConsent): Hash {
  return hashWords([
    fromHex(TYPE_HASHES.CancelConsent),
    fromHex(c.channelId),
    uintWord(c.payer),
    uintWord(c.seq),
    uintWord(c.amount),
    uintWord(c.expiry),
    fromHex(c.hashlock),
    fromHex(c.transfer),
  ]);
}

/** `channelId = keccak256(abi.encode(chainId, contract, participant0, participant1, asset, period, nonce))`. */
export function channelIdOf(domain: Domain, params: ChannelParams): Hash {
  return hashWords([
    uintWord(domain.chainId),
    addressWord(domain.verifyingContract),
    addressWord(params.participant0),
    addressWord(params.participant1),
    addressWord(params.asset),
    uintWord(params.challengePeriod),
    uintWord(params.nonce),
  ]);
}

/** The 192-bit commitment the contract keeps for two heads: `uint192(keccak256(abi.encode(head0, head1)))`. */
export function commitmentOf(head0: Hash, head1: Hash): bigint {
  const h = fromHex(keccak256(concatBytes(fromHex(head0), fromHex(head1))));
  let v = 0n;
  for (let i = 8; i < 32; i++) v = (v << 8n) | BigInt(h[i]);
  return v;
}

/** The `locksRoot` of a pending-lock list: zero when empty, else keccak256 of the packed list. */
export function locksRootOf(locks: readonly Lock[]): Hash {
  if (locks.length === 0) return toHex(new Uint8Array(32)) as Hash;
  return keccak256(encodeLocks(locks)) as Hash;
}

/** JSON-safe typed data for `eth_signTypedData_v4` (integers as decimal strings). */
export interface TypedDataPayload {
  readonly types: Record<string, readonly { readonly name: string; readonly type: string }[]>;
  readonly primaryType: PrimaryType;
  readonly domain: { name: string; version: string; chainId: string; verifyingContract: Address };
  readonly message: Record<string, string | number>;
}

function jsonDomain(domain: Domain): TypedDataPayload["domain"] {
  return {
    name: domain.name,
    version: domain.version,
    chainId: domain.chainId.toString(),
    verifyingContract: domain.verifyingContract,
  };
}

function payload(
  domain: Domain,
  primaryType: PrimaryType,
  message: Record<string, string | number>,
): TypedDataPayload {
  return {
    types: { EIP712Domain: EIP712_TYPES.EIP712Domain, [primaryType]: EIP712_TYPES[primaryType] },
    primaryType,
    domain: jsonDomain(domain),
    message,
  };
}

/** The typed data of a transfer, as a wallet signs it. */
export function transferTypedData(domain: Domain, t: Transfer): TypedDataPayload {
  return payload(domain, "Transfer", { channelId: t.channelId, payer: t.payer, ...transferBodyJson(t) });
}

/** The typed data of a checkpoint. */
export function checkpointTypedData(domain: Domain, c: Checkpoint): TypedDataPayload {
  return payload(domain, "Checkpoint", {
    channelId: c.channelId,
    seq0: c.seq0,
    head0: c.head0,
    seq1: c.seq1,
    head1: c.head1,
  });
}

/** The typed data of a cooperative close. */
export function cooperativeCloseTypedData(domain: Domain, c: CooperativeClose): TypedDataPayload {
  return payload(domain, "CooperativeClose", {
    channelId: c.channelId,
    seq0: c.seq0,
    seq1: c.seq1,
    balance0: c.balance0.toString(),
    balance1: c.balance1.toString(),
    expiry: c.expiry.toString(),
  });
}

/** The typed data of a withdrawal. */
export function withdrawTypedData(domain: Domain, w: Withdraw): TypedDataPayload {
  return payload(domain, "Withdraw", {
    channelId: w.channelId,
    nonce: w.nonce,
    amount0: w.amount0.toString(),
    amount1: w.amount1.toString(),
    expiry: w.expiry.toString(),
  });
}

/** The typed data of a payee's consent to a CANCEL. */
export function cancelConsentTypedData(domain: Domain, c: CancelConsent): TypedDataPayload {
  return payload(domain, "CancelConsent", {
    channelId: c.channelId,
    payer: c.payer,
    seq: c.seq,
    amount: c.amount.toString(),
    expiry: c.expiry.toString(),
    hashlock: c.hashlock,
    transfer: c.transfer,
  });
}

/** Any typed-data payload with its own domain, primary type and message (e.g. invoices). */
export function typedDataPayload(
  domain: Domain,
  primaryType: PrimaryType,
  message: Record<string, string | number>,
): TypedDataPayload {
  return payload(domain, primaryType, message);
}
