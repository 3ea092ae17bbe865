/**
 * The narrow interfaces the commit services depend on instead of the concrete chain index, transaction
 * sender and partition map, so each service can be driven in tests by small fakes.
 */
import type { Address, Hash, OnchainState } from "../../../../sdk";
import type { ChannelStatusName } from "../../chain/abi";
import type { ChainEvent, OnchainChannel } from "../../chain/registry";
import type { TxRequest, TxResult } from "../../chain/tx-sender";
import type { ChannelState } from "../../state/channel";
import type { PartitionState } from "../../state/partition";

/** The chain index as the services read it. */
export interface ChainView {
  /** The channels contract (`to` of every transaction). */
  readonly address: Address;
  get(channelId: Hash): OnchainChannel | undefined;
  all(): Iterable<OnchainChannel>;
  /** The contract's state read now (not the index's copy). */
  onchainState(channelId: Hash): Promise<OnchainState & { status: ChannelStatusName; closesAt: number }>;
  /** Brings the index up to the chain's head. */
  sync(): Promise<void>;
  on(listener: (event: ChainEvent) => void): void;
}

/** Sends transactions from one key. */
export interface Sender {
  readonly address: Address;
  send(req: TxRequest): Promise<TxResult>;
}

/** A channel the node holds, with its partition (whose lock guards the channel state). */
export interface OwnedChannel {
  readonly ps: PartitionState;
  readonly ch: ChannelState;
}

/** Where the node's channel state lives. */
export interface ChannelDirectory {
  locate(channelId: Hash): OwnedChannel | null;
  owned(): Iterable<PartitionState>;
}
