/**
 * Routed-payment invoices (protocol §11.1). The paper's `Invoice` (`../invoice.ts`) asks for a direct PAY
 * in one channel; a routed invoice asks for a payment that may cross several channels as LOCKs under one
 * hashlock. The payee signs it with EIP-712 in the Parsec domain:
 *
 *   RoutedInvoice(uint8 version,address payee,address payeeNode,uint128 amount,address asset,
 *     bytes32 hashlock,uint64 createdAt,uint64 expiry,uint32 minFinalExpiryDelta,string description,
 *     RouteHint[] hints)RouteHint(bytes32 channelId,address node,uint128 feeBase,uint32 feePpm,
 *     uint32 expiryDelta)
 *
 * and shares it as compact text: `parsec1` + bech32m (BIP-350, no length limit) of a binary encoding
 * that also carries the domain and the signature. `hashlock = sha256(secret)`; the secret stays with the
 * payee, who reveals it to take the last hop's lock. Isomorphic (no Node `Buffer`).
 *
 * ```ts
 * const { text, secret } = await createRoutedInvoice({ domain, signer, amount: 10n ** 15n, description: "coffee" });
 * const { invoice, invoiceId } = parseRoutedInvoice(text, { domain }); // signature, checksum, bounds, expiry
 * ```
 */
import { hexlify, keccak256, randomBytes, sha256, toUtf8Bytes, toUtf8String } from "ethers";
import {
  addressWord,
  checkSmallUint,
  checkUint,
  concatBytes,
  fromHex,
  isZero,
  readSmallUint,
  readUint,
  toAddress,
  toHash,
  toHex,
  uintWord,
  writeUint,
} from "../bytes";
import { parsecDomain, typedDataDigest, type TypedDataPayload } from "../eip712";
import {
  BadSignatureError,
  InvoiceExpiredError,
  InvoiceMismatchError,
  MalformedError,
  WrongDomainError,
} from "../errors";
import { recoverSigner, signTypedPayload, type ParsecSigner } from "../sign";
import { ZERO_ADDRESS, type Address, type Domain, type Hash, type Hex } from "../types";
import {
  BECH32_CODE_LENGTH,
  bech32HrpExpand,
  bech32mDecode,
  bech32mEncode,
  bytesToWords,
  wordsToBytes,
} from "./invoice-bech32m";

/** The text prefix's human-readable part (`parsec` + bech32's separator `1`). */
export const ROUTED_INVOICE_HRP = "parsec";
/**
 * The binary layout version this module writes and reads. Version 2: a hint's `feeBase` is uint128 (the
 * width of every amount, as in `ChannelUpdate`), written in as few bytes as it needs; version 1 carried
 * it as uint64 and is no longer read.
 */
export const ROUTED_INVOICE_VERSION = 2;
/** The description's cap in UTF-8 bytes. */
export const MAX_INVOICE_DESCRIPTION_BYTES = 192;
/**
 * The route hints' cap; with the description's, every invoice whose fee bases fit 8 bytes stays within
 * `MAX_ROUTED_INVOICE_BYTES`.
 */
export const MAX_ROUTE_HINTS = 3;
/** The default `minFinalExpiryDelta`: an hour to register the secret on-chain if the payer does not unlock. */
export const DEFAULT_MIN_FINAL_EXPIRY_DELTA = 3600;
/** The default validity of a new invoice, in seconds. */
export const DEFAULT_INVOICE_VALIDITY = 3600;

// The binary form's parts (§11.1 table), in bytes.
const FLAG_PAYEE_NODE = 1;
const FLAG_ASSET = 2;
/** version, flags, chainId, verifyingContract, payee. */
const HEADER_BYTES = 1 + 1 + 8 + 20 + 20;
/** `payeeNode` or `asset`, each present only when not the default. */
const OPTIONAL_ADDRESS_BYTES = 20;
/** amount, hashlock, createdAt, expiry, minFinalExpiryDelta, description length, hint count. */
const BODY_BYTES = 16 + 32 + 8 + 8 + 4 + 2 + 1;
/** A hint without its fee base: channelId, node, the fee base's length, feePpm, expiryDelta. */
const HINT_FIXED_BYTES = 32 + 20 + 1 + 4 + 4;
/** A uint128 fee base in its fewest big-endian bytes (0 for a zero fee base). */
const MAX_FEE_BASE_BYTES = 16;
const SIGNATURE_BYTES = 65;
const CHECKSUM_VALUES = 6;

/**
 * The largest binary form: the most whose text keeps `hrpExpand || data || checksum` within bech32's code
 * length (1,023 values), so no two errors cancel through the checksum: 627 bytes. Every invoice whose fee
 * bases fit 8 bytes stays below it with every field at its bound (625 bytes); a larger fee base costs
 * description room.
 */
export const MAX_ROUTED_INVOICE_BYTES = Math.floor(
  ((BECH32_CODE_LENGTH - bech32HrpExpand(ROUTED_INVOICE_HRP).length - CHECKSUM_VALUES) * 5) / 8,
);
/** The longest text: `parsec1`, the data characters of the largest binary form, 6 checksum characters. */
export const MAX_ROUTED_INVOICE_TEXT_LENGTH =
  ROUTED_INVOICE_HRP.length + 1 + Math.ceil((MAX_ROUTED_INVOICE_BYTES * 8) / 5) + CHECKSUM_VALUES;

/** The fewest big-endian bytes that hold `value` (0 for 0). */
function minimalLength(value: bigint): number {
  let n = 0;
  for (let v = value; v > 0n; v >>= 8n) n++;
  return n;
}

/** The length of an invoice's binary form (fields already checked). */
function binaryLength(inv: RoutedInvoice, descriptionBytes: number): number {
  return (
    HEADER_BYTES +
    (inv.payeeNode !== inv.payee ? OPTIONAL_ADDRESS_BYTES : 0) +
    (inv.asset !== ZERO_ADDRESS ? OPTIONAL_ADDRESS_BYTES : 0) +
    BODY_BYTES +
    descriptionBytes +
    inv.hints.reduce((sum, h) => sum + HINT_FIXED_BYTES + minimalLength(h.feeBase), 0) +
    SIGNATURE_BYTES
  );
}

/** The EIP-712 type strings (the primary type's includes the referenced `RouteHint`). */
export const ROUTED_INVOICE_TYPE_STRINGS = {
  RouteHint: "RouteHint(bytes32 channelId,address node,uint128 feeBase,uint32 feePpm,uint32 expiryDelta)",
  RoutedInvoice:
    "RoutedInvoice(uint8 version,address payee,address payeeNode,uint128 amount,address asset," +
    "bytes32 hashlock,uint64 createdAt,uint64 expiry,uint32 minFinalExpiryDelta,string description," +
    "RouteHint[] hints)" +
    "RouteHint(bytes32 channelId,address node,uint128 feeBase,uint32 feePpm,uint32 expiryDelta)",
} as const;

/** `keccak256` of each type string. */
export const ROUTED_INVOICE_TYPE_HASHES = {
  RouteHint: keccak256(toUtf8Bytes(ROUTED_INVOICE_TYPE_STRINGS.RouteHint)) as Hash,
  RoutedInvoice: keccak256(toUtf8Bytes(ROUTED_INVOICE_TYPE_STRINGS.RoutedInvoice)) as Hash,
} as const;

/** The field lists, for `eth_signTypedData_v4` and ethers' `TypedDataEncoder`. */
export const ROUTED_INVOICE_EIP712_TYPES = {
  RoutedInvoice: [
    { name: "version", type: "uint8" },
    { name: "payee", type: "address" },
    { name: "payeeNode", type: "address" },
    { name: "amount", type: "uint128" },
    { name: "asset", type: "address" },
    { name: "hashlock", type: "bytes32" },
    { name: "createdAt", type: "uint64" },
    { name: "expiry", type: "uint64" },
    { name: "minFinalExpiryDelta", type: "uint32" },
    { name: "description", type: "string" },
    { name: "hints", type: "RouteHint[]" },
  ],
  RouteHint: [
    { name: "channelId", type: "bytes32" },
    { name: "node", type: "address" },
    { name: "feeBase", type: "uint128" },
    { name: "feePpm", type: "uint32" },
    { name: "expiryDelta", type: "uint32" },
  ],
} as const;

/**
 * A private channel into the payee's node: `node` forwards to `payeeNode` over `channelId`, charging
 * `feeBase + amount * feePpm / 1e6` and wanting its incoming lock to expire `expiryDelta` seconds after
 * its outgoing one.
 */
export interface RouteHint {
  readonly channelId: Hash;
  readonly node: Address;
  /** Base units of the invoice's asset (uint128, as every amount and `ChannelUpdate.feeBase`). */
  readonly feeBase: bigint;
  /** Parts per million of the forwarded amount (uint32). */
  readonly feePpm: number;
  /** Seconds (uint32). */
  readonly expiryDelta: number;
}

/** A routed invoice's fields (what the payee signs, plus the domain it signs in). */
export interface RoutedInvoice {
  readonly version: number;
  /** The Parsec deployment; `chainId` fits uint64 in the text form. */
  readonly domain: Domain;
  /** Who signs the invoice and is paid. */
  readonly payee: Address;
  /** The channel-graph node routes end at (the payee's channel key); the payee itself by default. */
  readonly payeeNode: Address;
  /** Base units of `asset`, 1 … 2^128 − 1. */
  readonly amount: bigint;
  /** The zero address for ETH, else the ERC-20 token. */
  readonly asset: Address;
  /** `sha256(secret)` of the payee's 32-byte secret. */
  readonly hashlock: Hash;
  /** Unix seconds. */
  readonly createdAt: bigint;
  /** Unix seconds; payable while `now < expiry`. */
  readonly expiry: bigint;
  /** Seconds the last hop's lock must stay open after it reaches the payee (uint32, > 0). */
  readonly minFinalExpiryDelta: number;
  /** UTF-8, at most `MAX_INVOICE_DESCRIPTION_BYTES` bytes. */
  readonly description: string;
  readonly hints: readonly RouteHint[];
}

export interface SignedRoutedInvoice {
  readonly invoice: RoutedInvoice;
  /** The EIP-712 struct hash; the last hop's LOCK may carry it as `invoiceId`. */
  readonly invoiceId: Hash;
  /** The payee's signature (65 bytes, low s). */
  readonly signature: Hex;
}

/** A route hint from untrusted values. */
export interface RouteHintInput {
  readonly channelId: string;
  readonly node: string;
  readonly feeBase: bigint;
  readonly feePpm: number;
  readonly expiryDelta: number;
}

/** Unsigned invoice fields from untrusted values (`toRoutedInvoice`). */
export interface RoutedInvoiceInput {
  readonly domain: Domain;
  readonly payee: string;
  readonly payeeNode?: string;
  readonly amount: bigint;
  readonly asset?: string;
  readonly hashlock: string;
  readonly createdAt: bigint | number;
  readonly expiry: bigint | number;
  readonly minFinalExpiryDelta?: number;
  readonly description?: string;
  readonly hints?: readonly RouteHintInput[];
}

export interface CreateRoutedInvoiceParameters {
  readonly domain: Domain;
  /** The payee's signer (`localSigner`, `walletSigner`); it becomes `payee`. */
  readonly signer: ParsecSigner;
  readonly amount: bigint;
  /** Zero address (ETH) by default. */
  readonly asset?: string;
  readonly description?: string;
  /** Absolute expiry (unix seconds); or give `validity`. */
  readonly expiry?: bigint | number;
  /** Seconds from `now` (default `DEFAULT_INVOICE_VALIDITY`); ignored when `expiry` is given. */
  readonly validity?: number;
  /** `createdAt`, unix seconds; the clock by default. */
  readonly now?: bigint | number;
  readonly minFinalExpiryDelta?: number;
  readonly payeeNode?: string;
  readonly hints?: readonly RouteHintInput[];
  /** The 32-byte secret; 32 bytes from the CSPRNG by default. */
  readonly secret?: string;
}

export interface CreateRoutedInvoiceReturnType {
  readonly invoice: SignedRoutedInvoice;
  /** The compact text (lower case; its upper-case form is equally valid and suits QR alphanumeric mode). */
  readonly text: string;
  /** The payee's secret: keep it private until the last hop's lock arrives. */
  readonly secret: Hash;
}

export interface ParseRoutedInvoiceOptions {
  /** The deployment the wallet pays on; another chain or contract is `WrongDomainError`. */
  readonly domain?: Domain;
  /** Unix seconds; the clock by default. */
  readonly now?: bigint | number;
  /** Accept an expired invoice (to display or archive it, never to pay it). */
  readonly allowExpired?: boolean;
}

function nowSeconds(now?: bigint | number): bigint {
  if (now === undefined) return BigInt(Math.floor(Date.now() / 1000));
  return checkUint(BigInt(now), 64, "now");
}

function toUint64(value: bigint | number, field: string): bigint {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new MalformedError(`${field} must be an integer, got ${value}`);
    value = BigInt(value);
  }
  return checkUint(value, 64, field);
}

function utf8(description: string): Uint8Array {
  if (typeof description !== "string") throw new MalformedError("the description must be a string");
  const bytes = toUtf8Bytes(description);
  if (bytes.length > MAX_INVOICE_DESCRIPTION_BYTES) {
    throw new MalformedError(
      `the description is ${bytes.length} UTF-8 bytes; at most ${MAX_INVOICE_DESCRIPTION_BYTES} fit an invoice`,
    );
  }
  return bytes;
}

function toRouteHint(raw: RouteHintInput, i: number, payeeNode: Address): RouteHint {
  const channelId = toHash(raw.channelId, `hints[${i}].channelId`);
  if (isZero(fromHex(channelId))) throw new MalformedError(`hints[${i}].channelId must not be zero`);
  const node = toAddress(raw.node, `hints[${i}].node`);
  if (node === ZERO_ADDRESS) throw new MalformedError(`hints[${i}].node must not be the zero address`);
  if (node === payeeNode) {
    throw new MalformedError(`hints[${i}].node is the payee's node; a hint names the node before it`);
  }
  return {
    channelId,
    node,
    feeBase: checkUint(raw.feeBase, 128, `hints[${i}].feeBase`),
    feePpm: checkSmallUint(raw.feePpm, 32, `hints[${i}].feePpm`),
    expiryDelta: checkSmallUint(raw.expiryDelta, 32, `hints[${i}].expiryDelta`),
  };
}

/** Checks every field and bound (§11.1) and returns the canonical invoice; `Malformed`/`Overflow` otherwise. */
export function toRoutedInvoice(raw: RoutedInvoiceInput): RoutedInvoice {
  const domain = raw.domain;
  if (domain?.name !== "Parsec" || domain.version !== "1") {
    throw new MalformedError('the domain must be the Parsec domain (name "Parsec", version "1")');
  }
  const chainId = checkUint(domain.chainId, 64, "domain.chainId");
  if (chainId === 0n) throw new MalformedError("domain.chainId must not be zero");
  const verifyingContract = toAddress(domain.verifyingContract, "domain.verifyingContract");
  if (verifyingContract === ZERO_ADDRESS) {
    throw new MalformedError("domain.verifyingContract must not be the zero address");
  }
  const payee = toAddress(raw.payee, "payee");
  if (payee === ZERO_ADDRESS) throw new MalformedError("payee must not be the zero address");
  const payeeNode = raw.payeeNode === undefined ? payee : toAddress(raw.payeeNode, "payeeNode");
  if (payeeNode === ZERO_ADDRESS) throw new MalformedError("payeeNode must not be the zero address");
  const amount = checkUint(raw.amount, 128, "amount");
  if (amount === 0n) throw new MalformedError("the amount must be greater than zero");
  const asset = raw.asset === undefined ? ZERO_ADDRESS : toAddress(raw.asset, "asset");
  const hashlock = toHash(raw.hashlock, "hashlock");
  if (isZero(fromHex(hashlock))) throw new MalformedError("the hashlock must not be zero");
  const createdAt = toUint64(raw.createdAt, "createdAt");
  const expiry = toUint64(raw.expiry, "expiry");
  if (expiry <= createdAt) {
    throw new MalformedError(`the expiry ${expiry} must be after the creation time ${createdAt}`);
  }
  const minFinalExpiryDelta = checkSmallUint(
    raw.minFinalExpiryDelta ?? DEFAULT_MIN_FINAL_EXPIRY_DELTA,
    32,
    "minFinalExpiryDelta",
  );
  if (minFinalExpiryDelta === 0) throw new MalformedError("minFinalExpiryDelta must be greater than zero");
  const description = raw.description ?? "";
  utf8(description);
  const hints = raw.hints ?? [];
  if (!Array.isArray(hints)) throw new MalformedError("hints must be an array");
  if (hints.length > MAX_ROUTE_HINTS) {
    throw new MalformedError(`${hints.length} route hints; an invoice holds at most ${MAX_ROUTE_HINTS}`);
  }
  const invoice: RoutedInvoice = {
    version: ROUTED_INVOICE_VERSION,
    domain: parsecDomain(chainId, verifyingContract),
    payee,
    payeeNode,
    amount,
    asset,
    hashlock,
    createdAt,
    expiry,
    minFinalExpiryDelta,
    description,
    hints: hints.map((h, i) => toRouteHint(h, i, payeeNode)),
  };
  const length = binaryLength(invoice, utf8(description).length);
  if (length > MAX_ROUTED_INVOICE_BYTES) {
    const over = length - MAX_ROUTED_INVOICE_BYTES;
    throw new MalformedError(
      `the invoice takes ${length} bytes, over the ${MAX_ROUTED_INVOICE_BYTES} its text's checksum protects ` +
        `(route hints with fee bases of 2^64 or more are long): shorten the description by ${over} UTF-8 ` +
        `bytes or give fewer hints`,
      { field: "description", length, max: MAX_ROUTED_INVOICE_BYTES },
    );
  }
  return invoice;
}

/** The EIP-712 struct hash of a route hint. */
export function hashRouteHint(h: RouteHint): Hash {
  return keccak256(
    concatBytes(
      fromHex(ROUTED_INVOICE_TYPE_HASHES.RouteHint),
      fromHex(h.channelId),
      addressWord(h.node),
      uintWord(h.feeBase),
      uintWord(h.feePpm),
      uintWord(h.expiryDelta),
    ),
  ) as Hash;
}

/** The invoice id: the EIP-712 struct hash of a `RoutedInvoice` (the domain is not part of it). */
export function routedInvoiceIdOf(inv: RoutedInvoice): Hash {
  return keccak256(
    concatBytes(
      fromHex(ROUTED_INVOICE_TYPE_HASHES.RoutedInvoice),
      uintWord(inv.version),
      addressWord(inv.payee),
      addressWord(inv.payeeNode),
      uintWord(inv.amount),
      addressWord(inv.asset),
      fromHex(inv.hashlock),
      uintWord(inv.createdAt),
      uintWord(inv.expiry),
      uintWord(inv.minFinalExpiryDelta),
      fromHex(keccak256(toUtf8Bytes(inv.description))),
      fromHex(keccak256(concatBytes(...inv.hints.map((h) => fromHex(hashRouteHint(h)))))),
    ),
  ) as Hash;
}

/** The digest the payee signs: `keccak256(0x1901 || domainSeparator || invoiceId)`. */
export function routedInvoiceDigest(inv: RoutedInvoice): Hash {
  return typedDataDigest(inv.domain, routedInvoiceIdOf(inv));
}

/** The typed data a payee's wallet signs (`eth_signTypedData_v4`; integers as decimal strings). */
export interface RoutedInvoiceTypedData {
  readonly types: Record<string, readonly { readonly name: string; readonly type: string }[]>;
  readonly primaryType: "RoutedInvoice";
  readonly domain: { name: string; version: string; chainId: string; verifyingContract: Address };
  readonly message: Record<string, string | number | readonly Record<string, string | number>[]>;
}

/** The typed data of a routed invoice, as a wallet signs it. */
export function routedInvoiceTypedData(inv: RoutedInvoice): RoutedInvoiceTypedData {
  return {
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
      ...ROUTED_INVOICE_EIP712_TYPES,
    },
    primaryType: "RoutedInvoice",
    domain: {
      name: inv.domain.name,
      version: inv.domain.version,
      chainId: inv.domain.chainId.toString(),
      verifyingContract: inv.domain.verifyingContract,
    },
    message: {
      version: inv.version,
      payee: inv.payee,
      payeeNode: inv.payeeNode,
      amount: inv.amount.toString(),
      asset: inv.asset,
      hashlock: inv.hashlock,
      createdAt: inv.createdAt.toString(),
      expiry: inv.expiry.toString(),
      minFinalExpiryDelta: inv.minFinalExpiryDelta,
      description: inv.description,
      hints: inv.hints.map((h) => ({
        channelId: h.channelId,
        node: h.node,
        feeBase: h.feeBase.toString(),
        feePpm: h.feePpm,
        expiryDelta: h.expiryDelta,
      })),
    },
  };
}

/** The payee signs a checked invoice (the signer must be its payee). */
export async function signRoutedInvoice(
  signer: ParsecSigner,
  invoice: RoutedInvoice,
): Promise<SignedRoutedInvoice> {
  if (signer.address !== invoice.payee) {
    throw new InvoiceMismatchError(
      `only the payee ${invoice.payee} signs its invoice, not ${signer.address}`,
    );
  }
  const invoiceId = routedInvoiceIdOf(invoice);
  // `signTypedPayload` only serializes the payload for the wallet; the SDK's `TypedDataPayload` has no
  // array members, so the routed invoice's own payload type is passed through it.
  const signature = await signTypedPayload(
    signer,
    routedInvoiceTypedData(invoice) as unknown as TypedDataPayload,
    typedDataDigest(invoice.domain, invoiceId),
  );
  return { invoice, invoiceId, signature };
}

/**
 * Creates, signs and encodes a routed invoice. The secret is generated with the CSPRNG unless given;
 * `hashlock = sha256(secret)`. Throws `Malformed`/`Overflow` for bad fields, `WalletError` if the
 * wallet does not sign.
 */
export async function createRoutedInvoice(
  params: CreateRoutedInvoiceParameters,
): Promise<CreateRoutedInvoiceReturnType> {
  const secret = toHash(params.secret ?? hexlify(randomBytes(32)), "secret");
  const createdAt = nowSeconds(params.now);
  const expiry =
    params.expiry !== undefined
      ? toUint64(params.expiry, "expiry")
      : createdAt + BigInt(checkSmallUint(params.validity ?? DEFAULT_INVOICE_VALIDITY, 32, "validity"));
  const invoice = toRoutedInvoice({
    domain: params.domain,
    payee: params.signer.address,
    payeeNode: params.payeeNode,
    amount: params.amount,
    asset: params.asset,
    hashlock: sha256(secret),
    createdAt,
    expiry,
    minFinalExpiryDelta: params.minFinalExpiryDelta,
    description: params.description,
    hints: params.hints,
  });
  const signed = await signRoutedInvoice(params.signer, invoice);
  return { invoice: signed, text: encodeRoutedInvoice(signed), secret };
}

// ---------------------------------------------------------------- binary form (§11.1 layout)

/** The binary form: fields in §11.1 order, big-endian, then the 65-byte signature. */
export function encodeRoutedInvoiceBytes(signed: SignedRoutedInvoice): Uint8Array {
  const inv = toRoutedInvoice(signed.invoice);
  const sig = fromHex(signed.signature, "signature", SIGNATURE_BYTES);
  const desc = utf8(inv.description);
  const hasNode = inv.payeeNode !== inv.payee;
  const hasAsset = inv.asset !== ZERO_ADDRESS;
  const out = new Uint8Array(binaryLength(inv, desc.length));
  let o = 0;
  const put = (bytes: Uint8Array): void => {
    out.set(bytes, o);
    o += bytes.length;
  };
  const uint = (n: number, v: bigint | number): void => {
    writeUint(out, o, n, v);
    o += n;
  };
  uint(1, inv.version);
  uint(1, (hasNode ? FLAG_PAYEE_NODE : 0) | (hasAsset ? FLAG_ASSET : 0));
  uint(8, inv.domain.chainId);
  put(fromHex(inv.domain.verifyingContract));
  put(fromHex(inv.payee));
  if (hasNode) put(fromHex(inv.payeeNode));
  uint(16, inv.amount);
  if (hasAsset) put(fromHex(inv.asset));
  put(fromHex(inv.hashlock));
  uint(8, inv.createdAt);
  uint(8, inv.expiry);
  uint(4, inv.minFinalExpiryDelta);
  uint(2, desc.length);
  put(desc);
  uint(1, inv.hints.length);
  for (const h of inv.hints) {
    put(fromHex(h.channelId));
    put(fromHex(h.node));
    const feeBaseLength = minimalLength(h.feeBase);
    uint(1, feeBaseLength);
    uint(feeBaseLength, h.feeBase);
    uint(4, h.feePpm);
    uint(4, h.expiryDelta);
  }
  put(sig);
  return out;
}

/**
 * Decodes the binary form and checks every field's bounds (not the signature): `MalformedError` for a
 * wrong length, an unknown version or flag, a non-canonical encoding (flag set for a default value) or
 * invalid UTF-8.
 */
export function decodeRoutedInvoiceBytes(bytes: Uint8Array): SignedRoutedInvoice {
  let o = 0;
  const take = (n: number, field: string): Uint8Array => {
    if (o + n > bytes.length) throw new MalformedError(`the invoice ends inside ${field}`);
    const out = bytes.subarray(o, o + n);
    o += n;
    return out;
  };
  const big = (n: number, field: string): bigint => readUint(take(n, field), 0, n);
  const small = (n: number, field: string): number => readSmallUint(take(n, field), 0, n);
  const address = (field: string): Address => toAddress(toHex(take(20, field)), field);

  const version = small(1, "version");
  if (version !== ROUTED_INVOICE_VERSION) {
    throw new MalformedError(
      version < ROUTED_INVOICE_VERSION
        ? `invoice version ${version} is no longer read (version ${ROUTED_INVOICE_VERSION} carries route-hint fee bases as uint128); ask the payee for a new invoice`
        : `invoice version ${version} is not supported (this SDK reads version ${ROUTED_INVOICE_VERSION}); upgrade the SDK`,
    );
  }
  const flags = small(1, "flags");
  if (flags & ~(FLAG_PAYEE_NODE | FLAG_ASSET)) throw new MalformedError(`unknown invoice flags ${flags}`);
  const chainId = big(8, "chainId");
  const verifyingContract = address("verifyingContract");
  const payee = address("payee");
  const payeeNode = flags & FLAG_PAYEE_NODE ? address("payeeNode") : payee;
  if (flags & FLAG_PAYEE_NODE && payeeNode === payee) {
    throw new MalformedError("non-canonical invoice: payeeNode is present but equals the payee");
  }
  const amount = big(16, "amount");
  const asset = flags & FLAG_ASSET ? address("asset") : ZERO_ADDRESS;
  if (flags & FLAG_ASSET && asset === ZERO_ADDRESS) {
    throw new MalformedError("non-canonical invoice: asset is present but is the zero address (ETH)");
  }
  const hashlock = toHex(take(32, "hashlock"));
  const createdAt = big(8, "createdAt");
  const expiry = big(8, "expiry");
  const minFinalExpiryDelta = small(4, "minFinalExpiryDelta");
  const descLength = small(2, "description length");
  if (descLength > MAX_INVOICE_DESCRIPTION_BYTES) {
    throw new MalformedError(
      `the description is ${descLength} bytes; at most ${MAX_INVOICE_DESCRIPTION_BYTES} fit an invoice`,
    );
  }
  const descBytes = take(descLength, "description");
  let description: string;
  try {
    description = toUtf8String(descBytes);
  } catch {
    throw new MalformedError("the description is not valid UTF-8");
  }
  if (toHex(toUtf8Bytes(description)) !== toHex(descBytes)) {
    throw new MalformedError("the description is not valid UTF-8");
  }
  const feeBase = (i: number): bigint => {
    const field = `hints[${i}].feeBase`;
    const length = small(1, `${field} length`);
    if (length > MAX_FEE_BASE_BYTES) {
      throw new MalformedError(
        `${field} takes ${length} bytes; a uint128 takes at most ${MAX_FEE_BASE_BYTES}`,
      );
    }
    if (length === 0) return 0n;
    const value = take(length, field);
    if (value[0] === 0) throw new MalformedError(`non-canonical invoice: ${field} starts with a zero byte`);
    return readUint(value, 0, length);
  };
  const hintCount = small(1, "hint count");
  if (hintCount > MAX_ROUTE_HINTS) {
    throw new MalformedError(`${hintCount} route hints; an invoice holds at most ${MAX_ROUTE_HINTS}`);
  }
  const hints: RouteHintInput[] = [];
  for (let i = 0; i < hintCount; i++) {
    hints.push({
      channelId: toHex(take(32, `hints[${i}].channelId`)),
      node: address(`hints[${i}].node`),
      feeBase: feeBase(i),
      feePpm: small(4, `hints[${i}].feePpm`),
      expiryDelta: small(4, `hints[${i}].expiryDelta`),
    });
  }
  const signature = toHex(take(SIGNATURE_BYTES, "signature"));
  if (o !== bytes.length)
    throw new MalformedError(`${bytes.length - o} bytes follow the invoice's signature`);
  const invoice = toRoutedInvoice({
    domain: parsecDomain(chainId, verifyingContract),
    payee,
    payeeNode,
    amount,
    asset,
    hashlock,
    createdAt,
    expiry,
    minFinalExpiryDelta,
    description,
    hints,
  });
  return { invoice, invoiceId: routedInvoiceIdOf(invoice), signature };
}

/** The compact text: `parsec1` + bech32m of the binary form (lower case; upper case is equally valid). */
export function encodeRoutedInvoice(signed: SignedRoutedInvoice): string {
  return bech32mEncode(ROUTED_INVOICE_HRP, bytesToWords(encodeRoutedInvoiceBytes(signed)));
}

/**
 * Checks the payee's signature, and with `opts` the deployment and the expiry. Throws
 * `BadSignatureError`, `WrongDomainError`, `InvoiceExpiredError`.
 */
export function verifyRoutedInvoice(signed: SignedRoutedInvoice, opts: ParseRoutedInvoiceOptions = {}): void {
  const inv = signed.invoice;
  if (routedInvoiceIdOf(inv) !== signed.invoiceId) {
    throw new InvoiceMismatchError("invoiceId is not the invoice's struct hash");
  }
  const signer = recoverSigner(routedInvoiceDigest(inv), signed.signature);
  if (signer !== inv.payee) {
    throw new BadSignatureError(
      `the invoice is signed by ${signer}, not its payee ${inv.payee}; it was altered after signing`,
      { signer, payee: inv.payee },
    );
  }
  if (opts.domain) {
    const want = opts.domain;
    if (want.chainId !== inv.domain.chainId || want.verifyingContract !== inv.domain.verifyingContract) {
      throw new WrongDomainError(
        `chain ${want.chainId}, contract ${want.verifyingContract}`,
        `chain ${inv.domain.chainId}, contract ${inv.domain.verifyingContract} (this invoice is for another deployment)`,
      );
    }
  }
  if (!opts.allowExpired) {
    const now = nowSeconds(opts.now);
    if (now >= inv.expiry) throw new InvoiceExpiredError(inv.expiry, now);
  }
}

/**
 * Parses invoice text (either case): checksum (`InvoiceChecksumError`: damaged or mistyped), layout,
 * version and bounds (`MalformedError`), the payee's signature (`BadSignatureError`), the deployment
 * when `opts.domain` is given (`WrongDomainError`) and the expiry (`InvoiceExpiredError`). A wallet
 * about to pay passes its `domain`.
 */
export function parseRoutedInvoice(text: string, opts: ParseRoutedInvoiceOptions = {}): SignedRoutedInvoice {
  if (typeof text === "string" && text.trim().length > MAX_ROUTED_INVOICE_TEXT_LENGTH) {
    throw new MalformedError(
      `the invoice text has ${text.trim().length} characters; a Parsec invoice has at most ${MAX_ROUTED_INVOICE_TEXT_LENGTH}`,
    );
  }
  const signed = decodeRoutedInvoiceBytes(wordsToBytes(bech32mDecode(text, ROUTED_INVOICE_HRP)));
  verifyRoutedInvoice(signed, opts);
  return signed;
}
