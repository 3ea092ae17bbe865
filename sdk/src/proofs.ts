/**
 * The three on-chain proofs built from a `ChannelLedger` (protocol §4) — checkpoint, head proof, chain
 * proof in pieces — the equivocation proof, and the evidence file a wallet or the relayer exports and
 * `channel:dispute` consumes (format documented in docs/protocol.md, "SDK").
 */
import { checkSmallUint, checkUint, fromHex, isHexOfLength, toAddress, toHash } from "./bytes";
import { ChannelLedger, type LedgerOptions } from "./chain";
import { channelIdOf, commitmentOf, hashCheckpoint, typedDataDigest } from "./eip712";
import { BadSignatureError, MalformedError, StaleError, StateMismatchError, isParsecError } from "./errors";
import {
  bytesArg,
  checkpointArgs,
  decodeSignedTransfers,
  encodeCancelConsentRecords,
  extendChainArgs,
  proveEquivocationArgs,
  proveHeadArgs,
  settleArgs,
  type ExtendChainArgs,
  type ExtendChainWithConsentsArgs,
  type HeadProofRecord,
} from "./records";
import type { EquivocationProof } from "./reorder";
import { recoverSigner, type ParsecSigner, signCheckpoint } from "./sign";
import type {
  Address,
  ChannelParams,
  Checkpoint,
  Domain,
  Hash,
  HeadPair,
  Hex,
  Lock,
  OnchainHeads,
  PayerIndex,
  SignedCheckpoint,
  SignedTransfer,
  TransferBody,
} from "./types";
import { TransferKind, ZERO_HASH } from "./types";
import {
  toChannelParams,
  toDomain,
  toLock,
  toTransfer,
  transferBodyJson,
  type TransferBodyJson,
} from "./validate";

// ---------------------------------------------------------------- checkpoint

/** Checks a co-signed checkpoint (both signatures, head/seq consistency); throws `BadSignature`/`Malformed`. */
export function verifyCheckpoint(domain: Domain, params: ChannelParams, c: SignedCheckpoint): void {
  if (c.channelId !== channelIdOf(domain, params))
    throw new MalformedError("the checkpoint is for another channel");
  if ((c.seq0 === 0) !== (c.head0 === ZERO_HASH) || (c.seq1 === 0) !== (c.head1 === ZERO_HASH)) {
    throw new MalformedError("a checkpoint head is zero exactly when its seq is zero");
  }
  const digest = typedDataDigest(domain, hashCheckpoint(c));
  if (recoverSigner(digest, c.sig0) !== params.participant0)
    throw new BadSignatureError("sig0 is not participant0's");
  if (recoverSigner(digest, c.sig1) !== params.participant1)
    throw new BadSignatureError("sig1 is not participant1's");
}

/** Both participants sign the ledger's current checkpoint (for a party holding both keys, e.g. tests). */
export async function cosignCheckpoint(
  ledger: ChannelLedger,
  signer0: ParsecSigner,
  signer1: ParsecSigner,
): Promise<SignedCheckpoint> {
  const c = ledger.checkpoint();
  const [sig0, sig1] = await Promise.all([
    signCheckpoint(signer0, ledger.domain, c),
    signCheckpoint(signer1, ledger.domain, c),
  ]);
  return { ...c, sig0, sig1 };
}

/** Whether a checkpoint would be accepted over the on-chain seqs (newer in one, older in neither). */
export function isNewerCheckpoint(c: Checkpoint, onchain: { seq0: number; seq1: number }): boolean {
  return (
    c.seq0 >= onchain.seq0 && c.seq1 >= onchain.seq1 && (c.seq0 !== onchain.seq0 || c.seq1 !== onchain.seq1)
  );
}

// ---------------------------------------------------------------- on-chain heads

/** A proven word as `provenHeadsOf` returns it: a payer's seq and the low 224 bits of its head (0: none). */
export interface ProvenHead {
  readonly seq: number;
  readonly head224: bigint;
}

/** What the contract holds: the checkpoint word (`channelState`) and both proven words (`provenHeadsOf`). */
export interface OnchainState {
  readonly seq0: number;
  readonly seq1: number;
  readonly commitment: bigint;
  readonly proven: readonly [ProvenHead, ProvenHead];
}

/** No state at all: a channel nothing was committed to. */
export const EMPTY_ONCHAIN_STATE: OnchainState = {
  seq0: 0,
  seq1: 0,
  commitment: 0n,
  proven: [
    { seq: 0, head224: 0n },
    { seq: 0, head224: 0n },
  ],
};

/**
 * `OnchainState` from the results of the two views `channelState(id)` (`[record, seq0, seq1, commitment]`)
 * and `provenHeadsOf(id)` (`[seq0, head0, seq1, head1]`), as ethers or viem return them.
 */
export function onchainStateOf(
  channelState: readonly [unknown, bigint | number, bigint | number, bigint],
  provenHeads: readonly [bigint | number, bigint, bigint | number, bigint],
): OnchainState {
  return {
    seq0: Number(channelState[1]),
    seq1: Number(channelState[2]),
    commitment: BigInt(channelState[3]),
    proven: [
      { seq: Number(provenHeads[0]), head224: BigInt(provenHeads[1]) },
      { seq: Number(provenHeads[2]), head224: BigInt(provenHeads[3]) },
    ],
  };
}

/** Each payer's on-chain seq: the checkpoint word's or the proven one, whichever is higher (protocol §1). */
export function onchainSeqs(onchain: OnchainState): { readonly seq0: number; readonly seq1: number } {
  return {
    seq0: Math.max(onchain.seq0, onchain.proven[0].seq),
    seq1: Math.max(onchain.seq1, onchain.proven[1].seq),
  };
}

const LOW_224_BITS = (1n << 224n) - 1n;

/**
 * The heads the contract holds, found in the ledger by seq and checked against the checkpoint commitment
 * and the proven words. Throws `StateMismatchError` when the ledger lacks them or they do not match.
 */
export function onchainHeads(ledger: ChannelLedger, onchain: OnchainState): OnchainHeads {
  const head = (payer: PayerIndex, seq: number): Hash => {
    if (seq === 0) return ZERO_HASH;
    if (!ledger.hasTransfer(payer, seq)) {
      throw new StateMismatchError(
        `the contract holds payer ${payer}'s seq ${seq}, which the evidence lacks`,
      );
    }
    return ledger.transfer(payer, seq).hash;
  };
  let checkpoint: HeadPair = { seq0: 0, head0: ZERO_HASH, seq1: 0, head1: ZERO_HASH };
  if (onchain.commitment !== 0n || onchain.seq0 !== 0 || onchain.seq1 !== 0) {
    checkpoint = {
      seq0: onchain.seq0,
      head0: head(0, onchain.seq0),
      seq1: onchain.seq1,
      head1: head(1, onchain.seq1),
    };
    if (commitmentOf(checkpoint.head0, checkpoint.head1) !== onchain.commitment) {
      throw new StateMismatchError(
        "the ledger's transfers at the on-chain seqs do not open the on-chain commitment",
      );
    }
  }
  const side = (payer: PayerIndex): { seq: number; head: Hash } => {
    const proven = onchain.proven[payer];
    const checkpointSeq = payer === 0 ? checkpoint.seq0 : checkpoint.seq1;
    if (proven.seq <= checkpointSeq) {
      return { seq: checkpointSeq, head: payer === 0 ? checkpoint.head0 : checkpoint.head1 };
    }
    const hash = head(payer, proven.seq);
    if ((BigInt(hash) & LOW_224_BITS) !== proven.head224) {
      throw new StateMismatchError(
        `the ledger's transfer ${proven.seq} of payer ${payer} is not the head the contract holds`,
      );
    }
    return { seq: proven.seq, head: hash };
  };
  const s0 = side(0);
  const s1 = side(1);
  return { seq0: s0.seq, head0: s0.head, seq1: s1.seq, head1: s1.head, checkpoint };
}

/** `heads` after payer's on-chain head moved to `seq` (a head proof or chain extension). */
function withProvenHead(heads: OnchainHeads, payer: PayerIndex, seq: number, hash: Hash): OnchainHeads {
  return payer === 0 ? { ...heads, seq0: seq, head0: hash } : { ...heads, seq1: seq, head1: hash };
}

/** `heads` after a checkpoint landed: each payer keeps whichever head has the higher seq. */
function withCheckpoint(heads: OnchainHeads, c: Checkpoint): OnchainHeads {
  const checkpoint: HeadPair = { seq0: c.seq0, head0: c.head0, seq1: c.seq1, head1: c.head1 };
  return {
    seq0: Math.max(heads.seq0, c.seq0),
    head0: heads.seq0 > c.seq0 ? heads.head0 : c.head0,
    seq1: Math.max(heads.seq1, c.seq1),
    head1: heads.seq1 > c.seq1 ? heads.head1 : c.head1,
    checkpoint,
  };
}

// ---------------------------------------------------------------- head proof

/**
 * A head proof of payer's transfer `seq` (default: latest). Only the payee may submit it; it stays valid
 * whatever else lands first, as long as the contract holds no later seq of payer. Throws `StaleError`
 * when the contract already holds that seq or a later one.
 */
export function headProof(
  ledger: ChannelLedger,
  payer: PayerIndex,
  onchain: OnchainHeads,
  seq?: number,
): HeadProofRecord {
  const target = seq ?? ledger.state(payer).seq;
  const onchainSeq = payer === 0 ? onchain.seq0 : onchain.seq1;
  if (target <= onchainSeq)
    throw new StaleError(`the contract already holds payer ${payer}'s seq ${onchainSeq}`);
  return { params: ledger.params, payer, transfer: ledger.transfer(payer, target) };
}

// ---------------------------------------------------------------- chain proof

/**
 * `extendChain` calls that take payer's chain from the on-chain head to `toSeq` (default: latest), at most
 * `maxTransfersPerPiece` transfers per call; each piece continues where the previous one left the
 * contract, so they must be sent in order. Each piece starts at `fromSeq` (default: the on-chain head) or
 * earlier: a piece that starts before the on-chain head re-derives it, so it stays valid when someone
 * moves the head forward before it lands.
 */
export function chainProof(
  ledger: ChannelLedger,
  payer: PayerIndex,
  onchain: OnchainHeads,
  opts: { readonly maxTransfersPerPiece?: number; readonly toSeq?: number; readonly fromSeq?: number } = {},
): ExtendChainArgs[] {
  const size = opts.maxTransfersPerPiece ?? 50;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError("maxTransfersPerPiece must be a positive integer");
  const onchainSeq = payer === 0 ? onchain.seq0 : onchain.seq1;
  const from = opts.fromSeq ?? onchainSeq;
  if (from > onchainSeq) throw new RangeError(`fromSeq ${from} is above the on-chain seq ${onchainSeq}`);
  const otherHead = payer === 0 ? onchain.checkpoint.head1 : onchain.checkpoint.head0;
  const to = opts.toSeq ?? ledger.state(payer).seq;
  if (to <= onchainSeq) throw new StaleError(`the contract already holds payer ${payer}'s seq ${onchainSeq}`);
  if (
    onchainSeq !== 0 &&
    ledger.transfer(payer, onchainSeq).hash !== (payer === 0 ? onchain.head0 : onchain.head1)
  ) {
    throw new StateMismatchError(
      `the on-chain head of payer ${payer} is not the ledger's transfer ${onchainSeq}`,
    );
  }
  const pieces: ExtendChainArgs[] = [];
  for (let start = from; start < to;) {
    // The first piece re-derives the known part up to the on-chain head on top of its new transfers.
    const end = Math.min(Math.max(start, onchainSeq) + size, to);
    const startBody: TransferBody | null = start === 0 ? null : ledger.transfer(payer, start);
    pieces.push(
      extendChainArgs({
        params: ledger.params,
        payer,
        startBody,
        startLocks: ledger.stateAt(payer, start).locks,
        otherHead,
        transfers: ledger.transfers(payer, start, end),
      }),
    );
    start = end;
  }
  return pieces;
}

/** `proveEquivocation` arguments from a window's proof (checks the channel id against the params). */
export function equivocationArgs(
  domain: Domain,
  params: ChannelParams,
  proof: EquivocationProof<SignedTransfer & { hash: Hash }>,
) {
  if (proof.channelId !== channelIdOf(domain, params))
    throw new MalformedError("the proof is for another channel");
  return proveEquivocationArgs(params, proof.first, proof.second);
}

/** `settle` arguments: the bodies of the on-chain heads, from the ledger, and the checkpoint's heads. */
export function settleArgsFromLedger(ledger: ChannelLedger, onchain: OnchainHeads) {
  return settleArgs(
    ledger.params,
    onchain.seq0 === 0 ? null : ledger.transfer(0, onchain.seq0),
    onchain.seq1 === 0 ? null : ledger.transfer(1, onchain.seq1),
    onchain.checkpoint,
  );
}

// ---------------------------------------------------------------- evidence file

/** A transfer in an evidence file: decimal strings for integers, hex for bytes. */
export interface EvidenceTransfer extends TransferBodyJson {
  readonly signature: Hex;
}

export interface EvidenceLock {
  readonly amount: string;
  readonly expiry: string;
  readonly hashlock: Hash;
}

/** One payer's chain: optionally a base transfer with its pending locks, then contiguous transfers. */
export interface EvidenceChain {
  readonly payer: PayerIndex;
  readonly base: { readonly transfer: EvidenceTransfer; readonly locks: readonly EvidenceLock[] } | null;
  readonly transfers: readonly EvidenceTransfer[];
}

/** The evidence file, version 1. */
export interface EvidenceFile {
  readonly format: "parsec-evidence";
  readonly version: 1;
  readonly exportedBy: string;
  readonly exportedAtMs: number;
  readonly domain: { readonly chainId: string; readonly verifyingContract: Address };
  readonly channel: {
    readonly channelId: Hash;
    readonly participant0: Address;
    readonly participant1: Address;
    readonly asset: Address;
    readonly challengePeriod: number;
    readonly nonce: string;
  };
  readonly deposits: { readonly deposit0: string; readonly deposit1: string } | null;
  readonly checkpoint: {
    readonly seq0: number;
    readonly head0: Hash;
    readonly seq1: number;
    readonly head1: Hash;
    readonly sig0: Hex;
    readonly sig1: Hex;
  } | null;
  readonly chains: readonly [EvidenceChain, EvidenceChain];
}

function evidenceTransfer(t: SignedTransfer): EvidenceTransfer {
  return { ...transferBodyJson(t), signature: t.signature };
}

function evidenceLock(l: Lock): EvidenceLock {
  return { amount: l.amount.toString(), expiry: l.expiry.toString(), hashlock: l.hashlock };
}

/**
 * Exports a ledger as evidence: each chain from `fromSeq[i]` (default: as far back as the ledger holds),
 * with the transfer at that seq as the base, plus the latest co-signed checkpoint if any.
 */
export function exportEvidence(
  ledger: ChannelLedger,
  opts: {
    readonly exportedBy: string;
    readonly checkpoint?: SignedCheckpoint | null;
    readonly fromSeq?: readonly [number, number];
    readonly exportedAtMs?: number;
  },
): EvidenceFile {
  const chain = (payer: PayerIndex): EvidenceChain => {
    const from = opts.fromSeq?.[payer] ?? ledger.baseSeq(payer);
    const base =
      from === 0
        ? null
        : {
            transfer: evidenceTransfer(ledger.transfer(payer, from)),
            locks: ledger.stateAt(payer, from).locks.map(evidenceLock),
          };
    return { payer, base, transfers: ledger.transfers(payer, from).map(evidenceTransfer) };
  };
  const b = ledger.balances();
  const c = opts.checkpoint ?? null;
  return {
    format: "parsec-evidence",
    version: 1,
    exportedBy: opts.exportedBy,
    exportedAtMs: opts.exportedAtMs ?? Date.now(),
    domain: { chainId: ledger.domain.chainId.toString(), verifyingContract: ledger.domain.verifyingContract },
    channel: {
      channelId: ledger.channelId,
      participant0: ledger.params.participant0,
      participant1: ledger.params.participant1,
      asset: ledger.params.asset,
      challengePeriod: ledger.params.challengePeriod,
      nonce: ledger.params.nonce.toString(),
    },
    deposits: { deposit0: b.deposit0.toString(), deposit1: b.deposit1.toString() },
    checkpoint: c && {
      seq0: c.seq0,
      head0: c.head0,
      seq1: c.seq1,
      head1: c.head1,
      sig0: c.sig0,
      sig1: c.sig1,
    },
    chains: [chain(0), chain(1)],
  };
}

/** Serializes evidence as pretty JSON. */
export function serializeEvidence(e: EvidenceFile): string {
  return JSON.stringify(e, null, 2) + "\n";
}

// Parsing: every field is checked; anything wrong is a MalformedError naming the field.

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new MalformedError(`${field} must be an object`);
  return v as Record<string, unknown>;
}

function str(v: unknown, field: string): string {
  if (typeof v !== "string") throw new MalformedError(`${field} must be a string`);
  return v;
}

function int(v: unknown, field: string, bits: number): number {
  if (typeof v !== "number") throw new MalformedError(`${field} must be a number`);
  return checkSmallUint(v, bits, field);
}

function big(v: unknown, field: string, bits: number): bigint {
  const s = str(v, field);
  if (!/^(0|[1-9][0-9]*)$/.test(s)) throw new MalformedError(`${field} must be a decimal integer string`);
  return checkUint(BigInt(s), bits, field);
}

function hex(v: unknown, field: string, length: number): Hex {
  if (!isHexOfLength(v, length)) throw new MalformedError(`${field} must be ${length} bytes of 0x hex`);
  return v.toLowerCase() as Hex;
}

function parseTransfer(v: unknown, field: string, channelId: Hash, payer: PayerIndex): SignedTransfer {
  const r = obj(v, field);
  const t = toTransfer({
    channelId,
    payer,
    seq: int(r.seq, `${field}.seq`, 32),
    kind: int(r.kind, `${field}.kind`, 8),
    amount: big(r.amount, `${field}.amount`, 128),
    paidTotal: big(r.paidTotal, `${field}.paidTotal`, 128),
    lockedTotal: big(r.lockedTotal, `${field}.lockedTotal`, 128),
    locksRoot: toHash(str(r.locksRoot, `${field}.locksRoot`), `${field}.locksRoot`),
    hashlock: toHash(str(r.hashlock, `${field}.hashlock`), `${field}.hashlock`),
    expiry: big(r.expiry, `${field}.expiry`, 64),
    invoiceId: toHash(str(r.invoiceId, `${field}.invoiceId`), `${field}.invoiceId`),
    prev: toHash(str(r.prev, `${field}.prev`), `${field}.prev`),
  });
  return { ...t, signature: hex(r.signature, `${field}.signature`, 65) };
}

/** Parses and checks an evidence file (JSON text or parsed value). Signatures are checked by `ledgerFromEvidence`. */
export function parseEvidence(input: string | unknown): EvidenceFile {
  let value: unknown = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch {
      throw new MalformedError("the evidence file is not JSON");
    }
  }
  const r = obj(value, "evidence");
  if (r.format !== "parsec-evidence") throw new MalformedError('evidence.format must be "parsec-evidence"');
  if (r.version !== 1) throw new MalformedError("evidence.version must be 1");
  const d = obj(r.domain, "domain");
  const domain = toDomain({
    chainId: big(d.chainId, "domain.chainId", 256),
    verifyingContract: str(d.verifyingContract, "domain.verifyingContract"),
  });
  const ch = obj(r.channel, "channel");
  const params = toChannelParams({
    participant0: str(ch.participant0, "channel.participant0"),
    participant1: str(ch.participant1, "channel.participant1"),
    asset: str(ch.asset, "channel.asset"),
    challengePeriod: int(ch.challengePeriod, "channel.challengePeriod", 32),
    nonce: big(ch.nonce, "channel.nonce", 64),
  });
  const channelId = channelIdOf(domain, params);
  if (toHash(str(ch.channelId, "channel.channelId"), "channel.channelId") !== channelId) {
    throw new MalformedError("channel.channelId is not the id of the channel's parameters on this domain");
  }
  const deposits =
    r.deposits === null || r.deposits === undefined
      ? null
      : (() => {
          const x = obj(r.deposits, "deposits");
          return {
            deposit0: big(x.deposit0, "deposits.deposit0", 128).toString(),
            deposit1: big(x.deposit1, "deposits.deposit1", 128).toString(),
          };
        })();
  const checkpoint =
    r.checkpoint === null || r.checkpoint === undefined
      ? null
      : (() => {
          const x = obj(r.checkpoint, "checkpoint");
          return {
            seq0: int(x.seq0, "checkpoint.seq0", 32),
            head0: toHash(str(x.head0, "checkpoint.head0"), "checkpoint.head0"),
            seq1: int(x.seq1, "checkpoint.seq1", 32),
            head1: toHash(str(x.head1, "checkpoint.head1"), "checkpoint.head1"),
            sig0: hex(x.sig0, "checkpoint.sig0", 65),
            sig1: hex(x.sig1, "checkpoint.sig1", 65),
          };
        })();
  if (!Array.isArray(r.chains) || r.chains.length !== 2)
    throw new MalformedError("evidence.chains must hold two chains");
  const chains = ([0, 1] as const).map((payer): EvidenceChain => {
    const c = obj((r.chains as unknown[])[payer], `chains[${payer}]`);
    if (c.payer !== payer) throw new MalformedError(`chains[${payer}].payer must be ${payer}`);
    if (!Array.isArray(c.transfers)) throw new MalformedError(`chains[${payer}].transfers must be an array`);
    const base =
      c.base === null || c.base === undefined
        ? null
        : (() => {
            const b = obj(c.base, `chains[${payer}].base`);
            if (!Array.isArray(b.locks))
              throw new MalformedError(`chains[${payer}].base.locks must be an array`);
            const t = parseTransfer(b.transfer, `chains[${payer}].base.transfer`, channelId, payer);
            const locks = b.locks.map((l, i) => {
              const x = obj(l, `chains[${payer}].base.locks[${i}]`);
              return evidenceLock(
                toLock({
                  amount: big(x.amount, `locks[${i}].amount`, 128),
                  expiry: big(x.expiry, `locks[${i}].expiry`, 64),
                  hashlock: str(x.hashlock, `locks[${i}].hashlock`),
                }),
              );
            });
            return { transfer: evidenceTransfer(t), locks };
          })();
    const transfers = c.transfers.map((t, i) =>
      evidenceTransfer(parseTransfer(t, `chains[${payer}].transfers[${i}]`, channelId, payer)),
    );
    return { payer, base, transfers };
  });
  return {
    format: "parsec-evidence",
    version: 1,
    exportedBy: str(r.exportedBy, "exportedBy"),
    exportedAtMs: typeof r.exportedAtMs === "number" ? r.exportedAtMs : 0,
    domain: { chainId: domain.chainId.toString(), verifyingContract: domain.verifyingContract },
    channel: { channelId, ...params, nonce: params.nonce.toString() },
    deposits,
    checkpoint,
    chains: [chains[0], chains[1]],
  };
}

/** The domain and params of an evidence file. */
export function evidenceChannel(e: EvidenceFile): { domain: Domain; params: ChannelParams } {
  return {
    domain: toDomain({ chainId: BigInt(e.domain.chainId), verifyingContract: e.domain.verifyingContract }),
    params: toChannelParams({ ...e.channel, nonce: BigInt(e.channel.nonce) }),
  };
}

/**
 * Rebuilds and re-verifies a ledger from evidence: every signature, every chain rule; the checkpoint's
 * signatures too (returned separately). Throws the first error found.
 */
export function ledgerFromEvidence(
  e: EvidenceFile,
  opts: Pick<LedgerOptions, "verifySignature"> = {},
): { ledger: ChannelLedger; checkpoint: SignedCheckpoint | null } {
  const { domain, params } = evidenceChannel(e);
  const ledger = new ChannelLedger({
    domain,
    params,
    deposit0: e.deposits ? BigInt(e.deposits.deposit0) : undefined,
    deposit1: e.deposits ? BigInt(e.deposits.deposit1) : undefined,
    verifySignature: opts.verifySignature,
    // Evidence is what was signed; whether a payer overdrew is the settlement's business.
    enforceFunds: false,
  });
  for (const chain of e.chains) {
    const payer = chain.payer;
    if (chain.base) {
      const t = parseTransfer(chain.base.transfer, "base", ledger.channelId, payer);
      ledger.startAt(
        t,
        chain.base.locks.map((l) =>
          toLock({ amount: BigInt(l.amount), expiry: BigInt(l.expiry), hashlock: l.hashlock }),
        ),
      );
    }
    for (const raw of chain.transfers) ledger.apply(parseTransfer(raw, "transfer", ledger.channelId, payer));
  }
  let checkpoint: SignedCheckpoint | null = null;
  if (e.checkpoint) {
    checkpoint = { channelId: ledger.channelId, ...e.checkpoint };
    verifyCheckpoint(domain, params, checkpoint);
  }
  return { ledger, checkpoint };
}

// ---------------------------------------------------------------- dispute plan

/** One contract call of a dispute, in the order they must be sent. */
export type DisputeStep =
  | { readonly method: "checkpoint"; readonly args: readonly [Hex]; readonly description: string }
  | { readonly method: "proveHead"; readonly args: readonly [Hex]; readonly description: string }
  | { readonly method: "extendChain"; readonly args: ExtendChainArgs; readonly description: string };

/** A dispute step of `planDisputeWithConsents`: a piece may carry the payee's consents to CANCELs. */
export type ConsentedDisputeStep =
  | DisputeStep
  | {
      readonly method: "extendChainUsingConsentedCancels";
      readonly args: ExtendChainWithConsentsArgs;
      readonly description: string;
    };

export interface DisputeOptions {
  /** Chains to bring on-chain (default both; a participant usually pushes only the other side's). */
  readonly payers?: readonly PayerIndex[];
  /** The sender: when it is the payee of a chain, a one-transaction head proof replaces the extension. */
  readonly sender?: string;
  readonly maxTransfersPerPiece?: number;
}

/**
 * The calls that bring the contract from `onchain` to the newest state the evidence proves: the
 * checkpoint if it is newer, then each chosen payer's chain (head proof when the sender is its payee,
 * else chain extension in pieces). Empty when the contract is already up to date.
 */
export function planDispute(
  evidence: { ledger: ChannelLedger; checkpoint: SignedCheckpoint | null },
  onchain: OnchainState,
  opts: DisputeOptions = {},
): DisputeStep[] {
  return plan(evidence, onchain, opts, false) as DisputeStep[];
}

/**
 * `planDispute` for a ledger that holds the payee's consents to CANCELs (`addCancelConsent`): a piece
 * with such a CANCEL becomes `extendChainUsingConsentedCancels` carrying them, so it counts before the lock's
 * expiry. Without consents in the ledger it plans exactly what `planDispute` does.
 */
export function planDisputeWithConsents(
  evidence: { ledger: ChannelLedger; checkpoint: SignedCheckpoint | null },
  onchain: OnchainState,
  opts: DisputeOptions = {},
): ConsentedDisputeStep[] {
  return plan(evidence, onchain, opts, true);
}

function plan(
  evidence: { ledger: ChannelLedger; checkpoint: SignedCheckpoint | null },
  onchain: OnchainState,
  opts: DisputeOptions,
  withConsents: boolean,
): ConsentedDisputeStep[] {
  const { ledger, checkpoint } = evidence;
  let heads = onchainHeads(ledger, onchain);
  const steps: ConsentedDisputeStep[] = [];
  // First, so that no older checkpoint the counterparty holds can move the checkpoint word under a chain
  // extension that names it (head proofs name nothing and cannot be blocked that way).
  if (
    checkpoint &&
    isNewerCheckpoint(checkpoint, heads.checkpoint) &&
    (checkpoint.seq0 > heads.seq0 || checkpoint.seq1 > heads.seq1)
  ) {
    steps.push({
      method: "checkpoint",
      args: checkpointArgs(ledger.params, checkpoint),
      description: `checkpoint to seqs (${checkpoint.seq0}, ${checkpoint.seq1})`,
    });
    heads = withCheckpoint(heads, checkpoint);
  }
  const sender = opts.sender ? toAddress(opts.sender) : undefined;
  for (const payer of opts.payers ?? ([0, 1] as const)) {
    const have = ledger.state(payer).seq;
    const onchainSeq = payer === 0 ? heads.seq0 : heads.seq1;
    if (have <= onchainSeq) continue;
    const payee = payer === 0 ? ledger.params.participant1 : ledger.params.participant0;
    const latest = ledger.transfer(payer, have);
    if (sender === payee) {
      steps.push({
        method: "proveHead",
        args: proveHeadArgs(headProof(ledger, payer, heads)),
        description: `head proof of payer ${payer} at seq ${have}`,
      });
    } else {
      const pieces = chainProof(ledger, payer, heads, { maxTransfersPerPiece: opts.maxTransfersPerPiece });
      pieces.forEach((args, i) => {
        const description = `chain of payer ${payer} to seq ${have}, piece ${i + 1}/${pieces.length}`;
        // A piece with CANCELs the payee consented to carries the consents: they count whether the CANCEL
        // is still early when the transaction lands or not (the contract reads a consent only if needed).
        const consents = withConsents ? consentsOfPiece(ledger, payer, args) : [];
        if (consents.length === 0) steps.push({ method: "extendChain", args, description });
        else
          steps.push({
            method: "extendChainUsingConsentedCancels",
            args: [...args, bytesArg(encodeCancelConsentRecords(consents))],
            description: `${description}, with ${consents.length} CANCEL consent(s)`,
          });
      });
    }
    heads = withProvenHead(heads, payer, have, latest.hash);
  }
  return steps;
}

/** The ledger's consents to CANCELs among the transfers of an `extendChain` piece. */
function consentsOfPiece(ledger: ChannelLedger, payer: PayerIndex, args: ExtendChainArgs) {
  const transfers = decodeSignedTransfers(fromHex(args[5]), { channelId: ledger.channelId, payer });
  const cancels = new Set(transfers.filter((t) => t.kind === TransferKind.Cancel).map((t) => t.seq));
  if (cancels.size === 0) return [];
  const from = transfers[0].seq - 1;
  return ledger.cancelConsents(payer, from, from + transfers.length).filter((c) => cancels.has(c.seq));
}

/** Whether an error is one `planDispute` reports for evidence that cannot be used as is. */
export function isEvidenceError(e: unknown): boolean {
  return (
    isParsecError(e) && (e.code === "StateMismatch" || e.code === "Malformed" || e.code === "BadSignature")
  );
}
