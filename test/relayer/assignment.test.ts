// How the node group splits its partitions (unit, no Kafka): a mediator's claimed partitions stay on one
// member, the rest are spread evenly, and a member joins again only when a rebalance can bring its
// mediated channels together.
import { expect } from "chai";
import { assignPartitions, decodeClaim, encodeClaim, shouldRejoin } from "../../relayer/src/kafka/assignment";

const split = (members: { memberId: string; colocate: number[] }[], partitions: number) =>
  Object.fromEntries(assignPartitions(members, partitions));

describe("relayer: the group's partition assignment", () => {
  const cases: {
    readonly name: string;
    readonly members: { memberId: string; colocate: number[] }[];
    readonly partitions: number;
    readonly expected: Record<string, number[]>;
  }[] = [
    {
      name: "no claims: round-robin by member id",
      members: [
        { memberId: "b", colocate: [] },
        { memberId: "a", colocate: [] },
      ],
      partitions: 5,
      expected: { a: [0, 2, 4], b: [1, 3] },
    },
    {
      name: "one claim: its partitions together on the claimer, the rest evens the shares",
      members: [
        { memberId: "a", colocate: [] },
        { memberId: "b", colocate: [1, 6] },
      ],
      partitions: 8,
      expected: { a: [0, 2, 3, 5], b: [1, 4, 6, 7] },
    },
    {
      name: "members holding the same keys claim the same set: the first of them by id holds it",
      members: [
        { memberId: "c", colocate: [0, 3] },
        { memberId: "b", colocate: [0, 3] },
        { memberId: "a", colocate: [] },
      ],
      partitions: 6,
      expected: { a: [1, 4], b: [0, 3], c: [2, 5] },
    },
    {
      name: "a stale claim and a fresh one: their union stays together",
      members: [
        { memberId: "a", colocate: [2] },
        { memberId: "b", colocate: [2, 5] },
      ],
      partitions: 6,
      expected: { a: [2, 3, 5], b: [0, 1, 4] },
    },
    {
      name: "two mediators in one group: each keeps its own channels",
      members: [
        { memberId: "a", colocate: [0, 4] },
        { memberId: "b", colocate: [1, 5] },
        { memberId: "c", colocate: [] },
      ],
      partitions: 7,
      expected: { a: [0, 4, 6], b: [1, 5], c: [2, 3] },
    },
    {
      name: "claims joined by a shared partition go together to the first claimer",
      members: [
        { memberId: "c", colocate: [3, 0] },
        { memberId: "b", colocate: [1, 2] },
        { memberId: "a", colocate: [2, 3] },
      ],
      partitions: 5,
      expected: { a: [0, 1, 2, 3], b: [4], c: [] },
    },
    {
      name: "claims outside the topic (or not integers) are ignored",
      members: [
        { memberId: "a", colocate: [9, -1, 1.5] },
        { memberId: "b", colocate: [] },
      ],
      partitions: 2,
      expected: { a: [0], b: [1] },
    },
    {
      name: "a claim of every partition: one member holds them all",
      members: [
        { memberId: "a", colocate: [0, 1, 2] },
        { memberId: "b", colocate: [] },
      ],
      partitions: 3,
      expected: { a: [0, 1, 2], b: [] },
    },
  ];
  for (const c of cases)
    it(c.name, () => {
      const got = split(c.members, c.partitions);
      expect(got).to.deep.equal(c.expected);
      // Every partition exactly once.
      const all = Object.values(got)
        .flat()
        .sort((x, y) => x - y);
      expect(all).to.deep.equal([...Array(c.partitions).keys()]);
    });

  it("a claim reads back; empty, foreign or broken user data claims nothing", () => {
    expect(decodeClaim(encodeClaim([3, 0, 7]))).to.deep.equal([3, 0, 7]);
    expect(encodeClaim([]).length).to.equal(0);
    expect(decodeClaim(Buffer.alloc(0))).to.deep.equal([]);
    expect(decodeClaim(null)).to.deep.equal([]);
    expect(decodeClaim(Buffer.from([0xff, 0x00, 0x7b]))).to.deep.equal([]);
    expect(decodeClaim(Buffer.from('{"colocate":"0,1"}'))).to.deep.equal([]);
    expect(decodeClaim(Buffer.from('{"colocate":[1,"2",3.5,4]}'))).to.deep.equal([1, 4]);
  });

  const rejoins: {
    readonly name: string;
    readonly wanted: number[];
    readonly claimed: number[];
    readonly held: number[];
    readonly expected: boolean;
  }[] = [
    {
      name: "a group of one holds everything",
      wanted: [1, 5],
      claimed: [],
      held: [0, 1, 2, 3, 4, 5],
      expected: false,
    },
    { name: "the claimed set is here", wanted: [1, 5], claimed: [1, 5], held: [1, 5, 3], expected: false },
    {
      name: "a new channel's partition went elsewhere",
      wanted: [1, 5, 2],
      claimed: [1, 5],
      held: [1, 5, 3],
      expected: true,
    },
    {
      name: "another member holds what it wants",
      wanted: [1, 5, 2],
      claimed: [1, 5],
      held: [0, 4],
      expected: false,
    },
    {
      name: "claimed already: the leader split it anyway (nothing a rejoin changes)",
      wanted: [1, 2],
      claimed: [1, 2],
      held: [1],
      expected: false,
    },
    { name: "no mediated channels", wanted: [], claimed: [], held: [0, 1], expected: false },
  ];
  for (const c of rejoins)
    it(`rejoin: ${c.name} → ${c.expected}`, () => {
      expect(shouldRejoin(c.wanted, c.claimed, c.held)).to.equal(c.expected);
    });
});
