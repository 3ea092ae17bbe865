// Equivocation: two different transfers signed by one payer with one seq forfeit the channel (protocol §3).
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { concat, dataSlice, parseEther } from "ethers";
import { packBody, signTransfer, word } from "../helpers/kit";
import type { Body, Hex } from "../helpers/kit";
import {
  checkpointOf,
  deployBase,
  highS,
  openEth,
  openToken,
  resign,
  sigOf,
  stateOf,
  Status,
} from "./fixtures";
import type { Base, Channel } from "./fixtures";

/** A signed variant of payer's transfer `seq` (1-based) with some fields changed. */
async function twin(b: Base, ch: Channel, payer: number, seq: number, over: Partial<Body>): Promise<Hex> {
  const chain = payer === 0 ? ch.c0 : ch.c1;
  const body = { ...chain.bodies[seq - 1], ...over };
  return concat([packBody(body), await signTransfer(chain.wallet, b.dom, ch.id, payer, body)]) as Hex;
}

describe("ParsecChannels: proveEquivocation", () => {
  it("gives the whole channel to the other side at once, proved by anyone", async () => {
    const b = await loadFixture(deployBase);
    const ch = await openEth(b, parseEther("1"), parseEther("0.5"));
    await ch.c0.pay(parseEther("0.1"));
    await ch.c0.pay(parseEther("0.1"));
    const other = await twin(b, ch, 0, 2, { amount: parseEther("0.01"), paidTotal: parseEther("0.11") });
    const tx = b.channels.connect(b.carol).proveEquivocation(ch.params, 0, ch.c0.signed[1], other);
    await expect(tx).to.emit(b.channels, "EquivocationProved").withArgs(ch.id, 0, 2, parseEther("1.5"));
    await expect(tx).to.changeEtherBalances(
      [b.alice, b.bob, b.carol, b.channels],
      [0n, parseEther("1.5"), 0n, -parseEther("1.5")],
    );
    const s = await stateOf(b.channels, ch.id);
    expect([s.status, s.seq0, s.commitment]).to.deep.equal([Status.Settled, 0, 0n]);
  });

  it("works against P1 too, while closing, and in token channels", async () => {
    const b = await loadFixture(deployBase);
    const ch = await openToken(b, 700n, 300n);
    await ch.c1.pay(10n);
    await b.channels.checkpoint(await checkpointOf(b, ch));
    await b.channels.connect(b.bob).close(ch.params);
    await time.increase(ch.params.challengePeriod * 2);
    const other = await twin(b, ch, 1, 1, { invoiceId: word(1) });
    const tx = b.channels.proveEquivocation(ch.params, 1, other, ch.c1.signed[0]);
    await expect(tx).to.emit(b.channels, "EquivocationProved").withArgs(ch.id, 1, 1, 1_000n);
    await expect(tx).to.changeTokenBalances(b.token, [b.alice, b.bob, b.channels], [1_000n, 0n, -1_000n]);
  });

  it("is not equivocation: the same transfer twice, or its high-s twin, or two different seqs", async () => {
    const b = await loadFixture(deployBase);
    const ch = await openEth(b);
    await ch.c0.pay(1n);
    await ch.c0.pay(1n);
    const [t1, t2] = ch.c0.signed;
    await expect(b.channels.proveEquivocation(ch.params, 0, t1, t1)).to.be.revertedWithCustomError(
      b.channels,
      "NotEquivocation",
    );
    await expect(
      b.channels.proveEquivocation(ch.params, 0, t1, resign(t1, highS(sigOf(t1)))),
    ).to.be.revertedWithCustomError(b.channels, "NotEquivocation");
    await expect(b.channels.proveEquivocation(ch.params, 0, t1, t2)).to.be.revertedWithCustomError(
      b.channels,
      "NotEquivocation",
    );
    // Seq 1 of P0 and seq 1 of P1 are two payers, not one.
    await ch.c1.pay(3n);
    await expect(b.channels.proveEquivocation(ch.params, 0, t1, ch.c1.signed[0]))
      .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
      .withArgs(b.alice.address);
    expect((await stateOf(b.channels, ch.id)).status).to.equal(Status.Open);
  });

  it("needs both transfers signed by the accused payer in this channel", async () => {
    const b = await loadFixture(deployBase);
    const ch = await openEth(b);
    const elsewhere = await openEth(b);
    await ch.c0.pay(1n);
    await elsewhere.c0.pay(2n);
    const body = { ...ch.c0.bodies[0], amount: 2n, paidTotal: 2n };
    const byBob = concat([packBody(body), await signTransfer(b.bob, b.dom, ch.id, 0, body)]);
    await expect(b.channels.proveEquivocation(ch.params, 0, ch.c0.signed[0], byBob))
      .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
      .withArgs(b.alice.address);
    await expect(b.channels.proveEquivocation(ch.params, 0, byBob, ch.c0.signed[0]))
      .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
      .withArgs(b.alice.address);
    // the same body signed for another channel proves nothing here
    await expect(b.channels.proveEquivocation(ch.params, 0, ch.c0.signed[0], elsewhere.c0.signed[0]))
      .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
      .withArgs(b.alice.address);
    // and accusing P1 of P0's transfers fails on P1's signature
    const twinOf = await twin(b, ch, 0, 1, { invoiceId: word(5) });
    await expect(b.channels.proveEquivocation(ch.params, 1, ch.c0.signed[0], twinOf))
      .to.be.revertedWithCustomError(b.channels, "InvalidSignature")
      .withArgs(b.bob.address);
  });

  it("refuses payer > 1, wrong lengths, and channels that are not live", async () => {
    const b = await loadFixture(deployBase);
    const ch = await openEth(b);
    await ch.c0.pay(1n);
    const t = ch.c0.signed[0];
    const u = await twin(b, ch, 0, 1, { invoiceId: word(9) });
    await expect(b.channels.proveEquivocation(ch.params, 2, t, u))
      .to.be.revertedWithCustomError(b.channels, "InvalidPayer")
      .withArgs(2);
    await expect(b.channels.proveEquivocation(ch.params, 0, dataSlice(t, 1), u))
      .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
      .withArgs(253, 254);
    await expect(b.channels.proveEquivocation(ch.params, 0, t, concat([u, "0x00"])))
      .to.be.revertedWithCustomError(b.channels, "MalformedRecord")
      .withArgs(255, 254);
    const unknown = { ...ch.params, nonce: 8n };
    await expect(b.channels.proveEquivocation(unknown, 0, t, u))
      .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
      .withArgs(await b.channels.channelIdOf(unknown), Status.None);
    await b.channels.proveEquivocation(ch.params, 0, t, u);
    await expect(b.channels.proveEquivocation(ch.params, 0, t, u))
      .to.be.revertedWithCustomError(b.channels, "ChannelNotInStatus")
      .withArgs(ch.id, Status.Settled);
  });
});
