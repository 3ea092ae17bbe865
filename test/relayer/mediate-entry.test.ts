// The mediation bytes of a channel snapshot (unit): each entry's JSON is memoised (a channel's flush
// re-writes every payment in flight), so the encoding must stay the very text of JSON.stringify over
// the whole state, follow an entry that was replaced, and read back.
import { expect } from "chai";
import {
  decodeMediation,
  encodeMediation,
  type InboxEntry,
  type PaymentEntry,
} from "../../relayer/src/mediate/entry";

const bigints = (_: string, v: unknown): unknown => (typeof v === "bigint" ? { $n: v.toString() } : v);

/** A payment entry as the encoder sees it: plain data with bigints (its record's state decides "in flight"). */
function entry(state: string, amount: bigint, extra: Record<string, unknown> = {}): PaymentEntry {
  return {
    record: { state, amountIn: amount, expiryIn: 1_700_000_000n, note: 'quote " and \\ backslash' },
    upstream: 0,
    upstreamResolved: null,
    sharedSecret: `0x${"ab".repeat(32)}`,
    next: null,
    op: { kind: "LOCK", seq: 7 },
    updatedAt: 1_700_000_100n,
    ...extra,
  } as unknown as PaymentEntry;
}

describe("relayer unit: a channel's mediation bytes", () => {
  it("are JSON.stringify's text of the state in flight, follow a replaced entry and read back", () => {
    const payments = new Map<string, PaymentEntry>([
      ["0/1", entry("FORWARDED", 5n)],
      ["0/2", entry("CANCELLED_UPSTREAM", 6n)],
      ["1/3", entry("SETTLED_DOWNSTREAM", 10n ** 30n)],
    ]);
    const inbox = new Map<string, InboxEntry>([
      ["1/4/SECRET", { kind: "SECRET", seq: 4, secret: `0x${"cd".repeat(32)}`, at: 9n }],
    ]);
    const plain = (): string =>
      JSON.stringify(
        { v: 1, payments: [...payments].filter(([k]) => k !== "0/2"), inbox: [...inbox] },
        bigints,
      );
    expect(Buffer.from(encodeMediation({ payments, inbox })).toString("utf8")).to.equal(plain());

    // Encoded once (memoised), then the entry is replaced, as the book does on every change.
    payments.set("0/1", entry("SETTLED_DOWNSTREAM", 5n, { next: "0x01" }));
    const bytes = encodeMediation({ payments, inbox });
    expect(Buffer.from(bytes).toString("utf8")).to.equal(plain());
    const back = decodeMediation(bytes);
    expect([...back.payments.keys()]).to.deep.equal(["0/1", "1/3"]);
    expect((back.payments.get("1/3")?.record as unknown as { amountIn: bigint }).amountIn).to.equal(
      10n ** 30n,
    );
    expect(back.payments.get("0/1")?.next).to.equal("0x01");
    expect(back.inbox.get("1/4/SECRET")).to.deep.equal(inbox.get("1/4/SECRET"));
  });

  it("is empty when nothing is in flight and the inbox is empty", () => {
    const payments = new Map([["0/1", entry("CANCELLED_UPSTREAM", 1n)]]);
    expect(encodeMediation({ payments, inbox: new Map() }).length).to.equal(0);
  });
});
