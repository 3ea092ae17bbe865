/** Errors of the commit services. */
import { RelayerError } from "../../errors";

/** A higher-priority action took the channel: this one sends nothing more (see ./priority.ts). */
export class PreemptedError extends RelayerError {
  readonly code = "Preempted" as const;

  constructor(
    readonly channelId: string,
    readonly label: string,
  ) {
    super(`${label} on ${channelId} stopped: a higher-priority action took the channel.`);
  }
}

/** The node is stopping: no new transaction is started. */
export class StoppedError extends RelayerError {
  readonly code = "Stopped" as const;

  constructor(label: string) {
    super(`${label} not sent: the node is stopping.`);
  }
}

/** The contract skipped a batch entry (`CheckpointSkipped`/`HeadProofSkipped`): counted as a failed attempt. */
export class EntrySkippedError extends RelayerError {
  readonly code = "EntrySkipped" as const;

  constructor(
    readonly channelId: string,
    readonly reason: string,
  ) {
    super(`the contract skipped the entry of ${channelId}: ${reason}`);
  }
}
