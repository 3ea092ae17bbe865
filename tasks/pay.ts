// Direct payments from a terminal (no routing): channel:pay signs, journals and sends your next PAY to the
// counterparty and follows it to the node; payment:status shows what became of each journaled transfer
// and the balances now. The work is in lib/pay.ts, loaded on use (Kafka and Avro only when run).
import { task, types } from "hardhat/config";
import type { PayArgs, PayResult, StatusArgs, StatusResult } from "./lib/pay";
import { withCommonParams, withKafkaParams } from "./lib/params";

function withPayerParams<T>(t: ReturnType<typeof task<T>>) {
  return withKafkaParams(withCommonParams(t))
    .addParam("channel", "Channel id", undefined, types.string)
    .addOptionalParam("key", "The payer's private key 0x… (default: the account --from)", "", types.string)
    .addOptionalParam(
      "journal",
      "The signing journal file (default ~/.parsec/journal/<chainId>-<channel>-<address>.jsonl)",
      "",
      types.string,
    )
    .addOptionalParam(
      "relayer",
      "The node's HTTP API (default PARSEC_RELAYER_URL, then http://127.0.0.1:8787)",
      "",
      types.string,
    );
}

withPayerParams(
  task(
    "channel:pay",
    "Pays the counterparty of a channel directly: signs your next PAY, journals it, sends it to the node",
  ),
)
  .addParam("amount", 'Amount in ETH or token units (e.g. "0.5")', undefined, types.string)
  .addOptionalParam("wait", "Seconds to wait for the node to apply it (0: send only)", 30, types.int)
  .setAction(async (args: PayArgs, hre): Promise<PayResult> => (await import("./lib/pay")).runPay(args, hre));

withPayerParams(
  task(
    "payment:status",
    "Shows your journaled transfers of a channel (applied, pending or dead-lettered) and its balances now",
  ),
)
  .addOptionalParam("seq", "Only this seq (default: every journaled transfer)", 0, types.int)
  .setAction(async (args: StatusArgs, hre): Promise<StatusResult> =>
    (await import("./lib/pay")).runStatus(args, hre),
  );
