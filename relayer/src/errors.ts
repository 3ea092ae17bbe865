/**
 * The relayer's own errors. Protocol failures (bad signature, seq gap, …) are the SDK's `ParsecError`s;
 * these cover what is specific to running a node: configuration, Kafka, the chain, ownership.
 */

/** The base of every relayer error; `code` is stable and appears in logs and metrics. */
export abstract class RelayerError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One configuration problem: which setting, what is wrong, how to fix it. */
export interface ConfigProblem {
  readonly path: string;
  readonly problem: string;
  readonly fix: string;
}

/** The configuration is invalid; lists every problem found, not only the first. */
export class ConfigError extends RelayerError {
  readonly code = "Config" as const;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      `Invalid relayer configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.problem}. Fix: ${p.fix}`).join("\n"),
    );
    this.problems = problems;
  }
}

/** A Kafka operation failed after the client's retries. */
export class KafkaError extends RelayerError {
  readonly code = "Kafka" as const;

  constructor(what: string, cause?: unknown) {
    super(
      `Kafka: ${what} failed${cause instanceof Error ? ` (${cause.message})` : ""}. Check that the brokers in ` +
        `KAFKA_BROKERS / kafka.brokers are reachable and the topics exist.`,
      { cause },
    );
  }
}

/**
 * Another node took over a partition: its transactional writer was initialised after ours, so the
 * broker refuses our changelog writes and offset commits. Not a failure of this node — it drops the
 * partition's state and restores it from the changelog if the group assigns the partition back.
 */
export class FencedError extends RelayerError {
  readonly code = "Fenced" as const;

  constructor(
    readonly transactionalId: string,
    cause?: unknown,
  ) {
    super(
      `Kafka: the writer ${transactionalId} was fenced by a newer owner of its partition` +
        `${cause instanceof Error ? ` (${cause.message})` : ""}; this node drops the partition's state.`,
      { cause },
    );
  }
}

/**
 * A partition's transactional writer could neither commit nor abort its transaction (the broker went
 * away between the two): the Kafka client cannot start another one, and the open transaction holds back
 * what read_committed readers see. The node drops the partition's unflushed state and acquires the
 * partition again with a new writer (its initialisation aborts the open transaction), restoring from
 * the changelog; the unflushed input is read again from the committed offsets.
 */
export class WriterStuckError extends RelayerError {
  readonly code = "WriterStuck" as const;

  constructor(
    readonly transactionalId: string,
    cause?: unknown,
  ) {
    super(
      `Kafka: the writer ${transactionalId} could not end its transaction` +
        `${cause instanceof Error ? ` (${cause.message})` : ""}; the partition is acquired again with a new writer.`,
      { cause },
    );
  }
}

/** A JSON-RPC call or transaction failed. */
export class ChainError extends RelayerError {
  readonly code = "Chain" as const;

  constructor(what: string, cause?: unknown) {
    super(`Chain: ${what}${cause instanceof Error ? ` (${cause.message})` : ""}.`, { cause });
  }
}

/** A transaction was mined but reverted. */
export class TxRevertedError extends RelayerError {
  readonly code = "TxReverted" as const;

  constructor(
    readonly txHash: string,
    what: string,
  ) {
    super(`Transaction ${txHash} (${what}) reverted; the node logs the reason and does not retry it as is.`);
  }
}

/** An operation that needs a key the node's signer does not hold. */
export class MissingKeyError extends RelayerError {
  readonly code = "MissingKey" as const;

  constructor(address: string, what: string) {
    super(
      `${what} needs the key of ${address}, which this node does not hold. Add it to PARSEC_SIGNER_KEYS ` +
        `(comma-separated private keys) or let that participant act itself.`,
    );
  }
}

/** A dead letter that does not fit `kafka.maxRecordBytes` even without its original (a misconfiguration). */
export class DeadLetterTooLargeError extends RelayerError {
  readonly code = "DeadLetterTooLarge" as const;

  constructor(bytes: number, max: number) {
    super(
      `A dead-letter record needs ${bytes} bytes without its original, over the ${max} bytes ` +
        `kafka.maxRecordBytes leaves for it. Raise kafka.maxRecordBytes (at most the dead-letter topic's ` +
        `max.message.bytes).`,
    );
  }
}

/** The node did not stop within `stopTimeoutMs` of a signal; the CLI exits anyway. */
export class StopTimeoutError extends RelayerError {
  readonly code = "StopTimeout" as const;

  constructor(timeoutMs: number, signal: string) {
    super(
      `The node did not stop within ${timeoutMs} ms of ${signal}; exiting without a clean stop. Offsets and ` +
        `state not yet flushed are replayed from the last flush on the next start. If this recurs, look for ` +
        `a stuck Kafka write in the log, or raise stopTimeoutMs (PARSEC_STOP_TIMEOUT_MS).`,
    );
  }
}

/** Whether `e` is a relayer error. */
export function isRelayerError(e: unknown): e is RelayerError {
  return e instanceof RelayerError;
}

/** The message of anything thrown. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
