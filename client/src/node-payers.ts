/**
 * Each payer's chain as a Parsec node holds it (`GET /channels/:id` → `payers`): what a wallet compares
 * its own journal with before it signs, and what it learns it has received. Isomorphic.
 */
import { toHash, toLock, type Lock, type PayerState } from "../../sdk/isomorphic";

/** One payer's state at the node: its applied head, and the seqs it holds but has not applied yet. */
export interface NodePayerView extends PayerState {
  /** Seqs received but waiting (a gap before them, or funds not covered yet), in order. */
  readonly waitingInWindow: readonly number[];
}

type Json = Record<string, unknown>;

function big(v: unknown): bigint | null {
  return typeof v === "string" && /^\d+$/.test(v) ? BigInt(v) : null;
}

function payerOf(raw: unknown): NodePayerView | null {
  if (raw === null || typeof raw !== "object") return null;
  const p = raw as Json;
  const paidTotal = big(p.paidTotal);
  const lockedTotal = big(p.lockedTotal);
  if (typeof p.seq !== "number" || !Number.isSafeInteger(p.seq) || p.seq < 0) return null;
  if (paidTotal === null || lockedTotal === null || !Array.isArray(p.pendingLocks)) return null;
  try {
    const locks: Lock[] = p.pendingLocks.map((l: unknown) => {
      const lock = (l ?? {}) as Json;
      const amount = big(lock.amount);
      const expiry = big(lock.expiry);
      if (amount === null || expiry === null) throw new Error("a pending lock without amount or expiry");
      return toLock({ amount, expiry, hashlock: String(lock.hashlock) });
    });
    const waiting = Array.isArray(p.waitingInWindow)
      ? p.waitingInWindow.filter((s): s is number => typeof s === "number")
      : [];
    return {
      seq: p.seq,
      head: toHash(String(p.head), "head"),
      paidTotal,
      lockedTotal,
      locksRoot: toHash(String(p.locksRoot), "locksRoot"),
      locks,
      waitingInWindow: waiting,
    };
  } catch {
    return null;
  }
}

/**
 * Both payers' views from the node's channel JSON (`RelayerChannel.raw`), or `null` when the answer has
 * no well-formed `payers` (a node that does not hold the channel, or an older node).
 */
export function nodePayerViews(raw: unknown): readonly [NodePayerView, NodePayerView] | null {
  const payers = raw !== null && typeof raw === "object" ? (raw as Json).payers : undefined;
  if (!Array.isArray(payers) || payers.length !== 2) return null;
  const p0 = payerOf(payers[0]);
  const p1 = payerOf(payers[1]);
  return p0 && p1 ? [p0, p1] : null;
}
