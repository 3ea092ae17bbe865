/**
 * A node mediating routed payments for real (protocol §11.5): a Kafka broker, the in-process chain, and
 * a node holding only Bob's key in the channels Alice–Bob and Bob–Carol. Alice (the test, with the SDK)
 * signs a LOCK carrying the onion for the route; the node forwards; Carol (the test) peels her layer,
 * checks the lock and shows the secret on the payment-messages topic; the node UNLOCKs to Carol and
 * asks Alice, who UNLOCKs. Also: Carol fails back with her CancelConsent (both locks released at once,
 * before either expiry) or without it (Bob consents upstream only once his own CANCEL counts), and a node stopped
 * mid-payment and started again on the same state forwards exactly once.
 */
import { expect } from "chai";
import hre from "hardhat";
import { randomBytes } from "node:crypto";
import { Wallet, parseEther } from "ethers";
import {
  codecs,
  createFailure,
  decodeFailure,
  forwardingFee,
  type Hash,
  type Hex,
  hashlockOf,
  localSigner,
  OnionFailureCode,
  type PaymentMessage,
  type PaymentMessageBody,
  peelOnion,
  signPaymentMessage,
  transferMessage,
  TransferKind,
  toHex,
  verifyPaymentMessage,
  type Address,
  buildTransfer,
  signCancelConsent,
} from "../../sdk";
import { hashTransfer } from "../../sdk/src/eip712";
import { ParsecNode } from "../../relayer/src/node";
import { channelKey } from "../../relayer/src/kafka/topics";
import { CANCEL_CONSENT_APP_KIND } from "../../relayer/src/state/consent";
import {
  Harness,
  TEST_MEDIATION_POLICY,
  getJson,
  mediationSettings,
  sleep,
  testLogger,
  waitFor,
  type TestChannel,
} from "./harness";
import { twoHopOnion } from "./mediate-fixtures";

const { feeBase: FEE_BASE, feePpm: FEE_PPM, expiryDelta: DELTA } = TEST_MEDIATION_POLICY;

/** Alice's onion for Alice → Bob → Carol: Bob forwards `amount` onto Bob–Carol, expiring at `expiry`. */
function bobToCarolOnion(
  w: { readonly bob: Wallet; readonly carol: Wallet; readonly bc: TestChannel },
  hashlock: Hash,
  amount: bigint,
  expiry: bigint,
): ReturnType<typeof twoHopOnion> {
  return twoHopOnion({
    hashlock,
    bobKey: w.bob.privateKey as Hex,
    carolKey: w.carol.privateKey as Hex,
    nextChannel: w.bc.id,
    amount,
    expiry,
    paymentSecret: hashlock,
  });
}

describe("relayer: a node mediates routed payments", function () {
  this.timeout(240_000);
  let h: Harness;
  let node: ParsecNode | null = null;
  let ab: TestChannel; // Alice (0) – Bob (1)
  let bc: TestChannel; // Bob (0) – Carol (1)
  const alice = new Wallet(Wallet.createRandom().privateKey);
  const bob = new Wallet(Wallet.createRandom().privateKey);
  const carol = new Wallet(Wallet.createRandom().privateKey);
  let paymentsTopic = "";

  const start = async (): Promise<ParsecNode> =>
    ParsecNode.start(h.mediatorConfig(bob.privateKey), { logger: testLogger() });

  const chainNow = async (): Promise<bigint> => {
    const block = await hre.ethers.provider.getBlock("latest");
    return BigInt(Math.max(block?.timestamp ?? 0, Math.floor(Date.now() / 1000)));
  };

  /** Alice's routed LOCK (the onion for Bob then Carol); returns what she needs to read a failure. */
  const aliceLocks = async (
    amount: bigint,
  ): Promise<{
    secret: Hash;
    hashlock: Hash;
    amountIn: bigint;
    expiryIn: bigint;
    expiryOut: bigint;
    secrets: readonly Uint8Array[];
  }> => {
    const secret = toHex(randomBytes(32)) as Hash;
    const hashlock = hashlockOf(secret);
    const expiryOut = (await chainNow()) + 3_600n;
    const expiryIn = expiryOut + BigInt(DELTA);
    const amountIn = amount + forwardingFee({ feeBase: FEE_BASE, feePpm: FEE_PPM }, amount);
    const { packet, sharedSecrets } = bobToCarolOnion({ bob, carol, bc }, hashlock, amount, expiryOut);
    const { transfer } = ab.next(0, { kind: "LOCK", amount: amountIn, expiry: expiryIn, hashlock });
    await h.produce([ab.routedLockRecord(transfer, packet)]);
    return { secret, hashlock, amountIn, expiryIn, expiryOut, secrets: sharedSecrets };
  };

  /** Bob's LOCKs on Bob–Carol under `hashlock`, as Carol reads them from the transfers topic. */
  const locksToCarol = async (hashlock: Hash): Promise<{ seq: number; hash: string; appData: Hex }[]> => {
    const out: { seq: number; hash: string; appData: Hex }[] = [];
    for (const r of await h.readAll(h.topics.transfers)) {
      if (!r.key?.equals(channelKey(bc.id)) || !r.value) continue;
      const m = codecs().transfer.decode(r.value);
      if (m.transfer.kind !== TransferKind.Lock || m.transfer.hashlock !== hashlock) continue;
      out.push({ seq: m.transfer.seq, hash: hashTransfer(m.transfer), appData: m.appData });
    }
    return out;
  };

  const carolSays = async (seq: number, hashlock: Hash, body: PaymentMessageBody): Promise<void> => {
    const msg = signPaymentMessage(
      localSigner(carol.privateKey as Hex),
      h.domain,
      { channelId: bc.id, payer: 0, seq: BigInt(seq), hashlock, ...body },
      Date.now(),
    );
    await h.produce([{ key: channelKey(bc.id), value: codecs().paymentMessage.encode(msg) }], paymentsTopic);
  };

  /** What Bob told Alice about her LOCK under `hashlock` (verified as Bob's). */
  const bobToAlice = async (hashlock: Hash): Promise<PaymentMessage[]> =>
    (await h.readAll(paymentsTopic))
      .filter((r) => r.key?.equals(channelKey(ab.id)) && r.value)
      .map((r) => codecs().paymentMessage.decode(r.value as Buffer))
      .filter((m) => m.hashlock === hashlock)
      .map((m) => {
        verifyPaymentMessage(m, h.domain, bob.address as Address);
        return m;
      });

  const entry = (hashlock: Hash) =>
    [...(node?.locate(ab.id)?.ch.payments.values() ?? [])].find(
      (e) => e.record.incoming.hashlock === hashlock,
    );
  const bobState = () => node?.locate(bc.id)?.ch.payers[0].state;

  before(async () => {
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") });
    paymentsTopic = `${h.prefix}parsec.payment-messages`;
    ab = await h.openChannel(parseEther("10"), parseEther("10"), [alice, bob]);
    bc = await h.openChannel(parseEther("10"), parseEther("10"), [bob, carol]);
    node = await start();
  });
  after(async () => {
    await node?.stop();
    await h?.client.deleteTopics([paymentsTopic, `${h.prefix}parsec.channel-graph`]).catch(() => undefined);
    await h?.close();
  });

  it("Alice pays Carol through Bob's node: forwarded, settled both ways, Bob earns exactly his fee", async () => {
    const amount = parseEther("0.001");
    const p = await aliceLocks(amount);
    const [lock] = await waitFor("the node's LOCK to Carol", async () => {
      const l = await locksToCarol(p.hashlock);
      return l.length > 0 && l;
    });
    // Carol peels her layer and checks the lock against it.
    const peeled = peelOnion(lock.appData, carol.privateKey as Hex, p.hashlock);
    expect(peeled.final).to.equal(true);
    expect(peeled.payload).to.include({ amount, expiry: p.expiryOut });
    await waitFor("Bob's LOCK applied", () => bobState()?.locks.some((l) => l.hashlock === p.hashlock));
    await carolSays(lock.seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor("Bob's UNLOCK to Carol", () => bobState()?.paidTotal === amount);
    const [asked] = await waitFor("Bob asks Alice for the UNLOCK", async () => {
      const m = await bobToAlice(p.hashlock);
      return m.length > 0 && m;
    });
    expect(asked).to.include({ kind: "SECRET", secret: p.secret, payer: 0 });
    const { transfer } = ab.next(0, {
      kind: "UNLOCK",
      lock: { amount: p.amountIn, expiry: p.expiryIn, hashlock: p.hashlock },
    });
    await h.produce([ab.record(ab.encode(transfer))]);
    await waitFor("settled upstream", () => entry(p.hashlock)?.record.state === "SETTLED_UPSTREAM");
    // Bob received amountIn from Alice and paid amount to Carol.
    const received = node?.locate(ab.id)?.ch.payers[0].state.paidTotal ?? 0n;
    const paid = bobState()?.paidTotal ?? 0n;
    expect(received - paid).to.equal(forwardingFee({ feeBase: FEE_BASE, feePpm: FEE_PPM }, amount));
    const { body } = await getJson<{ payments: { state: string; fee: string }[] }>(`${node?.url}/payments`);
    expect(body.payments.map((x) => x.state)).to.include("SETTLED_UPSTREAM");
    // Two payments failed downstream: this one and the consented one before it.
    const metrics = await (await fetch(`${node?.url}/metrics`)).text();
    expect(metrics).to.match(/parsec_payments_forwarded_total 1\b/);
    expect(metrics).to.match(/parsec_payments_settled_total 1\b/);
    // Bob announced his terms for both directions he forwards in.
    const updates = await waitFor("Bob's channel updates", async () => {
      const all = (await h.readAll(`${h.prefix}parsec.channel-graph`)).map((r) =>
        codecs().channelUpdate.decode(r.value as Buffer),
      );
      const ids = new Set(all.map((u) => u.update.channelId));
      return ids.has(ab.id) && ids.has(bc.id) && all;
    });
    expect(updates.every((u) => u.announcer === bob.address)).to.equal(true);
  });

  it("a node stopped mid-payment and started again on the same state forwards exactly once", async () => {
    const amount = parseEther("0.002");
    const p = await aliceLocks(amount);
    await waitFor(
      "FORWARDED journaled",
      () => {
        const e = node?.locate(ab.id)?.ch.durablePayments;
        return [...(e?.values() ?? [])].some(
          (x) => x.record.incoming.hashlock === p.hashlock && x.record.state === "FORWARDED",
        );
      },
      30_000,
      5,
    );
    await node?.stop();
    node = await start();
    await waitFor("Bob's LOCK applied after the restart", () =>
      bobState()?.locks.some((l) => l.hashlock === p.hashlock),
    );
    await waitFor("delivered", () => {
      const r = entry(p.hashlock)?.record;
      return r?.state === "FORWARDED" && r.delivered;
    });
    const locks = await locksToCarol(p.hashlock);
    expect(new Set(locks.map((l) => l.seq)).size).to.equal(1);
    expect(new Set(locks.map((l) => l.hash)).size).to.equal(1);
    const dead = (await h.deadLetters()).filter((d) => d.reasonCode === "Equivocation");
    expect(dead).to.have.length(0);
    await carolSays(locks[0].seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor("Bob asks Alice for the UNLOCK", async () => (await bobToAlice(p.hashlock)).length > 0);
  });

  it("Carol fails back with her consent: both locks are released at once, before either expiry", async () => {
    const amount = parseEther("0.002");
    const p = await aliceLocks(amount);
    const [lock] = await waitFor("the node's LOCK to Carol", async () => {
      const l = await locksToCarol(p.hashlock);
      return l.length > 0 && l;
    });
    const { sharedSecret } = peelOnion(lock.appData, carol.privateKey as Hex, p.hashlock);
    const failure = toHex(createFailure(sharedSecret, { code: OnionFailureCode.UnknownPayment }));
    await waitFor("Bob's LOCK applied", () => bobState()?.locks.some((l) => l.hashlock === p.hashlock));
    // Carol, the payee, consents to the CANCEL Bob would sign now on his chain as she sees it applied.
    const bobsCancel = buildTransfer(
      bobState()!,
      { channelId: bc.id, payer: 0 },
      { kind: "CANCEL", lock: { amount, expiry: p.expiryOut, hashlock: p.hashlock } },
    );
    const carolsConsent = await signCancelConsent(localSigner(carol.privateKey as Hex), h.domain, bobsCancel);
    await carolSays(lock.seq, p.hashlock, { kind: "FAIL", failure });
    await carolSays(lock.seq, p.hashlock, {
      kind: "CONSENT",
      consent: { seq: bobsCancel.seq, transfer: carolsConsent.transfer, signature: carolsConsent.signature },
    });
    await waitFor(
      "Bob's CANCEL to Carol applied",
      () => !bobState()?.locks.some((l) => l.hashlock === p.hashlock),
    );
    expect(bobState()?.head).to.equal(carolsConsent.transfer);
    expect(await chainNow()).to.be.below(p.expiryOut);
    const consent = await waitFor("Bob consents to Alice's CANCEL", async () =>
      (await bobToAlice(p.hashlock)).find((m) => m.kind === "CONSENT"),
    );
    expect((await bobToAlice(p.hashlock)).map((m) => m.kind)).to.deep.equal(["FAIL", "CONSENT"]);
    const { consent: ref } = consent as Extract<PaymentMessage, { kind: "CONSENT" }>;
    // Alice cancels at once with Bob's consent; the node (Bob's) applies it before her lock's expiry.
    const { transfer } = ab.next(0, {
      kind: "CANCEL",
      lock: { amount: p.amountIn, expiry: p.expiryIn, hashlock: p.hashlock },
    });
    expect(ref).to.include({ seq: transfer.seq, transfer: hashTransfer(transfer) });
    await h.produce([
      {
        key: channelKey(ab.id),
        value: codecs().transfer.encode(
          transferMessage(h.domain, transfer, alice.address as Address, {
            appKind: CANCEL_CONSENT_APP_KIND,
            appData: ref.signature,
            sentAtMs: Date.now(),
          }),
        ),
      },
    ]);
    await waitFor("cancelled upstream", () => entry(p.hashlock)?.record.state === "CANCELLED_UPSTREAM");
    expect(node?.locate(ab.id)?.ch.payers[0].state.locks.some((l) => l.hashlock === p.hashlock)).to.equal(
      false,
    );
    // Both released before the earlier (outgoing) expiry, in chain time.
    expect(await chainNow()).to.be.below(p.expiryOut);
  });

  it("Carol fails back without consenting: Alice reads the failure at once, but Bob consents to her CANCEL only once his own CANCEL (after its expiry) is applied", async () => {
    const amount = parseEther("0.003");
    const p = await aliceLocks(amount);
    const [lock] = await waitFor("the node's LOCK to Carol", async () => {
      const l = await locksToCarol(p.hashlock);
      return l.length > 0 && l;
    });
    const { sharedSecret } = peelOnion(lock.appData, carol.privateKey as Hex, p.hashlock);
    const failure = toHex(createFailure(sharedSecret, { code: OnionFailureCode.UnknownPayment }));
    await waitFor("Bob's LOCK applied", () => bobState()?.locks.some((l) => l.hashlock === p.hashlock));
    await carolSays(lock.seq, p.hashlock, { kind: "FAIL", failure });
    const [fail] = await waitFor("Bob fails Alice's lock back", async () => {
      const m = await bobToAlice(p.hashlock);
      return m.length > 0 && m;
    });
    expect(fail.kind).to.equal("FAIL");
    const read = decodeFailure(p.secrets, (fail as { failure: Hex }).failure);
    expect(read).to.include({ hop: 1, code: OnionFailureCode.UnknownPayment });
    // Safety: while Carol could still claim Bob's lock, Bob gives no consent to release Alice's.
    await sleep(2_000);
    expect((await bobToAlice(p.hashlock)).map((m) => m.kind)).to.deep.equal(["FAIL"]);
    expect(bobState()?.locks.some((l) => l.hashlock === p.hashlock)).to.equal(true);
    // Both locks are released as soon as §3 lets them: Bob's after its expiry, Alice's after hers.
    await hre.network.provider.send("evm_increaseTime", [3_700]);
    await hre.network.provider.send("evm_mine", []);
    await waitFor(
      "Bob's CANCEL to Carol",
      () => !bobState()?.locks.some((l) => l.hashlock === p.hashlock),
      60_000,
    );
    await waitFor("Bob's consent once his CANCEL is applied", async () =>
      (await bobToAlice(p.hashlock)).some((m) => m.kind === "CONSENT"),
    );
    await hre.network.provider.send("evm_increaseTime", [DELTA + 10]);
    await hre.network.provider.send("evm_mine", []);
    await waitFor(
      "the node sees the new chain time",
      async () =>
        BigInt(Math.floor(Date.now() / 1000)) < (await chainNow()) &&
        node?.registry.latestTimestamp !== undefined &&
        BigInt(node.registry.latestTimestamp) > p.expiryIn,
    );
    const { transfer } = ab.next(0, {
      kind: "CANCEL",
      lock: { amount: p.amountIn, expiry: p.expiryIn, hashlock: p.hashlock },
    });
    await h.produce([ab.record(ab.encode(transfer))]);
    await waitFor("cancelled upstream", () => entry(p.hashlock)?.record.state === "CANCELLED_UPSTREAM");
    // Two payments failed downstream: this one and the consented one before it.
    const metrics = await (await fetch(`${node?.url}/metrics`)).text();
    expect(metrics).to.match(/parsec_payments_failed_total\{reason="downstream"\} 2\b/);
  });
  it("Alice withholds the UNLOCK: the node registers the secret on-chain before her lock expires", async () => {
    const amount = parseEther("0.004");
    const p = await aliceLocks(amount);
    const [lock] = await waitFor("the node's LOCK to Carol", async () => {
      const l = await locksToCarol(p.hashlock);
      return l.length > 0 && l;
    });
    await waitFor("Bob's LOCK applied", () => bobState()?.locks.some((l) => l.hashlock === p.hashlock));
    await carolSays(lock.seq, p.hashlock, { kind: "SECRET", secret: p.secret });
    await waitFor("Bob asks Alice for the UNLOCK", async () => (await bobToAlice(p.hashlock)).length > 0);
    // Alice stays silent until the incoming lock expires within the margin (120 s).
    const now = await chainNow();
    await hre.network.provider.send("evm_increaseTime", [Number(p.expiryIn - 120n - now) + 5]);
    await hre.network.provider.send("evm_mine", []);
    await waitFor("settled on-chain", () => entry(p.hashlock)?.record.state === "SETTLED_UPSTREAM", 60_000);
    const record = entry(p.hashlock)?.record as { via: string };
    expect(record.via).to.equal("onchain");
    const revealedAt = (await h.channels.getFunction("secretRevealedAt")(p.hashlock)) as bigint;
    expect(revealedAt > 0n && revealedAt <= p.expiryIn).to.equal(true);
  });
});

describe("relayer: a mediating node killed mid-payment", function () {
  this.timeout(240_000);
  let h: Harness;

  before(async () => {
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(",") });
  });
  after(async () => {
    await h?.client
      .deleteTopics([`${h.prefix}parsec.payment-messages`, `${h.prefix}parsec.channel-graph`])
      .catch(() => undefined);
    await h?.close();
  });

  it("kill -9 once the forward is journaled: the restarted node (same disk) forwards exactly once", async () => {
    const alice = new Wallet(Wallet.createRandom().privateKey);
    const bob = new Wallet(Wallet.createRandom().privateKey);
    const carol = new Wallet(Wallet.createRandom().privateKey);
    const ab = await h.openChannel(parseEther("10"), parseEther("10"), [alice, bob]);
    const bc = await h.openChannel(parseEther("10"), parseEther("10"), [bob, carol]);
    const settings = {
      state: { flushIntervalMs: 100 },
      commit: { everyM: 100_000 },
      mediation: mediationSettings({
        feeBase: 0n,
        feePpm: 0,
        expiryDelta: DELTA,
        minConfirmationMarginSeconds: 120,
      }),
    };
    const env = { PARSEC_SIGNER_KEYS: bob.privateKey };
    const first = await h.spawnNode("bob", settings, env);
    const amount = 1_000_000n;
    const secret = toHex(randomBytes(32)) as Hash;
    const hashlock = hashlockOf(secret);
    const block = await hre.ethers.provider.getBlock("latest");
    const expiryOut = BigInt(Math.max(block?.timestamp ?? 0, Math.floor(Date.now() / 1000))) + 3_600n;
    const { packet } = bobToCarolOnion({ bob, carol, bc }, hashlock, amount, expiryOut);
    const { transfer } = ab.next(0, { kind: "LOCK", amount, expiry: expiryOut + BigInt(DELTA), hashlock });
    await h.produce([ab.routedLockRecord(transfer, packet)]);
    type Row = { state: string; outgoingSeq: string | null };
    await waitFor(
      "the forward journaled",
      async () =>
        (await getJson<{ payments: Row[] }>(`${first.url}/payments`)).body.payments.some(
          (x) => x.state === "FORWARDED",
        ),
      60_000,
      10,
    );
    first.child.kill("SIGKILL");
    await first.exited;
    const second = await h.spawnNode("bob-again", settings, env, "bob");
    const locks = async (): Promise<string[]> =>
      (await h.readAll(h.topics.transfers))
        .filter((r) => r.key?.equals(channelKey(bc.id)) && r.value)
        .map((r) => codecs().transfer.decode(r.value as Buffer).transfer)
        .filter((t) => t.kind === TransferKind.Lock && t.hashlock === hashlock)
        .map((t) => `${t.seq}/${hashTransfer(t)}`);
    await waitFor(
      "delivered after the restart",
      async () => {
        const rows = (await getJson<{ payments: (Row & { state: string })[] }>(`${second.url}/payments`)).body
          .payments;
        return rows.length === 1 && rows[0].state === "FORWARDED" && (await locks()).length > 0;
      },
      60_000,
    );
    await sleep(1_500); // any second LOCK would be on the topic by now
    expect(new Set(await locks()).size).to.equal(1);
    expect((await h.deadLetters()).filter((d) => d.reasonCode === "Equivocation")).to.have.length(0);
    second.child.kill("SIGTERM");
    await second.exited;
  });
});
