/**
 * A mediator run as a group of two node processes on a real broker and chain (protocol §11.5, "A
 * mediator in a group"): both members hold Bob's key, the channels Alice–Bob and Bob–Carol fall in
 * different partitions, and the group keeps them on one member (each member claims them when it joins).
 * Alice (the test, with the SDK) pays Carol through Bob; then a channel Bob–Dave opens in a partition the
 * other member holds, and the members join again so that it joins the others; then the member holding
 * them is killed (-9) right after it journaled a forward, and the other completes that payment and
 * forwards the next. Each payment settles both ways, and every hop's LOCK is signed once.
 */
import { expect } from "chai";
import hre from "hardhat";
import { randomBytes } from "node:crypto";
import { Wallet, parseEther } from "ethers";
import {
  type Address,
  codecs,
  forwardingFee,
  type Hash,
  type Hex,
  hashlockOf,
  localSigner,
  peelOnion,
  signPaymentMessage,
  toHex,
  TransferKind,
  verifyPaymentMessage,
} from "../../sdk";
import { hashTransfer } from "../../sdk/src/eip712";
import { channelKey, channelPartition } from "../../relayer/src/kafka/topics";
import {
  Harness,
  TEST_MEDIATION_POLICY,
  getJson,
  mediationSettings,
  waitFor,
  type TestChannel,
} from "./harness";
import { twoHopOnion } from "./mediate-fixtures";

const PARTITIONS = 6;
const policy = { feeBase: TEST_MEDIATION_POLICY.feeBase, feePpm: TEST_MEDIATION_POLICY.feePpm };

describe("relayer: a mediator run as a group of two members", function () {
  this.timeout(300_000);
  let h: Harness;
  let paymentsTopic = "";
  const alice = new Wallet(Wallet.createRandom().privateKey);
  const bob = new Wallet(Wallet.createRandom().privateKey);
  const carol = new Wallet(Wallet.createRandom().privateKey);
  const dave = new Wallet(Wallet.createRandom().privateKey);
  let ab: TestChannel; // Alice (0) – Bob (1)
  let bc: TestChannel; // Bob (0) – Carol (1)
  const settings = {
    state: { flushIntervalMs: 100 },
    commit: { everyM: 100_000 },
    mediation: mediationSettings(),
  };
  const env = { PARSEC_SIGNER_KEYS: bob.privateKey };

  const partitionOf = (c: TestChannel): number => channelPartition(c.id, PARTITIONS);
  const held = async (url: string): Promise<number[]> =>
    (await getJson<{ partitions: number[] }>(`${url}/health`)).body.partitions;

  /** Opens Bob–`payee` channels until one lands in a partition `accept` takes. */
  const openFromBob = async (payee: Wallet, accept: (p: number) => boolean): Promise<TestChannel> => {
    for (let i = 0; i < 20; i++) {
      const c = await h.openChannel(parseEther("10"), parseEther("10"), [bob, payee]);
      if (accept(partitionOf(c))) return c;
    }
    throw new Error("no Bob channel landed in a wanted partition in 20 tries");
  };

  /** Waits until one of `urls` holds every partition of `channels`; returns its index. */
  const togetherOn = async (urls: readonly string[], channels: readonly TestChannel[]): Promise<number> =>
    waitFor(
      `one member holding partitions ${channels.map(partitionOf).join(", ")}`,
      async () => {
        const split = await Promise.all(urls.map((u) => held(u).catch(() => [] as number[])));
        const total = split.reduce((n, s) => n + s.length, 0);
        const i = split.findIndex((s) => channels.every((c) => s.includes(partitionOf(c))));
        return total === PARTITIONS && i >= 0 && i + 1;
      },
      90_000,
    ).then((i) => i - 1);

  /** Every LOCK Bob signed on `out` under `hashlock`, as `seq/transfer hash`. */
  const bobsLocks = async (out: TestChannel, hashlock: Hash): Promise<string[]> =>
    (await h.readAll(h.topics.transfers))
      .filter((r) => r.key?.equals(channelKey(out.id)) && r.value)
      .map((r) => codecs().transfer.decode(r.value as Buffer).transfer)
      .filter((t) => t.kind === TransferKind.Lock && t.hashlock === hashlock)
      .map((t) => `${t.seq}/${hashTransfer(t)}`);

  /**
   * Alice pays `payee` (Bob's counterparty in `out`) through Bob's group, the test playing Alice and the
   * payee over the real topics; resolves once Bob's group lists the payment settled upstream.
   */
  const pay = async (
    urls: readonly string[],
    out: TestChannel,
    payee: Wallet,
    amount: bigint,
    /** Runs once Alice's LOCK is on the topic (a fault mid-payment); resolves with the members to ask then. */
    afterLock?: (hashlock: Hash) => Promise<readonly string[]>,
  ) => {
    const secret = toHex(randomBytes(32)) as Hash;
    const hashlock = hashlockOf(secret);
    const block = await hre.ethers.provider.getBlock("latest");
    const expiryOut = BigInt(Math.max(block?.timestamp ?? 0, Math.floor(Date.now() / 1000))) + 3_600n;
    const expiryIn = expiryOut + BigInt(TEST_MEDIATION_POLICY.expiryDelta);
    const amountIn = amount + forwardingFee(policy, amount);
    const { packet } = twoHopOnion({
      hashlock,
      bobKey: bob.privateKey as Hex,
      carolKey: payee.privateKey as Hex,
      nextChannel: out.id,
      amount,
      expiry: expiryOut,
      paymentSecret: hashlock,
    });
    const lock = ab.next(0, { kind: "LOCK", amount: amountIn, expiry: expiryIn, hashlock }).transfer;
    await h.produce([ab.routedLockRecord(lock, packet)]);
    if (afterLock) urls = await afterLock(hashlock);
    // The payee reads Bob's LOCK, peels its layer and checks it, then shows the secret.
    const forwarded = await waitFor(
      "Bob's LOCK to the payee",
      async () => {
        for (const r of await h.readAll(h.topics.transfers)) {
          if (!r.key?.equals(channelKey(out.id)) || !r.value) continue;
          const m = codecs().transfer.decode(r.value);
          if (m.transfer.kind === TransferKind.Lock && m.transfer.hashlock === hashlock) return m;
        }
        return false;
      },
      90_000,
    );
    const peeled = peelOnion(forwarded.appData, payee.privateKey as Hex, hashlock);
    expect(peeled.final).to.equal(true);
    expect(peeled.payload).to.include({ amount, expiry: expiryOut });
    const shown = signPaymentMessage(
      localSigner(payee.privateKey as Hex),
      h.domain,
      { channelId: out.id, payer: 0, seq: BigInt(forwarded.transfer.seq), hashlock, kind: "SECRET", secret },
      Date.now(),
    );
    await h.produce(
      [{ key: channelKey(out.id), value: codecs().paymentMessage.encode(shown) }],
      paymentsTopic,
    );
    // Bob asks Alice for the UNLOCK (his signature), and she signs it.
    await waitFor("Bob asks Alice for the UNLOCK", async () =>
      (await h.readAll(paymentsTopic))
        .filter((r) => r.key?.equals(channelKey(ab.id)) && r.value)
        .map((r) => codecs().paymentMessage.decode(r.value as Buffer))
        .some((m) => {
          if (m.hashlock !== hashlock || m.kind !== "SECRET") return false;
          verifyPaymentMessage(m, h.domain, bob.address as Address);
          return true;
        }),
    );
    const unlock = ab.next(0, { kind: "UNLOCK", lock: { amount: amountIn, expiry: expiryIn, hashlock } });
    await h.produce([ab.record(unlock.wire)]);
    await waitFor("Bob's UNLOCK to the payee", async () =>
      (await h.readAll(h.topics.transfers))
        .filter((r) => r.key?.equals(channelKey(out.id)) && r.value)
        .map((r) => codecs().transfer.decode(r.value as Buffer).transfer)
        .some((t) => t.kind === TransferKind.Unlock && t.hashlock === hashlock),
    );
    type Row = { hashlock: string; state: string; fee: string };
    const row = await waitFor("the payment settled upstream", async () => {
      for (const u of urls) {
        const rows = await getJson<{ payments: Row[] }>(`${u}/payments`).catch(() => null);
        const r = rows?.body.payments.find((x) => x.hashlock === hashlock && x.state === "SETTLED_UPSTREAM");
        if (r) return r;
      }
      return false;
    });
    expect(BigInt(row.fee)).to.equal(forwardingFee(policy, amount));
    // One LOCK per hop: a re-send after a crash is the same transfer, never a second one.
    expect(new Set(await bobsLocks(out, hashlock)).size).to.equal(1);
  };

  before(async () => {
    h = await Harness.create({ brokers: process.env.KAFKA_BROKERS?.split(","), partitions: PARTITIONS });
    paymentsTopic = `${h.prefix}parsec.payment-messages`;
    ab = await h.openChannel(parseEther("10"), parseEther("10"), [alice, bob]);
    bc = await openFromBob(carol, (p) => p !== partitionOf(ab));
  });
  afterEach(() => h?.killNodes());
  after(async () => {
    await h?.client.deleteTopics([paymentsTopic, `${h.prefix}parsec.channel-graph`]).catch(() => undefined);
    await h?.close();
  });

  it("keeps Bob's channels on one member, joins again for a channel opened later, and forwards after the holder is killed", async () => {
    const a = await h.spawnNode("bob-a", settings, env);
    const b = await h.spawnNode("bob-b", settings, env);
    const urls = [a.url, b.url];
    await waitFor("both members hold partitions", async () => {
      const [pa, pb] = await Promise.all(urls.map(held));
      return pa.length > 0 && pb.length > 0 && pa.length + pb.length === PARTITIONS;
    });
    const first = await togetherOn(urls, [ab, bc]);
    await pay(urls, bc, carol, parseEther("0.001"));

    // A channel Bob–Dave in a partition the other member holds: the members join again, and it joins the rest.
    const other = await held(urls[1 - first]);
    const bd = await openFromBob(dave, (p) => other.includes(p));
    const holder = await togetherOn(urls, [ab, bc, bd]);
    await pay(urls, bd, dave, parseEther("0.002"));
    const rejoins = await Promise.all(
      urls.map(async (u) =>
        Number(/parsec_group_rejoins_total (\d+)/.exec(await (await fetch(`${u}/metrics`)).text())?.[1] ?? 0),
      ),
    );
    expect(rejoins[0] + rejoins[1]).to.be.greaterThan(0);

    // kill -9 of the member holding them once it journaled the forward: the other restores the payment
    // from the changelog (its own record) and completes it, signing no second LOCK.
    const [dead, survivor] = holder === 0 ? [a, b] : [b, a];
    await pay([survivor.url], bc, carol, parseEther("0.003"), async (hashlock) => {
      await waitFor(
        "the forward journaled by the holder",
        async () =>
          (
            await getJson<{ payments: { hashlock: string; state: string }[] }>(`${dead.url}/payments`)
          ).body.payments.some((x) => x.hashlock === hashlock && x.state !== "RECEIVED"),
        30_000,
        5,
      );
      dead.child.kill("SIGKILL");
      await dead.exited;
      await waitFor(
        "the survivor holds every partition",
        async () => (await held(survivor.url)).length === PARTITIONS,
        90_000,
      );
      return [survivor.url];
    });
    await pay([survivor.url], bd, dave, parseEther("0.004"));
    expect((await h.deadLetters()).filter((d) => d.reasonCode === "Equivocation")).to.have.length(0);
  });
});
