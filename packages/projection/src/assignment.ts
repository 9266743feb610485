/**
 * Which partitions each live instance of a consumer group should own (pure):
 * instances sorted by id, partition p to instance p mod n. Every instance
 * computes the same answer from the same member list, shares differ by at most
 * one, and a member list seen differently for a moment only delays a move: a
 * partition is taken only once its lease is free.
 */
export function assignPartitions(members: readonly string[], partitions: number): Map<string, number[]> {
  const sorted = [...new Set(members)].sort();
  const out = new Map<string, number[]>(sorted.map((m) => [m, []]));
  if (sorted.length === 0) return out;
  for (let p = 0; p < partitions; p++) out.get(sorted[p % sorted.length]!)!.push(p);
  return out;
}

/** The partitions `member` should own (all of them when it is alone, none when it is not a member). */
export const assignedTo = (member: string, members: readonly string[], partitions: number): Set<number> =>
  new Set(assignPartitions(members.includes(member) ? members : [...members, member], partitions).get(member) ?? []);
