/**
 * Defect 12: one action per channel, enforced. The race: an action runs on a channel, a fraud proof
 * takes the channel, the first action ends — and its cleanup must not free the channel under the running
 * proof (before, it did, and the next tick started a third action). Also: a preempted action sends
 * nothing more, a waiting dispute is not starved by commits, and a control request that keeps failing
 * backs off and gives up with a FAILED outcome naming its request and reason. No Kafka, no chain.
 */
import { expect } from "chai";
import type { Address, Hash, Hex } from "../../sdk";
import type { OnchainChannel } from "../../relayer/src/chain/registry";
import type { TxRequest, TxResult } from "../../relayer/src/chain/tx-sender";
import { ChainError } from "../../relayer/src/errors";
import { Metrics } from "../../relayer/src/http/metrics";
import { silentLogger } from "../../relayer/src/log";
import { ChannelState } from "../../relayer/src/state/channel";
import { Mutex, type PartitionState } from "../../relayer/src/state/partition";
import { ChainActions } from "../../relayer/src/commit/core/chain-actions";
import { TestClock } from "../../relayer/src/commit/core/clock";
import type { Outcome } from "../../relayer/src/commit/core/outcomes";
import type { ChainView, Sender } from "../../relayer/src/commit/core/ports";
import type { ActionToken } from "../../relayer/src/commit/core/slots";
import { ControlRequests } from "../../relayer/src/commit/control/control-requests";
import type { Evidence } from "../../relayer/src/commit/evidence";

const ID = `0x${"cd".repeat(32)}` as Hash;
const CONTRACT = `0x${"11".repeat(20)}` as Address;
const RETRY = { baseDelayMs: 1000, maxDelayMs: 4000, maxAttempts: 3 };

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
}
const deferred = (): Deferred => {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A sender whose transactions are mined when the test says so; it records what was sent. */
class FakeSender implements Sender {
  readonly address = `0x${"22".repeat(20)}` as Address;
  readonly sent: string[] = [];
  private readonly gates = new Map<string, Deferred>();

  gate(label: string): Deferred {
    const d = deferred();
    this.gates.set(label, d);
    return d;
  }

  async send(req: TxRequest): Promise<TxResult> {
    this.sent.push(req.label);
    await this.gates.get(req.label)?.promise;
    return {
      transactionHash: `0x${"ee".repeat(32)}` as Hash,
      status: "success",
      blockNumber: 1,
      gasUsed: 21_000n,
      effectiveGasPrice: 1n,
      logs: [],
      attempts: 1,
    };
  }
}

const newActions = (clock = new TestClock()): ChainActions =>
  new ChainActions({
    to: CONTRACT,
    retry: RETRY,
    clock,
    metrics: new Metrics(),
    logger: silentLogger,
    random: () => 1,
  });

describe("relayer unit: one action per channel (defect 12)", () => {
  it("a fraud proof's channel is not freed when the action it preempted ends (the race)", async () => {
    const actions = newActions();
    const sender = new FakeSender();
    const step1 = sender.gate("dispute step 1");
    const proofMined = sender.gate("proveEquivocation");
    const send = (token: ActionToken, label: string) =>
      actions.send(sender, { method: label, data: "0x" as Hex, label, token });

    // 1. A dispute runs: its first transaction is waiting to be mined.
    const dispute = actions.run({ channelId: ID, kind: "dispute", label: "dispute" }, async (token) => {
      await send(token, "dispute step 1");
      await send(token, "dispute step 2");
    });
    await flush();
    expect(actions.slots.holder(ID)).to.equal("dispute");

    // 2. An equivocation is seen: the fraud proof takes the channel at once.
    const proof = actions.run(
      { channelId: ID, kind: "fraudProof", label: "proveEquivocation" },
      async (token) => {
        await send(token, "proveEquivocation");
      },
    );
    await flush();
    expect(actions.slots.holder(ID)).to.equal("fraudProof");

    // 3. The dispute's transaction is mined; the dispute ends (its cleanup runs) while the proof still runs.
    step1.resolve();
    expect(await dispute).to.equal("preempted");
    expect(sender.sent, "the preempted dispute sent nothing more").to.deep.equal([
      "dispute step 1",
      "proveEquivocation",
    ]);
    expect(actions.slots.holder(ID), "the proof still holds the channel").to.equal("fraudProof");

    // 4. The next tick must not start a third action on the channel.
    let third = false;
    const r = await actions.run({ channelId: ID, kind: "checkpoint", label: "checkpoint" }, async () => {
      third = true;
    });
    expect(r).to.equal("busy");
    expect(third).to.equal(false);
    expect(
      await actions.run({ channelId: ID, kind: "fraudProof", label: "second proof" }, async () => undefined),
      "a second fraud proof waits for the first",
    ).to.equal("busy");

    // 5. The proof is mined: the channel is free again; the waiting second proof (its claim outranks the
    // checkpoint) goes first, then the checkpoint.
    proofMined.resolve();
    expect(await proof).to.equal("done");
    expect(actions.busy(ID)).to.equal(false);
    const checkpoint = () =>
      actions.run({ channelId: ID, kind: "checkpoint", label: "checkpoint" }, async () => undefined);
    expect(await checkpoint()).to.equal("busy");
    expect(
      await actions.run({ channelId: ID, kind: "fraudProof", label: "second proof" }, async () => undefined),
    ).to.equal("done");
    expect(await checkpoint()).to.equal("done");
  });

  it("a waiting dispute gets the channel before the next commit", async () => {
    const actions = newActions();
    const gate = deferred();
    const commit = actions.run(
      { channelId: ID, kind: "checkpoint", label: "checkpoint" },
      () => gate.promise,
    );
    expect(
      await actions.run({ channelId: ID, kind: "dispute", label: "dispute" }, async () => undefined),
    ).to.equal("busy");
    gate.resolve();
    expect(await commit).to.equal("done");
    expect(
      await actions.run({ channelId: ID, kind: "checkpoint", label: "checkpoint" }, async () => undefined),
      "the commit yields to the waiting dispute",
    ).to.equal("busy");
    expect(
      await actions.run({ channelId: ID, kind: "dispute", label: "dispute" }, async () => undefined),
    ).to.equal("done");
    expect(
      await actions.run({ channelId: ID, kind: "checkpoint", label: "checkpoint" }, async () => undefined),
    ).to.equal("done");
  });

  it("a failed action backs off exponentially; the channel is free meanwhile", async () => {
    const clock = new TestClock();
    const actions = newActions(clock);
    const fail = async (): Promise<void> => {
      throw new ChainError("rpc down");
    };
    expect(await actions.run({ channelId: ID, kind: "settle", label: "settle" }, fail)).to.equal("failed");
    expect(actions.busy(ID)).to.equal(false);
    expect(actions.step(ID, "settle")).to.deep.equal({ kind: "wait", untilMs: clock.now() + 1000 });
    clock.advance(1000);
    expect(actions.step(ID, "settle").kind).to.equal("proceed");
    expect(await actions.run({ channelId: ID, kind: "settle", label: "settle" }, fail)).to.equal("failed");
    expect(actions.step(ID, "settle")).to.deep.equal({ kind: "wait", untilMs: clock.now() + 2000 });
  });
});

describe("relayer unit: a control request that keeps failing gives up (defect 12)", () => {
  it("retries DISPUTE with backoff, then publishes FAILED with its request id and reason and clears it", async () => {
    const clock = new TestClock();
    const actions = newActions(clock);
    const outcomes: Outcome[] = [];
    let attempts = 0;
    const evidence: Evidence = {
      plan: async () => [],
      runSteps: async () => undefined,
      bringOnChain: async () => {
        attempts++;
        throw new ChainError("eth_call failed: connection refused");
      },
    };
    const onchain = { channelId: ID, status: "OPEN" } as OnchainChannel;
    const chain: ChainView & { latestTimestamp: number } = {
      address: CONTRACT,
      latestTimestamp: 0,
      get: (id) => (id === ID ? onchain : undefined),
      all: () => [onchain],
      onchainState: () => Promise.reject(new Error("not used")),
      sync: async () => undefined,
      on: () => undefined,
    };
    const ch = new ChannelState(ID);
    let dirty = 0;
    const ps = {
      channels: new Map([[ID, ch]]),
      revoked: false,
      lock: new Mutex(),
      markDirty: () => void dirty++,
    } as unknown as PartitionState;
    const control = new ControlRequests({
      domain: { name: "Parsec", version: "1", chainId: 31337n, verifyingContract: CONTRACT },
      chain,
      actions,
      evidence,
      outcomes: { publish: (o) => outcomes.push(o) },
      submitter: null,
      senders: new Map(),
      signers: new Map(),
      now: () => clock.now(),
    });
    control.request(ps, ch, "DISPUTE", "req-7");

    const tickAndSettle = async (): Promise<void> => {
      control.tick();
      for (let i = 0; i < 5; i++) await flush();
    };
    await tickAndSettle();
    expect(attempts).to.equal(1);
    await tickAndSettle();
    expect(attempts, "waits out the backoff").to.equal(1);
    clock.advance(1000);
    await tickAndSettle();
    expect(attempts).to.equal(2);
    clock.advance(1999);
    await tickAndSettle();
    expect(attempts, "the second wait is twice as long").to.equal(2);
    clock.advance(1);
    await tickAndSettle();
    expect(attempts).to.equal(3);
    expect(outcomes).to.deep.equal([]);
    clock.advance(4000);
    await tickAndSettle();
    expect(attempts, "no attempt beyond maxAttempts").to.equal(3);
    expect(outcomes).to.deep.equal([
      {
        channelId: ID,
        action: "CHAIN_EXTENSION",
        status: "FAILED",
        requestId: "req-7",
        detail: "gave up after 3 attempts: Chain: eth_call failed: connection refused.",
      },
    ]);
    expect(ch.control, "cleared from the snapshot").to.equal(null);
    expect(control.size).to.equal(0);
    expect(dirty).to.be.greaterThan(0);
    clock.advance(60_000);
    await tickAndSettle();
    expect(attempts).to.equal(3);
  });
});
