/**
 * The mediator's pipeline (protocol §11.5): several journaled transfers outstanding in one outgoing
 * channel, with fake ports and books that become durable only when the test flushes them. Each op is
 * built on the ones before it, none is signed before every op before it is durable, a seq lost in a
 * crash is taken again, and outstanding LOCKs count against the channel's capacity.
 */
import { expect } from "chai";
import { sha256 } from "ethers";
import {
  applyTransfer,
  GENESIS_STATE,
  type Hash,
  type Hex,
  MAX_PENDING_LOCKS,
  OnionFailureCode,
  type PayerState,
  type Transfer,
  toHex,
} from "../../sdk";
import { hashTransfer } from "../../sdk/src/eip712";
import { silentLogger } from "../../relayer/src/log";
import { decodeMediation, encodeMediation, type PaymentEntry } from "../../relayer/src/mediate/entry";
import {
  DEFAULT_RETAIN_SECONDS,
  MediationService,
  pendingLocksAhead,
  SendBatch,
} from "../../relayer/src/mediate/service";
import {
  ASSET,
  BOB_KEY,
  IN_AMOUNT,
  IN_CH,
  IN_EXPIRY,
  MemoryBook as Book,
  OUT_AMOUNT,
  OUT_CH,
  POLICY,
  T0,
  twoHopOnion,
} from "./mediate-fixtures";

/** The incoming channels of two partitions' books. */
const OTHER_IN_CH = `0x${"a2".repeat(32)}` as Hash;
const twoBooks = (): [Book, Book] => [new Book(IN_CH), new Book(OTHER_IN_CH)];

class World {
  outState: PayerState = GENESIS_STATE;
  available = 100n * OUT_AMOUNT;
  readonly sent: Transfer[] = [];
  /** Sends produced per step (the service batches a step's sends). */
  readonly batches: number[] = [];
  /** Chain time (seconds). */
  now = T0;
  service = this.newService();

  newService(): MediationService {
    return new MediationService({
      policy: POLICY,
      logger: silentLogger,
      ports: {
        chainNow: () => this.now,
        nowMs: () => 0,
        chainSeenThrough: () => T0,
        channel: (id) =>
          id === OUT_CH
            ? {
                payer: 0,
                state: this.outState,
                durableSeq: this.outState.seq,
                view: {
                  channelId: OUT_CH,
                  asset: ASSET,
                  status: "OPEN",
                  disabled: false,
                  available: this.available - this.outState.lockedTotal - this.outState.paidTotal,
                  pendingLocks: this.outState.locks.length,
                },
                messages: () => [],
              }
            : null,
        sendTransfer: async (t) => {
          this.sent.push(t);
        },
        sendMessage: async () => undefined,
        registerSecret: async () => T0,
        incomingState: () => null,
        signCancelConsent: async () => "0x" as Hex,
        validCancelConsent: () => false,
        secretRevealedAt: async () => 0n,
      },
    });
  }

  /** A routed LOCK `n` (its own secret) arrives in `book` as the upstream's seq `n`. */
  receive(book: Book, n: number): void {
    const hashlock = sha256(toHex(new Uint8Array(32).fill(n))) as Hash;
    const { packet } = twoHopOnion({ hashlock });
    this.service.receive(book, {
      incoming: {
        channelId: book.channelId,
        asset: ASSET,
        payerSeq: BigInt(n),
        hashlock,
        amount: IN_AMOUNT,
        expiry: IN_EXPIRY,
      },
      upstream: 0,
      packet,
      routingKey: BOB_KEY,
    });
  }

  async step(...books: Book[]): Promise<void> {
    const before = this.sent.length;
    this.service.setBooks(books);
    // As the node's round: one batch for every book, produced at the end, then journaled.
    const batch = new SendBatch(silentLogger);
    for (const b of books) await this.service.step(b, batch);
    for (const journal of (await batch.settle()).values()) for (const f of journal) f();
    this.batches.push(this.sent.length - before);
  }

  /** The outgoing chain the sent transfers make, applied in seq order from the applied state. */
  applySent(): void {
    for (const t of [...this.sent].sort((a, b) => a.seq - b.seq))
      if (t.seq === this.outState.seq + 1)
        this.outState = applyTransfer(this.outState, t, { hash: hashTransfer(t) });
  }
}

const ops = (b: Book): (number | undefined)[] => [...b.map.values()].map((e) => e.op?.seq);

describe("relayer unit: mediation pipeline (several journaled transfers per outgoing channel)", () => {
  it("forwards many payments onto one channel in one round, each LOCK built on the one before", async () => {
    const w = new World();
    const book = new Book(IN_CH);
    for (let n = 1; n <= 10; n++) w.receive(book, n);
    book.flush();
    await w.step(book);
    expect(ops(book)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(w.sent).to.have.length(0); // journal before sign
    book.flush();
    await w.step(book);
    expect(w.sent.map((t) => t.seq)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    w.applySent(); // throws on a broken chain
    expect(w.outState.seq).to.equal(10);
    expect(w.outState.locks).to.have.length(10);
    // Delivered: the ops clear; nothing is signed twice.
    await w.step(book);
    book.flush();
    await w.step(book);
    expect(ops(book)).to.deep.equal(new Array(10).fill(undefined));
    expect(w.sent).to.have.length(10);
  });

  it("signs no op before every op before it is durable (books of two partitions)", async () => {
    const w = new World();
    const [a, b] = twoBooks();
    w.receive(a, 1);
    w.receive(b, 1);
    a.flush();
    b.flush();
    await w.step(a, b);
    expect([...ops(a), ...ops(b)]).to.deep.equal([1, 2]);
    b.flush(); // a's op (seq 1) is not durable yet
    await w.step(a, b);
    expect(w.sent).to.have.length(0);
    a.flush();
    await w.step(a, b);
    expect(w.sent.map((t) => t.seq)).to.deep.equal([1, 2]);
  });

  it("a round produces its transfers in seq order, whatever the order of the books that hold them", async () => {
    const w = new World();
    const [a, b] = twoBooks();
    for (let n = 1; n <= 3; n++) {
      w.receive(b, n);
      w.receive(a, n);
    }
    await w.step(b, a); // b's payments take seqs 1-3, a's 4-6
    a.flush();
    b.flush();
    await w.step(a, b); // a's book is stepped first: its LOCKs are signed first
    expect(w.sent.map((t) => t.seq)).to.deep.equal([1, 2, 3, 4, 5, 6]);
  });

  it("a seq whose op was lost in a crash is taken by the next op (journaled again, then signed)", async () => {
    const w = new World();
    const [a, b] = twoBooks();
    w.receive(a, 1);
    w.receive(b, 1);
    a.flush();
    b.flush();
    await w.step(a, b);
    b.flush(); // b's op at seq 2 is durable; a's op at seq 1 is lost with the crash
    a.crash();
    b.crash();
    w.service = w.newService();
    await w.step(b); // a's partition is elsewhere for now
    expect(ops(b)).to.deep.equal([1]); // moved into the gap, not signed yet
    expect(w.sent).to.have.length(0);
    b.flush();
    await w.step(b);
    expect(w.sent.map((t) => t.seq)).to.deep.equal([1]);
    const entry = [...b.map.values()][0];
    expect(entry.record.state === "FORWARDED" && entry.record.outgoing.payerSeq).to.equal(1n);
    // a's payment comes back and is forwarded after it.
    await w.step(a, b);
    expect(ops(a)).to.deep.equal([2]);
    a.flush();
    await w.step(a, b);
    expect(w.sent.map((t) => t.seq)).to.deep.equal([1, 2]);
    w.applySent();
    expect(w.outState.seq).to.equal(2);
  });

  it("journaled LOCKs not applied yet hold capacity back: no forward overdraws the channel", async () => {
    const w = new World();
    w.available = 2n * OUT_AMOUNT + 1n;
    const book = new Book(IN_CH);
    for (let n = 1; n <= 3; n++) w.receive(book, n);
    book.flush();
    await w.step(book);
    const states = [...book.map.values()].map((e) => e.record.state);
    expect(states).to.deep.equal(["FORWARDED", "FORWARDED", "FAILED_DOWNSTREAM"]);
    const failed = [...book.map.values()][2].record;
    expect(failed.state === "FAILED_DOWNSTREAM" && failed.failure.code).to.equal(
      OnionFailureCode.InsufficientCapacity,
    );
  });

  describe("pendingLocksAhead: the locks a forward counts as pending", () => {
    // [what, applied, journaled LOCKs, journaled releases, expected]
    const rows: [string, number, number, number, number][] = [
      ["nothing pending or journaled", 0, 0, 0, 0],
      ["applied locks only", 5, 0, 0, 5],
      ["journaled LOCKs add", 5, 3, 0, 8],
      ["journaled releases net against applied locks", 5, 0, 2, 3],
      ["LOCKs and releases both", 10, 4, 6, 8],
      ["releases never take it below zero", 1, 0, 3, 0],
      ["one under the contract's limit still nets", MAX_PENDING_LOCKS - 2, 1, 5, MAX_PENDING_LOCKS - 6],
      ["at the limit: full, whatever is released after", MAX_PENDING_LOCKS - 1, 1, 10, MAX_PENDING_LOCKS],
      ["past the limit (journaled LOCKs): full", MAX_PENDING_LOCKS, 2, 0, MAX_PENDING_LOCKS],
    ];
    for (const [what, applied, added, released, expected] of rows)
      it(what, () => expect(pendingLocksAhead(applied, added, released)).to.equal(expected));
  });

  it("journals only payments in flight: a finished one is listed until pruned but not in the snapshot", async () => {
    const w = new World();
    const book = new Book(IN_CH);
    w.receive(book, 1);
    w.receive(book, 2);
    await w.step(book);
    const [[k1, e1], [k2, e2]] = [...book.map];
    const finished: PaymentEntry = {
      ...e1,
      record: {
        ...e1.record,
        state: "CANCELLED_UPSTREAM",
        failure: { code: 1, reason: "x" },
        outgoing: null,
      },
      op: null,
    } as PaymentEntry;
    book.put(k1, finished);
    const bytes = encodeMediation({ payments: book.map, inbox: new Map() });
    expect([...decodeMediation(bytes).payments.keys()]).to.deep.equal([k2]);
    expect(decodeMediation(bytes).payments.get(k2)?.record.state).to.equal(e2.record.state);
    await w.step(book);
    expect(book.get(k1)).to.equal(finished); // still listed
    w.service.pruneFinished(book);
    expect(book.get(k1), "kept for its retention").to.equal(finished);
    w.now = T0 + DEFAULT_RETAIN_SECONDS;
    w.service.pruneFinished(book);
    expect(book.get(k1), "dropped after its retention").to.equal(undefined);
    expect(book.get(k2), "a payment in flight is never pruned").to.not.equal(undefined);
  });
});
