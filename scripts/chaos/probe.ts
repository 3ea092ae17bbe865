/**
 * Reads the nodes over HTTP with short timeouts (a SIGSTOPped node never answers): a channel's state
 * from whichever node holds it, `/health`, and counters from `/metrics`.
 */
import type { Hash } from "../../sdk";
import type { Incarnation } from "./nodes";

export interface PayerView {
  readonly seq: number;
  readonly head: string;
  readonly paidTotal: string;
  readonly waitingInWindow: readonly number[];
}

export interface ChannelView {
  readonly node: string;
  readonly payers: readonly [PayerView, PayerView];
}

export async function getJson<T>(url: string, timeoutMs = 2000): Promise<{ status: number; body: T } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: (await res.json()) as T };
  } catch {
    return null;
  }
}

/**
 * The channel as the node holding it serves it (`GET /channels/:id` answered 200 with `held`), or null
 * when no live node does (404 NotOwned everywhere during a rebalance, or no answer). When two nodes
 * both claim it (a paused node that has not noticed it lost the partition), the lower state is taken.
 */
export async function channelView(nodes: readonly Incarnation[], id: Hash): Promise<ChannelView | null> {
  const answers = await Promise.all(
    nodes.map(async (n) => {
      const r = await getJson<{ held?: boolean; payers?: PayerView[] }>(`${n.url}/channels/${id}`);
      return r && r.status === 200 && r.body.held && r.body.payers
        ? { node: n.name, payers: [r.body.payers[0], r.body.payers[1]] as const }
        : null;
    }),
  );
  const held = answers.filter((a): a is ChannelView => a !== null);
  if (held.length === 0) return null;
  return held.reduce((a, b) =>
    b.payers[0].seq + b.payers[1].seq < a.payers[0].seq + a.payers[1].seq ? b : a,
  );
}

export interface Health {
  readonly ok: boolean;
  readonly partitions: readonly number[];
  readonly lag: number;
}

export async function health(node: Incarnation): Promise<Health | null> {
  const r = await getJson<Health>(`${node.url}/health`);
  return r ? r.body : null;
}

/** Every sample of a metric family in Prometheus text: label text (`{…}` or "") → value. */
export function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + " ") && !line.startsWith(name + "{")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(name.length, at), Number(line.slice(at + 1)));
  }
  return out;
}

export async function metricsText(node: Incarnation): Promise<string | null> {
  try {
    const res = await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}
