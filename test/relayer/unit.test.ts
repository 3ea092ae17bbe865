/**
 * Pure logic of the relayer (no broker, no chain): configuration validation (item 10), the local
 * store's crash safety, snapshot encoding, batch bounds, history pruning, and the ABI the node uses
 * against the compiled contract.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Interface, Wallet } from "ethers";
import { loadConfig } from "../../relayer/src/config";
import { ConfigError } from "../../relayer/src/errors";
import { CHANNELS_ABI } from "../../relayer/src/chain/abi";
import { loadStore, StoreWriter } from "../../relayer/src/state/local-store";
import { ChannelState, type WindowItem } from "../../relayer/src/state/channel";
import { encodeSnapshot, snapshotOf, stateCodecs } from "../../relayer/src/state/snapshot";
import { Batcher } from "../../relayer/src/commit/batcher";
import { silentLogger } from "../../relayer/src/log";
import { partitionOf } from "../../relayer/src/kafka/client";
import { channelKey, channelPartition } from "../../relayer/src/kafka/topics";
import fc from "fast-check";
import {
  type Address,
  buildTransfer,
  ChannelLedger,
  codecs,
  GENESIS_STATE,
  type Hash,
  type Hex,
  localSigner,
  type PayerIndex,
  signTransferUnjournaled,
  transferMessage,
  type TransferOp,
  toHex,
} from "../../sdk";
import { channelIdOf, hashTransfer, parsecDomain } from "../../sdk/src/eip712";
import { waitFor } from "./harness";

const made: string[] = [];
const tmp = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "parsec-unit-"));
  made.push(dir);
  return dir;
};
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

describe("relayer unit: configuration", () => {
  const env = {
    KAFKA_BROKERS: "127.0.0.1:9092",
    PARSEC_RPC_URL: "http://127.0.0.1:8545",
    PARSEC_CHANNELS_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  };

  it("loads defaults and environment overrides", () => {
    const c = loadConfig({ env: { ...env, PARSEC_COMMIT_EVERY: "7", PARSEC_TOPIC_PREFIX: "x." } });
    expect(c.kafka.brokers).to.deep.equal(["127.0.0.1:9092"]);
    expect(c.commit.everyM).to.equal(7);
    expect(c.kafka.topics.transfers).to.equal("x.parsec.transfers");
    expect(c.chain.submitterKey).to.equal(null);
  });

  it("reports every problem at once with what to fix", () => {
    let err: unknown;
    try {
      loadConfig({
        env: { PARSEC_RPC_URL: "ftp://x", PARSEC_SUBMITTER_KEY: "0x1234", PARSEC_CHANNELS_ADDRESS: "0xnope" },
        overrides: { commit: { everyM: 0 }, kafka: { brokers: ["no-port"] }, logLevel: "loud" },
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const paths = (err as ConfigError).problems.map((p) => p.path);
    for (const p of [
      "kafka.brokers",
      "chain.rpcUrl",
      "PARSEC_SUBMITTER_KEY",
      "chain.channels",
      "commit.everyM",
      "logLevel",
    ])
      expect(paths).to.include(p);
    expect((err as Error).message).to.match(/Fix: /);
  });

  it("refuses private keys in the config file and reads a deployments file", () => {
    const dir = tmp();
    const file = path.join(dir, "c.json");
    fs.writeFileSync(file, JSON.stringify({ chain: { submitterKey: "0xabc" } }));
    expect(() => loadConfig({ file, env })).to.throw(ConfigError, /must not be in the config file/);
    fs.mkdirSync(path.join(dir, "deployments"));
    fs.writeFileSync(
      path.join(dir, "deployments", "local.json"),
      JSON.stringify({ ParsecChannels: "0x5fbdb2315678afecb367f032d93f642f64180aa3", chainId: 31337 }),
    );
    const c = loadConfig({
      repoRoot: dir,
      env: { KAFKA_BROKERS: "b:1", PARSEC_RPC_URL: "http://x:1", PARSEC_DEPLOYMENT: "local" },
    });
    expect(c.chain.channels).to.equal("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(c.chain.chainId).to.equal(31337n);
  });
});

describe("relayer unit: ABI", () => {
  it("matches the compiled ParsecChannels for every fragment the node uses", () => {
    const artifact = JSON.parse(
      fs.readFileSync(
        path.join(__dirname, "../../artifacts/contracts/ParsecChannels.sol/ParsecChannels.json"),
        "utf8",
      ),
    ) as { abi: unknown[] };
    const compiled = new Interface(artifact.abi as never);
    const ours = new Interface(CHANNELS_ABI);
    ours.forEachFunction((f) =>
      expect(compiled.getFunction(f.selector)?.format("full"), f.name).to.equal(f.format("full")),
    );
    ours.forEachEvent((e) =>
      expect(compiled.getEvent(e.topicHash)?.format("full"), e.name).to.equal(e.format("full")),
    );
  });
});

describe("relayer unit: local store", () => {
  it("keeps committed flushes, drops a torn tail, and reads values back where it put them", () => {
    const file = path.join(tmp(), "p.log");
    const w = new StoreWriter(file, 0);
    const meta = { changelogOffset: 4, changelogEnd: 5, writer: "t", atMs: 1 };
    const first = w.commit(
      [
        ["a", Buffer.from("1")],
        ["b", Buffer.from("2")],
      ],
      [],
      meta,
    );
    expect(w.read(first[1]).toString()).to.equal("2");
    w.commit([["a", Buffer.from("3")]], ["b"], { ...meta, changelogEnd: 9 });
    w.close();
    // A crash mid-flush: the start of a frame whose bytes never all made it to disk.
    fs.appendFileSync(file, Buffer.from([90, 0, 0, 0, 1, 2, 3, 4, 3, 0, 1]));
    const s = loadStore(file);
    expect([...s.records.keys()]).to.deep.equal(["a"]);
    expect(s.meta?.changelogEnd).to.equal(9);
    const w2 = new StoreWriter(file, s.size);
    expect(w2.read(s.records.get("a") as { pos: number; len: number }).toString()).to.equal("3");
    const places = w2.rewrite(
      [
        ["c", Buffer.from("4")],
        ["d", Buffer.from("55")],
      ],
      meta,
    );
    expect(w2.read(places[1]).toString()).to.equal("55");
    w2.close();
    expect([...loadStore(file).records.keys()]).to.deep.equal(["c", "d"]);
  });
});

describe("relayer unit: channel state", () => {
  const domain = parsecDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address);
  const w = [Wallet.createRandom(), Wallet.createRandom()];
  const params = {
    participant0: w[0].address as Address,
    participant1: w[1].address as Address,
    asset: "0x0000000000000000000000000000000000000000" as Address,
    challengePeriod: 3600,
    nonce: 1n,
  };
  const id = channelIdOf(domain, params);
  const signers = w.map((x) => localSigner(x.privateKey as Hex));
  let offset = 0;
  const item = (ch: ChannelState, payer: PayerIndex, op: TransferOp): WindowItem => {
    const t = signTransferUnjournaled(
      signers[payer],
      domain,
      buildTransfer(ch.payers[payer].state, { channelId: id, payer }, op),
    );
    const wire = codecs().transfer.encode(transferMessage(domain, t, signers[payer].address));
    return { ...t, hash: hashTransfer(t), wire, offset: offset++, sentAtMs: 0 };
  };

  it("applies, prunes to an on-chain head with its pending locks, and round-trips its snapshot", () => {
    const ch = new ChannelState(id);
    const deposits = [1000n, 1000n] as const;
    const hashlock = `0x${"22".repeat(32)}` as Hex;
    ch.apply(item(ch, 0, { kind: "PAY", amount: 10n }), deposits, true);
    ch.apply(item(ch, 0, { kind: "LOCK", amount: 50n, hashlock, expiry: 99n }), deposits, true);
    ch.apply(item(ch, 0, { kind: "PAY", amount: 5n }), deposits, true);
    ch.apply(item(ch, 1, { kind: "PAY", amount: 1n }), deposits, true);
    expect(() => ch.apply(item(ch, 1, { kind: "PAY", amount: 5000n }), deposits, true)).to.throw(
      /has \d+ available/,
    );
    expect(ch.prune(0, 2)).to.deep.equal([0]);
    expect(ch.payers[0].baseSeq).to.equal(2);
    expect(ch.payers[0].baseLocks).to.have.length(1);
    expect(ch.entry(0, 3)?.seq).to.equal(3);
    const ledger = ch.toLedger(domain, params, deposits);
    expect(ledger.state(0).paidTotal).to.equal(15n);
    expect(ledger.stateAt(0, 2).locks).to.have.length(1);
    const bytes = stateCodecs().snapshot.encode(snapshotOf(ch));
    // The direct encoder of the hot path writes exactly what avsc writes, with every optional part.
    expect(encodeSnapshot(snapshotOf(ch)).equals(bytes)).to.equal(true);
    ch.proposal = {
      proposalId: "p/1",
      seq0: 3,
      head0: ch.payers[0].state.head,
      seq1: 1,
      head1: ch.payers[1].state.head,
      proposedAtMs: 1700000000000,
      sig0: `0x${"ab".repeat(65)}` as Hex,
      sig1: null,
    };
    ch.checkpoint = {
      seq0: 2,
      head0: `0x${"01".repeat(32)}` as Hex,
      seq1: 1,
      head1: `0x${"02".repeat(32)}` as Hex,
      sig0: `0x${"03".repeat(65)}` as Hex,
      sig1: `0x${"04".repeat(65)}` as Hex,
    };
    ch.control = { requestId: "r-ü", action: "SETTLE_NOW", atMs: 5 };
    ch.lastTransferOffset = 123_456_789_012;
    ch.commitDue = true;
    expect(encodeSnapshot(snapshotOf(ch)).equals(stateCodecs().snapshot.encode(snapshotOf(ch)))).to.equal(
      true,
    );
    const back = stateCodecs().snapshot.decode(bytes);
    expect(back.payers[0].history.map((x) => x.seq)).to.deep.equal([2, 3]);
    expect(back.payers[0].state.locks).to.deep.equal(ch.payers[0].state.locks);
    expect(back.payers[1].state.head).to.equal(ch.payers[1].state.head);
    expect(GENESIS_STATE.seq).to.equal(0);
  });

  it("refuses exactly the transfers the SDK ledger refuses for funds", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 300n }),
        fc.bigInt({ min: 0n, max: 300n }),
        fc.array(fc.tuple(fc.constantFrom(0, 1), fc.boolean(), fc.bigInt({ min: 1n, max: 200n })), {
          maxLength: 12,
        }),
        (d0, d1, ops) => {
          const deposits = [d0, d1] as const;
          const ch = new ChannelState(id);
          const ledger = new ChannelLedger({
            domain,
            params,
            deposit0: d0,
            deposit1: d1,
            verifySignature: "none",
            enforceFunds: true,
          });
          ops.forEach(([payer, lock, amount], k) => {
            const op: TransferOp = lock
              ? {
                  kind: "LOCK",
                  amount,
                  hashlock: `0x${(k + 1).toString(16).padStart(64, "0")}` as Hex,
                  expiry: 99n,
                }
              : { kind: "PAY", amount };
            const it = item(ch, payer as PayerIndex, op);
            let sdkOk = true;
            try {
              ledger.apply(it, { hash: it.hash });
            } catch {
              sdkOk = false;
            }
            let ours = true;
            try {
              ch.apply(it, deposits, true);
            } catch {
              ours = false;
            }
            expect(ours).to.equal(sdkOk);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it("keys a channel by its 32 id bytes and places it like Kafka's default partitioner", () => {
    expect(channelKey(id)).to.have.length(32);
    expect(channelPartition(id, 8)).to.equal(partitionOf(channelKey(id), 8));
    expect(channelPartition(id, 8)).to.be.within(0, 7);
  });

  it("a channel's partition, looked up again (cached) and for other counts, is still Kafka's", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 1, max: 64 }),
        (b, n) => {
          const cid = toHex(b) as Hash;
          const expected = partitionOf(channelKey(cid), n);
          expect(channelPartition(cid, n)).to.equal(expected);
          expect(channelPartition(cid, n), "from the cache").to.equal(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("relayer unit: batcher", () => {
  it("bounds batches by entries, gas and time, and replaces a channel's older entry", async () => {
    const sent: string[][] = [];
    const b = new Batcher<{ channelId: string; v: number }>(
      "t",
      { maxEntries: 3, maxGas: 100, maxWaitMs: 50 },
      40,
      async (e) => {
        sent.push(e.map((x) => `${x.channelId}:${x.v}`));
      },
      silentLogger,
    );
    b.add({ channelId: "a", v: 1 });
    b.add({ channelId: "a", v: 2 });
    b.add({ channelId: "b", v: 1 });
    b.add({ channelId: "c", v: 1 }); // 3 x 40 gas > 100: sent at once, two per batch
    await waitFor("two batches", () => sent.length === 2, 2000, 5);
    expect(sent[0]).to.deep.equal(["a:2", "b:1"]);
    expect(sent[1]).to.deep.equal(["c:1"]);
    b.add({ channelId: "d", v: 1 }); // alone: sent when its wait is over
    await waitFor("timed batch", () => sent.length === 3, 2000, 5);
    expect(sent[2]).to.deep.equal(["d:1"]);
    b.close();
  });
});
