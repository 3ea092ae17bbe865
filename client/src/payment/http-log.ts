/**
 * The wallet's `PaymentLog` (./ports.ts) over a node's HTTP payments API, for a browser, which cannot
 * speak Kafka (docs/relayer.md "HTTP API"): sends are `POST /transfers` and `POST /payment-messages`;
 * subscriptions long-poll `GET /channels/:id/transfers` (or `/payment-messages`) from offset 0 and hand the
 * channel's records over in log order, retrying with backoff while the node cannot be reached.
 * Isomorphic (global `fetch`, `AbortController`).
 */
import {
  paymentMessageFromJson,
  paymentMessageToJson,
  signedTransferFromJson,
  signedTransferToJson,
  type Hash,
  type Hex,
  type SignedTransfer,
} from "../../../sdk/isomorphic";
import { NodeApiError } from "../relayer";
import {
  ROUTE_APP_KIND,
  type LoggedTransfer,
  type PaymentLog,
  type PeerMessage,
  type Subscription,
} from "./ports";

export interface HttpPaymentLogOptions {
  /** The node's HTTP API, e.g. `http://127.0.0.1:8787`. */
  readonly baseUrl: string;
  /** Default: the global `fetch`. */
  readonly fetch?: typeof fetch;
  /** How long one long poll may wait at the node for a record, ms (the node allows up to 25 000); default 20 000. */
  readonly pollWaitMs?: number;
  /** Told about each failed poll (the subscription retries with backoff) and each record it cannot read (skipped). */
  readonly onError?: (error: PaymentLogHttpError) => void;
}

/** The node's error answer, as it sent it. */
export interface NodeErrorBody {
  readonly error: string;
  readonly message: string;
}

/**
 * A payments API call failed: the node could not be reached (`status` null, `cause` the `fetch` error) or
 * answered an error (`status`, and `nodeError` with the node's `{ error, message }`).
 */
export class PaymentLogHttpError extends NodeApiError {
  readonly nodeError: NodeErrorBody | null;
  constructor(
    url: string,
    why: string,
    status: number | null,
    nodeError: NodeErrorBody | null,
    options?: ErrorOptions,
  ) {
    super(url, why, status, options);
    this.nodeError = nodeError;
  }
}

const DEFAULT_POLL_WAIT_MS = 20_000;
const MAX_POLL_WAIT_MS = 25_000;
/** Backoff after a failed poll: doubling from the first to the last, ms. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;
/** Room for the node's answer after its long poll ends, before this side gives up on the request, ms. */
const POLL_SLACK_MS = 10_000;

type Json = Record<string, unknown>;

function nodeErrorOf(body: unknown): NodeErrorBody | null {
  if (typeof body !== "object" || body === null) return null;
  const { error, message } = body as Json;
  return typeof error === "string" && typeof message === "string" ? { error, message } : null;
}

/** A `PaymentLog` on a node's HTTP API; `close()` stops its subscriptions and in-flight requests. */
export function httpPaymentLog(opts: HttpPaymentLogOptions): PaymentLog & { close(): void } {
  const base = opts.baseUrl.replace(/\/+$/, "");
  const doFetch =
    opts.fetch ?? ((input: Parameters<typeof fetch>[0], init?: RequestInit) => fetch(input, init));
  const waitMs = Math.max(0, Math.min(MAX_POLL_WAIT_MS, Math.floor(opts.pollWaitMs ?? DEFAULT_POLL_WAIT_MS)));
  const live = new Set<AbortController>();

  /** One request; resolves with the JSON body of a 2xx answer, else throws a `PaymentLogHttpError`. */
  const call = async (path: string, init: RequestInit, signal: AbortSignal): Promise<unknown> => {
    const url = `${base}${path}`;
    let res: Response;
    try {
      res = await doFetch(url, { ...init, signal });
    } catch (e) {
      throw new PaymentLogHttpError(base, `cannot reach it (${(e as Error).message})`, null, null, {
        cause: e,
      });
    }
    let body: unknown = null;
    try {
      body = await res.json();
    } catch (e) {
      if (res.ok)
        throw new PaymentLogHttpError(base, `${path} answered ${res.status} without JSON`, res.status, null, {
          cause: e,
        });
    }
    if (!res.ok) {
      const nodeError = nodeErrorOf(body);
      const why = nodeError ? `${nodeError.error}: ${nodeError.message}` : `${path} answered ${res.status}`;
      throw new PaymentLogHttpError(base, why, res.status, nodeError);
    }
    return body;
  };

  const post = async (path: string, body: unknown): Promise<void> => {
    const ctl = new AbortController();
    live.add(ctl);
    try {
      await call(
        path,
        { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) },
        ctl.signal,
      );
    } finally {
      live.delete(ctl);
    }
  };

  /** Long-polls `path` from offset 0, handing each record over to `onRecord` in order. */
  const follow = (path: string, onRecord: (record: Json) => void): Subscription => {
    const ctl = new AbortController();
    live.add(ctl);
    const stopped = (): boolean => ctl.signal.aborted;
    void (async () => {
      let from = 0;
      let backoff = RETRY_FIRST_MS;
      while (!stopped()) {
        try {
          // Stopping aborts the request; so does a node that keeps it open past its long poll.
          const poll = new AbortController();
          const timeout = setTimeout(() => poll.abort(), waitMs + POLL_SLACK_MS);
          const onStop = (): void => poll.abort();
          ctl.signal.addEventListener("abort", onStop, { once: true });
          let page: unknown;
          try {
            page = await call(`${path}?from=${from}&waitMs=${waitMs}`, { method: "GET" }, poll.signal);
          } finally {
            clearTimeout(timeout);
            ctl.signal.removeEventListener("abort", onStop);
          }
          if (stopped()) return;
          const { records, next } = page as { records?: unknown; next?: unknown };
          if (
            !Array.isArray(records) ||
            typeof next !== "number" ||
            !Number.isSafeInteger(next) ||
            next < from
          )
            throw new PaymentLogHttpError(
              base,
              `${path} answered a page without records and next`,
              200,
              null,
            );
          for (const r of records as Json[]) {
            if (stopped()) return;
            try {
              onRecord(r);
            } catch (e) {
              opts.onError?.(
                new PaymentLogHttpError(
                  base,
                  `record ${String(r?.offset)} of ${path} is unreadable`,
                  200,
                  null,
                  {
                    cause: e,
                  },
                ),
              );
            }
          }
          from = next;
          backoff = RETRY_FIRST_MS;
        } catch (e) {
          if (stopped()) return;
          opts.onError?.(
            e instanceof PaymentLogHttpError
              ? e
              : new PaymentLogHttpError(base, (e as Error).message, null, null, { cause: e }),
          );
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(RETRY_MAX_MS, backoff * 2);
        }
      }
    })();
    return {
      stop: () => {
        ctl.abort();
        live.delete(ctl);
      },
    };
  };

  return {
    async sendTransfer(transfer: SignedTransfer, route?: { readonly packet: Hex }) {
      await post("/transfers", {
        transfer: signedTransferToJson(transfer),
        ...(route ? { appKind: ROUTE_APP_KIND, appData: route.packet } : {}),
      });
    },
    async sendPeerMessage(message: PeerMessage) {
      await post("/payment-messages", paymentMessageToJson(message));
    },
    peerMessages(channelId: Hash, onMessage: (m: PeerMessage) => void) {
      return follow(`/channels/${channelId}/payment-messages`, (r) =>
        onMessage(paymentMessageFromJson(r.message, "message")),
      );
    },
    transfers(channelId: Hash, onTransfer: (m: LoggedTransfer) => void) {
      return follow(`/channels/${channelId}/transfers`, (r) => {
        const { appKind, appData } = r;
        if (typeof appKind !== "string" || typeof appData !== "string" || !/^0x[0-9a-fA-F]*$/.test(appData))
          throw new TypeError("appKind and appData must be strings (appData 0x hex)");
        onTransfer({
          transfer: signedTransferFromJson(r.transfer, "transfer"),
          appKind,
          appData: appData as Hex,
        });
      });
    },
    close() {
      for (const c of live) c.abort();
      live.clear();
    },
  };
}
