/**
 * The payments endpoints of the HTTP API: what a browser wallet, which cannot speak Kafka, needs of the
 * node's log (the client's `PaymentLog` port, client/src/payment/ports.ts). Writes go to the same topics,
 * keyed and encoded exactly as the Kafka adapter does, after the checks a wallet can act on (shape, a
 * known channel, the signer); reads return one channel's records from its partition, in log order.
 *
 *   POST /transfers                          { transfer, appKind?, appData? } -> 202 { partition, offset }
 *   POST /payment-messages                   PaymentMessage                   -> 202 { partition, offset }
 *   GET  /channels/:id/transfers?from=&waitMs=         -> { records: [{ offset, transfer, appKind, appData }], next }
 *   GET  /channels/:id/payment-messages?from=&waitMs=  -> { records: [{ offset, message }], next }
 */
import {
  checkPaymentMessage,
  codecs,
  isParsecError,
  paymentMessageFromJson,
  paymentMessageToJson,
  screenPaymentMessage,
  signedTransferFromJson,
  signedTransferToJson,
  transferMessage,
  transferSigner,
  verifyPaymentMessage,
  type Address,
  type Domain,
  type Hash,
  type Hex,
  type PaymentMessageJson,
  type SignedTransferJson,
} from "../../../sdk";
import type { ChainRegistry, OnchainChannel } from "../chain/registry";
import type { TopicNames } from "../config";
import type { InRecord, LogClient, LogProducer } from "../kafka/client";
import { readKeyed } from "../kafka/reader";
import { channelKey, channelPartition } from "../kafka/topics";
import { HttpError } from "./errors";

/** The log the payments endpoints read and write. */
export interface PaymentsLog {
  readonly client: LogClient;
  readonly producer: LogProducer;
  readonly topics: Pick<TopicNames, "transfers" | "paymentMessages">;
  /** The partition count of the (co-partitioned) topics. */
  readonly partitions: number;
  /** `input.maxAppDataBytes`: a longer `appData` would be dead-lettered by the node; refused here at once. */
  readonly maxAppDataBytes: number;
}

export interface PaymentsLimits {
  /** Long polls waiting at once; more are answered 503. */
  readonly maxLongPolls: number;
  /** Records in one answer at most. */
  readonly maxRecords?: number;
  /** Offsets (of any channel) one read of the partition scans at most. */
  readonly maxScan?: number;
  /** Milliseconds between reads of the partition while a long poll waits. */
  readonly pollMs?: number;
}

/** The longest long poll a client may ask for, ms (below common proxies' 30 s idle timeouts). */
export const MAX_WAIT_MS = 25_000;
const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_MAX_SCAN = 5_000;
const DEFAULT_POLL_MS = 100;
/** A catalogue kind name is short; a longer one is not a kind (the node would dead-letter it). */
const MAX_APP_KIND_CHARS = 64;

/** Where a record was written. */
export interface Written {
  readonly partition: number;
  readonly offset: number;
}

export interface TransferRecordJson {
  readonly offset: number;
  readonly transfer: SignedTransferJson;
  readonly appKind: string;
  readonly appData: Hex;
}

export interface MessageRecordJson {
  readonly offset: number;
  readonly message: PaymentMessageJson;
}

export interface Page<R> {
  readonly records: readonly R[];
  readonly next: number;
}

export interface PaymentsApi {
  postTransfer(body: unknown): Promise<Written>;
  postPaymentMessage(body: unknown): Promise<Written>;
  transfers(channelId: Hash, query: URLSearchParams, signal: AbortSignal): Promise<Page<TransferRecordJson>>;
  paymentMessages(
    channelId: Hash,
    query: URLSearchParams,
    signal: AbortSignal,
  ): Promise<Page<MessageRecordJson>>;
}

/** Runs `f`, answering an SDK error (malformed input, a bad signature) as 400 with its code. */
function checked<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isParsecError(e)) throw new HttpError(400, e.code, e.message);
    throw e;
  }
}

function participant(c: OnchainChannel, index: 0 | 1): Address {
  return index === 0 ? c.params.participant0 : c.params.participant1;
}

function queryInt(query: URLSearchParams, name: string, def: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === "") return def;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) > max)
    throw new HttpError(
      400,
      "BadRequest",
      `${name} must be an integer in [0, ${max}], got ${JSON.stringify(raw)}`,
    );
  return Number(raw);
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });

export function paymentsApi(
  access: { readonly domain: Domain; readonly registry: ChainRegistry; readonly log: PaymentsLog },
  limits: PaymentsLimits,
): PaymentsApi {
  const { domain, registry, log } = access;
  const maxRecords = limits.maxRecords ?? DEFAULT_MAX_RECORDS;
  const maxScan = limits.maxScan ?? DEFAULT_MAX_SCAN;
  const pollMs = limits.pollMs ?? DEFAULT_POLL_MS;
  let waiting = 0;

  const write = async (topic: string, channelId: Hash, value: Buffer): Promise<Written> => {
    const [r] = await log.producer.send(topic, [{ key: channelKey(channelId), value }]);
    return { partition: r.partition, offset: r.lastOffset };
  };

  /**
   * The channel's records at offsets ≥ `from`: at once when there are some, else after waiting up to
   * `waitMs` for one (a long poll, one of at most `maxLongPolls`), else none. Undecodable records are skipped.
   */
  const read = async <R>(
    topic: string,
    channelId: Hash,
    query: URLSearchParams,
    signal: AbortSignal,
    view: (r: InRecord) => R,
  ): Promise<Page<R>> => {
    const from = queryInt(query, "from", 0, Number.MAX_SAFE_INTEGER);
    const waitMs = queryInt(query, "waitMs", 0, MAX_WAIT_MS);
    const deadline = Date.now() + waitMs;
    const key = channelKey(channelId);
    const partition = channelPartition(channelId, log.partitions);
    let next = from;
    let holding = false;
    try {
      for (;;) {
        const batch = await readKeyed(log.client, { topic, partition, key, from: next, maxRecords, maxScan });
        const advanced = batch.next > next;
        next = batch.next;
        const records: R[] = [];
        for (const r of batch.records) {
          try {
            records.push(view(r));
          } catch {
            // Not a record of the schema (the node dead-letters it): nothing a wallet can use.
          }
        }
        if (records.length > 0 || Date.now() >= deadline || signal.aborted) return { records, next };
        if (!holding) {
          if (waiting >= limits.maxLongPolls)
            throw new HttpError(
              503,
              "Busy",
              `${limits.maxLongPolls} long polls are waiting already; retry shortly or ask with waitMs=0`,
            );
          waiting += 1;
          holding = true;
        }
        // Offsets of other channels were skipped: read on at once; at the end, wait for new records.
        if (!advanced) await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())), signal);
      }
    } finally {
      if (holding) waiting -= 1;
    }
  };

  return {
    async postTransfer(body) {
      if (typeof body !== "object" || body === null || Array.isArray(body))
        throw new HttpError(400, "BadRequest", 'send {"transfer": {…}, "appKind"?: "…", "appData"?: "0x…"}');
      const b = body as Record<string, unknown>;
      const transfer = checked(() => signedTransferFromJson(b.transfer, "transfer"));
      const appKind = b.appKind ?? "";
      if (typeof appKind !== "string" || appKind.length > MAX_APP_KIND_CHARS)
        throw new HttpError(
          400,
          "BadRequest",
          `appKind must be a catalogue kind name (at most ${MAX_APP_KIND_CHARS} characters)`,
        );
      const appData = b.appData ?? "0x";
      if (typeof appData !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(appData))
        throw new HttpError(400, "BadRequest", "appData must be 0x hex (whole bytes)");
      if ((appData.length - 2) / 2 > log.maxAppDataBytes)
        throw new HttpError(
          400,
          "BadRequest",
          `appData is limited to ${log.maxAppDataBytes} bytes by this node`,
        );
      const onchain = registry.get(transfer.channelId);
      if (!onchain)
        throw new HttpError(
          404,
          "UnknownChannel",
          `channel ${transfer.channelId} is not open on ${domain.verifyingContract}`,
        );
      const signer = checked(() => transferSigner(domain, transfer));
      const payer = participant(onchain, transfer.payer);
      if (signer !== payer)
        throw new HttpError(
          400,
          "BadSignature",
          `transfer.signature recovers to ${signer}, not to payer ${transfer.payer} (${payer}): sign the transfer with the payer's key on chain ${domain.chainId}, contract ${domain.verifyingContract}`,
        );
      const m = transferMessage(domain, transfer, signer, {
        appKind,
        appData: appData.toLowerCase() as Hex,
        sentAtMs: Date.now(),
      });
      return write(log.topics.transfers, transfer.channelId, codecs().transfer.encode(m));
    },

    async postPaymentMessage(body) {
      const m = checked(() => checkPaymentMessage(paymentMessageFromJson(body, "message")));
      const onchain = registry.get(m.channelId);
      if (!onchain)
        throw new HttpError(
          400,
          "UnknownChannel",
          `message.channelId: channel ${m.channelId} is not open on ${domain.verifyingContract}`,
        );
      // A peer message is the LOCK's payee's: participant 1 − payer.
      checked(() => verifyPaymentMessage(m, domain, participant(onchain, m.payer === 0 ? 1 : 0)));
      const wire = codecs().paymentMessage.encode(m);
      const tooLong = screenPaymentMessage(wire);
      if (tooLong) throw new HttpError(400, tooLong.code, tooLong.message);
      return write(log.topics.paymentMessages, m.channelId, wire);
    },

    transfers(channelId, query, signal) {
      return read(log.topics.transfers, channelId, query, signal, (r) => {
        const m = codecs().transfer.decode(r.value as Buffer);
        return {
          offset: r.offset,
          transfer: signedTransferToJson(m.transfer),
          appKind: m.appKind,
          appData: m.appData,
        };
      });
    },

    paymentMessages(channelId, query, signal) {
      return read(log.topics.paymentMessages, channelId, query, signal, (r) => ({
        offset: r.offset,
        message: paymentMessageToJson(codecs().paymentMessage.decode(r.value as Buffer)),
      }));
    },
  };
}
