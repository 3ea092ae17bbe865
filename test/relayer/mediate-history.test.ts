/** The node's on-disk list of finished routed payments (`mediate/history.ts`): what a restarted node reports. */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Hash } from "../../sdk";
import { silentLogger } from "../../relayer/src/log";
import { PaymentHistory, type PaymentReport } from "../../relayer/src/mediate/history";

const row = (seq: number, updatedAt: bigint, state = "SETTLED_UPSTREAM"): PaymentReport => ({
  incomingChannel: `0x${"a0".repeat(32)}` as Hash,
  incomingSeq: String(seq),
  hashlock: `0x${"11".repeat(32)}` as Hash,
  state,
  amountIn: "1001000",
  amountOut: "1000000",
  fee: "1000",
  expiryIn: "1700007200",
  expiryOut: "1700003600",
  outgoingChannel: `0x${"a1".repeat(32)}` as Hash,
  outgoingSeq: "1",
  failure: null,
  updatedAt: updatedAt.toString(),
});

const T = 1_700_000_000n;

/** A history keeping rows a day, in a new directory, loaded at `T`. */
function freshHistory(): { dir: string; file: string; history: PaymentHistory } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-history-"));
  const file = path.join(dir, "payments-history.jsonl");
  const history = new PaymentHistory(file, 86_400n, silentLogger);
  history.load(T);
  return { dir, file, history };
}

describe("relayer unit: payment history (finished payments on the node's disk)", () => {
  it("a restarted node reads back what it recorded, the last row of a payment winning; old and torn lines are dropped", async () => {
    const { dir, file, history: first } = freshHistory();
    first.record(row(1, T - 90_000n)); // older than a day by the next start
    first.record(row(2, T, "CANCELLED_UPSTREAM"));
    first.record(row(2, T + 5n));
    first.record(row(3, T + 6n));
    await first.flushed();
    fs.appendFileSync(file, '{"incomingChannel":"0x'); // a crash mid-append
    const again = new PaymentHistory(file, 86_400n, silentLogger);
    again.load(T + 10n);
    const rows = again.list(T + 10n);
    expect(rows.map((r) => [r.incomingSeq, r.state])).to.deep.equal([
      ["2", "SETTLED_UPSTREAM"],
      ["3", "SETTLED_UPSTREAM"],
    ]);
    // The file was rewritten with the kept rows only.
    expect(fs.readFileSync(file, "utf8").trim().split("\n")).to.have.length(2);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("rows recorded while an append is under way go together in the next, in order", async () => {
    const { dir, file, history: h } = freshHistory();
    const appends: number[] = [];
    const append = fs.promises.appendFile;
    fs.promises.appendFile = ((f: fs.PathLike, data: string) => {
      appends.push(data.split("\n").length - 1);
      return append(f, data);
    }) as typeof fs.promises.appendFile;
    try {
      for (let seq = 1; seq <= 50; seq++) h.record(row(seq, T));
      await h.flushed();
      h.record(row(51, T));
      await h.flushed();
    } finally {
      fs.promises.appendFile = append;
    }
    expect(appends, "one append for the 50 recorded together, one for the next").to.deep.equal([50, 1]);
    const seqs = fs
      .readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => Number((JSON.parse(l) as PaymentReport).incomingSeq));
    expect(seqs).to.deep.equal(Array.from({ length: 51 }, (_, i) => i + 1));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
