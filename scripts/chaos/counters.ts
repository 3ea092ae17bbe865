/**
 * Node counters summed across incarnations: a node's counters restart at zero when it is killed, so each
 * incarnation's last scraped value is kept and the totals add them up. Scraped every second; what an
 * incarnation counted after its last scrape and before a kill -9 is not seen (at most a second's worth).
 */
import type { Incarnation, NodeFleet } from "./nodes";
import { metricsText, samples } from "./probe";

/** The node's counter of transfers applied out of sequence (relayer/src/http/metrics.ts `duplicateApply`). */
export const DOUBLE_APPLY = "parsec_double_apply_total";
/** Dead-lettered input by reason (`rejected`). */
export const REJECTED = "parsec_transfers_rejected_total";

const FAMILIES = [DOUBLE_APPLY, REJECTED];

export class CounterTotals {
  /** pid → family+labels → last value. */
  private readonly last = new Map<number, Map<string, number>>();
  private timer: NodeJS.Timeout | null = null;
  private scraping: Promise<void> = Promise.resolve();

  constructor(private readonly fleet: NodeFleet) {}

  start(everyMs = 1000): void {
    this.timer = setInterval(() => {
      this.scraping = this.scrape();
    }, everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Scrapes every live node now (and waits for a scrape in progress). */
  async scrape(): Promise<void> {
    await this.scraping;
    await Promise.all(this.fleet.live().map((n) => this.scrapeOne(n)));
  }

  /** Sum over every incarnation seen: `family` + label text → value. */
  totals(): Map<string, number> {
    const out = new Map<string, number>();
    for (const values of this.last.values()) for (const [k, v] of values) out.set(k, (out.get(k) ?? 0) + v);
    return out;
  }

  private async scrapeOne(n: Incarnation): Promise<void> {
    const text = await metricsText(n);
    if (text === null) return;
    const values = this.last.get(n.pid) ?? new Map<string, number>();
    for (const family of FAMILIES)
      for (const [labels, v] of samples(text, family)) values.set(family + labels, v);
    this.last.set(n.pid, values);
  }
}

/** `after − before` of the counters of one family, by label text (only the ones that grew). */
export function grew(
  before: Map<string, number>,
  after: Map<string, number>,
  family: string,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    if (!k.startsWith(family)) continue;
    const d = v - (before.get(k) ?? 0);
    if (d > 0) out.set(k.slice(family.length), d);
  }
  return out;
}
