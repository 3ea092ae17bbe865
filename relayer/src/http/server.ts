/**
 * The node's HTTP read API (documented in docs/relayer.md; the wallet dapp builds on it). Amounts are
 * decimal strings; errors are `{ "error": code, "message": text }` with a fitting status.
 *
 *   GET  /health                         liveness, partitions, lag, chain cursor
 *   GET  /metrics                        Prometheus text
 *   GET  /payments                       routed payments the node mediates (in flight and recent)
 *   GET  /graph                          the channel graph the node reads (signed ChannelUpdates, §11.2)
 *   GET  /channels?participant=0x…       channels of a participant (from the chain index)
 *   GET  /channels/:id                   full state of a channel this node holds
 *   GET  /channels/:id/evidence          the SDK evidence file a wallet disputes with
 *   POST /channels/:id/cooperative-close { balance0, balance1 [, signer] } -> { signer, signature }
 *   POST /transfers, POST /payment-messages, GET /channels/:id/transfers, GET /channels/:id/payment-messages
 *                                        the payments log of browser wallets (./payments.ts)
 *
 * Cross-origin pages are admitted per `http.corsOrigins` (./cors.ts).
 */
import type { GraphAnswer } from "./graph";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import {
  DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS,
  type Domain,
  exportEvidence,
  type Hash,
  type LocalSigner,
  type Lock,
  serializeEvidence,
  settlementOutcome,
  signCooperativeClose,
} from "../../../sdk";
import type { ChainRegistry, OnchainChannel } from "../chain/registry";
import type { OwnedChannel } from "../commit/operator";
import { messageOf } from "../errors";
import type { Logger } from "../log";
import { corsAdmits, corsHeaders, preflightHeaders } from "./cors";
import { ClientAborted, HttpError } from "./errors";
import type { Metrics } from "./metrics";
import { paymentsApi, type PaymentsApi, type PaymentsLog } from "./payments";

export interface NodeAccess {
  readonly nodeId: string;
  readonly domain: Domain;
  readonly registry: ChainRegistry;
  readonly metrics: Metrics;
  readonly logger: Logger;
  locate(channelId: Hash): OwnedChannel | null;
  health(): { readonly ok: boolean } & Record<string, unknown>;
  signerFor(onchain: OnchainChannel, prefer?: string): LocalSigner | null;
  /** The mediator's payments (protocol §11.5); null when mediation is off. */
  payments?(): readonly unknown[] | null;
  /** The log behind the payments endpoints; absent or null when `http.paymentsApi` is off. */
  readonly paymentsLog?: PaymentsLog | null;
  /** The channel graph's reader (`GET /graph`); absent or null when `http.paymentsApi` is off. */
  readonly graph?: { read(): Promise<GraphAnswer> } | null;
}

const MAX_UINT128 = (1n << 128n) - 1n;
const MAX_BODY_BYTES = 64 * 1024;

function lockJson(l: Lock): Record<string, string> {
  return { amount: l.amount.toString(), expiry: l.expiry.toString(), hashlock: l.hashlock };
}

function onchainJson(c: OnchainChannel): Record<string, unknown> {
  return {
    status: c.status,
    closesAt: c.closesAt,
    closer: c.closer,
    seq0: c.seq0,
    seq1: c.seq1,
  };
}

function paramsJson(c: OnchainChannel): Record<string, unknown> {
  const p = c.params;
  return {
    participant0: p.participant0,
    participant1: p.participant1,
    asset: p.asset,
    challengePeriod: p.challengePeriod,
    nonce: p.nonce.toString(),
  };
}

/** The JSON view of a held channel. */
export function channelView(owned: OwnedChannel, onchain: OnchainChannel): Record<string, unknown> {
  const { ch, ps } = owned;
  const deposits: [bigint, bigint] = [onchain.deposit0, onchain.deposit1];
  const s0 = ch.payers[0].state;
  const s1 = ch.payers[1].state;
  const d0 = deposits[0];
  const d1 = deposits[1];
  const available0 = d0 - s0.paidTotal + s1.paidTotal - s0.lockedTotal;
  const available1 = d1 - s1.paidTotal + s0.paidTotal - s1.lockedTotal;
  const payers = ([0, 1] as const).map((i) => {
    const t = ch.payers[i];
    const s = t.state;
    return {
      payer: i,
      seq: s.seq,
      head: s.head,
      paidTotal: s.paidTotal.toString(),
      lockedTotal: s.lockedTotal.toString(),
      locksRoot: s.locksRoot,
      pendingLocks: s.locks.map(lockJson),
      heldFromSeq: t.baseSeq,
      waitingInWindow: [...t.pending.keys()].sort((a, b) => a - b),
    };
  });
  // From the heads alone (the SDK's payout rule), without decoding the history.
  const o = settlementOutcome({
    deposit0: d0,
    deposit1: d1,
    paid0: s0.paidTotal,
    paid1: s1.paidTotal,
    locked0: s0.lockedTotal,
    locked1: s1.lockedTotal,
  });
  const settlement = {
    payout0: o.payout0.toString(),
    payout1: o.payout1.toString(),
    pot0: o.pot0.toString(),
    pot1: o.pot1.toString(),
  };
  return {
    channelId: ch.channelId,
    held: true,
    partition: ps.partition,
    params: paramsJson(onchain),
    deposits: { deposit0: d0.toString(), deposit1: d1.toString() },
    payers,
    balances: {
      paid0: s0.paidTotal.toString(),
      paid1: s1.paidTotal.toString(),
      locked0: s0.lockedTotal.toString(),
      locked1: s1.lockedTotal.toString(),
      available0: available0.toString(),
      available1: available1.toString(),
    },
    settlement,
    onchain: {
      ...onchainJson(onchain),
      head0: ch.hashAt(0, onchain.seq0) ?? null,
      head1: ch.hashAt(1, onchain.seq1) ?? null,
    },
    checkpoint: ch.checkpoint,
    proposal: ch.proposal && {
      proposalId: ch.proposal.proposalId,
      seq0: ch.proposal.seq0,
      seq1: ch.proposal.seq1,
      signed0: ch.proposal.sig0 !== null,
      signed1: ch.proposal.sig1 !== null,
    },
    commit: { uncommittedSinceMs: ch.uncommittedSinceMs, due: ch.commitDue },
    control: ch.control,
    updatedAtMs: ch.updatedAtMs,
  };
}

function parseSeq(v: unknown, field: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new HttpError(400, "BadRequest", `${field} must be an integer seq (uint32)`);
  }
  return v;
}

function parseAmount(v: unknown, field: string): bigint {
  if (typeof v !== "string" || !/^(0|[1-9]\d*)$/.test(v)) {
    throw new HttpError(400, "BadRequest", `${field} must be a decimal string of base units, e.g. "1000"`);
  }
  const n = BigInt(v);
  if (n > MAX_UINT128) throw new HttpError(400, "BadRequest", `${field} does not fit uint128`);
  return n;
}

/**
 * Reads a JSON body of at most 64 KiB. A body that has not fully arrived `timeoutMs` after the headers is
 * answered 408 (a client declaring a `content-length` and never sending it cannot hold the socket); a
 * client that resets or closes while sending rejects with `ClientAborted`.
 */
function readBody(req: http.IncomingMessage, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: Error | null, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onGone);
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(
      () =>
        settle(
          new HttpError(
            408,
            "RequestTimeout",
            `the request body did not arrive in full within ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > MAX_BODY_BYTES)
        settle(new HttpError(413, "TooLarge", "the request body is limited to 64 KiB"));
      else chunks.push(c);
    };
    const onEnd = (): void => {
      try {
        settle(null, JSON.parse(Buffer.concat(chunks).toString("utf8") || "null"));
      } catch {
        settle(new HttpError(400, "BadRequest", "the body must be JSON"));
      }
    };
    const onGone = (e?: unknown): void => {
      if (req.complete && e === undefined) return; // "close" after "end": handled by onEnd
      settle(new ClientAborted(e === undefined ? "aborted" : messageOf(e)));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onGone);
    req.on("close", onGone);
  });
}

function channelIdOf(raw: string): Hash {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new HttpError(
      400,
      "BadRequest",
      `the path segment ${JSON.stringify(raw)} is not valid percent-encoding (a "%" must be followed by two hex digits)`,
    );
  }
  const id = decoded.toLowerCase();
  if (!/^0x[0-9a-f]{64}$/.test(id))
    throw new HttpError(400, "BadRequest", "a channel id is 0x followed by 64 hex digits");
  return id as Hash;
}

function held(api: NodeAccess, id: Hash): { owned: OwnedChannel; onchain: OnchainChannel } {
  const onchain = api.registry.get(id);
  if (!onchain)
    throw new HttpError(
      404,
      "UnknownChannel",
      `channel ${id} is not open on ${api.domain.verifyingContract}`,
    );
  const owned = api.locate(id);
  if (!owned) {
    throw new HttpError(
      404,
      "NotOwned",
      `channel ${id} is held by another node of the group (its partition is assigned elsewhere)`,
    );
  }
  return { owned, onchain };
}

async function cooperativeClose(api: NodeAccess, id: Hash, body: unknown): Promise<Record<string, unknown>> {
  if (typeof body !== "object" || body === null)
    throw new HttpError(
      400,
      "BadRequest",
      'send {"balance0":"…","balance1":"…"} (optionally "seq0", "seq1", "expiry")',
    );
  const b = body as Record<string, unknown>;
  const balance0 = parseAmount(b.balance0, "balance0");
  const balance1 = parseAmount(b.balance1, "balance1");
  const { owned, onchain } = held(api, id);
  const conflict = (message: string): HttpError => new HttpError(409, "Conflict", message);
  if (onchain.status !== "OPEN" && onchain.status !== "CLOSING")
    throw conflict(`the channel is ${onchain.status}`);
  const prefer = typeof b.signer === "string" ? b.signer : undefined;
  const signer = api.signerFor(onchain, prefer);
  if (!signer) {
    throw conflict(
      prefer
        ? `this node holds no key of ${prefer}`
        : 'this node holds no participant key of this channel (or both: then name one with "signer")',
    );
  }
  if (!onchain.participantsLower.includes(signer.address.toLowerCase()))
    throw conflict(`${signer.address} is not a participant`);
  const { ch } = owned;
  if (ch.payers[0].pending.size > 0 || ch.payers[1].pending.size > 0) {
    throw conflict("transfers are waiting for a missing one; the state is not final yet");
  }
  const s0 = ch.payers[0].state;
  const s1 = ch.payers[1].state;
  const outcome = settlementOutcome({
    deposit0: onchain.deposit0,
    deposit1: onchain.deposit1,
    paid0: s0.paidTotal,
    paid1: s1.paidTotal,
    locked0: s0.lockedTotal,
    locked1: s1.lockedTotal,
  });
  if (outcome.pot0 !== 0n || outcome.pot1 !== 0n)
    throw conflict("locks are pending: unlock or cancel them before closing cooperatively");
  if (outcome.payout0 !== balance0 || outcome.payout1 !== balance1) {
    throw conflict(
      `the split does not match the node's state: balance0 ${outcome.payout0}, balance1 ${outcome.payout1}`,
    );
  }
  // The close binds to the state it settles: the node's seqs (a caller naming others is told the node's).
  const seq0 = b.seq0 === undefined ? s0.seq : parseSeq(b.seq0, "seq0");
  const seq1 = b.seq1 === undefined ? s1.seq : parseSeq(b.seq1, "seq1");
  if (seq0 !== s0.seq || seq1 !== s1.seq) {
    throw conflict(`the node's state is at seqs (${s0.seq}, ${s1.seq}), not (${seq0}, ${seq1})`);
  }
  const chainNow = BigInt(api.registry.latestTimestamp);
  const expiry =
    b.expiry === undefined
      ? chainNow + BigInt(DEFAULT_COOPERATIVE_CLOSE_VALIDITY_SECONDS)
      : parseAmount(b.expiry, "expiry");
  if (expiry <= chainNow || expiry > chainNow + BigInt(MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS)) {
    throw new HttpError(
      400,
      "BadRequest",
      `expiry must be after the chain's time ${chainNow} and at most ${MAX_COOPERATIVE_CLOSE_VALIDITY_SECONDS} s later`,
    );
  }
  const close = { channelId: id, seq0, seq1, balance0, balance1, expiry };
  const signature = await signCooperativeClose(signer, api.domain, close);
  return {
    signer: signer.address,
    signature,
    seq0,
    seq1,
    balance0: balance0.toString(),
    balance1: balance1.toString(),
    expiry: expiry.toString(),
  };
}

/** Parses the request target (origin form `/path?query` or absolute form `http://host/path`). */
function requestUrl(target: string): URL {
  try {
    return new URL(target, "http://node");
  } catch {
    throw new HttpError(
      400,
      "BadRequest",
      `the request target ${JSON.stringify(target)} is not a valid path or URL (expected e.g. /channels/0x…)`,
    );
  }
}

function paymentsOn(payments: PaymentsApi | null): PaymentsApi {
  if (!payments)
    throw new HttpError(
      404,
      "PaymentsApiOff",
      "this node does not serve the payments API; set http.paymentsApi to true",
    );
  return payments;
}

async function route(
  api: NodeAccess,
  payments: PaymentsApi | null,
  req: http.IncomingMessage,
  bodyTimeoutMs: number,
  signal: AbortSignal,
): Promise<{ status: number; body: string; type: string }> {
  const url = requestUrl(req.url ?? "/");
  const parts = url.pathname.split("/").filter(Boolean);
  const json = (status: number, value: unknown): { status: number; body: string; type: string } => ({
    status,
    body: JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
    type: "application/json",
  });
  const method = req.method ?? "GET";
  if (method === "GET" && url.pathname === "/health") {
    const h = api.health();
    return json(h.ok ? 200 : 503, h);
  }
  if (method === "GET" && url.pathname === "/metrics") {
    return { status: 200, body: api.metrics.render(), type: "text/plain; version=0.0.4" };
  }
  if (method === "GET" && url.pathname === "/payments") {
    const payments = api.payments?.() ?? null;
    if (payments === null)
      throw new HttpError(404, "MediationOff", "this node does not mediate; set mediation.enabled to true");
    return json(200, { payments });
  }
  if (method === "GET" && url.pathname === "/graph") {
    if (!api.graph)
      throw new HttpError(
        404,
        "PaymentsApiOff",
        "this node does not serve the graph; set http.paymentsApi to true",
      );
    return json(200, await api.graph.read());
  }
  if (method === "POST" && url.pathname === "/transfers") {
    const p = paymentsOn(payments);
    return json(202, await p.postTransfer(await readBody(req, bodyTimeoutMs)));
  }
  if (method === "POST" && url.pathname === "/payment-messages") {
    const p = paymentsOn(payments);
    return json(202, await p.postPaymentMessage(await readBody(req, bodyTimeoutMs)));
  }
  if (parts[0] === "channels") {
    if (parts.length === 1 && method === "GET") {
      const p = url.searchParams.get("participant");
      if (!p || !/^0x[0-9a-fA-F]{40}$/.test(p))
        throw new HttpError(400, "BadRequest", "give ?participant=0x… (an address)");
      const list = api.registry.byParticipant(p).map((c) => {
        const owned = api.locate(c.channelId);
        return {
          channelId: c.channelId,
          params: paramsJson(c),
          deposits: { deposit0: c.deposit0.toString(), deposit1: c.deposit1.toString() },
          onchain: onchainJson(c),
          held: owned !== null,
          seq0: owned?.ch.payers[0].state.seq ?? null,
          seq1: owned?.ch.payers[1].state.seq ?? null,
        };
      });
      return json(200, { participant: p, channels: list });
    }
    const id = channelIdOf(parts[1] ?? "");
    if (parts.length === 2 && method === "GET") {
      const { owned, onchain } = held(api, id);
      return json(200, channelView(owned, onchain));
    }
    if (parts.length === 3 && parts[2] === "evidence" && method === "GET") {
      const { owned, onchain } = held(api, id);
      const { ch } = owned;
      const ledger = ch.toLedger(api.domain, onchain.params, [onchain.deposit0, onchain.deposit1]);
      const evidence = exportEvidence(ledger, {
        exportedBy: `parsec-node ${api.nodeId}`,
        checkpoint: ch.checkpoint ? { channelId: id, ...ch.checkpoint } : null,
      });
      return { status: 200, body: serializeEvidence(evidence), type: "application/json" };
    }
    if (parts.length === 3 && parts[2] === "transfers" && method === "GET") {
      return json(200, await paymentsOn(payments).transfers(id, url.searchParams, signal));
    }
    if (parts.length === 3 && parts[2] === "payment-messages" && method === "GET") {
      return json(200, await paymentsOn(payments).paymentMessages(id, url.searchParams, signal));
    }
    if (parts.length === 3 && parts[2] === "cooperative-close" && method === "POST") {
      return json(200, await cooperativeClose(api, id, await readBody(req, bodyTimeoutMs)));
    }
  }
  throw new HttpError(404, "NotFound", `no route ${method} ${url.pathname}; see docs/relayer.md`);
}

export interface HttpApi {
  readonly url: string;
  close(): Promise<void>;
}

export interface HttpLimits {
  /** The request headers must arrive in full within this many ms of the connection's request start. */
  readonly headersTimeoutMs?: number;
  /** The whole request (headers and body) must arrive within this many ms; the body is answered 408 after it. */
  readonly requestTimeoutMs?: number;
  /** `http.corsOrigins`: origins whose pages may call the API (`"*"`: any); default none. */
  readonly corsOrigins?: readonly string[];
  /** `http.maxLongPolls`: long polls waiting at once; default 64. */
  readonly maxLongPolls?: number;
}

/** Default bound on headers and on the whole request: a stalled client is answered 408 or closed after it. */
export const HTTP_TIMEOUT_MS = 10_000;

/** Errors a peer causes by going away: logged at debug, never answered. */
const GONE_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "HPE_INVALID_EOF_STATE"]);

/** A connection whose response has started (or ended) cannot take a raw error answer. */
function responseStarted(socket: Duplex): boolean {
  const current = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  return current?.headersSent === true;
}

const DEFAULT_MAX_LONG_POLLS = 64;

/** Serves the API on `host:port` (port 0: any free port). */
export async function startHttpApi(
  api: NodeAccess,
  host: string,
  port: number,
  limits: HttpLimits = {},
): Promise<HttpApi> {
  const requestTimeoutMs = limits.requestTimeoutMs ?? HTTP_TIMEOUT_MS;
  const headersTimeoutMs = Math.min(limits.headersTimeoutMs ?? HTTP_TIMEOUT_MS, requestTimeoutMs);
  const origins = limits.corsOrigins ?? [];
  const payments = api.paymentsLog
    ? paymentsApi(
        { domain: api.domain, registry: api.registry, log: api.paymentsLog, metrics: api.metrics },
        { maxLongPolls: limits.maxLongPolls ?? DEFAULT_MAX_LONG_POLLS },
      )
    : null;
  const server = http.createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Node enforces both timeouts on this tick (default 30 s, which would stretch the bound).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
    },
    (req, res) => {
      const origin = req.headers.origin;
      if (req.method === "OPTIONS") {
        // CORS preflight of the wallet dapp (POST with a JSON body).
        if (corsAdmits(origin, origins)) {
          res.writeHead(204, preflightHeaders(origin, origins));
          res.end();
        } else {
          res.writeHead(403, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              error: "OriginNotAllowed",
              message: `pages from ${origin} may not call this node; add the origin to http.corsOrigins`,
            }),
          );
        }
        return;
      }
      const cors = corsHeaders(origin, origins);
      // A long poll ends when its client goes away (or the server closes the connection).
      const gone = new AbortController();
      res.on("close", () => gone.abort());
      route(api, payments, req, requestTimeoutMs, gone.signal)
        .then((r) => {
          if (res.headersSent || res.destroyed) return;
          res.writeHead(r.status, {
            "content-type": r.type,
            "cache-control": "no-store",
            ...cors,
          });
          res.end(r.body);
        })
        .catch((e: unknown) => {
          if (e instanceof ClientAborted || res.destroyed || req.socket.destroyed) {
            api.logger.debug("http client aborted", {
              method: req.method,
              url: req.url,
              error: messageOf(e),
            });
            return;
          }
          if (res.headersSent) return;
          const status = e instanceof HttpError ? e.status : 500;
          const code = e instanceof HttpError ? e.code : "Internal";
          if (status === 500) api.logger.error("http handler failed", { url: req.url, error: messageOf(e) });
          else if (status === 408)
            api.logger.debug("http request timed out", { method: req.method, url: req.url });
          const headers: Record<string, string> = { "content-type": "application/json", ...cors };
          // The rest of the body was not read: the connection cannot carry another request.
          if (status === 408 || status === 413) headers.connection = "close";
          res.writeHead(status, headers);
          res.end(JSON.stringify({ error: code, message: messageOf(e) }));
        });
    },
  );
  server.keepAliveTimeout = 5000;
  // Requests Node refuses before a handler runs (unparsable request line or headers, headers or request
  // timeouts) and peers that reset: answered in the API's error shape, logged at debug (client faults).
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    const code = err.code ?? "";
    if (GONE_CODES.has(code) || !socket.writable || responseStarted(socket)) {
      api.logger.debug("http client aborted", { code, error: err.message });
      socket.destroy();
      return;
    }
    const [status, error, message] =
      code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "RequestTimeout", `the request did not arrive in full within ${requestTimeoutMs} ms`]
        : code === "HPE_HEADER_OVERFLOW"
          ? [431, "HeadersTooLarge", "the request headers are too large"]
          : [400, "BadRequest", `malformed HTTP request: ${err.message}${code ? ` (${code})` : ""}`];
    api.logger.debug("http client error", { code, status, error: err.message });
    const body = JSON.stringify({ error, message });
    // The request (and its Origin) was not parsed: a browser sees a CORS failure only if origins are limited.
    const allowAny = origins.includes("*") ? "access-control-allow-origin: *\r\n" : "";
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ""}\r\n` +
        "content-type: application/json\r\n" +
        allowAny +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        "connection: close\r\n\r\n" +
        body,
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
