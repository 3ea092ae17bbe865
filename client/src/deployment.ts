/**
 * The deployment as the dapp and the tasks read it: the SDK's one type and parser (`sdk/src/deployment.ts`,
 * the same the node and the deploy task use), requiring the `HashedTimelock` the dapp and the `htlc:*`
 * tasks call. No parser of its own, so the dapp and the node cannot disagree about a file.
 */
import { parseDeployment as parseDeploymentFile, type DeploymentWith } from "../../sdk/isomorphic";

export { DeploymentError, deployHint } from "../../sdk/isomorphic";

/** A deployment with its `HashedTimelock` (every deploy writes one). */
export type Deployment = DeploymentWith<"HashedTimelock">;

/**
 * Checks parsed JSON (or query parameters gathered into an object) and returns a `Deployment`: the SDK's
 * `parseDeployment` with `HashedTimelock` required. Throws `DeploymentError` naming `source` and the field.
 */
export function parseDeployment(raw: unknown, source = "deployment"): Deployment {
  return parseDeploymentFile(raw, source, { require: ["HashedTimelock"] });
}
