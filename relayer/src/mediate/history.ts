/**
 * Finished routed payments as `GET /payments` lists them, kept on the node's disk (`state.dir`). The
 * changelog journals only payments in flight (a finished one can change no more), so this file is what
 * a restarted node still reports for `retainSeconds`: one JSON line per finished payment, appended;
 * read back at start (the last line of a payment wins) and rewritten then with only the rows kept.
 */
import fs from "node:fs";
import type { Hash } from "../../../sdk";
import { messageOf } from "../errors";
import type { Logger } from "../log";

/** One row of `GET /payments`. */
export interface PaymentReport {
  readonly incomingChannel: Hash;
  readonly incomingSeq: string;
  readonly hashlock: Hash;
  readonly state: string;
  readonly amountIn: string;
  readonly amountOut: string;
  readonly fee: string;
  readonly expiryIn: string;
  readonly expiryOut: string;
  readonly outgoingChannel: Hash;
  readonly outgoingSeq: string | null;
  readonly failure: string | null;
  readonly updatedAt: string;
}

/** The key of a payment's row: its incoming lock. */
export function reportKey(r: Pick<PaymentReport, "incomingChannel" | "incomingSeq">): string {
  return `${r.incomingChannel}/${r.incomingSeq}`;
}

export class PaymentHistory {
  private readonly rows = new Map<string, PaymentReport>();
  private writing: Promise<void> = Promise.resolve();
  /** Rows recorded and not yet handed to an append. */
  private pending: string[] = [];

  constructor(
    private readonly file: string,
    private readonly retainSeconds: bigint,
    private readonly logger: Logger,
  ) {}

  /** Reads the file (a missing or torn line is skipped) and rewrites it with the rows still kept. */
  load(now: bigint): void {
    let text = "";
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch {
      return; // no history yet
    }
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        const row = JSON.parse(line) as PaymentReport;
        if (now - BigInt(row.updatedAt) < this.retainSeconds) this.rows.set(reportKey(row), row);
      } catch {
        // a line torn by a crash mid-append
      }
    }
    const kept = [...this.rows.values()].map((r) => JSON.stringify(r) + "\n").join("");
    try {
      fs.writeFileSync(this.file, kept);
    } catch (e) {
      this.logger.warn("rewriting the payment history failed", { error: messageOf(e) });
    }
  }

  has(key: string): boolean {
    return this.rows.has(key);
  }

  /**
   * Keeps a finished payment's row (appended to the file in the background, in order; the rows that
   * finish while an append is under way go together in the next one).
   */
  record(row: PaymentReport): void {
    this.rows.set(reportKey(row), row);
    this.pending.push(JSON.stringify(row) + "\n");
    if (this.pending.length === 1) this.writing = this.writing.then(() => this.appendPending());
  }

  private async appendPending(): Promise<void> {
    const lines = this.pending.splice(0).join("");
    try {
      await fs.promises.appendFile(this.file, lines);
    } catch (e) {
      this.logger.warn("writing the payment history failed", { error: messageOf(e) });
    }
  }

  /** The rows finished within `retainSeconds` of `now`. */
  list(now: bigint): PaymentReport[] {
    const out: PaymentReport[] = [];
    for (const [k, r] of this.rows) {
      if (now - BigInt(r.updatedAt) < this.retainSeconds) out.push(r);
      else this.rows.delete(k);
    }
    return out;
  }

  /** Waits for the appends queued so far. */
  flushed(): Promise<void> {
    return this.writing;
  }
}
