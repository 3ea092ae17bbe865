/**
 * Item 10 (chain reorganisations): the chain index acts on events only `confirmations` blocks deep, sees
 * that blocks it read left the chain (block hash continuity), rewinds to the common ancestor and reads the
 * new history. Reorganisations are made on the in-process Hardhat chain: `evm_snapshot` before a change,
 * `evm_revert` after indexing it, then a different history is mined. No Kafka.
 */
import { expect } from "chai";
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import { hexlify, parseEther, randomBytes, sha256, type Contract, type Signer } from "ethers";
import { ChainRegistry, type ChainEvent } from "../../relayer/src/chain/registry";
import { channelsInterface } from "../../relayer/src/chain/abi";
import { BlockHistory, defaultConfirmations, type IndexedBlock } from "../../relayer/src/chain/reorg";
import { Rpc } from "../../relayer/src/chain/rpc";
import { loadConfig } from "../../relayer/src/config";
import { ChainError } from "../../relayer/src/errors";
import { M, Metrics } from "../../relayer/src/http/metrics";
import type { Address, Hash } from "../../sdk";
import { testLogger } from "./harness";

const send = (method: string, params: unknown[] = []): Promise<unknown> =>
  hre.network.provider.send(method, params);
const mine = async (blocks = 1): Promise<void> => {
  for (let i = 0; i < blocks; i++) await send("evm_mine");
};
const snapshot = async (): Promise<string> => String(await send("evm_snapshot"));
const revert = async (id: string): Promise<void> => {
  expect(await send("evm_revert", [id])).to.equal(true);
};
const headNumber = async (): Promise<number> => Number(await send("eth_blockNumber"));

describe("relayer: chain reorganisations", function () {
  this.timeout(60_000);
  let server: JsonRpcServer;
  let rpc: Rpc;
  let channels: Contract;
  let address: Address;
  let startBlock: number;
  let p0: Signer;
  let p1: Signer;
  let nonce = 0n;

  before(async () => {
    server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await server.listen();
    rpc = await Rpc.connect(`http://127.0.0.1:${port}`, null);
    const c = await (await hre.ethers.getContractFactory("ParsecChannels")).deploy();
    await c.waitForDeployment();
    channels = c as unknown as Contract;
    address = (await c.getAddress()) as Address;
    startBlock = await headNumber();
    [p0, p1] = await hre.ethers.getSigners();
  });
  after(async () => {
    rpc.close();
    await server.close();
  });

  /** A registry over the test contract that records what it tells listeners. */
  function registry(confirmations: number, historyBlocks?: number) {
    const metrics = new Metrics();
    const r = new ChainRegistry(rpc, address, startBlock, testLogger(), {
      confirmations,
      historyBlocks,
      metrics,
    });
    const events: ChainEvent[] = [];
    // Records are mutated in place: keep the deposits as they were when each event was told.
    const seen: { type: string; deposit0?: bigint; deposit1?: bigint; status?: string }[] = [];
    r.on((e) => {
      events.push(e);
      const ch = "channel" in e ? e.channel : undefined;
      seen.push({ type: e.type, deposit0: ch?.deposit0, deposit1: ch?.deposit1, status: ch?.status });
    });
    return { r, events, seen, reorgs: () => metrics.value(M.reorgs) };
  }

  /** Opens a fresh ETH channel P0→P1 with `deposit` (one block); returns its id and params. */
  async function open(deposit: bigint, n = ++nonce) {
    const c = channels.connect(p0) as Contract;
    const counterparty = await p1.getAddress();
    const id = (await c.openEth.staticCall(counterparty, 3600, n, { value: deposit })) as string;
    await (await c.openEth(counterparty, 3600, n, { value: deposit })).wait();
    const params = [await p0.getAddress(), counterparty, `0x${"00".repeat(20)}`, 3600, n];
    return { id: id.toLowerCase() as Hash, params, nonce: n };
  }

  it("rewinds a channel opening that a reorganisation replaced and indexes the new history", async () => {
    const { r, events, seen, reorgs } = registry(0);
    await r.sync();
    const snap = await snapshot();
    const before = await headNumber();
    const first = await open(parseEther("1"));
    await mine(2);
    await r.sync();
    const old = r.get(first.id);
    expect(old?.deposit0).to.equal(parseEther("1"));
    expect(r.confirmedBlock).to.equal(before + 3);

    // Another history from the snapshot: the same channel opened with another deposit, in a shorter chain.
    await revert(snap);
    const second = await open(parseEther("2"), first.nonce);
    expect(second.id).to.equal(first.id);
    events.length = 0;
    seen.length = 0;
    await r.sync();

    expect(seen.map((e) => e.type)).to.deep.equal(["reorg", "opened"]);
    const reorg = events[0] as Extract<ChainEvent, { type: "reorg" }>;
    expect(reorg.ancestor).to.equal(before);
    expect(reorg.depth).to.equal(3);
    expect(reorg.removed).to.deep.equal([first.id]);
    expect(old?.status).to.equal("NONE"); // a listener still holding the old record sees it is gone
    expect(r.get(first.id)?.deposit0).to.equal(parseEther("2"));
    expect(r.byParticipant(await p0.getAddress()).filter((c) => c.channelId === first.id)).to.have.length(1);
    expect(r.confirmedBlock).to.equal(before + 1);
    expect(reorgs()).to.equal(1);
  });

  it("forgets a channel whose opening left the chain", async () => {
    const { r, events, reorgs } = registry(0);
    await r.sync();
    const snap = await snapshot();
    const { id } = await open(parseEther("1"));
    await r.sync();
    expect(r.get(id)).to.not.equal(undefined);
    const size = r.size;

    await revert(snap);
    await mine(3); // a longer history without the channel
    events.length = 0;
    await r.sync();

    expect(r.get(id)).to.equal(undefined);
    expect(r.size).to.equal(size - 1);
    expect(r.byParticipant(await p1.getAddress()).some((c) => c.channelId === id)).to.equal(false);
    expect(events.map((e) => e.type)).to.deep.equal(["reorg"]);
    expect((events[0] as Extract<ChainEvent, { type: "reorg" }>).removed).to.deep.equal([id]);
    expect(reorgs()).to.equal(1);
  });

  it("restores a deposit of a replaced block in the record listeners hold, then applies the new one", async () => {
    const { r, seen } = registry(0);
    const { id } = await open(parseEther("1"));
    await r.sync();
    const held = r.get(id);
    const snap = await snapshot();
    await (await (channels.connect(p1) as Contract).deposit(id, 1, { value: parseEther("3") })).wait();
    await r.sync();
    expect(held?.deposit1).to.equal(parseEther("3"));

    await revert(snap);
    await (await (channels.connect(p1) as Contract).deposit(id, 1, { value: parseEther("5") })).wait();
    seen.length = 0;
    await r.sync();

    // The reorg event shows the record rewound (no deposit of P1), the deposit event the new history.
    expect(seen).to.deep.equal([
      { type: "reorg", deposit0: undefined, deposit1: undefined, status: undefined },
      { type: "deposit", deposit0: parseEther("1"), deposit1: parseEther("5"), status: "OPEN" },
    ]);
    expect(r.get(id)).to.equal(held); // same object: references held elsewhere stay valid
    expect(held?.deposit1).to.equal(parseEther("5"));
  });

  it("reopens a close that left the chain and sees the close of the new history", async () => {
    const { r, seen } = registry(0);
    const { id, params } = await open(parseEther("1"));
    await r.sync();
    const snap = await snapshot();
    await (await (channels.connect(p0) as Contract).close(params)).wait();
    await r.sync();
    const closesAt = r.get(id)?.closesAt ?? 0;
    expect(r.get(id)?.status).to.equal("CLOSING");

    await revert(snap);
    await mine(2);
    seen.length = 0;
    await r.sync();
    expect(seen.map((e) => e.type)).to.deep.equal(["reorg"]);
    expect(r.get(id)).to.include({ status: "OPEN", closesAt: 0, closer: null });

    // The counterparty closes later in this history: a new closing event with its own closesAt.
    await send("evm_increaseTime", [100]);
    await (await (channels.connect(p1) as Contract).close(params)).wait();
    await r.sync();
    expect(seen.map((e) => e.type)).to.deep.equal(["reorg", "closing"]);
    expect(r.get(id)?.closer).to.equal(await p1.getAddress());
    expect(r.get(id)?.closesAt).to.be.greaterThan(closesAt);
  });

  it("acts on an event only once it is `confirmations` blocks deep", async () => {
    const k = 3;
    const { r, events } = registry(k);
    await r.sync();
    const { id } = await open(parseEther("1"));
    const opened = await headNumber();
    for (let depth = 0; depth < k; depth++) {
      await r.sync();
      expect(r.get(id), `at depth ${depth}`).to.equal(undefined);
      expect(r.confirmedBlock).to.equal(opened + depth - k);
      expect(r.latestBlock).to.equal(opened + depth);
      await mine();
    }
    await r.sync();
    expect(r.get(id)?.deposit0).to.equal(parseEther("1"));
    expect(r.confirmedBlock).to.equal(opened);
    expect(events.filter((e) => e.type === "opened" && e.channel.channelId === id)).to.have.length(1);
  });

  /** Registers `secret` in the registry (the channels contract) in one block; returns that block. */
  async function register(secret: string): Promise<{ number: number; timestamp: number }> {
    const receipt = await (await (channels.connect(p1) as Contract).registerSecrets([secret])).wait();
    const block = await hre.ethers.provider.getBlock(receipt.blockNumber);
    return { number: receipt.blockNumber as number, timestamp: block!.timestamp };
  }

  it("indexes SecretRevealed at the confirmation depth, with its block's time, and the confirmed block's time", async () => {
    const k = 2;
    const { r } = registry(k);
    const secret = hexlify(randomBytes(32));
    const hashlock = sha256(secret) as Hash;
    const at = await register(secret);
    await r.sync();
    expect(r.secretRevealedAt(hashlock)).to.equal(undefined); // not confirmed yet
    expect(r.confirmedBlock).to.equal(at.number - k);
    await mine(k);
    await r.sync();
    expect(r.secretRevealedAt(hashlock)).to.equal(BigInt(at.timestamp));
    expect(r.revealedSecret(hashlock)).to.deep.equal({ secret, at: BigInt(at.timestamp) });
    expect(r.secretRevealedAt(hashlock.toUpperCase().replace("0X", "0x") as Hash)).to.equal(
      BigInt(at.timestamp),
    );
    const confirmed = await hre.ethers.provider.getBlock(r.confirmedBlock);
    expect(r.confirmedTimestamp).to.equal(confirmed!.timestamp);
    expect(r.confirmedTimestamp).to.be.below(r.latestTimestamp + 1);
    // A second registration of the same secret changes nothing (the contract keeps the first time).
    await send("evm_increaseTime", [100]);
    await register(secret);
    await mine(k);
    await r.sync();
    expect(r.secretRevealedAt(hashlock)).to.equal(BigInt(at.timestamp));
    // An index built from the start block (another node, a rebuild) reads the same reveal.
    const fresh = registry(0).r;
    await fresh.sync();
    expect(fresh.secretRevealedAt(hashlock)).to.equal(BigInt(at.timestamp));
  });

  it("forgets a reveal whose block a reorganisation replaced, and rewinds the confirmed time", async () => {
    const { r, reorgs } = registry(0);
    await r.sync();
    const snap = await snapshot();
    const before = r.confirmedTimestamp;
    const secret = hexlify(randomBytes(32));
    const hashlock = sha256(secret) as Hash;
    await send("evm_increaseTime", [1_000]);
    const at = await register(secret);
    await r.sync();
    expect(r.secretRevealedAt(hashlock)).to.equal(BigInt(at.timestamp));
    expect(r.confirmedTimestamp).to.equal(at.timestamp);

    // Another history without the reveal, as long as the first: the index rewinds the reveal away.
    await revert(snap);
    await mine(1);
    await r.sync();
    expect(r.secretRevealedAt(hashlock)).to.equal(undefined);
    expect(reorgs()).to.equal(1);
    const head = await hre.ethers.provider.getBlock("latest");
    expect(r.confirmedTimestamp).to.equal(head!.timestamp);
    expect(r.confirmedTimestamp).to.be.at.least(before);
    expect(r.confirmedTimestamp).to.be.below(at.timestamp);

    // The reveal lands again, later, in the new history: the index takes the new time.
    await send("evm_increaseTime", [2_000]);
    const again = await register(secret);
    await r.sync();
    expect(r.secretRevealedAt(hashlock)).to.equal(BigInt(again.timestamp));
    expect(again.timestamp).to.be.above(at.timestamp);
  });

  it("never sees a reorganisation shallower than the confirmation depth", async () => {
    const { r, events, reorgs } = registry(3);
    await mine(3);
    await r.sync();
    events.length = 0;
    const snap = await snapshot();
    const { id } = await open(parseEther("1"));
    await mine(1);
    await r.sync(); // the opening is 1 block deep: not acted on
    await revert(snap);
    await mine(6);
    await r.sync();
    expect(r.get(id)).to.equal(undefined);
    expect(events).to.deep.equal([]);
    expect(reorgs()).to.equal(0);
  });

  it("rebuilds from the start block after a reorganisation deeper than the kept history", async () => {
    const { r, events, reorgs } = registry(0, 4);
    const { id } = await open(parseEther("1"));
    await r.sync();
    const held = r.get(id);
    const snap = await snapshot();
    await (await (channels.connect(p1) as Contract).deposit(id, 1, { value: parseEther("3") })).wait();
    await mine(8);
    await r.sync();
    expect(held?.deposit1).to.equal(parseEther("3"));

    await revert(snap);
    await (await (channels.connect(p1) as Contract).deposit(id, 1, { value: parseEther("4") })).wait();
    await mine(9);
    events.length = 0;
    await r.sync();

    expect(events.map((e) => e.type)).to.deep.equal(["reorg"]);
    const reorg = events[0] as Extract<ChainEvent, { type: "reorg" }>;
    expect(reorg.ancestor).to.equal(startBlock - 1);
    expect(reorg.channels).to.include(held);
    expect(r.get(id)).to.equal(held);
    expect(held?.deposit1).to.equal(parseEther("4"));
    expect(r.confirmedBlock).to.equal(await headNumber());
    expect(reorgs()).to.equal(1);
  });
});

describe("relayer unit: block history and confirmations", () => {
  const hash = (n: number, fork = 0): Hash => `0x${(fork * 1000 + n).toString(16).padStart(64, "0")}` as Hash;
  const block = (n: number, fork = 0, parentFork = fork): IndexedBlock => ({
    number: n,
    hash: hash(n, fork),
    parentHash: hash(n - 1, parentFork),
  });

  it("keeps the last `depth` blocks with their undo records", () => {
    const h = new BlockHistory<string>(3);
    for (let n = 10; n <= 14; n++) {
      expect(h.push(block(n))).to.equal(true);
      h.note(n, `change in ${n}`);
    }
    expect(h.newestFirst().map((b) => b.number)).to.deep.equal([14, 13, 12]);
    h.note(11, "too old"); // not kept: ignored
    expect(h.has(11)).to.equal(false);
    h.note(14, "second change in 14");
    expect(h.rewindTo(12)).to.deep.equal(["second change in 14", "change in 14", "change in 13"]);
    expect(h.tip?.number).to.equal(12);
    expect(h.rewindTo(12)).to.deep.equal([]);
  });

  it("refuses a block that is not the tip's child and starts afresh after a gap", () => {
    const h = new BlockHistory<string>(5);
    h.push(block(1));
    h.push(block(2));
    expect(h.push(block(3, 1, 1))).to.equal(false); // parent is another fork's block 2
    expect(h.tip?.number).to.equal(2);
    h.note(2, "x");
    expect(h.push(block(9))).to.equal(true); // skipped 3..8: older blocks could not be rewound to
    expect(h.newestFirst().map((b) => b.number)).to.deep.equal([9]);
    expect(h.rewindTo(0)).to.deep.equal([]);
  });

  it("reads a range again when the chain changed between its headers and its logs", async () => {
    // A chain of 6 blocks; eth_getLogs answers from another fork `stale` times, then from this one.
    const chain = Array.from({ length: 6 }, (_, n) => ({ ...block(n), timestamp: n, baseFeePerGas: null }));
    const opened = channelsInterface.encodeEventLog("ChannelOpened", [
      hash(1),
      `0x${"11".repeat(20)}`,
      `0x${"22".repeat(20)}`,
      `0x${"00".repeat(20)}`,
      3600,
      1,
      5,
    ]);
    let stale = 0;
    let logReads = 0;
    const fake = {
      chainId: 1n,
      block: async () => chain[chain.length - 1],
      blockOrNull: async (n: number) => chain[n] ?? null,
      blocks: async (from: number, to: number) => chain.slice(from, to + 1),
      logs: async () => {
        logReads++;
        const fork = stale-- > 0 ? 7 : 0;
        return [
          { ...opened, blockNumber: 3, blockHash: hash(3, fork), transactionHash: hash(3), logIndex: 0 },
        ];
      },
    } as unknown as Rpc;
    const r = new ChainRegistry(fake, `0x${"33".repeat(20)}` as Address, 1, testLogger(), {
      confirmations: 0,
    });

    stale = 3; // more than the attempts of one sync: nothing is applied and the sync fails
    let err: unknown;
    await r.sync().catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(ChainError);
    expect([r.size, r.confirmedBlock, logReads]).to.deep.equal([0, 0, 3]);

    stale = 1; // once: the second attempt reads a consistent chain
    await r.sync();
    expect([r.size, r.confirmedBlock, r.get(hash(1))?.deposit0]).to.deep.equal([1, 5, 5n]);
  });

  it("defaults to 0 confirmations on local development chains and 12 elsewhere; PARSEC_CONFIRMATIONS sets it", () => {
    expect(defaultConfirmations(31337n)).to.equal(0);
    expect(defaultConfirmations(1337n)).to.equal(0);
    expect(defaultConfirmations(1n)).to.equal(12);
    expect(defaultConfirmations(11155111n)).to.equal(12);
    const env = {
      KAFKA_BROKERS: "127.0.0.1:9092",
      PARSEC_RPC_URL: "http://127.0.0.1:8545",
      PARSEC_CHANNELS_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    };
    expect(loadConfig({ env }).chain.confirmations).to.equal(null);
    expect(loadConfig({ env: { ...env, PARSEC_CONFIRMATIONS: "2" } }).chain.confirmations).to.equal(2);
    expect(() => loadConfig({ env: { ...env, PARSEC_CONFIRMATIONS: "-1" } })).to.throw(/chain.confirmations/);
  });
});
