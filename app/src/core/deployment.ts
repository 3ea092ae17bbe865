/** The addresses `scripts/deploy.ts` writes to `deployments/<network>.json`, read and checked. */
import { getAddress, isAddress, type Address } from "viem";

export interface Deployment {
  readonly chainId: number;
  readonly ParsecChannels: Address;
  readonly HashedTimelock: Address;
  /** Deployed on local networks only, for demos. */
  readonly TestToken?: Address;
  /** The block of the first deployment transaction: where event scans start. */
  readonly blockNumber: number;
}

/** A deployment file that is missing a field or holds a wrong value. */
export class DeploymentError extends Error {
  constructor(source: string, why: string) {
    super(
      `Deployment ${source} is not usable: ${why}. Run \`npx hardhat run scripts/deploy.ts --network <name>\`.`,
    );
    this.name = "DeploymentError";
  }
}

function address(source: string, raw: Record<string, unknown>, key: string): Address {
  const value = raw[key];
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new DeploymentError(source, `${key} must be an address`);
  }
  return getAddress(value);
}

function integer(source: string, raw: Record<string, unknown>, key: string): number {
  const value = raw[key];
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new DeploymentError(source, `${key} must be a non-negative integer`);
  }
  return value;
}

/** Checks parsed JSON (or query parameters gathered into an object) and returns a `Deployment`. */
export function parseDeployment(raw: unknown, source = "file"): Deployment {
  if (raw === null || typeof raw !== "object") throw new DeploymentError(source, "it is not a JSON object");
  const r = raw as Record<string, unknown>;
  return {
    chainId: integer(source, r, "chainId"),
    ParsecChannels: address(source, r, "ParsecChannels"),
    HashedTimelock: address(source, r, "HashedTimelock"),
    ...(r.TestToken === undefined ? {} : { TestToken: address(source, r, "TestToken") }),
    blockNumber: r.blockNumber === undefined ? 0 : integer(source, r, "blockNumber"),
  };
}
