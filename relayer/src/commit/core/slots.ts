/**
 * One action per channel, enforced: `acquire` hands out a token per action and `release(token)` frees the
 * channel only while that token is the holder. (Before, a fraud proof deleted the channel's entry and the
 * earlier action's `finally` then deleted the proof's entry, letting a third action start.) Who may take
 * a held or claimed channel is `decideSlot`'s rule (./priority.ts).
 */
import type { Hash } from "../../../../sdk";
import { type ActionKind, decideSlot, PRIORITY } from "./priority";

/** A running action's right to its channel. */
export class ActionToken {
  private current = true;

  constructor(
    readonly channelId: Hash,
    readonly kind: ActionKind,
    readonly label: string,
  ) {}

  /** False once released or preempted: the action must send nothing more. */
  get live(): boolean {
    return this.current;
  }

  /** @internal Called by `ActionSlots` only. */
  revoke(): void {
    this.current = false;
  }
}

export type Acquired =
  | { readonly ok: true; readonly token: ActionToken; readonly preempted: ActionToken | null }
  | { readonly ok: false; readonly behind: ActionKind };

export class ActionSlots {
  private readonly holders = new Map<Hash, ActionToken>();
  private readonly claims = new Map<Hash, { kind: ActionKind; atMs: number }>();

  /** Takes the channel for an action, or says what it waits behind (and leaves a claim). */
  acquire(channelId: Hash, kind: ActionKind, label: string, nowMs: number): Acquired {
    const holder = this.holders.get(channelId) ?? null;
    const claim = this.claims.get(channelId) ?? null;
    const d = decideSlot({ holder: holder?.kind ?? null, claim }, kind, nowMs);
    if (d.kind === "wait") {
      if (!claim || PRIORITY[kind] >= PRIORITY[claim.kind]) this.claims.set(channelId, { kind, atMs: nowMs });
      return { ok: false, behind: d.behind };
    }
    holder?.revoke();
    if (claim && PRIORITY[kind] >= PRIORITY[claim.kind]) this.claims.delete(channelId);
    const token = new ActionToken(channelId, kind, label);
    this.holders.set(channelId, token);
    return { ok: true, token, preempted: d.kind === "preempt" ? holder : null };
  }

  /** Whether `acquire` would take the channel now, without leaving a claim. */
  wouldGrant(channelId: Hash, kind: ActionKind, nowMs: number): boolean {
    const holder = this.holders.get(channelId)?.kind ?? null;
    const d = decideSlot({ holder, claim: this.claims.get(channelId) ?? null }, kind, nowMs);
    return d.kind !== "wait";
  }

  /** Frees the channel if `token` still holds it; a no-op for a preempted or released token. */
  release(token: ActionToken): void {
    if (this.holders.get(token.channelId) === token) this.holders.delete(token.channelId);
    token.revoke();
  }

  /** The running action's kind, if any. */
  holder(channelId: Hash): ActionKind | null {
    return this.holders.get(channelId)?.kind ?? null;
  }

  busy(channelId: Hash): boolean {
    return this.holders.has(channelId);
  }

  get size(): number {
    return this.holders.size;
  }
}
