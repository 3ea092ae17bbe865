/**
 * Prometheus metrics in text exposition format 0.0.4, without a client library: counters and gauges
 * with labels, a rate over a sliding window, and latency quantiles over recent samples.
 */

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels): string {
  const keys = Object.keys(labels).sort();
  return keys
    .map((k) => `${k}="${labels[k].replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");
}

interface Cell {
  v: number;
}

interface Family {
  readonly help: string;
  readonly type: "counter" | "gauge" | "summary";
  readonly values: Map<string, Cell>;
}

/** A counter bound to one label set: `inc` is a field update (for per-transfer hot paths). */
export interface Counter {
  inc(by?: number): void;
}

/** Recent samples for quantiles (a ring buffer). */
class Samples {
  private readonly buf: Float64Array;
  private n = 0;
  private i = 0;
  count = 0;
  sum = 0;

  constructor(size: number) {
    this.buf = new Float64Array(size);
  }

  add(v: number): void {
    this.buf[this.i] = v;
    this.i = (this.i + 1) % this.buf.length;
    if (this.n < this.buf.length) this.n++;
    this.count++;
    this.sum += v;
  }

  private sorted: Float64Array | null = null;
  private sortedAt = -1;

  quantiles(qs: readonly number[]): number[] {
    if (this.n === 0) return qs.map(() => NaN);
    // Sorting 64 Ki samples costs milliseconds: only when new samples came in.
    if (this.sortedAt !== this.count || !this.sorted) {
      this.sorted = Float64Array.from(this.buf.subarray(0, this.n)).sort();
      this.sortedAt = this.count;
    }
    const sorted = this.sorted;
    return qs.map((q) => sorted[Math.min(this.n - 1, Math.floor(q * this.n))]);
  }

  reset(): void {
    this.n = 0;
    this.i = 0;
    this.sorted = null;
  }
}

export class Metrics {
  private readonly families = new Map<string, Family>();
  private readonly samples = new Map<string, { help: string; s: Samples }>();
  private readonly rates = new Map<string, { help: string; source: string; window: number[][] }>();
  private readonly collectors: (() => void)[] = [];
  private collectedAt = 0;

  private family(name: string, help: string, type: Family["type"]): Family {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, values: new Map() };
      this.families.set(name, f);
    }
    return f;
  }

  private cell(name: string, help: string, type: Family["type"], labels: Labels): Cell {
    const f = this.family(name, help, type);
    const k = labelKey(labels);
    let c = f.values.get(k);
    if (!c) f.values.set(k, (c = { v: 0 }));
    return c;
  }

  /** Declares a metric so it appears (at 0) before anything happened. */
  declare(name: string, help: string, type: "counter" | "gauge", labels: Labels = {}): void {
    this.cell(name, help, type, labels);
  }

  /** A counter handle for one label set. */
  counter(name: string, help: string, labels: Labels = {}): Counter {
    const c = this.cell(name, help, "counter", labels);
    return {
      inc: (by = 1) => {
        c.v += by;
      },
    };
  }

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    this.cell(name, help, "counter", labels).v += by;
  }

  set(name: string, help: string, value: number, labels: Labels = {}): void {
    this.cell(name, help, "gauge", labels).v = value;
  }

  /** Current value of a counter or gauge (tests, health). */
  value(name: string, labels: Labels = {}): number {
    return this.families.get(name)?.values.get(labelKey(labels))?.v ?? 0;
  }

  /** Sum over every label set of a counter. */
  total(name: string): number {
    let t = 0;
    for (const c of this.families.get(name)?.values.values() ?? []) t += c.v;
    return t;
  }

  observe(name: string, help: string, value: number): void {
    let e = this.samples.get(name);
    if (!e) {
      e = { help, s: new Samples(65_536) };
      this.samples.set(name, e);
    }
    e.s.add(value);
  }

  /** Forgets the recent samples of a summary (e.g. to measure a steady phase alone). */
  resetSamples(name: string): void {
    this.samples.get(name)?.s.reset();
  }

  quantiles(name: string, qs: readonly number[]): number[] {
    return this.samples.get(name)?.s.quantiles(qs) ?? qs.map(() => NaN);
  }

  /** A gauge `name` = per-second rate of counter `source` over the last `windowSec` seconds. */
  rate(name: string, help: string, source: string, windowSec = 10): void {
    this.rates.set(name, { help, source, window: [] });
    const r = this.rates.get(name) as { window: number[][] };
    const timer = setInterval(() => {
      r.window.push([Date.now(), this.total(source)]);
      if (r.window.length > windowSec + 1) r.window.shift();
    }, 1000);
    timer.unref();
  }

  /** Runs `fn` before every scrape (to refresh gauges). */
  collect(fn: () => void): void {
    this.collectors.push(fn);
  }

  render(): string {
    // Collectors walk the node's state: at most once a second, however often it is scraped.
    if (Date.now() - this.collectedAt >= 1000) {
      this.collectedAt = Date.now();
      for (const c of this.collectors) c();
    }
    const lines: string[] = [];
    for (const [name, r] of this.rates) {
      const w = r.window;
      const now = [Date.now(), this.total(r.source)];
      const first = w[0] ?? now;
      const dt = (now[0] - first[0]) / 1000;
      this.set(name, r.help, dt > 0 ? (now[1] - first[1]) / dt : 0);
    }
    for (const [name, f] of this.families) {
      lines.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const [k, c] of f.values)
        lines.push(`${name}${k ? `{${k}}` : ""} ${Number.isFinite(c.v) ? c.v : 0}`);
    }
    const qs = [0.5, 0.9, 0.99];
    for (const [name, { help, s }] of this.samples) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} summary`);
      s.quantiles(qs).forEach((v, i) =>
        lines.push(`${name}{quantile="${qs[i]}"} ${Number.isNaN(v) ? "NaN" : v}`),
      );
      lines.push(`${name}_sum ${s.sum}`, `${name}_count ${s.count}`);
    }
    return lines.join("\n") + "\n";
  }
}

/** Metric names (one place, so code and docs agree). */
export const M = {
  applied: "parsec_transfers_applied_total",
  tps: "parsec_transfers_per_second",
  rejected: "parsec_transfers_rejected_total",
  received: "parsec_messages_received_total",
  lag: "parsec_consumer_lag",
  latency: "parsec_transfer_latency_ms",
  channels: "parsec_channels_held",
  pending: "parsec_window_pending",
  commits: "parsec_commits_total",
  commitEntries: "parsec_commit_entries_total",
  gas: "parsec_gas_used_total",
  txs: "parsec_transactions_total",
  flushes: "parsec_changelog_flushes_total",
  flushRecords: "parsec_changelog_records_total",
  restored: "parsec_restored_channels_total",
  restoreRead: "parsec_restore_records_read_total",
  partitions: "parsec_partitions_owned",
  signatures: "parsec_checkpoint_signatures_total",
  control: "parsec_control_requests_total",
  watchtower: "parsec_watchtower_actions_total",
  actionsGivenUp: "parsec_actions_given_up_total",
  actionsPreempted: "parsec_actions_preempted_total",
  rss: "process_resident_memory_bytes",
  duplicateApply: "parsec_double_apply_total",
  fenced: "parsec_partitions_fenced_total",
  writersReopened: "parsec_partition_writers_reopened_total",
  rejoins: "parsec_group_rejoins_total",
  windowOldest: "parsec_window_oldest_seconds",
  stalled: "parsec_partitions_stalled",
  reorgs: "parsec_chain_reorgs_total",
  paymentMessages: "parsec_payment_messages_total",
  paymentsForwarded: "parsec_payments_forwarded_total",
  paymentsSettled: "parsec_payments_settled_total",
  paymentsFailed: "parsec_payments_failed_total",
  feesEarned: "parsec_payments_fees_earned",
  liquidity: "parsec_channel_liquidity",
  httpPaymentWrites: "parsec_http_payment_writes_total",
  httpLongPolls: "parsec_http_long_polls_waiting",
} as const;
