/**
 * How the node group splits the partitions of its co-partitioned topics (protocol §11.5). A partition
 * number covers that partition of every consumed topic. A member may claim a set of partitions that must
 * sit together on one member: a mediator's channels, so that it holds both the incoming and the outgoing
 * channel of every payment it forwards (it signs on the outgoing chain the moment the incoming lock is
 * journaled, and only the owner of a partition may apply or sign there). The claims travel in each
 * member's join metadata, so the group's leader sees them all.
 */

/** A member of the group and the partitions it asks to be kept together (empty: no claim). */
export interface MemberClaim {
  readonly memberId: string;
  readonly colocate: readonly number[];
}

/**
 * The partitions of each member. Claims that share a partition are one set (members holding the same
 * keys claim the same channels, a stale claim a subset of a fresh one), and each set goes whole to the
 * first member (by id) that claimed part of it: a claimer, so it holds the keys of those channels. The
 * other partitions go one by one, in order, to the member holding the fewest so far (ties by id):
 * without claims that is plain round-robin, and with claims it evens out the members' shares. Two
 * mediators whose channels share a partition end up together on one of them (the other waits, then
 * fails its forwards back): give them separate groups, or more partitions.
 */
export function assignPartitions(members: readonly MemberClaim[], partitions: number): Map<string, number[]> {
  const ids = [...new Set(members.map((m) => m.memberId))].sort();
  const out = new Map<string, number[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return out;
  const claimed = new Set<number>();
  for (const set of claimSets(members, partitions)) {
    (out.get(set.holder) as number[]).push(...set.partitions);
    for (const p of set.partitions) claimed.add(p);
  }
  for (let p = 0; p < partitions; p++) if (!claimed.has(p)) (out.get(fewest(ids, out)) as number[]).push(p);
  for (const parts of out.values()) parts.sort((a, b) => a - b);
  return out;
}

/** The claims merged where they share a partition, each with its first claimer (partitions outside ignored). */
function claimSets(
  members: readonly MemberClaim[],
  partitions: number,
): { holder: string; partitions: Set<number> }[] {
  let sets: { holder: string; partitions: Set<number> }[] = [];
  const byId = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  for (const m of byId) {
    const mine = new Set(m.colocate.filter((p) => Number.isInteger(p) && p >= 0 && p < partitions));
    if (mine.size === 0) continue;
    const touching = sets.filter((s) => [...mine].some((p) => s.partitions.has(p)));
    // Members come in id order: an earlier set's holder precedes this member.
    const holder = touching[0]?.holder ?? m.memberId;
    for (const s of touching) for (const p of s.partitions) mine.add(p);
    sets = [...sets.filter((s) => !touching.includes(s)), { holder, partitions: mine }];
  }
  return sets;
}

/** The member holding the fewest partitions so far (the first by id among equals). */
function fewest(ids: readonly string[], out: ReadonlyMap<string, readonly number[]>): string {
  let best = ids[0];
  for (const id of ids) if ((out.get(id)?.length ?? 0) < (out.get(best)?.length ?? 0)) best = id;
  return best;
}

/** A claim as the join metadata's user data: UTF-8 JSON `{"colocate": [p…]}` (empty: no claim). */
export function encodeClaim(colocate: readonly number[]): Buffer {
  return colocate.length === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify({ colocate: [...colocate] }));
}

/**
 * Reads `encodeClaim`'s bytes. Anything else (an older member, a foreign client) claims nothing: the
 * group still splits every partition, and a mediator that lacks a partition waits, then fails the
 * payment back.
 */
export function decodeClaim(userData: Buffer | null | undefined): number[] {
  if (!userData || userData.length === 0) return [];
  try {
    const o = JSON.parse(userData.toString("utf8")) as { colocate?: unknown };
    return Array.isArray(o.colocate) ? o.colocate.filter((p): p is number => Number.isInteger(p)) : [];
  } catch {
    return [];
  }
}

/**
 * Whether a member should leave and join the group again so that its claim is heard: it `wants` a
 * partition it did not claim at its last join, and the group split what it wants, some of it here and
 * some elsewhere (a channel opened since). A member holding all of it (a group of one) or none of it
 * (another member holds the claimed set) has nothing to gain from a rebalance.
 */
export function shouldRejoin(
  wanted: readonly number[],
  claimed: readonly number[],
  held: readonly number[],
): boolean {
  const here = new Set(held);
  const asked = new Set(claimed);
  return (
    wanted.some((p) => !asked.has(p)) && wanted.some((p) => here.has(p)) && wanted.some((p) => !here.has(p))
  );
}
