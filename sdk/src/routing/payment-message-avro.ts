/**
 * The Avro mapping of a routed payment's peer message (`payment-message.v2.avsc`; v1 records read too):
 * Node-only (Buffers, the Avro codec), apart from `payment-message.ts`, which browsers import to sign and
 * check peer messages.
 */
import type { MessageMapping } from "../avro/codec";
import { fromHex, toAddress, toHex } from "../bytes";
import { MalformedError } from "../errors";
import type { Hash, PayerIndex } from "../types";
import { toDomain } from "../validate";
import { ONION_FAILURE_SIZE } from "./onion-failure";
import { checkPaymentMessage } from "./payment-message";
import type { PaymentMessage, PaymentMessageBody, UnsignedPaymentMessage } from "./payment-message-types";

function fixedOf(r: Record<string, unknown>, field: string, length: number): Uint8Array {
  const v = r[field];
  if (!(v instanceof Uint8Array) || v.length !== length)
    throw new MalformedError(`${field} must be ${length} bytes`);
  return v;
}

function intOf(r: Record<string, unknown>, field: string): number {
  const v = r[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new MalformedError(`${field} must be an integer`);
  return v;
}

/** The mapping between `PaymentMessage` and its Avro record (`payment-message.v2.avsc`; v1 records read too). */
export const paymentMessageMapping: MessageMapping<PaymentMessage> = {
  toAvro(m) {
    checkPaymentMessage(m);
    if (m.domain.chainId > BigInt(Number.MAX_SAFE_INTEGER))
      throw new MalformedError("Avro messages carry chain ids up to 2^53 − 1");
    return {
      schemaVersion: m.schemaVersion,
      chainId: Number(m.domain.chainId),
      verifyingContract: Buffer.from(fromHex(m.domain.verifyingContract, "verifyingContract", 20)),
      channelId: Buffer.from(fromHex(m.channelId, "channelId", 32)),
      payer: m.payer,
      seq: Number(m.seq),
      hashlock: Buffer.from(fromHex(m.hashlock, "hashlock", 32)),
      kind: m.kind,
      secret: m.kind === "SECRET" ? Buffer.from(fromHex(m.secret, "secret", 32)) : null,
      failure: m.kind === "FAIL" ? Buffer.from(fromHex(m.failure, "failure", ONION_FAILURE_SIZE)) : null,
      consent:
        m.kind === "CONSENT"
          ? {
              seq: m.consent.seq,
              transfer: Buffer.from(fromHex(m.consent.transfer, "consent.transfer", 32)),
              signature: Buffer.from(fromHex(m.consent.signature, "consent.signature", 65)),
            }
          : null,
      sender: Buffer.from(fromHex(m.sender, "sender", 20)),
      signature: Buffer.from(fromHex(m.signature, "signature", 65)),
      sentAtMs: m.sentAtMs,
    };
  },
  fromAvro(r) {
    const chainId = intOf(r, "chainId");
    if (chainId < 0) throw new MalformedError("chainId must not be negative");
    const payer = intOf(r, "payer");
    if (payer !== 0 && payer !== 1) throw new MalformedError("payer must be 0 or 1");
    const seq = intOf(r, "seq");
    const lock = {
      channelId: toHex(fixedOf(r, "channelId", 32)) as Hash,
      payer: payer as PayerIndex,
      seq: BigInt(seq < 0 ? 0 : seq),
      hashlock: toHex(fixedOf(r, "hashlock", 32)) as Hash,
    };
    const kind = r.kind;
    // A version 1 record has no `consent` field (undefined): the same as none.
    const consent = (r.consent ?? null) as Record<string, unknown> | null;
    if (kind !== "CONSENT" && consent !== null)
      throw new MalformedError(`a ${String(kind)} carries no consent`);
    let body: PaymentMessageBody;
    if (kind === "SECRET") {
      if (r.failure !== null) throw new MalformedError("a SECRET carries no failure");
      body = { kind, secret: toHex(fixedOf(r, "secret", 32)) as Hash };
    } else if (kind === "FAIL") {
      if (r.secret !== null) throw new MalformedError("a FAIL carries no secret");
      body = { kind, failure: toHex(fixedOf(r, "failure", ONION_FAILURE_SIZE)) };
    } else if (kind === "CONSENT") {
      if (r.secret !== null || r.failure !== null || consent === null)
        throw new MalformedError("a CONSENT carries a consent and nothing else");
      body = {
        kind,
        consent: {
          seq: intOf(consent, "seq"),
          transfer: toHex(fixedOf(consent, "transfer", 32)) as Hash,
          signature: toHex(fixedOf(consent, "signature", 65)),
        },
      };
    } else if (kind === "ACK") {
      if (r.secret !== null || r.failure !== null) throw new MalformedError("an ACK carries no body");
      body = { kind };
    } else {
      throw new MalformedError(`unknown payment message kind ${String(kind)}`);
    }
    const unsigned = checkPaymentMessage({ ...lock, ...body } as UnsignedPaymentMessage);
    return {
      ...unsigned,
      schemaVersion: intOf(r, "schemaVersion"),
      domain: toDomain({
        chainId: BigInt(chainId),
        verifyingContract: toHex(fixedOf(r, "verifyingContract", 20)),
      }),
      sender: toAddress(toHex(fixedOf(r, "sender", 20)), "sender"),
      signature: toHex(fixedOf(r, "signature", 65)),
      sentAtMs: intOf(r, "sentAtMs"),
    };
  },
};
