// The parameters every Parsec task takes: the deployment file and the sending account.
import { types, type task } from "hardhat/config";

export interface CommonArgs {
  deployment: string;
  from: string;
}

/** Adds `--deployment` and `--from` to a task. */
export function withCommonParams<T>(t: ReturnType<typeof task<T>>) {
  return t
    .addOptionalParam("deployment", "Deployment JSON (default deployments/<network>.json)", "", types.string)
    .addOptionalParam(
      "from",
      "Sending account: address or index (default the first account)",
      "",
      types.string,
    );
}
