/**
 * The channel graph of routed payments (protocol §11.2): signed `ChannelUpdate` announcements, one per
 * channel and direction, and the graph the router reads. Pure and deterministic: the caller injects `now`
 * (Unix seconds) and the open channels (from contract events). Isomorphic (ethers' JS keccak and
 * recovery only).
 */
import { SigningKey, getBytes, keccak256 } from "ethers";
import {
  checkSmallUint,
  checkUint,
  concatBytes,
  fromHex,
  isHexOfLength,
  toAddress,
  uintWord,
} from "../bytes";
import { TYPE_HASHES, typedDataDigest, typedDataPayload, type TypedDataPayload } from "../eip712";
import { BadSignatureError, MalformedError, isParsecError } from "../errors";
import { recoverSigner, signTypedPayload, type ParsecSigner } from "../sign";
import type { Address, Domain, Hash, Hex } from "../types";

/** 0: participant0 forwards to participant1; 1: participant1 forwards to participant0. */
export type ChannelDirection = 0 | 1;

/** An update is ignored when it is older than this (14 days), at arrival and when the router reads it. */
export const DEFAULT_UPDATE_MAX_AGE_SECONDS = 1_209_600n;
/** An update is ignored when its timestamp is more than this ahead of `now` (10 minutes). */
export const DEFAULT_UPDATE_MAX_FUTURE_SECONDS = 600n;
/** The compacted topic that carries channel updates (key: `channelUpdateKey`). */
export const CHANNEL_GRAPH_TOPIC = "parsec.channel-graph";

/**
 * What a node announces about forwarding in one direction of one channel (EIP-712 `ChannelUpdate`,
 * protocol §11.2). Signed by the forwarding participant: participant0 for direction 0, participant1 for 1.
 */
export interface ChannelUpdate {
  readonly channelId: Hash;
  readonly direction: ChannelDirection;
  /** Unix seconds (uint64); a newer update of (channel, direction) has a strictly larger timestamp. */
  readonly timestamp: bigint;
  /** The most the announcer is willing to forward in this direction (uint128, base units). */
  readonly capacity: bigint;
  /** Fee base, base units of the channel's asset (uint128). */
  readonly feeBase: bigint;
  /** Proportional fee in parts per million of the forwarded amount (uint32). */
  readonly feePpm: number;
  /** Seconds the announcer adds between the lock it forwards and the lock it receives (uint32). */
  readonly expiryDelta: number;
  /** The smallest amount it forwards (uint128). */
  readonly htlcMinimum: bigint;
  /** The largest amount it forwards in one lock (uint128, at least `htlcMinimum`). */
  readonly htlcMaximum: bigint;
  /** True: it does not forward in this direction at all. */
  readonly disabled: boolean;
}

/** A channel update with the announcer's 65-byte signature. */
export type SignedChannelUpdate = ChannelUpdate & { readonly signature: Hex };

/** The fee a forwarder takes for forwarding `amount`: `feeBase + floor(amount × feePpm / 1e6)`. */
export function forwardingFee(policy: { feeBase: bigint; feePpm: number }, amount: bigint): bigint {
  return policy.feeBase + (amount * BigInt(policy.feePpm)) / 1_000_000n;
}

/** Checks a channel update's field ranges (`Malformed`/`Overflow`). */
export function checkChannelUpdate(u: ChannelUpdate): ChannelUpdate {
  if (!isHexOfLength(u.channelId, 32)) throw new MalformedError("channelId must be 32 bytes");
  if (u.direction !== 0 && u.direction !== 1) throw new MalformedError("direction must be 0 or 1");
  checkUint(u.timestamp, 64, "timestamp");
  checkUint(u.capacity, 128, "capacity");
  checkUint(u.feeBase, 128, "feeBase");
  checkSmallUint(u.feePpm, 32, "feePpm");
  checkSmallUint(u.expiryDelta, 32, "expiryDelta");
  checkUint(u.htlcMinimum, 128, "htlcMinimum");
  checkUint(u.htlcMaximum, 128, "htlcMaximum");
  if (u.htlcMinimum > u.htlcMaximum) throw new MalformedError("htlcMinimum must not exceed htlcMaximum");
  if (typeof u.disabled !== "boolean") throw new MalformedError("disabled must be a boolean");
  return u;
}

/** The EIP-712 struct hash of a `ChannelUpdate`. */
export function hashChannelUpdate(u: ChannelUpdate): Hash {
  return keccak256(
    concatBytes(
      fromHex(TYPE_HASHES.ChannelUpdate),
      fromHex(u.channelId),
      uintWord(u.direction),
      uintWord(u.timestamp),
      uintWord(u.capacity),
      uintWord(u.feeBase),
      uintWord(u.feePpm),
      uintWord(u.expiryDelta),
      uintWord(u.htlcMinimum),
      uintWord(u.htlcMaximum),
      uintWord(u.disabled ? 1 : 0),
    ),
  ) as Hash;
}

/**
 * The typed data of a channel update, as a wallet signs it. `disabled` is a JSON boolean: a strict wallet
 * (Hardhat's `eth_signTypedData_v4`) refuses 0/1 for a `bool`. The SDK's `TypedDataPayload` has only string
 * and number members, so the payload is passed through it as is.
 */
export function channelUpdateTypedData(domain: Domain, u: ChannelUpdate): TypedDataPayload {
  const payload = typedDataPayload(domain, "ChannelUpdate", {
    channelId: u.channelId,
    direction: u.direction,
    timestamp: u.timestamp.toString(),
    capacity: u.capacity.toString(),
    feeBase: u.feeBase.toString(),
    feePpm: u.feePpm,
    expiryDelta: u.expiryDelta,
    htlcMinimum: u.htlcMinimum.toString(),
    htlcMaximum: u.htlcMaximum.toString(),
  });
  return { ...payload, message: { ...payload.message, disabled: u.disabled } } as unknown as TypedDataPayload;
}

/** Signs a channel update as its announcer (participant0 for direction 0, participant1 for 1). */
export async function signChannelUpdate(
  signer: ParsecSigner,
  domain: Domain,
  update: ChannelUpdate,
): Promise<SignedChannelUpdate> {
  checkChannelUpdate(update);
  const digest = typedDataDigest(domain, hashChannelUpdate(update));
  const signature = await signTypedPayload(signer, channelUpdateTypedData(domain, update), digest);
  return { ...update, signature };
}

/** The address that signed a channel update (throws `BadSignature`). */
export function channelUpdateSigner(domain: Domain, u: SignedChannelUpdate): Address {
  return recoverSigner(typedDataDigest(domain, hashChannelUpdate(u)), u.signature);
}

/**
 * The compressed public key that signed a channel update: the announcer's routing key (§11.4: a node's
 * participant key is its onion key), so a wallet that reads the graph knows how to address each forwarder.
 */
export function channelUpdateSignerKey(domain: Domain, u: SignedChannelUpdate): Uint8Array {
  const digest = typedDataDigest(domain, hashChannelUpdate(u));
  return getBytes(SigningKey.computePublicKey(SigningKey.recoverPublicKey(digest, u.signature), true));
}

/** The key of an update on the compacted topic: `channelId || direction` (33 bytes). */
export function channelUpdateKey(channelId: Hash, direction: ChannelDirection): Uint8Array {
  return concatBytes(fromHex(channelId, "channelId", 32), new Uint8Array([direction]));
}

/** An open channel as the caller knows it from contract events (`ChannelOpened` without a settle). */
export interface OpenChannel {
  readonly participant0: Address;
  readonly participant1: Address;
  /** The zero address for ETH, else the ERC-20 token. */
  readonly asset: Address;
}

/** The open channel of an id, or `undefined` when it is unknown, closing or settled. */
export type ChannelLookup = (channelId: Hash) => OpenChannel | undefined;

/** A usable direction of a channel, as the router reads it. */
export interface GraphEdge extends ChannelUpdate {
  /** The forwarding participant (the announcer). */
  readonly from: Address;
  /** The other participant. */
  readonly to: Address;
  readonly asset: Address;
}

/** Why `applyUpdate` ignored an update. */
export type UpdateRejection =
  | "malformed"
  | "unsigned"
  | "badSignature"
  | "wrongSigner"
  | "unknownChannel"
  | "stale"
  | "future"
  | "notNewer";

/** The result of `applyUpdate`: applied, or ignored with the reason. */
export type ApplyUpdateResult =
  | { readonly applied: true; readonly replaced: boolean }
  | { readonly applied: false; readonly reason: UpdateRejection };

export interface ChannelGraphOptions {
  readonly domain: Domain;
  /** Default `DEFAULT_UPDATE_MAX_AGE_SECONDS` (14 days). */
  readonly maxAgeSeconds?: bigint;
  /** Default `DEFAULT_UPDATE_MAX_FUTURE_SECONDS` (10 minutes). */
  readonly maxFutureSeconds?: bigint;
}

function edgeKey(channelId: Hash, direction: ChannelDirection): string {
  return `${channelId}:${direction}`;
}

/**
 * The latest valid update per (channel, direction). `applyUpdate` keeps an update only if it is signed
 * by the right participant of an open channel, fresh, and newer than the one held; everything else is
 * ignored (the result says why). Reads skip updates that have become stale by the reader's `now`.
 */
export class ChannelGraph {
  readonly domain: Domain;
  readonly maxAgeSeconds: bigint;
  readonly maxFutureSeconds: bigint;
  private readonly edgesByKey = new Map<string, GraphEdge>();
  private readonly keysByChannel = new Map<Hash, Set<string>>();

  constructor(opts: ChannelGraphOptions) {
    this.domain = opts.domain;
    this.maxAgeSeconds = opts.maxAgeSeconds ?? DEFAULT_UPDATE_MAX_AGE_SECONDS;
    this.maxFutureSeconds = opts.maxFutureSeconds ?? DEFAULT_UPDATE_MAX_FUTURE_SECONDS;
  }

  /** Verifies and applies a signed update at `now` (Unix seconds); never throws. */
  applyUpdate(update: SignedChannelUpdate, lookup: ChannelLookup, now: bigint): ApplyUpdateResult {
    try {
      checkChannelUpdate(update);
    } catch {
      return { applied: false, reason: "malformed" };
    }
    if (typeof update.signature !== "string" || !isHexOfLength(update.signature, 65)) {
      return { applied: false, reason: "unsigned" };
    }
    if (update.timestamp > now + this.maxFutureSeconds) return { applied: false, reason: "future" };
    if (update.timestamp + this.maxAgeSeconds < now) return { applied: false, reason: "stale" };
    const key = edgeKey(update.channelId, update.direction);
    const held = this.edgesByKey.get(key);
    if (held && update.timestamp <= held.timestamp) return { applied: false, reason: "notNewer" };
    const channel = lookup(update.channelId);
    if (!channel) return { applied: false, reason: "unknownChannel" };
    let signer: Address;
    try {
      signer = channelUpdateSigner(this.domain, update);
    } catch (e) {
      if (isParsecError(e)) return { applied: false, reason: "badSignature" };
      throw e;
    }
    const from = toAddress(update.direction === 0 ? channel.participant0 : channel.participant1);
    const to = toAddress(update.direction === 0 ? channel.participant1 : channel.participant0);
    if (signer !== from) return { applied: false, reason: "wrongSigner" };
    const edge: GraphEdge = {
      channelId: update.channelId,
      direction: update.direction,
      timestamp: update.timestamp,
      capacity: update.capacity,
      feeBase: update.feeBase,
      feePpm: update.feePpm,
      expiryDelta: update.expiryDelta,
      htlcMinimum: update.htlcMinimum,
      htlcMaximum: update.htlcMaximum,
      disabled: update.disabled,
      from,
      to,
      asset: toAddress(channel.asset),
    };
    this.edgesByKey.set(key, edge);
    let keys = this.keysByChannel.get(update.channelId);
    if (!keys) this.keysByChannel.set(update.channelId, (keys = new Set()));
    keys.add(key);
    return { applied: true, replaced: held !== undefined };
  }

  /** Forgets both directions of a channel that is closing or settled (`ChannelClosing`, `cooperativeClose`…). */
  applyChannelClosed(channelId: Hash): void {
    for (const key of this.keysByChannel.get(channelId) ?? []) this.edgesByKey.delete(key);
    this.keysByChannel.delete(channelId);
  }

  /** Drops updates older than the maximum age at `now` (bounded memory for long-running nodes). */
  prune(now: bigint): number {
    let dropped = 0;
    for (const [key, edge] of this.edgesByKey) {
      if (edge.timestamp + this.maxAgeSeconds < now) {
        this.edgesByKey.delete(key);
        const keys = this.keysByChannel.get(edge.channelId);
        keys?.delete(key);
        if (keys && keys.size === 0) this.keysByChannel.delete(edge.channelId);
        dropped++;
      }
    }
    return dropped;
  }

  /** The held update of (channel, direction), fresh or not, with its endpoints. */
  edge(channelId: Hash, direction: ChannelDirection): GraphEdge | undefined {
    return this.edgesByKey.get(edgeKey(channelId, direction));
  }

  /**
   * Every edge fresh at `now` (disabled ones too: the router skips them), sorted by channel id then
   * direction, so that reads are deterministic whatever the arrival order.
   */
  edges(now: bigint): GraphEdge[] {
    const out: GraphEdge[] = [];
    for (const e of this.edgesByKey.values()) if (e.timestamp + this.maxAgeSeconds >= now) out.push(e);
    return out.sort((a, b) =>
      a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : a.direction - b.direction,
    );
  }

  /** How many (channel, direction) updates are held. */
  get size(): number {
    return this.edgesByKey.size;
  }
}

/** Throws `BadSignature` unless `u` is signed by `expected` (for callers that want an error, not a result). */
export function verifyChannelUpdate(domain: Domain, u: SignedChannelUpdate, expected: Address): void {
  const signer = channelUpdateSigner(domain, u);
  if (signer !== toAddress(expected)) {
    throw new BadSignatureError(`the channel update is signed by ${signer}, not ${expected}`);
  }
}
