/**
 * The mediator's safety rule (protocol §11.5 "Safety") against adversarial neighbours, on a real broker
 * and the in-process chain: Bob's node mediates Alice → Bob → Carol, and the test plays Alice and Carol
 * badly — revealing at the last moment or too late, closing at an old state, front-running the
 * watchtower, going offline. Each case runs on its own deployment and channels, closes both channels,
 * lets Bob's watchtower answer, settle and resolve the lock pots, and asserts what Bob's address was paid:
 * both deposits plus his fee when he had to pay downstream, both deposits (nothing lost) otherwise.
 */
import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import hre from "hardhat";
import { randomBytes } from "node:crypto";
import { Wallet, ZeroHash, parseEther, type Contract } from "ethers";
import {
  codecs,
  createFailure,
  OnionFailureCode,
  peelOnion,
  forwardingFee,
  type Address,
  type Hash,
  type Hex,
  hashlockOf,
  localSigner,
  type PaymentMessage,
  type PaymentMessageBody,
  signPaymentMessage,
  extendChainArgs,
  proveHeadArgs,
  type SignedTransfer,
  transferMessage,
  TransferKind,
  toHex,
} from "../../sdk";
import { ParsecNode } from "../../relayer/src/node";
import { channelKey } from "../../relayer/src/kafka/topics";
import { ROUTE_APP_KIND } from "../../relayer/src/mediate/service";
import {
  Harness,
  TEST_MEDIATION_POLICY,
  getJson,
  sleep,
  testLogger,
  waitFor,
  type TestChannel,
} from "./harness";
import { twoHopOnion } from "./mediate-fixtures";

/** δ: the node's expiry delta; m: its confirmation margin (δ ≥ m). */
const {
  feeBase: FEE_BASE,
  feePpm: FEE_PPM,
  expiryDelta: DELTA,
  minConfirmationMarginSeconds: MARGIN,
} = TEST_MEDIATION_POLICY;
const DEPOSIT = parseEther("10");
const fee = (amount: bigint): bigint => forwardingFee({ feeBase: FEE_BASE, feePpm: FEE_PPM }, amount);

interface Payment {
  readonly secret: Hash;
  readonly hashlock: Hash;
  readonly amount: bigint;
  readonly amountIn: bigint;
  readonly expiryIn: bigint;
  readonly expiryOut: bigint;
  /** Alice's signed LOCK on Alice–Bob. */
  readonly lockIn: SignedTransfer;
}

/** One route Alice (P0) – Bob (P1) = ab, Bob (P0) – Carol (P1) = bc, with Bob's node running. */
class Route {
  node: ParsecNode | null = null;
  ab!: TestChannel;
  bc!: TestChannel;
  readonly alice = new Wallet(Wallet.createRandom().privateKey, hre.ethers.provider);
  readonly bob = new Wallet(Wallet.createRandom().privateKey);
  readonly carol = new Wallet(Wallet.createRandom().privateKey, hre.ethers.provider);
  /** Bob's ETH before any close: what the settlements add to it is his outcome. */
  bobBefore = 0n;

  private constructor(readonly h: Harness) {}

  get paymentsTopic(): string {
    return `${this.h.prefix}parsec.payment-messages`;
  }

  /** Bob's node settings (in-process or as a child process). */
  static readonly settings = {
    state: { flushIntervalMs: 100 },
    commit: { everyM: 100_000 },
    mediation: {
      enabled: true,
      feeBase: FEE_BASE.toString(),
      feePpm: FEE_PPM,
      expiryDelta: DELTA,
      minConfirmationMarginSeconds: MARGIN,
    },
  };

  /** The route, with Bob's node in this process unless `inProcess` is false (the test spawns it). */
  static async create(inProcess = true): Promise<Route> {
    const r = new Route(await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") }));
    r.ab = await r.h.openChannel(DEPOSIT, DEPOSIT, [r.alice, r.bob]);
    r.bc = await r.h.openChannel(DEPOSIT, DEPOSIT, [r.bob, r.carol]);
    r.bobBefore = await hre.ethers.provider.getBalance(r.bob.address);
    if (!inProcess) return r;
    r.node = await ParsecNode.start(r.h.mediatorConfig(r.bob.privateKey), { logger: testLogger() });
    return r;
  }

  /** Bob's node as a child process on its own disk `bob` (a restart reuses it). */
  async spawnBob(
    name: string,
  ): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
    return this.h.spawnNode(name, Route.settings, { PARSEC_SIGNER_KEYS: this.bob.privateKey }, "bob");
  }

  async close(): Promise<void> {
    await this.node?.stop();
    await this.h.client
      .deleteTopics([this.paymentsTopic, `${this.h.prefix}parsec.channel-graph`])
      .catch(() => undefined);
    await this.h.close();
  }

  /** Alice's routed LOCK for `amount` to Carol (the onion for Bob then Carol), e = now + 1 h. */
  async aliceLocks(amount: bigint): Promise<Payment> {
    const secret = toHex(randomBytes(32)) as Hash;
    const hashlock = hashlockOf(secret);
    const expiryOut = (await chainNow()) + 3_600n;
    const expiryIn = expiryOut + BigInt(DELTA);
    const amountIn = amount + fee(amount);
    const { packet } = twoHopOnion({
      hashlock,
      bobKey: this.bob.privateKey as Hex,
      carolKey: this.carol.privateKey as Hex,
      nextChannel: this.bc.id,
      amount,
      expiry: expiryOut,
      paymentSecret: hashlock,
    });
    const { transfer } = this.ab.next(0, { kind: "LOCK", amount: amountIn, expiry: expiryIn, hashlock });
    const value = codecs().transfer.encode(
      transferMessage(this.h.domain, transfer, this.alice.address as Address, {
        appKind: ROUTE_APP_KIND,
        appData: packet,
        sentAtMs: Date.now(),
      }),
    );
    await this.h.produce([{ key: channelKey(this.ab.id), value }]);
    return { secret, hashlock, amount, amountIn, expiryIn, expiryOut, lockIn: transfer };
  }

  /** Bob's transfers on Bob–Carol of `kind` under `hashlock`, as Carol reads them from the topic. */
  async bobsTransfers(hashlock: Hash, kind: TransferKind): Promise<{ seq: number }[]> {
    const out: { seq: number }[] = [];
    for (const r of await this.h.readAll(this.h.topics.transfers)) {
      if (!r.key?.equals(channelKey(this.bc.id)) || !r.value) continue;
      const m = codecs().transfer.decode(r.value);
      if (m.transfer.kind === kind && m.transfer.hashlock === hashlock) out.push({ seq: m.transfer.seq });
    }
    return out;
  }

  /** Bob's signed LOCK to Carol under `hashlock`, as Carol holds it. */
  async bobsLock(hashlock: Hash): Promise<SignedTransfer> {
    for (const r of await this.h.readAll(this.h.topics.transfers)) {
      if (!r.key?.equals(channelKey(this.bc.id)) || !r.value) continue;
      const { transfer } = codecs().transfer.decode(r.value);
      if (transfer.kind === TransferKind.Lock && transfer.hashlock === hashlock) return transfer;
    }
    throw new Error(`no LOCK under ${hashlock} on Bob–Carol`);
  }

  /** Waits for Bob's LOCK to Carol, applied by the node; returns its seq. */
  async lockToCarol(p: Payment): Promise<number> {
    const [lock] = await waitFor("the node's LOCK to Carol", async () => {
      const l = await this.bobsTransfers(p.hashlock, TransferKind.Lock);
      return l.length > 0 && l;
    });
    await waitFor("Bob's LOCK applied", () => this.bobOnBc()?.locks.some((l) => l.hashlock === p.hashlock));
    return lock.seq;
  }

  async carolSays(seq: number, hashlock: Hash, body: PaymentMessageBody): Promise<void> {
    const msg = signPaymentMessage(
      localSigner(this.carol.privateKey as Hex),
      this.h.domain,
      { channelId: this.bc.id, payer: 0, seq: BigInt(seq), hashlock, ...body },
      Date.now(),
    );
    await this.h.produce(
      [{ key: channelKey(this.bc.id), value: codecs().paymentMessage.encode(msg) }],
      this.paymentsTopic,
    );
  }

  /** What Bob told Alice about her LOCK under `hashlock`. */
  async bobToAlice(hashlock: Hash): Promise<PaymentMessage[]> {
    return (await this.h.readAll(this.paymentsTopic))
      .filter((r) => r.key?.equals(channelKey(this.ab.id)) && r.value)
      .map((r) => codecs().paymentMessage.decode(r.value as Buffer))
      .filter((m) => m.hashlock === hashlock);
  }

  record(hashlock: Hash) {
    return [...(this.node?.locate(this.ab.id)?.ch.payments.values() ?? [])].find(
      (e) => e.record.incoming.hashlock === hashlock,
    )?.record;
  }

  bobOnBc() {
    return this.node?.locate(this.bc.id)?.ch.payers[0].state;
  }

  aliceOnAb() {
    return this.node?.locate(this.ab.id)?.ch.payers[0].state;
  }

  /** Waits until the node has read a block at or after chain time `t`. */
  async nodeSees(t: bigint): Promise<void> {
    await waitFor(
      `the node at chain time ${t}`,
      () =>
        this.node?.registry.latestTimestamp !== undefined && BigInt(this.node.registry.latestTimestamp) >= t,
      60_000,
    );
  }

  /** `close(params)` by a participant: the contract's evidence is whatever it holds (here: none). */
  async closeBy(c: TestChannel, who: Wallet): Promise<void> {
    await (await (this.h.channels.connect(who) as Contract).getFunction("close")(c.params)).wait();
  }

  /** Waits until the watchtower has brought both payers' chains, as the node holds them, on-chain. */
  async evidenceOnChain(c: TestChannel): Promise<void> {
    const held = this.node?.locate(c.id)?.ch.payers;
    const want = [held?.[0].state.seq ?? 0, held?.[1].state.seq ?? 0];
    await waitFor(
      `the watchtower's evidence for ${c.id} (seqs ${want.join("/")})`,
      async () => {
        const o = await this.h.onchain(c.id);
        return o.seq0 === want[0] && o.seq1 === want[1];
      },
      60_000,
    );
  }

  /**
   * Past every close's challenge period and every lock's expiry: waits until both channels are settled and
   * every pot is resolved (the deployment holds nothing), then returns what Bob's address gained.
   */
  async settleAll(until: bigint): Promise<bigint> {
    await travelTo(until);
    await waitFor(
      "both channels settled and every pot resolved",
      async () =>
        (await this.h.onchain(this.ab.id)).status === 3 &&
        (await this.h.onchain(this.bc.id)).status === 3 &&
        (await hre.ethers.provider.getBalance(this.h.address)) === 0n,
      120_000,
      500,
    );
    return (await hre.ethers.provider.getBalance(this.bob.address)) - this.bobBefore;
  }
}

const chainNow = async (): Promise<bigint> => {
  const block = await hre.ethers.provider.getBlock("latest");
  return BigInt(Math.max(block?.timestamp ?? 0, Math.floor(Date.now() / 1000)));
};

/** Moves chain time to at least `t` and mines a block there. */
const travelTo = async (t: bigint): Promise<void> => {
  const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
  if (t > now) await hre.network.provider.send("evm_increaseTime", [Number(t - now)]);
  await hre.network.provider.send("evm_mine", []);
};

const revealedAt = async (r: Route, hashlock: Hash): Promise<bigint> =>
  (await r.h.channels.getFunction("secretRevealedAt")(hashlock)) as bigint;

describe("relayer: the mediator's safety rule against adversarial neighbours", function () {
  this.timeout(300_000);
  let r: Route | null = null;

  afterEach(async () => {
    await r?.close();
    r = null;
  });

  it("Alice goes offline after her LOCK: Bob registers the secret in time and is paid his fee at settlement", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.004"));
    const seq = await r.lockToCarol(p);
    await r.carolSays(seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor("Bob's UNLOCK to Carol", () => r?.bobOnBc()?.paidTotal === p.amount);
    await waitFor("Bob asks Alice for the UNLOCK", async () => (await r!.bobToAlice(p.hashlock)).length > 0);
    // Alice never answers: at e_in − m the node registers the secret.
    await travelTo(p.expiryIn - BigInt(MARGIN) + 5n);
    await waitFor("settled on-chain", () => r?.record(p.hashlock)?.state === "SETTLED_UPSTREAM", 60_000);
    const at = await revealedAt(r, p.hashlock);
    expect(at > 0n && at <= p.expiryIn).to.equal(true);
    // Nobody cooperates: Alice and Carol close on nothing; Bob's watchtower brings both chains.
    await r.closeBy(r.ab, r.alice);
    await r.closeBy(r.bc, r.carol);
    await r.evidenceOnChain(r.ab);
    await r.evidenceOnChain(r.bc);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
  });
  it("Carol withholds the secret until e − 30 s: Bob still UNLOCKs downstream, is UNLOCKed upstream, and nets his fee", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.005"));
    const seq = await r.lockToCarol(p);
    await travelTo(p.expiryOut - 30n);
    await r.nodeSees(p.expiryOut - 30n);
    await r.carolSays(seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor("Bob's UNLOCK to Carol", () => r?.bobOnBc()?.paidTotal === p.amount, 30_000);
    expect(await chainNow()).to.be.at.most(p.expiryOut);
    await waitFor("Bob asks Alice for the UNLOCK", async () =>
      (await r!.bobToAlice(p.hashlock)).some((m) => m.kind === "SECRET"),
    );
    const { transfer } = r.ab.next(0, {
      kind: "UNLOCK",
      lock: { amount: p.amountIn, expiry: p.expiryIn, hashlock: p.hashlock },
    });
    await r.h.produce([r.ab.record(r.ab.encode(transfer))]);
    await waitFor("settled upstream", () => r?.record(p.hashlock)?.state === "SETTLED_UPSTREAM");
    expect(r.aliceOnAb()?.paidTotal).to.equal(p.amountIn);
    await r.closeBy(r.ab, r.alice);
    await r.closeBy(r.bc, r.carol);
    await r.evidenceOnChain(r.ab);
    await r.evidenceOnChain(r.bc);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
  });

  it("Carol reveals too late (after e), off-chain and on-chain: Bob owes nothing downstream and still claims the incoming lock", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.006"));
    const seq = await r.lockToCarol(p);
    // Carol registers the secret in the first block after e (and only then shows it to Bob).
    await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(p.expiryOut + 10n)]);
    const registry = r.h.channels.connect(r.carol) as Contract;
    await (await registry.getFunction("registerSecrets")([p.secret])).wait();
    const at = await revealedAt(r, p.hashlock);
    expect(at > p.expiryOut && at <= p.expiryIn).to.equal(true);
    // The node stamps a peer message with its view of chain time: let it read that block first.
    await r.nodeSees(at);
    await r.carolSays(seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor(
      "Bob's CANCEL to Carol (the secret came after e)",
      () => r?.bobOnBc()?.locks.some((l) => l.hashlock === p.hashlock) === false,
      60_000,
    );
    expect(r.bobOnBc()?.paidTotal).to.equal(0n);
    // Alice stays silent; the secret registered after e but by e_in still claims her lock.
    await r.closeBy(r.ab, r.alice);
    await r.closeBy(r.bc, r.carol);
    await r.evidenceOnChain(r.ab);
    await r.evidenceOnChain(r.bc);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + p.amountIn);
  });

  it("Alice closes Alice–Bob on an old state (before her LOCK) while the payment is in flight: the watchtower answers and settlement pays Bob a_in", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.007"));
    const seq = await r.lockToCarol(p);
    await r.closeBy(r.ab, r.alice);
    await r.evidenceOnChain(r.ab);
    expect((await r.h.onchain(r.ab.id)).seq0).to.equal(1);
    await r.carolSays(seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor("Bob's UNLOCK to Carol", () => r?.bobOnBc()?.paidTotal === p.amount);
    // Alice never UNLOCKs: the channel settles with her LOCK pending; Bob registers by e_in − m.
    await travelTo(p.expiryIn - BigInt(MARGIN) + 5n);
    await waitFor("settled on-chain", () => r?.record(p.hashlock)?.state === "SETTLED_UPSTREAM", 60_000);
    const at = await revealedAt(r, p.hashlock);
    expect(at > 0n && at <= p.expiryIn).to.equal(true);
    await r.closeBy(r.bc, r.carol);
    await r.evidenceOnChain(r.bc);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
  });
  it("Alice UNLOCKs, then closes Alice–Bob on her own chain proven only to her LOCK (a head without the UNLOCK): the watchtower answers with the UNLOCK", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.0075"));
    const seq = await r.lockToCarol(p);
    await r.carolSays(seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor("Bob's UNLOCK to Carol", () => r?.bobOnBc()?.paidTotal === p.amount);
    await waitFor("Bob asks Alice for the UNLOCK", async () => (await r!.bobToAlice(p.hashlock)).length > 0);
    const { transfer } = r.ab.next(0, {
      kind: "UNLOCK",
      lock: { amount: p.amountIn, expiry: p.expiryIn, hashlock: p.hashlock },
    });
    await r.h.produce([r.ab.record(r.ab.encode(transfer))]);
    await waitFor("settled upstream", () => r?.record(p.hashlock)?.state === "SETTLED_UPSTREAM");
    // Alice puts her chain on-chain only through the LOCK (her UNLOCK left out), then closes.
    const alice = r.h.channels.connect(r.alice) as Contract;
    const args = extendChainArgs({
      params: r.ab.params,
      payer: 0,
      startBody: null,
      startLocks: [],
      otherHead: ZeroHash as Hash,
      transfers: [p.lockIn],
    });
    await (await alice.getFunction("extendChain")(...args)).wait();
    await r.closeBy(r.ab, r.alice);
    await r.evidenceOnChain(r.ab);
    expect((await r.h.onchain(r.ab.id)).seq0).to.equal(2);
    await r.closeBy(r.bc, r.carol);
    await r.evidenceOnChain(r.bc);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
  });

  /**
   * Carol never shows the secret to Bob. At e − 5 s she front-runs in one block (automine off, her
   * transactions in this order): `close` of Bob–Carol, a head proof of Bob's LOCK and `registerSecrets`.
   * Bob learns nothing off-chain, but his node indexes the registry's `SecretRevealed`: it logs the secret
   * as revealed at e − 5 s, never signs a CANCEL of the lock (it could not count on-chain), UNLOCKs it (owed:
   * Carol is paid `a` either way) and shows the secret to Alice asking for her UNLOCK. The shared registry
   * makes Alice's lock claimable (revealed by e ≤ e_in), and Bob must never consent to release it.
   */
  const carolFrontRuns = async (route: Route, p: Payment, failFirst = false): Promise<void> => {
    const lock = await route.bobsLock(p.hashlock);
    if (failFirst) {
      // She first fails the payment back without consenting (the §11.5 open point), keeping the lock.
      const msg = (await route.h.readAll(route.h.topics.transfers))
        .filter((x) => x.key?.equals(channelKey(route.bc.id)) && x.value)
        .map((x) => codecs().transfer.decode(x.value as Buffer))
        .find((m) => m.transfer.seq === lock.seq && m.transfer.kind === TransferKind.Lock);
      const { sharedSecret } = peelOnion(msg!.appData, route.carol.privateKey as Hex, p.hashlock);
      const failure = toHex(createFailure(sharedSecret, { code: OnionFailureCode.UnknownPayment }));
      await route.carolSays(lock.seq, p.hashlock, { kind: "FAIL", failure });
      await waitFor("Bob fails Alice's lock back at once", async () =>
        (await route.bobToAlice(p.hashlock)).some((m) => m.kind === "FAIL"),
      );
      expect(route.bobOnBc()?.locks.some((l) => l.hashlock === p.hashlock)).to.equal(true);
    }
    const carol = route.h.channels.connect(route.carol) as Contract;
    const nonce = await hre.ethers.provider.getTransactionCount(route.carol.address);
    await hre.network.provider.send("evm_setAutomine", [false]);
    try {
      const txs = [
        await carol.getFunction("close")(route.bc.params, { nonce, gasLimit: 500_000 }),
        await carol.getFunction("proveHead")(
          ...proveHeadArgs({ params: route.bc.params, payer: 0, transfer: lock }),
          { nonce: nonce + 1, gasLimit: 1_000_000 },
        ),
        await carol.getFunction("registerSecrets")([p.secret], { nonce: nonce + 2, gasLimit: 500_000 }),
      ];
      await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(p.expiryOut - 5n)]);
      await hre.network.provider.send("evm_mine", []);
      const receipts = await Promise.all(txs.map((t: { wait: () => Promise<unknown> }) => t.wait()));
      const blocks = new Set(receipts.map((x) => (x as { blockNumber: number }).blockNumber));
      expect(blocks.size).to.equal(1);
    } finally {
      await hre.network.provider.send("evm_setAutomine", [true]);
    }
    expect(await revealedAt(route, p.hashlock)).to.equal(p.expiryOut - 5n);
    expect((await route.h.onchain(route.bc.id)).seq0).to.equal(1);
    // After e Bob, who never saw the secret off-chain, has it from the chain: he UNLOCKs and asks Alice.
    await travelTo(p.expiryOut + 10n);
    await route.nodeSees(p.expiryOut + 10n);
    await waitFor("Bob's UNLOCK to Carol", () => route.bobOnBc()?.paidTotal === p.amount, 60_000);
    await waitFor("Bob shows Alice the secret", async () =>
      (await route.bobToAlice(p.hashlock)).some((m) => m.kind === "SECRET" && m.secret === p.secret),
    );
    expect(await route.bobsTransfers(p.hashlock, TransferKind.Cancel)).to.deep.equal([]);
    await waitFor(
      "the incoming lock settled through the registry",
      () => route.record(p.hashlock)?.state === "SETTLED_UPSTREAM",
      60_000,
    );
  };

  it("Carol front-runs (close + old head + registerSecrets in one block at e − 5 s), Alice stays offline: Bob's pots still net him his fee", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.008"));
    await r.lockToCarol(p);
    await carolFrontRuns(r, p);
    expect((await r.bobToAlice(p.hashlock)).map((m) => m.kind)).to.not.include("CONSENT");
    await r.closeBy(r.ab, r.alice);
    await r.evidenceOnChain(r.ab);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
  });
  it("Carol fails back without consent, then registers the secret at e − 5 s in the block of her close and old head: Bob gives Alice no consent and nets his fee", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.0085"));
    await r.lockToCarol(p);
    await carolFrontRuns(r, p, true);
    await sleep(2_000); // a consent would be on the topic by now
    expect((await r.bobToAlice(p.hashlock)).map((m) => m.kind)).to.deep.equal(["FAIL", "SECRET"]);
    await r.closeBy(r.ab, r.alice);
    await r.evidenceOnChain(r.ab);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
  });

  it("Carol front-runs at e − 5 s; after e_in Alice sends a plain CANCEL of her lock and closes Alice–Bob at seq 0: the node dead-letters the CANCEL, its evidence lands and Bob nets exactly his fee", async () => {
    r = await Route.create();
    const p = await r.aliceLocks(parseEther("0.009"));
    await r.lockToCarol(p);
    await carolFrontRuns(r, p);
    // After e_in Alice takes her lock back on her own (signed with her key, no consent), as if Bob had failed.
    await travelTo(p.expiryIn + 10n);
    await r.nodeSees(p.expiryIn + 10n);
    const { transfer: cancel } = r.ab.next(0, {
      kind: "CANCEL",
      lock: { amount: p.amountIn, expiry: p.expiryIn, hashlock: p.hashlock },
    });
    await r.h.produce([r.ab.record(r.ab.encode(cancel))]);
    const dl = await waitFor(
      "Alice's CANCEL dead-lettered",
      async () =>
        (await r!.h.deadLetters()).find(
          (l) => l.channelId === r!.ab.id && l.reasonCode === "CancelNotAllowed",
        ),
      60_000,
    );
    expect(dl.reasonText).to.include("CancelNotAllowed");
    expect(dl.reasonText).to.include(`registered on-chain at ${p.expiryOut - 5n}`);
    expect(dl.reasonText).to.include(`expiry ${p.expiryIn}`);
    expect(r.aliceOnAb()?.seq).to.equal(1);
    expect(r.aliceOnAb()?.locks.map((l) => l.hashlock)).to.deep.equal([p.hashlock]);
    expect((await r.bobToAlice(p.hashlock)).map((m) => m.kind)).to.not.include("CONSENT");
    // Alice closes at seq 0 (the contract holds nothing of her chain): Bob's watchtower brings her LOCK.
    await r.closeBy(r.ab, r.alice);
    await r.evidenceOnChain(r.ab);
    expect((await r.h.onchain(r.ab.id)).seq0).to.equal(1);
    const gained = await r.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
  });

  it("Bob's node is killed (kill -9) after forwarding and again after its UNLOCK, and stays down until e_in − m: restarted, it registers in time and nets its fee", async () => {
    r = await Route.create(false);
    const route = r;
    let bob = await route.spawnBob("bob");
    const p = await route.aliceLocks(parseEther("0.01"));
    const rows = async (url: string) =>
      (await getJson<{ payments: { hashlock: string; state: string }[] }>(`${url}/payments`)).body.payments;
    const stateAt = async (url: string): Promise<string | undefined> =>
      (await rows(url)).find((x) => x.hashlock === p.hashlock)?.state;
    await waitFor("the forward journaled", async () => (await stateAt(bob.url)) === "FORWARDED", 60_000, 10);
    bob.child.kill("SIGKILL");
    await bob.exited;
    bob = await route.spawnBob("bob-2");
    const [lock] = await waitFor(
      "the node's LOCK to Carol after the restart",
      async () => {
        const l = await route.bobsTransfers(p.hashlock, TransferKind.Lock);
        return l.length > 0 && l;
      },
      60_000,
    );
    await sleep(1_000);
    await route.carolSays(lock.seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor(
      "Bob's UNLOCK to Carol",
      async () => (await route.bobsTransfers(p.hashlock, TransferKind.Unlock)).length > 0,
      60_000,
    );
    bob.child.kill("SIGKILL");
    await bob.exited;
    // Down while Alice stays silent, up again only at e_in − m + 5 s: the node must register at once.
    await travelTo(p.expiryIn - BigInt(MARGIN) + 5n);
    bob = await route.spawnBob("bob-3");
    const at = await waitFor(
      "the secret registered on-chain",
      async () => {
        const t = await revealedAt(route, p.hashlock);
        return t > 0n && t;
      },
      60_000,
    );
    expect(at <= p.expiryIn).to.equal(true);
    await waitFor("settled upstream", async () => (await stateAt(bob.url)) === "SETTLED_UPSTREAM", 60_000);
    // Exactly one LOCK and one UNLOCK were signed across the three lives.
    expect(await route.bobsTransfers(p.hashlock, TransferKind.Lock)).to.have.length(1);
    expect(await route.bobsTransfers(p.hashlock, TransferKind.Unlock)).to.have.length(1);
    await route.closeBy(route.ab, route.alice);
    await route.closeBy(route.bc, route.carol);
    await waitFor(
      "the watchtower's evidence",
      async () =>
        (await route.h.onchain(route.ab.id)).seq0 === 1 && (await route.h.onchain(route.bc.id)).seq0 === 2,
      60_000,
    );
    const gained = await route.settleAll((await chainNow()) + 3_700n);
    expect(gained).to.equal(2n * DEPOSIT + fee(p.amount));
    bob.child.kill("SIGTERM");
    await bob.exited;
  });
});
