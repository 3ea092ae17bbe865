/**
 * The plain-CANCEL rule a node applies (protocol §11.5, docs/relayer.md): a payer's own CANCEL counts
 * only once the CONFIRMED index's time is past the lock's expiry and the index holds no reveal of its
 * secret at or before the expiry, as `ChainVerifier` judges it in any later block. While the head (or the
 * wall clock) is past the expiry but the confirmed block is not, the CANCEL waits (like a transfer short
 * of funds); a CANCEL refused because the secret was revealed in time is dead-lettered saying so. The
 * transfer pipeline runs for real; the chain index is a stand-in whose times and reveals the test sets.
 */
import { expect } from "chai";
import { Wallet } from "ethers";
import {
  type Address,
  buildTransfer,
  codecs,
  type Hash,
  type Hex,
  hashlockOf,
  localSigner,
  type PayerIndex,
  signTransferUnjournaled,
  type TransferOp,
  transferMessage,
} from "../../sdk";
import { channelIdOf, hashTransfer, parsecDomain } from "../../sdk/src/eip712";
import type { ChainRegistry, OnchainChannel } from "../../relayer/src/chain/registry";
import { loadConfig } from "../../relayer/src/config";
import { Metrics } from "../../relayer/src/http/metrics";
import type { OutRecord } from "../../relayer/src/kafka/client";
import { channelKey } from "../../relayer/src/kafka/topics";
import { silentLogger } from "../../relayer/src/log";
import { MAX_CONFIRMATION_WAIT_MS, TransferPipeline } from "../../relayer/src/pipeline/transfers";
import { PartitionState } from "../../relayer/src/state/partition";

const domain = parsecDomain(31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address);
const FUNDS_WAIT_MS = 30_000;
const EXPIRY = 1_000_000n;
const AMOUNT = 50n;

/** The chain index as the pipeline reads it: the test moves its times and adds reveals. */
class FakeIndex {
  latestTimestamp = 0;
  confirmedTimestamp = 0;
  readonly reveals = new Map<string, bigint>();
  constructor(readonly channel: OnchainChannel) {}
  get(id: Hash): OnchainChannel | undefined {
    return id === this.channel.channelId ? this.channel : undefined;
  }
  async sync(): Promise<void> {}
  secretRevealedAt(hashlock: Hash): bigint | undefined {
    return this.reveals.get(hashlock.toLowerCase());
  }
  /** Head and confirmed block at these times. */
  at(head: bigint, confirmed: bigint): void {
    this.latestTimestamp = Number(head);
    this.confirmedTimestamp = Number(confirmed);
  }
}

/** One channel P0 → P1 with P0's LOCK (expiry `EXPIRY`) applied, and a pipeline over it. */
function setup() {
  const w = [Wallet.createRandom(), Wallet.createRandom()];
  const signers = w.map((x) => localSigner(x.privateKey as Hex));
  const params = {
    participant0: w[0].address as Address,
    participant1: w[1].address as Address,
    asset: "0x0000000000000000000000000000000000000000" as Address,
    challengePeriod: 3600,
    nonce: 1n,
  };
  const id = channelIdOf(domain, params).toLowerCase() as Hash;
  const onchain: OnchainChannel = {
    channelId: id,
    params,
    participantsLower: [params.participant0.toLowerCase(), params.participant1.toLowerCase()],
    participantBytes: [
      Buffer.from(params.participant0.slice(2), "hex"),
      Buffer.from(params.participant1.slice(2), "hex"),
    ],
    deposit0: 1000n,
    deposit1: 1000n,
    status: "OPEN",
    closesAt: 0,
    closer: null,
    seq0: 0,
    seq1: 0,
    checkpoint: { seq0: 0, seq1: 0 },
    lockPots: [0n, 0n],
    locksResolved: [0n, 0n],
    openedAtBlock: 1,
  };
  const index = new FakeIndex(onchain);
  const config = loadConfig({
    env: {
      KAFKA_BROKERS: "127.0.0.1:1",
      PARSEC_RPC_URL: "http://127.0.0.1:1",
      PARSEC_CHANNELS_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    },
  });
  const metrics = new Metrics();
  const ps = new PartitionState(0, {
    config,
    client: {} as never,
    logger: silentLogger,
    metrics,
    hashWires: async () => [],
  });
  const deadLetters: OutRecord[] = [];
  ps.deadLetter = (r) => void deadLetters.push(r);
  const hashes: Hash[] = [];
  const pipeline = new TransferPipeline({
    topic: "transfers",
    partitions: 1,
    registry: index as unknown as ChainRegistry,
    domain,
    // Signatures are the verifier pool's business, tested elsewhere: every message here is valid.
    verifier: {
      verifyBatch: async (wires) => {
        const out = Buffer.concat(hashes.splice(0, wires.length).map((h) => Buffer.from(h.slice(2), "hex")));
        return { codes: new Uint8Array(wires.length), hashes: new Uint8Array(out) };
      },
    },
    metrics,
    everyM: 1_000_000,
    onEquivocation: () => undefined,
  });
  let offset = 0;
  /** Signs P0's next transfer on the state the node holds and processes it. */
  const send = async (op: TransferOp): Promise<void> => {
    const state = ps.channel(id).payers[0].state;
    const t = signTransferUnjournaled(
      signers[0],
      domain,
      buildTransfer(state, { channelId: id, payer: 0 as PayerIndex }, op),
    );
    const hash = hashTransfer(t);
    hashes.push(hash);
    const value = codecs().transfer.encode(transferMessage(domain, t, signers[0].address));
    await pipeline.process(ps, [
      { topic: "transfers", partition: 0, offset: offset++, key: channelKey(id), value, timestampMs: 0 },
    ]);
  };
  const secret = `0x${"ab".repeat(32)}` as Hash;
  const hashlock = hashlockOf(secret);
  const lock = { amount: AMOUNT, expiry: EXPIRY, hashlock };
  const reasons = () => deadLetters.map((r) => codecs().deadLetter.decode(r.value as Buffer));
  const seq = () => ps.channel(id).payers[0].state.seq;
  return { id, ps, index, pipeline, send, lock, hashlock, reasons, seq };
}

describe("relayer: a plain CANCEL waits for the confirmed chain and respects on-chain reveals", () => {
  it("waits (not dead-lettered) while the head is past the expiry but the confirmed index is not, then counts", async () => {
    const s = setup();
    s.index.at(EXPIRY - 100n, EXPIRY - 100n);
    await s.send({ kind: "LOCK", ...s.lock });
    expect(s.seq()).to.equal(1);
    s.index.at(EXPIRY + 10n, EXPIRY); // the head passed the expiry; the confirmed block did not
    await s.send({ kind: "CANCEL", lock: s.lock });
    expect(s.seq()).to.equal(1);
    expect(s.reasons()).to.deep.equal([]);
    expect(s.ps.blocked.has(s.id)).to.equal(true);
    // Longer than a wait for funds: a CANCEL waiting for confirmations is not given up on.
    s.pipeline.expireBlocked(s.ps, Date.now() + FUNDS_WAIT_MS + 1, FUNDS_WAIT_MS);
    expect(s.seq()).to.equal(1);
    expect(s.reasons()).to.deep.equal([]);
    // The confirmed block passes the expiry with no reveal: the next retry applies it.
    s.index.at(EXPIRY + 20n, EXPIRY + 1n);
    s.pipeline.expireBlocked(s.ps, Date.now(), FUNDS_WAIT_MS);
    expect(s.seq()).to.equal(2);
    expect(s.ps.channel(s.id).payers[0].state.locks).to.deep.equal([]);
    expect(s.ps.blocked.has(s.id)).to.equal(false);
    expect(s.reasons()).to.deep.equal([]);
  });

  it("dead-letters a plain CANCEL whose secret was revealed on-chain by the expiry, with the reveal time", async () => {
    const s = setup();
    s.index.at(EXPIRY - 100n, EXPIRY - 100n);
    await s.send({ kind: "LOCK", ...s.lock });
    s.index.reveals.set(s.hashlock.toLowerCase(), EXPIRY - 5n);
    s.index.at(EXPIRY + 3_600n, EXPIRY + 3_600n);
    await s.send({ kind: "CANCEL", lock: s.lock });
    expect(s.seq()).to.equal(1);
    const [dl] = s.reasons();
    expect(dl.reasonCode).to.equal("CancelNotAllowed");
    expect(dl.reasonText).to.include("CancelNotAllowed");
    expect(dl.reasonText).to.include(`registered on-chain at ${EXPIRY - 5n}`);
    expect(dl.reasonText).to.include(`expiry ${EXPIRY}`);
  });

  it("dead-letters a waiting CANCEL once the confirmed index shows a reveal at or before the expiry", async () => {
    const s = setup();
    s.index.at(EXPIRY - 100n, EXPIRY - 100n);
    await s.send({ kind: "LOCK", ...s.lock });
    s.index.at(EXPIRY + 10n, EXPIRY - 1n);
    await s.send({ kind: "CANCEL", lock: s.lock });
    expect(s.reasons()).to.deep.equal([]);
    // The reveal's block (at the expiry) gets confirmed, and blocks after it.
    s.index.reveals.set(s.hashlock.toLowerCase(), EXPIRY);
    s.index.at(EXPIRY + 20n, EXPIRY + 5n);
    s.pipeline.expireBlocked(s.ps, Date.now(), FUNDS_WAIT_MS);
    expect(s.seq()).to.equal(1);
    expect(s.reasons().map((d) => d.reasonCode)).to.deep.equal(["CancelNotAllowed"]);
    expect(s.reasons()[0].reasonText).to.include(`registered on-chain at ${EXPIRY}`);
    expect(s.ps.blocked.has(s.id)).to.equal(false);
  });

  it("accepts a plain CANCEL after the expiry when the secret was revealed only after it", async () => {
    const s = setup();
    s.index.at(EXPIRY - 100n, EXPIRY - 100n);
    await s.send({ kind: "LOCK", ...s.lock });
    s.index.reveals.set(s.hashlock.toLowerCase(), EXPIRY + 1n);
    s.index.at(EXPIRY + 10n, EXPIRY + 10n);
    await s.send({ kind: "CANCEL", lock: s.lock });
    expect(s.seq()).to.equal(2);
    expect(s.reasons()).to.deep.equal([]);
  });

  it("refuses at once a plain CANCEL before the expiry (by the head and the wall clock)", async () => {
    const s = setup();
    const now = BigInt(Math.floor(Date.now() / 1000));
    const lock = { ...s.lock, expiry: now + 3_600n };
    s.index.at(now, now);
    await s.send({ kind: "LOCK", ...lock });
    await s.send({ kind: "CANCEL", lock });
    expect(s.seq()).to.equal(1);
    expect(s.reasons().map((d) => d.reasonCode)).to.deep.equal(["CancelNotAllowed"]);
    expect(s.reasons()[0].reasonText).to.include("before its lock's expiry");
  });

  it("gives up on a CANCEL the confirmed chain never reaches within MAX_CONFIRMATION_WAIT_MS", async () => {
    const s = setup();
    s.index.at(EXPIRY - 100n, EXPIRY - 100n);
    await s.send({ kind: "LOCK", ...s.lock });
    s.index.at(EXPIRY + 10n, EXPIRY);
    await s.send({ kind: "CANCEL", lock: s.lock });
    s.pipeline.expireBlocked(s.ps, Date.now() + MAX_CONFIRMATION_WAIT_MS + 1, FUNDS_WAIT_MS);
    expect(s.seq()).to.equal(1);
    expect(s.reasons().map((d) => d.reasonCode)).to.deep.equal(["CancelNotAllowed"]);
    expect(s.reasons()[0].reasonText).to.include("send it again");
  });
});
