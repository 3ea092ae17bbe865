/**
 * The forwarding onion (protocol §11.4), a Sphinx-style mix packet: the payer wraps each hop's
 * instructions (next channel, amount, expiry) in a layer only that hop's routing key opens, so a mediator
 * learns its previous hop, its next hop and what it forwards, but not the payer, the payee or its position.
 *
 * Packet (2,786 bytes): `version (1) || ephemeralKey (33) || routingInfo (20 × 136) || hmac (32)`.
 *
 * ```ts
 * const { packet, sharedSecrets } = createOnion({ hops, associatedData: hashlock });
 * // at each hop:
 * const { payload, next, sharedSecret } = peelOnion(packet, nodePrivateKey, hashlock);
 * ```
 */
import { toHex } from "../bytes";
import { OnionHmacMismatchError, OnionMalformedError, OnionVersionError } from "../errors";
import {
  basePoint,
  blindingOf,
  multiplyPoint,
  constantTimeEqual,
  deriveKey,
  keystream,
  mac,
  mulScalars,
  onionBytes,
  pointOf,
  randomKey,
  scalarOf,
  sharedSecretOf,
  type OnionBytes,
} from "./onion-crypto";
import {
  decodeOnionPayload,
  encodeOnionPayload,
  ONION_PAYLOAD_SIZE,
  type OnionPayload,
} from "./onion-payload";

/** The packet version this SDK builds and reads. */
export const ONION_VERSION = 1;
/** Most hops one onion can carry (the payee included). */
export const ONION_MAX_HOPS = 20;
/** Bytes of one hop's frame: its payload and the HMAC of the packet the next hop receives. */
export const ONION_FRAME_SIZE = ONION_PAYLOAD_SIZE + 32;
/** Bytes of the routing info: `ONION_MAX_HOPS` frames. */
export const ONION_ROUTING_INFO_SIZE = ONION_MAX_HOPS * ONION_FRAME_SIZE;
/** Bytes of a whole packet. */
export const ONION_PACKET_SIZE = 1 + 33 + ONION_ROUTING_INFO_SIZE + 32;

const EPHEMERAL_OFFSET = 1;
const ROUTING_OFFSET = EPHEMERAL_OFFSET + 33;
const HMAC_OFFSET = ROUTING_OFFSET + ONION_ROUTING_INFO_SIZE;

/** One hop of the route: the node's routing public key and what it must do. */
export interface OnionHop {
  /** The node's secp256k1 routing public key (33-byte compressed or 65-byte uncompressed). */
  readonly nodePublicKey: OnionBytes;
  readonly payload: OnionPayload;
}

export interface CreateOnionParameters {
  /** The hops in route order, the payee last (1 … 20; only the last payload is `final`). */
  readonly hops: readonly OnionHop[];
  /** 32 bytes; a fresh random key when omitted. Never reuse one: it links packets. */
  readonly sessionKey?: OnionBytes;
  /** Bound into every hop's HMAC: the payment's hashlock (32 bytes). */
  readonly associatedData: OnionBytes;
}

export interface CreateOnionReturnType {
  /** The packet for the first hop (`ONION_PACKET_SIZE` bytes). */
  readonly packet: Uint8Array;
  /** Each hop's shared secret, in route order: keep them to read a failure (`decodeFailure`). */
  readonly sharedSecrets: readonly Uint8Array[];
}

export interface PeelOnionReturnType {
  /** This node's instructions. */
  readonly payload: OnionPayload;
  /** Whether this node is the payee (`payload.final`). */
  readonly final: boolean;
  /** The packet to hand to the next hop with the outgoing lock; `null` at the payee. */
  readonly next: Uint8Array | null;
  /** This hop's shared secret: the key for `createFailure` / `forwardFailure`. */
  readonly sharedSecret: Uint8Array;
}

interface HopKeys {
  readonly ephemeral: ReturnType<typeof basePoint>;
  readonly sharedSecret: Uint8Array;
}

/** The per-hop ephemeral keys and shared secrets a session key gives for a route. */
function hopKeys(sessionScalar: bigint, nodeKeys: readonly OnionBytes[]): HopKeys[] {
  const out: HopKeys[] = [];
  let scalar = sessionScalar;
  for (let i = 0; i < nodeKeys.length; i++) {
    const ephemeral = basePoint(scalar);
    const sharedSecret = sharedSecretOf(pointOf(nodeKeys[i], `hops[${i}].nodePublicKey`), scalar);
    out.push({ ephemeral, sharedSecret });
    scalar = mulScalars(scalar, blindingOf(ephemeral, sharedSecret));
  }
  return out;
}

/**
 * The filler: the tail the routing info must end with at the last hop, so that every hop's HMAC covers
 * exactly the bytes that hop will see after its predecessors shifted their frames out.
 */
function fillerOf(streamKeys: readonly Uint8Array[]): Uint8Array {
  const hops = streamKeys.length;
  const filler = new Uint8Array((hops - 1) * ONION_FRAME_SIZE);
  const extended = ONION_ROUTING_INFO_SIZE + ONION_FRAME_SIZE;
  for (let i = 0; i < hops - 1; i++) {
    const stream = keystream(streamKeys[i], extended);
    const len = (i + 1) * ONION_FRAME_SIZE;
    const from = extended - len;
    for (let j = 0; j < len; j++) filler[j] ^= stream[from + j];
  }
  return filler;
}

/**
 * Builds the onion for a route. Every hop's payload travels encrypted to that hop alone; the packet has
 * the same size whatever the route's length.
 */
export function createOnion(params: CreateOnionParameters): CreateOnionReturnType {
  const { hops } = params;
  if (!Array.isArray(hops) || hops.length === 0 || hops.length > ONION_MAX_HOPS) {
    throw new OnionMalformedError(`a route has 1 … ${ONION_MAX_HOPS} hops, got ${hops?.length ?? 0}`, {
      hops: hops?.length ?? 0,
    });
  }
  hops.forEach((h, i) => {
    if (h.payload.final !== (i === hops.length - 1)) {
      throw new OnionMalformedError(`only the last hop's payload is final (hop ${i} is not as required)`, {
        hop: i,
      });
    }
  });
  const ad = onionBytes(params.associatedData, "associatedData");
  const sessionKey =
    params.sessionKey === undefined ? randomKey() : onionBytes(params.sessionKey, "sessionKey", 32);
  const keys = hopKeys(
    scalarOf(sessionKey, "sessionKey"),
    hops.map((h) => h.nodePublicKey),
  );
  const streamKeys = keys.map((k) => deriveKey(k.sharedSecret, "stream"));
  const macKeys = keys.map((k) => deriveKey(k.sharedSecret, "mac"));
  const payloads = hops.map((h) => encodeOnionPayload(h.payload));

  // Start from pseudo-random bytes (the pad stream), so the unused tail looks like every other byte.
  let routing = keystream(deriveKey(sessionKey, "pad"), ONION_ROUTING_INFO_SIZE);
  const filler = fillerOf(streamKeys);
  let nextMac: Uint8Array = new Uint8Array(32);
  for (let i = hops.length - 1; i >= 0; i--) {
    const shifted = new Uint8Array(ONION_ROUTING_INFO_SIZE);
    shifted.set(payloads[i], 0);
    shifted.set(nextMac, ONION_PAYLOAD_SIZE);
    shifted.set(routing.subarray(0, ONION_ROUTING_INFO_SIZE - ONION_FRAME_SIZE), ONION_FRAME_SIZE);
    const stream = keystream(streamKeys[i], ONION_ROUTING_INFO_SIZE);
    for (let j = 0; j < ONION_ROUTING_INFO_SIZE; j++) shifted[j] ^= stream[j];
    if (i === hops.length - 1) shifted.set(filler, ONION_ROUTING_INFO_SIZE - filler.length);
    routing = shifted;
    nextMac = mac(macKeys[i], routing, ad);
  }

  const packet = new Uint8Array(ONION_PACKET_SIZE);
  packet[0] = ONION_VERSION;
  packet.set(keys[0].ephemeral, EPHEMERAL_OFFSET);
  packet.set(routing, ROUTING_OFFSET);
  packet.set(nextMac, HMAC_OFFSET);
  return { packet, sharedSecrets: keys.map((k) => k.sharedSecret) };
}

/**
 * Opens this node's layer: checks the HMAC (bound to `associatedData`, the payment's hashlock), decrypts
 * this hop's payload and builds the packet for the next hop.
 *
 * Throws `OnionMalformedError` (length, ephemeral key, payload rules), `OnionVersionError` or
 * `OnionHmacMismatchError`; in each case the node fails the incoming lock back with `InvalidOnion`.
 */
export function peelOnion(
  packet: OnionBytes,
  nodePrivateKey: OnionBytes,
  associatedData: OnionBytes,
): PeelOnionReturnType {
  const bytes = onionBytes(packet, "packet");
  if (bytes.length !== ONION_PACKET_SIZE) {
    throw new OnionMalformedError(`packet must be ${ONION_PACKET_SIZE} bytes, got ${bytes.length}`, {
      length: bytes.length,
    });
  }
  if (bytes[0] !== ONION_VERSION) throw new OnionVersionError(bytes[0], ONION_VERSION);
  const ad = onionBytes(associatedData, "associatedData");
  const nodeScalar = scalarOf(nodePrivateKey, "nodePrivateKey");
  const ephemeral = pointOf(bytes.subarray(EPHEMERAL_OFFSET, ROUTING_OFFSET), "ephemeral key");
  const sharedSecret = sharedSecretOf(ephemeral, nodeScalar);

  const routing = bytes.subarray(ROUTING_OFFSET, HMAC_OFFSET);
  const expected = mac(deriveKey(sharedSecret, "mac"), routing, ad);
  if (!constantTimeEqual(expected, bytes.subarray(HMAC_OFFSET))) {
    throw new OnionHmacMismatchError({ ephemeralKey: toHex(bytes, EPHEMERAL_OFFSET, ROUTING_OFFSET) });
  }

  // Append a zero frame, decrypt, and shift this hop's frame out.
  const extended = new Uint8Array(ONION_ROUTING_INFO_SIZE + ONION_FRAME_SIZE);
  extended.set(routing, 0);
  const stream = keystream(deriveKey(sharedSecret, "stream"), extended.length);
  for (let j = 0; j < extended.length; j++) extended[j] ^= stream[j];
  const payload = decodeOnionPayload(extended.subarray(0, ONION_PAYLOAD_SIZE));
  const nextMac = extended.subarray(ONION_PAYLOAD_SIZE, ONION_FRAME_SIZE);

  if (payload.final) {
    if (nextMac.some((b) => b !== 0))
      throw new OnionMalformedError("the final frame's next HMAC is not zero");
    return { payload, final: true, next: null, sharedSecret };
  }
  const next = new Uint8Array(ONION_PACKET_SIZE);
  next[0] = ONION_VERSION;
  next.set(multiplyPoint(ephemeral, blindingOf(ephemeral, sharedSecret)), EPHEMERAL_OFFSET);
  next.set(extended.subarray(ONION_FRAME_SIZE), ROUTING_OFFSET);
  next.set(nextMac, HMAC_OFFSET);
  return { payload, final: false, next, sharedSecret };
}
