import { expect } from "chai";
import { TypedDataEncoder } from "ethers";
import hre from "hardhat";
import {
  ChannelGraph,
  EIP712_TYPES,
  TYPE_STRINGS,
  ZERO_ADDRESS,
  channelUpdateKey,
  channelUpdateMessage,
  channelUpdateSigner,
  checkChannelUpdate,
  channelUpdateTypedData,
  codecs,
  forwardingFee,
  hashChannelUpdate,
  localSigner,
  parsecDomain,
  signChannelUpdate,
  typedDataDigest,
  walletSigner,
  type ChannelDirection,
  type ChannelUpdate,
  type Eip1193Provider,
  type Hash,
  type Hex,
  type LocalSigner,
  type OpenChannel,
  type SignedChannelUpdate,
} from "../../sdk";
import { DOMAIN, expectCode, expectCodeAsync } from "./helpers";

const NOW = 1_700_000_000n;
const DAY = 86_400n;
const key = (n: number): Hex => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const [p0, p1, other] = [localSigner(key(0xa11ce)), localSigner(key(0xb0b)), localSigner(key(0xca201))];
const CH = `0x${"ab".repeat(32)}` as Hash;
const open: OpenChannel = { participant0: p0.address, participant1: p1.address, asset: ZERO_ADDRESS };
const lookup = (id: Hash): OpenChannel | undefined => (id === CH ? open : undefined);

function update(direction: ChannelDirection, over: Partial<ChannelUpdate> = {}): ChannelUpdate {
  return {
    channelId: CH,
    direction,
    timestamp: NOW,
    capacity: 1_000_000n,
    feeBase: 10n,
    feePpm: 1000,
    expiryDelta: 600,
    htlcMinimum: 1n,
    htlcMaximum: 1_000_000n,
    disabled: false,
    ...over,
  };
}

const signed = (
  signer: LocalSigner,
  direction: ChannelDirection,
  over: Partial<ChannelUpdate> = {},
  domain = DOMAIN,
): Promise<SignedChannelUpdate> => signChannelUpdate(signer, domain, update(direction, over));

describe("sdk/routing/graph: channel updates and the channel graph", () => {
  it("fee(a) = base + floor(a × ppm / 1e6)", () => {
    const table: [bigint, number, bigint, bigint][] = [
      [0n, 0, 1_000n, 0n],
      [10n, 1000, 1_000_000n, 1_010n],
      [10n, 1000, 1_002_005n, 1_012n],
      [5n, 2000, 999n, 6n],
      [0n, 1, 999_999n, 0n],
    ];
    for (const [feeBase, feePpm, amount, fee] of table) {
      expect(forwardingFee({ feeBase, feePpm }, amount)).to.equal(
        fee,
        `${feeBase}+${feePpm}ppm of ${amount}`,
      );
    }
  });

  it("hashes and signs ChannelUpdate as EIP-712 typed data in the Parsec domain", async () => {
    expect(TYPE_STRINGS.ChannelUpdate).to.equal(
      "ChannelUpdate(bytes32 channelId,uint8 direction,uint64 timestamp,uint128 capacity,uint128 feeBase," +
        "uint32 feePpm,uint32 expiryDelta,uint128 htlcMinimum,uint128 htlcMaximum,bool disabled)",
    );
    const types = { ChannelUpdate: EIP712_TYPES.ChannelUpdate.map((f) => ({ ...f })) };
    expect(TypedDataEncoder.from(types).encodeType("ChannelUpdate")).to.equal(TYPE_STRINGS.ChannelUpdate);
    for (const disabled of [false, true]) {
      const u = update(1, { disabled });
      const payload = channelUpdateTypedData(DOMAIN, u);
      const ethersDigest = TypedDataEncoder.hash(
        {
          name: "Parsec",
          version: "1",
          chainId: DOMAIN.chainId,
          verifyingContract: DOMAIN.verifyingContract,
        },
        types,
        payload.message,
      );
      expect(typedDataDigest(DOMAIN, hashChannelUpdate(u))).to.equal(ethersDigest);
    }
    expect(channelUpdateKey(CH, 1)).to.deep.equal(Uint8Array.from([...Array(32).fill(0xab), 1]));
  });

  it("applies a fresh update signed by the forwarding participant, with its endpoints", async () => {
    const g = new ChannelGraph({ domain: DOMAIN });
    expect(g.applyUpdate(await signed(p0, 0), lookup, NOW)).to.deep.equal({ applied: true, replaced: false });
    expect(g.applyUpdate(await signed(p1, 1), lookup, NOW)).to.deep.equal({ applied: true, replaced: false });
    expect(g.edge(CH, 0)).to.include({ from: p0.address, to: p1.address, asset: ZERO_ADDRESS });
    expect(g.edge(CH, 1)).to.include({ from: p1.address, to: p0.address });
    expect(g.edges(NOW).map((e) => e.direction)).to.deep.equal([0, 1]);
    expect(g.applyUpdate(await signed(p0, 0, { timestamp: NOW + 1n, feePpm: 7 }), lookup, NOW)).to.deep.equal(
      {
        applied: true,
        replaced: true,
      },
    );
    expect(g.edge(CH, 0)?.feePpm).to.equal(7);
    g.applyChannelClosed(CH);
    expect(g.size).to.equal(0);
  });

  it("ignores stale, future-dated, unsigned, wrong-signer, other-domain, unknown-channel and older updates", async () => {
    const otherDomain = parsecDomain(1n, DOMAIN.verifyingContract);
    const cases: [string, () => Promise<SignedChannelUpdate>, string][] = [
      ["older than 14 days", () => signed(p0, 0, { timestamp: NOW - 14n * DAY - 1n }), "stale"],
      ["more than 10 minutes ahead", () => signed(p0, 0, { timestamp: NOW + 601n }), "future"],
      ["unsigned", async () => ({ ...update(0), signature: "0x" }), "unsigned"],
      ["signed by the other participant", () => signed(p1, 0), "wrongSigner"],
      ["signed by a stranger", () => signed(other, 1), "wrongSigner"],
      ["signed for another deployment", () => signed(p0, 0, {}, otherDomain), "wrongSigner"],
      [
        "of a channel not open",
        async () => ({ ...(await signed(p0, 0)), channelId: `0x${"cd".repeat(32)}` }),
        "unknownChannel",
      ],
      [
        "with a garbage signature",
        async () => ({ ...update(0), signature: `0x${"00".repeat(65)}` }),
        "badSignature",
      ],
      [
        "with htlcMinimum above htlcMaximum",
        async () => ({ ...update(0, { htlcMinimum: 9n, htlcMaximum: 8n }), signature: "0x" }),
        "malformed",
      ],
    ];
    for (const [name, make, reason] of cases) {
      const g = new ChannelGraph({ domain: DOMAIN });
      expect(g.applyUpdate(await make(), lookup, NOW), name).to.deep.equal({ applied: false, reason });
      expect(g.size, name).to.equal(0);
    }
    // Boundaries are accepted.
    const g = new ChannelGraph({ domain: DOMAIN });
    expect(g.applyUpdate(await signed(p0, 0, { timestamp: NOW - 14n * DAY }), lookup, NOW).applied).to.equal(
      true,
    );
    expect(g.applyUpdate(await signed(p1, 1, { timestamp: NOW + 600n }), lookup, NOW).applied).to.equal(true);
    // A replayed older (or equal) update does not replace the newer one.
    const newer = await signed(p0, 0, { timestamp: NOW, feeBase: 99n });
    const older = await signed(p0, 0, { timestamp: NOW - 10n, feeBase: 1n });
    const h = new ChannelGraph({ domain: DOMAIN });
    expect(h.applyUpdate(newer, lookup, NOW).applied).to.equal(true);
    expect(h.applyUpdate(older, lookup, NOW)).to.deep.equal({ applied: false, reason: "notNewer" });
    expect(h.applyUpdate(newer, lookup, NOW)).to.deep.equal({ applied: false, reason: "notNewer" });
    expect(h.edge(CH, 0)?.feeBase).to.equal(99n);
  });

  it("stops reading updates once they are stale, and prunes them", async () => {
    const g = new ChannelGraph({ domain: DOMAIN });
    g.applyUpdate(await signed(p0, 0), lookup, NOW);
    expect(g.edges(NOW + 14n * DAY)).to.have.length(1);
    expect(g.edges(NOW + 14n * DAY + 1n)).to.have.length(0);
    expect(g.prune(NOW + 14n * DAY + 1n)).to.equal(1);
    expect(g.size).to.equal(0);
  });

  it("round-trips on the channel-graph topic (Avro channel-update.v1)", async () => {
    const u = await signed(p1, 1, { disabled: true, capacity: (1n << 128n) - 1n });
    const message = channelUpdateMessage(DOMAIN, u, p1.address, 42);
    const c = codecs().channelUpdate;
    expect(c.schemaVersion).to.equal(1);
    const wire = c.encode(message);
    expect(c.decode(wire)).to.deep.equal(message);
    const g = new ChannelGraph({ domain: DOMAIN });
    expect(g.applyUpdate(c.decode(wire).update, lookup, NOW).applied).to.equal(true);
  });

  it("signs through a wallet's eth_signTypedData_v4 (Hardhat's, strict about bool), disabled or not", async () => {
    const [account] = await hre.ethers.getSigners();
    const wallet = walletSigner(hre.network.provider as unknown as Eip1193Provider, account.address);
    for (const disabled of [false, true]) {
      const u = await signChannelUpdate(wallet, DOMAIN, update(0, { disabled }));
      expect(channelUpdateSigner(DOMAIN, u)).to.equal(account.address);
      expect(channelUpdateTypedData(DOMAIN, u).message.disabled).to.equal(disabled);
    }
  });

  it("carries feeBase as uint128 like every amount, refusing a wider one with the field's name", async () => {
    const widest = await signed(p0, 0, { feeBase: (1n << 128n) - 1n });
    const c = codecs().channelUpdate;
    expect(c.decode(c.encode(channelUpdateMessage(DOMAIN, widest, p0.address))).update.feeBase).to.equal(
      (1n << 128n) - 1n,
    );
    const wide = update(0, { feeBase: 1n << 128n });
    const e = expectCode(() => checkChannelUpdate(wide), "Overflow");
    expect(e.message).to.match(/^feeBase = 340282366920938463463374607431768211456 does not fit uint128/);
    await expectCodeAsync(() => signChannelUpdate(p0, DOMAIN, wide), "Overflow");
    expectCode(
      () => c.encode(channelUpdateMessage(DOMAIN, { ...wide, signature: widest.signature }, p0.address)),
      "Overflow",
    );
  });
});
