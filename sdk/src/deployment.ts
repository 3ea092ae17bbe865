/**
 * The deployment file, `deployments/<network>.json`: its one type and its one parser, shared by the
 * node (`relayer/src/deployment.ts` finds, reads and writes the file), the deploy script and the tasks,
 * and the dapp (through `client/src/deployment.ts`, which bundles this module). Pure: no Node built-ins.
 *
 * `{ chainId, ParsecChannels, HashedTimelock?, TestToken?, blockNumber }`. `blockNumber` is the block of
 * the `ParsecChannels` deployment, where event scans start; files that name it `startBlock` (written by
 * hand for older nodes) still read, and a file without either starts at block 0. Every deploy writes
 * `HashedTimelock`; the node does not need it, so only readers that use it require it.
 */
import { toAddress } from "./bytes";
import { ParsecError } from "./errors";
import type { Address } from "./types";

export interface Deployment {
  readonly chainId: number;
  readonly ParsecChannels: Address;
  /** Written by every deploy; required by the readers that use it (the dapp, the tasks), not by the node. */
  readonly HashedTimelock?: Address;
  /** Deployed on local networks only, for demos. */
  readonly TestToken?: Address;
  /** The block of the `ParsecChannels` deployment: where event scans start (0 when the file has none). */
  readonly blockNumber: number;
}

/** The optional contracts a reader may require. */
export type OptionalContract = "HashedTimelock" | "TestToken";

/** A `Deployment` in which the contracts `K` are present (what `parseDeployment` returns when asked). */
export type DeploymentWith<K extends OptionalContract> = Deployment & { readonly [P in K]-?: Address };

/** The command that writes a deployment file. */
export function deployHint(network = "<name>"): string {
  return `deploy with \`npx hardhat run scripts/deploy.ts --network ${network}\` (writes deployments/${network}.json at the project root)`;
}

/**
 * A deployment that cannot be found, read, or holds a wrong value; the message names the source and what to
 * do. Code `Malformed`: the SDK's one error base, so `isParsecError` tells it from a bug.
 */
export class DeploymentError extends ParsecError {
  readonly code = "Malformed" as const;
  constructor(message: string) {
    super(message);
  }
}

function fieldError(source: string, key: string, expected: string, value: unknown): DeploymentError {
  return new DeploymentError(
    `${source}: ${key} must be ${expected}, got ${value === undefined ? "nothing" : JSON.stringify(value)}; ` +
      `fix the file or ${deployHint()}`,
  );
}

function address(source: string, raw: Record<string, unknown>, key: string): Address {
  const value = raw[key];
  if (typeof value === "string") {
    try {
      return toAddress(value, key);
    } catch {
      // reported below
    }
  }
  throw fieldError(source, key, "an address", value);
}

function integer(source: string, raw: Record<string, unknown>, key: string): number {
  const value = raw[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
    throw fieldError(source, key, "a non-negative integer", value);
  return value;
}

/**
 * Checks parsed JSON (or settings gathered into an object, as the dapp's query parameters) and returns a
 * `Deployment`, checksummed. `require` names optional contracts the caller needs: their absence is an
 * error, and the result's type has them. `source` (a file path, a network name) starts every message.
 */
export function parseDeployment<K extends OptionalContract = never>(
  raw: unknown,
  source = "deployment",
  options: { readonly require?: readonly K[] } = {},
): DeploymentWith<K> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new DeploymentError(`${source}: must hold a JSON object; ${deployHint()}`);
  const r = raw as Record<string, unknown>;
  for (const key of options.require ?? []) {
    if (r[key] === undefined) throw fieldError(source, key, "an address", undefined);
  }
  const blockKey =
    r.blockNumber !== undefined ? "blockNumber" : r.startBlock !== undefined ? "startBlock" : null;
  return {
    chainId: integer(source, r, "chainId"),
    ParsecChannels: address(source, r, "ParsecChannels"),
    ...(r.HashedTimelock === undefined ? {} : { HashedTimelock: address(source, r, "HashedTimelock") }),
    ...(r.TestToken === undefined ? {} : { TestToken: address(source, r, "TestToken") }),
    blockNumber: blockKey === null ? 0 : integer(source, r, blockKey),
  } as DeploymentWith<K>;
}

/** The file's text: exactly the fields above (`blockNumber`, never `startBlock`), indented, newline-ended. */
export function serializeDeployment(deployment: Deployment): string {
  const out: Deployment = {
    chainId: deployment.chainId,
    ParsecChannels: deployment.ParsecChannels,
    ...(deployment.HashedTimelock ? { HashedTimelock: deployment.HashedTimelock } : {}),
    ...(deployment.TestToken ? { TestToken: deployment.TestToken } : {}),
    blockNumber: deployment.blockNumber,
  };
  return JSON.stringify(out, null, 2) + "\n";
}
