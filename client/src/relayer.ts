/**
 * Client of the Parsec node's HTTP API: `GET /health`, `GET /channels?participant=`, `GET /channels/:id`,
 * `GET /channels/:id/evidence`, `POST /channels/:id/cooperative-close` (`{ balance0, balance1, signer? }` →
 * `{ signer, signature, seq0, seq1, expiry }`), `GET /graph`. Isomorphic (global `fetch`).
 */
import { getAddress, isHex, type Address, type Hex } from "viem";
import { graphEntryFromJson, type Domain, type GraphEntry } from "../../sdk/isomorphic";
import { ClientError } from "./errors";
import { readEvidence, type ChannelEvidence } from "./evidence";

/**
 * The relayer (a Parsec node's HTTP API) could not be reached or answered with an error; `status` is the
 * HTTP status if any, `cause` the failed `fetch`'s error when it could not be reached.
 */
export class NodeApiError extends ClientError {
  readonly code = "NodeApi" as const;
  readonly status: number | null;
  constructor(url: string, why: string, status: number | null = null, options?: ErrorOptions) {
    // Only a failure to reach it points at the URL; an answer carries the node's own reason.
    super(
      status === null
        ? `Relayer ${url}: ${why}. Check that the relayer runs and its URL is right.`
        : `Relayer ${url}: ${why}.`,
      options,
    );
    this.status = status;
  }
}

/** What the dapp and tasks read from `GET /channels/:id` (the rest stays in `raw`). */
export interface RelayerChannel {
  readonly channelId: Hex;
  /** Each payer's latest seq off-chain. */
  readonly seq0: number | null;
  readonly seq1: number | null;
  /** What each side would receive if the channel closed now, locks back to their payers. */
  readonly balance0: bigint | null;
  readonly balance1: bigint | null;
  readonly raw: unknown;
}

/**
 * The relayer's signature on a `CooperativeClose` and the terms it signed: the balances asked for, its
 * ledger's seqs of both payers (the state the split settles) and an expiry it chose (about an hour ahead).
 * The wallet signs the same terms.
 */
export interface CooperativeCloseSignature {
  readonly signer: Address;
  readonly signature: Hex;
  readonly seq0: number;
  readonly seq1: number;
  /** Unix seconds after which the contract refuses the close. */
  readonly expiry: bigint;
}

type Json = Record<string, unknown>;

function asBig(value: unknown): bigint | null {
  if (typeof value === "string" && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return null;
}

function pick(obj: unknown, ...path: string[]): unknown {
  let current: unknown = obj;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Json)[key];
  }
  return current;
}

/**
 * Reads the fields the dapp shows from the node's channel JSON: the split is the node's `settlement`
 * (payouts, each payer's pending locks back to it), else computed from `deposits` and `balances` paid totals.
 */
export function toRelayerChannel(raw: unknown, channelId: Hex): RelayerChannel {
  const [payout0, payout1, pot0, pot1] = ["payout0", "payout1", "pot0", "pot1"].map((k) =>
    asBig(pick(raw, "settlement", k)),
  );
  let balance0: bigint | null = null;
  let balance1: bigint | null = null;
  if (payout0 !== null && payout1 !== null) {
    balance0 = payout0 + (pot0 ?? 0n);
    balance1 = payout1 + (pot1 ?? 0n);
  } else {
    const [d0, d1] = ["deposit0", "deposit1"].map((k) => asBig(pick(raw, "deposits", k)));
    const [p0, p1] = ["paid0", "paid1"].map((k) => asBig(pick(raw, "balances", k)));
    if (d0 !== null && d1 !== null && p0 !== null && p1 !== null) {
      // Each side gets its deposit minus what it paid plus what it received, within the pot.
      const total = d0 + d1;
      let b0 = d0 + p1 - p0;
      if (b0 < 0n) b0 = 0n;
      if (b0 > total) b0 = total;
      balance0 = b0;
      balance1 = total - b0;
    }
  }
  const seqOf = (i: 0 | 1): number | null => {
    const v = asBig(pick(raw, "payers", String(i), "seq")) ?? asBig(pick(raw, `seq${i}`));
    return v === null ? null : Number(v);
  };
  const id = pick(raw, "channelId");
  return {
    channelId: typeof id === "string" && isHex(id) ? (id.toLowerCase() as Hex) : channelId,
    seq0: seqOf(0),
    seq1: seqOf(1),
    balance0,
    balance1,
    raw,
  };
}

export interface RelayerClient {
  readonly url: string;
  health(): Promise<boolean>;
  /** Ids of the channels the relayer knows for a participant. */
  channels(participant: Address): Promise<Hex[]>;
  channel(channelId: Hex): Promise<RelayerChannel | null>;
  /** The channel's evidence, re-verified; with `domain`, refused unless signed for that deployment. */
  evidence(channelId: Hex, domain?: Domain): Promise<ChannelEvidence>;
  /**
   * The counterparty's signature on a cooperative close from its node. `signer` names the participant
   * whose signature is wanted (needed when the node holds both participants' keys).
   */
  cooperativeClose(
    channelId: Hex,
    balance0: bigint,
    balance1: bigint,
    signer?: Address,
  ): Promise<CooperativeCloseSignature>;
  /**
   * The channel graph the node reads (`GET /graph`, protocol §11.2), parsed but not trusted: a caller
   * applies each entry to a `ChannelGraph` with the entry's own parameters once they hash to its channel id
   * (`verifiedGraphEntries`). Entries that do not parse are left out.
   */
  graph(): Promise<GraphEntry[]>;
}

export function relayerClient(
  baseUrl: string,
  fetchImpl: typeof fetch = (...a) => fetch(...a),
): RelayerClient {
  const url = baseUrl.replace(/\/+$/, "");
  async function call(path: string, init?: RequestInit, allow404 = false): Promise<unknown> {
    let response: Response;
    try {
      response = await fetchImpl(`${url}${path}`, {
        ...init,
        headers: { "content-type": "application/json" },
      });
    } catch (e) {
      throw new NodeApiError(url, `unreachable (${e instanceof Error ? e.message : String(e)})`, null, {
        cause: e,
      });
    }
    if (allow404 && response.status === 404) return null;
    const text = await response.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      throw new NodeApiError(url, `${path} answered with non-JSON (${response.status})`, response.status);
    }
    if (!response.ok) {
      // The node answers `{ error: code, message }`; older servers nested the message under `error`.
      const code = pick(body, "error");
      const message = pick(body, "message") ?? pick(body, "error", "message");
      const reason =
        typeof message === "string"
          ? typeof code === "string"
            ? `${code}: ${message}`
            : message
          : typeof code === "string"
            ? code
            : text;
      throw new NodeApiError(url, `${path} answered ${response.status}: ${reason}`, response.status);
    }
    return body;
  }
  return {
    url,
    async health() {
      try {
        await call("/health");
        return true;
      } catch {
        return false;
      }
    },
    async channels(participant) {
      const body = await call(`/channels?participant=${participant}`);
      const list = Array.isArray(body) ? body : (pick(body, "channels") as unknown[] | undefined);
      if (!Array.isArray(list)) throw new NodeApiError(url, "/channels did not return a list");
      return list
        .map((c) => (typeof c === "string" ? c : pick(c, "channelId")))
        .filter((id): id is string => typeof id === "string" && isHex(id))
        .map((id) => id.toLowerCase() as Hex);
    },
    async graph() {
      const entries = pick(await call("/graph"), "entries");
      if (!Array.isArray(entries)) throw new NodeApiError(url, "/graph did not return a list of entries");
      const parsed: GraphEntry[] = [];
      for (const e of entries) {
        try {
          parsed.push(graphEntryFromJson(e));
        } catch {
          // A malformed entry is the node's problem; the rest of the graph still routes.
        }
      }
      return parsed;
    },
    async channel(channelId) {
      const body = await call(`/channels/${channelId}`, undefined, true);
      return body === null ? null : toRelayerChannel(body, channelId);
    },
    async evidence(channelId, domain) {
      const body = await call(`/channels/${channelId}/evidence`);
      return readEvidence(body, domain ? { domain, channelId } : undefined);
    },
    async cooperativeClose(channelId, balance0, balance1, signer) {
      const body = await call(`/channels/${channelId}/cooperative-close`, {
        method: "POST",
        body: JSON.stringify({
          balance0: balance0.toString(),
          balance1: balance1.toString(),
          ...(signer ? { signer } : {}),
        }),
      });
      const answeredBy = pick(body, "signer");
      const signature = pick(body, "signature");
      if (typeof answeredBy !== "string" || typeof signature !== "string" || !isHex(signature)) {
        throw new NodeApiError(url, "cooperative-close returned no signer and signature");
      }
      if (signer && getAddress(answeredBy) !== getAddress(signer)) {
        throw new NodeApiError(url, `cooperative-close was signed by ${answeredBy}, not ${signer}`);
      }
      const [seq0, seq1, expiry] = ["seq0", "seq1", "expiry"].map((k) => asBig(pick(body, k)));
      if (seq0 === null || seq1 === null || expiry === null || seq0 >= 1n << 32n || seq1 >= 1n << 32n) {
        throw new NodeApiError(
          url,
          "cooperative-close returned no seq0, seq1 and expiry (the terms it signed); the relayer may predate bound cooperative closes",
        );
      }
      return { signer: getAddress(answeredBy), signature, seq0: Number(seq0), seq1: Number(seq1), expiry };
    },
  };
}
