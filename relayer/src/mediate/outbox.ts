/**
 * The mediator's producer side: the transfers and peer messages one mediation round signs are written
 * together, one request per partition, instead of one round trip each (the producer serialises the
 * requests of a partition). A record is queued synchronously; the queue is written on the next turn of
 * the event loop, and each record's promise settles with its request.
 */
import type { LogProducer, OutRecord } from "../kafka/client";

interface Queued {
  readonly records: OutRecord[];
  readonly settle: { resolve(): void; reject(e: unknown): void }[];
}

export class Outbox {
  private readonly queued = new Map<string, Queued>();
  private scheduled = false;

  constructor(private readonly producer: LogProducer) {}

  /** Queues `record` for `topic`; resolves once the broker acknowledged it. */
  send(topic: string, record: OutRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      let q = this.queued.get(topic);
      if (!q) this.queued.set(topic, (q = { records: [], settle: [] }));
      q.records.push(record);
      q.settle.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.write());
      }
    });
  }

  private async write(): Promise<void> {
    this.scheduled = false;
    const batches = [...this.queued];
    this.queued.clear();
    await Promise.all(
      batches.map(async ([topic, q]) => {
        try {
          await this.producer.send(topic, q.records);
          for (const s of q.settle) s.resolve();
        } catch (e) {
          for (const s of q.settle) s.reject(e);
        }
      }),
    );
  }
}
