// The operator tasks' words, without Kafka: settlement events and dead letters as lines, and which event
// answers which control request.
import { expect } from "chai";
import { deadLetterOf, type Hash, type SettlementEvent } from "../../sdk";
import { kafkaTarget } from "../../tasks/lib/kafka";
import { controlVerdict, describeDeadLetter, describeSettlement, outcomeWords } from "../../tasks/lib/words";

const ID = `0x${"11".repeat(32)}` as Hash;
const TX = `0x${"22".repeat(32)}` as Hash;

function event(over: Partial<SettlementEvent>): SettlementEvent {
  return {
    schemaVersion: 1,
    eventId: "n/1",
    channelId: ID,
    action: "CHECKPOINT",
    status: "CONFIRMED",
    seq0: 0,
    seq1: 0,
    txHash: null,
    gasUsed: null,
    requestId: null,
    detail: null,
    atMs: Date.UTC(2025, 0, 2, 3, 4, 5),
    ...over,
  };
}

describe("operator tasks: records in words", function () {
  it("a settlement event says what the node did, how it went, the transaction and its gas", () => {
    expect(
      describeSettlement(
        event({ action: "SETTLE", seq0: 4, seq1: 2, txHash: TX, gasUsed: 81234, requestId: null }),
      ),
    ).to.equal(
      `2025-01-02T03:04:05.000Z channel ${ID}: settlement after the challenge period confirmed at seqs (4, 2): tx ${TX}, gas 81,234`,
    );
    expect(
      describeSettlement(event({ action: "CHECKPOINT", status: "SKIPPED", detail: "Stale", seq0: 1 })),
    ).to.contain("co-signed checkpoint skipped by the contract (Stale) at seqs (1, 0)");
    expect(
      describeSettlement(event({ action: "CLOSE", status: "FAILED", detail: "no key", requestId: "r-1" })),
    ).to.match(/unilateral close FAILED: no key \[answers request r-1\]$/);
  });

  it("a dead letter says what was refused, where it was, and why", () => {
    const { topics } = kafkaTarget({ brokers: "k:1" }, {});
    const d = deadLetterOf(
      { code: "BadSignature", message: "BadSignature: the signature is not the payer's" },
      { original: new Uint8Array(0), topic: topics.transfers, partition: 3, offset: 17 },
      ID,
      Date.UTC(2025, 0, 2, 3, 4, 5),
    );
    expect(describeDeadLetter(d, topics)).to.equal(
      `2025-01-02T03:04:05.000Z dead letter: a transfer for channel ${ID} (parsec.transfers partition 3 offset 17) was refused: BadSignature: the signature is not the payer's`,
    );
  });

  const verdicts: [string, Parameters<typeof controlVerdict>[0], Partial<SettlementEvent>, string][] = [
    ["another request's event", "SETTLE_NOW", { requestId: "other", action: "SETTLE" }, "unrelated"],
    ["settle-now: cooperative close", "SETTLE_NOW", { requestId: "me", action: "COOPERATIVE_CLOSE" }, "done"],
    ["settle-now: the watchtower's settle", "SETTLE_NOW", { action: "SETTLE" }, "done"],
    ["settle-now: its unilateral close", "SETTLE_NOW", { requestId: "me", action: "CLOSE" }, "done"],
    [
      "settle-now: evidence on the way",
      "SETTLE_NOW",
      { requestId: "me", action: "CHAIN_EXTENSION" },
      "progress",
    ],
    [
      "settle-now: already settled",
      "SETTLE_NOW",
      { requestId: "me", action: "CLOSE", status: "SKIPPED" },
      "done",
    ],
    [
      "settle-now: no newer evidence",
      "SETTLE_NOW",
      { requestId: "me", action: "CHAIN_EXTENSION", status: "SKIPPED" },
      "progress",
    ],
    ["settle-now: failed", "SETTLE_NOW", { requestId: "me", action: "CLOSE", status: "FAILED" }, "failed"],
    ["dispute: a piece", "DISPUTE", { requestId: "me", action: "CHAIN_EXTENSION" }, "progress"],
    [
      "dispute: nothing newer",
      "DISPUTE",
      { requestId: "me", action: "CHAIN_EXTENSION", status: "SKIPPED" },
      "done",
    ],
    ["dispute: failed", "DISPUTE", { requestId: "me", action: "HEAD_PROOF", status: "FAILED" }, "failed"],
    ["checkpoint-now: the commit", "CHECKPOINT_NOW", { action: "CHECKPOINT" }, "done"],
    ["checkpoint-now: a head proof", "CHECKPOINT_NOW", { action: "HEAD_PROOF" }, "done"],
    [
      "checkpoint-now: the batch failed",
      "CHECKPOINT_NOW",
      { action: "CHECKPOINT", status: "FAILED" },
      "failed",
    ],
    ["checkpoint-now: a lock resolution", "CHECKPOINT_NOW", { action: "RESOLVE_LOCKS" }, "progress"],
  ];
  for (const [name, action, over, verdict] of verdicts) {
    it(`answers a control request: ${name} → ${verdict}`, () => {
      expect(controlVerdict(action, "me", event(over))).to.equal(verdict);
    });
  }

  it("the outcome of the final event in words", () => {
    expect(outcomeWords(event({ action: "COOPERATIVE_CLOSE" }))).to.contain("closed cooperatively");
    expect(outcomeWords(event({ action: "CLOSE" }))).to.contain("settles it when the challenge period ends");
    expect(
      outcomeWords(
        event({
          action: "CHAIN_EXTENSION",
          status: "SKIPPED",
          detail: "the chain already holds the newest state",
        }),
      ),
    ).to.contain("nothing to do");
    expect(
      outcomeWords(event({ action: "CLOSE", status: "SKIPPED", detail: "the channel is settled" })),
    ).to.equal("nothing to do: the channel is settled");
    expect(outcomeWords(event({ action: "CHECKPOINT", status: "SKIPPED", detail: "Stale" }))).to.contain(
      "the contract skipped the commit (Stale)",
    );
    expect(outcomeWords(event({ action: "CHECKPOINT", seq0: 5, seq1: 3 }))).to.equal(
      "committed: the chain now holds seqs (5, 3)",
    );
  });
});
