/**
 * The commit services' decisions as tables, without Kafka or a chain: each row is (state, on-chain view,
 * now) → decision, with a fake clock where time matters.
 */
import { expect } from "chai";
import type { Hash, Lock } from "../../sdk";
import type { RetryConfig } from "../../relayer/src/config";
import { decideRequest, outcomeActionOf } from "../../relayer/src/commit/control/decide";
import { MinedCommits, checkpointNeeded, headNeeded } from "../../relayer/src/commit/core/mined";
import {
  CLAIM_TTL_MS,
  decideSlot,
  mayPreempt,
  type ActionKind,
} from "../../relayer/src/commit/core/priority";
import { backoffDelay, nextStep, recordFailure } from "../../relayer/src/commit/core/retry";
import { potDue } from "../../relayer/src/commit/locks/decide";
import { chooseFallback, decideCommit, type CommitInput } from "../../relayer/src/commit/policy/decide";
import { decideFraudProof, decideWatch, type WatchInput } from "../../relayer/src/commit/watchtower/decide";

const ID = `0x${"ab".repeat(32)}` as Hash;
const NOW = 1_000_000;

describe("relayer unit: commit policy decisions", () => {
  const base: CommitInput = {
    status: "OPEN",
    ahead: true,
    proposal: null,
    checkpointNeeded: false,
    blocked: false,
    commitDue: false,
    uncommittedSinceMs: NOW - 1000,
    nowMs: NOW,
    checkpointTimeoutMs: 60_000,
    signatureTimeoutMs: 10_000,
  };
  const rows: [string, Partial<CommitInput>, string][] = [
    ["nothing ahead of the chain → forget", { ahead: false }, "forget"],
    ["settled → forget", { status: "SETTLED" }, "forget"],
    ["closing → the watchtower's", { status: "CLOSING" }, "skip"],
    ["another action holds the channel → wait", { blocked: true, commitDue: true }, "wait"],
    ["m-th transfer → propose", { commitDue: true }, "propose"],
    ["uncommitted for checkpoint_timeout → propose", { uncommittedSinceMs: NOW - 60_000 }, "propose"],
    ["young, not due → wait", {}, "wait"],
    [
      "proposal within the signature timeout → wait",
      { proposal: { signed: false, waitingSinceMs: NOW - 9_999 } },
      "wait",
    ],
    [
      "proposal past signatureTimeoutMs → fallback",
      { proposal: { signed: false, waitingSinceMs: NOW - 10_000 } },
      "fallback",
    ],
    [
      "restored proposal: old, but restored 2 s ago → wait (defect 7)",
      { proposal: { signed: false, waitingSinceMs: Math.max(NOW - 3_600_000, NOW - 2000) } },
      "wait",
    ],
    [
      "co-signed, chain lacks it → queue",
      { proposal: { signed: true, waitingSinceMs: NOW - 1 }, checkpointNeeded: true },
      "queue",
    ],
    [
      "co-signed, already mined (memo) → wait for the chain event, never resend",
      { proposal: { signed: true, waitingSinceMs: NOW - 3_600_000 }, checkpointNeeded: false },
      "wait",
    ],
  ];
  for (const [name, over, want] of rows) {
    it(name, () => expect(decideCommit({ ...base, ...over }).kind).to.equal(want));
  }

  it("fallback: payee key held → that payer's head proof; else chain proof if allowed; else propose again", () => {
    const table: [Parameters<typeof chooseFallback>[0], ReturnType<typeof chooseFallback>][] = [
      [
        { ahead: [true, true], payeeKeyHeld: [false, true], chainProofFallback: true, hasSubmitter: true },
        { kind: "headProof", payer: 1 },
      ],
      [
        { ahead: [true, false], payeeKeyHeld: [true, true], chainProofFallback: false, hasSubmitter: true },
        { kind: "headProof", payer: 0 },
      ],
      [
        { ahead: [false, true], payeeKeyHeld: [true, false], chainProofFallback: true, hasSubmitter: true },
        { kind: "chainProof" },
      ],
      [
        { ahead: [true, true], payeeKeyHeld: [false, false], chainProofFallback: true, hasSubmitter: false },
        { kind: "propose" },
      ],
      [
        { ahead: [true, true], payeeKeyHeld: [false, false], chainProofFallback: false, hasSubmitter: true },
        { kind: "propose" },
      ],
    ];
    for (const [input, want] of table) expect(chooseFallback(input)).to.deep.equal(want);
  });
});

describe("relayer unit: mined commits are not sent again", () => {
  const index = { seq0: 3, seq1: 1, checkpoint: { seq0: 3, seq1: 1 } };
  const cp = (seq0: number, seq1: number) => ({
    channelId: ID,
    seq0,
    seq1,
    head0: ID,
    head1: ID,
  });

  it("a checkpoint our batch applied is not needed while the index still lags", () => {
    const mined = new MinedCommits();
    expect(checkpointNeeded(cp(5, 1), mined.view(ID, index))).to.equal(true);
    mined.checkpoint(ID, { seq0: 5, seq1: 1 });
    expect(checkpointNeeded(cp(5, 1), mined.view(ID, index))).to.equal(false);
    expect(checkpointNeeded(cp(6, 1), mined.view(ID, index)), "a newer one still is").to.equal(true);
    mined.forgetIfCovered(ID, index);
    expect(checkpointNeeded(cp(5, 1), mined.view(ID, index)), "not covered yet: kept").to.equal(false);
    mined.forgetIfCovered(ID, { seq0: 5, seq1: 1, checkpoint: { seq0: 5, seq1: 1 } });
    expect(checkpointNeeded(cp(5, 1), mined.view(ID, index)), "forgotten once covered").to.equal(true);
  });

  it("a head proof our batch applied is not needed; the other payer's still is", () => {
    const mined = new MinedCommits();
    mined.head(ID, 0, 7);
    const v = mined.view(ID, index);
    expect(headNeeded(0, 7, v)).to.equal(false);
    expect(headNeeded(0, 8, v)).to.equal(true);
    expect(headNeeded(1, 2, v)).to.equal(true);
    expect(checkpointNeeded(cp(7, 1), v), "a head proof does not move the checkpoint word").to.equal(true);
  });
});

describe("relayer unit: priority between actions", () => {
  const kinds: ActionKind[] = ["fraudProof", "dispute", "evidence", "settle", "resolveLocks", "checkpoint"];

  it("only a fraud proof preempts, and only a lower action", () => {
    for (const holder of kinds) {
      for (const incoming of kinds) {
        expect(mayPreempt(incoming, holder), `${incoming} over ${holder}`).to.equal(
          incoming === "fraudProof" && holder !== "fraudProof",
        );
      }
    }
  });

  const rows: [string, Parameters<typeof decideSlot>[0], ActionKind, string][] = [
    ["free → grant", { holder: null, claim: null }, "checkpoint", "grant"],
    [
      "held by a checkpoint, fraud proof → preempt",
      { holder: "checkpoint", claim: null },
      "fraudProof",
      "preempt",
    ],
    ["held by a dispute, fraud proof → preempt", { holder: "dispute", claim: null }, "fraudProof", "preempt"],
    ["held by a checkpoint, dispute → wait", { holder: "checkpoint", claim: null }, "dispute", "wait"],
    [
      "held by a fraud proof, fraud proof → wait",
      { holder: "fraudProof", claim: null },
      "fraudProof",
      "wait",
    ],
    [
      "free, a dispute waits → a checkpoint yields",
      { holder: null, claim: { kind: "dispute", atMs: NOW - 100 } },
      "checkpoint",
      "wait",
    ],
    [
      "free, a dispute waits → the dispute is granted",
      { holder: null, claim: { kind: "dispute", atMs: NOW - 100 } },
      "dispute",
      "grant",
    ],
    [
      "free, a lapsed claim → grant",
      { holder: null, claim: { kind: "dispute", atMs: NOW - CLAIM_TTL_MS } },
      "checkpoint",
      "grant",
    ],
  ];
  for (const [name, view, incoming, want] of rows) {
    it(name, () => expect(decideSlot(view, incoming, NOW).kind).to.equal(want));
  }
});

describe("relayer unit: retries back off and are bounded", () => {
  const policy: RetryConfig = { baseDelayMs: 1000, maxDelayMs: 8000, maxAttempts: 4 };

  it("doubles from the base, capped, with jitter in [d/2, d]", () => {
    const table: [number, number, number][] = [
      // attempts, random, delay
      [1, 0, 500],
      [1, 0.999999, 1000],
      [2, 1, 2000],
      [3, 1, 4000],
      [4, 1, 8000],
      [9, 1, 8000],
      [9, 0, 4000],
    ];
    for (const [attempts, random, want] of table)
      expect(backoffDelay(policy, attempts, random), `attempt ${attempts}`).to.equal(want);
  });

  it("proceeds, waits out the backoff, and gives up after maxAttempts with the last error", () => {
    expect(nextStep(policy, undefined, NOW)).to.deep.equal({ kind: "proceed" });
    let r = recordFailure(policy, undefined, "rpc down", NOW, 1);
    expect(nextStep(policy, r, NOW + 999)).to.deep.equal({ kind: "wait", untilMs: NOW + 1000 });
    expect(nextStep(policy, r, NOW + 1000)).to.deep.equal({ kind: "proceed" });
    for (let i = 0; i < 3; i++) r = recordFailure(policy, r, `failure ${i + 2}`, NOW, 1);
    expect(r.attempts).to.equal(4);
    expect(nextStep(policy, r, NOW)).to.deep.equal({
      kind: "give-up",
      reason: "gave up after 4 attempts: failure 4",
    });
  });
});

describe("relayer unit: control request decisions", () => {
  const rows: [string, Parameters<typeof decideRequest>[0], string][] = [
    [
      "partition revoked → drop",
      { held: false, status: "OPEN", busy: false, step: { kind: "proceed" } },
      "drop",
    ],
    [
      "settled → answered SKIPPED",
      { held: true, status: "SETTLED", busy: false, step: { kind: "proceed" } },
      "settled",
    ],
    [
      // The request's own close may be mined and indexed before its action returns with the outcome.
      "settled while an action still runs → wait for it (its outcome is the answer)",
      { held: true, status: "SETTLED", busy: true, step: { kind: "proceed" } },
      "wait",
    ],
    [
      "another action holds the channel → wait",
      { held: true, status: "OPEN", busy: true, step: { kind: "proceed" } },
      "wait",
    ],
    [
      "backing off → wait",
      { held: true, status: "OPEN", busy: false, step: { kind: "wait", untilMs: NOW } },
      "wait",
    ],
    [
      "out of attempts → give up",
      { held: true, status: "CLOSING", busy: false, step: { kind: "give-up", reason: "x" } },
      "give-up",
    ],
    ["otherwise → run", { held: true, status: "CLOSING", busy: false, step: { kind: "proceed" } }, "run"],
  ];
  for (const [name, input, want] of rows) it(name, () => expect(decideRequest(input).kind).to.equal(want));

  it("a request's final outcome is reported under the action it asked for", () => {
    expect(outcomeActionOf("SETTLE_NOW")).to.equal("CLOSE");
    expect(outcomeActionOf("DISPUTE")).to.equal("CHAIN_EXTENSION");
  });
});

describe("relayer unit: watchtower decisions", () => {
  const base: WatchInput = {
    status: "CLOSING",
    held: true,
    newer: false,
    chainNow: 1000,
    closesAt: 2000,
    settleEnabled: true,
    hasSubmitter: true,
    blocked: false,
  };
  const rows: [string, Partial<WatchInput>, string][] = [
    ["not closing → drop", { status: "SETTLED" }, "drop"],
    ["closing, nothing newer, period running → wait", {}, "wait"],
    ["newer evidence within the period → evidence", { newer: true }, "evidence"],
    ["newer evidence but the period is over → settle", { newer: true, chainNow: 2000 }, "settle"],
    ["period over → settle", { chainNow: 2001 }, "settle"],
    ["period over, settling disabled → wait", { chainNow: 2001, settleEnabled: false }, "wait"],
    ["another action holds it → wait", { newer: true, blocked: true }, "wait"],
    ["not held by this node → wait", { newer: true, held: false }, "wait"],
    ["no submitter → wait", { newer: true, hasSubmitter: false }, "wait"],
  ];
  for (const [name, over, want] of rows)
    it(name, () => expect(decideWatch({ ...base, ...over }).kind).to.equal(want));

  it("fraud proofs: sent unless settled, one at a time, FAILED without a submitter", () => {
    expect(decideFraudProof({ status: "OPEN", hasSubmitter: true, busyWithFraudProof: false }).kind).to.equal(
      "prove",
    );
    expect(
      decideFraudProof({ status: "CLOSING", hasSubmitter: true, busyWithFraudProof: true }).kind,
    ).to.equal("wait");
    expect(
      decideFraudProof({ status: "SETTLED", hasSubmitter: true, busyWithFraudProof: false }),
    ).to.deep.equal({
      kind: "drop",
      reason: null,
    });
    expect(
      decideFraudProof({ status: "OPEN", hasSubmitter: false, busyWithFraudProof: false }),
    ).to.deep.equal({
      kind: "drop",
      reason: "no submitter key configured",
    });
  });
});

describe("relayer unit: lock resolution decisions", () => {
  const lock = (expiry: number): Lock => ({ amount: 1n, hashlock: ID, expiry: BigInt(expiry) });
  const rows: [string, number[], bigint, number, boolean][] = [
    // name, expiries, resolved mask, chain now, due
    ["no lock expired yet", [500, 600], 0n, 400, false],
    ["one expired → due", [500, 900], 0n, 501, true],
    ["the expired one already resolved → not due", [500, 900], 1n, 501, false],
    ["the other expires later → due then", [500, 900], 1n, 901, true],
    ["at the expiry second itself → not yet", [500], 0n, 500, false],
  ];
  for (const [name, expiries, resolved, now, due] of rows) {
    it(name, () =>
      expect(potDue({ payer: 0, locks: expiries.map(lock) }, resolved, BigInt(now))).to.equal(due),
    );
  }
});
