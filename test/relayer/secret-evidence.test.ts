/**
 * The watchtower's evidence never carries a transfer the contract refuses: a node that holds a plain
 * CANCEL of a lock whose secret was registered on-chain by the expiry (a CANCEL an older node accepted)
 * plans the chain only up to the transfer before it, and when an extension reverts anyway (its view of
 * the reveals was missing) it falls back to the longest prefix the contract accepts. On the in-process
 * chain with the real contract and transaction sender; no Kafka.
 */
import { expect } from "chai";
import hre from "hardhat";
import { JsonRpcServer } from "hardhat/internal/hardhat-network/jsonrpc/server";
import { Wallet, parseEther, type Contract } from "ethers";
import {
  type Address,
  buildTransfer,
  codecs,
  type Hash,
  type Hex,
  hashlockOf,
  localSigner,
  signTransferUnjournaled,
  type TransferOp,
  transferMessage,
} from "../../sdk";
import { channelIdOf, hashTransfer, parsecDomain } from "../../sdk/src/eip712";
import { ChainRegistry } from "../../relayer/src/chain/registry";
import { Rpc } from "../../relayer/src/chain/rpc";
import { TxSender } from "../../relayer/src/chain/tx-sender";
import type { ChainActions } from "../../relayer/src/commit/core/chain-actions";
import type { ActionToken } from "../../relayer/src/commit/core/slots";
import type { ChainView } from "../../relayer/src/commit/core/ports";
import { EvidenceSender } from "../../relayer/src/commit/evidence";
import { loadConfig } from "../../relayer/src/config";
import { silentLogger, type Logger } from "../../relayer/src/log";
import { ChannelState, type WindowItem } from "../../relayer/src/state/channel";

describe("relayer: evidence stops before a CANCEL the contract refuses", function () {
  this.timeout(60_000);
  let server: JsonRpcServer;
  let rpc: Rpc;

  before(async () => {
    server = new JsonRpcServer({ hostname: "127.0.0.1", port: 0, provider: hre.network.provider });
    const { port } = await server.listen();
    rpc = await Rpc.connect(`http://127.0.0.1:${port}`, null);
  });
  after(async () => {
    rpc.close();
    await server.close();
  });

  /** A fresh deployment and channel Alice → Bob where Alice LOCKs, the secret is registered, she CANCELs. */
  async function setup() {
    const factory = await hre.ethers.getContractFactory("ParsecChannels");
    const c = (await factory.deploy()) as unknown as Contract;
    await c.waitForDeployment();
    const address = (await c.getAddress()) as Address;
    const startBlock = await hre.ethers.provider.getBlockNumber();
    const [funder] = await hre.ethers.getSigners();
    const alice = new Wallet(Wallet.createRandom().privateKey, hre.ethers.provider);
    const bob = Wallet.createRandom();
    await (await funder.sendTransaction({ to: alice.address, value: parseEther("2") })).wait();
    await (
      await (c.connect(alice) as Contract).openEth(bob.address, 3600, 1n, { value: parseEther("1") })
    ).wait();
    const { chainId } = await hre.ethers.provider.getNetwork();
    const domain = parsecDomain(chainId, address);
    const params = {
      participant0: alice.address as Address,
      participant1: bob.address as Address,
      asset: "0x0000000000000000000000000000000000000000" as Address,
      challengePeriod: 3600,
      nonce: 1n,
    };
    const id = channelIdOf(domain, params).toLowerCase() as Hash;
    const registry = new ChainRegistry(rpc, address, startBlock, silentLogger, { confirmations: 0 });
    const ch = new ChannelState(id);
    const signer = localSigner(alice.privateKey as Hex);
    let offset = 0;
    const apply = (op: TransferOp): void => {
      const t = signTransferUnjournaled(
        signer,
        domain,
        buildTransfer(ch.payers[0].state, { channelId: id, payer: 0 }, op),
      );
      const wire = codecs().transfer.encode(transferMessage(domain, t, signer.address));
      const item: WindowItem = { ...t, hash: hashTransfer(t), wire, offset: offset++, sentAtMs: 0 };
      // Applied without the chain's view (as a node before this fix did): the CANCEL is held.
      ch.apply(item, [parseEther("1"), 0n], false);
    };
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    const secret = `0x${"5a".repeat(32)}` as Hash;
    const lock = { amount: parseEther("0.1"), expiry: now + 100n, hashlock: hashlockOf(secret) };
    apply({ kind: "LOCK", ...lock });
    apply({ kind: "PAY", amount: parseEther("0.01") });
    apply({ kind: "CANCEL", lock });
    apply({ kind: "PAY", amount: parseEther("0.02") });
    // The secret is registered before the expiry; then the chain moves past the expiry.
    await (await (c.connect(alice) as Contract).registerSecrets([secret])).wait();
    await hre.network.provider.send("evm_increaseTime", [200]);
    await hre.network.provider.send("evm_mine", []);
    await registry.sync();
    const submitterKey = Wallet.createRandom().privateKey as Hex;
    const submitter = new TxSender({
      rpc,
      key: submitterKey,
      fees: loadConfig({
        env: {
          KAFKA_BROKERS: "127.0.0.1:1",
          PARSEC_RPC_URL: "http://127.0.0.1:1",
          PARSEC_CHANNELS_ADDRESS: address,
        },
      }).chain.fees,
      logger: silentLogger,
      pollMs: 50,
    });
    await (await funder.sendTransaction({ to: submitter.address, value: parseEther("1") })).wait();
    const actions = {
      send: (s: TxSender, tx: { data: Hex; label: string }) =>
        s.send({ to: address, data: tx.data, label: tx.label }),
    } as unknown as ChainActions;
    const published: { status: string; detail?: string }[] = [];
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (msg: string) => void warnings.push(msg) };
    const evidence = (chain: ChainView) =>
      new EvidenceSender({
        actions,
        outcomes: { publish: (o: { status: string; detail?: string }) => void published.push(o) } as never,
        chain,
        domain,
        submitter,
        maxTransfersPerCall: 100,
        logger,
      });
    const token = { live: true, channelId: id, label: "test" } as unknown as ActionToken;
    return { c, id, ch, registry, submitter, evidence, token, published, warnings };
  }

  it("plans the chain up to the transfer before the CANCEL when the index shows the reveal", async () => {
    const s = setup();
    const { ch, registry, submitter, evidence, id } = await s;
    const steps = await evidence(registry).plan(ch, registry.get(id)!, submitter);
    expect(steps.map((x) => x.description)).to.deep.equal(["chain of payer 0 to seq 2, piece 1/1"]);
    await evidence(registry).bringOnChain((await s).token, ch, registry.get(id)!, {
      requestId: null,
      action: "CHAIN_EXTENSION",
    });
    await registry.sync();
    expect(registry.get(id)?.seq0).to.equal(2);
  });

  it("falls back to the longest prefix the contract accepts when an extension reverts", async () => {
    const { ch, registry, submitter, evidence, id, token, published, warnings } = await setup();
    // A view without the reveals: the plan holds the CANCEL and the contract refuses it.
    const blind: ChainView = {
      address: registry.address,
      get: (x) => registry.get(x),
      all: () => registry.all(),
      onchainState: (x) => registry.onchainState(x),
      sync: () => registry.sync(),
      on: (l) => registry.on(l),
    };
    const steps = await evidence(blind).plan(ch, registry.get(id)!, submitter);
    expect(steps.map((x) => x.description)).to.deep.equal(["chain of payer 0 to seq 4, piece 1/1"]);
    await evidence(blind).bringOnChain(token, ch, registry.get(id)!, {
      requestId: null,
      action: "CHAIN_EXTENSION",
    });
    await registry.sync();
    expect(registry.get(id)?.seq0).to.equal(2);
    expect(published.map((p) => p.status)).to.deep.equal(["FAILED", "CONFIRMED"]);
    expect(published[0].detail).to.match(/CancelNotAllowed|revert/);
    expect(warnings).to.include(
      "the contract refused a transfer of the evidence; sending the prefix before it",
    );
  });
});
