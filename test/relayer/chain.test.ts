/**
 * Item 6's transaction handling against the real (in-process) chain over JSON-RPC: nonces assigned
 * locally and resynced when another sender used one, stuck transactions re-sent with higher fees until
 * mined, reverts reported without retries.
 */
import { expect } from "chai";
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import { Interface, Wallet, parseEther } from "ethers";
import { Rpc } from "../../relayer/src/chain/rpc";
import { TxSender } from "../../relayer/src/chain/tx-sender";
import { ChainError } from "../../relayer/src/errors";
import type { Address, Hex } from "../../sdk";
import { testLogger, waitFor } from "./harness";

const registry = new Interface([
  "function registerSecrets(bytes32[] secrets)",
  "function settle((address,address,address,uint32,uint64) p, bytes h0, bytes h1, bytes32 c0, bytes32 c1)",
]);

describe("relayer: transactions (nonces, fee bumps, receipts)", function () {
  this.timeout(60_000);
  let server: JsonRpcServer;
  let rpc: Rpc;
  let contract: Address;
  const key = Wallet.createRandom();
  const fees = {
    maxFeePerGas: parseEther("0.0000005"),
    priorityFee: 1_000_000_000n,
    bumpAfterMs: 300,
    bumpPercent: 20,
    maxBumps: 5,
  };

  before(async () => {
    server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await server.listen();
    rpc = await Rpc.connect(`http://127.0.0.1:${port}`, null);
    const c = await (await hre.ethers.getContractFactory("ParsecChannels")).deploy();
    contract = (await c.getAddress()) as Address;
    await hre.network.provider.send("hardhat_setBalance", [
      key.address,
      `0x${parseEther("100").toString(16)}`,
    ]);
  });
  after(async () => {
    await hre.network.provider.send("evm_setAutomine", [true]);
    rpc.close();
    await server.close();
  });

  const data = (n: number): Hex =>
    registry.encodeFunctionData("registerSecrets", [[`0x${n.toString(16).padStart(64, "0")}`]]) as Hex;

  it("assigns nonces to concurrent transactions and resyncs after an outside transaction", async () => {
    const sender = new TxSender({ rpc, key: key.privateKey as Hex, fees, logger: testLogger(), pollMs: 50 });
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => sender.send({ to: contract, data: data(n), label: `secret ${n}` })),
    );
    expect(results.every((r) => r.status === "success")).to.equal(true);
    // Someone else uses the key (another process, a restart): the next send finds a fresh nonce.
    const outside = new Wallet(key.privateKey, hre.ethers.provider);
    await (await outside.sendTransaction({ to: outside.address, value: 1n })).wait();
    const r = await sender.send({ to: contract, data: data(6), label: "after outside tx" });
    expect(r.status).to.equal("success");
  });

  it("re-sends a stuck transaction with higher fees until it is mined", async () => {
    const broadcasts: string[] = [];
    const sender = new TxSender({
      rpc,
      key: key.privateKey as Hex,
      fees,
      logger: testLogger(),
      pollMs: 50,
      onBroadcast: (_l, hash) => broadcasts.push(hash),
    });
    await hre.network.provider.send("evm_setAutomine", [false]);
    const nonce = await rpc.nonce(sender.address, "pending");
    const base = (await rpc.block("latest")).baseFeePerGas ?? 0n;
    const pending = sender.send({ to: contract, data: data(7), label: "stuck", gasLimit: 100_000n });
    await waitFor("two fee bumps", () => broadcasts.length >= 3, 10_000, 50);
    await hre.network.provider.send("evm_mine", []);
    const r = await pending;
    await hre.network.provider.send("evm_setAutomine", [true]);
    expect(r.attempts).to.be.greaterThanOrEqual(3);
    // The mined version is a replacement with the same nonce and fees raised twice by 20 %.
    expect(r.transactionHash).to.not.equal(broadcasts[0]);
    const mined = await hre.ethers.provider.getTransaction(r.transactionHash);
    expect(mined?.nonce).to.equal(nonce);
    const initial = base * 2n + fees.priorityFee;
    expect(mined?.maxFeePerGas).to.be.greaterThanOrEqual((initial * 144n) / 100n);
  });

  it("refuses a call that would revert before using a nonce", async () => {
    const sender = new TxSender({ rpc, key: key.privateKey as Hex, fees, logger: testLogger(), pollMs: 50 });
    const params = [
      key.address,
      Wallet.createRandom().address,
      "0x0000000000000000000000000000000000000000",
      3600,
      1,
    ];
    const zero = `0x${"00".repeat(32)}`;
    const bad = registry.encodeFunctionData("settle", [params, "0x", "0x", zero, zero]) as Hex;
    const nonce = await rpc.nonce(sender.address, "pending");
    let err: unknown;
    try {
      await sender.send({ to: contract, data: bad, label: "settle unknown channel" });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ChainError);
    expect(String((err as Error).message)).to.match(/would revert/);
    expect(await rpc.nonce(sender.address, "pending")).to.equal(nonce);
  });
});
