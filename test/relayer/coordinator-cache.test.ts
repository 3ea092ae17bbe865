// The transactional writers' clusters keep the transaction coordinator they found (unit: a fake
// cluster behind kafkajs's private factory). kafkajs would otherwise send FindCoordinator before every
// AddPartitionsToTxn and EndTxn; a call to a coordinator that fails must make the next lookup ask again.
import { expect } from "chai";
import type { Kafka } from "kafkajs";
import { cacheCoordinators } from "../../relayer/src/kafka/client";

interface FakeBroker {
  readonly nodeId: number;
  endTxn(): Promise<string>;
}

function fakeKafka(): {
  kafka: Kafka;
  finds: () => number;
  failNext: () => void;
} {
  let finds = 0;
  let fail = false;
  const broker: FakeBroker = {
    nodeId: 7,
    async endTxn() {
      if (fail) {
        fail = false;
        throw new Error("NOT_COORDINATOR");
      }
      return "ok";
    },
  };
  const kafka = {
    [Symbol("private:Kafka:createCluster")]: () => {
      const c = {
        async findGroupCoordinator() {
          finds++;
          return broker;
        },
      };
      return c;
    },
  } as unknown as Kafka;
  return {
    kafka,
    finds: () => finds,
    failNext: () => (fail = true),
  };
}

describe("relayer unit: the writers' transaction coordinator is looked up once, again after an error", () => {
  it("reuses the coordinator per cluster and id, and asks again once a call to it failed", async () => {
    const f = fakeKafka();
    cacheCoordinators(f.kafka);
    const factory = Object.getOwnPropertySymbols(f.kafka).map(
      (s) => (f.kafka as unknown as Record<symbol, (o: object) => Record<string, unknown>>)[s],
    )[0];
    const cluster = factory({}) as unknown as {
      findGroupCoordinator(q: { groupId: string; coordinatorType: number }): Promise<FakeBroker>;
    };
    const q = { groupId: "writer-3", coordinatorType: 1 };
    const a = await cluster.findGroupCoordinator(q);
    const b = await cluster.findGroupCoordinator(q);
    expect(f.finds()).to.equal(1);
    expect(a).to.equal(b);
    expect(a.nodeId).to.equal(7);
    expect(await a.endTxn()).to.equal("ok");
    // Another transactional id has its own coordinator.
    await cluster.findGroupCoordinator({ groupId: "writer-4", coordinatorType: 1 });
    expect(f.finds()).to.equal(2);

    f.failNext();
    let error: unknown;
    await a.endTxn().catch((e: unknown) => (error = e));
    expect((error as Error).message, "the error reaches kafkajs unchanged").to.equal("NOT_COORDINATOR");
    await cluster.findGroupCoordinator(q);
    expect(f.finds(), "the failed coordinator was dropped").to.equal(3);
    await cluster.findGroupCoordinator(q);
    expect(f.finds()).to.equal(3);
  });
});
