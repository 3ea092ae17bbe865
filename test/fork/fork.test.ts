// Channels in real-world tokens on a fork. With FORK_URL (e.g. an Ethereum mainnet RPC; FORK_BLOCK pins
// a block): USDC and WBTC funded by impersonated holders. Without it: a local `hardhat node` seeded with
// tokens of the same shape (scripts/fork/seed.ts) is the fork source, forked at a fixed block. Either way
// a second in-process Hardhat network forks the source (`hardhat_reset` with `forking`), deploys Parsec
// and runs: impersonate, open, pay, checkpoint, close, settle. Runs with `npm run test:fork` (PARSEC_FORK=1).
import { expect } from "chai";
import hre from "hardhat";
import { createProvider } from "hardhat/internal/core/providers/construction";
import {
  BrowserProvider,
  Contract,
  JsonRpcSigner,
  type Eip1193Provider as EthersEip1193,
  type Signer,
} from "ethers";
import {
  parsecChannelsAbi,
  testTokenAbi,
  ChannelStatus,
  toChannelViews,
  type ChannelStateResult,
  type ProvenHeadsResult,
  type Deployment,
} from "../../client";
import {
  checkpointArgs,
  onchainHeads,
  parsecDomain,
  settleArgsFromLedger,
  toChannelParams,
  type Address,
  type Eip1193Provider,
} from "../../sdk/isomorphic";
import { headProof, proveHeadArgs } from "../../sdk/isomorphic";
import { deployWith } from "../../tasks/lib/deploy";
import { setPrinter } from "../../tasks/lib/output";
import { MAINNET_TOKENS, holderOverrides, type ForkToken } from "../../scripts/fork/tokens";
import { seedForkSource } from "../../scripts/fork/seed";
import { freshProvider, startHardhatNode, type Service } from "../e2e/processes";
import { OffchainChannel } from "../tasks/offchain";

const enabled = process.env.PARSEC_FORK === "1";
const HOUR = 3600;

/** A channel's status, on-chain seqs (checkpoint or proven, the higher) and the SDK's `OnchainState`. */
async function readState(channels: Contract, channelId: string) {
  const [state, proven] = await Promise.all([
    channels.getFunction("channelState")(channelId) as Promise<ChannelStateResult>,
    channels.getFunction("provenHeadsOf")(channelId) as Promise<ProvenHeadsResult>,
  ]);
  const s = toChannelViews(state, proven);
  return { status: Number(state[0].status), seq0: s.seq0, seq1: s.seq1, words: s.words };
}

(enabled ? describe : describe.skip)(
  `fork (${process.env.FORK_URL ? "FORK_URL" : "local seeded source"})`,
  function () {
    this.timeout(300_000);
    let source: Service | null = null;
    let fork: Eip1193Provider & EthersEip1193;
    let ethers: BrowserProvider;
    let deployment: Deployment;
    let tokens: readonly ForkToken[];
    let forkBlock: number;
    let expectedAtFork: Record<string, bigint> = {};
    let alice: Signer;
    let bob: Signer;

    const send = (method: string, params: unknown[] = []) => fork.request({ method, params });
    const impersonate = async (address: Address): Promise<Signer> => {
      await send("hardhat_impersonateAccount", [address]);
      await send("hardhat_setBalance", [address, "0x56BC75E2D63100000"]); // 100 ETH for gas
      // Not one of the node's accounts: ethers' getSigner would ask the "wallet" for it, so build it directly.
      return new JsonRpcSigner(ethers, address);
    };
    const balanceOf = (token: ForkToken, who: string): Promise<bigint> =>
      new Contract(token.address, testTokenAbi, ethers).balanceOf(who) as Promise<bigint>;
    /** The first candidate holding at least `needed` at the fork block. */
    const holderOf = async (token: ForkToken, needed: bigint): Promise<Address> => {
      const override = holderOverrides()[token.symbol];
      for (const h of override ? [override] : token.holders)
        if ((await balanceOf(token, h)) >= needed) return h;
      throw new Error(
        `no candidate holds ${needed} ${token.symbol} at block ${forkBlock}: set FORK_${token.symbol}_HOLDER`,
      );
    };
    const units = (token: ForkToken, whole: bigint) => whole * 10n ** BigInt(token.decimals);

    before(async function () {
      this.timeout(600_000);
      let jsonRpcUrl = process.env.FORK_URL;
      if (jsonRpcUrl) {
        const remote = freshProvider(jsonRpcUrl);
        forkBlock = process.env.FORK_BLOCK
          ? Number(process.env.FORK_BLOCK)
          : (await remote.getBlockNumber()) - 5;
        remote.destroy();
        tokens = MAINNET_TOKENS;
      } else {
        source = await startHardhatNode();
        jsonRpcUrl = source.url;
        const seeded = await seedForkSource(freshProvider(source.url), hre.artifacts);
        tokens = seeded.tokens;
        forkBlock = seeded.forkBlock;
        expectedAtFork = Object.fromEntries(
          tokens.map((t) => [t.symbol, units(t, seeded.wholeTokensAtFork)]),
        );
      }
      // A second in-process Hardhat network, apart from the one `hre` runs the other tests on.
      fork = (await createProvider(hre.config, "hardhat", hre.artifacts)) as unknown as Eip1193Provider &
        EthersEip1193;
      await send("hardhat_reset", [{ forking: { jsonRpcUrl, blockNumber: forkBlock } }]);
      ethers = new BrowserProvider(fork);
      [alice, bob] = await Promise.all([ethers.getSigner(0), ethers.getSigner(1)]);
      const restore = setPrinter(() => undefined);
      deployment = await deployWith(alice, hre.artifacts, { withTestToken: false });
      setPrinter(restore);
    });

    after(async function () {
      await fork?.request({ method: "hardhat_reset", params: [] }).catch(() => undefined);
      await source?.stop();
    });

    it("forks the source at the fixed block", async function () {
      expect(await ethers.getBlockNumber()).to.be.at.least(forkBlock);
      for (const token of tokens) {
        const code = await ethers.getCode(token.address);
        expect(code.length, `${token.symbol} has code on the fork`).to.be.greaterThan(2);
        if (expectedAtFork[token.symbol] !== undefined) {
          // The source minted one more base unit after the fork block: the fork must not see it.
          expect(await balanceOf(token, token.holders[0])).to.equal(expectedAtFork[token.symbol]);
        }
      }
    });

    for (const shape of MAINNET_TOKENS) {
      it(`opens a ${shape.symbol} channel from an impersonated holder, pays, proves, closes and settles`, async function () {
        const token = tokens.find((t) => t.symbol === shape.symbol) as ForkToken;
        const deposit = units(token, 1000n);
        const holderAddress = await holderOf(token, 3n * deposit);
        const holder = await impersonate(holderAddress);
        const channels = new Contract(deployment.ParsecChannels, parsecChannelsAbi, holder);
        const erc20 = new Contract(token.address, testTokenAbi, holder);
        // The holder funds Bob, then opens a channel with him from its own balance.
        await (await erc20.getFunction("transfer")(await bob.getAddress(), deposit)).wait();
        await (await erc20.getFunction("approve")(deployment.ParsecChannels, deposit)).wait();
        const nonce = BigInt(Date.now());
        const params = toChannelParams({
          participant0: holderAddress,
          participant1: await bob.getAddress(),
          asset: token.address,
          challengePeriod: HOUR,
          nonce,
        });
        const domain = parsecDomain(deployment.chainId, deployment.ParsecChannels);
        const off = new OffchainChannel(fork, domain, params);
        await (
          await channels.getFunction("openToken")(params.participant1, token.address, HOUR, nonce, deposit)
        ).wait();
        await (
          await new Contract(token.address, testTokenAbi, bob).getFunction("approve")(
            deployment.ParsecChannels,
            deposit,
          )
        ).wait();
        await (
          await (channels.connect(bob) as Contract).getFunction("depositToken")(params, 1, deposit)
        ).wait();

        // Bob pays the holder twice off-chain; the holder (its payee) proves the head on-chain.
        await off.pay(1, units(token, 40n));
        await off.pay(1, units(token, 2n));
        const ledger = off.ledger;
        // Both views: the checkpoint word (channelState) and the proven words (provenHeadsOf).
        const state = () => readState(channels, off.channelId);
        await (
          await channels.getFunction("proveHead")(
            ...proveHeadArgs(headProof(ledger, 1, onchainHeads(ledger, (await state()).words))),
          )
        ).wait();
        expect((await state()).seq1).to.equal(2);

        await (await channels.getFunction("close")(params)).wait();
        expect((await state()).status).to.equal(ChannelStatus.Closing);
        await send("evm_increaseTime", [HOUR]);
        await send("evm_mine");
        const before = [await balanceOf(token, holderAddress), await balanceOf(token, params.participant1)];
        await (
          await (channels.connect(alice) as Contract).getFunction("settle")(
            ...settleArgsFromLedger(ledger, onchainHeads(ledger, (await state()).words)),
          )
        ).wait();
        expect((await balanceOf(token, holderAddress)) - before[0]).to.equal(deposit + units(token, 42n));
        expect((await balanceOf(token, params.participant1)) - before[1]).to.equal(
          deposit - units(token, 42n),
        );
        expect(await balanceOf(token, deployment.ParsecChannels)).to.equal(0n);
      });

      it(`runs a ${shape.symbol} channel between two keyed wallets funded by the holder: checkpoint, close, settle`, async function () {
        const token = tokens.find((t) => t.symbol === shape.symbol) as ForkToken;
        const deposit = units(token, 500n);
        const holder = await impersonate(await holderOf(token, 2n * deposit));
        const [a, b] = [await alice.getAddress(), await bob.getAddress()];
        const erc20 = new Contract(token.address, testTokenAbi, holder);
        for (const to of [a, b]) await (await erc20.getFunction("transfer")(to, deposit)).wait();
        const channels = new Contract(deployment.ParsecChannels, parsecChannelsAbi, alice);
        const nonce = BigInt(Date.now());
        const params = toChannelParams({
          participant0: a,
          participant1: b,
          asset: token.address,
          challengePeriod: HOUR,
          nonce,
        });
        const off = new OffchainChannel(
          fork,
          parsecDomain(deployment.chainId, deployment.ParsecChannels),
          params,
        );
        await (
          await new Contract(token.address, testTokenAbi, alice).getFunction("approve")(
            deployment.ParsecChannels,
            deposit,
          )
        ).wait();
        await (await channels.getFunction("openToken")(b, token.address, HOUR, nonce, deposit)).wait();
        await (
          await new Contract(token.address, testTokenAbi, bob).getFunction("approve")(
            deployment.ParsecChannels,
            deposit,
          )
        ).wait();
        await (
          await (channels.connect(bob) as Contract).getFunction("depositToken")(params, 1, deposit)
        ).wait();

        await off.pay(0, units(token, 100n));
        await off.pay(1, units(token, 30n));
        await off.pay(0, units(token, 5n));
        const checkpoint = await off.cosign();
        await (await channels.getFunction("checkpoint")(...checkpointArgs(params, checkpoint))).wait();
        const read = () => readState(channels, off.channelId);
        expect(await read()).to.include({ seq0: 2, seq1: 1 });

        await (await (channels.connect(bob) as Contract).getFunction("close")(params)).wait();
        await send("evm_increaseTime", [HOUR]);
        await send("evm_mine");
        const before = [await balanceOf(token, a), await balanceOf(token, b)];
        await (
          await channels.getFunction("settle")(
            ...settleArgsFromLedger(off.ledger, onchainHeads(off.ledger, (await read()).words)),
          )
        ).wait();
        expect((await read()).status).to.equal(ChannelStatus.Settled);
        expect((await balanceOf(token, a)) - before[0]).to.equal(deposit - units(token, 75n));
        expect((await balanceOf(token, b)) - before[1]).to.equal(deposit + units(token, 75n));
      });
    }
  },
);
