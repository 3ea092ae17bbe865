/**
 * The node's Kafka records in words: settlement events (what the node did on-chain), dead letters (what it
 * refused, and why), and how a settlement event answers a control request. Pure: no Kafka, no chain.
 */
import type { ControlAction, DeadLetter, SettlementAction, SettlementEvent } from "../../sdk";
import type { TopicNames } from "../../relayer/src/config";

/** The control actions an operator may send, by their command-line name. */
export const CONTROL_ACTIONS: Readonly<Record<string, Exclude<ControlAction, "UNKNOWN">>> = {
  "settle-now": "SETTLE_NOW",
  dispute: "DISPUTE",
  "checkpoint-now": "CHECKPOINT_NOW",
};

const ACTION_WORDS: Readonly<Record<SettlementAction, string>> = {
  CHECKPOINT: "co-signed checkpoint",
  HEAD_PROOF: "head proof",
  CHAIN_EXTENSION: "chain proof (extendChain)",
  CLOSE: "unilateral close",
  SETTLE: "settlement after the challenge period",
  COOPERATIVE_CLOSE: "cooperative close",
  EQUIVOCATION_PROOF: "equivocation proof",
  RESOLVE_LOCKS: "lock resolution (resolveLocks)",
  OTHER: "action",
};

/** 67458 → "67,458". */
function grouped(n: number): string {
  return n.toLocaleString("en-US");
}

function when(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : "(no time)";
}

/** One line: when, which channel, what the node did and how it went, the transaction and its gas. */
export function describeSettlement(e: SettlementEvent): string {
  const parts = [`${when(e.atMs)} channel ${e.channelId}: ${ACTION_WORDS[e.action]}`];
  switch (e.status) {
    case "CONFIRMED":
      parts.push("confirmed");
      break;
    case "SUBMITTED":
      parts.push("submitted");
      break;
    case "SKIPPED":
      parts.push(`skipped${e.detail ? ` by the contract (${e.detail})` : ""}`);
      break;
    case "FAILED":
      parts.push(`FAILED${e.detail ? `: ${e.detail}` : ""}`);
      break;
    default:
      parts.push(e.status.toLowerCase());
  }
  if (e.seq0 !== 0 || e.seq1 !== 0) parts.push(`at seqs (${e.seq0}, ${e.seq1})`);
  let line = parts.join(" ");
  const extra: string[] = [];
  if (e.txHash) extra.push(`tx ${e.txHash}`);
  if (e.gasUsed !== null) extra.push(`gas ${grouped(e.gasUsed)}`);
  const split = e.detail?.match(/^(\d+)\/(\d+)$/);
  if (e.action === "COOPERATIVE_CLOSE" && split)
    extra.push(`paid P0 ${split[1]} and P1 ${split[2]} (base units)`);
  else if (e.detail && e.status !== "FAILED" && e.status !== "SKIPPED") extra.push(e.detail);
  if (extra.length > 0) line += `: ${extra.join(", ")}`;
  if (e.requestId) line += ` [answers request ${e.requestId}]`;
  return line;
}

function inputKind(topic: string, topics: TopicNames): string {
  if (topic === topics.transfers) return "a transfer";
  if (topic === topics.control) return "a control request";
  if (topic === topics.checkpointSignatures) return "a checkpoint signature";
  return "a record";
}

/** A dead letter's reason: its code, then its text (which often starts with the code again: said once). */
export function deadLetterReason(d: Pick<DeadLetter, "reasonCode" | "reasonText">): string {
  const text = d.reasonText.startsWith(`${d.reasonCode}:`)
    ? d.reasonText.slice(d.reasonCode.length + 1).trim()
    : d.reasonText;
  return `${d.reasonCode}: ${text}`;
}

/** One line: when, what was refused (which input, where in the log, which channel), the reason code and text. */
export function describeDeadLetter(d: DeadLetter, topics: TopicNames): string {
  const channel = d.channelId ? ` for channel ${d.channelId}` : "";
  return (
    `${when(d.failedAtMs)} dead letter: ${inputKind(d.topic, topics)}${channel} ` +
    `(${d.topic} partition ${d.partition} offset ${d.offset}) was refused: ${deadLetterReason(d)}`
  );
}

/** How a settlement event bears on a control request: not at all, a step, its end, or its failure. */
export type ControlVerdict = "unrelated" | "progress" | "done" | "failed";

/**
 * The verdict of event `e` on the control request `requestId` (`action`) for its channel. The node echoes
 * the request id on what it does for SETTLE_NOW and DISPUTE; a CHECKPOINT_NOW only makes the channel due,
 * so its answer is the channel's next commit. The watchtower's settle (no request id) also ends a SETTLE_NOW.
 */
export function controlVerdict(
  action: Exclude<ControlAction, "UNKNOWN">,
  requestId: string,
  e: SettlementEvent,
): ControlVerdict {
  if (e.requestId !== null && e.requestId !== requestId) return "unrelated";
  const mine = e.requestId === requestId;
  switch (action) {
    case "CHECKPOINT_NOW":
      if (e.action !== "CHECKPOINT" && e.action !== "HEAD_PROOF" && e.action !== "CHAIN_EXTENSION")
        return "progress";
      if (e.status === "FAILED") return "failed";
      return e.status === "CONFIRMED" || e.status === "SKIPPED" ? "done" : "progress";
    case "SETTLE_NOW":
      if (mine && e.status === "FAILED") return "failed";
      // A settled channel is answered SKIPPED (as CLOSE); a skipped evidence step is only a step.
      if (mine && e.status === "SKIPPED" && e.action === "CLOSE") return "done";
      if (e.status !== "CONFIRMED") return "progress";
      if (e.action === "COOPERATIVE_CLOSE" || e.action === "SETTLE") return "done";
      return mine && e.action === "CLOSE" ? "done" : "progress";
    case "DISPUTE":
      if (mine && e.status === "FAILED") return "failed";
      return mine && e.status === "SKIPPED" ? "done" : "progress";
  }
}

/** What the final event of a control request means for the channel. */
export function outcomeWords(e: SettlementEvent): string {
  if (e.status === "FAILED") return `the node could not do it: ${e.detail ?? "no reason given"}`;
  const commit = e.action === "CHECKPOINT" || e.action === "HEAD_PROOF" || e.action === "CHAIN_EXTENSION";
  if (e.status === "SKIPPED") {
    if (commit && e.detail !== "the chain already holds the newest state")
      return `the contract skipped the commit (${e.detail ?? "no reason given"})`;
    return `nothing to do: ${e.detail === "the chain already holds the newest state" ? "the chain already holds the node's newest state" : (e.detail ?? "the node skipped it")}`;
  }
  switch (e.action) {
    case "COOPERATIVE_CLOSE":
      return "the channel is closed cooperatively and paid out";
    case "SETTLE":
      return "the channel is settled and paid out";
    case "CLOSE":
      return "the channel is closing: the node's watchtower settles it when the challenge period ends";
    case "CHECKPOINT":
    case "HEAD_PROOF":
    case "CHAIN_EXTENSION":
      return `committed: the chain now holds seqs (${e.seq0}, ${e.seq1})`;
    default:
      return `${ACTION_WORDS[e.action]} ${e.status.toLowerCase()}`;
  }
}

/** Why a control request may have no answer within the wait, and where to look. */
export function silenceHint(action: Exclude<ControlAction, "UNKNOWN">): string {
  const common =
    "is a node of the group running with these topics (--prefix) and a submitter key? `npx hardhat node:follow` shows what the nodes publish";
  switch (action) {
    case "CHECKPOINT_NOW":
      return `the node commits only when it holds transfers newer than the chain's (none may be pending), and needs both signatures or the payee's key; ${common}`;
    case "SETTLE_NOW":
      return `a node holding one participant key answers a closing channel by letting its watchtower settle when the challenge period ends; ${common}`;
    case "DISPUTE":
      return common;
  }
}
