/**
 * The SDK's JSON forms of signed transfers and peer messages (sdk/src/json.ts), which the node's HTTP
 * payments API and browser wallets exchange: exact round trips for every kind, JSON-safe output, the same
 * body fields as evidence files, and refusals that name the field.
 */
import { expect } from "chai";
import { sha256 } from "ethers";
import {
  exportEvidence,
  paymentMessageFromJson,
  paymentMessageToJson,
  signPaymentMessage,
  signedTransferFromJson,
  signedTransferToJson,
  type Hash,
  type PaymentMessage,
  type UnsignedPaymentMessage,
} from "../../sdk";
import { expectCode, ledgerOf, makeChannel, signChain } from "./helpers";

const ch = makeChannel();
const preimage = `0x${"ab".repeat(32)}` as Hash;
const hashlock = sha256(preimage) as Hash;
const lock = { amount: 500n, expiry: 2_000_000_000n, hashlock };
// One chain with every kind: PAY, LOCK, UNLOCK, LOCK, CANCEL.
const { transfers } = signChain(ch, 0, [
  { kind: "PAY", amount: 7n },
  { kind: "LOCK", ...lock },
  { kind: "UNLOCK", lock },
  { kind: "LOCK", ...lock, amount: 9n },
  { kind: "CANCEL", lock: { ...lock, amount: 9n } },
]);
const signed = transfers.map(({ hash: _hash, ...t }) => t);

/** Through text, as over HTTP. */
const wire = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));

describe("sdk: JSON forms of transfers and peer messages", () => {
  it("a signed transfer of every kind round-trips exactly, through JSON text", () => {
    for (const t of signed) expect(signedTransferFromJson(wire(signedTransferToJson(t)))).to.deep.equal(t);
  });

  it("uses the evidence file's body fields (decimal strings, 0x hex) plus channelId, payer and signature", () => {
    const ledger = ledgerOf(ch);
    for (const t of signed) ledger.apply(t);
    const evidence = exportEvidence(ledger, { exportedBy: "test" });
    const json = signedTransferToJson(signed[1]);
    expect(json).to.deep.equal({ channelId: ch.channelId, payer: 0, ...evidence.chains[0].transfers[1] });
    expect(json).to.include({ amount: "500", expiry: "2000000000", seq: 2, kind: 1 });
  });

  it("refuses a malformed transfer naming the field", () => {
    const json = signedTransferToJson(signed[0]);
    const cases: [unknown, string, RegExp][] = [
      [null, "Malformed", /transfer must be an object/],
      [{ ...json, amount: 7 }, "Malformed", /transfer\.amount must be a decimal integer string/],
      [{ ...json, amount: "07" }, "Malformed", /transfer\.amount/],
      [{ ...json, paidTotal: (1n << 128n).toString() }, "Overflow", /transfer\.paidTotal/],
      [{ ...json, seq: 1.5 }, "Malformed", /transfer\.seq/],
      [{ ...json, payer: "0" }, "Malformed", /transfer\.payer must be 0 or 1/],
      [{ ...json, channelId: "0x12" }, "Malformed", /transfer\.channelId must be 32 bytes/],
      [{ ...json, signature: undefined }, "Malformed", /transfer\.signature must be 65 bytes/],
      // A PAY with a hashlock is not a PAY (the SDK's kind rules).
      [{ ...json, hashlock }, "InvalidTransferFields", /a PAY must have hashlock = 0x0/],
    ];
    for (const [v, code, message] of cases)
      expect(expectCode(() => signedTransferFromJson(v), code).message).to.match(message);
  });

  const about = { channelId: ch.channelId, payer: 0 as const, seq: 2n, hashlock };
  const bodies: UnsignedPaymentMessage[] = [
    { ...about, kind: "SECRET", secret: preimage },
    { ...about, kind: "FAIL", failure: `0x${"11".repeat(288)}` },
    { ...about, kind: "ACK" },
    {
      ...about,
      kind: "CONSENT",
      consent: { seq: 5, transfer: signed[4].prev, signature: `0x${"22".repeat(65)}` },
    },
  ];
  const messages: PaymentMessage[] = bodies.map((m) =>
    signPaymentMessage(ch.signers[1], ch.domain, m, 1_764_000_000_000),
  );

  it("a peer message of every kind round-trips exactly, through JSON text (seq and chainId as strings)", () => {
    for (const m of messages) {
      const json = paymentMessageToJson(m);
      expect(json.seq).to.equal("2");
      expect(json.domain.chainId).to.equal("31337");
      expect(paymentMessageFromJson(wire(json))).to.deep.equal(m);
    }
  });

  it("refuses a malformed peer message naming the field", () => {
    const json = paymentMessageToJson(messages[0]);
    const cases: [unknown, RegExp][] = [
      [[], /message must be an object/],
      [{ ...json, seq: 2 }, /message\.seq must be a decimal integer string/],
      [{ ...json, seq: "0" }, /message\.seq must be 1/],
      [{ ...json, kind: "PING" }, /message\.kind must be one of SECRET, FAIL, ACK, CONSENT/],
      [{ ...json, secret: "0x00" }, /message\.secret must be 32 bytes/],
      [{ ...json, domain: { chainId: 31337 } }, /message\.domain\.chainId/],
      [{ ...json, sender: "0xnot" }, /message\.sender/],
      [{ ...json, sentAtMs: -1 }, /message\.sentAtMs/],
      [{ ...paymentMessageToJson(messages[1]), failure: "0x1" }, /message\.failure must be 0x hex/],
      [{ ...paymentMessageToJson(messages[3]), consent: { seq: 5 } }, /message\.consent\.transfer/],
    ];
    for (const [v, message] of cases)
      expect(expectCode(() => paymentMessageFromJson(v), "Malformed").message).to.match(message);
  });
});
