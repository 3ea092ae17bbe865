/**
 * Items 2, 8 and 9 of the input issue: no input of any size stalls a partition (a dead letter always
 * fits the broker's limit, cut to a prefix with the original's length and sha256 when it must be), a
 * `schemaVersion` that contradicts the schema fingerprint and an oversized `appData` are dead-lettered
 * before verification, a transfer produced to the wrong partition is dead-lettered with the expected
 * partition and the producer fix, control and signature inputs are bounded too, and SIGTERM stops the
 * node within `stopTimeoutMs` (a second signal at once).
 */
import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { parseEther } from "ethers";
import {
  codecs,
  type DeadLetter,
  DEFAULT_MAX_APP_DATA_BYTES,
  deadLetterOf,
  frame,
  type Hex,
  type SignedTransfer,
  transferMessage,
} from "../../sdk";
import { DEFAULT_MAX_RECORD_BYTES } from "../../relayer/src/config";
import { createLogger } from "../../relayer/src/log";
import { stopOnSignal } from "../../relayer/src/main";
import { ParsecNode } from "../../relayer/src/node";
import { channelKey, channelPartition } from "../../relayer/src/kafka/topics";
import { encodeFitting } from "../../relayer/src/pipeline/dead-letter";
import { MAX_REQUEST_ID_CHARS, MAX_REQUEST_MESSAGE_BYTES } from "../../relayer/src/pipeline/requests";
import { Harness, getJson, sleep, testLogger, waitFor, type TestChannel } from "./harness";

/** The broker's default message.max.bytes: the value the attacker stays just under. */
const BROKER_LIMIT = 1_048_588;
const sha256 = (b: Uint8Array): string => `0x${createHash("sha256").update(b).digest("hex")}`;

describe("relayer: inputs of any size and shape (broker)", function () {
  this.timeout(240_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let a: TestChannel;

  const seqOf = async (ch: TestChannel, payer: 0 | 1): Promise<number> => {
    const r = await getJson<{ payers: { seq: number }[] }>(`${node?.url}/channels/${ch.id}`);
    return r.status === 200 ? r.body.payers[payer].seq : -1;
  };
  const applied = (ch: TestChannel) => async () =>
    (await seqOf(ch, 0)) === ch.ledger.state(0).seq && (await seqOf(ch, 1)) === ch.ledger.state(1).seq;
  /** The dead letter of the record at `offset` of `topic`, once the node flushed it. */
  const letterAt = async (topic: string, partition: number, offset: number): Promise<DeadLetter> =>
    waitFor(`dead letter of ${topic}/${partition}@${offset}`, async () => {
      await node?.flush();
      return (await h.deadLetters()).find(
        (l) => l.topic === topic && l.partition === partition && l.offset === offset,
      );
    });
  /** Produces one record and returns its partition and offset. */
  const produceOne = async (
    topic: string,
    key: Buffer | null,
    value: Buffer,
    partition?: number,
  ): Promise<{ partition: number; offset: number }> => {
    const p = partition ?? channelPartition(a.id, h.partitions);
    const before = (await h.client.endOffsets(topic)).get(p) ?? 0;
    await h.produce([{ key, value, partition: p }], topic);
    return { partition: p, offset: before };
  };
  const encodeWith = (ch: TestChannel, t: SignedTransfer, appData: Hex): Buffer =>
    codecs().transfer.encode(transferMessage(h.domain, t, ch.signers[t.payer].address, { appData }));

  before(async () => {
    h = await Harness.create();
    a = await h.openChannel(parseEther("5"), parseEther("5"));
    node = await ParsecNode.start(h.config(), { logger: testLogger() });
  });
  after(async () => {
    await node?.stop();
    await h?.close();
  });

  it("dead-letters 1,048,450 random bytes as a cut record with its sha256 and length, and applies the partition's later transfers", async () => {
    const value = randomBytes(1_048_450);
    const at = await produceOne(h.topics.transfers, channelKey(a.id), value);
    const later = [a.next(0, { kind: "PAY", amount: 7n }), a.next(1, { kind: "PAY", amount: 8n })];
    await h.produce(later.map((t) => a.record(t.wire)));
    await waitFor("transfers after the huge value applied", applied(a), 60_000);
    const l = await letterAt(h.topics.transfers, at.partition, at.offset);
    expect(l.reasonCode).to.equal("Malformed");
    expect(l.reasonText).to.include("1048450 bytes");
    expect(l.originalTruncated).to.equal(true);
    expect(l.originalLength).to.equal(value.length);
    expect(l.originalSha256).to.equal(sha256(value));
    expect(l.original.length).to.be.greaterThan(1_000_000);
    expect(Buffer.from(l.original).equals(value.subarray(0, l.original.length))).to.equal(true);
    expect(l.originalKeyLength).to.equal(32);
    // Offsets move past it: the flush committed the partition.
    await waitFor("offsets committed past the huge value", async () => {
      await node?.flush();
      const committed = await h.client.committedOffsets(h.groupId, h.topics.transfers);
      return (committed.get(at.partition) ?? 0) > at.offset;
    });
  });

  it("refuses a transfer whose schemaVersion contradicts its schema, then applies the honest copy", async () => {
    const t = a.sign(0, { kind: "PAY", amount: 11n });
    const reader = codecs().transfer.reader;
    const record = reader.type.fromBuffer(t.wire.subarray(10)) as Record<string, unknown>;
    const forged = frame(reader.fingerprintBytes, reader.type.toBuffer({ ...record, schemaVersion: 2 }));
    const at = await produceOne(h.topics.transfers, channelKey(a.id), forged);
    const l = await letterAt(h.topics.transfers, at.partition, at.offset);
    expect(l.reasonCode).to.equal("Malformed");
    expect(l.reasonText).to.include("schemaVersion 2");
    expect(Buffer.from(l.original).equals(forged)).to.equal(true);
    // Not applied: the same transfer with schemaVersion 1 is applied now (not a Duplicate).
    a.ledger.apply(t.transfer);
    await h.produce([a.record(t.wire)]);
    await waitFor("the honest copy applied", applied(a));
  });

  it("refuses appData over input.maxAppDataBytes before verifying the signature, and accepts it at the bound", async () => {
    expect(DEFAULT_MAX_APP_DATA_BYTES).to.equal(4096);
    const big = a.sign(1, { kind: "PAY", amount: 12n });
    // 900 KB, and a broken signature: the size is refused first (Malformed, not BadSignature).
    const sig = Buffer.from(big.transfer.signature.slice(2), "hex");
    sig[3] ^= 0xff;
    const broken = { ...big.transfer, signature: `0x${sig.toString("hex")}` as Hex };
    const huge = encodeWith(a, broken, `0x${"ab".repeat(900_000)}` as Hex);
    const over = encodeWith(a, big.transfer, `0x${"cd".repeat(DEFAULT_MAX_APP_DATA_BYTES + 1)}` as Hex);
    const p1 = await produceOne(h.topics.transfers, channelKey(a.id), huge);
    const p2 = await produceOne(h.topics.transfers, channelKey(a.id), over);
    for (const [at, bytes] of [
      [p1, 900_000],
      [p2, DEFAULT_MAX_APP_DATA_BYTES + 1],
    ] as const) {
      const l = await letterAt(h.topics.transfers, at.partition, at.offset);
      expect(l.reasonCode).to.equal("Malformed");
      expect(l.reasonText).to.match(
        bytes > 100_000 ? /transfer message is \d+ bytes/ : /appData is 4097 bytes/,
      );
      expect(l.originalTruncated).to.equal(false);
    }
    expect(await seqOf(a, 1)).to.equal(a.ledger.state(1).seq);
    // At the bound: applied.
    a.ledger.apply(big.transfer);
    const at = encodeWith(a, big.transfer, `0x${"ef".repeat(DEFAULT_MAX_APP_DATA_BYTES)}` as Hex);
    await h.produce([a.record(at)]);
    await waitFor("transfer with appData at the bound applied", applied(a));
  });

  it("names the expected partition and the murmur2 fix for a transfer produced to the wrong partition", async () => {
    const c = await h.openChannel(parseEther("1"), 0n);
    const expected = channelPartition(c.id, h.partitions);
    const wrong = (expected + 1) % h.partitions;
    const t = c.sign(0, { kind: "PAY", amount: 1n });
    const at = await produceOne(h.topics.transfers, channelKey(c.id), t.wire, wrong);
    const l = await letterAt(h.topics.transfers, at.partition, at.offset);
    expect(l.reasonCode).to.equal("WrongChannel");
    expect(l.reasonText).to.include(`belongs to partition ${expected} of ${h.partitions}`);
    expect(l.reasonText).to.include(`produced to partition ${wrong}`);
    expect(l.reasonText).to.include("partitioner=murmur2_random");
  });

  it("bounds control requests and checkpoint signatures: size, requestId and schemaVersion", async () => {
    const control = codecs().control;
    const request = {
      schemaVersion: 1,
      requestId: "r-1",
      channelId: a.id,
      action: "CHECKPOINT_NOW" as const,
      requestedBy: null,
      requestedAtMs: Date.now(),
      reason: null,
    };
    const oversized = control.encode({ ...request, reason: "x".repeat(MAX_REQUEST_MESSAGE_BYTES) });
    const longId = control.encode({ ...request, requestId: "i".repeat(MAX_REQUEST_ID_CHARS + 1) });
    const raw = control.reader.type.fromBuffer(control.encode(request).subarray(10)) as object;
    const forged = frame(
      control.reader.fingerprintBytes,
      control.reader.type.toBuffer({ ...raw, schemaVersion: 3 }),
    );
    const key = channelKey(a.id);
    const cases = [
      { value: oversized, text: `over the bound of ${MAX_REQUEST_MESSAGE_BYTES}` },
      { value: longId, text: `requestId is ${MAX_REQUEST_ID_CHARS + 1} characters` },
      { value: forged, text: "schemaVersion 3" },
    ];
    for (const c of cases) {
      const at = await produceOne(h.topics.control, key, c.value);
      const l = await letterAt(h.topics.control, at.partition, at.offset);
      expect(l.reasonCode, c.text).to.equal("Malformed");
      expect(l.reasonText, c.text).to.include(c.text);
    }
    const bigSignature = Buffer.concat([
      codecs().checkpointSignature.reader.fingerprintBytes,
      randomBytes(MAX_REQUEST_MESSAGE_BYTES),
    ]);
    const at = await produceOne(
      h.topics.checkpointSignatures,
      key,
      Buffer.concat([Buffer.from([0xc3, 1]), bigSignature]),
    );
    const l = await letterAt(h.topics.checkpointSignatures, at.partition, at.offset);
    expect(l.reasonCode).to.equal("Malformed");
    expect(l.reasonText).to.include(`over the bound of ${MAX_REQUEST_MESSAGE_BYTES}`);
  });

  it("stops a node process on SIGTERM within stopTimeoutMs", async () => {
    const run = await h.spawnNode("sigterm", { stopTimeoutMs: 20_000 });
    const started = Date.now();
    run.child.kill("SIGTERM");
    const code = await run.exited;
    const tookMs = Date.now() - started;
    expect(
      code,
      `exit code (signal ${run.child.signalCode}); the node's log:\n${h.logOf("sigterm").slice(-4000)}`,
    ).to.equal(0);
    expect(tookMs).to.be.lessThan(20_000);
    expect(h.logOf("sigterm")).to.include('"msg":"stopping"');
  });
});

describe("relayer: dead letters always fit, and the stop bound (no broker)", () => {
  const dl = (original: Uint8Array, key: Uint8Array | null = Buffer.alloc(32, 1)): DeadLetter =>
    deadLetterOf(
      { code: "Malformed", message: "Malformed input: x" },
      { original, originalKey: key, topic: "parsec.transfers", partition: 3, offset: 12_345 },
      null,
      1,
    );

  it("keeps the original whole when the record fits, else the longest prefix that fits", () => {
    const max = DEFAULT_MAX_RECORD_BYTES - 32;
    for (const n of [0, 97, 1_000_000, max - 400, max - 200, max - 100, 1_048_450, BROKER_LIMIT, 5_000_000]) {
      const original = randomBytes(n);
      const bytes = encodeFitting(dl(original), max);
      expect(bytes.length, `${n}`).to.be.at.most(max);
      const back = codecs().deadLetter.decode(bytes);
      expect(back.originalLength).to.equal(n);
      expect(back.originalSha256).to.equal(sha256(original));
      expect(Buffer.from(back.original).equals(original.subarray(0, back.original.length))).to.equal(true);
      expect(back.originalTruncated).to.equal(back.original.length < n);
      // A cut record is filled to the byte: one more byte of the original would not fit.
      if (back.originalTruncated) expect(bytes.length).to.be.greaterThan(max - 4);
    }
  });

  it("cuts an oversized key to 1024 bytes and says so", () => {
    const key = randomBytes(600_000);
    const back = codecs().deadLetter.decode(encodeFitting(dl(randomBytes(900_000), key), 1_000_000));
    expect(back.originalKey?.length).to.equal(1024);
    expect(back.originalKeyLength).to.equal(600_000);
    expect(back.originalTruncated).to.equal(true);
  });

  const fakeLogger = (lines: string[]) => createLogger("debug", {}, (l) => lines.push(l));

  it("exits 1 with a clear line when the stop takes longer than the bound, and at once on a second signal", async () => {
    const lines: string[] = [];
    const exits: number[] = [];
    const handler = stopOnSignal({
      stop: () => new Promise<void>(() => undefined), // a flush that never ends
      logger: fakeLogger(lines),
      timeoutMs: 100,
      exit: (code) => exits.push(code),
    });
    const started = Date.now();
    handler("SIGTERM");
    expect(handler.stopping).to.equal(true);
    await waitFor("the stop bound", () => exits.length > 0, 5000, 10);
    expect(Date.now() - started).to.be.within(90, 2000);
    expect(exits).to.deep.equal([1]);
    expect(lines.join("\n")).to.match(/"msg":"stop timed out".*did not stop within 100 ms of SIGTERM/);
    handler("SIGINT");
    expect(exits).to.deep.equal([1, 130]);
  });

  it("exits 0 after a clean stop, and 1 when the stop fails", async () => {
    for (const [stop, code] of [
      [() => sleep(20), 0],
      [() => Promise.reject(new Error("boom")), 1],
    ] as const) {
      const exits: number[] = [];
      const handler = stopOnSignal({
        stop,
        logger: fakeLogger([]),
        timeoutMs: 60_000,
        exit: (c) => exits.push(c),
      });
      handler("SIGTERM");
      await waitFor("exit", () => exits.length > 0, 5000, 5);
      await sleep(30);
      expect(exits).to.deep.equal([code]);
    }
  });
});
