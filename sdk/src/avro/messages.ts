/**
 * The Kafka messages of a Parsec node and their codecs (one `.avsc` per message in `schemas/`).
 *
 * | topic (default name)          | key       | message              | schema file                  |
 * |-------------------------------|-----------|----------------------|------------------------------|
 * | parsec.transfers              | channelId | TransferMessage      | transfer.v1.avsc             |
 * | parsec.control                | channelId | ControlRequest       | control.v1.avsc              |
 * | parsec.checkpoint-proposals   | channelId | CheckpointProposal   | checkpoint-proposal.v1.avsc  |
 * | parsec.checkpoint-signatures  | channelId | CheckpointSignature  | checkpoint-signature.v1.avsc |
 * | parsec.settlements            | channelId | SettlementEvent      | settlement.v1.avsc           |
 * | parsec.state-changelog        | channelId | ChannelStateEntry    | state-changelog.v1.avsc      |
 * | parsec.dead-letter            | original  | DeadLetter           | dead-letter.v2.avsc          |
 * | parsec.channel-graph          | id‖dir    | ChannelUpdateMessage | channel-update.v1.avsc       |
 */
import { createHash } from "node:crypto";
import { checkSmallUint, checkUint, fromHex, readUint, toAddress, toHex, writeUint } from "../bytes";
import { locksRootOf } from "../eip712";
import { MalformedError, type ErrorCode, ReasonCode } from "../errors";
import type { PayerState } from "../payer-state";
import { decodeLocks, encodeLocks } from "../records";
import type {
  Address,
  Checkpoint,
  ChannelParams,
  ChannelStatusName,
  Domain,
  Hash,
  Hex,
  HeadPair,
  PayerIndex,
  SignedTransfer,
} from "../types";
import { CHANNEL_STATUS_NAMES } from "../types";
import { toChannelParams, toDomain, toPayer, toTransfer } from "../validate";
import { AvroCodec, SchemaRegistry, loadSchemaFile, type MessageMapping } from "./codec";
import { channelUpdateMapping, type ChannelUpdateMessage } from "../routing/graph-avro";
import type { PaymentMessage } from "../routing/payment-message";
import { paymentMessageMapping } from "../routing/payment-message-avro";
import { readFrameFingerprint } from "./framing";

/** Default topic names; every node setting may override them. */
export const DEFAULT_TOPICS = {
  transfers: "parsec.transfers",
  control: "parsec.control",
  checkpointProposals: "parsec.checkpoint-proposals",
  checkpointSignatures: "parsec.checkpoint-signatures",
  settlements: "parsec.settlements",
  stateChangelog: "parsec.state-changelog",
  deadLetter: "parsec.dead-letter",
  paymentMessages: "parsec.payment-messages",
  channelGraph: "parsec.channel-graph",
} as const;

// ---------------------------------------------------------------- field helpers

function buf(hex: string, field: string, length: number): Buffer {
  return Buffer.from(fromHex(hex, field, length));
}

function uintBuf(value: bigint, bytes: number, field: string): Buffer {
  checkUint(value, bytes * 8, field);
  const out = Buffer.alloc(bytes);
  writeUint(out, 0, bytes, value);
  return out;
}

function fixed(record: Record<string, unknown>, field: string, length: number): Uint8Array {
  const v = record[field];
  if (!(v instanceof Uint8Array) || v.length !== length)
    throw new MalformedError(`${field} must be ${length} bytes`);
  return v;
}

function hashField(record: Record<string, unknown>, field: string): Hash {
  return toHex(fixed(record, field, 32)) as Hash;
}

function addressField(record: Record<string, unknown>, field: string): Address {
  return toAddress(toHex(fixed(record, field, 20)), field);
}

function uintField(record: Record<string, unknown>, field: string, bytes: number): bigint {
  return readUint(fixed(record, field, bytes), 0, bytes);
}

function numberField(record: Record<string, unknown>, field: string): number {
  const v = record[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new MalformedError(`${field} must be an integer`);
  return v;
}

function seqField(record: Record<string, unknown>, field: string): number {
  return checkSmallUint(numberField(record, field), 32, field);
}

function stringField(record: Record<string, unknown>, field: string): string {
  const v = record[field];
  if (typeof v !== "string") throw new MalformedError(`${field} must be a string`);
  return v;
}

function enumField<T extends string>(
  record: Record<string, unknown>,
  field: string,
  symbols: readonly T[],
): T {
  const v = stringField(record, field);
  if (!(symbols as readonly string[]).includes(v))
    throw new MalformedError(`${field} ${JSON.stringify(v)} is unknown`);
  return v as T;
}

function optional<T>(record: Record<string, unknown>, field: string, read: () => T): T | null {
  return record[field] === null || record[field] === undefined ? null : read();
}

function domainFields(domain: Domain): { chainId: number; verifyingContract: Buffer } {
  if (domain.chainId > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new MalformedError("Avro messages carry chain ids up to 2^53 − 1");
  }
  return {
    chainId: Number(domain.chainId),
    verifyingContract: buf(domain.verifyingContract, "verifyingContract", 20),
  };
}

function domainOf(record: Record<string, unknown>): Domain {
  const chainId = numberField(record, "chainId");
  if (chainId < 0) throw new MalformedError("chainId must not be negative");
  return toDomain({
    chainId: BigInt(chainId),
    verifyingContract: toHex(fixed(record, "verifyingContract", 20)),
  });
}

function checkpointFields(c: Checkpoint): Record<string, unknown> {
  return {
    channelId: buf(c.channelId, "channelId", 32),
    seq0: checkSmallUint(c.seq0, 32, "seq0"),
    head0: buf(c.head0, "head0", 32),
    seq1: checkSmallUint(c.seq1, 32, "seq1"),
    head1: buf(c.head1, "head1", 32),
  };
}

function checkpointOf(record: Record<string, unknown>): Checkpoint {
  const c: Checkpoint = {
    channelId: hashField(record, "channelId"),
    seq0: seqField(record, "seq0"),
    head0: hashField(record, "head0"),
    seq1: seqField(record, "seq1"),
    head1: hashField(record, "head1"),
  };
  const zero = toHex(new Uint8Array(32));
  if ((c.seq0 === 0) !== (c.head0 === zero) || (c.seq1 === 0) !== (c.head1 === zero)) {
    throw new MalformedError("a checkpoint head is zero exactly when its seq is zero");
  }
  return c;
}

// ---------------------------------------------------------------- Transfer

/** A signed transfer as it travels on the transfers topic. */
export interface TransferMessage {
  readonly schemaVersion: number;
  readonly domain: Domain;
  readonly transfer: SignedTransfer;
  /** The payer's address; verification checks that the signature recovers to it. */
  readonly signer: Address;
  /** Catalogue kind name (`catalogue.ts`); empty for a plain on-chain kind. */
  readonly appKind: string;
  readonly appData: Hex;
  /** Producer wall clock, Unix ms; 0 when unknown. */
  readonly sentAtMs: number;
}

const transferMapping: MessageMapping<TransferMessage> = {
  toAvro(m) {
    const t = m.transfer;
    return {
      schemaVersion: m.schemaVersion,
      ...domainFields(m.domain),
      channelId: buf(t.channelId, "channelId", 32),
      payer: t.payer,
      signer: buf(m.signer, "signer", 20),
      seq: checkSmallUint(t.seq, 32, "seq"),
      kind: t.kind,
      amount: uintBuf(t.amount, 16, "amount"),
      paidTotal: uintBuf(t.paidTotal, 16, "paidTotal"),
      lockedTotal: uintBuf(t.lockedTotal, 16, "lockedTotal"),
      locksRoot: buf(t.locksRoot, "locksRoot", 32),
      hashlock: buf(t.hashlock, "hashlock", 32),
      expiry: uintBuf(t.expiry, 8, "expiry"),
      invoiceId: buf(t.invoiceId, "invoiceId", 32),
      prev: buf(t.prev, "prev", 32),
      signature: buf(t.signature, "signature", 65),
      appKind: m.appKind,
      appData: Buffer.from(fromHex(m.appData, "appData")),
      sentAtMs: m.sentAtMs,
    };
  },
  fromAvro(r) {
    const transfer = toTransfer({
      channelId: hashField(r, "channelId"),
      payer: numberField(r, "payer"),
      seq: numberField(r, "seq"),
      kind: numberField(r, "kind"),
      amount: uintField(r, "amount", 16),
      paidTotal: uintField(r, "paidTotal", 16),
      lockedTotal: uintField(r, "lockedTotal", 16),
      locksRoot: hashField(r, "locksRoot"),
      hashlock: hashField(r, "hashlock"),
      expiry: uintField(r, "expiry", 8),
      invoiceId: hashField(r, "invoiceId"),
      prev: hashField(r, "prev"),
    });
    const appData = r.appData;
    if (!(appData instanceof Uint8Array)) throw new MalformedError("appData must be bytes");
    return {
      schemaVersion: numberField(r, "schemaVersion"),
      domain: domainOf(r),
      transfer: { ...transfer, signature: toHex(fixed(r, "signature", 65)) },
      signer: addressField(r, "signer"),
      appKind: stringField(r, "appKind"),
      appData: toHex(appData),
      sentAtMs: numberField(r, "sentAtMs"),
    };
  },
};

/** The longest `appKind` a transfer message may carry (catalogue names are short identifiers). */
export const MAX_APP_KIND_BYTES = 64;
/** The default bound of a transfer message's `appData` (see docs/relayer.md, `input.maxAppDataBytes`). */
export const DEFAULT_MAX_APP_DATA_BYTES = 4096;
/**
 * Bytes of a transfer message besides `appKind` and `appData`, at most: the frame, every fixed field and
 * the longest varints (396), rounded up; plus room for fields a newer registered writer may add.
 */
const TRANSFER_FIXED_BYTES = 512;
const TRANSFER_NEWER_FIELDS_BYTES = 1024;

/** What a transfer message may carry. */
export interface TransferLimits {
  /** The most `appData` bytes (the node's `input.maxAppDataBytes`). */
  readonly maxAppDataBytes: number;
}

/** The largest transfer message `limits` allow (any registered writer schema). */
export function maxTransferMessageBytes(limits: TransferLimits): number {
  return TRANSFER_FIXED_BYTES + MAX_APP_KIND_BYTES + limits.maxAppDataBytes + TRANSFER_NEWER_FIELDS_BYTES;
}

/** A zigzag varint at `p`: [value, next position], or null past the end or beyond 10 bytes. */
function varintAt(w: Uint8Array, p: number): [number, number] | null {
  let n = 0;
  let mul = 1;
  for (let k = 0; k < 10; k++) {
    if (p >= w.length) return null;
    const b = w[p++];
    n += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return [n % 2 === 0 ? n / 2 : -(n + 1) / 2, p];
    mul *= 0x80;
  }
  return null;
}

function tooLong(what: string, got: number, max: number, fix: string): MalformedError {
  return new MalformedError(`${what} is ${got} bytes, over the bound of ${max} (${fix})`, {
    bytes: got,
    max,
  });
}

/**
 * Checks a transfer message's size, `schemaVersion`, `appKind` and `appData` lengths before anything
 * decodes or verifies it: an oversized message is refused from its length alone, a current-schema
 * message is read in place (no copies). Returns the error to dead-letter, or null when the message may go
 * on to verification (which reports anything else malformed). Node only.
 */
export function screenTransferMessage(wire: Uint8Array, limits: TransferLimits): MalformedError | null {
  const max = maxTransferMessageBytes(limits);
  if (wire.length > max) {
    return tooLong(
      "the transfer message",
      wire.length,
      max,
      `appData may hold ${limits.maxAppDataBytes} bytes and appKind ${MAX_APP_KIND_BYTES}; ` +
        `shrink the message or raise input.maxAppDataBytes on every node`,
    );
  }
  if (wire.length < 10 || wire[0] !== 0xc3 || wire[1] !== 0x01) return null;
  const codec = codecs().transfer;
  const fp = codec.reader.fingerprintBytes;
  let current = true;
  for (let i = 0; i < 8; i++) if (wire[2 + i] !== fp[i]) current = false;
  let version: number;
  let appKind: number;
  let appData: number;
  if (current) {
    const v = varintAt(wire, 10);
    if (!v) return null;
    version = v[0];
    if (version !== codec.reader.version) {
      return new MalformedError(
        `the transfer claims schemaVersion ${version} but is framed with the version ` +
          `${codec.reader.version} schema; the producer must write schemaVersion ${codec.reader.version} ` +
          `(or use a registered version ${version} schema)`,
        { schemaVersion: version, writerVersion: codec.reader.version },
      );
    }
    const chain = varintAt(wire, v[1]);
    if (!chain) return null;
    const payer = varintAt(wire, chain[1] + 52);
    if (!payer) return null;
    const seq = varintAt(wire, payer[1] + 20);
    if (!seq) return null;
    const kind = varintAt(wire, seq[1]);
    if (!kind) return null;
    const k = varintAt(wire, kind[1] + 249);
    if (!k) return null;
    appKind = k[0];
    const d = varintAt(wire, k[1] + Math.max(0, appKind));
    if (!d) return null;
    appData = d[0];
  } else {
    if (!codec.registry.get(readFrameFingerprint(wire))) return null; // UnknownSchema, said by the verifier
    let r: Record<string, unknown>;
    try {
      r = codec.decodeRecord(wire);
    } catch (e) {
      return e instanceof MalformedError ? e : null;
    }
    appKind = r.appKind === undefined ? 0 : Buffer.byteLength(String(r.appKind));
    appData = r.appData instanceof Uint8Array ? r.appData.length : 0;
  }
  if (appKind > MAX_APP_KIND_BYTES)
    return tooLong("appKind", appKind, MAX_APP_KIND_BYTES, "catalogue kind names are short identifiers");
  if (appData > limits.maxAppDataBytes) {
    return tooLong(
      "appData",
      appData,
      limits.maxAppDataBytes,
      "keep application data small, or raise input.maxAppDataBytes on every node",
    );
  }
  return null;
}

// ---------------------------------------------------------------- Control

export type ControlAction = "SETTLE_NOW" | "DISPUTE" | "CHECKPOINT_NOW" | "UNKNOWN";

/** A request on the control topic. `UNKNOWN` is what an older reader sees for an action it does not know. */
export interface ControlRequest {
  readonly schemaVersion: number;
  readonly requestId: string;
  readonly channelId: Hash;
  readonly action: ControlAction;
  readonly requestedBy: Address | null;
  readonly requestedAtMs: number;
  readonly reason: string | null;
}

const CONTROL_ACTIONS: readonly ControlAction[] = ["SETTLE_NOW", "DISPUTE", "CHECKPOINT_NOW", "UNKNOWN"];

const controlMapping: MessageMapping<ControlRequest> = {
  toAvro(m) {
    return {
      schemaVersion: m.schemaVersion,
      requestId: m.requestId,
      channelId: buf(m.channelId, "channelId", 32),
      action: m.action,
      requestedBy: m.requestedBy === null ? null : buf(m.requestedBy, "requestedBy", 20),
      requestedAtMs: m.requestedAtMs,
      reason: m.reason,
    };
  },
  fromAvro(r) {
    const action = enumField(r, "action", CONTROL_ACTIONS);
    return {
      schemaVersion: numberField(r, "schemaVersion"),
      requestId: stringField(r, "requestId"),
      channelId: hashField(r, "channelId"),
      action,
      requestedBy: optional(r, "requestedBy", () => addressField(r, "requestedBy")),
      requestedAtMs: numberField(r, "requestedAtMs"),
      reason: optional(r, "reason", () => stringField(r, "reason")),
    };
  },
};

// ---------------------------------------------------------------- Checkpoint proposal and signature

/** A checkpoint the node asks both participants to sign. */
export interface CheckpointProposal {
  readonly schemaVersion: number;
  readonly proposalId: string;
  readonly domain: Domain;
  readonly checkpoint: Checkpoint;
  readonly proposer: Address;
  readonly proposedAtMs: number;
}

const proposalMapping: MessageMapping<CheckpointProposal> = {
  toAvro(m) {
    return {
      schemaVersion: m.schemaVersion,
      proposalId: m.proposalId,
      ...domainFields(m.domain),
      ...checkpointFields(m.checkpoint),
      proposer: buf(m.proposer, "proposer", 20),
      proposedAtMs: m.proposedAtMs,
    };
  },
  fromAvro(r) {
    return {
      schemaVersion: numberField(r, "schemaVersion"),
      proposalId: stringField(r, "proposalId"),
      domain: domainOf(r),
      checkpoint: checkpointOf(r),
      proposer: addressField(r, "proposer"),
      proposedAtMs: numberField(r, "proposedAtMs"),
    };
  },
};

/** One participant's signature of a proposed checkpoint. */
export interface CheckpointSignatureMessage {
  readonly schemaVersion: number;
  readonly proposalId: string;
  readonly checkpoint: Checkpoint;
  readonly signerIndex: PayerIndex;
  readonly signer: Address;
  readonly signature: Hex;
  readonly signedAtMs: number;
}

const signatureMapping: MessageMapping<CheckpointSignatureMessage> = {
  toAvro(m) {
    return {
      schemaVersion: m.schemaVersion,
      proposalId: m.proposalId,
      ...checkpointFields(m.checkpoint),
      signerIndex: m.signerIndex,
      signer: buf(m.signer, "signer", 20),
      signature: buf(m.signature, "signature", 65),
      signedAtMs: m.signedAtMs,
    };
  },
  fromAvro(r) {
    return {
      schemaVersion: numberField(r, "schemaVersion"),
      proposalId: stringField(r, "proposalId"),
      checkpoint: checkpointOf(r),
      signerIndex: toPayer(numberField(r, "signerIndex")),
      signer: addressField(r, "signer"),
      signature: toHex(fixed(r, "signature", 65)),
      signedAtMs: numberField(r, "signedAtMs"),
    };
  },
};

// ---------------------------------------------------------------- Settlement event

export type SettlementAction =
  | "CHECKPOINT"
  | "HEAD_PROOF"
  | "CHAIN_EXTENSION"
  | "CLOSE"
  | "SETTLE"
  | "COOPERATIVE_CLOSE"
  | "EQUIVOCATION_PROOF"
  | "RESOLVE_LOCKS"
  | "OTHER";
export type SettlementStatus = "SUBMITTED" | "CONFIRMED" | "FAILED" | "SKIPPED" | "OTHER";
const SETTLEMENT_ACTIONS: readonly SettlementAction[] = [
  "CHECKPOINT",
  "HEAD_PROOF",
  "CHAIN_EXTENSION",
  "CLOSE",
  "SETTLE",
  "COOPERATIVE_CLOSE",
  "EQUIVOCATION_PROOF",
  "RESOLVE_LOCKS",
  "OTHER",
];
const SETTLEMENT_STATUSES: readonly SettlementStatus[] = [
  "SUBMITTED",
  "CONFIRMED",
  "FAILED",
  "SKIPPED",
  "OTHER",
];

/** What the node did on-chain for a channel. */
export interface SettlementEvent {
  readonly schemaVersion: number;
  readonly eventId: string;
  readonly channelId: Hash;
  readonly action: SettlementAction;
  readonly status: SettlementStatus;
  readonly seq0: number;
  readonly seq1: number;
  readonly txHash: Hash | null;
  readonly gasUsed: number | null;
  readonly requestId: string | null;
  readonly detail: string | null;
  readonly atMs: number;
}

const settlementMapping: MessageMapping<SettlementEvent> = {
  toAvro(m) {
    return {
      schemaVersion: m.schemaVersion,
      eventId: m.eventId,
      channelId: buf(m.channelId, "channelId", 32),
      action: m.action,
      status: m.status,
      seq0: checkSmallUint(m.seq0, 32, "seq0"),
      seq1: checkSmallUint(m.seq1, 32, "seq1"),
      txHash: m.txHash === null ? null : buf(m.txHash, "txHash", 32),
      gasUsed: m.gasUsed,
      requestId: m.requestId,
      detail: m.detail,
      atMs: m.atMs,
    };
  },
  fromAvro(r) {
    return {
      schemaVersion: numberField(r, "schemaVersion"),
      eventId: stringField(r, "eventId"),
      channelId: hashField(r, "channelId"),
      action: enumField(r, "action", SETTLEMENT_ACTIONS),
      status: enumField(r, "status", SETTLEMENT_STATUSES),
      seq0: seqField(r, "seq0"),
      seq1: seqField(r, "seq1"),
      txHash: optional(r, "txHash", () => hashField(r, "txHash")),
      gasUsed: optional(r, "gasUsed", () => numberField(r, "gasUsed")),
      requestId: optional(r, "requestId", () => stringField(r, "requestId")),
      detail: optional(r, "detail", () => stringField(r, "detail")),
      atMs: numberField(r, "atMs"),
    };
  },
};

// ---------------------------------------------------------------- State changelog

const CHANNEL_STATUSES: readonly ChannelStatusName[] = CHANNEL_STATUS_NAMES;

/** A channel's state on the compacted changelog. */
export interface ChannelStateEntry {
  readonly schemaVersion: number;
  readonly domain: Domain;
  readonly channelId: Hash;
  readonly params: ChannelParams;
  readonly deposit0: bigint;
  readonly deposit1: bigint;
  readonly payer0: PayerState;
  readonly payer1: PayerState;
  /** The heads of the node's last on-chain commit. */
  readonly onchain: HeadPair;
  readonly status: ChannelStatusName;
  /** Offset of the last transfer applied; -1 for none. */
  readonly lastOffset: number;
  readonly updatedAtMs: number;
}

function payerToAvro(s: PayerState, field: string): Record<string, unknown> {
  return {
    seq: checkSmallUint(s.seq, 32, `${field}.seq`),
    head: buf(s.head, `${field}.head`, 32),
    paidTotal: uintBuf(s.paidTotal, 16, `${field}.paidTotal`),
    lockedTotal: uintBuf(s.lockedTotal, 16, `${field}.lockedTotal`),
    locksRoot: buf(s.locksRoot, `${field}.locksRoot`, 32),
    locks: Buffer.from(encodeLocks(s.locks)),
  };
}

function payerFromAvro(value: unknown, field: string): PayerState {
  if (typeof value !== "object" || value === null) throw new MalformedError(`${field} must be a record`);
  const r = value as Record<string, unknown>;
  const lockBytes = r.locks;
  if (!(lockBytes instanceof Uint8Array)) throw new MalformedError(`${field}.locks must be bytes`);
  const locks = decodeLocks(lockBytes);
  const state: PayerState = {
    seq: seqField(r, "seq"),
    head: hashField(r, "head"),
    paidTotal: uintField(r, "paidTotal", 16),
    lockedTotal: uintField(r, "lockedTotal", 16),
    locksRoot: hashField(r, "locksRoot"),
    locks,
  };
  if (locksRootOf(locks) !== state.locksRoot)
    throw new MalformedError(`${field}.locks do not hash to its locksRoot`);
  return state;
}

const stateMapping: MessageMapping<ChannelStateEntry> = {
  toAvro(m) {
    return {
      schemaVersion: m.schemaVersion,
      ...domainFields(m.domain),
      channelId: buf(m.channelId, "channelId", 32),
      participant0: buf(m.params.participant0, "participant0", 20),
      participant1: buf(m.params.participant1, "participant1", 20),
      asset: buf(m.params.asset, "asset", 20),
      challengePeriod: checkSmallUint(m.params.challengePeriod, 32, "challengePeriod"),
      nonce: uintBuf(m.params.nonce, 8, "nonce"),
      deposit0: uintBuf(m.deposit0, 16, "deposit0"),
      deposit1: uintBuf(m.deposit1, 16, "deposit1"),
      payer0: payerToAvro(m.payer0, "payer0"),
      payer1: payerToAvro(m.payer1, "payer1"),
      onchainSeq0: checkSmallUint(m.onchain.seq0, 32, "onchainSeq0"),
      onchainHead0: buf(m.onchain.head0, "onchainHead0", 32),
      onchainSeq1: checkSmallUint(m.onchain.seq1, 32, "onchainSeq1"),
      onchainHead1: buf(m.onchain.head1, "onchainHead1", 32),
      status: m.status,
      lastOffset: m.lastOffset,
      updatedAtMs: m.updatedAtMs,
    };
  },
  fromAvro(r) {
    return {
      schemaVersion: numberField(r, "schemaVersion"),
      domain: domainOf(r),
      channelId: hashField(r, "channelId"),
      params: toChannelParams({
        participant0: toHex(fixed(r, "participant0", 20)),
        participant1: toHex(fixed(r, "participant1", 20)),
        asset: toHex(fixed(r, "asset", 20)),
        challengePeriod: checkSmallUint(numberField(r, "challengePeriod"), 32, "challengePeriod"),
        nonce: uintField(r, "nonce", 8),
      }),
      deposit0: uintField(r, "deposit0", 16),
      deposit1: uintField(r, "deposit1", 16),
      payer0: payerFromAvro(r.payer0, "payer0"),
      payer1: payerFromAvro(r.payer1, "payer1"),
      onchain: {
        seq0: seqField(r, "onchainSeq0"),
        head0: hashField(r, "onchainHead0"),
        seq1: seqField(r, "onchainSeq1"),
        head1: hashField(r, "onchainHead1"),
      },
      status: enumField(r, "status", CHANNEL_STATUSES),
      lastOffset: numberField(r, "lastOffset"),
      updatedAtMs: numberField(r, "updatedAtMs"),
    };
  },
};

// ---------------------------------------------------------------- Dead letter

/** Rejected input with the reason (an SDK error code) and where it came from. */
export interface DeadLetter {
  readonly schemaVersion: number;
  readonly reasonCode: ErrorCode | string;
  readonly reasonText: string;
  /** The rejected value: whole, or its first bytes when `originalTruncated`. */
  readonly original: Uint8Array;
  /** The rejected key: whole, or its first `DEAD_LETTER_MAX_KEY_BYTES` when `originalTruncated`. */
  readonly originalKey: Uint8Array | null;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly channelId: Hash | null;
  readonly failedAtMs: number;
  /** Only a prefix of the value (or key) is kept, so that the record fits the topic's size limit. */
  readonly originalTruncated: boolean;
  /** Bytes of the whole rejected value; -1 in a v1 record. */
  readonly originalLength: number;
  /** sha256 of the whole rejected value; null in a v1 record. */
  readonly originalSha256: Hash | null;
  /** Bytes of the whole rejected key; -1 without a key (or in a v1 record). */
  readonly originalKeyLength: number;
}

/** The most key bytes a dead letter keeps (a channel key is 32). */
export const DEAD_LETTER_MAX_KEY_BYTES = 1024;
/** The most characters of `reasonText` a dead letter keeps. */
export const DEAD_LETTER_MAX_REASON_CHARS = 2000;

const deadLetterMapping: MessageMapping<DeadLetter> = {
  toAvro(m) {
    return {
      schemaVersion: m.schemaVersion,
      reasonCode: m.reasonCode,
      reasonText: m.reasonText,
      original: Buffer.from(m.original.buffer, m.original.byteOffset, m.original.byteLength),
      originalKey: m.originalKey === null ? null : Buffer.from(m.originalKey),
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      channelId: m.channelId === null ? null : buf(m.channelId, "channelId", 32),
      failedAtMs: m.failedAtMs,
      originalTruncated: m.originalTruncated,
      originalLength: m.originalLength,
      originalSha256: m.originalSha256 === null ? null : buf(m.originalSha256, "originalSha256", 32),
      originalKeyLength: m.originalKeyLength,
    };
  },
  fromAvro(r) {
    const original = r.original;
    if (!(original instanceof Uint8Array)) throw new MalformedError("original must be bytes");
    const key = r.originalKey;
    if (key !== null && !(key instanceof Uint8Array))
      throw new MalformedError("originalKey must be bytes or null");
    const truncated = r.originalTruncated;
    if (typeof truncated !== "boolean") throw new MalformedError("originalTruncated must be a boolean");
    return {
      schemaVersion: numberField(r, "schemaVersion"),
      reasonCode: stringField(r, "reasonCode"),
      reasonText: stringField(r, "reasonText"),
      original: Uint8Array.from(original),
      originalKey: key === null ? null : Uint8Array.from(key),
      topic: stringField(r, "topic"),
      partition: numberField(r, "partition"),
      offset: numberField(r, "offset"),
      channelId: optional(r, "channelId", () => hashField(r, "channelId")),
      failedAtMs: numberField(r, "failedAtMs"),
      originalTruncated: truncated,
      originalLength: numberField(r, "originalLength"),
      originalSha256: optional(r, "originalSha256", () => hashField(r, "originalSha256")),
      originalKeyLength: numberField(r, "originalKeyLength"),
    };
  },
};

/** sha256 of bytes, as a 0x-prefixed hash. */
export function sha256Of(bytes: Uint8Array): Hash {
  return `0x${createHash("sha256").update(bytes).digest("hex")}` as Hash;
}

// ---------------------------------------------------------------- codecs

/** The schema files of every message, by codec name. */
export const SCHEMA_FILES = {
  transfer: "transfer.v1.avsc",
  control: "control.v1.avsc",
  checkpointProposal: "checkpoint-proposal.v1.avsc",
  checkpointSignature: "checkpoint-signature.v1.avsc",
  settlement: "settlement.v1.avsc",
  stateChangelog: "state-changelog.v1.avsc",
  deadLetter: "dead-letter.v2.avsc",
  channelUpdate: "channel-update.v1.avsc",
  paymentMessage: "payment-message.v2.avsc",
} as const;

/**
 * Earlier versions of the schemas in `SCHEMA_FILES`: registered as writers only, so records they wrote
 * (still on the topics) keep decoding with the current readers.
 */
export const PREVIOUS_SCHEMA_FILES: readonly string[] = ["dead-letter.v1.avsc", "payment-message.v1.avsc"];

/** All codecs over one registry. */
export interface ParsecCodecs {
  readonly registry: SchemaRegistry;
  readonly transfer: AvroCodec<TransferMessage>;
  readonly control: AvroCodec<ControlRequest>;
  readonly checkpointProposal: AvroCodec<CheckpointProposal>;
  readonly checkpointSignature: AvroCodec<CheckpointSignatureMessage>;
  readonly settlement: AvroCodec<SettlementEvent>;
  readonly stateChangelog: AvroCodec<ChannelStateEntry>;
  readonly deadLetter: AvroCodec<DeadLetter>;
  readonly channelUpdate: AvroCodec<ChannelUpdateMessage>;
  readonly paymentMessage: AvroCodec<PaymentMessage>;
}

/**
 * Codecs for every message. Pass a registry holding extra writer schemas (e.g. newer versions) to read
 * messages written with them; the repo's own schemas are always registered.
 */
export function createCodecs(registry: SchemaRegistry = new SchemaRegistry()): ParsecCodecs {
  for (const file of PREVIOUS_SCHEMA_FILES) registry.register(loadSchemaFile(file));
  return {
    registry,
    transfer: new AvroCodec("Transfer", loadSchemaFile(SCHEMA_FILES.transfer), registry, transferMapping),
    control: new AvroCodec("ControlRequest", loadSchemaFile(SCHEMA_FILES.control), registry, controlMapping),
    checkpointProposal: new AvroCodec(
      "CheckpointProposal",
      loadSchemaFile(SCHEMA_FILES.checkpointProposal),
      registry,
      proposalMapping,
    ),
    checkpointSignature: new AvroCodec(
      "CheckpointSignature",
      loadSchemaFile(SCHEMA_FILES.checkpointSignature),
      registry,
      signatureMapping,
    ),
    settlement: new AvroCodec(
      "SettlementEvent",
      loadSchemaFile(SCHEMA_FILES.settlement),
      registry,
      settlementMapping,
    ),
    stateChangelog: new AvroCodec(
      "ChannelStateEntry",
      loadSchemaFile(SCHEMA_FILES.stateChangelog),
      registry,
      stateMapping,
    ),
    deadLetter: new AvroCodec(
      "DeadLetter",
      loadSchemaFile(SCHEMA_FILES.deadLetter),
      registry,
      deadLetterMapping,
    ),
    channelUpdate: new AvroCodec(
      "ChannelUpdate",
      loadSchemaFile(SCHEMA_FILES.channelUpdate),
      registry,
      channelUpdateMapping,
    ),
    paymentMessage: new AvroCodec(
      "PaymentMessage",
      loadSchemaFile(SCHEMA_FILES.paymentMessage),
      registry,
      paymentMessageMapping,
    ),
  };
}

let defaultCodecs: ParsecCodecs | null = null;

/** The shared codecs over the repo's schemas. */
export function codecs(): ParsecCodecs {
  defaultCodecs ??= createCodecs();
  return defaultCodecs;
}

/** A transfer message for a signed transfer, with the payer's address and optional catalogue data. */
export function transferMessage(
  domain: Domain,
  transfer: SignedTransfer,
  signer: Address,
  extra: { appKind?: string; appData?: Hex; sentAtMs?: number } = {},
): TransferMessage {
  return {
    schemaVersion: 1,
    domain,
    transfer,
    signer,
    appKind: extra.appKind ?? "",
    appData: extra.appData ?? "0x",
    sentAtMs: extra.sentAtMs ?? 0,
  };
}

/**
 * A dead-letter entry for input rejected with `error`, keeping the original whole (with its length and
 * sha256). The reason text is cut at `DEAD_LETTER_MAX_REASON_CHARS`. A writer bound by a record size
 * (a Kafka topic's `max.message.bytes`) cuts the original with `truncateDeadLetter`.
 */
export function deadLetterOf(
  error: { code: ErrorCode; message: string },
  source: {
    original: Uint8Array;
    originalKey?: Uint8Array | null;
    topic: string;
    partition: number;
    offset: number;
  },
  channelId: Hash | null = null,
  failedAtMs = Date.now(),
): DeadLetter {
  const key = source.originalKey ?? null;
  const keyTooLong = key !== null && key.length > DEAD_LETTER_MAX_KEY_BYTES;
  const reasonText =
    error.message.length > DEAD_LETTER_MAX_REASON_CHARS
      ? `${error.message.slice(0, DEAD_LETTER_MAX_REASON_CHARS)}… (cut at ${DEAD_LETTER_MAX_REASON_CHARS} characters)`
      : error.message;
  return {
    schemaVersion: 2,
    reasonCode: error.code,
    reasonText,
    original: source.original,
    originalKey: keyTooLong ? key.subarray(0, DEAD_LETTER_MAX_KEY_BYTES) : key,
    topic: source.topic,
    partition: source.partition,
    offset: source.offset,
    channelId,
    failedAtMs,
    originalTruncated: keyTooLong,
    originalLength: source.original.length,
    originalSha256: sha256Of(source.original),
    originalKeyLength: key === null ? -1 : key.length,
  };
}

/**
 * `dl` with only the first `keep` bytes of its original (`originalTruncated` set; length and sha256
 * still describe the whole value). `keep` at or above the original's length returns `dl` unchanged.
 */
export function truncateDeadLetter(dl: DeadLetter, keep: number): DeadLetter {
  if (keep >= dl.original.length) return dl;
  return { ...dl, original: dl.original.subarray(0, Math.max(0, keep)), originalTruncated: true };
}

/** Whether a string is a known SDK error code. */
export function isErrorCode(code: string): code is ErrorCode {
  return code !== "Ok" && Object.prototype.hasOwnProperty.call(ReasonCode, code);
}
