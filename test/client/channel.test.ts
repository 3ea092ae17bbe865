// The on-chain channel view: one type, the SDK's `OnchainChannel`; the client reads the contract's views
// into it (status as the SDK's name, each payer's on-chain seq the higher of checkpoint and proof).
import { expect } from "chai";
import {
  ChannelStatus,
  STATUS_NAMES,
  paramsFromOpened,
  toChannelViews,
  type ChannelStateResult,
  type ChannelWithViews,
  type ProvenHeadsResult,
} from "../../client";
import { CHANNEL_STATUS_NAMES, type OnchainChannel } from "../../sdk/isomorphic";

const A = "0x00000000000000000000000000000000000000a1";
const B = "0x00000000000000000000000000000000000000b2";

function record(status: number): ChannelStateResult[0] {
  return {
    deposit0: 5n,
    deposit1: 7n,
    closesAt: 1_700_000_000n,
    status: BigInt(status),
    isToken: false,
    hasProofs: true,
  };
}

describe("client: the on-chain channel view", function () {
  it("reads the views into the SDK's shape: status by name, seqs the higher of checkpoint and proof", function () {
    const state: ChannelStateResult = [record(ChannelStatus.Closing), 3n, 1n, 9n];
    const proven: ProvenHeadsResult = [4n, 77n, 0n, 0n];
    const views = toChannelViews(state, proven);
    expect(views).to.deep.include({ status: "CLOSING", deposit0: 5n, deposit1: 7n, closesAt: 1_700_000_000 });
    expect([views.seq0, views.seq1]).to.deep.equal([4, 1]);
    expect(views.words).to.deep.equal({
      seq0: 3,
      seq1: 1,
      commitment: 9n,
      proven: [
        { seq: 4, head224: 77n },
        { seq: 0, head224: 0n },
      ],
    });
    expect(STATUS_NAMES[views.status]).to.equal("closing");
  });

  it("names every contract status as the SDK does, and is the SDK's OnchainChannel with the views' words", function () {
    for (const [name, value] of Object.entries(ChannelStatus)) {
      const views = toChannelViews([record(value), 0n, 0n, 0n], [0n, 0n, 0n, 0n]);
      expect(views.status).to.equal(CHANNEL_STATUS_NAMES[value]);
      expect(views.status).to.equal(name.toUpperCase());
    }
    const channel: ChannelWithViews = {
      channelId: `0x${"ab".repeat(32)}`,
      params: paramsFromOpened({
        channelId: `0x${"ab".repeat(32)}`,
        participant0: A,
        participant1: B,
        asset: A,
        challengePeriod: 3600n,
        nonce: 1n,
      }),
      openedAtBlock: 12,
      ...toChannelViews([record(ChannelStatus.Open), 0n, 0n, 0n], [0n, 0n, 0n, 0n]),
    };
    // Compiles only while the client's channel is the SDK's type (what the node's registry extends too).
    const shared: OnchainChannel = channel;
    expect(shared.status).to.equal("OPEN");
  });
});
