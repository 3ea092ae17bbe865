// Opening channels, deposits and token handling (protocol §1, §5 "Tokens").
import { expect } from "chai";
import hre from "hardhat";
import { loadFixture, setBalance } from "@nomicfoundation/hardhat-network-helpers";
import { parseEther } from "ethers";
import { channelId } from "../helpers/kit";
import type { Params } from "../helpers/kit";
import { coopArgs, DAY, deployBase, HOUR, openEth, openToken, Status } from "./fixtures";
import type { Base } from "./fixtures";

const { ethers } = hre;
const MAX_DEPOSIT = (1n << 96n) - 1n;

async function withOddTokens() {
  const base = await deployBase();
  const fee = await ethers.deployContract("FeeOnTransferToken");
  const rebasing = await ethers.deployContract("RebasingToken");
  for (const t of [fee, rebasing]) {
    for (const s of [base.alice, base.bob]) {
      await t.mint(s.address, parseEther("1000"));
      await t.connect(s).approve(base.address, ethers.MaxUint256);
    }
  }
  return { ...base, fee, rebasing };
}

describe("ParsecChannels: open, deposit, tokens", () => {
  it("fits the EIP-170 code size limit, so it deploys on mainnet", async () => {
    const artifact = await hre.artifacts.readArtifact("ParsecChannels");
    expect(ethers.dataLength(artifact.deployedBytecode)).to.be.at.most(24_576);
  });

  describe("openEth", () => {
    it("opens a channel with P0's deposit, emits ChannelOpened and derives the id from the parameters", async () => {
      const { channels, alice, bob, chainId, address } = await loadFixture(deployBase);
      const params: Params = {
        participant0: alice.address,
        participant1: bob.address,
        asset: ethers.ZeroAddress,
        challengePeriod: DAY,
        nonce: 7n,
      };
      const id = channelId(chainId, address, params);
      const deposit = parseEther("1.5");
      const tx = channels.openEth(bob.address, DAY, 7n, { value: deposit });
      await expect(tx)
        .to.emit(channels, "ChannelOpened")
        .withArgs(id, alice.address, bob.address, ethers.ZeroAddress, DAY, 7n, deposit);
      await expect(tx).to.changeEtherBalances([alice, channels], [-deposit, deposit]);
      expect(await channels.channelIdOf(params)).to.equal(id);
      const [record, seq0, seq1, commitment] = await channels.channelState(id);
      expect(record.deposit0).to.equal(deposit);
      expect(record.deposit1).to.equal(0n);
      expect(record.status).to.equal(Status.Open);
      expect(record.isToken).to.equal(false);
      expect(record.closesAt).to.equal(0n);
      expect([seq0, seq1, commitment]).to.deep.equal([0n, 0n, 0n]);
    });

    it("accepts a zero opening deposit", async () => {
      const { channels, bob } = await loadFixture(deployBase);
      await expect(channels.openEth(bob.address, DAY, 1n)).to.emit(channels, "ChannelOpened");
    });

    it("refuses to open an id that exists, even after it settled", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await expect(b.channels.openEth(b.bob.address, DAY, ch.params.nonce))
        .to.be.revertedWithCustomError(b.channels, "ChannelExists")
        .withArgs(ch.id);
      await b.channels.cooperativeClose(...(await coopArgs(b, ch, parseEther("1"), parseEther("1"))));
      await expect(b.channels.openEth(b.bob.address, DAY, ch.params.nonce))
        .to.be.revertedWithCustomError(b.channels, "ChannelExists")
        .withArgs(ch.id);
      // The same nonce with the roles swapped is another channel.
      await expect(b.channels.connect(b.bob).openEth(b.alice.address, DAY, ch.params.nonce)).to.emit(
        b.channels,
        "ChannelOpened",
      );
    });

    it("refuses a zero or self counterparty", async () => {
      const { channels, alice } = await loadFixture(deployBase);
      await expect(channels.openEth(ethers.ZeroAddress, DAY, 1n))
        .to.be.revertedWithCustomError(channels, "InvalidCounterparty")
        .withArgs(ethers.ZeroAddress);
      await expect(channels.openEth(alice.address, DAY, 1n))
        .to.be.revertedWithCustomError(channels, "InvalidCounterparty")
        .withArgs(alice.address);
    });

    it("takes challenge periods from 1 hour to 30 days inclusive and nothing outside", async () => {
      const { channels, bob } = await loadFixture(deployBase);
      const MIN = HOUR;
      const MAX = 30 * DAY;
      await expect(channels.openEth(bob.address, MIN - 1, 1n))
        .to.be.revertedWithCustomError(channels, "ChallengePeriodOutOfRange")
        .withArgs(MIN - 1, MIN, MAX);
      await expect(channels.openEth(bob.address, MAX + 1, 1n))
        .to.be.revertedWithCustomError(channels, "ChallengePeriodOutOfRange")
        .withArgs(MAX + 1, MIN, MAX);
      await expect(channels.openEth(bob.address, 0, 1n))
        .to.be.revertedWithCustomError(channels, "ChallengePeriodOutOfRange")
        .withArgs(0, MIN, MAX);
      await expect(channels.openEth(bob.address, MIN, 1n)).to.emit(channels, "ChannelOpened");
      await expect(channels.openEth(bob.address, MAX, 2n)).to.emit(channels, "ChannelOpened");
      expect(await channels.MIN_CHALLENGE_PERIOD()).to.equal(MIN);
      expect(await channels.MAX_CHALLENGE_PERIOD()).to.equal(MAX);
    });

    it("refuses an opening deposit above 2^96 - 1 wei", async () => {
      const { channels, alice, bob } = await loadFixture(deployBase);
      await setBalance(alice.address, MAX_DEPOSIT * 2n);
      await expect(channels.openEth(bob.address, DAY, 1n, { value: MAX_DEPOSIT + 1n }))
        .to.be.revertedWithCustomError(channels, "DepositTooLarge")
        .withArgs(MAX_DEPOSIT + 1n);
      await expect(channels.openEth(bob.address, DAY, 1n, { value: MAX_DEPOSIT })).to.emit(
        channels,
        "ChannelOpened",
      );
    });
  });

  describe("deposit (ETH)", () => {
    it("credits either side, from anyone, and reports the new total", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b, parseEther("1"), 0n);
      await expect(b.channels.connect(b.carol).deposit(ch.id, 1, { value: parseEther("2") }))
        .to.emit(b.channels, "Deposited")
        .withArgs(ch.id, 1, parseEther("2"));
      const tx = b.channels.connect(b.bob).deposit(ch.id, 0, { value: parseEther("0.25") });
      await expect(tx).to.emit(b.channels, "Deposited").withArgs(ch.id, 0, parseEther("1.25"));
      await expect(tx).to.changeEtherBalances([b.bob, b.channels], [-parseEther("0.25"), parseEther("0.25")]);
      const [record] = await b.channels.channelState(ch.id);
      expect([record.deposit0, record.deposit1]).to.deep.equal([parseEther("1.25"), parseEther("2")]);
      expect(record.status).to.equal(Status.Open);
    });

    it("refuses side > 1, zero amounts, unknown, closing and token channels", async () => {
      const b = await loadFixture(deployBase);
      const ch = await openEth(b);
      await expect(b.channels.deposit(ch.id, 2, { value: 1n }))
        .to.be.revertedWithCustomError(b.channels, "InvalidSide")
        .withArgs(2);
      await expect(b.channels.deposit(ch.id, 0)).to.be.revertedWithCustomError(b.channels, "ZeroAmount");
      const unknown = ethers.keccak256("0x01");
      await expect(b.channels.deposit(unknown, 0, { value: 1n }))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(unknown, Status.None);
      const tok = await openToken(b);
      await expect(b.channels.deposit(tok.id, 0, { value: 1n }))
        .to.be.revertedWithCustomError(b.channels, "WrongAsset")
        .withArgs(tok.id);
      await b.channels.close(ch.params);
      await expect(b.channels.deposit(ch.id, 0, { value: 1n }))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Closing);
    });

    it("refuses a deposit that takes a side above 2^96 - 1 and accepts one that reaches it exactly", async () => {
      const b = await loadFixture(deployBase);
      await setBalance(b.carol.address, MAX_DEPOSIT * 2n);
      const ch = await openEth(b, parseEther("1"), 0n);
      const room = MAX_DEPOSIT - parseEther("1");
      await expect(b.channels.connect(b.carol).deposit(ch.id, 0, { value: room + 1n }))
        .to.be.revertedWithCustomError(b.channels, "DepositTooLarge")
        .withArgs(MAX_DEPOSIT + 1n);
      await expect(b.channels.connect(b.carol).deposit(ch.id, 0, { value: room }))
        .to.emit(b.channels, "Deposited")
        .withArgs(ch.id, 0, MAX_DEPOSIT);
      // Side 1 is independent of side 0 and stays untouched by the full side 0.
      await expect(b.channels.connect(b.carol).deposit(ch.id, 1, { value: MAX_DEPOSIT }))
        .to.emit(b.channels, "Deposited")
        .withArgs(ch.id, 1, MAX_DEPOSIT);
      await expect(b.channels.connect(b.carol).deposit(ch.id, 1, { value: 1n }))
        .to.be.revertedWithCustomError(b.channels, "DepositTooLarge")
        .withArgs(MAX_DEPOSIT + 1n);
      const [record] = await b.channels.channelState(ch.id);
      expect([record.deposit0, record.deposit1, record.status]).to.deep.equal([
        MAX_DEPOSIT,
        MAX_DEPOSIT,
        BigInt(Status.Open),
      ]);
    });
  });

  describe("token channels", () => {
    it("opens with a token deposit and takes top-ups with depositToken", async () => {
      const b = await loadFixture(deployBase);
      const asset = await b.token.getAddress();
      const params: Params = {
        participant0: b.alice.address,
        participant1: b.bob.address,
        asset,
        challengePeriod: DAY,
        nonce: 5n,
      };
      const id = channelId(b.chainId, b.address, params);
      const tx = b.channels.openToken(b.bob.address, asset, DAY, 5n, 300n);
      await expect(tx)
        .to.emit(b.channels, "ChannelOpened")
        .withArgs(id, b.alice.address, b.bob.address, asset, DAY, 5n, 300n);
      await expect(tx).to.changeTokenBalances(b.token, [b.alice, b.channels], [-300n, 300n]);
      await expect(b.channels.connect(b.bob).depositToken(params, 1, 70n))
        .to.emit(b.channels, "Deposited")
        .withArgs(id, 1, 70n);
      const [record] = await b.channels.channelState(id);
      expect([record.deposit0, record.deposit1, record.isToken]).to.deep.equal([300n, 70n, true]);
    });

    it("opens a token channel with no deposit", async () => {
      const b = await loadFixture(deployBase);
      const asset = await b.token.getAddress();
      await expect(b.channels.openToken(b.bob.address, asset, DAY, 9n, 0n))
        .to.emit(b.channels, "ChannelOpened")
        .withArgs(idOf(b, asset, 9n), b.alice.address, b.bob.address, asset, DAY, 9n, 0n);
    });

    it("refuses address(0) as a token, bad parameters and ids that exist", async () => {
      const b = await loadFixture(deployBase);
      const asset = await b.token.getAddress();
      await expect(b.channels.openToken(b.bob.address, ethers.ZeroAddress, DAY, 1n, 1n))
        .to.be.revertedWithCustomError(b.channels, "NotAToken")
        .withArgs(ethers.ZeroAddress);
      await expect(b.channels.openToken(b.alice.address, asset, DAY, 1n, 1n))
        .to.be.revertedWithCustomError(b.channels, "InvalidCounterparty")
        .withArgs(b.alice.address);
      await expect(b.channels.openToken(b.bob.address, asset, 30 * DAY + 1, 1n, 1n))
        .to.be.revertedWithCustomError(b.channels, "ChallengePeriodOutOfRange")
        .withArgs(30 * DAY + 1, HOUR, 30 * DAY);
      const ch = await openToken(b);
      await expect(b.channels.openToken(b.bob.address, asset, DAY, ch.params.nonce, 1n))
        .to.be.revertedWithCustomError(b.channels, "ChannelExists")
        .withArgs(ch.id);
    });

    it("refuses depositToken on ETH channels, unknown or closing channels, side > 1 and zero amounts", async () => {
      const b = await loadFixture(deployBase);
      const eth = await openEth(b);
      await expect(b.channels.depositToken(eth.params, 0, 1n))
        .to.be.revertedWithCustomError(b.channels, "WrongAsset")
        .withArgs(eth.id);
      const ch = await openToken(b);
      await expect(b.channels.depositToken(ch.params, 2, 1n))
        .to.be.revertedWithCustomError(b.channels, "InvalidSide")
        .withArgs(2);
      await expect(b.channels.depositToken(ch.params, 0, 0n)).to.be.revertedWithCustomError(
        b.channels,
        "ZeroAmount",
      );
      const other = { ...ch.params, nonce: 424242n };
      const otherId = await b.channels.channelIdOf(other);
      await expect(b.channels.depositToken(other, 0, 1n))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(otherId, Status.None);
      await b.channels.connect(b.bob).close(ch.params);
      await expect(b.channels.depositToken(ch.params, 0, 1n))
        .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
        .withArgs(ch.id, Status.Closing);
    });

    it("refuses token deposits above 2^96 - 1 per side", async () => {
      const b = await loadFixture(deployBase);
      await b.token.mint(b.alice.address, MAX_DEPOSIT * 2n);
      const asset = await b.token.getAddress();
      await expect(b.channels.openToken(b.bob.address, asset, DAY, 1n, MAX_DEPOSIT + 1n))
        .to.be.revertedWithCustomError(b.channels, "DepositTooLarge")
        .withArgs(MAX_DEPOSIT + 1n);
      const ch = await openToken(b, MAX_DEPOSIT - 10n, 0n);
      await expect(b.channels.depositToken(ch.params, 0, 11n))
        .to.be.revertedWithCustomError(b.channels, "DepositTooLarge")
        .withArgs(MAX_DEPOSIT + 1n);
      await expect(b.channels.depositToken(ch.params, 0, 10n))
        .to.emit(b.channels, "Deposited")
        .withArgs(ch.id, 0, MAX_DEPOSIT);
    });

    it("credits what arrived of a fee-on-transfer token, on open and on top-up", async () => {
      const b = await loadFixture(withOddTokens);
      const asset = await b.fee.getAddress();
      const ch = await openToken(b, 10_000n, 0n, asset);
      const [opened] = await b.channels.channelState(ch.id);
      expect(opened.deposit0).to.equal(9_900n); // 1% burnt in transit
      const tx = b.channels.connect(b.bob).depositToken(ch.params, 1, 5_000n);
      await expect(tx).to.emit(b.channels, "Deposited").withArgs(ch.id, 1, 4_950n);
      await expect(tx).to.changeTokenBalances(b.fee, [b.bob, b.channels], [-5_000n, 4_950n]);
      // Paying out what was credited works and empties the contract.
      await expect(
        b.channels.cooperativeClose(...(await coopArgs(b, ch, 4_000n, 10_850n))),
      ).to.changeTokenBalances(b.fee, [b.alice, b.bob, b.channels], [3_960n, 10_742n, -14_850n]);
      expect(await b.fee.balanceOf(b.address)).to.equal(0n);
    });

    it("refuses deposits of a token whose balance shrank under what channels own (negative rebase)", async () => {
      const b = await loadFixture(withOddTokens);
      const asset = await b.rebasing.getAddress();
      const ch = await openToken(b, 1_000n, 1_000n, asset);
      await b.rebasing.slash(b.address, 1n);
      await expect(b.channels.depositToken(ch.params, 0, 5n))
        .to.be.revertedWithCustomError(b.channels, "TokenBalanceShrank")
        .withArgs(asset, 2_000n, 1_999n);
      await expect(b.channels.openToken(b.bob.address, asset, DAY, 77n, 5n))
        .to.be.revertedWithCustomError(b.channels, "TokenBalanceShrank")
        .withArgs(asset, 2_000n, 1_999n);
      // A positive rebase makes surplus nobody owns; deposits work again and credit only what arrives.
      await b.rebasing.mint(b.address, 11n);
      await expect(b.channels.depositToken(ch.params, 0, 5n))
        .to.emit(b.channels, "Deposited")
        .withArgs(ch.id, 0, 1_005n);
    });
  });
});

function idOf(b: Base, asset: string, nonce: bigint): string {
  return channelId(b.chainId, b.address, {
    participant0: b.alice.address,
    participant1: b.bob.address,
    asset,
    challengePeriod: DAY,
    nonce,
  });
}
