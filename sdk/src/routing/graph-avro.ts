/**
 * The channel-graph topic's Avro message (`channel-update.v1.avsc`, protocol §11.2), registered in
 * `avro/messages.ts` as `codecs().channelUpdate`. Node only (Buffers).
 */
import { checkSmallUint, checkUint, fromHex, readUint, toAddress, toHex, writeUint } from "../bytes";
import { MalformedError } from "../errors";
import type { Address, Domain, Hash, Hex } from "../types";
import { toDomain } from "../validate";
import type { MessageMapping } from "../avro/codec";
import { checkChannelUpdate, type SignedChannelUpdate } from "./graph";

/** A signed channel update as it travels on the channel-graph topic. */
export interface ChannelUpdateMessage {
  readonly schemaVersion: number;
  readonly domain: Domain;
  readonly update: SignedChannelUpdate;
  /** The forwarding participant; readers check that the signature recovers to it. */
  readonly announcer: Address;
  /** Producer wall clock, Unix ms; 0 when unknown. */
  readonly sentAtMs: number;
}

function bytes(r: Record<string, unknown>, field: string, length: number): Uint8Array {
  const v = r[field];
  if (!(v instanceof Uint8Array) || v.length !== length)
    throw new MalformedError(`${field} must be ${length} bytes`);
  return v;
}

function uint(value: bigint, size: number, field: string): Buffer {
  checkUint(value, size * 8, field);
  const out = Buffer.alloc(size);
  writeUint(out, 0, size, value);
  return out;
}

function int(r: Record<string, unknown>, field: string): number {
  const v = r[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new MalformedError(`${field} must be an integer`);
  return v;
}

/** The mapping between `ChannelUpdateMessage` and its Avro record. */
export const channelUpdateMapping: MessageMapping<ChannelUpdateMessage> = {
  toAvro(m) {
    const u = checkChannelUpdate(m.update);
    if (m.domain.chainId > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new MalformedError("Avro messages carry chain ids up to 2^53 − 1");
    }
    return {
      schemaVersion: m.schemaVersion,
      chainId: Number(m.domain.chainId),
      verifyingContract: Buffer.from(fromHex(m.domain.verifyingContract, "verifyingContract", 20)),
      channelId: Buffer.from(fromHex(u.channelId, "channelId", 32)),
      direction: u.direction,
      announcer: Buffer.from(fromHex(m.announcer, "announcer", 20)),
      timestamp: uint(u.timestamp, 8, "timestamp"),
      capacity: uint(u.capacity, 16, "capacity"),
      feeBase: uint(u.feeBase, 16, "feeBase"),
      feePpm: checkSmallUint(u.feePpm, 32, "feePpm"),
      expiryDelta: checkSmallUint(u.expiryDelta, 32, "expiryDelta"),
      htlcMinimum: uint(u.htlcMinimum, 16, "htlcMinimum"),
      htlcMaximum: uint(u.htlcMaximum, 16, "htlcMaximum"),
      disabled: u.disabled,
      signature: Buffer.from(fromHex(m.update.signature, "signature", 65)),
      sentAtMs: m.sentAtMs,
    };
  },
  fromAvro(r) {
    const chainId = int(r, "chainId");
    if (chainId < 0) throw new MalformedError("chainId must not be negative");
    const direction = int(r, "direction");
    if (direction !== 0 && direction !== 1) throw new MalformedError("direction must be 0 or 1");
    if (typeof r.disabled !== "boolean") throw new MalformedError("disabled must be a boolean");
    const update = checkChannelUpdate({
      channelId: toHex(bytes(r, "channelId", 32)) as Hash,
      direction,
      timestamp: readUint(bytes(r, "timestamp", 8), 0, 8),
      capacity: readUint(bytes(r, "capacity", 16), 0, 16),
      feeBase: readUint(bytes(r, "feeBase", 16), 0, 16),
      feePpm: checkSmallUint(int(r, "feePpm"), 32, "feePpm"),
      expiryDelta: checkSmallUint(int(r, "expiryDelta"), 32, "expiryDelta"),
      htlcMinimum: readUint(bytes(r, "htlcMinimum", 16), 0, 16),
      htlcMaximum: readUint(bytes(r, "htlcMaximum", 16), 0, 16),
      disabled: r.disabled,
    });
    return {
      schemaVersion: int(r, "schemaVersion"),
      domain: toDomain({
        chainId: BigInt(chainId),
        verifyingContract: toHex(bytes(r, "verifyingContract", 20)),
      }),
      update: { ...update, signature: toHex(bytes(r, "signature", 65)) as Hex },
      announcer: toAddress(toHex(bytes(r, "announcer", 20)), "announcer"),
      sentAtMs: int(r, "sentAtMs"),
    };
  },
};

/** A channel-update message for a signed update. */
export function channelUpdateMessage(
  domain: Domain,
  update: SignedChannelUpdate,
  announcer: Address,
  sentAtMs = 0,
): ChannelUpdateMessage {
  return { schemaVersion: 1, domain, update, announcer, sentAtMs };
}
