// The books: what every account should hold and be owed, by the events of successful transactions. Events
// also move the channels' status and deposits in the fuzz's model.
import type { Log } from "ethers";
import type { PayerIndex } from "../../../sdk/isomorphic";
import type { AccountReading, Chain } from "./chain";
import { InvariantViolation, STATUS, ZERO_ADDRESS, type Chan } from "./model";
import type { World } from "./world";

export class Books {
  /** Per account, per asset (0 ETH, 1 token): expected balance, credit, received, deposited into its channels. */
  readonly expected: [bigint, bigint][] = [];
  readonly credits: [bigint, bigint][] = [];
  readonly received: [bigint, bigint][] = [];
  readonly intoChannels: [bigint, bigint][] = [];

  /** `start`: the accounts' balances before the first action. */
  constructor(
    private readonly chain: Chain,
    private readonly world: World,
    start: readonly AccountReading[],
  ) {
    for (const account of start) {
      this.expected.push([account.eth, account.token]);
      this.credits.push([0n, 0n]);
      this.received.push([0n, 0n]);
      this.intoChannels.push([0n, 0n]);
    }
  }

  /** Applies a successful transaction's events to the model and the books; returns the event names. */
  apply(logs: readonly Log[]): string[] {
    const { iface, channelsAddress } = this.chain;
    const names: string[] = [];
    for (const entry of logs) {
      if (entry.address.toLowerCase() !== channelsAddress.toLowerCase()) continue;
      const event = iface.parseLog({ topics: [...entry.topics], data: entry.data });
      if (!event) continue;
      names.push(event.name);
      const a = event.args;
      const chan = (): Chan => {
        const ch = this.world.byId.get(String(a.channelId).toLowerCase());
        if (!ch) throw new InvariantViolation(`event ${event.name} for an unknown channel ${a.channelId}`);
        this.world.active.add(ch);
        return ch;
      };
      switch (event.name) {
        case "ChannelOpened": {
          const ch = chan();
          ch.status = STATUS.open;
          this.credit(ch, 0, a.deposit0 as bigint);
          break;
        }
        case "Deposited": {
          const ch = chan();
          const side = Number(a.side) as PayerIndex;
          this.credit(ch, side, (a.total as bigint) - ch.deposits[side]);
          break;
        }
        case "Withdrawn": {
          const ch = chan();
          ch.deposits = [ch.deposits[0] - (a.amount0 as bigint), ch.deposits[1] - (a.amount1 as bigint)];
          ch.withdrawNonce = Number(a.nonce) + 1;
          ch.ledger.setDeposits(ch.deposits[0], ch.deposits[1], ch.withdrawNonce);
          this.pay(ch, 0, a.amount0 as bigint);
          this.pay(ch, 1, a.amount1 as bigint);
          break;
        }
        case "ChannelClosing": {
          const ch = chan();
          ch.status = STATUS.closing;
          ch.closesAt = a.closesAt as bigint;
          break;
        }
        case "ChannelSettled":
        case "ChannelClosedCooperatively": {
          const ch = chan();
          ch.status = STATUS.settled;
          this.pay(ch, 0, a.payout0 as bigint);
          this.pay(ch, 1, a.payout1 as bigint);
          break;
        }
        case "EquivocationProved": {
          const ch = chan();
          ch.status = STATUS.settled;
          this.pay(ch, Number(a.equivocator) === 0 ? 1 : 0, a.forfeited as bigint);
          break;
        }
        case "LocksResolved": {
          const ch = chan();
          const payer = Number(a.payer) as PayerIndex;
          this.pay(ch, payer === 0 ? 1 : 0, a.toPayee as bigint);
          this.pay(ch, payer, a.toPayer as bigint);
          break;
        }
        case "PayoutCredited": {
          const who = this.accountOf(a.account as string);
          const asset = this.assetIndex(a.asset as string);
          this.expected[who][asset] -= a.amount as bigint;
          this.credits[who][asset] += a.amount as bigint;
          break;
        }
        case "CreditWithdrawn": {
          const who = this.accountOf(a.account as string);
          const asset = this.assetIndex(a.asset as string);
          this.expected[who][asset] += a.amount as bigint;
          this.credits[who][asset] -= a.amount as bigint;
          break;
        }
        case "TokenShortfallShared":
          throw new InvariantViolation("a plain token reported a shortfall: the contract lost tokens");
        default:
          break;
      }
    }
    return names;
  }

  private accountOf(address: string): number {
    const i = this.chain.accounts.findIndex((acc) => acc.address.toLowerCase() === address.toLowerCase());
    if (i < 0) throw new InvariantViolation(`a payout went to ${address}, who is no participant`);
    return i;
  }

  private assetIndex(asset: string): 0 | 1 {
    if (asset.toLowerCase() === ZERO_ADDRESS) return 0;
    if (asset.toLowerCase() === this.chain.tokenAddress.toLowerCase()) return 1;
    throw new InvariantViolation(`unknown asset ${asset}`);
  }

  private credit(ch: Chan, side: PayerIndex, amount: bigint): void {
    ch.deposits[side] += amount;
    ch.deposited += amount;
    ch.ledger.setDeposits(ch.deposits[0], ch.deposits[1], ch.withdrawNonce);
    const asset = ch.token ? 1 : 0;
    this.intoChannels[ch.parts[0]][asset] += amount;
    this.intoChannels[ch.parts[1]][asset] += amount;
  }

  private pay(ch: Chan, side: PayerIndex, amount: bigint): void {
    if (amount === 0n) return;
    const who = ch.parts[side];
    const asset = ch.token ? 1 : 0;
    ch.paidOut += amount;
    this.expected[who][asset] += amount;
    this.received[who][asset] += amount;
  }
}
