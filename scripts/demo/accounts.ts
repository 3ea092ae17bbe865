/**
 * The demo's own book of what every party should end with: each routed payment moves the payee's amount
 * to the payee, each mediator's fee to the mediator and their sum from the payer. Fees are recomputed
 * here from the mediators' published policy, not read from the nodes; the table of payments is kept here.
 */
import { formatEther } from "ethers";
import { forwardingFee, type Route } from "../../sdk";
import type { Network, PartyName } from "./network";
import { MEDIATION_POLICY } from "./nodes";

const LABEL_WIDTH = 38;
const FEE_WIDTH = 21;

export interface PaymentLine {
  readonly label: string;
  readonly hops: number;
  readonly amount: bigint;
  readonly fee: bigint;
  readonly ms: number;
  readonly outcome: string;
}

export class Accounts {
  private readonly change = new Map<PartyName, bigint>();
  readonly earned = new Map<PartyName, bigint>();
  readonly lines: PaymentLine[] = [];

  constructor(private readonly net: Network) {}

  private nameOf(address: string): PartyName {
    const p = Object.values(this.net.parties).find((x) => x.address.toLowerCase() === address.toLowerCase());
    if (!p) throw new Error(`${address} is not a party of the network`);
    return p.name;
  }

  private add(name: PartyName, delta: bigint): void {
    this.change.set(name, (this.change.get(name) ?? 0n) + delta);
  }

  /**
   * Books a settled payment of `amount` along `route`. Returns whether every hop's amount is the next
   * hop's plus the mediator's fee as its policy says (the route the wallet paid is the one it priced).
   */
  settled(route: Route, amount: bigint): boolean {
    const hops = route.hops;
    let expected = amount;
    let consistent = hops[hops.length - 1].amount === amount;
    for (let i = hops.length - 1; i >= 1; i--) {
      const fee = forwardingFee(MEDIATION_POLICY, hops[i].amount);
      const mediator = this.nameOf(hops[i].from);
      this.add(mediator, fee);
      this.earned.set(mediator, (this.earned.get(mediator) ?? 0n) + fee);
      expected = hops[i].amount + fee;
      consistent &&= hops[i - 1].amount === expected;
    }
    this.add(this.nameOf(hops[0].from), -hops[0].amount);
    this.add(this.nameOf(hops[hops.length - 1].to), amount);
    return consistent && route.amount === hops[0].amount && route.fee === hops[0].amount - amount;
  }

  /** What `name` should have gained (negative: lost) since the channels opened. */
  expected(name: PartyName): bigint {
    return this.change.get(name) ?? 0n;
  }

  line(l: PaymentLine): void {
    this.lines.push(l);
  }

  table(): string[] {
    const head = `    ${"payment".padEnd(LABEL_WIDTH)} ${"hops".padStart(4)} ${"amount ETH".padStart(10)} ${"fee ETH".padStart(FEE_WIDTH)} ${"ms".padStart(6)}  outcome`;
    return [
      head,
      ...this.lines.map(
        (l) =>
          `    ${l.label.padEnd(LABEL_WIDTH)} ${String(l.hops).padStart(4)} ${formatEther(l.amount).padStart(10)} ${formatEther(l.fee).padStart(FEE_WIDTH)} ${String(l.ms).padStart(6)}  ${l.outcome}`,
      ),
    ];
  }
}
